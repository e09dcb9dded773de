"""Running blocking code off the event loop, in carboy's one thread pool.

``def`` handlers, sync dependencies and sync error handlers run here; a
battery with blocking work (a sync database session, a file read) uses the
same pool through :func:`run_sync` rather than starting its own, and sizes
what it shares with handlers by :data:`THREADPOOL_SIZE`.

Example:
    >>> import asyncio
    >>> from carboy.concurrency import run_sync
    >>> asyncio.run(run_sync(sum, [1, 2, 3]))
    6
"""

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

#: Threads available to ``def`` handlers, sync dependencies and batteries, per process.
THREADPOOL_SIZE = 40


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(THREADPOOL_SIZE, thread_name_prefix="carboy")
    return _executor


async def run_sync(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking function in carboy's thread pool, keeping context variables.

    The call sees the caller's :mod:`contextvars` (a copy: what it sets does
    not leak back), and the thread is one of the :data:`THREADPOOL_SIZE`
    shared with ``def`` handlers.

    Example:
        >>> async def handler() -> bytes:
        ...     return await run_sync(read_file, "a.txt")
    """
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, func, *args, **kwargs)
    return await loop.run_in_executor(_get_executor(), call)


async def run_sync_in(
    context: contextvars.Context, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """:func:`run_sync` inside a given :class:`contextvars.Context`, kept between calls.

    What ``func`` sets in ``context`` is there for the next call made with the
    same context (never in the caller's). This is how the sync steps of one
    request (its ``def`` dependencies, the handler, their cleanups) see each
    other's context variables. One context runs one call at a time.

    Example:
        >>> import asyncio, contextvars
        >>> var = contextvars.ContextVar("var", default=0)
        >>> async def two_steps() -> int:
        ...     context = contextvars.copy_context()
        ...     await run_sync_in(context, var.set, 5)
        ...     return await run_sync_in(context, var.get)
        >>> asyncio.run(two_steps())
        5
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(context.run, func, *args, **kwargs)
    return await loop.run_in_executor(_get_executor(), call)
