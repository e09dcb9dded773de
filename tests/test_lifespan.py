"""Tests for carboy._lifespan: start-up and shutdown hooks, in order, and their failures."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Callable, Iterator

import pytest

import carboy._lifespan
from carboy import Carboy, Module
from carboy.settings import Settings
from carboy.testing import AsyncTestClient, TestClient
from carboy.types import Message


def test_startup_and_shutdown_hooks_in_order() -> None:
    log: list[str] = []
    app = Carboy(debug=True)
    db = Module("db")
    auth = Module("auth")
    blog = Module("blog")
    auth.install(db)  # auth needs db: db starts first
    app.install(auth)
    app.install(blog)

    def hooks(module: Module, name: str) -> None:
        @module.on_startup
        def start_sync() -> None:
            log.append(f"start {name} sync")

        @module.on_startup
        async def start_async() -> None:
            log.append(f"start {name} async")

        @module.on_shutdown
        def stop_sync() -> None:
            log.append(f"stop {name} sync")

        @module.on_shutdown
        async def stop_async() -> None:
            log.append(f"stop {name} async")

    for module, name in ((app, "app"), (db, "db"), (auth, "auth"), (blog, "blog")):
        hooks(module, name)

    @app.get("/")
    async def index() -> list[str]:
        return log

    with TestClient(app) as client:
        assert client.get("/").json() == [
            "start db sync",
            "start db async",
            "start auth sync",
            "start auth async",
            "start blog sync",
            "start blog async",
            "start app sync",
            "start app async",
        ]
        log.clear()
    assert log == [
        "stop app async",
        "stop app sync",
        "stop blog async",
        "stop blog sync",
        "stop auth async",
        "stop auth sync",
        "stop db async",
        "stop db sync",
    ]


def test_startup_failure_is_reported_and_started_modules_shut_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    app = Carboy(debug=True)
    first = Module("first")
    app.install(first)
    first.on_shutdown(lambda: log.append("first stopped"))

    @app.on_startup
    async def explode() -> None:
        raise RuntimeError("database unreachable")

    app.on_shutdown(lambda: log.append("app stopped"))  # never started: not stopped

    with (
        caplog.at_level(logging.ERROR, "carboy.error"),
        pytest.raises(
            RuntimeError, match="Lifespan startup failed: RuntimeError: database unreachable"
        ),
        TestClient(app),
    ):
        pass  # pragma: no cover
    assert log == ["first stopped"]
    assert any(r.getMessage() == "Startup failed" for r in caplog.records)


def test_shutdown_failure_is_reported_after_every_hook_ran() -> None:
    log: list[str] = []
    app = Carboy(debug=True)

    @app.on_shutdown
    def first() -> None:
        log.append("first")

    @app.on_shutdown
    def broken() -> None:
        raise ValueError("cannot close")

    with (
        pytest.raises(RuntimeError, match="Lifespan shutdown failed: ValueError: cannot close"),
        TestClient(app),
    ):
        pass
    assert log == ["first"]


# -- gc_freeze: a server's start-up freezes what it leaves alive, once per process ------
@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process whose heap was never frozen."""
    monkeypatch.setattr(carboy._lifespan, "_heap_frozen", False)
    gc.unfreeze()
    yield
    gc.unfreeze()


def _served(app: Carboy, check: Callable[[], None]) -> None:
    """Run ``app``'s lifespan as an ASGI server does, with ``check()`` between start and stop."""

    async def main() -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        inbox.put_nowait({"type": "lifespan.startup"})
        task = asyncio.create_task(app(scope, inbox.get, outbox.put))
        assert (await outbox.get())["type"] == "lifespan.startup.complete"
        check()
        inbox.put_nowait({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task

    asyncio.run(main())


def _tracked(obj: object) -> bool:
    """True while the collector's generations hold ``obj`` (frozen objects are not there)."""
    return any(o is obj for o in gc.get_objects())


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.mark.usefixtures("unfrozen")
def test_a_servers_startup_freezes_what_it_leaves_alive_after_the_hooks() -> None:
    app = Carboy(debug=True)
    kept: dict[str, list[object]] = {}

    @app.on_startup
    def open_pool() -> None:
        kept["pool"] = [object()]

    def check() -> None:
        assert gc.get_freeze_count() > 0
        assert not _tracked(kept["pool"])  # made by a hook, frozen after it
        assert _tracked([object()])  # what serving makes is collected as ever

    assert gc.get_freeze_count() == 0
    _served(app, check)


@pytest.mark.usefixtures("unfrozen")
def test_the_startup_collects_garbage_before_it_freezes() -> None:
    enabled = gc.isenabled()
    gc.disable()  # so that only the start-up's collection can free the cycle
    try:
        garbage = _Node()
        ref = weakref.ref(garbage)
        del garbage
        assert ref() is not None

        def check() -> None:
            assert ref() is None  # freed, not frozen

        _served(Carboy(debug=True), check)
    finally:
        if enabled:
            gc.enable()


@pytest.mark.usefixtures("unfrozen")
def test_gc_freeze_off_leaves_the_heap_alone() -> None:
    def check() -> None:
        assert gc.get_freeze_count() == 0

    _served(Carboy(settings=Settings(debug=True, gc_freeze=False)), check)


@pytest.mark.usefixtures("unfrozen")
def test_the_heap_is_frozen_once_per_process() -> None:
    _served(Carboy(debug=True), lambda: None)
    frozen = gc.get_freeze_count()
    assert frozen > 0
    second = Carboy(debug=True)
    assert _tracked(second)

    def check() -> None:
        assert _tracked(second)  # a later app's start-up froze nothing

    _served(second, check)
    assert gc.get_freeze_count() == frozen
    assert carboy._lifespan.freeze_heap() is False


@pytest.mark.usefixtures("unfrozen")
def test_a_test_clients_startup_leaves_the_heap_alone() -> None:
    with TestClient(Carboy(debug=True)):
        assert gc.get_freeze_count() == 0


@pytest.mark.anyio
@pytest.mark.usefixtures("unfrozen")
async def test_an_async_test_clients_startup_leaves_the_heap_alone() -> None:
    async with AsyncTestClient(Carboy(debug=True)):
        assert gc.get_freeze_count() == 0
