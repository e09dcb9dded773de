"""The carboy.middleware package: Middleware and the exported names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import carboy.middleware
from carboy.middleware import CORSMiddleware, GZipMiddleware, Middleware, RequestIdMiddleware
from carboy.types import ASGIApp, Receive, Scope, Send


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello " * 100})


def test_all_is_sorted_and_complete() -> None:
    exported = carboy.middleware.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(carboy.middleware).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("carboy.middleware")
    }
    assert public == set(exported)


def test_wrap_builds_the_middleware_with_its_options() -> None:
    declared = Middleware(GZipMiddleware, minimum_size=10, compresslevel=1)
    wrapped = declared.wrap(hello)
    assert isinstance(wrapped, GZipMiddleware)
    assert wrapped.app is hello
    assert (wrapped.minimum_size, wrapped.compresslevel) == (10, 1)


def test_wrap_passes_positional_options() -> None:
    def factory(app: ASGIApp, tag: str, *, loud: bool = False) -> ASGIApp:
        calls.append((app, tag, loud))
        return app

    calls: list[tuple[ASGIApp, str, bool]] = []
    assert Middleware(factory, "t", loud=True).wrap(hello) is hello
    assert calls == [(hello, "t", True)]


def test_each_wrap_builds_a_new_instance() -> None:
    declared = Middleware(GZipMiddleware)
    assert declared.wrap(hello) is not declared.wrap(hello)


def test_repr() -> None:
    declared = Middleware(CORSMiddleware, allow_origins=["https://a.example"], max_age=5)
    assert repr(declared) == (
        "Middleware(CORSMiddleware, allow_origins=['https://a.example'], max_age=5)"
    )


@pytest.mark.anyio
async def test_a_stack_built_from_declarations_runs() -> None:
    stack: Any = hello
    for declared in reversed(
        [Middleware(RequestIdMiddleware), Middleware(GZipMiddleware, minimum_size=100)]
    ):
        stack = declared.wrap(stack)
    transport = httpx.ASGITransport(app=stack)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.text == "hello " * 100
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.headers["x-request-id"]) == 32
