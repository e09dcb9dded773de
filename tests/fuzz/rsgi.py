"""The fuzz suite over RSGI: the app's ``__rsgi__`` driven as granian would, seen as ASGI.

:func:`over_rsgi` wraps an app so that :func:`tests.fuzz.asgi.call_http` and
``call_websocket`` (and their checks) drive ``app.__rsgi__`` through the test
client's in-process RSGI server (``carboy.testing._rsgi``) instead of the ASGI
callable. An exception out of ``__rsgi__`` propagates, as it would crash a
request under granian.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from carboy.testing._protocol import DONE, ERROR
from carboy.testing._rsgi import RSGICall
from carboy.types import ASGIApp, Message, Receive, Scope, Send

_DISCONNECTS = ("http.disconnect", "websocket.disconnect")


class _Call(RSGICall):
    """An RSGI call that reads the client only when the app asks, as a server would."""

    def __init__(self, app: Any, scope: Scope, receive: Receive) -> None:
        super().__init__(app, scope, [])
        self._upstream = receive

    async def _receive(self) -> Message:
        if self.inbox.empty():
            message = await self._upstream()
            if message["type"] not in _DISCONNECTS:
                return message
            self.disconnect(message)  # the client has gone: every later read says so
        return await super()._receive()


def over_rsgi(app: Any) -> ASGIApp:
    """An ASGI callable that runs each call through ``app.__rsgi__``."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        call = _Call(app, scope, receive)
        events: asyncio.Queue[Message] = asyncio.Queue()
        call.emit = events.put_nowait
        running = asyncio.create_task(call.run())
        try:
            while True:
                event = await events.get()
                if event["type"] == DONE:
                    return
                if event["type"] == ERROR:
                    raise event["exception"]
                await send(event)
        except BaseException:
            running.cancel()  # a check failed: stop the app rather than wait for it
            raise
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await running

    return asgi
