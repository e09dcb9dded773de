"""The Celery backend: tasks carried by RabbitMQ or Redis, run by ``carboy worker``."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from carboy.exceptions import ConfigurationError
from carboy.tasks._backends import _on_commit
from carboy.tasks._task import (
    REGISTRY,
    ResultStatus,
    Spawn,
    Task,
    TaskErrorInfo,
    TaskResult,
    new_id,
    now,
)

if TYPE_CHECKING:
    from celery import Celery

    from carboy.app import Carboy

logger = logging.getLogger("carboy.tasks")

_STATES = {
    "PENDING": ResultStatus.READY,
    "RECEIVED": ResultStatus.READY,
    "RETRY": ResultStatus.READY,
    "STARTED": ResultStatus.RUNNING,
    "SUCCESS": ResultStatus.SUCCESSFUL,
    "FAILURE": ResultStatus.FAILED,
    "REVOKED": ResultStatus.FAILED,
}


class CeleryBackend:
    """Tasks sent to Celery workers over a broker; results kept in a result store.

    Celery is set up for work that must not be lost: a message is acknowledged
    only after its task finished (late acknowledgement), so a worker killed
    mid-task leaves it to be delivered again; a worker takes one message at a
    time; states include ``STARTED``; arguments and results travel as JSON.

    Args:
        broker_url: ``amqp://guest:guest@127.0.0.1:5672//`` (RabbitMQ) or
            ``redis://127.0.0.1:6379/1``.
        result_url: Where results are kept and read from any process
            (``redis://...``); None keeps none (``get_result`` then reports READY).
        options: More Celery settings (``{"worker_concurrency": 4}``).

    Example:
        >>> from carboy.tasks import CeleryBackend, Tasks
        >>> app.install(Tasks(backend=CeleryBackend(
        ...     "amqp://guest:guest@127.0.0.1:5672//", result_url="redis://127.0.0.1:6379/1")))
    """

    supports_defer = True

    def __init__(
        self,
        broker_url: str,
        *,
        result_url: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            from celery import Celery
        except ImportError:  # pragma: no cover - celery is in carboy[celery]
            raise ConfigurationError(
                "the Celery task backend needs Celery: pip install 'carboy[celery]'"
            ) from None
        self.broker_url = broker_url
        self.result_url = result_url
        self.celery: Celery = Celery(
            "carboy", broker=broker_url, backend=result_url, set_as_current=False
        )
        self.celery.conf.update(
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            task_track_started=True,
            result_extended=True,
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            enable_utc=True,
            broker_connection_retry_on_startup=True,
            task_default_queue="default",
            worker_hijack_root_logger=False,
            **dict(options or {}),
        )
        self._registered: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: Carboy | None = None
        self._started_in: int | None = None

    # -- the worker side ---------------------------------------------------------
    def register_all(self) -> None:
        """Register every task defined in this process with Celery (the worker calls it)."""
        for task in list(REGISTRY.values()):
            self.register(task)

    def register(self, task: Task[Any, Any]) -> None:
        """Make ``task`` runnable by this process's Celery workers."""
        with self._lock:
            if task.name in self._registered:
                return
            self._registered.add(task.name)
        backend = self
        hard = None if task.time_limit is None else task.time_limit + 5

        def run(celery_task: Any, *args: Any, **kwargs: Any) -> Any:
            attempt = celery_task.request.retries + 1
            try:
                return backend._run(task, args, kwargs)
            except Exception as exc:
                if task.should_retry(exc, attempt):
                    raise celery_task.retry(
                        exc=exc, countdown=task.backoff(attempt), max_retries=task.retries
                    ) from exc
                raise

        run.__name__ = task.name.rpartition(".")[2]
        self.celery.task(
            name=task.name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            time_limit=hard,
            soft_time_limit=task.time_limit,
        )(run)

    def on_process_start(self, app: Carboy) -> None:
        """Run ``app``'s start-up in each worker process before its first task."""
        self._app = app

    def _process_loop(self) -> asyncio.AbstractEventLoop:
        # One event loop per worker process, kept: async engines and clients bind to it.
        pid = os.getpid()
        if self._loop is None or self._loop.is_closed() or self._started_in != pid:
            self._loop = asyncio.new_event_loop()
            self._started_in = pid
            if self._app is not None:
                from carboy.tasks._lifespan import Lifespan

                Lifespan(self._app, self._loop).startup()
        return self._loop

    def _run(self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        loop = self._process_loop()
        if not task.is_async:
            return task.func(*args, **kwargs)
        return loop.run_until_complete(task.run_once(args, kwargs))

    # -- the sending side --------------------------------------------------------
    def _send(self, task: Task[Any, Any], result: TaskResult) -> None:
        options: dict[str, Any] = {"task_id": result.id, "queue": task.queue_name}
        if task.run_after is not None:
            options["eta"] = task.run_after
        self.celery.send_task(task.name, args=list(result.args), kwargs=result.kwargs, **options)

    def enqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Publish it to the broker (when the transaction commits, inside one)."""
        result = TaskResult(
            id=new_id(),
            task_name=task.name,
            args=tuple(args),
            kwargs=dict(kwargs),
            enqueued_at=now(),
            run_after=task.run_after,
            backend=self,
        )
        _on_commit(lambda: self._send(task, result))
        return result

    async def aenqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Async :meth:`enqueue` (publishing runs in carboy's thread pool)."""
        from carboy.concurrency import run_sync

        return await run_sync(self.enqueue, task, args, kwargs)

    def get_result(self, result_id: str) -> TaskResult:
        """The record Celery's result store holds for ``result_id``."""
        from celery.result import AsyncResult

        found = AsyncResult(result_id, app=self.celery)
        state = found.state
        status = _STATES.get(state, ResultStatus.READY)
        meta: dict[str, Any] = {}
        if self.result_url is not None:
            meta = found.backend.get_task_meta(result_id) or {}
        result = TaskResult(
            id=result_id,
            task_name=str(meta.get("name") or ""),
            args=tuple(meta.get("args") or ()),
            kwargs=dict(meta.get("kwargs") or {}),
            status=status,
            finished_at=_aware(meta.get("date_done"))
            if status in (ResultStatus.SUCCESSFUL, ResultStatus.FAILED)
            else None,
            attempts=int(meta.get("retries") or 0) + (1 if status is not ResultStatus.READY else 0),
            backend=self,
        )
        if status is ResultStatus.SUCCESSFUL:
            result._return_value = found.result
        elif status is ResultStatus.FAILED:
            exc = found.result
            name = type(exc).__qualname__ if isinstance(exc, BaseException) else state
            result.errors.append(TaskErrorInfo(name, found.traceback or repr(exc)))
        return result

    async def aget_result(self, result_id: str) -> TaskResult:
        """Async :meth:`get_result`."""
        from carboy.concurrency import run_sync

        return await run_sync(self.get_result, result_id)

    async def start(self, spawn: Spawn) -> None:
        """Nothing to start in the web process: workers run elsewhere."""

    async def close(self) -> None:
        """Release the broker connections of this process."""
        pool = getattr(self.celery, "_pool", None)
        if pool is not None:
            pool.force_close_all()

    async def ping(self) -> None:
        """Open (and release) a broker connection; raises if the broker is unreachable."""
        from carboy.concurrency import run_sync

        def connect() -> None:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)

        await run_sync(connect)

    def __repr__(self) -> str:
        return f"CeleryBackend(broker={_safe(self.broker_url)!r})"


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _safe(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"
