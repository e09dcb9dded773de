"""Fixtures for the cache tests: each backend, Redis for real."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from carboy.cache import Cache, CacheBackend, MemoryBackend, RedisBackend

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return False
    return True


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database for tests (db 15), or a skip (a failure under CI) when none runs."""
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[CacheBackend]:
    """Each backend in turn: memory, then real Redis."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    backend = RedisBackend(request.getfixturevalue("redis_url"))
    yield backend
    backend.client().flushdb()
    backend.client().close()


@pytest.fixture
def cache(backend: CacheBackend) -> Cache:
    """A cache on each backend with a key prefix of its own."""
    return Cache(backend=backend, key_prefix="t" + uuid.uuid4().hex[:8])


@pytest.fixture
async def acache(cache: Cache) -> AsyncIterator[Cache]:
    """:func:`cache` for async tests: its connections closed on the test's own loop."""
    yield cache
    await cache.aclose()
