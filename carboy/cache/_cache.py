"""The cache: one object, sync and async, on a memory or Redis backend."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import pickle
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from carboy.cache._backends import CacheBackend, MemoryBackend, RedisBackend
from carboy.exceptions import ConfigurationError
from carboy.modules import Module

if TYPE_CHECKING:
    from carboy.app import Carboy

logger = logging.getLogger("carboy.cache")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_TTL"


#: Stands for "the cache's ``default_ttl``" in ``ttl=`` arguments.
DEFAULT_TTL: Any = _Default()


class Serializer(Protocol):
    """How values become bytes: :mod:`pickle` by default (any picklable object)."""

    def dumps(self, value: Any) -> bytes:
        """``value`` as bytes."""
        ...

    def loads(self, data: bytes) -> Any:
        """The value back from :meth:`dumps`'s bytes."""
        ...


class PickleSerializer:
    """Pickle at the highest protocol: any picklable object round-trips with its type.

    Only a trusted cache may hold pickles (anyone who can write to your Redis can
    run code in your app); give ``Cache(serializer=...)`` a JSON serializer otherwise.
    """

    def dumps(self, value: Any) -> bytes:
        """Pickle ``value``."""
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        """Unpickle ``data``."""
        return pickle.loads(data)  # the cache is trusted storage: see the docstring


def backend_from_url(url: str) -> CacheBackend:
    """The backend a cache URL names: ``memory://`` or ``redis://host:port/db``.

    Example:
        >>> backend_from_url("memory://")
        MemoryBackend(max_entries=10000)
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss", "unix"):
        return RedisBackend(url)
    raise ConfigurationError(
        f"cache URL {url!r}: unknown scheme {scheme!r}; use 'memory://' or 'redis://host:6379/0'"
    )


class Cache:
    """A key-value cache for the app: values with a time to live, shared by its handlers.

    Install it with ``app.install(Caching(cache))``; handlers then take it as a
    parameter (``cache: Cache``). Every method has an async twin with an ``a`` prefix.
    Keys are strings; values are any picklable object. Keys are stored as
    ``<key_prefix>:<version>:<key>``, so bumping ``version`` retires every value
    at once, and two apps can share one Redis with different prefixes.

    Args:
        url: ``memory://`` (one process, the default) or ``redis://host:port/db``;
            defaults to ``settings.cache_url``.
        backend: A ready backend instead of a URL (a tuned ``RedisBackend``, your own).
        key_prefix: Put in front of every key.
        version: The default version of keys.
        default_ttl: Seconds a value lives when ``ttl`` is not given; None keeps it.
        lock_timeout: Longest a :meth:`get_or_set` recompute holds its lock; others
            wait for it at most this long before they compute too.
        serializer: How values become bytes (:class:`PickleSerializer`).

    Example:
        >>> from carboy import Carboy
        >>> from carboy.cache import Cache, Caching
        >>> cache = Cache("memory://")
        >>> app = Carboy()
        >>> app.install(Caching(cache))
        >>> cache.set("greeting", "hello", ttl=60)
        >>> cache.get("greeting")
        'hello'
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        backend: CacheBackend | None = None,
        key_prefix: str = "carboy",
        version: int = 1,
        default_ttl: float | None = 300.0,
        lock_timeout: float = 10.0,
        serializer: Serializer | None = None,
    ) -> None:
        if url is not None and backend is not None:
            raise ConfigurationError("Cache(): give a url or a backend, not both")
        if ":" in key_prefix:
            raise ConfigurationError(f"Cache(key_prefix={key_prefix!r}): no ':' in the prefix")
        self._url = url
        self._backend = backend
        self.key_prefix = key_prefix
        self.version = version
        self.default_ttl = default_ttl
        self.lock_timeout = lock_timeout
        self.serializer: Serializer = serializer or PickleSerializer()
        #: Seconds between two looks of a caller waiting for another's recompute.
        self.poll_interval = 0.02

    def configure(self, url: str) -> None:
        """Use ``url`` unless a URL or backend was given (``Caching`` passes the setting)."""
        if self._backend is None and self._url is None:
            self._url = url

    @property
    def backend(self) -> CacheBackend:
        """The backend, made from the URL on first use."""
        if self._backend is None:
            self._backend = backend_from_url(self._url or "memory://")
        return self._backend

    # -- keys and values ---------------------------------------------------------
    def make_key(self, key: str, version: int | None = None) -> str:
        """The stored key: ``<key_prefix>:<version>:<key>``.

        Example:
            >>> Cache().make_key("user:3")
            'carboy:1:user:3'
        """
        if not isinstance(key, str):
            raise TypeError(f"cache keys are strings, got {type(key).__name__}: {key!r}")
        return f"{self.key_prefix}:{self.version if version is None else version}:{key}"

    def _ttl(self, ttl: Any) -> float | None:
        if ttl is DEFAULT_TTL:
            return self.default_ttl
        if ttl is not None and not isinstance(ttl, int | float):
            raise TypeError(f"ttl must be seconds (a number) or None, got {ttl!r}")
        return cast(float | None, ttl)

    def _load(self, stored: str, data: bytes | None) -> tuple[bool, Any]:
        if data is None:
            return False, None
        try:
            return True, self.serializer.loads(data)
        except Exception:
            # A value written by another version of the code, or corrupted: a miss, said loudly.
            logger.warning("cache: cannot load the value of %r; treated as a miss", stored)
            return False, None

    # -- sync ----------------------------------------------------------------------
    def get(self, key: str, default: Any = None, *, version: int | None = None) -> Any:
        """The value under ``key``, or ``default`` when there is none (or it expired)."""
        stored = self.make_key(key, version)
        found, value = self._load(stored, self.backend.get(stored))
        return value if found else default

    def set(
        self, key: str, value: Any, ttl: float | None = DEFAULT_TTL, *, version: int | None = None
    ) -> None:
        """Store ``value`` for ``ttl`` seconds (``None``: until deleted; 0 or less: not at all)."""
        stored, seconds = self.make_key(key, version), self._ttl(ttl)
        if seconds is not None and seconds <= 0:
            self.backend.delete(stored)
            return
        self.backend.set(stored, self.serializer.dumps(value), seconds)

    def add(
        self, key: str, value: Any, ttl: float | None = DEFAULT_TTL, *, version: int | None = None
    ) -> bool:
        """Store ``value`` only if ``key`` holds nothing; True when it was stored."""
        stored = self.make_key(key, version)
        return self.backend.add(stored, self.serializer.dumps(value), self._ttl(ttl))

    def delete(self, key: str, *, version: int | None = None) -> bool:
        """Remove ``key``; True when it was there."""
        return self.backend.delete(self.make_key(key, version))

    def incr(
        self, key: str, delta: int = 1, *, ttl: float | None = None, version: int | None = None
    ) -> int:
        """Add ``delta`` to a counter atomically (made at 0 with ``ttl`` if missing); its value.

        Counters are stored as plain integers, not through the serializer, so
        every process and language reads the same number.

        Example:
            >>> cache.incr("hits:/home", ttl=60)
            1
        """
        return self.backend.incr(self.make_key(key, version), delta, ttl)

    def get_or_set(
        self,
        key: str,
        default: Callable[[], T] | T,
        ttl: float | None = DEFAULT_TTL,
        *,
        version: int | None = None,
    ) -> T:
        """The cached value, or ``default`` (called if callable) stored and returned.

        When many callers miss the same key at once, one computes and the others
        wait for its value (stampede protection, across processes on Redis).

        Example:
            >>> cache.get_or_set("answer", lambda: 6 * 7, ttl=60)
            42
        """
        stored = self.make_key(key, version)
        found, value = self._load(stored, self.backend.get(stored))
        if found:
            return cast(T, value)
        if not callable(default):
            self.set(key, default, ttl, version=version)
            return default
        return self._fill(stored, default, self._ttl(ttl))

    def _fill(self, stored: str, compute: Callable[[], T], ttl: float | None) -> T:
        lock, token = stored + ":lock", secrets.token_bytes(16)
        while True:
            if self.backend.add(lock, token, self.lock_timeout):
                try:
                    value = compute()
                    if ttl is None or ttl > 0:
                        self.backend.set(stored, self.serializer.dumps(value), ttl)
                    return value
                finally:
                    if self.backend.get(lock) == token:
                        self.backend.delete(lock)
            time.sleep(self.poll_interval)
            found, value = self._load(stored, self.backend.get(stored))
            if found:
                return cast(T, value)

    def clear(self) -> None:
        """Remove every value of this cache's prefix (all versions)."""
        self.backend.clear(self.key_prefix + ":")

    def incr_version(self, key: str, delta: int = 1, *, version: int | None = None) -> int:
        """Move ``key``'s value to version ``version + delta``; the new version.

        Raises:
            KeyError: The key holds nothing.
        """
        current = self.version if version is None else version
        stored = self.make_key(key, current)
        data = self.backend.get(stored)
        if data is None:
            raise KeyError(key)
        self.backend.set(self.make_key(key, current + delta), data, None)
        self.backend.delete(stored)
        return current + delta

    # -- async ---------------------------------------------------------------------
    async def aget(self, key: str, default: Any = None, *, version: int | None = None) -> Any:
        """Async :meth:`get`."""
        stored = self.make_key(key, version)
        found, value = self._load(stored, await self.backend.aget(stored))
        return value if found else default

    async def aset(
        self, key: str, value: Any, ttl: float | None = DEFAULT_TTL, *, version: int | None = None
    ) -> None:
        """Async :meth:`set`."""
        stored, seconds = self.make_key(key, version), self._ttl(ttl)
        if seconds is not None and seconds <= 0:
            await self.backend.adelete(stored)
            return
        await self.backend.aset(stored, self.serializer.dumps(value), seconds)

    async def aadd(
        self, key: str, value: Any, ttl: float | None = DEFAULT_TTL, *, version: int | None = None
    ) -> bool:
        """Async :meth:`add`."""
        stored = self.make_key(key, version)
        return await self.backend.aadd(stored, self.serializer.dumps(value), self._ttl(ttl))

    async def adelete(self, key: str, *, version: int | None = None) -> bool:
        """Async :meth:`delete`."""
        return await self.backend.adelete(self.make_key(key, version))

    async def aincr(
        self, key: str, delta: int = 1, *, ttl: float | None = None, version: int | None = None
    ) -> int:
        """Async :meth:`incr`."""
        return await self.backend.aincr(self.make_key(key, version), delta, ttl)

    async def aget_or_set(
        self,
        key: str,
        default: Callable[[], Awaitable[T] | T] | T,
        ttl: float | None = DEFAULT_TTL,
        *,
        version: int | None = None,
    ) -> T:
        """Async :meth:`get_or_set`; ``default`` may be an async function."""
        stored = self.make_key(key, version)
        found, value = self._load(stored, await self.backend.aget(stored))
        if found:
            return cast(T, value)
        if not callable(default):
            await self.aset(key, default, ttl, version=version)
            return default
        return await self._afill(stored, default, self._ttl(ttl))

    async def _afill(
        self, stored: str, compute: Callable[[], Awaitable[T] | T], ttl: float | None
    ) -> T:
        lock, token = stored + ":lock", secrets.token_bytes(16)
        while True:
            if await self.backend.aadd(lock, token, self.lock_timeout):
                try:
                    result = compute()
                    value = cast(T, await result if inspect.isawaitable(result) else result)
                    if ttl is None or ttl > 0:
                        await self.backend.aset(stored, self.serializer.dumps(value), ttl)
                    return value
                finally:
                    if await self.backend.aget(lock) == token:
                        await self.backend.adelete(lock)
            await asyncio.sleep(self.poll_interval)
            found, value = self._load(stored, await self.backend.aget(stored))
            if found:
                return cast(T, value)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self.backend.aclear(self.key_prefix + ":")

    async def aclose(self) -> None:
        """Close the backend's connections (run at the app's shutdown)."""
        if self._backend is not None:
            await self._backend.aclose()

    # -- decorator -----------------------------------------------------------------
    def cached(
        self,
        ttl: float | None = DEFAULT_TTL,
        *,
        key: Callable[..., str] | None = None,
        version: int | None = None,
    ) -> Callable[[F], F]:
        """Decorator: cache what a function returns, per arguments; sync or async.

        The key is the function's module and name with a hash of its arguments'
        ``repr()``, or what ``key(*args, **kwargs)`` returns. Concurrent callers
        with the same arguments share one computation.

        Example:
            >>> @cache.cached(ttl=600)
            ... def exchange_rate(currency: str) -> float:
            ...     return 1.1
        """

        def decorator(func: F) -> F:
            name = f"{func.__module__}.{func.__qualname__}"

            def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
                if key is not None:
                    return f"fn:{name}:{key(*args, **kwargs)}"
                digest = hashlib.sha256(repr((args, sorted(kwargs.items()))).encode()).hexdigest()
                return f"fn:{name}:{digest[:32]}"

            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def acall(*args: Any, **kwargs: Any) -> Any:
                    return await self.aget_or_set(
                        make(args, kwargs), lambda: func(*args, **kwargs), ttl, version=version
                    )

                return cast(F, acall)

            @functools.wraps(func)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self.get_or_set(
                    make(args, kwargs), lambda: func(*args, **kwargs), ttl, version=version
                )

            return cast(F, call)

        return decorator

    def __repr__(self) -> str:
        where = self._backend if self._backend is not None else self._url or "memory://"
        return f"Cache({where!r}, key_prefix={self.key_prefix!r})"


class Caching(Module):
    """The cache battery as a module: ``app.install(Caching(cache))``.

    It makes ``cache`` injectable (``cache: Cache`` in a handler), gives it
    ``settings.cache_url`` when the cache was made without a URL, and closes
    its connections at shutdown.

    Args:
        cache: The app's cache; a ``Cache()`` on ``settings.cache_url`` if omitted.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.cache import Cache, Caching
        >>> cache = Cache()
        >>> app = Carboy()
        >>> app.install(Caching(cache))
    """

    def __init__(self, cache: Cache | None = None) -> None:
        super().__init__("cache")
        self.cache = cache if cache is not None else Cache()
        self.provide(Cache, self.cache)
        self.on_shutdown(self.cache.aclose)
        self.add_readiness_check("cache", self._ping)

    async def _ping(self) -> None:
        # A read that travels to the backend and back (Redis: one round trip).
        await self.cache.backend.aget(self.cache.make_key("_readyz"))

    def setup(self, app: Carboy) -> None:
        """Give the cache ``settings.cache_url`` unless it has a URL or backend."""
        self.cache.configure(app.settings.cache_url)

    def shell_context(self) -> dict[str, Any]:
        """``cache`` in ``carboy shell``."""
        return {"cache": self.cache}
