"""carboy.tasks: background tasks, close to Django 6's tasks API, on an in-process runner or Celery.

Example:
    >>> from carboy import Carboy
    >>> from carboy.tasks import Tasks, task
    >>> @task(retries=3)
    ... async def send_welcome(user_id: int) -> None:
    ...     ...
    >>> app = Carboy()
    >>> app.install(Tasks())  # settings.tasks_url: inprocess:// by default
    >>> @app.post("/users/{id:int}/welcome")
    ... async def welcome(id: int) -> dict[str, str]:
    ...     result = await send_welcome.aenqueue(id)
    ...     return {"task": result.id}
"""

from carboy.tasks._backends import ImmediateBackend as ImmediateBackend
from carboy.tasks._backends import InProcessBackend as InProcessBackend
from carboy.tasks._backends import InvalidTask as InvalidTask
from carboy.tasks._celery import CeleryBackend as CeleryBackend
from carboy.tasks._module import Periodic as Periodic
from carboy.tasks._module import Tasks as Tasks
from carboy.tasks._module import backend_from_url as backend_from_url
from carboy.tasks._task import ResultStatus as ResultStatus
from carboy.tasks._task import ResultUnavailable as ResultUnavailable
from carboy.tasks._task import Task as Task
from carboy.tasks._task import TaskBackend as TaskBackend
from carboy.tasks._task import TaskError as TaskError
from carboy.tasks._task import TaskErrorInfo as TaskErrorInfo
from carboy.tasks._task import TaskResult as TaskResult
from carboy.tasks._task import TaskTimeout as TaskTimeout
from carboy.tasks._task import default_backend as default_backend
from carboy.tasks._task import task as task

__all__ = [
    "CeleryBackend",
    "ImmediateBackend",
    "InProcessBackend",
    "InvalidTask",
    "Periodic",
    "ResultStatus",
    "ResultUnavailable",
    "Task",
    "TaskBackend",
    "TaskError",
    "TaskErrorInfo",
    "TaskResult",
    "TaskTimeout",
    "Tasks",
    "backend_from_url",
    "default_backend",
    "task",
]
