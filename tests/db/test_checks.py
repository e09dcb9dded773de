"""Start-up checks of the database battery."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from carboy.db import AsyncSession, Database, Session
from carboy.db.checks import check_database
from carboy.exceptions import ConfigurationError
from tests.db.conftest import new_app

ROOT = Path(__file__).resolve().parents[2]


def test_a_well_configured_app_passes(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    app.install(Database())

    @app.get("/a")
    async def a(session: AsyncSession) -> str:
        return "ok"

    @app.get("/b")
    def b(session: Session) -> str:
        return "ok"

    app.build()
    assert check_database(app, Database) == []


def test_bad_url_refuses_to_start(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    app.install(Database("oracle://h/d"))
    with pytest.raises(ConfigurationError) as caught:
        app.build()
    assert "db.E001 Database.url: carboy.db does not know a sync driver for 'oracle'" in str(
        caught.value
    )


def test_missing_driver_refuses_to_start(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    app.install(Database("postgresql+pg8000://localhost/shop"))
    with pytest.raises(ConfigurationError) as caught:
        app.build()
    message = str(caught.value)
    assert (
        "db.E001 Database.url: The database driver 'pg8000' for postgresql+pg8000 URLs is not "
        "installed" in message
    )
    assert "HINT: pip install pg8000" in message


def test_two_databases_refuse_to_start(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    app.install(Database())
    app.install(Database())
    with pytest.raises(ConfigurationError, match=r"db\.E002 2 Database modules are installed"):
        app.build()


def test_an_async_handler_with_a_sync_session_is_warned_about(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    app.install(Database())

    @app.get("/blocking")
    async def blocking(session: Session) -> str:
        return "ok"

    app.build()  # a warning does not stop the app
    (message,) = check_database(app, Database)
    assert message.id == "db.W001"
    assert message.obj.startswith("/blocking (")
    assert "AsyncSession" in message.hint


def test_the_checks_find_the_drivers_without_importing_them(tmp_path: Path) -> None:
    # Regression: db.E001 imported psycopg (the sync driver) at every start, 0.14 s of a
    # 0.24 s start-up on the bench app, for an app that never opens a sync session.
    script = tmp_path / "start.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from carboy import Carboy
            from carboy.db import Database

            app = Carboy(debug=False, secret_key="s" * 64, allowed_hosts=["*"])
            app.install(Database("postgresql://nobody@127.0.0.1:1/none"))
            app.build()
            print(sorted(m for m in ("psycopg", "asyncpg") if m in sys.modules))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_a_driver_found_but_broken_fails_loudly_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The check only finds the module; one that is there but cannot import raises
    # its ImportError where the engine is made, not later and not silently.
    broken = tmp_path / "site"
    (broken / "aiosqlite").mkdir(parents=True)
    (broken / "aiosqlite" / "__init__.py").write_text("raise ImportError('libfoo.so missing')\n")
    monkeypatch.syspath_prepend(str(broken))
    monkeypatch.delitem(sys.modules, "aiosqlite", raising=False)
    for name in [m for m in sys.modules if m.startswith("sqlalchemy.dialects.sqlite.aiosqlite")]:
        monkeypatch.delitem(sys.modules, name)
    app = new_app(tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    app.install(db)
    app.build()  # found: the check passes
    with pytest.raises(ImportError, match=r"libfoo\.so missing"):
        _ = db.async_engine
