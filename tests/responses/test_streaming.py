"""Tests for carboy.responses._streaming: streams, server-sent events, disconnects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from carboy import Carboy
from carboy.responses import EventSourceResponse, ServerSentEvent, StreamingResponse
from carboy.testing import TestClient
from carboy.types import Message, Scope


def scope(method: str = "GET") -> Scope:
    return {"type": "http", "method": method, "scheme": "http", "headers": [], "path": "/"}


class Recorder:
    """send() that records messages; receive() that waits until told the client left."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


@pytest.mark.anyio
async def test_async_iterable_of_bytes_and_str() -> None:
    async def gen() -> AsyncIterator[bytes | str]:
        yield b"a"
        yield "é"

    rec = Recorder()
    response = StreamingResponse(gen(), media_type="text/plain", headers={"X-A": "1"})
    await response(scope(), rec.receive, rec.send)
    start = rec.sent[0]
    assert start["status"] == 200
    assert start["headers"] == [(b"x-a", b"1"), (b"content-type", b"text/plain; charset=utf-8")]
    assert [m["body"] for m in rec.sent[1:]] == [b"a", "é".encode(), b""]
    assert [m["more_body"] for m in rec.sent[1:]] == [True, True, False]


@pytest.mark.anyio
async def test_sync_iterable_runs_in_a_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def gen() -> Iterator[str]:
        for chunk in ("x", "y"):
            threads.append(threading.get_ident())
            yield chunk

    rec = Recorder()
    await StreamingResponse(gen())(scope(), rec.receive, rec.send)
    assert rec.body == b"xy"
    assert threads and loop_thread not in threads


@pytest.mark.anyio
async def test_head_streams_nothing() -> None:
    consumed: list[str] = []

    async def gen() -> AsyncIterator[str]:
        consumed.append("x")  # pragma: no cover
        yield "x"  # pragma: no cover

    rec = Recorder()
    await StreamingResponse(gen())(scope("HEAD"), rec.receive, rec.send)
    assert rec.body == b""
    assert consumed == []


@pytest.mark.anyio
async def test_client_disconnect_stops_the_stream() -> None:
    produced = 0
    closed = asyncio.Event()
    rec = Recorder()

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        try:
            while True:
                produced += 1
                if produced == 5:
                    rec.gone.set()  # the client leaves after five chunks
                yield b"tick\n"
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    await asyncio.wait_for(StreamingResponse(endless())(scope(), rec.receive, rec.send), 5)
    assert closed.is_set()
    count = produced
    await asyncio.sleep(0.02)
    assert produced == count  # nothing runs after the disconnect
    assert 5 <= count < 1000


@pytest.mark.anyio
async def test_an_error_in_the_stream_is_raised() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"ok"
        raise RuntimeError("mid-stream")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="mid-stream"):
        await StreamingResponse(broken())(scope(), rec.receive, rec.send)
    assert rec.sent[1]["body"] == b"ok"


def test_streaming_through_the_app() -> None:
    app = Carboy(debug=True)

    @app.get("/s")
    async def stream() -> StreamingResponse:
        def numbers() -> Iterator[str]:
            for i in range(3):
                yield f"{i}\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    with TestClient(app) as client:
        response = client.get("/s")
        assert response.text == "0\n1\n2\n"
        assert "content-length" not in response.headers
        assert response.headers["x-frame-options"] == "DENY"
        head = client.head("/s")
        assert head.content == b""


# -- server-sent events ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (ServerSentEvent("hello"), "data: hello\n\n"),
        (ServerSentEvent("a\nb\r\nc\rd"), "data: a\ndata: b\ndata: c\ndata: d\n\n"),
        (ServerSentEvent("ends with newline\n"), "data: ends with newline\ndata: \n\n"),
        (ServerSentEvent(""), "data: \n\n"),
        (ServerSentEvent("keep\u2028this\x0cwhole"), "data: keep\u2028this\x0cwhole\n\n"),
        (ServerSentEvent({"n": 1, "s": "é"}), 'data: {"n":1,"s":"é"}\n\n'),
        (ServerSentEvent([1, 2], event="list"), "event: list\ndata: [1,2]\n\n"),
        (
            ServerSentEvent("x", event="up\ndate", id="4\r2", retry=1500),
            "id: 4 2\nevent: up date\nretry: 1500\ndata: x\n\n",
        ),
        (ServerSentEvent(comment="keep-alive"), ": keep-alive\n\n"),
        (ServerSentEvent(comment="two\nlines", data="d"), ": two\n: lines\ndata: d\n\n"),
        (ServerSentEvent(id=""), "id: \n\n"),
    ],
)
def test_event_framing(event: ServerSentEvent, wire: str) -> None:
    assert event.encode() == wire.encode()


@pytest.mark.anyio
async def test_event_source_response_frames_each_item() -> None:
    async def events() -> AsyncIterator[Any]:
        yield ServerSentEvent({"n": 1}, event="tick", id="1")
        yield "plain text"
        yield {"json": True}
        yield b"data: raw\n\n"

    rec = Recorder()
    response = EventSourceResponse(events(), ping=None)
    await response(scope(), rec.receive, rec.send)
    headers = dict(rec.sent[0]["headers"])
    assert headers[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"x-accel-buffering"] == b"no"
    assert rec.body == (
        b'id: 1\nevent: tick\ndata: {"n":1}\n\n'
        b"data: plain text\n\n"
        b'data: {"json":true}\n\n'
        b"data: raw\n\n"
    )


@pytest.mark.anyio
async def test_pings_while_the_source_is_quiet() -> None:
    async def slow() -> AsyncIterator[str]:
        await asyncio.sleep(0.2)
        yield "late"

    rec = Recorder()
    await EventSourceResponse(slow(), ping=0.03)(scope(), rec.receive, rec.send)
    body = rec.body.decode()
    assert body.endswith("data: late\n\n")
    pings = body.count(": ping\n\n")
    assert 2 <= pings <= 7
    assert body == ": ping\n\n" * pings + "data: late\n\n"


@pytest.mark.anyio
async def test_sync_event_source_with_pings() -> None:
    rec = Recorder()
    await EventSourceResponse(iter(["a", "b"]), ping=5)(scope(), rec.receive, rec.send)
    assert rec.body == b"data: a\n\ndata: b\n\n"


@pytest.mark.anyio
async def test_event_source_error_is_raised() -> None:
    async def broken() -> AsyncIterator[str]:
        yield "one"
        raise ValueError("source failed")

    rec = Recorder()
    with pytest.raises(ValueError, match="source failed"):
        await EventSourceResponse(broken(), ping=1)(scope(), rec.receive, rec.send)
    assert rec.body == b"data: one\n\n"


@pytest.mark.anyio
async def test_disconnect_stops_an_event_source() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    rec = Recorder()
    task = asyncio.ensure_future(
        EventSourceResponse(endless(), ping=1)(scope(), rec.receive, rec.send)
    )
    await asyncio.sleep(0.02)
    rec.gone.set()
    await asyncio.wait_for(task, 5)
    await asyncio.wait_for(closed.wait(), 5)
