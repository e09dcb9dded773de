"""Forwarding headers: read from trusted proxies only (``trusted_proxies``)."""

from __future__ import annotations

from typing import Any

import pytest

from carboy import Carboy, Request, Response, Settings, WebSocket
from carboy.exceptions import ConfigurationError
from carboy.middleware import ProxyHeadersMiddleware
from carboy.testing import TestClient
from carboy.types import ASGIApp, Receive, Scope, Send

from .conftest import CallASGI, MakeScope

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"
PROXY = "10.0.0.2"


def from_peer(app: ASGIApp, peer: str) -> ASGIApp:
    """``app`` as reached over a connection from ``peer``."""

    async def connection(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            scope["client"] = (peer, 40000)
        await app(scope, receive, send)

    return connection


def make_app(**settings: Any) -> Carboy:
    values: dict[str, Any] = {
        "secret_key": KEY,
        "allowed_hosts": ["example.com", "internal"],
        "trusted_proxies": ["10.0.0.0/24"],
        **settings,
    }
    app = Carboy(Settings(**values))

    @app.get("/where")
    async def where(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "client": client.host if client else None,
            "url": str(request.url),
            "secure": request.is_secure,
        }

    @app.get("/cookie")
    async def cookie() -> Response:
        response = Response("ok")
        response.set_cookie("k", "v")
        return response

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        client = websocket.client
        await websocket.send_json(
            {"url": str(websocket.url), "client": client.host if client else None}
        )
        await websocket.close()

    return app


def client_for(app: Carboy, peer: str = PROXY, base_url: str = "http://internal") -> TestClient:
    return TestClient(from_peer(app, peer), base_url, follow_redirects=False)


FORGED = {
    "x-forwarded-for": "6.6.6.6",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "example.com",
}


def test_trusted_proxy_sets_client_scheme_and_host() -> None:
    r = client_for(make_app()).get("/where", headers=FORGED)
    assert r.json() == {"client": "6.6.6.6", "url": "https://example.com/where", "secure": True}
    assert "strict-transport-security" in r.headers  # HSTS follows the forwarded scheme


def test_forged_headers_from_an_untrusted_peer_change_nothing() -> None:
    r = client_for(make_app(), peer="203.0.113.9").get("/where", headers=FORGED)
    assert r.json() == {"client": "203.0.113.9", "url": "http://internal/where", "secure": False}
    assert "strict-transport-security" not in r.headers
    forwarded = {"forwarded": "for=6.6.6.6;proto=https;host=example.com"}
    r = client_for(make_app(), peer="203.0.113.9").get("/where", headers=forwarded)
    assert r.json()["url"] == "http://internal/where"


def test_without_trusted_proxies_headers_are_ignored() -> None:
    r = client_for(make_app(trusted_proxies=[])).get("/where", headers=FORGED)
    assert r.json() == {"client": PROXY, "url": "http://internal/where", "secure": False}


def test_forwarded_header() -> None:
    headers = {"forwarded": 'for="[2001:db8::7]:4711";proto=https;host="example.com"'}
    r = client_for(make_app()).get("/where", headers=headers)
    assert r.json() == {"client": "2001:db8::7", "url": "https://example.com/where", "secure": True}


def test_forwarded_wins_over_x_forwarded() -> None:
    headers = {"forwarded": "for=1.1.1.1;proto=http", **FORGED}
    assert client_for(make_app()).get("/where", headers=headers).json()["client"] == "1.1.1.1"


def test_chain_is_walked_from_the_right_skipping_trusted_proxies() -> None:
    # The client forged "6.6.6.6"; the outer proxy (10.0.0.3) appended the real client.
    headers = {"x-forwarded-for": "6.6.6.6, 198.51.100.4, 10.0.0.3"}
    r = client_for(make_app()).get("/where", headers=headers)
    assert r.json()["client"] == "198.51.100.4"
    forwarded = {"forwarded": "for=6.6.6.6, for=198.51.100.4;proto=https, for=10.0.0.3"}
    r = client_for(make_app()).get("/where", headers=forwarded)
    assert (r.json()["client"], r.json()["secure"]) == ("198.51.100.4", True)


def test_every_hop_trusted_gives_the_leftmost() -> None:
    headers = {"x-forwarded-for": "10.0.0.7, 10.0.0.3"}
    assert client_for(make_app()).get("/where", headers=headers).json()["client"] == "10.0.0.7"


def test_proto_list_matches_the_chosen_hop() -> None:
    headers = {"x-forwarded-for": "198.51.100.4, 10.0.0.3", "x-forwarded-proto": "https, http"}
    assert client_for(make_app()).get("/where", headers=headers).json()["secure"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {"x-forwarded-proto": "gopher"},
        {"x-forwarded-host": "evil.com/path"},
        {"x-forwarded-host": "a b"},
        {"forwarded": 'for="unterminated'},
        {"forwarded": "for=1.2.3.4;;"},
        {"x-forwarded-for": "x" * 5000},
    ],
)
def test_bad_values_are_ignored(headers: dict[str, str]) -> None:
    r = client_for(make_app()).get("/where", headers=headers)
    assert r.status_code == 200
    assert r.json()["url"] == "http://internal/where"


def test_host_check_uses_forwarded_host_only_from_trusted_peers() -> None:
    app = make_app(allowed_hosts=["example.com"])
    # Behind the proxy the Host the app gets is internal: the forwarded one is checked.
    trusted = client_for(app).get("/where", headers={"x-forwarded-host": "example.com"})
    assert trusted.status_code == 200
    forged = client_for(app).get("/where", headers={"x-forwarded-host": "evil.com"})
    assert forged.status_code == 400
    untrusted = client_for(app, peer="203.0.113.9")
    assert untrusted.get("/where", headers={"x-forwarded-host": "example.com"}).status_code == 400


def test_https_redirect_never_redirects_what_a_trusted_proxy_marked_https() -> None:
    app = make_app(https_redirect=True)
    marked = client_for(app).get("/where?a=1", headers={"x-forwarded-proto": "https"})
    assert marked.status_code == 200
    marked = client_for(app).get("/where", headers={"forwarded": "proto=https"})
    assert marked.status_code == 200
    plain = client_for(app).get("/where?a=1", headers={"x-forwarded-host": "example.com"})
    assert (plain.status_code, plain.headers["location"]) == (
        308,
        "https://example.com/where?a=1",
    )
    # A client claiming https itself is still redirected.
    forged = client_for(app, peer="203.0.113.9").get(
        "/where", headers={"x-forwarded-proto": "https"}
    )
    assert forged.status_code == 308


def test_secure_cookie_follows_the_forwarded_scheme() -> None:
    r = client_for(make_app()).get("/cookie", headers={"x-forwarded-proto": "https"})
    assert "secure" in r.headers["set-cookie"].lower()
    r = client_for(make_app(), peer="203.0.113.9").get(
        "/cookie", headers={"x-forwarded-proto": "https"}
    )
    assert "secure" not in r.headers["set-cookie"].lower()


def test_websocket_scope_is_rewritten() -> None:
    with client_for(make_app()).websocket_connect("/ws", headers=FORGED) as ws:
        assert ws.receive_json() == {"url": "wss://example.com/ws", "client": "6.6.6.6"}
    with client_for(make_app(), "203.0.113.9").websocket_connect("/ws", headers=FORGED) as ws:
        assert ws.receive_json() == {"url": "ws://internal/ws", "client": "203.0.113.9"}


def test_the_direct_path_is_kept_without_trusted_proxies() -> None:
    app = make_app(trusted_proxies=[])
    app.build()
    assert app._direct and app._proxies is None
    app = make_app()
    app.build()
    assert not app._direct and app._proxies is not None


def test_bad_entries_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"trusted_proxies.*proxy\.example\.com"):
        Settings(trusted_proxies=["proxy.example.com"])

    async def inner(scope: Scope, receive: Receive, send: Send) -> None: ...

    with pytest.raises(ConfigurationError, match="not a single string"):
        ProxyHeadersMiddleware(inner, trusted_proxies="10.0.0.1")


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARBOY_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    assert Settings().trusted_proxies == ["10.0.0.1", "192.168.0.0/16"]
    monkeypatch.setenv("CARBOY_TRUSTED_PROXIES", '["::1"]')
    assert Settings().trusted_proxies == ["::1"]


@pytest.mark.anyio
async def test_middleware_wraps_a_foreign_app(call_asgi: CallASGI, make_scope: MakeScope) -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    app = ProxyHeadersMiddleware(inner, trusted_proxies=["127.0.0.1"])
    scope = make_scope(headers=[(b"host", b"a"), (b"x-forwarded-proto", b"https")])
    scope["client"] = ("127.0.0.1", 5000)
    await call_asgi(app, scope)
    no_client = make_scope(headers=[(b"x-forwarded-proto", b"https")])
    await call_asgi(app, no_client)
    await call_asgi(app, {"type": "lifespan"})
    assert [s.get("scheme") for s in seen] == ["https", "http", None]
