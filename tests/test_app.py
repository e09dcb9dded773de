"""Tests for carboy.app: building, lifespan, production checks, dispatch edges."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from carboy import Carboy, Module, Request, Router
from carboy.exceptions import ConfigurationError, SetupError
from carboy.settings import Settings
from carboy.testing import TestClient, WebSocketDenied
from carboy.types import ASGIApp, Message, Receive, Scope, Send
from carboy.websockets import WebSocket


def production(**kwargs: Any) -> Carboy:
    return Carboy(debug=False, secret_key="x" * 40, allowed_hosts=["testserver"], **kwargs)


# -- production checks -----------------------------------------------------------
def test_production_without_a_secret_key_refuses_to_start() -> None:
    app = Carboy(Settings(debug=False, secret_key=None, allowed_hosts=["testserver"]))
    with pytest.raises(ConfigurationError) as info:
        app.build()
    assert "CARBOY_SECRET_KEY" in str(info.value)
    assert "refuses to start in production without a secret key" in str(info.value)
    with (
        pytest.raises(RuntimeError, match="CARBOY_SECRET_KEY"),
        TestClient(Carboy(Settings(debug=False, secret_key=None))),
    ):
        pass  # pragma: no cover


def test_production_with_a_short_secret_key_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="at least"):
        Carboy(debug=False, secret_key="short").build()


def test_settings_overrides_and_properties() -> None:
    settings = Settings(debug=True, max_body_size=1234)
    app = Carboy(settings, allowed_hosts=["a.example"], name="site")
    assert app.settings is not settings  # overrides make a copy
    assert app.settings.allowed_hosts == ["a.example"]
    assert (app.debug, app.max_body_size, app.app_name) == (True, 1234, "site")
    assert repr(app) == "<Carboy 'site' debug=True>"
    app.state.thing = 1
    assert app.state.thing == 1


# -- building -------------------------------------------------------------------------
def test_the_app_builds_on_the_first_request_without_lifespan() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def index() -> str:
        return "built"

    client = TestClient(app)
    try:
        assert client.get("/").text == "built"
    finally:
        client.close()
    with pytest.raises(SetupError):
        app.get("/late")(index)


def test_build_is_idempotent_and_freezes_setup() -> None:
    app = Carboy(debug=True)
    module = Module("m")
    app.install(module)
    app.build()
    app.build()
    for attempt in (
        lambda: app.install(Module("late")),
        lambda: module.on_startup(lambda: None),
        lambda: module.on_shutdown(lambda: None),
        lambda: app.provide(int, 1),
        lambda: app.add_middleware(_Passthrough),
        lambda: module.exception_handler(404),
        lambda: module.add_exception_handler(ValueError, lambda r, e: None),
        lambda: module.check(lambda a: []),
        lambda: module.context_processor(lambda r: {}),
    ):
        with pytest.raises(SetupError):
            attempt()


class _Passthrough:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def test_user_middleware_wraps_the_app() -> None:
    seen: list[str] = []

    class Tag:
        def __init__(self, app: ASGIApp, *, name: str) -> None:
            self.app = app
            self.name = name

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(self.name)

                async def tagged(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        message["headers"] = [*message["headers"], (b"x-tag", self.name.encode())]
                    await send(message)

                await self.app(scope, receive, tagged)
                return
            await self.app(scope, receive, send)

    app = Carboy(debug=True)
    app.add_middleware(Tag, name="outer")
    app.add_middleware(Tag, name="inner")

    @app.get("/")
    async def index() -> str:
        seen.append("handler")
        return "x"

    with TestClient(app) as client:
        response = client.get("/")
        assert response.headers.get_list("x-tag") == ["inner", "outer"]
        assert client.get("/missing").status_code == 404
    assert seen == ["outer", "inner", "handler", "outer", "inner"]


def test_url_path_for_builds_the_app() -> None:
    app = Carboy(debug=True)

    @app.get("/users/{id:int}", name="user")
    async def user(id: int) -> None:  # pragma: no cover
        pass

    assert app.url_path_for("user", id=5) == "/users/5"
    assert [r.path for r in app.resolved_routes if r.name == "user"] == ["/users/{id:int}"]


@pytest.mark.anyio
async def test_unknown_scope_type_is_refused() -> None:
    app = Carboy(debug=True)
    app.build()

    async def receive() -> Message:  # pragma: no cover
        return {}

    async def send(message: Message) -> None:  # pragma: no cover
        pass

    with pytest.raises(RuntimeError, match="does not handle ASGI scope type 'webtransport'"):
        await app({"type": "webtransport", "path": "/"}, receive, send)


# -- websockets through the app ---------------------------------------------------
def test_websocket_routes_and_fallbacks() -> None:
    app = Carboy(debug=True)

    @app.get("/live")
    async def live_page() -> str:
        return "page"

    @app.websocket("/{room}")
    async def room(ws: WebSocket, room: str) -> None:
        await ws.accept()
        await ws.send_text(f"room {room}")
        await ws.close()

    with TestClient(app) as client:
        assert client.get("/live").text == "page"
        # /live is a static HTTP route; the WebSocket falls through to /{room}.
        with client.websocket_connect("/live") as ws:
            assert ws.receive_text() == "room live"
        with client.websocket_connect("/kitchen") as ws:
            assert ws.receive_text() == "room kitchen"
        with pytest.raises(WebSocketDenied), client.websocket_connect("/a/b"):
            pass  # pragma: no cover


def test_request_reaches_the_app_object() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def index(request: Request) -> bool:
        return request.app is app  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/").json() is True


def test_production_serves_the_allowed_host() -> None:
    app = production()

    @app.get("/")
    async def index() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
        assert client.get("/", headers={"host": "other.example"}).status_code == 400


def test_router_middleware_wraps_path_only_handlers() -> None:
    """Handlers the dispatcher would call directly still pass through router middleware."""
    from carboy import Carboy, Router
    from carboy.middleware import Middleware
    from carboy.testing import TestClient

    seen: list[str] = []

    class Tap:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            seen.append(scope["path"])
            await self.app(scope, receive, send)

    tapped = Router("/t", middleware=[Middleware(Tap)])

    @tapped.get("/plain")
    async def plain() -> str:
        return "p"

    @tapped.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @tapped.get("/ignored/{x}")
    async def ignored() -> None:
        return None

    app = Carboy(debug=True)
    app.include(tapped)

    @app.get("/untapped")
    async def untapped() -> str:
        return "u"

    with TestClient(app) as client:
        assert client.get("/t/plain").text == "p"
        assert client.get("/t/items/7").json() == {"id": 7}
        assert client.get("/t/ignored/x").status_code == 204
        assert client.get("/untapped").text == "u"
    assert seen == ["/t/plain", "/t/items/7", "/t/ignored/x"]


# -- the dispatcher's direct calls (handlers that need only the path) ---------------
def _direct_app() -> Carboy:
    app = production()

    @app.get("/text")
    async def text() -> str:
        return "hi"

    @app.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/made")
    async def made() -> Any:
        from carboy import Response

        return Response("made", 201, media_type="text/plain")

    @app.get("/nothing", status_code=202)
    async def nothing() -> None:
        return None

    @app.get("/broken")
    async def broken() -> str:
        raise RuntimeError("boom")

    @app.get("/denied")
    async def denied() -> str:
        from carboy import HTTPException

        raise HTTPException(403, "not yours")

    @app.route("/only-head", methods=["HEAD"])
    async def only_head() -> str:
        return "never sent"

    @app.exception_handler(RuntimeError)
    async def on_runtime(request: Request, exc: RuntimeError) -> Any:
        from carboy import JSONResponse

        # The error handler sees a filled-in scope: app and path params.
        return JSONResponse({"app": request.app is app, "params": request.path_params}, 500)

    return app


def test_direct_handlers_send_body_headers_and_defaults() -> None:
    with TestClient(_direct_app(), base_url="http://testserver") as client:
        r = client.get("/text")
        assert (r.status_code, r.text, r.headers["content-length"]) == (200, "hi", "2")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in r.headers
        assert client.get("/items/7").json() == {"id": 7}


def test_direct_handlers_over_https_send_hsts() -> None:
    with TestClient(_direct_app(), base_url="https://testserver") as client:
        r = client.get("/items/7")
        assert r.json() == {"id": 7}
        assert r.headers["strict-transport-security"].startswith("max-age=")


def test_direct_handlers_head_has_length_but_no_body() -> None:
    with TestClient(_direct_app()) as client:
        r = client.head("/items/12345")
        assert r.status_code == 200
        assert r.content == b""
        assert r.headers["content-length"] == str(len(b'{"id":12345}'))
        explicit = client.head("/only-head")
        assert (explicit.status_code, explicit.content) == (200, b"")
        assert explicit.headers["content-length"] == "10"
        assert client.get("/only-head").status_code == 405


def test_direct_handlers_returning_other_values_use_the_general_path() -> None:
    with TestClient(_direct_app()) as client:
        r = client.get("/made")
        assert (r.status_code, r.text, r.headers["content-type"]) == (
            201,
            "made",
            "text/plain; charset=utf-8",
        )
        assert r.headers["x-frame-options"] == "DENY"
        empty = client.get("/nothing")
        assert (empty.status_code, empty.content) == (202, b"")
        assert empty.headers["x-frame-options"] == "DENY"


def test_direct_handler_errors_reach_handlers_with_a_filled_scope() -> None:
    with TestClient(_direct_app(), raise_server_exceptions=False) as client:
        r = client.get("/broken")
        assert (r.status_code, r.json()) == (500, {"app": True, "params": {}})
        denied = client.get("/denied", headers={"accept": "application/json"})
        assert denied.status_code == 403
        assert denied.json()["detail"] == "not yours"
        assert denied.headers["x-content-type-options"] == "nosniff"


def test_static_routes_get_a_fresh_path_params_dict() -> None:
    app = production()
    seen: list[dict[str, Any]] = []

    @app.get("/a")
    async def a(request: Request) -> str:
        seen.append(dict(request.path_params))
        request.path_params["mutated"] = "yes"  # must not leak into other requests
        return "a"

    @app.get("/b")
    async def b() -> Any:
        from carboy import Response

        return Response("b")

    with TestClient(app) as client:
        client.get("/a")
        client.get("/a")
        assert seen == [{}, {}]
        assert client.get("/b").text == "b"


# -- the Host check in production (in the dispatcher, or outermost in a stack) ------------
class _Seen:
    """User middleware that records the paths it is called with."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def _guarded_app(seen: list[str] | None = None) -> Carboy:
    app = production()
    if seen is not None:
        app.add_middleware(_Seen, seen)

    @app.get("/json")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.websocket("/ws")
    async def ws_route(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("in")
        await ws.close()

    return app


@pytest.mark.parametrize("with_middleware", [False, True], ids=["dispatcher", "stack"])
def test_bad_hosts_are_refused_before_anything_runs(
    with_middleware: bool, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    app = _guarded_app(seen if with_middleware else None)
    with TestClient(app) as client:
        assert client.get("/json").json() == {"hello": "world"}
        assert client.get("/items/3").json() == {"id": 3}
        with caplog.at_level(logging.WARNING, logger="carboy.security"):
            bad = client.get("/json", headers={"host": "evil.example"})
        assert bad.status_code == 400
        assert bad.headers["x-frame-options"] == "DENY"  # the app's headers, even on a 400
        assert "evil.example" in caplog.text
        assert client.get("/items/3", headers={"host": "testserver:80@evil"}).status_code == 400
        twice = client.get("/json", headers=[("host", "testserver"), ("host", "evil.example")])
        assert twice.status_code == 400
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "in"
        with (
            pytest.raises(WebSocketDenied),
            client.websocket_connect("/ws", headers={"host": "evil.example"}),
        ):
            pass  # pragma: no cover
    if with_middleware:
        # The user's middleware saw only the requests that passed the Host check.
        assert seen == ["/json", "/items/3", "/ws"]


def test_app_middleware_sees_the_app_in_the_scope() -> None:
    seen: list[object] = []

    class NeedsApp:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(scope.get("app"))
            await self.app(scope, receive, send)

    app = Carboy(debug=True)
    app.add_middleware(NeedsApp)

    @app.get("/")
    async def index() -> str:
        return "x"

    with TestClient(app) as client:
        client.get("/")
    assert seen == [app]


def test_route_middleware_is_innermost_and_for_that_route_only() -> None:
    from carboy.middleware import Middleware

    order: list[str] = []

    class Mark:
        def __init__(self, app: ASGIApp, name: str) -> None:
            self.app, self.name = app, name

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            order.append(self.name)
            await self.app(scope, receive, send)

    router = Router("/r", middleware=[Middleware(Mark, "router")])

    @router.get("/a", extra={"middleware": [Middleware(Mark, "route")]})
    async def a() -> str:
        order.append("handler")
        return "a"

    @router.get("/b")
    async def b() -> str:
        return "b"

    app = Carboy(debug=True)
    app.include(router)
    with TestClient(app) as client:
        assert client.get("/r/a").text == "a"
        assert order == ["router", "route", "handler"]
        order.clear()
        assert client.get("/r/b").text == "b"
        assert order == ["router"]


def test_route_middleware_must_be_a_list() -> None:
    app = Carboy(debug=True)
    with pytest.raises(ConfigurationError, match="middleware"):

        @app.get("/", extra={"middleware": "gzip"})
        async def index() -> str:
            return ""
