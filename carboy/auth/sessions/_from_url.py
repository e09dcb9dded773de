"""The session store named by ``settings.sessions_url``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from carboy.db import Database
    from carboy.identity import SessionStore
    from carboy.settings import Settings

_SCHEMES = "'cookie://', 'database://', 'memory://' or 'redis://host:6379/0'"


def store_from_settings(settings: Settings, database: Database | None = None) -> SessionStore:
    """The store ``settings.sessions_url`` names.

    ``cookie://`` signs the session into the cookie with the secret key (no
    server state; "log out everywhere" through the user's session generation),
    ``database://`` keeps it in the ``auth_session`` table of ``database``,
    ``redis://`` (or ``rediss://``) in that Redis, ``memory://`` in this process.

    Args:
        settings: The app's settings.
        database: The app's ``carboy.db`` battery, for ``database://``.

    Raises:
        ConfigurationError: The URL is not one of these, or ``database://``
            without the database battery installed.

    Example:
        >>> from carboy.settings import Settings
        >>> store_from_settings(Settings(debug=True, sessions_url="memory://"))
        <carboy.auth.sessions._memory.MemoryStore object at ...>
    """
    url = settings.sessions_url
    scheme = url.partition("://")[0].lower()
    if scheme == "cookie" and url.lower() == "cookie://":
        from carboy.auth.sessions._cookie import CookieStore

        return CookieStore.from_settings(settings)
    if scheme == "memory" and url.lower() == "memory://":
        from carboy.auth.sessions._memory import MemoryStore

        return MemoryStore()
    if scheme == "database" and url.lower() == "database://":
        if database is None:
            raise ConfigurationError(
                "sessions_url='database://' keeps sessions in the app's database: install "
                "carboy.db's Database() before Auth, or pick another sessions_url"
            )
        from carboy.auth.sessions._database import DatabaseStore

        return DatabaseStore(database)
    if scheme in ("redis", "rediss"):
        from carboy.auth.sessions._redis import RedisStore

        return RedisStore(url)
    raise ConfigurationError(f"sessions_url={url!r} is not a session store: use {_SCHEMES}")
