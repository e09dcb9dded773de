"""Migrations on SQLite and PostgreSQL: make, apply, change the models, revert; data survives."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from carboy import Module
from carboy.db import Database, MigrationError
from carboy.db.migrations import MigrationStep
from carboy.db.testing import temporary_database
from tests.db.conftest import POSTGRES_URL, new_app

V1 = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from carboy.db import TimestampMixin, model_base

Base = model_base()

class Author(Base):
    name: Mapped[str] = mapped_column(String(100), unique=True)

class Post(TimestampMixin, Base):
    title: Mapped[str] = mapped_column(String(200), index=True)
"""

# Add a column, rename title -> headline, add a foreign key to author.
V2 = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from carboy.db import TimestampMixin, model_base

Base = model_base()

class Author(Base):
    name: Mapped[str] = mapped_column(String(100), unique=True)

class Post(TimestampMixin, Base):
    headline: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str | None]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("author.id"))
"""

_counter = itertools.count()


class Project:
    """A project folder whose models the test rewrites, with an app per version."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.databases: list[Database] = []

    def models(self, source: str) -> ModuleType:
        name = f"carboy_test_models_{next(_counter)}"
        path = self.root / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def database(self, models: ModuleType, url: str | None = None) -> Database:
        app = new_app(self.root)
        db = Database(url or self.url, base=models.Base)
        app.install(db)
        app.build()
        self.databases.append(db)
        return db

    def close(self) -> None:
        for db in self.databases:
            if db._engine is not None:
                db._engine.dispose()


@pytest.fixture
def project(tmp_path: Path, fresh_database_url: str) -> Any:
    made = Project(tmp_path, fresh_database_url)
    yield made
    made.close()


def _columns(db: Database, table: str) -> list[str]:
    with db.engine.connect() as connection:
        return [c["name"] for c in inspect(connection).get_columns(table)]


def _foreign_keys(db: Database, table: str) -> list[tuple[str, list[str]]]:
    with db.engine.connect() as connection:
        return [
            (fk["referred_table"], fk["constrained_columns"])
            for fk in inspect(connection).get_foreign_keys(table)
        ]


def test_models_change_and_the_data_survives_up_and_down(project: Project) -> None:
    models = project.models(V1)
    db = project.database(models)
    migrations = db.migrations

    # 1. makemigrations on an empty database: the initial revision.
    written = migrations.make()
    assert len(written) == 1
    assert written[0].parent == project.root / "migrations"
    assert "create author, create post" in written[0].read_text()
    assert [m.message for m in migrations.pending()] == ["create author, create post"]

    # 2. migrate, with a step per revision.
    steps: list[MigrationStep] = []
    migrations.migrate(on_step=steps.append)
    assert [(s.message, s.upgrade) for s in steps] == [("create author, create post", True)]
    assert migrations.pending() == []
    created = datetime(2024, 2, 29, 12, 30, tzinfo=UTC)
    with db.transaction() as session:
        session.add(models.Author(name="Zoë"))
        session.add(models.Post(title="Hello, wörld", created_at=created))
    assert migrations.make() == []  # nothing changed since

    # 3. change the models: add a column, rename one, add a foreign key.
    changed = project.models(V2)
    db2 = project.database(changed)
    asked: list[tuple[str, str, str]] = []

    def rename(table: str, old: str, new: str) -> bool:
        asked.append((table, old, new))
        return True

    written = db2.migrations.make(rename=rename)
    assert asked == [("post", "title", "headline")]
    source = written[0].read_text()
    assert "new_column_name='headline'" in source
    assert "create_foreign_key" in source
    db2.migrations.migrate()
    assert _columns(db2, "post") == [
        "id",
        "headline",
        "created_at",
        "updated_at",
        "body",
        "author_id",
    ]
    assert _foreign_keys(db2, "post") == [("author", ["author_id"])]
    with db2.session() as session:
        post = session.scalars(select(changed.Post)).one()
        assert (post.headline, post.body, post.author_id) == ("Hello, wörld", None, None)
        assert post.created_at == created
        post.author_id = session.scalars(select(changed.Author.id)).one()
        session.commit()

    # 4. downgrade to the first revision: the title is back with its data.
    first = migrations.status()[0].revision
    plan = db2.migrations.plan(first[:6])
    assert plan.direction == "downgrade"
    assert len(plan.revisions) == 1
    db2.migrations.migrate(first[:6])
    assert _columns(db, "post") == ["id", "title", "created_at", "updated_at"]
    assert _foreign_keys(db, "post") == []
    with db.session() as session:
        post = session.scalars(select(models.Post)).one()
        assert (post.title, post.created_at) == ("Hello, wörld", created)
        assert session.scalars(select(models.Author.name)).one() == "Zoë"

    # 5. and up again, then all the way down.
    db2.migrations.migrate()
    assert db2.migrations.plan().direction == "none"
    steps.clear()
    db2.migrations.migrate("zero", on_step=steps.append)
    assert [s.upgrade for s in steps] == [False, False]
    with db2.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}


def test_a_fresh_database_gets_every_table_from_migrate(project: Project, backend: str) -> None:
    models = project.models(V1)
    db = project.database(models)
    db.migrations.make()
    db.migrations.migrate()
    fresh_url = f"sqlite:///{project.root / 'other.db'}" if backend == "sqlite" else None
    if fresh_url is None:
        with temporary_database(POSTGRES_URL) as url:
            _assert_builds(project, models, url)
    else:
        _assert_builds(project, models, fresh_url)


def _assert_builds(project: Project, models: ModuleType, url: str) -> None:
    other = project.database(models, url)
    assert len(other.migrations.pending()) == 1
    other.migrations.migrate()
    with other.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version", "author", "post"}
    other.engine.dispose()


def test_a_dropped_and_added_column_is_kept_as_is_when_not_a_rename(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make()
    db.migrations.migrate()
    db2 = project.database(project.models(V2))
    written = db2.migrations.make(rename=lambda table, old, new: False)
    source = written[0].read_text()
    assert "drop_column('title')" in source
    assert "new_column_name" not in source
    assert db2.migrations.notes == [
        "post.title is dropped and post.headline added: if that is a rename, answer yes "
        "when asked (the data would be lost)",
        "post.headline is NOT NULL without a server default: migrating a table that has rows "
        "fails. Give it a server_default, or add it nullable, fill it, then make it NOT NULL.",
    ]


def test_adding_a_not_null_column_without_default_is_flagged(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make()
    db.migrations.migrate()
    db2 = project.database(
        project.models(
            V1.replace(
                "title: Mapped[str] = mapped_column(String(200), index=True)",
                "title: Mapped[str] = mapped_column(String(200), index=True)\n"
                "    slug: Mapped[str] = mapped_column(String(50))",
            )
        )
    )
    db2.migrations.make(message="add slug")
    assert db2.migrations.notes == [
        "post.slug is NOT NULL without a server default: migrating a table that has rows "
        "fails. Give it a server_default, or add it nullable, fill it, then make it NOT NULL."
    ]
    assert db2.migrations.pending()[0].message == "add slug"


def test_makemigrations_needs_an_up_to_date_database(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make()
    with pytest.raises(MigrationError, match=r"not up to date .*Run `carboy migrate` first"):
        db.migrations.make()


def test_migrate_without_migrations_says_what_to_do(project: Project) -> None:
    db = project.database(project.models(V1))
    with pytest.raises(MigrationError, match=r"No migrations in .*carboy makemigrations"):
        db.migrations.migrate()
    assert db.migrations.status() == []


def test_unknown_target_is_a_clear_error(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make()
    with pytest.raises(MigrationError, match="Unknown migration 'nope'"):
        db.migrations.migrate("nope")


def test_empty_revision_for_data_migrations(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make()
    db.migrations.migrate()
    assert db.migrations.make("fill slugs") == []
    written = db.migrations.make("fill slugs", empty=True)
    upgrade = written[0].read_text().split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert [line.strip() for line in upgrade.splitlines() if line.strip()][1] == "pass"
    db.migrations.migrate()
    assert db.migrations.pending() == []


def test_two_parallel_histories_are_merged(project: Project) -> None:
    db = project.database(project.models(V1))
    first = db.migrations.make()[0]
    db.migrations.migrate()
    revision = db.migrations.status()[0].revision
    # Two developers each add a revision on top of the first one.
    for name in ("left", "right"):
        (first.parent / f"{name}.py").write_text(
            textwrap.dedent(f"""
            revision = "{name}"
            down_revision = "{revision}"
            branch_labels = None
            depends_on = None
            def upgrade() -> None: ...
            def downgrade() -> None: ...
        """)
        )
    db.migrations.migrate()
    with pytest.raises(MigrationError, match=r"2 heads .*makemigrations --merge"):
        db.migrations.make()
    merged = db.migrations.merge()
    assert merged is not None
    assert merged.parent == first.parent
    db.migrations.migrate()
    assert db.migrations.merge() is None
    assert db.migrations.pending() == []


def test_sqlite_migrations_check_foreign_keys_after_each_revision(tmp_path: Path) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'fk.db'}")
    db = project.database(project.models(V2))
    db.migrations.make()
    db.migrations.migrate()
    (tmp_path / "migrations" / "broken.py").write_text(
        textwrap.dedent(f"""
        from alembic import op
        revision = "broken"
        down_revision = "{db.migrations.status()[0].revision}"
        branch_labels = None
        depends_on = None
        def upgrade() -> None:
            op.execute("INSERT INTO post (headline, author_id, created_at, updated_at) "
                       "VALUES ('x', 42, '2024-01-01', '2024-01-01')")
        def downgrade() -> None: ...
    """)
    )
    with pytest.raises(MigrationError, match="broken foreign keys: post row 1 -> author"):
        db.migrations.migrate()
    with db.engine.connect() as connection:  # the revision was rolled back
        assert connection.scalar(text("SELECT count(*) FROM post")) == 0
    assert [m.revision for m in db.migrations.pending()] == ["broken"]
    project.close()


# -- a module that ships its own history ------------------------------------------------------
SHOP_INIT = """
from pathlib import Path
from carboy import Module
from carboy.db import Database

class Shop(Module):
    def setup(self, app):
        app.get_module(Database).add_migrations("shop", Path(__file__).parent / "migrations",
                                        [__name__])

shop = Shop("shop")
"""
SHOP_MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from {package}.base import Base

class Product(Base):
    name: Mapped[str] = mapped_column(String(80))
"""
PROJECT_MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column
from {package}.base import Base

class Order(Base):
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int]
"""


@pytest.fixture
def shop_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    package = f"carboy_test_project_{uuid.uuid4().hex[:8]}"
    root = tmp_path / package
    (root / "shop").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "base.py").write_text("from carboy.db import model_base\nBase = model_base()\n")
    (root / "models.py").write_text(PROJECT_MODELS.format(package=package))
    (root / "shop" / "__init__.py").write_text(SHOP_INIT)
    (root / "shop" / "models.py").write_text(SHOP_MODELS.format(package=package))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield package, root
    for name in [n for n in sys.modules if n.startswith(package)]:
        del sys.modules[name]


def _shop_database(package: str, root: Path, url: str) -> Database:
    shop: Module = importlib.import_module(f"{package}.shop").shop
    base = importlib.import_module(f"{package}.base").Base
    importlib.import_module(f"{package}.models")
    app = new_app(root)
    db = Database(url, base=base)
    app.install(shop)
    app.install(db)
    app.build()
    return db


def test_a_module_ships_its_own_history_and_the_project_depends_on_it(
    shop_project: Any, fresh_database_url: str, backend: str, tmp_path: Path
) -> None:
    package, root = shop_project
    db = _shop_database(package, root, fresh_database_url)
    assert importlib.import_module(f"{package}.shop.models")  # imported by discovery

    # The battery's author writes its revision into the module's folder.
    (shop_file,) = db.migrations.make("create product", module="shop")
    assert shop_file.parent == root / "shop" / "migrations"
    assert "create_table('product'" in shop_file.read_text()
    assert "'order'" not in shop_file.read_text()
    db.migrations.migrate()

    # The project's revision holds only its own table, and depends on the shop's head.
    (project_file,) = db.migrations.make()
    source = project_file.read_text()
    assert project_file.parent == root / "migrations"
    assert "create_table('order'" in source
    assert "'product'" not in source.split("def upgrade")[1].split("sa.ForeignKeyConstraint")[0]
    shop_revision = db.migrations.status()[0].revision
    assert f"depends_on = ['{shop_revision}']" in source or (
        f"depends_on = '{shop_revision}'" in source
    )
    assert [(m.branch, m.applied) for m in db.migrations.status()] == [
        ("shop", True),
        ("project", False),
    ]
    db.migrations.migrate()
    assert db.migrations.make() == []
    db.engine.dispose()

    # A fresh database gets both, the shop's table first.
    def build(url: str) -> None:
        fresh = _shop_database(package, root, url)
        steps: list[MigrationStep] = []
        fresh.migrations.migrate(on_step=steps.append)
        assert [s.message for s in steps] == ["create product", "create order"]
        with fresh.engine.connect() as connection:
            assert {"product", "order"} <= set(inspect(connection).get_table_names())
        fresh.migrations.migrate("zero")
        with fresh.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        fresh.engine.dispose()

    if backend == "sqlite":
        build(f"sqlite:///{tmp_path / 'fresh-shop.db'}")
    else:
        with temporary_database(POSTGRES_URL) as url:
            build(url)


def test_unknown_module_history(shop_project: Any, tmp_path: Path) -> None:
    package, root = shop_project
    db = _shop_database(package, root, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(
        MigrationError, match=r"No module ships migrations as 'nope' \(known: shop\)"
    ):
        db.migrations.make(module="nope")
    db.engine.dispose()


def test_migrate_without_models_or_migrations_has_nothing_to_do(tmp_path: Path) -> None:
    from carboy.db import model_base

    app = new_app(tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", base=model_base())
    app.install(db)
    app.build()
    assert db.migrations.migrate().direction == "none"
    db.engine.dispose()


def test_a_battery_that_is_not_installed_keeps_its_tables_out_of_the_project(
    tmp_path: Path,
) -> None:
    # Regression: with carboy.admin.models imported (by a test of the admin) and
    # no Admin installed, makemigrations wrote admin_log_entry (and the auth tables
    # it points at) into the project's history. In a fresh interpreter: the shared
    # Model registry here holds whatever other tests imported.
    code = f"""
import carboy.admin.models  # the admin's and, through it, the auth battery's models
from sqlalchemy.orm import Mapped, mapped_column
from carboy import Carboy
from carboy.db import Database, Model

class Note(Model):
    text: Mapped[str] = mapped_column()

app = Carboy(secret_key="{"k" * 40}", allowed_hosts=["*"], root={str(tmp_path)!r})
db = Database("sqlite:///{tmp_path / "app.db"}")
app.install(db)
app.build()
(made,) = db.migrations.make("initial")
print(made.read_text())
"""
    (tmp_path / "migrations").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "create_table('note'" in result.stdout
    assert "admin_log_entry" not in result.stdout
    assert "auth_" not in result.stdout


def test_on_migrate_hooks_run_after_each_migrate(project: Project) -> None:
    from carboy.db.migrations import MigrationPlan

    db = project.database(project.models(V1))
    calls: list[tuple[str, int, bool]] = []

    @db.on_migrate
    def record(database: Database, plan: MigrationPlan) -> None:
        # The migrations are committed when it runs: another connection sees them.
        with database.engine.connect() as connection:
            has_author = inspect(connection).has_table("author")
        calls.append((plan.direction, len(plan.revisions), has_author))

    assert record in db.migrate_hooks
    db.migrations.make("v1")
    db.migrations.migrate()
    db.migrations.migrate()  # nothing to apply: the hooks run all the same
    db.migrations.migrate("zero")
    assert calls == [("upgrade", 1, True), ("none", 0, True), ("downgrade", 1, False)]


def test_a_failing_migration_runs_no_hook(project: Project) -> None:
    db = project.database(project.models(V1))
    db.on_migrate(lambda database, plan: pytest.fail("a hook ran"))
    with pytest.raises(MigrationError):
        db.migrations.migrate()  # no migrations yet: an error, no hook


def test_an_error_in_a_hook_fails_the_migrate_and_keeps_the_migrations(project: Project) -> None:
    db = project.database(project.models(V1))
    db.migrations.make("v1")

    def broken(database: Database, plan: Any) -> None:
        raise RuntimeError("seeding failed")

    db.on_migrate(broken)
    with pytest.raises(RuntimeError, match="seeding failed"):
        db.migrations.migrate()
    assert [m.applied for m in db.migrations.status()] == [True]
