"""Background work owned by the app's lifespan: started while it runs, stopped before shutdown.

A battery that keeps something running beside the requests (a broadcast
listener, an in-process task worker, a cache janitor) spawns it on
``app.background``; the lifespan's shutdown then gives every task ``grace``
seconds to finish, cancels those still running, waits for them, and only
then runs the shutdown hooks (so a task never outlives the pool it uses).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

logger = logging.getLogger("carboy.error")


class Background:
    """The app's task group: ``app.background.spawn(coro)`` while the app runs.

    Tasks may be spawned from a start-up hook, a handler or another task,
    once the lifespan has started and until shutdown begins. A task that
    fails is logged and forgotten; it never takes the others or the app down.

    Args:
        grace: Seconds that shutdown waits for running tasks to finish on their
            own before it cancels them.

    Example:
        >>> @app.on_startup
        ... async def start_listener() -> None:
        ...     app.background.spawn(listen_for_broadcasts(), name="broadcast")
    """

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self._tasks: set[asyncio.Task[Any]] = set()
        self._daemons: set[asyncio.Task[Any]] = set()
        self._open = False

    @property
    def running(self) -> bool:
        """True between the lifespan's start-up and its shutdown."""
        return self._open

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """The tasks still running."""
        return frozenset(self._tasks)

    def spawn(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None, daemon: bool = False
    ) -> asyncio.Task[T]:
        """Run ``coro`` as a task the app's shutdown waits for (then cancels).

        A ``daemon`` task (a listener, a periodic loop: work that never ends by
        itself and has nothing to finish) is cancelled as soon as shutdown
        begins, instead of holding it up for ``grace`` seconds.

        Raises:
            RuntimeError: The app is not running (no lifespan yet, or shutting down).
        """
        if not self._open:
            coro.close()
            raise RuntimeError(
                "app.background.spawn() needs the app to be running: spawn from a start-up "
                "hook or a request, under a server (or TestClient) that runs the lifespan"
            )
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        if daemon:
            self._daemons.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._daemons.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Background task %r failed", task.get_name(), exc_info=task.exception())

    def _start(self) -> None:
        self._open = True

    async def _stop(self) -> None:
        """Refuse new tasks, wait ``grace`` seconds for the running ones, cancel the rest."""
        self._open = False
        for task in list(self._daemons):
            task.cancel()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
