"""Channels: groups, publish from handlers, WebSocket and SSE subscribers, slow ones dropped."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from carboy import Carboy
from carboy.channels import (
    SLOW_CONSUMER,
    Channels,
    MemoryChannels,
    RedisChannels,
    SlowSubscriber,
    backend_from_url,
    check_group,
)
from carboy.exceptions import ConfigurationError, WebSocketDisconnect
from carboy.settings import Settings
from carboy.testing import AsyncTestClient, TestClient
from carboy.websockets import WebSocket


def _app(tmp_path: Path, channels: Channels) -> Carboy:
    app = Carboy(debug=True, root=tmp_path)
    app.install(channels)

    @app.websocket("/live/{room}")
    async def live(ws: WebSocket, room: str) -> None:
        await channels.stream_websocket(ws, f"room:{room}")

    @app.post("/say/{room}")
    async def say(room: str, text: str) -> dict[str, int]:
        await channels.apublish(f"room:{room}", {"text": text})
        return {"listeners": channels.subscribers(f"room:{room}")}

    @app.post("/flood/{room}")
    async def flood(room: str, count: int) -> None:
        # Nothing here suspends: every message is offered before the socket's sender runs.
        for n in range(count):
            await channels.apublish(f"room:{room}", {"n": n})

    @app.post("/sync/{room}")
    def sync_publish(room: str, count: int) -> None:  # a def handler uses the sync twin
        for n in range(count):
            channels.publish(f"room:{room}", {"n": n})

    return app


def _wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_a_websocket_subscriber_receives_what_a_handler_publishes(tmp_path: Path) -> None:
    channels = Channels()
    with TestClient(_app(tmp_path, channels)) as client, client.websocket_connect("/live/a") as ws:
        _wait_until(lambda: channels.subscribers("room:a") == 1)
        assert client.post("/say/a?text=hello").json() == {"listeners": 1}
        assert ws.receive_json() == {"group": "room:a", "data": {"text": "hello"}}
        client.post("/say/b?text=elsewhere")  # another group: not delivered here
        client.post("/sync/a?count=2")
        assert ws.receive_json()["data"] == {"n": 0}
        assert ws.receive_json()["data"] == {"n": 1}
    _wait_until(lambda: channels.subscribers("room:a") == 0)


def test_published_datetimes_and_models_read_like_a_response(tmp_path: Path) -> None:
    class Note(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
        sent_at: dt.datetime

    channels = Channels()
    app = _app(tmp_path, channels)

    @app.post("/note/{room}")
    async def note(room: str) -> None:
        at = dt.datetime(2024, 1, 1)
        await channels.apublish(f"room:{room}", {"at": at, "note": Note(sent_at=at)})

    with TestClient(app) as client, client.websocket_connect("/live/a") as ws:
        _wait_until(lambda: channels.subscribers("room:a") == 1)
        client.post("/note/a")
        z = "2024-01-01T00:00:00.000000Z"
        assert ws.receive_json()["data"] == {"at": z, "note": {"sentAt": z}}


def test_a_slow_websocket_subscriber_is_dropped_with_a_close_code(tmp_path: Path) -> None:
    channels = Channels(max_pending=5)
    with TestClient(_app(tmp_path, channels)) as client, client.websocket_connect("/live/a") as ws:
        _wait_until(lambda: channels.subscribers("room:a") == 1)
        client.post("/flood/a?count=50")  # all offered before the sender runs once
        received: list[Any] = []

        def read_all() -> None:
            while True:
                received.append(ws.receive_json())

        with pytest.raises(WebSocketDisconnect) as closed:
            read_all()
        assert closed.value.code == SLOW_CONSUMER
        assert len(received) <= 6  # the queue's five, and the one already being sent
    assert channels.subscribers("room:a") == 0


@pytest.mark.anyio
async def test_subscriptions_are_bounded_and_report_the_drop() -> None:
    channels = Channels(backend=MemoryChannels(), max_pending=3)
    await channels.backend.start(channels._deliver, lambda coro, **_: asyncio.ensure_future(coro))
    async with channels.subscribe("a", "b") as sub:
        await channels.apublish("a", 1)
        await channels.apublish("b", 2)
        assert (await sub.get()).data == 1
        assert (await sub.get()).group == "b"
        for n in range(10):
            await channels.apublish("a", n)
        assert sub.queue.qsize() <= 4  # memory stays bounded
        with pytest.raises(SlowSubscriber):
            async for _ in sub:
                pass
    assert channels.subscribers("a") == 0
    await channels.backend.close()


@pytest.mark.anyio
async def test_server_sent_events(tmp_path: Path) -> None:
    channels = Channels()
    app = Carboy(debug=True, root=tmp_path)
    app.install(channels)

    @app.get("/events")
    async def events() -> Any:
        return channels.event_stream("news", ping=None)

    async with AsyncTestClient(app) as client, client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for _ in range(500):
            if channels.subscribers("news"):
                break
            await asyncio.sleep(0.01)
        await channels.apublish("news", {"headline": "hi"})
        chunks = response.aiter_bytes()
        first = await anext(chunks)
    assert b"event: news" in first and b'"headline":"hi"' in first


def test_group_names_are_checked() -> None:
    assert check_group("post:12") == "post:12"
    for bad in ("", "a b", "x" * 201, "evil\nname"):
        with pytest.raises(ValueError, match="channel group"):
            check_group(bad)
    channels = Channels()
    with pytest.raises(ValueError):
        channels.publish("bad name", {})
    with pytest.raises(ValueError, match="at least one"):
        channels.subscribe()


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError):
        Channels(max_pending=0)
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        backend_from_url("nats://localhost")


def test_channels_url_setting(tmp_path: Path) -> None:
    for url, kind in (("memory://", MemoryChannels), ("redis://127.0.0.1:6379/0", RedisChannels)):
        app = Carboy(Settings(debug=True, channels_url=url), root=tmp_path)
        channels = Channels()
        app.install(channels)
        app.build()
        assert isinstance(channels.backend, kind)


def test_require_login_refuses_an_anonymous_handshake(tmp_path: Path) -> None:
    from carboy.identity import USER_KEY
    from carboy.testing import WebSocketDenied
    from carboy.types import ASGIApp, Receive, Scope, Send

    channels = Channels()
    app = Carboy(debug=True, root=tmp_path)
    app.install(channels)

    class Member:
        is_authenticated = True
        display_name = "ann"

    class FakeAuth:  # stands for the auth battery's middleware: a header means signed in
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if (b"x-member", b"ann") in scope.get("headers", []):
                scope[USER_KEY] = Member()
            await self.app(scope, receive, send)

    app.add_middleware(FakeAuth)

    @app.websocket("/private")
    async def private(ws: WebSocket) -> None:
        await channels.stream_websocket(ws, "secret", require_login=True)

    with TestClient(app) as client:
        with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/private"):
            pass
        assert denied.value.status_code == 403
        with client.websocket_connect("/private", headers={"X-Member": "ann"}) as ws:
            _wait_until(lambda: channels.subscribers("secret") == 1)
            client.post("/nothing")
            channels.publish("secret", "hi")
            assert ws.receive_json() == {"group": "secret", "data": "hi"}
