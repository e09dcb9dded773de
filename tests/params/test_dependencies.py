"""Dependencies: Depends sync/async/generators, nesting, caching, cleanup and side
dependencies (carboy.params._plan: Plan.call and unwind)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from carboy import Carboy, Depends, Header, HTTPException, Request, Router
from carboy.exceptions import ConfigurationError
from carboy.testing import TestClient

# The dependencies live at module level: with ``from __future__ import
# annotations``, carboy resolves ``Depends(...)`` in annotations through the
# module's globals, as it does in an application.
log: list[str] = []


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    log.clear()


def sync_dep() -> str:
    log.append("sync")
    return "sync"


async def async_dep() -> str:
    log.append("async")
    return "async"


def sync_gen_dep() -> Iterator[str]:
    log.append("sync_gen:enter")
    try:
        yield "sync_gen"
    except ValueError as exc:
        log.append(f"sync_gen:error:{exc}")
        raise
    finally:
        log.append("sync_gen:exit")


async def async_gen_dep() -> AsyncIterator[str]:
    log.append("async_gen:enter")
    try:
        yield "async_gen"
    except ValueError as exc:
        log.append(f"async_gen:error:{exc}")
        raise
    finally:
        log.append("async_gen:exit")


def counted() -> int:
    log.append("counted")
    return len(log)


def uses_counted(a: Annotated[int, Depends(counted)]) -> int:
    return a


def uses_counted_again(
    a: Annotated[int, Depends(counted)], b: Annotated[int, Depends(uses_counted)]
) -> int:
    return a + b


def uncached() -> int:
    log.append("uncached")
    return len(log)


async def token(x_token: Annotated[str, Header()]) -> str:
    if x_token != "secret":
        raise HTTPException(401, "Bad token", {"www-authenticate": "Bearer"})
    return x_token


async def user(tok: Annotated[str, Depends(token)], request: Request) -> dict[str, str]:
    return {"token": tok, "path": request.url.path}


async def bad_cleanup() -> AsyncIterator[int]:
    yield 1
    raise RuntimeError("cleanup exploded")


async def bad_finally() -> AsyncIterator[int]:
    try:
        yield 1
    finally:
        raise RuntimeError("cleanup exploded: secret detail")


def bad_sync_cleanup() -> Iterator[int]:
    yield 1
    raise RuntimeError("sync cleanup exploded")


async def never_yields() -> AsyncIterator[int]:
    if False:  # pragma: no cover
        yield 1


def never_yields_sync() -> Iterator[int]:
    if False:  # pragma: no cover
        yield 1


async def yields_twice() -> AsyncIterator[int]:
    yield 1
    yield 2


async def swallow() -> AsyncIterator[int]:
    try:
        yield 1
    except ValueError:
        log.append("swallowed")


def side(request: Request) -> None:
    log.append(f"side:{request.url.path}")


def router_side() -> None:
    log.append("router_side")


@pytest.fixture
def app() -> Carboy:
    return Carboy(debug=True)


# -- kinds ---------------------------------------------------------------
def test_every_kind_of_dependency(app: Carboy) -> None:
    @app.get("/kinds")
    async def handler(
        a: Annotated[str, Depends(sync_dep)],
        b: Annotated[str, Depends(async_dep)],
        c: Annotated[str, Depends(sync_gen_dep)],
        d: Annotated[str, Depends(async_gen_dep)],
    ) -> list[str]:
        log.append("handler")
        return [a, b, c, d]

    with TestClient(app) as client:
        assert client.get("/kinds").json() == ["sync", "async", "sync_gen", "async_gen"]
    # Cleanup runs newest first, after the handler.
    assert log == [
        "sync",
        "async",
        "sync_gen:enter",
        "async_gen:enter",
        "handler",
        "async_gen:exit",
        "sync_gen:exit",
    ]


def test_default_value_form_of_depends(app: Carboy) -> None:
    @app.get("/d")
    async def handler(v: str = Depends(async_dep)) -> str:
        return v

    with TestClient(app) as client:
        assert client.get("/d").text == "async"


def test_nested_dependencies_with_request_values(app: Carboy) -> None:
    @app.get("/me")
    async def me(u: Annotated[dict[str, str], Depends(user)]) -> dict[str, str]:
        return u

    with TestClient(app) as client:
        assert client.get("/me", headers={"x-token": "secret"}).json() == {
            "token": "secret",
            "path": "/me",
        }
        response = client.get("/me", headers={"x-token": "nope"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {"status": 401, "detail": "Bad token"}
        response = client.get("/me")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["header", "x-token"]


def test_dependency_runs_once_per_request(app: Carboy) -> None:
    @app.get("/c")
    async def handler(
        a: Annotated[int, Depends(counted)],
        b: Annotated[int, Depends(uses_counted)],
        c: Annotated[int, Depends(uses_counted_again)],
    ) -> list[int]:
        return [a, b, c]

    with TestClient(app) as client:
        assert client.get("/c").json() == [1, 1, 2]
        assert log == ["counted"]
        assert client.get("/c").json() == [2, 2, 4]  # a new request computes it again
    assert log == ["counted", "counted"]


def test_use_cache_false_calls_every_time(app: Carboy) -> None:
    @app.get("/u")
    async def handler(
        a: Annotated[int, Depends(uncached, use_cache=False)],
        b: Annotated[int, Depends(uncached, use_cache=False)],
    ) -> list[int]:
        return [a, b]

    with TestClient(app) as client:
        assert client.get("/u").json() == [1, 2]


# -- cleanup ---------------------------------------------------------------
def test_cleanup_gets_the_handler_error(app: Carboy) -> None:
    @app.get("/fail")
    async def handler(
        c: Annotated[str, Depends(sync_gen_dep)], d: Annotated[str, Depends(async_gen_dep)]
    ) -> None:
        raise ValueError("boom")

    with TestClient(app) as client:
        response = client.get("/fail")
    assert response.status_code == 500
    assert log == [
        "sync_gen:enter",
        "async_gen:enter",
        "async_gen:error:boom",
        "async_gen:exit",
        "sync_gen:error:boom",
        "sync_gen:exit",
    ]


def test_cleanup_runs_for_http_exceptions_and_keeps_the_status(app: Carboy) -> None:
    @app.get("/nf")
    def handler(d: Annotated[str, Depends(async_gen_dep)]) -> None:
        raise HTTPException(404, "gone")

    with TestClient(app) as client:
        response = client.get("/nf")
    assert response.status_code == 404
    assert response.json()["detail"] == "gone"
    assert log == ["async_gen:enter", "async_gen:exit"]


def test_dependencies_do_not_run_for_an_invalid_request(app: Carboy) -> None:
    @app.get("/v")
    async def handler(d: Annotated[str, Depends(sync_gen_dep)], n: int) -> None:
        pass  # pragma: no cover

    with TestClient(app) as client:
        assert client.get("/v?n=x").status_code == 422
    assert log == []


def test_cleanup_runs_when_a_later_dependency_fails(app: Carboy) -> None:
    @app.get("/v")
    async def handler(
        d: Annotated[str, Depends(sync_gen_dep)], t: Annotated[str, Depends(token)]
    ) -> None:
        pass  # pragma: no cover

    with TestClient(app) as client:
        assert client.get("/v", headers={"x-token": "wrong"}).status_code == 401
    assert log == ["sync_gen:enter", "sync_gen:exit"]


@pytest.mark.parametrize("dep", [bad_cleanup, bad_sync_cleanup])
def test_an_exception_in_cleanup_gives_a_500_and_does_not_hang(app: Carboy, dep: Any) -> None:
    async def handler(v: int) -> dict[str, int]:
        return {"v": v}

    # Annotations as objects: ``dep`` is a local name, out of reach of string annotations.
    handler.__annotations__ = {"v": Annotated[int, Depends(dep)], "return": dict}
    app.add_route("/x", handler)
    done = threading.Event()
    result: list[int] = []

    def run() -> None:
        with TestClient(app, timeout=10) as client:
            result.append(client.get("/x").status_code)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(15), "the request hung"
    assert result == [500]


def test_cleanup_error_replaces_the_handler_error_in_production() -> None:
    app = Carboy(debug=False, secret_key="x" * 40, allowed_hosts=["testserver"])

    @app.get("/x")
    async def handler(v: Annotated[int, Depends(bad_finally)]) -> None:
        raise HTTPException(409, "conflict")

    @app.get("/y")
    async def plain(v: Annotated[int, Depends(bad_cleanup)]) -> None:
        raise HTTPException(409, "conflict")

    with TestClient(app) as client:
        response = client.get("/x")
        assert response.status_code == 500
        assert response.json() == {"status": 500, "detail": "Internal Server Error"}
        # Code after ``yield`` (not in ``finally``) is skipped when an error is thrown in.
        assert client.get("/y").status_code == 409


def test_a_dependency_that_swallows_the_error_still_lets_it_through(app: Carboy) -> None:
    @app.get("/s")
    async def handler(v: Annotated[int, Depends(swallow)]) -> None:
        raise ValueError("boom")

    with TestClient(app) as client:
        assert client.get("/s").status_code == 500
    assert log == ["swallowed"]


@pytest.mark.parametrize("dep", [never_yields, never_yields_sync])
def test_generator_that_never_yields_is_a_clear_500(
    app: Carboy, dep: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(v: int) -> None:
        pass  # pragma: no cover

    handler.__annotations__ = {"v": Annotated[int, Depends(dep)], "return": None}
    app.add_route("/n", handler)

    with TestClient(app, timeout=10) as client:
        response = client.get("/n")
    assert response.status_code == 500
    assert f"Dependency '{dep.__qualname__}' returned without yielding" in response.json()["detail"]


def test_generator_that_yields_twice_is_an_error(app: Carboy) -> None:
    @app.get("/t")
    async def handler(v: Annotated[int, Depends(yields_twice)]) -> int:
        return v  # type: ignore[return-value]

    with TestClient(app) as client:
        response = client.get("/t")
    assert response.status_code == 500
    assert "yielded more than once" in response.json()["detail"]


# -- side dependencies -----------------------------------------------------------
def test_route_and_router_level_dependencies(app: Carboy) -> None:
    router = Router(prefix="/r", dependencies=[Depends(router_side)])

    @router.get("/a", dependencies=[Depends(side), Depends(sync_gen_dep)])
    async def a() -> str:
        log.append("a")
        return "a"

    @router.get("/b")
    async def b() -> str:
        log.append("b")
        return "b"

    @app.get("/plain")
    async def plain() -> str:
        log.append("plain")
        return "plain"

    app.include(router)
    with TestClient(app) as client:
        assert client.get("/r/a").text == "a"
        assert log == ["router_side", "side:/r/a", "sync_gen:enter", "a", "sync_gen:exit"]
        log.clear()
        assert client.get("/r/b").text == "b"
        assert log == ["router_side", "b"]
        log.clear()
        assert client.get("/plain").text == "plain"
        assert log == ["plain"]


def test_side_dependency_can_refuse_the_request(app: Carboy) -> None:
    @app.get("/guarded", dependencies=[Depends(token)])
    async def guarded() -> str:
        return "in"

    with TestClient(app) as client:
        assert client.get("/guarded", headers={"x-token": "secret"}).text == "in"
        assert client.get("/guarded", headers={"x-token": "x"}).status_code == 401


# -- build-time errors ---------------------------------------------------------
def test_dependency_cycle_is_refused(app: Carboy) -> None:
    def first(x: int = Depends(lambda: 0)) -> int:  # pragma: no cover
        return x

    def second(y: int = Depends(first)) -> int:  # pragma: no cover
        return y

    # Close the loop: first now depends on second.
    first.__defaults__ = (Depends(second),)

    @app.get("/cycle")
    async def handler(v: int = Depends(first)) -> None:  # pragma: no cover
        pass

    with pytest.raises(
        ConfigurationError, match=r"dependency cycle .*first -> .*second -> .*first"
    ):
        app.build()
