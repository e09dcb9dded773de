"""The tasks battery as a module: ``app.install(Tasks(...))``, and the worker commands."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from carboy.exceptions import ConfigurationError
from carboy.modules import Module
from carboy.tasks._backends import ImmediateBackend, InProcessBackend
from carboy.tasks._task import Task, TaskBackend, _default

if TYPE_CHECKING:
    import click

    from carboy.app import Carboy

logger = logging.getLogger("carboy.tasks")


def backend_from_url(url: str, result_url: str | None = None) -> TaskBackend:
    """The backend a ``tasks_url`` names.

    ``inprocess://`` (the default), ``immediate://``, ``celery+amqp://user:pw@host:5672//``
    or ``celery+redis://host:6379/1``. For Celery, ``result_url`` is where results
    are kept; with a Redis broker and no ``result_url`` the broker's Redis keeps them.

    Example:
        >>> backend_from_url("immediate://")
        <carboy.tasks._backends.ImmediateBackend object at ...>
    """
    scheme, _, rest = url.partition("://")
    if scheme == "inprocess":
        return InProcessBackend()
    if scheme == "immediate":
        return ImmediateBackend()
    if scheme.startswith("celery+"):
        from carboy.tasks._celery import CeleryBackend

        broker = f"{scheme.removeprefix('celery+')}://{rest}"
        if result_url is None and broker.startswith(("redis://", "rediss://")):
            result_url = broker
        return CeleryBackend(broker, result_url=result_url)
    raise ConfigurationError(
        f"tasks URL {url!r}: unknown scheme; use inprocess://, immediate://, "
        "celery+amqp://host:5672// or celery+redis://host:6379/1"
    )


@dataclass(frozen=True, slots=True)
class Periodic:
    """A task enqueued on a fixed interval (by ``carboy beat`` on Celery, in-process otherwise)."""

    task: Task[Any, Any]
    every: timedelta
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


class Tasks(Module):
    """Background tasks for the app: a backend, periodic schedules, ``carboy worker`` / ``beat``.

    Args:
        backend: Where tasks run: an :class:`InProcessBackend` (the default, from
            ``settings.tasks_url``), :class:`ImmediateBackend` for tests, or a
            :class:`~carboy.tasks.CeleryBackend`.
        imports: Modules that define tasks, imported when the app builds so a
            worker knows every task (the app's own imports count too).

    Example:
        >>> from carboy import Carboy
        >>> from carboy.tasks import Tasks, task
        >>> @task
        ... def add(a: int, b: int) -> int:
        ...     return a + b
        >>> app = Carboy()
        >>> app.install(Tasks())
    """

    def __init__(self, backend: TaskBackend | None = None, *, imports: Sequence[str] = ()) -> None:
        super().__init__("tasks")
        self._backend = backend
        self.imports = tuple(imports)
        self.schedule: list[Periodic] = []
        self._app: Carboy | None = None
        self.provide(Tasks, self)
        self.on_startup(self._start)
        self.on_shutdown(self._stop)
        self.add_readiness_check("broker", lambda: self.backend.ping())
        self.add_commands(_commands)

    @property
    def backend(self) -> TaskBackend:
        """The backend tasks are enqueued on."""
        if self._backend is None:
            self._backend = InProcessBackend()
        return self._backend

    def setup(self, app: Carboy) -> None:
        """Make the backend from the settings, import the task modules, become the default."""
        self._app = app
        if self._backend is None:
            self._backend = backend_from_url(app.settings.tasks_url, app.settings.tasks_result_url)
        for name in self.imports:
            importlib.import_module(name)  # an error in a task module stops start-up
        _default.append(self.backend)

    def periodic(
        self,
        task: Task[Any, Any],
        every: timedelta | float,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        """Enqueue ``task(*args, **kwargs)`` every ``every`` (a timedelta or seconds).

        On Celery, ``carboy beat`` does the enqueueing (run exactly one); with the
        in-process backend, the app does it while it runs.

        Example:
            >>> tasks.periodic(clear_expired_sessions, timedelta(hours=1))
        """
        interval = every if isinstance(every, timedelta) else timedelta(seconds=every)
        if interval.total_seconds() <= 0:
            raise ConfigurationError(f"periodic({task.name}): the interval must be positive")
        self.schedule.append(Periodic(task, interval, tuple(args), dict(kwargs)))

    async def _start(self) -> None:
        app_background = self._app_background
        await self.backend.start(app_background.spawn)
        if isinstance(self.backend, InProcessBackend):
            for entry in self.schedule:
                app_background.spawn(
                    self._tick(entry), name=f"periodic {entry.task.name}", daemon=True
                )

    async def _tick(self, entry: Periodic) -> None:
        while True:
            await asyncio.sleep(entry.every.total_seconds())
            try:
                await entry.task.using(backend=self.backend).aenqueue(*entry.args, **entry.kwargs)
            except Exception:
                logger.exception("periodic task %s could not be enqueued", entry.task.name)

    async def _stop(self) -> None:
        await self.backend.close()
        if _default and _default[-1] is self.backend:
            _default.pop()

    @property
    def _app_background(self) -> Any:
        if self._app is None:
            raise ConfigurationError("Tasks is not installed on a built app")
        return self._app.background

    def beat_schedule(self) -> dict[str, dict[str, Any]]:
        """The schedule as Celery beat's ``beat_schedule`` setting."""
        return {
            f"{entry.task.name}-{i}": {
                "task": entry.task.name,
                "schedule": entry.every,
                "args": list(entry.args),
                "kwargs": dict(entry.kwargs),
                "options": {"queue": entry.task.queue_name},
            }
            for i, entry in enumerate(self.schedule)
        }


def _commands() -> list[click.Command]:
    import click

    from carboy.cli import pass_app

    def celery_backend(app: Carboy) -> Any:
        from carboy.tasks._celery import CeleryBackend

        tasks = app.get_module(Tasks)
        backend = tasks.backend
        if not isinstance(backend, CeleryBackend):
            raise click.ClickException(
                f"the task backend is {type(backend).__name__}, which needs no worker: set "
                "CARBOY_TASKS_URL=celery+amqp://... (or Tasks(backend=CeleryBackend(...)))"
            )
        return tasks, backend

    @click.command("worker", context_settings={"ignore_unknown_options": True})
    @click.option(
        "-Q", "--queues", default="default", show_default=True, help="Queues to take tasks from."
    )
    @click.option("-c", "--concurrency", type=int, default=None, help="Processes (default: CPUs).")
    @click.option("--pool", default="prefork", show_default=True, help="prefork, threads or solo.")
    @click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
    @pass_app
    def worker(
        app: Carboy, queues: str, concurrency: int | None, pool: str, celery_args: tuple[str, ...]
    ) -> None:
        """Run a Celery worker with the app loaded (its settings, database and modules)."""
        app.build()
        _, backend = celery_backend(app)
        backend.register_all()
        backend.on_process_start(app)
        argv = ["worker", "--loglevel=INFO", "-Q", queues, "--pool", pool]
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        backend.celery.worker_main([*argv, *celery_args])

    @click.command("beat", context_settings={"ignore_unknown_options": True})
    @click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
    @pass_app
    def beat(app: Carboy, celery_args: tuple[str, ...]) -> None:
        """Run Celery beat: enqueue the app's periodic tasks on schedule (run exactly one)."""
        app.build()
        tasks, backend = celery_backend(app)
        backend.celery.conf.beat_schedule = tasks.beat_schedule()
        backend.celery.start(["beat", "--loglevel=INFO", *celery_args])

    return [worker, beat]
