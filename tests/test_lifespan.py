"""Tests for carboy._lifespan: start-up and shutdown hooks, in order, and their failures."""

from __future__ import annotations

import logging

import pytest

from carboy import Carboy, Module
from carboy.testing import TestClient


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
