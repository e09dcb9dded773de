"""Task backends: the protocol, immediate (tests) and in-process (the embedded default)."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from carboy.tasks._task import (
    ResultStatus,
    ResultUnavailable,
    Spawn,
    Task,
    TaskBackend,
    TaskError,
    TaskResult,
    error_info,
    new_id,
    now,
)

logger = logging.getLogger("carboy.tasks")


class InvalidTask(TaskError):
    """The backend cannot run this task as asked (a ``run_after`` it cannot honour...)."""


def _on_commit(send: Callable[[], None]) -> None:
    """Send now, or when the current database transaction commits (never on rollback)."""
    db = sys.modules.get("carboy.db")  # no transaction can be open if carboy.db was never imported
    if db is None:
        send()
        return
    db.on_commit(send)


class _Results:
    """Result records kept in memory, the oldest dropped beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: OrderedDict[str, TaskResult] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, result: TaskResult) -> None:
        with self._lock:
            self._data[result.id] = result
            self._data.move_to_end(result.id)
            while len(self._data) > self.limit:
                self._data.popitem(last=False)

    def get(self, result_id: str, backend: TaskBackend) -> TaskResult:
        with self._lock:
            found = self._data.get(result_id)
        if found is None:
            raise ResultUnavailable(f"no task result {result_id!r} (unknown, or dropped)")
        copy = replace(found, errors=list(found.errors))
        copy.backend = backend
        return copy


async def run_attempts(task: Task[Any, Any], result: TaskResult, *, wait: bool = True) -> None:
    """Run ``task`` until it succeeds or its retries are spent, recording each step in ``result``.

    The one retry loop of the in-process and immediate backends (Celery retries
    through its own broker, one attempt per delivery).
    """
    while True:
        result.attempts += 1
        result.status = ResultStatus.RUNNING
        result.started_at = result.started_at or now()
        try:
            value = await task.run_once(result.args, result.kwargs)
        except Exception as exc:
            result.errors.append(error_info(exc))
            if task.should_retry(exc, result.attempts):
                result.status = ResultStatus.READY
                delay = task.backoff(result.attempts)
                logger.warning(
                    "task %s (%s) failed attempt %d, retrying in %.1fs: %r",
                    task.name,
                    result.id,
                    result.attempts,
                    delay,
                    exc,
                )
                if wait:
                    await asyncio.sleep(delay)
                continue
            result.status = ResultStatus.FAILED
            result.finished_at = now()
            logger.error("task %s (%s) failed", task.name, result.id, exc_info=exc)
            return
        result._return_value = value
        result.status = ResultStatus.SUCCESSFUL
        result.finished_at = now()
        return


def _record(task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> TaskResult:
    return TaskResult(
        id=new_id(),
        task_name=task.name,
        args=tuple(args),
        kwargs=dict(kwargs),
        enqueued_at=now(),
        run_after=task.run_after,
    )


class ImmediateBackend:
    """Runs each task at once, in the caller, before ``enqueue`` returns: for tests.

    Retries run back to back without their backoff waits. ``run_after`` is refused
    (:class:`InvalidTask`), as in Django: a test that needs it wants the in-process
    backend.

    Args:
        keep: Most result records kept.

    Example:
        >>> from carboy.tasks import ImmediateBackend, Tasks
        >>> app.install(Tasks(backend=ImmediateBackend()))
    """

    supports_defer = False

    def __init__(self, *, keep: int = 10_000) -> None:
        self._results = _Results(keep)

    def _check(self, task: Task[Any, Any]) -> None:
        if task.run_after is not None:
            raise InvalidTask(
                f"task {task.name}: the immediate backend cannot run it later (run_after)"
            )

    def enqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Run it now (in a thread with its own loop if this thread runs one)."""
        self._check(task)
        result = _record(task, args, kwargs)
        self._results.put(result)

        def send() -> None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(run_attempts(task, result, wait=False))
                return
            runner = threading.Thread(
                target=lambda: asyncio.run(run_attempts(task, result, wait=False))
            )
            runner.start()
            runner.join()

        _on_commit(send)
        return self.get_result(result.id)

    async def aenqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Run it now, on this loop."""
        self._check(task)
        result = _record(task, args, kwargs)
        self._results.put(result)

        async def send() -> None:
            await run_attempts(task, result, wait=False)

        db = sys.modules.get("carboy.db")
        if db is not None and db.in_transaction():
            db.on_commit(send)
        else:
            await send()
        return self.get_result(result.id)

    def get_result(self, result_id: str) -> TaskResult:
        """See :meth:`TaskBackend.get_result`."""
        return self._results.get(result_id, self)

    async def aget_result(self, result_id: str) -> TaskResult:
        """See :meth:`TaskBackend.get_result`."""
        return self.get_result(result_id)

    async def start(self, spawn: Spawn) -> None:
        """Nothing to start."""

    async def close(self) -> None:
        """Nothing to stop."""

    async def ping(self) -> None:
        """Always ready: no broker."""


class InProcessBackend:
    """Runs tasks in the app's own process, on its event loop, beside the requests.

    The embedded default: no broker, nothing to install. Tasks run as the app's
    background work (async tasks on the loop, ``def`` tasks in carboy's thread
    pool), at most ``concurrency`` at once, with their retries, backoff and
    ``run_after``. What is queued lives in memory: a restart loses it, and only
    this process sees the results. For durable tasks, use Celery.

    Args:
        concurrency: Most tasks running at once.
        keep: Most result records kept.

    Example:
        >>> from carboy.tasks import InProcessBackend, Tasks
        >>> app.install(Tasks(backend=InProcessBackend(concurrency=4)))
    """

    supports_defer = True

    def __init__(self, *, concurrency: int = 10, keep: int = 10_000) -> None:
        if concurrency < 1:
            from carboy.exceptions import ConfigurationError

            raise ConfigurationError("InProcessBackend(concurrency=...) must be at least 1")
        self.concurrency = concurrency
        self._results = _Results(keep)
        self._spawn: Spawn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    async def start(self, spawn: Spawn) -> None:
        """Take the app's loop and background spawner."""
        self._spawn = spawn
        self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.concurrency)

    async def close(self) -> None:
        """Stop taking tasks (the app's shutdown waits for, then cancels, those running)."""
        self._spawn = None

    async def ping(self) -> None:
        """Always ready: no broker."""

    async def _run(self, task: Task[Any, Any], result: TaskResult) -> None:
        if result.run_after is not None:
            await asyncio.sleep(max(0.0, (result.run_after - now()).total_seconds()))
        if self._slots is None:
            raise TaskError("the in-process task backend was not started")
        async with self._slots:
            await run_attempts(task, result)

    def _submit(self, task: Task[Any, Any], result: TaskResult) -> None:
        spawn, loop = self._spawn, self._loop
        if spawn is None or loop is None:
            raise TaskError(
                "the in-process task backend runs tasks while the app runs: enqueue from a "
                "request or a start-up hook (under a server or a TestClient in a `with` block)"
            )
        name = f"task {task.name} {result.id}"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            spawn(self._run(task, result))
        else:  # a def handler or another thread: hand it to the app's loop
            loop.call_soon_threadsafe(lambda: spawn(self._run(task, result)))
        logger.debug("queued %s", name)

    def enqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Queue it on the app's loop (after the transaction commits, inside one)."""
        if self._spawn is None:
            self._submit(task, _record(task, args, kwargs))  # raises: not running
        result = _record(task, args, kwargs)
        self._results.put(result)
        _on_commit(lambda: self._submit(task, result))
        return self.get_result(result.id)

    async def aenqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Async :meth:`enqueue`."""
        return self.enqueue(task, args, kwargs)

    def get_result(self, result_id: str) -> TaskResult:
        """See :meth:`TaskBackend.get_result`."""
        return self._results.get(result_id, self)

    async def aget_result(self, result_id: str) -> TaskResult:
        """See :meth:`TaskBackend.get_result`."""
        return self.get_result(result_id)
