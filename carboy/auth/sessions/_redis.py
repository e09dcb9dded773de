"""Sessions in Redis: shared by every process, expired by Redis itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carboy.auth.sessions._keys import digest, key_hash, new_key
from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from redis.asyncio import Redis


class RedisStore:
    """Keep sessions in Redis, each under ``<prefix><sha256 of its key>`` with a TTL.

    Redis expires them itself (``clearsessions`` has nothing to do), every
    process and machine on the same Redis shares them, and sign-out deletes
    them for good. Needs the ``redis`` package (``pip install carboy[redis]``).

    Args:
        url: The Redis URL (``redis://host:6379/0``, ``rediss://`` for TLS);
            or give ``client`` instead.
        client: A ``redis.asyncio.Redis`` of your own (its connection pool is
            then yours to close).
        prefix: Put in front of every key, so several apps can share one Redis.

    Raises:
        ConfigurationError: Neither or both of ``url`` and ``client``, or the
            ``redis`` package is missing.

    Example:
        >>> store = RedisStore("redis://localhost:6379/0", prefix="shop:session:")
        >>> app.install(Auth(sessions=SessionConfig(store=store)))
    """

    server_side = True

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "carboy:session:",
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("RedisStore: give a url or a client (one of them)")
        try:
            import redis.asyncio  # noqa: F401
        except ImportError:  # pragma: no cover - redis is in the dev extra
            raise ConfigurationError(
                "RedisStore needs the redis package: pip install 'carboy[redis]'"
            ) from None
        self.url = url
        self.prefix = prefix
        self._given = client
        self._client: Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _redis(self) -> Redis:
        """The client: one per event loop when it is ours (a pool belongs to its loop)."""
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            from redis.asyncio import Redis

            self._client = Redis.from_url(str(self.url))
            self._loop = loop
        return self._client

    async def load(self, key: str) -> dict[str, Any] | None:
        """The data under ``key``; None when unknown, expired or unreadable."""
        stored = key_hash(key)
        if stored is None:
            return None
        text = await self._redis().get(self.prefix + stored)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        """Store ``data`` for ``max_age`` seconds; a new key unless ``key`` is still held."""
        redis = self._redis()
        text = json.dumps(dict(data))
        stored = key_hash(key) if key is not None else None
        if key is not None and stored is not None:
            # XX: only if it is still there, so a deleted session is never revived.
            held = await redis.set(self.prefix + stored, text, ex=max_age, xx=True)
            if held:
                return key
        key = new_key()
        await redis.set(self.prefix + digest(key), text, ex=max_age)
        return key

    async def delete(self, key: str) -> None:
        """Delete ``key``."""
        stored = key_hash(key)
        if stored is not None:
            await self._redis().delete(self.prefix + stored)

    async def clear_expired(self) -> int:
        """Nothing to do: Redis expires sessions by their TTL."""
        return 0

    async def ping(self) -> None:
        """Raise unless Redis answers (``/readyz`` asks, through the auth battery)."""
        await self._redis().ping()

    async def aclose(self) -> None:
        """Close the connection pool (when the store made it); the app's shutdown does."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"
