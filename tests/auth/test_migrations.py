"""The auth branch: `carboy migrate` builds auth's tables, a project's history leaves them out."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect, select

from carboy import Carboy
from carboy.auth import Auth, Permission
from carboy.cli import cli
from carboy.db import Database
from tests.db.conftest import new_app
from tests.db.forget import forget_models

_counter = itertools.count()
AUTH_DIR = Path(__file__).resolve().parents[2] / "carboy" / "auth" / "migrations"


def run(app: Carboy, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)


class Project:
    """A project whose models live on the shared ``Model`` (as an app's do)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.modules: list[str] = []
        self.databases: list[Database] = []

    def models(self) -> ModuleType:
        name = f"carboy_auth_project_{next(_counter)}"
        source = f"""
            from sqlalchemy import ForeignKey
            from sqlalchemy.orm import Mapped, mapped_column
            from carboy.db import Model

            class Order(Model):
                __tablename__ = "{name}_order"
                total: Mapped[int]
                customer_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))
        """
        path = self.root / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        self.modules.append(name)
        return module

    def app(self) -> tuple[Carboy, Database]:
        app = new_app(self.root)
        db = Database(self.url, migrations=self.root / "migrations")
        app.install(db)
        app.install(Auth())
        app.build()
        self.databases.append(db)
        return app, db

    def close(self) -> None:
        for db in self.databases:
            if db._engine is not None:
                db._engine.dispose()
        for name in self.modules:
            sys.modules.pop(name, None)
            forget_models(name)


@pytest.fixture
def project(tmp_path: Path, fresh_database_url: str) -> Iterator[Project]:
    made = Project(tmp_path, fresh_database_url)
    yield made
    made.close()


def _permissions(db: Database) -> set[str]:
    with db.session() as session:
        return {p.perm for p in session.execute(select(Permission)).scalars()}


def test_auth_ships_one_history_registered_at_build(project: Project) -> None:
    _, db = project.app()
    (source,) = db.migration_sources
    assert (source.label, source.directory, source.packages) == ("auth", AUTH_DIR, ("carboy.auth",))
    assert {m.branch for m in db.migrations.status()} == {"auth"}


def test_migrate_builds_auth_and_makemigrations_leaves_it_out(project: Project) -> None:
    models = project.models()
    order = models.Order.__tablename__
    app, db = project.app()

    result = run(app, "migrate")
    assert result.exit_code == 0, result.output
    assert "auth tables" in result.output
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "auth_user",
        "auth_group",
        "auth_permission",
        "auth_user_groups",
        "auth_user_permissions",
        "auth_group_permissions",
        "auth_token",
        "auth_totp",
        "auth_recovery_code",
    } <= tables
    assert order not in tables

    result = run(app, "makemigrations", "-m", "orders")
    assert result.exit_code == 0, result.output
    (written,) = (project.root / "migrations").glob("*.py")
    text = written.read_text(encoding="utf-8")
    assert f"op.create_table('{order}'" in text
    assert "create_table('auth_" not in text  # auth's tables are auth's history's
    # The auth history's head: its last revision (status() lists the oldest first).
    head = [m.revision for m in db.migrations.status() if m.branch == "auth"][-1]
    assert f"depends_on = '{head}'" in text

    result = run(app, "migrate")
    assert result.exit_code == 0, result.output
    assert order in inspect(db.engine).get_table_names()
    assert run(app, "makemigrations").output.strip() == "No changes detected."
    assert run(app, "makemigrations", "--module", "auth").output.strip() == "No changes detected."

    # Every model's four permissions are there after migrate, the project's too.
    perms = _permissions(db)
    assert {"auth.view_user", "auth.add_user", "auth.change_user", "auth.delete_user"} <= perms
    assert f"{models.__name__}.change_order" in perms

    assert run(app, "migrate", "zero").exit_code == 0
    assert "auth_user" not in inspect(db.engine).get_table_names()


def test_migrate_adds_the_permissions_of_a_new_model(project: Project) -> None:
    app, db = project.app()
    assert run(app, "migrate").exit_code == 0
    before = _permissions(db)
    models = project.models()
    app, db = project.app()
    assert run(app, "migrate").output.strip() == "No migrations to apply."
    added = _permissions(db) - before
    assert added == {
        f"{models.__name__}.{action}_order" for action in ("view", "add", "change", "delete")
    }


def test_the_auth_tables_match_the_models(project: Project) -> None:
    # The revision file and the models agree: autogenerate finds nothing for auth.
    _, db = project.app()
    db.migrations.migrate()
    assert db.migrations.make(module="auth") == []
    columns = {c["name"] for c in inspect(db.engine).get_columns("auth_user")}
    assert {"username_key", "email_key", "email_verified", "session_generation"} <= columns


def test_the_token_and_two_factor_tables_migrate_up_and_down(project: Project) -> None:
    _, db = project.app()
    db.migrations.migrate()
    mine = {"auth_token", "auth_totp", "auth_recovery_code"}
    assert mine <= set(inspect(db.engine).get_table_names())
    indexes = {i["name"] for i in inspect(db.engine).get_indexes("auth_token")}
    assert "ix_auth_token_user_id" in indexes
    db.migrations.migrate("9842513fa8fd")  # the sessions' revision, before tokens
    tables = set(inspect(db.engine).get_table_names())
    assert not mine & tables and "auth_user" in tables
    db.migrations.migrate()
    assert mine <= set(inspect(db.engine).get_table_names())
