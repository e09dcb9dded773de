"""WebSocketOriginMiddleware, alone and as the check a production app runs."""

from __future__ import annotations

import logging

import pytest

from carboy import Carboy, WebSocket
from carboy.exceptions import ConfigurationError
from carboy.middleware import WebSocketOriginMiddleware
from carboy.settings import Settings
from carboy.testing import TestClient, WebSocketDenied
from carboy.types import Receive, Scope, Send

KEY = "k" * 40


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})


def connects(app: object, origin: str | None, host: str = "testserver") -> bool:
    headers = {"host": host} if origin is None else {"origin": origin, "host": host}
    with TestClient(app) as client:  # type: ignore[arg-type]
        try:
            with client.websocket_connect("/ws", headers=headers):
                return True
        except WebSocketDenied as denied:
            status = denied.status_code
    assert status == 403
    return False


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser
        ("http://testserver", True),  # the page's own origin
        ("https://TestServer:8443", True),  # same host, any scheme or port
        ("https://app.example.com", True),
        ("https://app.example.com:443", True),  # the default port is the same origin
        ("http://app.example.com", False),  # another scheme is another origin
        ("https://app.example.com:8443", False),
        ("https://shop.example.org", True),  # host pattern
        ("https://example.org", True),
        ("https://evil.com", False),
        ("https://example.org.evil.com", False),
        ("null", False),  # sandboxed iframes, file:// pages
        ("https://user@example.org", False),
        ("https://example.org/path", False),
        ("ftp://example.org", False),
        ("https://ex%C3%A4mple.org", False),
        ("", False),
    ],
)
def test_origins(origin: str | None, allowed: bool) -> None:
    app = WebSocketOriginMiddleware(
        echo_app, allowed_origins=["https://app.example.com", ".example.org"]
    )
    assert connects(app, origin) is allowed


def test_star_allows_any_origin() -> None:
    app = WebSocketOriginMiddleware(echo_app, allowed_origins=["*"])
    assert connects(app, "https://evil.com")
    assert connects(app, "null")


def test_empty_list_allows_only_the_pages_own_origin() -> None:
    app = WebSocketOriginMiddleware(echo_app, allowed_origins=[])
    assert connects(app, "http://testserver")
    assert not connects(app, "http://other")


def test_two_origin_headers_are_refused() -> None:
    scope: Scope = {
        "type": "websocket",
        "headers": [(b"origin", b"http://testserver"), (b"origin", b"http://testserver")],
    }
    assert WebSocketOriginMiddleware(echo_app, allowed_origins=[]).allows(
        {**scope, "headers": [*scope["headers"][:1], (b"host", b"testserver")]}
    )
    assert not WebSocketOriginMiddleware(echo_app, allowed_origins=[]).allows(scope)
    non_ascii: Scope = {
        "type": "websocket",
        "headers": [(b"origin", "https://\u00e4.org".encode())],
    }
    assert not WebSocketOriginMiddleware(echo_app, allowed_origins=[".org"]).allows(non_ascii)


def test_http_passes_untouched() -> None:
    app = WebSocketOriginMiddleware(echo_app, allowed_origins=[])
    with TestClient(app) as client:
        assert client.get("/", headers={"origin": "https://evil.com"}).text == "ok"


def test_refusals_are_logged_to_carboy_security(caplog: pytest.LogCaptureFixture) -> None:
    app = WebSocketOriginMiddleware(echo_app, allowed_origins=[])
    with caplog.at_level(logging.WARNING, logger="carboy.security"):
        assert not connects(app, "https://evil.com")
    [record] = [r for r in caplog.records if r.name == "carboy.security"]
    assert "Refused WebSocket handshake to '/ws' from Origin b'https://evil.com'" in (
        record.getMessage()
    )


@pytest.mark.anyio
async def test_without_the_denial_extension_it_closes_before_accepting() -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        raise AssertionError("not read")  # pragma: no cover

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope: Scope = {"type": "websocket", "path": "/", "headers": [(b"origin", b"https://x.com")]}
    await WebSocketOriginMiddleware(echo_app, allowed_origins=[])(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Origin not allowed"}]


@pytest.mark.parametrize(
    ("origins", "error"),
    [
        ("https://a.com", "allowed_origins must be a list"),
        (["https://a.com/path"], "allowed origin 'https://a.com/path' is not an origin"),
        (["https://"], "is not an origin"),
        (["not a host"], "allowed_hosts entry 'not a host' is not a host name"),
    ],
)
def test_bad_configuration(origins: object, error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        WebSocketOriginMiddleware(echo_app, allowed_origins=origins)  # type: ignore[arg-type]


# -- the check a carboy app runs --------------------------------------------------------


def carboy_app(**settings: object) -> Carboy:
    app = Carboy(Settings(secret_key=KEY, **settings))  # type: ignore[arg-type]

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await socket.close()

    return app


def test_production_refuses_a_foreign_origin() -> None:
    # The review's finding: a foreign page's handshake was accepted.
    app = carboy_app(allowed_hosts=["testserver", "www.example.com"])
    assert not connects(app, "https://evil.com")
    assert connects(app, "https://www.example.com")
    assert connects(app, "http://testserver")
    assert connects(app, None)


def test_production_with_middleware_still_checks() -> None:
    from carboy.middleware import GZipMiddleware

    app = carboy_app(allowed_hosts=["testserver"])
    app.add_middleware(GZipMiddleware)
    assert not connects(app, "https://evil.com")
    assert connects(app, "http://testserver")


def test_any_host_still_means_same_origin_only() -> None:
    app = carboy_app(allowed_hosts=["*"])
    assert not connects(app, "https://evil.com")
    assert connects(app, "https://testserver")


def test_debug_does_not_check() -> None:
    assert connects(carboy_app(debug=True), "https://evil.com")


@pytest.mark.parametrize(
    ("setting", "origin", "allowed"),
    [
        (["*"], "https://evil.com", True),  # the opt-out
        (["https://app.example.com"], "https://app.example.com", True),
        (["https://app.example.com"], "https://www.example.com", False),
        ("https://a.com,https://b.com", "https://b.com", True),
    ],
)
def test_websocket_allowed_origins_setting(setting: object, origin: str, allowed: bool) -> None:
    app = carboy_app(
        allowed_hosts=["testserver", "www.example.com"], websocket_allowed_origins=setting
    )
    assert connects(app, origin) is allowed


# -- TrustedOrigins and parse_origin (the CSRF check of carboy.auth uses them) ---------
def test_parse_origin_normalises_and_refuses_what_is_not_an_origin() -> None:
    from carboy.middleware import parse_origin

    assert parse_origin("HTTPS://Shop.Example.com:443") == "https://shop.example.com"
    assert parse_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert parse_origin("http://[::1]:80") == "http://[::1]"
    for bad in (
        "null",
        "",
        "shop.example.com",
        "https://a.com/x",
        "https://u@a.com",
        "ftp://a.com",
    ):
        assert parse_origin(bad) is None, bad


def test_trusted_origins_match_full_origins_and_host_patterns() -> None:
    from carboy.middleware import TrustedOrigins

    trusted = TrustedOrigins(["https://pay.example.com", ".partner.example", "api.example.org"])
    assert not trusted.any
    assert trusted.match("https://pay.example.com:443")
    assert not trusted.match("http://pay.example.com")  # a full origin pins the scheme
    assert trusted.match("http://a.b.partner.example:8080")
    assert trusted.match("https://api.example.org")
    assert not trusted.match("https://evil.example")
    assert not trusted.match("null")
    every = TrustedOrigins(["*"])
    assert every.any and every.match("https://anything.example")
    assert not every.match("null")  # an opaque origin is no origin, even under "*"
    with pytest.raises(ConfigurationError, match="must be a list, not a single string"):
        TrustedOrigins("https://a.com", where="csrf_trusted_origins")  # type: ignore[arg-type]
