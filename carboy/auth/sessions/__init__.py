"""Sessions: ``request.session``, its stores, and the middleware that loads and saves it.

Example:
    >>> from carboy.auth.sessions import MemoryStore, SessionConfig
    >>> config = SessionConfig(store=MemoryStore(), idle_timeout=3600)
"""

from carboy.auth.sessions._cookie import CookieStore as CookieStore
from carboy.auth.sessions._cookie import SessionTooLarge as SessionTooLarge
from carboy.auth.sessions._database import DatabaseStore as DatabaseStore
from carboy.auth.sessions._from_url import store_from_settings as store_from_settings
from carboy.auth.sessions._memory import MemoryStore as MemoryStore
from carboy.auth.sessions._middleware import SessionConfig as SessionConfig
from carboy.auth.sessions._middleware import SessionMiddleware as SessionMiddleware
from carboy.auth.sessions._redis import RedisStore as RedisStore
from carboy.auth.sessions._session import Flash as Flash
from carboy.auth.sessions._session import Session as Session
from carboy.auth.sessions._session import flash as flash
from carboy.auth.sessions._session import get_flashed as get_flashed

__all__ = [
    "CookieStore",
    "DatabaseStore",
    "Flash",
    "MemoryStore",
    "RedisStore",
    "Session",
    "SessionConfig",
    "SessionMiddleware",
    "SessionTooLarge",
    "flash",
    "get_flashed",
    "store_from_settings",
]
