"""Where cached values live: the backend protocol, memory and Redis.

A backend stores bytes under string keys with an optional time to live. It
knows nothing of serialization, key prefixes or versions: :class:`~carboy.cache.Cache`
does those once, for every backend. Each operation comes twice, sync and async
(``get`` / ``aget``), because ``def`` handlers and ``async def`` handlers both
use the cache and a sync call must never need an event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from carboy.exceptions import ConfigurationError


class CacheBackend(Protocol):
    """The storage a :class:`~carboy.cache.Cache` runs on.

    ``ttl`` is in seconds; ``None`` keeps the value until it is deleted or
    evicted. Implement both the sync and the async half.
    """

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None when missing or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store ``value`` under ``key``."""
        ...

    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Store ``value`` only if ``key`` holds nothing; True when it was stored."""
        ...

    def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        ...

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """Add ``delta`` to the integer under ``key`` (0 if missing) atomically; the new value.

        ``ttl`` applies when this call creates the key, so a counter of a fixed
        window expires when the window ends; later calls (negative ``delta``
        too, down to zero and up again) keep that expiry. ``delta=0`` reads the
        counter (making it at 0 when missing).
        """
        ...

    def clear(self, prefix: str) -> None:
        """Remove every key that starts with ``prefix``."""
        ...

    async def aget(self, key: str) -> bytes | None:
        """Async :meth:`get`."""
        ...

    async def aset(self, key: str, value: bytes, ttl: float | None) -> None:
        """Async :meth:`set`."""
        ...

    async def aadd(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Async :meth:`add`."""
        ...

    async def adelete(self, key: str) -> bool:
        """Async :meth:`delete`."""
        ...

    async def aincr(self, key: str, delta: int, ttl: float | None) -> int:
        """Async :meth:`incr`."""
        ...

    async def aclear(self, prefix: str) -> None:
        """Async :meth:`clear`."""
        ...

    async def aclose(self) -> None:
        """Release connections (the app's shutdown calls it)."""
        ...


class MemoryBackend:
    """Values in this process's memory: the embedded default, one process only.

    Least recently used values are evicted beyond ``max_entries``, so memory stays
    bounded. Thread-safe; the async methods never block the loop for long.

    Args:
        max_entries: Most values kept at once.

    Example:
        >>> backend = MemoryBackend(max_entries=2)
        >>> backend.set("a", b"1", None)
        >>> backend.get("a")
        b'1'
    """

    def __init__(self, *, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ConfigurationError("MemoryBackend(max_entries=...) must be at least 1")
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[bytes, float | None] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    def _store(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        self._data[key] = (value, None if ttl is None else now + ttl)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def get(self, key: str) -> bytes | None:
        """See :meth:`CacheBackend.get`."""
        with self._lock:
            entry = self._live(key, time.monotonic())
            return None if entry is None else entry[0]

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :meth:`CacheBackend.set`."""
        with self._lock:
            self._store(key, value, ttl, time.monotonic())

    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """See :meth:`CacheBackend.add`."""
        with self._lock:
            now = time.monotonic()
            if self._live(key, now) is not None:
                return False
            self._store(key, value, ttl, now)
            return True

    def delete(self, key: str) -> bool:
        """See :meth:`CacheBackend.delete`."""
        with self._lock:
            return self._data.pop(key, None) is not None

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """See :meth:`CacheBackend.incr`."""
        with self._lock:
            now = time.monotonic()
            entry = self._live(key, now)
            if entry is None:
                value = delta
                self._store(key, str(value).encode(), ttl, now)
            else:
                value = _as_int(key, entry[0]) + delta
                self._data[key] = (str(value).encode(), entry[1])
            return value

    def clear(self, prefix: str) -> None:
        """See :meth:`CacheBackend.clear`."""
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix)]:
                del self._data[key]

    async def aget(self, key: str) -> bytes | None:
        """See :meth:`CacheBackend.get`."""
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :meth:`CacheBackend.set`."""
        self.set(key, value, ttl)

    async def aadd(self, key: str, value: bytes, ttl: float | None) -> bool:
        """See :meth:`CacheBackend.add`."""
        return self.add(key, value, ttl)

    async def adelete(self, key: str) -> bool:
        """See :meth:`CacheBackend.delete`."""
        return self.delete(key)

    async def aincr(self, key: str, delta: int, ttl: float | None) -> int:
        """See :meth:`CacheBackend.incr`."""
        return self.incr(key, delta, ttl)

    async def aclear(self, prefix: str) -> None:
        """See :meth:`CacheBackend.clear`."""
        self.clear(prefix)

    async def aclose(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"MemoryBackend(max_entries={self.max_entries})"


def _as_int(key: str, raw: bytes) -> int:
    try:
        return int(raw)
    except ValueError:
        raise TypeError(f"cache key {key!r} does not hold an integer, cannot incr() it") from None


def _milliseconds(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    return max(1, round(ttl * 1000))


# INCRBY, and the expiry when this increment made the key, in one atomic step. Asking
# EXISTS (not "the value equals delta") keeps the first expiry of a counter that went
# back to zero (a throttle giving an attempt back), as the memory backend does.
_INCR = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


class RedisBackend:
    """Values in Redis: shared by every process and machine of the site.

    Connections are made on first use, one pool for sync calls and one per
    event loop for async calls. After Redis restarts, the next call
    reconnects (the calls made while it is down raise
    :class:`redis.exceptions.ConnectionError`).

    Args:
        url: ``redis://host:port/db`` (``rediss://`` for TLS).
        socket_timeout: Seconds to wait for Redis before an operation fails.
        options: More keyword arguments for ``redis.Redis.from_url``.

    Example:
        >>> backend = RedisBackend("redis://127.0.0.1:6379/0")
    """

    def __init__(
        self, url: str, *, socket_timeout: float = 5.0, options: dict[str, Any] | None = None
    ) -> None:
        try:
            import redis  # noqa: F401
        except ImportError:  # pragma: no cover - redis is in carboy[redis]
            raise ConfigurationError(
                "the Redis cache backend needs the redis package: pip install 'carboy[redis]'"
            ) from None
        self.url = url
        self.options: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "health_check_interval": 30,
            **(options or {}),
        }
        self._sync: Any = None
        self._async: dict[asyncio.AbstractEventLoop, Any] = {}
        self._lock = threading.Lock()

    # -- clients ---------------------------------------------------------------
    def client(self) -> Any:
        """The sync ``redis.Redis`` client (made on first use)."""
        if self._sync is None:
            import redis

            with self._lock:
                if self._sync is None:
                    self._sync = redis.Redis.from_url(self.url, **self.options)
        return self._sync

    def aclient(self) -> Any:
        """The ``redis.asyncio.Redis`` client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            import redis.asyncio

            for stale in [lp for lp in self._async if lp.is_closed()]:
                del self._async[stale]
            client = self._async[loop] = redis.asyncio.Redis.from_url(self.url, **self.options)
        return client

    # -- sync -------------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """See :meth:`CacheBackend.get`."""
        value: bytes | None = self.client().get(key)
        return value

    def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :meth:`CacheBackend.set`."""
        self.client().set(key, value, px=_milliseconds(ttl))

    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """See :meth:`CacheBackend.add`."""
        return bool(self.client().set(key, value, px=_milliseconds(ttl), nx=True))

    def delete(self, key: str) -> bool:
        """See :meth:`CacheBackend.delete`."""
        return bool(self.client().delete(key))

    def incr(self, key: str, delta: int, ttl: float | None) -> int:
        """See :meth:`CacheBackend.incr`."""
        try:
            return int(self.client().eval(_INCR, 1, key, delta, _milliseconds(ttl) or ""))
        except Exception as exc:
            _raise_not_int(key, exc)
            raise

    def clear(self, prefix: str) -> None:
        """See :meth:`CacheBackend.clear`."""
        client = self.client()
        batch: list[bytes] = []
        for key in client.scan_iter(match=_glob(prefix) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)

    # -- async ------------------------------------------------------------------
    async def aget(self, key: str) -> bytes | None:
        """See :meth:`CacheBackend.get`."""
        value: bytes | None = await self.aclient().get(key)
        return value

    async def aset(self, key: str, value: bytes, ttl: float | None) -> None:
        """See :meth:`CacheBackend.set`."""
        await self.aclient().set(key, value, px=_milliseconds(ttl))

    async def aadd(self, key: str, value: bytes, ttl: float | None) -> bool:
        """See :meth:`CacheBackend.add`."""
        return bool(await self.aclient().set(key, value, px=_milliseconds(ttl), nx=True))

    async def adelete(self, key: str) -> bool:
        """See :meth:`CacheBackend.delete`."""
        return bool(await self.aclient().delete(key))

    async def aincr(self, key: str, delta: int, ttl: float | None) -> int:
        """See :meth:`CacheBackend.incr`."""
        try:
            return int(await self.aclient().eval(_INCR, 1, key, delta, _milliseconds(ttl) or ""))
        except Exception as exc:
            _raise_not_int(key, exc)
            raise

    async def aclear(self, prefix: str) -> None:
        """See :meth:`CacheBackend.clear`."""
        client = self.aclient()
        batch: list[bytes] = []
        async for key in client.scan_iter(match=_glob(prefix) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await client.delete(*batch)
                batch.clear()
        if batch:
            await client.delete(*batch)

    async def aclose(self) -> None:
        """Close the connection pools."""
        clients, self._async = self._async, {}
        for loop, client in clients.items():
            if loop is asyncio.get_running_loop():
                await client.aclose()
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def __repr__(self) -> str:
        return f"RedisBackend({_without_password(self.url)!r})"


def _raise_not_int(key: str, exc: Exception) -> None:
    import redis.exceptions

    if isinstance(exc, redis.exceptions.ResponseError) and "not an integer" in str(exc):
        raise TypeError(f"cache key {key!r} does not hold an integer, cannot incr() it") from exc


def _glob(prefix: str) -> str:
    """``prefix`` with Redis glob characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***' if user else '***'}@{host}"
