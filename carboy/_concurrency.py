"""Running blocking code off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None

#: Threads available to ``def`` handlers and sync dependencies, per process.
THREADPOOL_SIZE = 40


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(THREADPOOL_SIZE, thread_name_prefix="carboy")
    return _executor


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking function in carboy's thread pool, keeping context variables.

    Example:
        >>> async def handler() -> bytes:
        ...     return await run_in_threadpool(read_file, "a.txt")
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, func, *args, **kwargs)
    return await loop.run_in_executor(_get_executor(), call)
