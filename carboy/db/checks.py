"""Start-up checks of the database battery (``carboy check`` runs them too).

* ``db.E001``: the database URL cannot be used (malformed, or its driver is not installed;
  found, not imported: a driver loads with the engine that uses it).
* ``db.E002``: two installed ``Database`` modules (one database per app).
* ``db.W001``: an ``async def`` handler takes a sync ``Session``: its queries would block
  the event loop for every other request; take an ``AsyncSession`` or make it ``def``.

None of them connects to the database: the app starts while it is down.
"""

from __future__ import annotations

import importlib.util
import inspect
import typing
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session as _SASession

from carboy.exceptions import ConfigurationError
from carboy.modules import CheckLevel, CheckMessage, Module

if TYPE_CHECKING:
    from carboy.app import Carboy


_DRIVER_MODULES = {
    "pysqlite": "sqlite3",
    "aiosqlite": "aiosqlite",
    "psycopg": "psycopg",
    "asyncpg": "asyncpg",
    "pymysql": "pymysql",
    "aiomysql": "aiomysql",
    "psycopg2": "psycopg2",
}


def check_database(app: Carboy, database_type: type[Module]) -> list[CheckMessage]:
    """Run every ``db.*`` check on ``app``; ``database_type`` is the ``Database`` class.

    The class is passed in by the ``Database`` that registers the check, so this
    module need not import the one that imports it.

    Example:
        >>> [str(m) for m in check_database(app, Database)]
        []
    """
    found: list[CheckMessage] = []
    databases = [m for m in app.walk() if isinstance(m, database_type)]
    if len(databases) > 1:
        found.append(
            CheckMessage(
                "db.E002",
                f"{len(databases)} Database modules are installed",
                "Install one Database per app; it serves sync and async sessions alike.",
                level=CheckLevel.ERROR,
            )
        )
    for db in databases[:1]:
        found.extend(_check_url(db))
    found.extend(_check_handlers(app))
    return found


def _check_url(db: Any) -> list[CheckMessage]:
    try:
        urls = [db.sync_url, db.async_url]
    except ConfigurationError as exc:
        return [
            CheckMessage(
                "db.E001",
                str(exc),
                "Set DATABASE_URL (CARBOY_DATABASE_URL) or Database(url=...).",
                obj="Database.url",
                level=CheckLevel.ERROR,
            )
        ]
    messages = []
    for url in urls:
        driver = url.get_driver_name()
        module = _DRIVER_MODULES.get(driver, driver)
        if not _installed(module):
            messages.append(
                CheckMessage(
                    "db.E001",
                    f"The database driver {driver!r} for {url.drivername} URLs is not installed",
                    f"pip install {module}  (or: pip install 'carboy[postgres]' for PostgreSQL)",
                    obj="Database.url",
                    level=CheckLevel.ERROR,
                )
            )
    return messages


def _installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it.

    A driver is imported by the engine that uses it, when that engine is first
    made: an app that never opens a sync session never loads psycopg (0.14 s).
    One that is found but cannot import raises its ImportError there.
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _uses_sync_session(func: Any) -> bool:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable annotations are reported by the app's own build
        return False
    for name, annotation in hints.items():
        if name == "return":
            continue
        for candidate in (annotation, *typing.get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, _SASession):
                return True
    return False


def _check_handlers(app: Carboy) -> list[CheckMessage]:
    messages = []
    for resolved in app.iter_routes():
        route = resolved.route
        endpoint = getattr(route, "endpoint", None)
        if endpoint is None or not inspect.iscoroutinefunction(endpoint):
            continue
        if not _uses_sync_session(endpoint):
            continue
        messages.append(
            CheckMessage(
                "db.W001",
                "This async handler takes a sync Session: its queries block the event loop "
                "and every other request waits",
                "Type the parameter AsyncSession (and await the queries), or make the "
                "handler a plain `def` (it then runs in a thread).",
                obj=f"{resolved.path} ({route.source})",
                level=CheckLevel.WARNING,
            )
        )
    return messages
