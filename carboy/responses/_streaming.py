"""Responses whose body is produced over time: streams and server-sent events."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from carboy import _json
from carboy.concurrency import run_sync
from carboy.responses._base import Response
from carboy.types import Receive, Scope, Send

Content = AsyncIterable[bytes | str] | Iterable[bytes | str]


async def _aiter(content: Content) -> Any:
    if isinstance(content, AsyncIterable):
        async for chunk in content:
            yield chunk
    else:
        iterator = iter(content)
        while (chunk := await run_sync(_next, iterator)) is not _END:
            yield chunk


#: What ``_next`` gives at the end (StopIteration cannot cross a thread-pool future).
_END: Any = object()


def _next(iterator: Iterator[Any]) -> Any:
    return next(iterator, _END)


class StreamingResponse(Response):
    """A body sent chunk by chunk from an (async) iterable; stops if the client leaves.

    Sync iterables are advanced in the thread pool so they never block the loop.

    Example:
        >>> async def numbers():
        ...     for i in range(3):
        ...         yield f"{i}\\n"
        >>> StreamingResponse(numbers(), media_type="text/plain")
    """

    def __init__(
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.content = content
        super().__init__(None, status_code, headers, media_type)
        self.raw_headers[:] = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    def encode_chunk(self, chunk: Any) -> bytes:
        """Bytes for one item of the iterable."""
        return chunk if isinstance(chunk, bytes) else str(chunk).encode(self.charset)

    async def _stream(self, send: Send) -> None:
        async for chunk in _aiter(self.content):
            await send(
                {"type": "http.response.body", "body": self.encode_chunk(chunk), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_disconnect(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self._final_headers(scope),
            }
        )
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        stream = asyncio.ensure_future(self._stream(send))
        watcher = asyncio.ensure_future(self._watch_disconnect(receive))
        try:
            done, _ = await asyncio.wait({stream, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, watcher):
                if not task.done():
                    task.cancel()
            await asyncio.gather(stream, watcher, return_exceptions=True)
        if stream in done and stream.exception() is not None:
            raise stream.exception()  # type: ignore[misc]


@dataclass(slots=True)
class ServerSentEvent:
    """One server-sent event. ``data`` that is not a string is sent as JSON."""

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def encode(self) -> bytes:
        """The event in ``text/event-stream`` framing."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(f": {line}" for line in _lines(self.comment))
        if self.id is not None:
            lines.append(f"id: {_one_line(self.id)}")
        if self.event is not None:
            lines.append(f"event: {_one_line(self.event)}")
        if self.retry is not None:
            lines.append(f"retry: {int(self.retry)}")
        if self.data is not None:
            text = self.data if isinstance(self.data, str) else _json.dumps(self.data).decode()
            lines.extend(f"data: {line}" for line in _lines(text))
        return ("\n".join(lines) + "\n\n").encode("utf-8")


#: The line ends of text/event-stream; str.splitlines() knows more (\u2028, \x0c...)
#: and would cut data the browser keeps whole, and drops a trailing empty line.
_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> list[str]:
    return _LINE_END.split(text)


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


class EventSourceResponse(StreamingResponse):
    """Server-sent events from an (async) iterable of events, strings or JSON-able values.

    A comment is sent every ``ping`` seconds so proxies keep the connection open.

    Example:
        >>> async def ticks():
        ...     for i in range(3):
        ...         yield ServerSentEvent({"n": i}, event="tick")
        >>> EventSourceResponse(ticks())
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: Content | AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        ping: float | None = 15.0,
    ) -> None:
        super().__init__(content, status_code, headers)
        self.ping = ping
        self.headers.setdefault("cache-control", "no-store")
        self.headers.setdefault("x-accel-buffering", "no")

    def encode_chunk(self, chunk: Any) -> bytes:
        """Frame one item as an event."""
        if isinstance(chunk, ServerSentEvent):
            return chunk.encode()
        if isinstance(chunk, bytes):
            return chunk
        return ServerSentEvent(data=chunk).encode()

    async def _stream(self, send: Send) -> None:
        if not self.ping:
            await super()._stream(send)
            return
        iterator = _aiter(self.content).__aiter__()
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=self.ping)
                if not done:
                    await send(
                        {"type": "http.response.body", "body": b": ping\n\n", "more_body": True}
                    )
                    continue
                try:
                    chunk = pending.result()
                except StopAsyncIteration:
                    break
                finally:
                    if done:
                        pending = None
                await send(
                    {
                        "type": "http.response.body",
                        "body": self.encode_chunk(chunk),
                        "more_body": True,
                    }
                )
        finally:
            if pending is not None:
                pending.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})
