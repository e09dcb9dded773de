"""The database commands, run through the real ``carboy`` command group."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import make_url, select

from carboy import Carboy
from carboy.cli import CliError, cli
from carboy.db import Database
from carboy.db.cli import shell_command
from tests.db.conftest import new_app
from tests.db.forget import forget_models
from tests.db.test_migrations import V1, V2, Project


def run(app: Carboy, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=app, input=input, catch_exceptions=False)


class CliProject(Project):
    def app(self, source: str) -> tuple[Carboy, Database, Any]:
        models = self.models(source)
        app = new_app(self.root)
        db = Database(self.url, base=models.Base)
        app.install(db)
        self.databases.append(db)
        return app, db, models


@pytest.fixture
def project(tmp_path: Path, fresh_database_url: str) -> Any:
    made = CliProject(tmp_path, fresh_database_url)
    yield made
    made.close()


def test_the_commands_are_listed_by_carboy_help(project: CliProject) -> None:
    app, _, _ = project.app(V1)
    result = run(app, "--help")
    assert result.exit_code == 0
    for name in ("makemigrations", "migrate", "migrations", "dbshell", "dumpdata", "loaddata"):
        assert f"  {name} " in result.output


def test_makemigrations_migrate_and_list(project: CliProject) -> None:
    app, db, _ = project.app(V1)
    result = run(app, "migrate")
    assert result.exit_code == 1
    assert "No migrations in" in result.output and "carboy makemigrations" in result.output

    result = run(app, "makemigrations", "-m", "initial tables")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Created ")
    assert "/migrations/" in result.output and "_initial_tables.py" in result.output
    assert result.output.strip().endswith("Apply with: carboy migrate")

    revision = db.migrations.status()[0].revision
    result = run(app, "migrations")
    assert result.exit_code == 0
    assert f"[ ]  {revision}  project  initial tables" in result.output
    assert "0 applied, 1 pending." in result.output

    result = run(app, "migrate")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"  + {revision} initial tables  0.")
    assert lines[1:] == ["Applied 1 migration."]

    result = run(app, "migrations")
    assert f"[X]  {revision}  project  initial tables" in result.output
    assert "1 applied, 0 pending." in result.output
    assert run(app, "migrate").output.strip() == "No migrations to apply."
    assert run(app, "makemigrations").output.strip() == "No changes detected."

    result = run(app, "migrate", "zero")
    assert f"- {revision} initial tables" in result.output
    assert "Reverted 1 migration." in result.output
    assert run(app, "migrate", "zero").output.strip() == "Already at base."


def test_makemigrations_asks_about_renames(project: CliProject) -> None:
    app, _, _ = project.app(V1)
    run(app, "makemigrations")
    run(app, "migrate")
    app2, _, _ = project.app(V2)
    result = run(app2, "makemigrations", "--interactive", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Was post.title renamed to post.headline? [y/N]: y" in result.output
    written = sorted((project.root / "migrations").glob("*rename_post_title*.py"))
    assert len(written) == 1
    assert "new_column_name='headline'" in written[0].read_text()


def test_makemigrations_without_a_terminal_does_not_guess_renames(project: CliProject) -> None:
    app, _, _ = project.app(V1)
    run(app, "makemigrations")
    run(app, "migrate")
    app2, _, _ = project.app(V2)
    result = run(app2, "makemigrations")
    assert "Note: post.title is dropped and post.headline added" in result.output
    assert "renamed to" not in result.output


def test_migrate_to_an_unknown_revision_fails_clearly(project: CliProject) -> None:
    app, _, _ = project.app(V1)
    run(app, "makemigrations")
    result = run(app, "migrate", "zzz")
    assert result.exit_code == 1
    assert "Unknown migration 'zzz'" in result.output


def test_dumpdata_and_loaddata_round_trip(project: CliProject, tmp_path: Path) -> None:
    app, db, models = project.app(V1)
    run(app, "makemigrations")
    run(app, "migrate")
    with db.transaction() as session:
        session.add(models.Author(name='Zoë «quoted» "x"'))
    result = run(app, "dumpdata", "Author")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert rows == [{"model": "author", "fields": {"id": 1, "name": 'Zoë «quoted» "x"'}}]
    fixture = tmp_path / "authors.json"
    assert run(app, "dumpdata", "-o", str(fixture), "--indent", "2").exit_code == 0
    with db.transaction() as session:
        session.execute(models.Author.__table__.delete())
    result = run(app, "loaddata", str(fixture))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Loaded 1 rows (author: 1)."
    with db.session() as session:
        assert session.scalars(select(models.Author.name)).all() == ['Zoë «quoted» "x"']


def test_dumpdata_unknown_model_and_loaddata_bad_file(project: CliProject, tmp_path: Path) -> None:
    app, db, _ = project.app(V1)
    db.create_all()
    result = run(app, "dumpdata", "nope")
    assert result.exit_code == 1
    assert "No model or table named 'nope'; known tables: author, post" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "author"}')
    result = run(app, "loaddata", str(bad))
    assert result.exit_code == 1
    assert "a fixture is a JSON list of objects" in result.output


# -- dbshell ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "argv", "env"),
    [
        ("sqlite:////srv/app.db", ["sqlite3", "/srv/app.db"], {}),
        ("sqlite://", ["sqlite3"], {}),
        (
            "postgresql://ada:s3cret@db.example:5433/blog?sslmode=require",
            ["psql", "-h", "db.example", "-p", "5433", "-U", "ada", "blog"],
            {"PGPASSWORD": "s3cret", "PGSSLMODE": "require"},
        ),
        ("postgresql+asyncpg:///blog", ["psql", "blog"], {}),
        (
            "mysql://root:pw@localhost/shop",
            ["mysql", "-h", "localhost", "-u", "root", "shop"],
            {"MYSQL_PWD": "pw"},
        ),
    ],
)
def test_shell_command(url: str, argv: list[str], env: dict[str, str]) -> None:
    assert shell_command(make_url(url)) == (argv, env)


def test_shell_command_of_an_unknown_database() -> None:
    with pytest.raises(CliError, match="does not know the shell of 'oracle'"):
        shell_command(make_url("oracle://h/d"))


def test_dbshell_runs_the_shell_with_the_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real exec would replace the test process: record what would run instead.
    called: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        os, "execvpe", lambda program, argv, env: called.append((program, argv, env))
    )
    app = new_app(tmp_path)
    app.install(Database("postgresql://ada:pw@127.0.0.1:5432/blog"))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    psql = fake_bin / "psql"
    psql.write_text("#!/bin/sh\n")
    psql.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_bin))
    result = run(app, "dbshell", "--", "-c", "select 1")
    assert result.exit_code == 0, result.output
    ((program, argv, env),) = called
    assert program == str(psql)
    assert argv == ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "ada", "blog", "-c", "select 1"]
    assert env["PGPASSWORD"] == "pw"
    assert "pw" not in " ".join(argv)


def test_dbshell_without_the_program_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = new_app(tmp_path)
    app.install(Database(f"sqlite:///{tmp_path / 'x.db'}"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run(app, "dbshell")
    assert result.exit_code == 1
    assert "sqlite3 is not installed, or not on PATH" in result.output


def test_commands_on_an_app_without_database(tmp_path: Path) -> None:
    # A module command is only listed when its module is installed.
    app = new_app(tmp_path)
    result = CliRunner().invoke(cli, ["migrate"], obj=app)
    assert result.exit_code == 2
    assert "No such command 'migrate'" in result.output


def test_migrate_through_a_project_found_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `carboy migrate` in a project folder: the app is discovered, not passed in.
    (tmp_path / "app.py").write_text(
        textwrap.dedent("""
        from sqlalchemy.orm import Mapped
        from carboy import Carboy
        from carboy.db import Database, model_base

        Base = model_base()

        class Note(Base):
            text: Mapped[str]

        app = Carboy(debug=True)
        app.install(Database("sqlite:///notes.db", base=Base))
    """)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cli, ["makemigrations", "-m", "notes"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["migrate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Applied 1 migration." in result.output
    assert (tmp_path / "notes.db").exists()
    assert len(list((tmp_path / "migrations").glob("*_notes.py"))) == 1


def test_a_broken_models_module_aborts_makemigrations_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the ImportError was swallowed, the app built with no tables,
    # and makemigrations wrote a revision dropping every table of the module.
    package = tmp_path / "notes_pkg_broken"
    package.mkdir()
    (package / "__init__.py").write_text("from carboy import Module\nnotes = Module('notes')\n")
    models = textwrap.dedent("""
        from sqlalchemy.orm import Mapped
        from carboy.db import Model

        class BrokenNote(Model):
            text: Mapped[str]
    """)
    (package / "models.py").write_text(models)
    (tmp_path / "app.py").write_text(
        textwrap.dedent("""
        from carboy import Carboy
        from carboy.db import Database
        from notes_pkg_broken import notes

        app = Carboy(debug=True)
        app.install(notes)
        app.install(Database("sqlite:///notes.db"))
    """)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def forget() -> None:
        from carboy.db import Model

        for name in [n for n in sys.modules if n == "app" or n.startswith("notes_pkg_broken")]:
            del sys.modules[name]
        if "broken_note" in Model.metadata.tables:
            Model.metadata.remove(Model.metadata.tables["broken_note"])
        # Only this test's class: the other models on the shared base (the auth
        # battery's, the demo's) stay mapped for the tests that follow.
        forget_models("notes_pkg_broken")

    forget()
    try:
        result = CliRunner().invoke(cli, ["makemigrations", "-m", "notes"])
        assert result.exit_code == 0, result.output
        assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
        (first,) = (tmp_path / "migrations").glob("*.py")

        forget()
        (package / "models.py").write_text("from sqlalchemy import Strnig\n" + models)
        result = CliRunner().invoke(cli, ["makemigrations", "-m", "oops"])
        assert result.exit_code == 1, result.output
        assert "Building the app failed: ImportError: cannot import name 'Strnig'" in (
            result.output
        )
        assert "Traceback (most recent call last)" in result.output
        assert f'File "{package / "models.py"}", line 1' in result.output
        assert "the models of module 'notes'" in result.output
        assert list((tmp_path / "migrations").glob("*.py")) == [first]
        assert not list((tmp_path / "migrations").glob("*oops*"))

        # Every database command stops the same way.
        for command in (["migrate"], ["migrations"], ["dumpdata"]):
            result = CliRunner().invoke(cli, command)
            assert result.exit_code == 1, (command, result.output)
            assert "cannot import name 'Strnig'" in result.output
    finally:
        forget()


def test_migrate_shows_a_progress_display_on_a_terminal(
    project: CliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db, _ = project.app(V1)
    run(app, "makemigrations", "-m", "first")
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: behave as on a terminal
    monkeypatch.setenv("COLUMNS", "120")
    result = run(app, "migrate")
    assert result.exit_code == 0, result.output
    assert "first" in result.output
    assert "Applied 1 migration." in result.output
    assert "\x1b[" in result.output  # a live display, with colours
    assert db.migrations.pending() == []


def test_serving_does_not_import_the_cli() -> None:
    """A server (or a serverless cold start) with a Database loads no CLI code."""
    import subprocess
    import sys

    code = (
        "import sys; from carboy import Carboy; from carboy.db import Database; "
        "app = Carboy(debug=True); app.install(Database('sqlite:///:memory:')); app.build(); "
        "print(sorted(m for m in ('carboy.db.cli', 'carboy.cli', 'rich') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
