"""Start-up checks of the database battery."""

from __future__ import annotations

from pathlib import Path

import pytest

from carboy.db import AsyncSession, Database, Session
from carboy.db.checks import check_database
from carboy.exceptions import ConfigurationError
from tests.db.conftest import new_app


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
