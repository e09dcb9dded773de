"""TrustedHostMiddleware and host_allowed."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from carboy.exceptions import ConfigurationError
from carboy.middleware import TrustedHostMiddleware, host_allowed
from carboy.types import Receive, Scope, Send


class RecordingApp:
    """An ASGI app that answers 200 "ok" and remembers that it ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


# -- host_allowed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "patterns"),
    [
        ("example.com", ["example.com"]),
        ("EXAMPLE.com", ["Example.COM"]),
        ("example.com:8000", ["example.com"]),
        ("example.com.", ["example.com"]),
        ("example.com", ["example.com."]),
        ("example.com", [".example.com"]),
        ("shop.example.com", [".example.com"]),
        ("a.b.example.com:443", [".example.com"]),
        ("anything.test", ["*"]),
        ("127.0.0.1:8000", ["127.0.0.1"]),
        ("[::1]", ["[::1]"]),
        ("[::1]:8000", ["[::1]"]),
        ("[0:0:0:0:0:0:0:1]:8000", ["[::1]"]),
        ("[::1]", ["::1"]),
        ("[2001:DB8::1]", ["[2001:db8::1]"]),
        ("my_service:8080", ["my_service"]),
        ("xn--bcher-kva.de", ["xn--bcher-kva.de"]),
        ("other.com", ["example.com", "other.com"]),
    ],
)
def test_allowed(host: str, patterns: list[str]) -> None:
    assert host_allowed(host, patterns) is True


@pytest.mark.parametrize(
    ("host", "patterns"),
    [
        ("evil.com", ["example.com"]),
        ("shop.example.com", ["example.com"]),
        ("badexample.com", [".example.com"]),
        ("example.com.evil.com", [".example.com"]),
        ("evil.com", [".example.com"]),
        ("", ["*"]),
        ("example.com@evil.com", ["*"]),
        ("evil.com@example.com", ["example.com"]),
        ("example.com evil.com", ["*"]),
        ("exa mple.com", ["*"]),
        (" example.com", ["example.com"]),
        ("example.com/evil", ["*"]),
        ("example.com\r\nx: y", ["*"]),
        ("example.com:", ["example.com"]),
        ("example.com:80:80", ["example.com"]),
        ("example.com:http", ["example.com"]),
        ("example.com:1234567", ["example.com"]),
        ("example.com:-1", ["example.com"]),
        ("example..com", ["*"]),
        (".example.com", ["*"]),
        ("bücher.de", ["*"]),
        ("exam\u0440le.com", ["*"]),
        ("::1", ["[::1]"]),
        ("[::1", ["[::1]"]),
        ("[::1]x", ["[::1]"]),
        ("[::1]:", ["[::1]"]),
        ("[nothex]", ["*"]),
        ("[fe80::1%25eth0]", ["*"]),
        ("[::2]", ["[::1]"]),
        ("a" * 301, ["*"]),
    ],
)
def test_not_allowed(host: str, patterns: list[str]) -> None:
    assert host_allowed(host, patterns) is False


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ([], "allowed_hosts is empty"),
        ("example.com", "not a single string"),
        (["*.example.com"], "write '.example.com'"),
        (["example.com:80"], "ports are not part of a host pattern"),
        (["[::1]:80"], "ports are not part of a host pattern"),
        (["bücher.de"], "ASCII form"),
        (["a b"], "is not a host name"),
        ([""], "is not a host name"),
        ([".[::1]"], "an IP address has no subdomains"),
        ([None], "entries must be strings"),
    ],
)
def test_bad_patterns(patterns: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[")):
        TrustedHostMiddleware(RecordingApp(), allowed_hosts=patterns)


# -- the middleware over HTTP -------------------------------------------------------


def client_for(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.mark.anyio
async def test_allowed_host_reaches_the_app() -> None:
    inner = RecordingApp()
    app = TrustedHostMiddleware(inner, allowed_hosts=["testserver", ".example.com"])
    async with client_for(app) as client:
        plain = await client.get("/")
        sub = await client.get("/", headers={"Host": "API.Example.com:8443"})
    assert (plain.status_code, plain.text) == (200, "ok")
    assert (sub.status_code, sub.text) == (200, "ok")
    assert inner.calls == 2


@pytest.mark.anyio
async def test_disallowed_host_gets_400_and_never_reaches_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = RecordingApp()
    app = TrustedHostMiddleware(inner, allowed_hosts=["example.com"])
    with caplog.at_level(logging.WARNING, logger="carboy.security"):
        async with client_for(app) as client:
            response = await client.get("/", headers={"Host": "evil.com"})
    assert response.status_code == 400
    assert response.text == "Invalid Host header"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert inner.calls == 0
    assert "evil.com" in caplog.text


@pytest.mark.anyio
async def test_rejection_is_json_for_json_clients() -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=["example.com"])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Host": "evil.com", "Accept": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": 400, "detail": "Invalid Host header"}


@pytest.mark.anyio
async def test_https_and_ipv6_hosts() -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=["[::1]"])
    async with client_for(app, base_url="https://[::1]:8443") as client:
        response = await client.get("/")
    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host_headers",
    [
        [],
        [(b"host", b"")],
        [(b"host", b"example.com"), (b"host", b"evil.com")],
        [(b"host", b"example.com"), (b"host", b"example.com")],
        [(b"host", b"example.com@evil.com")],
        [(b"host", b"example.com evil")],
        [(b"host", b"\xc3\xa9xample.com")],
        [(b"host", b"example.com\x00")],
        [(b"host", b"example.com\r\n")],
        [(b"host", b"example.com:99999999")],
        [(b"host", b"[::1")],
        [(b"host", b"x" * 100_000)],
    ],
)
async def test_missing_or_malformed_host_gets_400(
    host_headers: list[tuple[bytes, bytes]], make_scope: Any, call_asgi: Any
) -> None:
    inner = RecordingApp()
    app = TrustedHostMiddleware(inner, allowed_hosts=["*"])
    sent = await call_asgi(app, make_scope(headers=host_headers))
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Invalid Host header"
    assert inner.calls == 0


@pytest.mark.anyio
async def test_wildcard_allows_any_well_formed_host(make_scope: Any, call_asgi: Any) -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=["*"])
    sent = await call_asgi(app, make_scope(headers=[(b"host", b"whatever.test:1")]))
    assert sent[0]["status"] == 200


@pytest.mark.anyio
async def test_a_host_seen_before_is_still_checked_against_the_patterns(
    make_scope: Any, call_asgi: Any
) -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=[".example.com"])
    for _ in range(2):
        good = await call_asgi(app, make_scope(headers=[(b"host", b"a.example.com")]))
        bad = await call_asgi(app, make_scope(headers=[(b"host", b"a.example.org")]))
        assert good[0]["status"] == 200
        assert bad[0]["status"] == 400


@pytest.mark.anyio
async def test_many_distinct_hosts(make_scope: Any, call_asgi: Any) -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=[".example.com"])
    for number in range(100):
        host = f"h{number}.example.com".encode()
        sent = await call_asgi(app, make_scope(headers=[(b"host", host)]))
        assert sent[0]["status"] == 200


# -- WebSocket and lifespan ----------------------------------------------------------


@pytest.mark.anyio
async def test_websocket_with_bad_host_is_closed_before_accept(
    make_scope: Any, call_asgi: Any
) -> None:
    inner = RecordingApp()
    app = TrustedHostMiddleware(inner, allowed_hosts=["example.com"])
    scope = make_scope("websocket", headers=[(b"host", b"evil.com")])
    sent = await call_asgi(app, scope, [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Invalid Host header"}]
    assert inner.calls == 0


@pytest.mark.anyio
async def test_websocket_with_good_host_is_accepted(make_scope: Any, call_asgi: Any) -> None:
    app = TrustedHostMiddleware(RecordingApp(), allowed_hosts=["example.com"])
    scope = make_scope("websocket", headers=[(b"host", b"example.com:8000")])
    sent = await call_asgi(app, scope, [{"type": "websocket.connect"}])
    assert sent == [{"type": "websocket.accept"}]


@pytest.mark.anyio
async def test_lifespan_passes_through(make_scope: Any, call_asgi: Any) -> None:
    inner = RecordingApp()
    app = TrustedHostMiddleware(inner, allowed_hosts=["example.com"])
    assert await call_asgi(app, make_scope("lifespan", headers=[])) == []
    assert inner.calls == 1


# -- ports ---------------------------------------------------------------------------
@pytest.mark.parametrize("port", ["1", "80", "443", "8080", "65535", "00080"])
def test_ports_in_range_are_allowed(port: str) -> None:
    assert host_allowed(f"example.com:{port}", ["example.com"])
    assert host_allowed(f"[::1]:{port}", ["[::1]"])


@pytest.mark.parametrize("port", ["0", "00000", "65536", "99999", "-1", "+80", "８0", ""])
def test_ports_out_of_range_are_refused(port: str) -> None:
    assert not host_allowed(f"example.com:{port}", ["*"])
    assert not host_allowed(f"[::1]:{port}", ["*"])


def test_a_port_out_of_range_gets_400() -> None:
    from carboy import Carboy
    from carboy.testing import TestClient

    app = Carboy(secret_key="k" * 40 + "abcdefghij", allowed_hosts=["example.com"])

    @app.get("/")
    async def home() -> str:
        return "hi"

    client = TestClient(app)
    assert client.get("/", headers={"host": "example.com:443"}).status_code == 200
    response = client.get("/", headers={"host": "example.com:65536"})
    assert (response.status_code, response.text) == (400, "Invalid Host header")
    assert client.get("/", headers={"host": "example.com:0"}).status_code == 400
