"""The backends, each against the same expectations (memory and real Redis)."""

from __future__ import annotations

import time

import pytest

from carboy.cache import CacheBackend, MemoryBackend, RedisBackend
from carboy.exceptions import ConfigurationError


def test_set_get_delete(backend: CacheBackend) -> None:
    assert backend.get("k") is None
    backend.set("k", b"v", None)
    assert backend.get("k") == b"v"
    assert backend.delete("k") is True
    assert backend.delete("k") is False
    assert backend.get("k") is None


def test_ttl_expires(backend: CacheBackend) -> None:
    backend.set("k", b"v", 0.05)
    assert backend.get("k") == b"v"
    time.sleep(0.1)
    assert backend.get("k") is None


def test_add_only_when_absent(backend: CacheBackend) -> None:
    assert backend.add("k", b"1", None) is True
    assert backend.add("k", b"2", None) is False
    assert backend.get("k") == b"1"


def test_add_after_expiry(backend: CacheBackend) -> None:
    assert backend.add("k", b"1", 0.05) is True
    time.sleep(0.1)
    assert backend.add("k", b"2", None) is True


def test_incr_counts_and_keeps_the_first_expiry(backend: CacheBackend) -> None:
    assert backend.incr("n", 1, 0.2) == 1
    assert backend.incr("n", 5, 10) == 6
    time.sleep(0.25)  # the window set by the first increment ends
    assert backend.get("n") is None
    assert backend.incr("n", 1, None) == 1


def test_incr_back_to_zero_keeps_the_first_expiry(backend: CacheBackend) -> None:
    # A throttle gives an attempt back (-1) and counts the next one: still the same window.
    assert backend.incr("n", 1, 0.3) == 1
    assert backend.incr("n", -1, 10) == 0
    assert backend.incr("n", 1, 10) == 1
    assert backend.incr("n", 0, 10) == 1  # delta 0 reads the counter
    time.sleep(0.35)
    assert backend.get("n") is None
    assert backend.incr("n", -1, 0.3) == -1  # made by a negative delta: that expiry holds
    time.sleep(0.35)
    assert backend.get("n") is None


def test_incr_of_a_non_integer_is_a_type_error(backend: CacheBackend) -> None:
    backend.set("k", b"text", None)
    with pytest.raises(TypeError, match="does not hold an integer"):
        backend.incr("k", 1, None)


def test_clear_removes_the_prefix_only(backend: CacheBackend) -> None:
    backend.set("a:1", b"x", None)
    backend.set("a:2", b"x", None)
    backend.set("a*", b"x", None)  # a glob character in the key is not a wildcard
    backend.set("b:1", b"x", None)
    backend.clear("a:")
    assert (backend.get("a:1"), backend.get("a:2")) == (None, None)
    assert backend.get("b:1") == b"x"
    assert backend.get("a*") == b"x"


@pytest.mark.anyio
async def test_async_twins(backend: CacheBackend) -> None:
    assert await backend.aget("k") is None
    await backend.aset("k", b"v", None)
    assert await backend.aget("k") == b"v"
    assert await backend.aadd("k", b"w", None) is False
    assert await backend.aincr("n", 2, None) == 2
    with pytest.raises(TypeError):
        await backend.aincr("k", 1, None)
    await backend.aclear("k")
    assert await backend.aget("k") is None
    assert await backend.adelete("n") is True
    await backend.aclose()


def test_memory_evicts_least_recently_used() -> None:
    backend = MemoryBackend(max_entries=2)
    backend.set("a", b"1", None)
    backend.set("b", b"2", None)
    backend.get("a")  # a is now the most recently used
    backend.set("c", b"3", None)
    assert (backend.get("a"), backend.get("b"), backend.get("c")) == (b"1", None, b"3")
    assert len(backend) == 2


def test_memory_needs_room_for_one() -> None:
    with pytest.raises(ConfigurationError):
        MemoryBackend(max_entries=0)


def test_redis_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(RedisBackend("redis://app:hunter2@cache:6379/0"))
    assert "***" in repr(RedisBackend("redis://:hunter2@cache:6379/0"))
    assert repr(RedisBackend("redis://cache:6379/0")) == "RedisBackend('redis://cache:6379/0')"


def test_redis_down_is_an_error_not_a_miss() -> None:
    import redis

    backend = RedisBackend("redis://127.0.0.1:1/0", socket_timeout=0.5)
    with pytest.raises(redis.exceptions.ConnectionError):
        backend.get("k")
