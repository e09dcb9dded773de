"""carboy.concurrency: the one thread pool, with the caller's context variables."""

from __future__ import annotations

import contextvars
import threading

import pytest

from carboy.concurrency import THREADPOOL_SIZE, run_sync

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_runs_in_a_carboy_thread_with_the_callers_context() -> None:
    request_id.set("r-1")

    def blocking(suffix: str, *, sep: str) -> tuple[str, str]:
        return threading.current_thread().name, request_id.get() + sep + suffix

    name, value = await run_sync(blocking, "x", sep=":")
    assert name.startswith("carboy")
    assert name != threading.current_thread().name
    assert value == "r-1:x"


async def test_what_the_call_sets_does_not_leak_back() -> None:
    request_id.set("outer")
    await run_sync(request_id.set, "inner")
    assert request_id.get() == "outer"


def test_the_pool_size_is_published() -> None:
    assert THREADPOOL_SIZE == 40
