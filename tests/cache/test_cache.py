"""The Cache facade: values, versions, counters, stampede protection, the decorator, the app."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from pathlib import Path

import pytest

from carboy import Carboy
from carboy.cache import Cache, Caching, MemoryBackend, RedisBackend, backend_from_url
from carboy.exceptions import ConfigurationError
from carboy.settings import Settings
from carboy.testing import TestClient


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_values_round_trip_with_their_type(cache: Cache) -> None:
    for value in ("text", 3, 2.5, None, [1, {"a": (2, 3)}], Point(1, 2), b"\x00raw"):
        cache.set("k", value, ttl=60)
        assert cache.get("k", default="missing") == value
    assert cache.get("absent", default="missing") == "missing"


def test_a_cached_none_is_not_a_miss(cache: Cache) -> None:
    cache.set("k", None)
    assert cache.get("k", default="missing") is None


def test_default_ttl_and_none_and_zero(backend: MemoryBackend | RedisBackend) -> None:
    cache = Cache(backend=backend, key_prefix="ttl", default_ttl=0.05)
    cache.set("short", 1)
    cache.set("forever", 2, ttl=None)
    cache.set("k", 3)
    cache.set("k", 4, ttl=0)  # zero: not stored, and the old value is gone
    time.sleep(0.1)
    assert (cache.get("short"), cache.get("forever"), cache.get("k")) == (None, 2, None)


def test_bad_ttl_and_key_are_type_errors(cache: Cache) -> None:
    with pytest.raises(TypeError, match="ttl"):
        cache.set("k", 1, ttl="60")  # type: ignore[arg-type]  # the mistake under test
    with pytest.raises(TypeError, match="strings"):
        cache.get(3)  # type: ignore[arg-type]  # the mistake under test


def test_add_delete_incr(cache: Cache) -> None:
    assert cache.add("k", 1) is True
    assert cache.add("k", 2) is False
    assert cache.delete("k") is True
    assert cache.incr("hits") == 1
    assert cache.incr("hits", 10) == 11


def test_keys_are_prefixed_and_versioned(backend: MemoryBackend | RedisBackend) -> None:
    one = Cache(backend=backend, key_prefix="one")
    two = Cache(backend=backend, key_prefix="two", version=2)
    one.set("k", "a")
    two.set("k", "b")
    assert (one.get("k"), two.get("k")) == ("a", "b")
    assert one.make_key("k") == "one:1:k"
    assert two.get("k", version=1) is None
    assert backend.get("two:2:k") is not None


def test_bumping_the_version_retires_old_values(backend: MemoryBackend | RedisBackend) -> None:
    Cache(backend=backend, key_prefix="v", version=1).set("k", "old")
    assert Cache(backend=backend, key_prefix="v", version=2).get("k") is None


def test_incr_version_moves_the_value(cache: Cache) -> None:
    cache.set("k", "v")
    assert cache.incr_version("k") == 2
    assert cache.get("k") is None
    assert cache.get("k", version=2) == "v"
    with pytest.raises(KeyError):
        cache.incr_version("absent")


def test_clear_only_touches_its_prefix(backend: MemoryBackend | RedisBackend) -> None:
    mine, theirs = Cache(backend=backend, key_prefix="mine"), Cache(backend=backend, key_prefix="x")
    mine.set("a", 1)
    mine.set("b", 1, version=7)
    theirs.set("a", 1)
    mine.clear()
    assert (mine.get("a"), mine.get("b", version=7), theirs.get("a")) == (None, None, 1)


def test_prefix_without_colon() -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        Cache(key_prefix="a:b")


def test_url_or_backend_not_both() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        Cache("memory://", backend=MemoryBackend())


def test_backend_from_url(redis_url: str) -> None:
    assert isinstance(backend_from_url("memory://"), MemoryBackend)
    assert isinstance(backend_from_url(redis_url), RedisBackend)
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        backend_from_url("memcached://localhost")


def test_a_value_that_cannot_be_loaded_is_a_logged_miss(
    cache: Cache, caplog: pytest.LogCaptureFixture
) -> None:
    cache.backend.set(cache.make_key("k"), b"not a pickle", None)
    with caplog.at_level(logging.WARNING, logger="carboy.cache"):
        assert cache.get("k", default="missing") == "missing"
    assert "cannot load" in caplog.text


def test_get_or_set(cache: Cache) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 42

    assert cache.get_or_set("k", compute, ttl=60) == 42
    assert cache.get_or_set("k", compute, ttl=60) == 42
    assert calls == [1]
    assert cache.get_or_set("plain", "value") == "value"
    assert cache.get("plain") == "value"


def test_get_or_set_computes_once_under_a_stampede(cache: Cache) -> None:
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "done"

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_set("hot", slow, ttl=60)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["done"] * 8
    assert calls == [1]


def test_a_failed_recompute_releases_the_lock(cache: Cache) -> None:
    def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get_or_set("k", broken)
    assert cache.get_or_set("k", lambda: 1) == 1  # no one waits for a dead lock


def test_waiters_compute_after_the_lock_times_out(cache: Cache) -> None:
    cache.lock_timeout = 0.1
    cache.backend.add(cache.make_key("k") + ":lock", b"someone else", 0.1)  # a crashed holder
    started = time.monotonic()
    assert cache.get_or_set("k", lambda: "mine") == "mine"
    assert 0.05 < time.monotonic() - started < 2


@pytest.mark.anyio
async def test_async_api(acache: Cache) -> None:
    await acache.aset("k", {"a": 1}, ttl=60)
    assert await acache.aget("k") == {"a": 1}
    assert await acache.aadd("k", 2) is False
    assert await acache.aincr("n", 3) == 3
    assert await acache.adelete("k") is True
    await acache.aset("gone", 1, ttl=0)
    assert await acache.aget("gone", default="missing") == "missing"
    await acache.aset("x", 1)
    await acache.aclear()
    assert await acache.aget("x") is None


@pytest.mark.anyio
async def test_aget_or_set_with_async_and_sync_defaults(acache: Cache) -> None:
    async def compute() -> int:
        return 7

    assert await acache.aget_or_set("a", compute) == 7
    assert await acache.aget_or_set("a", lambda: 8) == 7
    assert await acache.aget_or_set("b", lambda: 8) == 8
    assert await acache.aget_or_set("c", "plain") == "plain"


@pytest.mark.anyio
async def test_aget_or_set_computes_once_under_a_stampede(acache: Cache) -> None:
    calls: list[int] = []

    async def slow() -> str:
        calls.append(1)
        await asyncio.sleep(0.2)
        return "done"

    results = await asyncio.gather(*(acache.aget_or_set("hot", slow, ttl=60) for _ in range(20)))
    assert results == ["done"] * 20
    assert calls == [1]


@pytest.mark.anyio
async def test_stampede_protection_holds_across_processes(redis_url: str) -> None:
    # Two caches with their own connections stand for two processes on one Redis.
    first = Cache(backend=RedisBackend(redis_url), key_prefix="shared")
    second = Cache(backend=RedisBackend(redis_url), key_prefix="shared")
    await first.adelete("hot")
    calls: list[str] = []

    async def slow(who: str) -> str:
        calls.append(who)
        await asyncio.sleep(0.2)
        return who

    a, b = await asyncio.gather(
        first.aget_or_set("hot", lambda: slow("first")),
        second.aget_or_set("hot", lambda: slow("second")),
    )
    assert a == b and len(calls) == 1
    await first.aclose()
    await second.aclose()


def test_cached_decorator_sync(cache: Cache) -> None:
    calls: list[tuple[int, int]] = []

    @cache.cached(ttl=60)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    assert (add(1, 2), add(1, 2), add(1, b=3), add(1, b=3)) == (3, 3, 4, 4)
    assert calls == [(1, 2), (1, 3)]
    assert add.__name__ == "add"


@pytest.mark.anyio
async def test_cached_decorator_async_with_a_key(acache: Cache) -> None:
    calls: list[str] = []

    @acache.cached(ttl=60, key=lambda user_id: f"user:{user_id}")
    async def profile(user_id: int) -> dict[str, int]:
        calls.append("x")
        return {"id": user_id}

    assert await profile(3) == {"id": 3}
    assert await profile(3) == {"id": 3}
    assert calls == ["x"]
    name = f"{__name__}.test_cached_decorator_async_with_a_key.<locals>.profile"
    assert await acache.aget(f"fn:{name}:user:3") == {"id": 3}


def test_installed_and_injected(tmp_path: Path) -> None:
    caching = Caching()
    cache = caching.cache
    app = Carboy(debug=True, root=tmp_path)
    app.install(caching)

    @app.get("/count")
    async def count(c: Cache) -> dict[str, int]:
        return {"n": await c.aincr("visits")}

    @app.get("/sync")
    def sync_count(c: Cache) -> dict[str, int]:
        return {"n": c.incr("visits")}

    with TestClient(app) as client:
        assert client.get("/count").json() == {"n": 1}
        assert client.get("/sync").json() == {"n": 2}
    assert isinstance(cache.backend, MemoryBackend)
    assert "MemoryBackend" in repr(cache)
    assert caching.shell_context() == {"cache": cache}
    assert repr(Cache()) == "Cache('memory://', key_prefix='carboy')"


def test_cache_url_setting(tmp_path: Path, redis_url: str) -> None:
    """settings.cache_url picks the backend of a Cache() given no URL."""
    for url, kind in (("memory://", MemoryBackend), (redis_url, RedisBackend)):
        app = Carboy(Settings(debug=True, cache_url=url), root=tmp_path)
        caching = Caching()
        app.install(caching)
        app.build()
        assert isinstance(caching.cache.backend, kind)
    explicit = Cache("memory://")
    app = Carboy(Settings(debug=True, cache_url=redis_url), root=tmp_path)
    app.install(Caching(explicit))
    app.build()
    assert isinstance(explicit.backend, MemoryBackend)  # an explicit URL wins
