"""Channels over real Redis: across hubs with their own connections, and after losing Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from carboy import Carboy
from carboy.channels import Channels, RedisChannels
from carboy.testing import AsyncTestClient

URL = "redis://127.0.0.1:6379/13"


def _redis_up() -> bool:
    import redis

    try:
        redis.Redis.from_url(URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return False
    return True


@pytest.fixture
def prefix() -> str:
    if not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return f"t{uuid.uuid4().hex[:8]}:"


async def _running(tmp_path: Path, prefix: str) -> AsyncIterator[Channels]:
    channels = Channels(backend=RedisChannels(URL, prefix=prefix, max_backoff=0.2))
    app = Carboy(debug=True, root=tmp_path)
    app.install(channels)
    async with AsyncTestClient(app):
        backend = channels.backend
        assert isinstance(backend, RedisChannels)
        await asyncio.wait_for(backend.wait_ready(), 5)
        yield channels


@pytest.fixture
async def one(tmp_path: Path, prefix: str) -> AsyncIterator[Channels]:
    async for channels in _running(tmp_path / "one", prefix):
        yield channels


@pytest.fixture
async def two(tmp_path: Path, prefix: str) -> AsyncIterator[Channels]:
    async for channels in _running(tmp_path / "two", prefix):
        yield channels


async def _listening(channels: Channels, group: str) -> None:
    # SUBSCRIBE is asynchronous: wait until Redis counts our subscriber.
    backend = channels.backend
    assert isinstance(backend, RedisChannels)
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(URL)
    try:
        for _ in range(500):
            counts = dict(await client.pubsub_numsub(backend.prefix + group))
            if counts.get((backend.prefix + group).encode(), 0) >= 1:
                return
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()
    raise AssertionError(f"{group} never subscribed")


@pytest.mark.anyio
async def test_a_message_published_by_one_hub_reaches_the_other(
    one: Channels, two: Channels
) -> None:
    async with two.subscribe("post:1") as sub:
        await _listening(two, "post:1")
        await one.apublish("post:1", {"text": "from one"})
        message = await asyncio.wait_for(sub.get(), 5)
    assert (message.group, message.data) == ("post:1", {"text": "from one"})


@pytest.mark.anyio
async def test_sync_publish_from_a_thread(one: Channels, two: Channels) -> None:
    async with two.subscribe("post:2") as sub:
        await _listening(two, "post:2")
        await asyncio.to_thread(one.publish, "post:2", [1, 2])
        assert (await asyncio.wait_for(sub.get(), 5)).data == [1, 2]


@pytest.mark.anyio
async def test_the_listener_comes_back_after_losing_redis(
    one: Channels, two: Channels, caplog: pytest.LogCaptureFixture
) -> None:
    import redis.asyncio

    backend = two.backend
    assert isinstance(backend, RedisChannels)
    with caplog.at_level(logging.WARNING, logger="carboy.channels"):
        async with two.subscribe("post:3") as sub:
            await _listening(two, "post:3")
            admin = redis.asyncio.Redis.from_url(URL)
            try:
                # Cut every pub/sub connection, as a Redis restart would.
                await admin.client_kill_filter(_type="pubsub")
            finally:
                await admin.aclose()
            for _ in range(500):
                if backend.reconnects:
                    break
                await asyncio.sleep(0.01)
            assert backend.reconnects >= 1
            await _listening(two, "post:3")
            await one.apublish("post:3", "after")
            assert (await asyncio.wait_for(sub.get(), 5)).data == "after"
    assert "lost Redis" in caplog.text and "reconnected" in caplog.text


def test_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(RedisChannels("redis://app:hunter2@cache:6379/0"))
