"""carboy.cache: a cache for the app on memory or Redis, sync and async.

Values with a time to live, ``get_or_set`` with stampede protection, a
``@cache.cached`` decorator for functions, throttles (``Throttle("10/minute")``,
429 with ``Retry-After``) on its atomic counters, and whole-response caching per
view with ``Vary``, ``ETag`` and ``Cache-Control``.

Example:
    >>> from carboy import Carboy
    >>> from carboy.cache import Cache, Caching
    >>> cache = Cache()  # settings.cache_url, or memory:// by default
    >>> app = Carboy()
    >>> app.install(Caching(cache))
    >>> @app.get("/rate/{currency}")
    ... async def rate(currency: str, cache: Cache) -> dict[str, float]:
    ...     return {"rate": await cache.aget_or_set(f"rate:{currency}", lambda: 1.1, ttl=600)}
"""

from carboy.cache._backends import CacheBackend as CacheBackend
from carboy.cache._backends import MemoryBackend as MemoryBackend
from carboy.cache._backends import RedisBackend as RedisBackend
from carboy.cache._cache import DEFAULT_TTL as DEFAULT_TTL
from carboy.cache._cache import Cache as Cache
from carboy.cache._cache import Caching as Caching
from carboy.cache._cache import PickleSerializer as PickleSerializer
from carboy.cache._cache import Serializer as Serializer
from carboy.cache._cache import backend_from_url as backend_from_url
from carboy.cache._throttle import Rate as Rate
from carboy.cache._throttle import Throttle as Throttle
from carboy.cache._throttle import Throttled as Throttled
from carboy.cache._throttle import ThrottleResult as ThrottleResult
from carboy.cache._throttle import client_ip as client_ip
from carboy.cache._throttle import wait_text as wait_text
from carboy.cache._views import CachePageMiddleware as CachePageMiddleware
from carboy.cache._views import cache_page as cache_page

__all__ = [
    "DEFAULT_TTL",
    "Cache",
    "CacheBackend",
    "CachePageMiddleware",
    "Caching",
    "MemoryBackend",
    "PickleSerializer",
    "Rate",
    "RedisBackend",
    "Serializer",
    "Throttle",
    "ThrottleResult",
    "Throttled",
    "backend_from_url",
    "cache_page",
    "client_ip",
    "wait_text",
]
