"""HTTPSRedirectMiddleware and the ``https_redirect`` setting."""

from __future__ import annotations

import pytest

from carboy import Carboy, Settings
from carboy.middleware import HTTPSRedirectMiddleware
from carboy.middleware.https import https_url
from carboy.testing import TestClient

from .conftest import CallASGI, MakeScope

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"


def make_app(**settings: object) -> Carboy:
    app = Carboy(Settings(secret_key=KEY, allowed_hosts=["example.com"], **settings))

    @app.get("/items/{id:int}")
    async def item(id: int) -> dict[str, int]:
        return {"id": id}

    @app.post("/items")
    async def create() -> str:
        return "made"

    return app


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
def test_plain_http_is_redirected_with_308_for_every_method(method: str) -> None:
    client = TestClient(make_app(https_redirect=True), "http://example.com")
    response = client.request(method, "/items/3?q=a%20b&x=1", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "https://example.com/items/3?q=a%20b&x=1"
    # The redirect carries the default headers (and no HSTS: it is plain HTTP).
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers


def test_https_requests_are_served() -> None:
    client = TestClient(make_app(https_redirect=True), "https://example.com")
    response = client.get("/items/3")
    assert response.status_code == 200
    assert response.json() == {"id": 3}
    assert "strict-transport-security" in response.headers


def test_setting_off_serves_plain_http() -> None:
    client = TestClient(make_app(), "http://example.com")
    assert client.get("/items/3", follow_redirects=False).status_code == 200


def test_following_the_redirect_reaches_the_handler() -> None:
    client = TestClient(make_app(https_redirect=True), "http://example.com")
    response = client.post("/items")
    assert response.status_code == 200
    assert response.text == "made"
    assert str(response.url) == "https://example.com/items"


def test_host_is_checked_before_redirecting() -> None:
    # No open redirect to a forged Host: the Host check answers first.
    client = TestClient(make_app(https_redirect=True), "http://evil.com")
    response = client.get("/items/3", follow_redirects=False)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_in_debug_too() -> None:
    app = Carboy(debug=True, settings=Settings(https_redirect=True))

    @app.get("/")
    async def home() -> str:
        return "hi"

    response = TestClient(app).get("/", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "https://testserver/"


@pytest.mark.parametrize(
    ("host", "path", "query", "expected"),
    [
        (b"example.com", "/", b"", "https://example.com/"),
        (b"example.com:80", "/a", b"", "https://example.com/a"),
        (b"example.com:8080", "/a", b"b=1", "https://example.com:8080/a?b=1"),
        (b"[::1]:80", "/x y", b"", "https://[::1]/x%20y"),
    ],
)
def test_https_url(host: bytes, path: str, query: bytes, expected: str) -> None:
    scope = {"headers": [(b"host", host)], "path": path, "query_string": query}
    assert https_url(scope) == expected


def test_https_url_without_host_uses_the_server() -> None:
    scope = {"headers": [], "path": "/", "server": ("10.0.0.5", 80)}
    assert https_url(scope) == "https://10.0.0.5/"


@pytest.mark.anyio
async def test_plain_websocket_is_closed(call_asgi: CallASGI, make_scope: MakeScope) -> None:
    async def inner(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not reached")

    sent = await call_asgi(HTTPSRedirectMiddleware(inner), make_scope("websocket"))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Use wss://"}]


@pytest.mark.anyio
async def test_secure_websocket_and_lifespan_pass(
    call_asgi: CallASGI, make_scope: MakeScope
) -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, str], receive: object, send: object) -> None:
        seen.append(scope["type"])

    app = HTTPSRedirectMiddleware(inner)  # type: ignore[arg-type]
    await call_asgi(app, make_scope("websocket", scheme="wss"))
    await call_asgi(app, {"type": "lifespan"})
    assert seen == ["websocket", "lifespan"]
