"""carboy.background: tasks owned by the app's lifespan, stopped before the shutdown hooks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from carboy import Carboy
from carboy.background import Background
from carboy.testing import AsyncTestClient

pytestmark = pytest.mark.anyio


async def run_lifespan(app: Carboy, while_running: Any = None) -> list[str]:
    """Drive the ASGI lifespan protocol by hand: start-up, ``while_running()``, shutdown."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[str] = []
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        started.set()

    await inbox.put({"type": "lifespan.startup"})
    server = asyncio.create_task(app({"type": "lifespan"}, receive, send))
    await started.wait()
    if while_running is not None:
        await while_running()
    await inbox.put({"type": "lifespan.shutdown"})
    await server
    return sent


async def test_shutdown_waits_for_a_task_then_runs_the_hooks() -> None:
    log: list[str] = []
    app = Carboy(debug=True)

    async def flush() -> None:
        await asyncio.sleep(0.05)
        log.append("task finished")

    @app.on_startup
    def start() -> None:
        app.background.spawn(flush(), name="flush")

    @app.on_shutdown
    def stop() -> None:
        log.append(f"shutdown hook, {len(app.background.tasks)} tasks left")

    sent = await run_lifespan(app)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["task finished", "shutdown hook, 0 tasks left"]


async def test_a_task_still_running_after_the_grace_period_is_cancelled() -> None:
    log: list[str] = []
    app = Carboy(debug=True)
    app.background.grace = 0.01

    async def listen() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    @app.on_startup
    def start() -> None:
        app.background.spawn(listen())

    @app.on_shutdown
    def stop() -> None:
        log.append("shutdown hook")

    loop = asyncio.get_running_loop()
    began = loop.time()
    await run_lifespan(app)
    assert log == ["cancelled", "shutdown hook"]
    assert loop.time() - began < 1


async def test_grace_is_how_long_shutdown_waits() -> None:
    done: list[str] = []
    app = Carboy(debug=True)
    app.background.grace = 1.0

    async def slow() -> None:
        await asyncio.sleep(0.1)
        done.append("slow")

    @app.on_startup
    def start() -> None:
        app.background.spawn(slow())

    await run_lifespan(app)
    assert done == ["slow"]  # with grace=0.01 (above) it would have been cancelled


async def test_a_handler_spawns_and_a_failing_task_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Carboy(debug=True)
    ran: list[int] = []

    async def work(n: int) -> None:
        if n == 0:
            raise ValueError("boom")
        ran.append(n)

    @app.post("/jobs/{n:int}")
    async def enqueue(n: int) -> str:
        app.background.spawn(work(n))
        return "queued"

    async with AsyncTestClient(app) as client:
        assert app.background.running
        assert (await client.post("/jobs/0")).text == "queued"
        assert (await client.post("/jobs/7")).text == "queued"
    assert not app.background.running
    assert ran == [7]
    assert any(
        r.levelno == logging.ERROR and "Background task" in r.getMessage() for r in caplog.records
    )


async def test_spawn_outside_the_lifespan_says_what_is_wrong() -> None:
    app = Carboy(debug=True)

    async def work() -> None:  # pragma: no cover - never started
        pass

    with pytest.raises(RuntimeError, match=r"needs the app to be running"):
        app.background.spawn(work())


async def test_a_failed_start_up_stops_the_tasks_it_spawned() -> None:
    cancelled: list[bool] = []
    app = Carboy(debug=True)
    app.background.grace = 0

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    @app.on_startup
    def start() -> None:
        app.background.spawn(forever())
        raise RuntimeError("no broker")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, inbox.get, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert cancelled == [True]
    assert not app.background.running


@pytest.mark.anyio
async def test_daemon_tasks_are_cancelled_at_once_at_shutdown() -> None:
    import time

    background = Background(grace=5.0)
    background._start()
    cancelled = asyncio.Event()

    async def listener() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def finisher() -> str:
        await asyncio.sleep(0.05)
        return "done"

    background.spawn(listener(), name="listener", daemon=True)
    kept = background.spawn(finisher(), name="finisher")
    await asyncio.sleep(0)  # both are running
    started = time.monotonic()
    await background._stop()
    assert time.monotonic() - started < 1.0  # the daemon did not hold shutdown up
    assert cancelled.is_set() and kept.result() == "done"
