"""An app's lifespan driven outside a server: how a worker process runs start-up and shutdown."""

from __future__ import annotations

import asyncio
import atexit
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from carboy.app import Carboy

logger = logging.getLogger("carboy.tasks")


class Lifespan:
    """Runs an app's start-up in a worker process, and its shutdown when the process exits."""

    def __init__(self, app: Carboy, loop: asyncio.AbstractEventLoop) -> None:
        self.app, self.loop = app, loop
        self._messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _wait(self, expected: str) -> None:
        done: asyncio.Future[None] = self.loop.create_future()

        async def receive() -> dict[str, Any]:
            return await self._messages.get()

        async def send(message: Mapping[str, Any]) -> None:
            kind = message["type"]
            if kind.endswith(".failed") and not done.done():
                done.set_exception(RuntimeError(message.get("message", kind)))
            elif kind == expected and not done.done():
                done.set_result(None)

        if self._task is None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
            self._task = self.loop.create_task(self.app(scope, receive, send))
        await done

    def startup(self) -> None:
        self._messages.put_nowait({"type": "lifespan.startup"})
        self.loop.run_until_complete(self._wait("lifespan.startup.complete"))
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        if self.loop.is_closed() or self._task is None:
            return
        self._messages.put_nowait({"type": "lifespan.shutdown"})
        try:
            self.loop.run_until_complete(asyncio.wait_for(self._task, 30))
        except Exception:
            logger.exception("the app's shutdown in the worker failed")
