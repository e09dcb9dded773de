"""Tasks and their results: ``@task``, ``.enqueue(...)``, :class:`TaskResult`."""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast

from carboy.exceptions import ConfigurationError

P = ParamSpec("P")
R = TypeVar("R")

#: Every task defined in this process, by name: what a worker looks a message's task up in.
REGISTRY: dict[str, Task[Any, Any]] = {}


class ResultStatus(enum.StrEnum):
    """Where a task is in its life (the names of Django's ``TaskResultStatus``)."""

    READY = "READY"
    """Enqueued, waiting for a worker (or for its ``run_after`` time, or a retry)."""
    RUNNING = "RUNNING"
    """A worker is running it."""
    SUCCESSFUL = "SUCCESSFUL"
    """It returned; ``return_value`` holds what."""
    FAILED = "FAILED"
    """It raised on its last attempt; ``errors`` holds the tracebacks."""


class TaskError(Exception):
    """A task's outcome was asked for before it had one, or it failed."""


class ResultUnavailable(TaskError):
    """The backend keeps no results (or not this one): nothing to read."""


@dataclass(frozen=True, slots=True)
class TaskErrorInfo:
    """One failed attempt: the exception's type and its formatted traceback."""

    exception_class: str
    traceback: str


@dataclass(slots=True)
class TaskResult:
    """The record of one enqueued task: its id, status and, when finished, its outcome.

    Example:
        >>> result = send_welcome.enqueue(user_id=3)
        >>> result.status
        <ResultStatus.SUCCESSFUL: 'SUCCESSFUL'>
        >>> result.return_value
    """

    id: str
    task_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    status: ResultStatus = ResultStatus.READY
    enqueued_at: datetime | None = None
    run_after: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    errors: list[TaskErrorInfo] = field(default_factory=list)
    _return_value: Any = None
    backend: TaskBackend | None = field(default=None, repr=False, compare=False)

    @property
    def is_finished(self) -> bool:
        """True once it succeeded or failed for good."""
        return self.status in (ResultStatus.SUCCESSFUL, ResultStatus.FAILED)

    @property
    def return_value(self) -> Any:
        """What the task returned.

        Raises:
            TaskError: It has not finished, or it failed (with its last traceback).
        """
        if self.status is ResultStatus.SUCCESSFUL:
            return self._return_value
        if self.status is ResultStatus.FAILED:
            last = self.errors[-1] if self.errors else None
            detail = f": {last.exception_class}\n{last.traceback}" if last else ""
            raise TaskError(f"task {self.task_name} ({self.id}) failed{detail}")
        raise TaskError(f"task {self.task_name} ({self.id}) has not finished: {self.status}")

    def refresh(self) -> None:
        """Read the latest status and outcome from the backend."""
        self._copy(self._backend().get_result(self.id))

    async def arefresh(self) -> None:
        """Async :meth:`refresh`."""
        self._copy(await self._backend().aget_result(self.id))

    def _backend(self) -> TaskBackend:
        if self.backend is None:
            raise ResultUnavailable(f"result {self.id} is not bound to a backend")
        return self.backend

    def _copy(self, other: TaskResult) -> None:
        for name in (
            "status",
            "enqueued_at",
            "run_after",
            "started_at",
            "finished_at",
            "attempts",
            "errors",
            "_return_value",
        ):
            setattr(self, name, getattr(other, name))


def now() -> datetime:
    """The time now, in UTC (what results are stamped with)."""
    return datetime.now(UTC)


def error_info(exc: BaseException) -> TaskErrorInfo:
    """The record of an exception a task raised."""
    cls = type(exc)
    return TaskErrorInfo(
        f"{cls.__module__}.{cls.__qualname__}",
        "".join(traceback.format_exception(exc)),
    )


def new_id() -> str:
    """A new result id (a UUID4 string, as Celery uses)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Task(Generic[P, R]):
    """A function that runs in the background; made by :func:`task`.

    Call it directly to run it now, in this process (``send_welcome(3)``);
    ``enqueue`` it to have a worker run it. Options are changed per call with
    :meth:`using`, which returns a modified copy.

    Attributes:
        func: The function (sync or async).
        name: Its registered name, ``module.qualname`` unless given.
        queue_name: The queue a worker takes it from.
        priority: -100 to 100; higher runs first where the backend supports it.
        retries: Attempts after the first when it raises one of ``retry_on``.
        retry_backoff: Seconds before the first retry; doubled for each next one.
        retry_backoff_max: The longest wait between two attempts.
        retry_on: The exceptions that trigger a retry.
        time_limit: Seconds an attempt may run before it is stopped (failed).
        run_after: Not before this time (set with :meth:`using` or ``enqueue_at``).
        backend: The backend to enqueue on; the installed :class:`~carboy.tasks.Tasks`'s if None.
    """

    func: Callable[P, R]
    name: str
    queue_name: str = "default"
    priority: int = 0
    retries: int = 0
    retry_backoff: float = 1.0
    retry_backoff_max: float = 600.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    time_limit: float | None = None
    run_after: datetime | None = None
    backend: TaskBackend | None = None

    def __post_init__(self) -> None:
        if not -100 <= self.priority <= 100:
            raise ConfigurationError(f"task {self.name}: priority must be -100..100")
        if self.retries < 0 or self.retry_backoff < 0:
            raise ConfigurationError(f"task {self.name}: retries and retry_backoff must be >= 0")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigurationError(f"task {self.name}: time_limit must be positive")
        if self.run_after is not None and self.run_after.tzinfo is None:
            raise ConfigurationError(f"task {self.name}: run_after must be timezone-aware")

    @property
    def is_async(self) -> bool:
        """True for an ``async def`` task."""
        return inspect.iscoroutinefunction(self.func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function now, here (as a plain call; no backend involved)."""
        return self.func(*args, **kwargs)

    def using(
        self,
        *,
        queue_name: str | None = None,
        priority: int | None = None,
        run_after: datetime | timedelta | None = None,
        backend: TaskBackend | None = None,
    ) -> Task[P, R]:
        """A copy with some options changed, for one enqueue.

        Example:
            >>> send_welcome.using(priority=10, run_after=timedelta(minutes=5)).enqueue(3)
        """
        changes: dict[str, Any] = {}
        if queue_name is not None:
            changes["queue_name"] = queue_name
        if priority is not None:
            changes["priority"] = priority
        if run_after is not None:
            changes["run_after"] = (
                now() + run_after if isinstance(run_after, timedelta) else run_after
            )
        if backend is not None:
            changes["backend"] = backend
        return replace(self, **changes)

    def _resolve(self) -> TaskBackend:
        if self.backend is not None:
            return self.backend
        return default_backend()

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskResult:
        """Have a worker run it; the result record (its status ``READY`` at first).

        Inside a database transaction (a handler's session, ``db.transaction()``)
        the task is sent when the transaction commits, and never if it rolls
        back; the returned record already has its id.
        """
        return self._resolve().enqueue(self, args, kwargs)

    async def aenqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskResult:
        """Async :meth:`enqueue`."""
        return await self._resolve().aenqueue(self, args, kwargs)

    def enqueue_in(self, delay: timedelta | float, *args: P.args, **kwargs: P.kwargs) -> TaskResult:
        """:meth:`enqueue`, to run no sooner than ``delay`` (a timedelta or seconds) from now."""
        seconds = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
        return self.using(run_after=seconds).enqueue(*args, **kwargs)

    def enqueue_at(self, when: datetime, *args: P.args, **kwargs: P.kwargs) -> TaskResult:
        """:meth:`enqueue`, to run no sooner than ``when`` (timezone-aware)."""
        return self.using(run_after=when).enqueue(*args, **kwargs)

    async def aenqueue_in(
        self, delay: timedelta | float, *args: P.args, **kwargs: P.kwargs
    ) -> TaskResult:
        """Async :meth:`enqueue_in`."""
        seconds = delay if isinstance(delay, timedelta) else timedelta(seconds=delay)
        return await self.using(run_after=seconds).aenqueue(*args, **kwargs)

    async def aenqueue_at(self, when: datetime, *args: P.args, **kwargs: P.kwargs) -> TaskResult:
        """Async :meth:`enqueue_at`."""
        return await self.using(run_after=when).aenqueue(*args, **kwargs)

    def get_result(self, result_id: str) -> TaskResult:
        """The result record with this id, from this task's backend."""
        return self._resolve().get_result(result_id)

    async def aget_result(self, result_id: str) -> TaskResult:
        """Async :meth:`get_result`."""
        return await self._resolve().aget_result(result_id)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (after ``attempt`` failed)."""
        return float(min(self.retry_backoff * 2 ** (attempt - 1), self.retry_backoff_max))

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when attempt ``attempt`` raised ``exc`` and another is allowed."""
        return attempt <= self.retries and isinstance(exc, self.retry_on)

    async def run_once(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> R:
        """One attempt, within the time limit; sync tasks run in carboy's thread pool."""
        from carboy.concurrency import run_sync

        if self.is_async:
            call = cast(Any, self.func)(*args, **kwargs)
        else:
            call = run_sync(functools.partial(self.func, *args, **kwargs))
        if self.time_limit is None:
            return cast(R, await call)
        try:
            return cast(R, await asyncio.wait_for(call, self.time_limit))
        except TimeoutError:
            raise TaskTimeout(
                f"task {self.name} ran past its time limit of {self.time_limit}s"
            ) from None


class TaskTimeout(TaskError):
    """An attempt ran past the task's ``time_limit``."""


def task(
    func: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    queue_name: str = "default",
    priority: int = 0,
    retries: int = 0,
    retry_backoff: float = 1.0,
    retry_backoff_max: float = 600.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    time_limit: float | None = None,
) -> Any:
    """Decorator: make a function a :class:`Task` that workers can run.

    Used bare (``@task``) or with options (``@task(retries=3)``). Arguments and
    return values must be JSON-able when a Celery backend carries them.

    Example:
        >>> from carboy.tasks import task
        >>> @task(retries=3, retry_backoff=2.0, time_limit=30)
        ... async def send_welcome(user_id: int) -> None:
        ...     ...
        >>> result = send_welcome.enqueue(3)
    """

    def decorate(f: Callable[P, R]) -> Task[P, R]:
        made: Task[P, R] = Task(
            f,
            name or f"{f.__module__}.{f.__qualname__}",
            queue_name=queue_name,
            priority=priority,
            retries=retries,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            retry_on=tuple(retry_on),
            time_limit=time_limit,
        )
        existing = REGISTRY.get(made.name)
        if existing is not None and existing.func is not f and _where(existing.func) != _where(f):
            raise ConfigurationError(
                f"two tasks are named {made.name!r} ({_where(existing.func)} and {_where(f)}): "
                "give one a name= of its own"
            )
        REGISTRY[made.name] = made
        return made

    if func is not None:
        return decorate(func)
    return decorate


def _where(func: Callable[..., Any]) -> str:
    code = getattr(func, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else repr(func)


#: Runs a coroutine as the app's background work (``app.background.spawn``).
Spawn = Callable[..., Any]


class TaskBackend(Protocol):
    """What runs tasks: immediate, in-process, Celery, or your own."""

    #: Whether ``run_after`` (``enqueue_in`` / ``enqueue_at``) is honoured.
    supports_defer: bool

    def enqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Send the task to be run; its result record."""
        ...

    async def aenqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskResult:
        """Async :meth:`enqueue`."""
        ...

    def get_result(self, result_id: str) -> TaskResult:
        """The latest record of a result.

        Raises:
            ResultUnavailable: No such result is known.
        """
        ...

    async def aget_result(self, result_id: str) -> TaskResult:
        """Async :meth:`get_result`."""
        ...

    async def start(self, spawn: Spawn) -> None:
        """Called at the app's start-up with a function that runs coroutines in the background."""
        ...

    async def close(self) -> None:
        """Called at the app's shutdown."""
        ...

    async def ping(self) -> None:
        """Return if the broker (if any) is reachable, raise if not (``/readyz``)."""
        ...


#: The backend of the Tasks module installed in this process (what ``Task.enqueue`` uses).
_default: list[TaskBackend] = []


def default_backend() -> TaskBackend:
    """The backend of the :class:`~carboy.tasks.Tasks` installed on the app of this process.

    Raises:
        ConfigurationError: No app with ``Tasks`` has been built in this process.
    """
    if not _default:
        raise ConfigurationError(
            "no task backend: install carboy.tasks.Tasks on the app (app.install(Tasks())) "
            "before enqueueing, or give the task a backend with task.using(backend=...)"
        )
    return _default[-1]
