"""Building the app: route middleware chosen per route (``Carboy.add_route_middleware``)."""

from __future__ import annotations

from typing import Any

import pytest

from carboy import Carboy, Request, SetupError
from carboy.middleware import Middleware
from carboy.routing import RouteInfo
from carboy.testing import TestClient
from carboy.types import ASGIApp, Receive, Scope, Send


class Tag:
    """Middleware that records the order it ran in, on the request's state."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {}).setdefault("ran", []).append(self.name)
        await self.app(scope, receive, send)


def make_app() -> tuple[Carboy, list[RouteInfo]]:
    app = Carboy(debug=True)
    seen: list[RouteInfo] = []

    def posts_only(info: RouteInfo) -> Middleware | None:
        seen.append(info)
        if "POST" in info.methods and not info.extra.get("skip"):
            return Middleware(Tag, name="chosen")
        return None

    app.add_route_middleware(posts_only)

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    @app.post("/write", extra={"middleware": [Middleware(Tag, name="own")]})
    async def write(request: Request) -> list[str]:
        ran: list[str] = request.scope["state"]["ran"]
        return ran

    @app.post("/skipped", extra={"skip": True})
    async def skipped(request: Request) -> Any:
        return request.scope.get("state", {}).get("ran", [])

    @app.websocket("/ws")
    async def ws() -> None: ...

    return app, seen


def test_the_factory_sees_every_route_once_at_build() -> None:
    app, seen = make_app()
    app.build()
    assert sorted(info.path for info in seen) == ["/plain", "/skipped", "/write", "/ws"]
    assert next(i for i in seen if i.path == "/ws").websocket
    with TestClient(app) as client:
        client.get("/plain")
        client.post("/write")
    assert len(seen) == 4  # nothing more per request


def test_the_chosen_middleware_is_innermost() -> None:
    app, _ = make_app()
    with TestClient(app) as client:
        assert client.post("/write").json() == ["own", "chosen"]
        assert client.post("/skipped").json() == []


def test_a_route_nothing_wraps_keeps_the_direct_path() -> None:
    app, _ = make_app()
    app.build()
    assert app._table.static["/plain"].direct
    assert not app._table.static["/write"].direct


def test_route_middleware_is_added_before_the_app_starts() -> None:
    app, _ = make_app()
    app.build()
    with pytest.raises(SetupError, match="add route middleware"):
        app.add_route_middleware(lambda info: None)
