"""A ``def`` handler's endpoint (carboy.params._endpoint): its ``def`` dependencies,
the handler, its response's rendering and the ``def`` generators' cleanup run in one
thread hop; async dependencies run on the loop around it."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from carboy import Carboy, Depends, HTTPException, Request
from carboy import concurrency as concurrency_module
from carboy.settings import Settings
from carboy.templating import render
from carboy.testing import TestClient

#: What each step saw: (step, thread id).
steps: list[tuple[str, int]] = []
marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


@pytest.fixture(autouse=True)
def _clear() -> None:
    steps.clear()


def _step(name: str) -> None:
    steps.append((name, threading.get_ident()))


def sync_value() -> str:
    _step("sync_value")
    return "v"


def sync_gen() -> Iterator[str]:
    _step("sync_gen:enter")
    marker.set("set by sync_gen")
    try:
        yield "g"
    except Exception as exc:
        _step(f"sync_gen:saw {type(exc).__name__}")
        raise
    else:
        _step("sync_gen:exit")


def nested_sync(inner: Annotated[str, Depends(sync_gen)]) -> str:
    _step("nested_sync")
    return inner + "!"


async def async_gen() -> AsyncIterator[str]:
    _step("async_gen:enter")
    try:
        yield "a"
    except Exception as exc:
        _step(f"async_gen:saw {type(exc).__name__}")
        raise
    else:
        _step("async_gen:exit")


async def async_value(page: int = 1) -> int:
    _step("async_value")
    return page


class CountingExecutor:
    """Wraps the thread pool and counts what is submitted to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.submitted = 0

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return self.inner.submit(fn, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> CountingExecutor:
    counting = CountingExecutor(concurrency_module._get_executor())
    monkeypatch.setattr(concurrency_module, "_get_executor", lambda: counting)
    return counting


def make_app(tmp_path: Path) -> Carboy:
    (tmp_path / "page.html").write_text("{{ site }}:{{ value }}:{{ lazy() }}")
    app = Carboy(Settings(debug=True, templates_dir=str(tmp_path)))

    @app.get("/plain")
    def plain(
        value: Annotated[str, Depends(sync_value)],
        inner: Annotated[str, Depends(nested_sync)],
        gen: Annotated[str, Depends(sync_gen)],
    ) -> dict[str, str]:
        _step("handler")
        return {"value": value, "inner": inner, "gen": gen, "marker": marker.get()}

    @app.get("/mixed")
    def mixed(
        gen: Annotated[str, Depends(sync_gen)],
        agen: Annotated[str, Depends(async_gen)],
        page: Annotated[int, Depends(async_value)],
    ) -> dict[str, Any]:
        _step("handler")
        return {"gen": gen, "agen": agen, "page": page}

    @app.get("/fails")
    def fails(
        agen: Annotated[str, Depends(async_gen)], gen: Annotated[str, Depends(sync_gen)]
    ) -> str:
        _step("handler")
        raise HTTPException(409, "conflict")

    @app.get("/page")
    def page(gen: Annotated[str, Depends(sync_gen)]) -> object:
        _step("handler")

        def lazy() -> str:
            _step("render")
            return "lazy"

        return render("page.html", {"value": gen, "lazy": lazy})

    @app.templates.context_processor
    async def site(request: Request) -> dict[str, str]:
        _step("processor")
        return {"site": "carboy"}

    return app


def _threads(*names: str) -> set[int]:
    return {thread for step, thread in steps if step in names}


def test_def_dependencies_handler_and_cleanup_share_one_hop(
    tmp_path: Path, hops: CountingExecutor
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        response = client.get("/plain")
    assert response.status_code == 200
    # The context variable a def dependency set is seen by the handler.
    assert response.json() == {"value": "v", "inner": "g!", "gen": "g", "marker": "set by sync_gen"}
    names = [step for step, _ in steps]
    assert names == ["sync_value", "sync_gen:enter", "nested_sync", "handler", "sync_gen:exit"]
    assert len(_threads(*names)) == 1
    assert threading.get_ident() not in _threads(*names)
    assert hops.submitted == 1


def test_async_dependencies_run_on_the_loop_around_the_hop(
    tmp_path: Path, hops: CountingExecutor
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        response = client.get("/mixed", params={"page": "3"})
    assert response.json() == {"gen": "g", "agen": "a", "page": 3}
    names = [step for step, _ in steps]
    # Async ones first (on the loop), then the hop; cleanup newest first.
    assert names == [
        "async_gen:enter",
        "async_value",
        "sync_gen:enter",
        "handler",
        "sync_gen:exit",
        "async_gen:exit",
    ]
    loop_threads = _threads("async_gen:enter", "async_value", "async_gen:exit")
    assert len(loop_threads) == 1
    assert _threads("sync_gen:enter", "handler", "sync_gen:exit").isdisjoint(loop_threads)
    assert len(_threads("sync_gen:enter", "handler", "sync_gen:exit")) == 1
    assert hops.submitted == 1


def test_a_bad_value_for_an_async_dependency_is_a_422_before_any_hop(
    tmp_path: Path, hops: CountingExecutor
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        response = client.get("/mixed", params={"page": "three"})
    assert response.status_code == 422
    assert "handler" not in [step for step, _ in steps]
    assert hops.submitted == 0
    # The async generator entered before the error is finished, with the error.
    assert steps[-1][0] == "async_gen:saw RequestValidationError"


def test_the_handlers_error_reaches_every_cleanup_newest_first(
    tmp_path: Path, hops: CountingExecutor
) -> None:
    with TestClient(make_app(tmp_path), raise_server_exceptions=False) as client:
        response = client.get("/fails")
    assert response.status_code == 409
    assert [step for step, _ in steps][-2:] == [
        "sync_gen:saw HTTPException",
        "async_gen:saw HTTPException",
    ]
    assert hops.submitted == 1


def test_a_template_renders_in_the_hop_before_cleanup(
    tmp_path: Path, hops: CountingExecutor
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        response = client.get("/page")
    assert response.text == "carboy:g:lazy"
    names = [step for step, _ in steps]
    assert names == ["sync_gen:enter", "handler", "processor", "render", "sync_gen:exit"]
    # The async context processor ran on the loop while the thread waited; the
    # rest, the render included, in the handler's thread.
    assert len(_threads("sync_gen:enter", "handler", "render", "sync_gen:exit")) == 1
    assert _threads("processor").isdisjoint(_threads("handler"))
    assert hops.submitted == 1
