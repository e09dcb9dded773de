"""SecurityHeaders (the default headers) and SecurityHeadersMiddleware."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from carboy import Carboy, Request, Settings
from carboy.exceptions import ConfigurationError
from carboy.middleware import SecurityHeaders, SecurityHeadersMiddleware
from carboy.templating import TemplateResponse, render
from carboy.testing import TestClient
from carboy.types import Message, Receive, Scope, Send

DEFAULT_HTTP = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DEFAULT_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


# -- SecurityHeaders.encode --------------------------------------------------


def test_defaults_over_http_have_no_hsts() -> None:
    assert SecurityHeaders().encode(https=False) == DEFAULT_HTTP


def test_defaults_over_https_add_hsts() -> None:
    assert SecurityHeaders().encode(https=True) == [*DEFAULT_HTTP, DEFAULT_HSTS]


def test_encode_returns_a_new_list_each_time() -> None:
    config = SecurityHeaders()
    first = config.encode(https=True)
    first.append((b"x-extra", b"1"))
    assert config.encode(https=True) == [*DEFAULT_HTTP, DEFAULT_HSTS]


def test_every_header_configured() -> None:
    config = SecurityHeaders(
        frame_options="sameorigin",
        referrer_policy="no-referrer, strict-origin",
        cross_origin_opener_policy="same-origin-allow-popups",
        hsts_seconds=63072000,
        hsts_preload=True,
        content_security_policy="default-src 'self'; img-src *",
        permissions_policy="geolocation=(), camera=()",
    )
    assert config.frame_options == "SAMEORIGIN"
    assert config.encode(https=True) == [
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer, strict-origin"),
        (b"cross-origin-opener-policy", b"same-origin-allow-popups"),
        (b"content-security-policy", b"default-src 'self'; img-src *"),
        (b"permissions-policy", b"geolocation=(), camera=()"),
        (b"strict-transport-security", b"max-age=63072000; includeSubDomains; preload"),
    ]


def test_csp_report_only_uses_the_report_only_header() -> None:
    config = SecurityHeaders(
        frame_options=None,
        content_type_options=False,
        referrer_policy=None,
        cross_origin_opener_policy=None,
        content_security_policy="default-src 'self'",
        csp_report_only=True,
    )
    assert config.encode(https=False) == [
        (b"content-security-policy-report-only", b"default-src 'self'")
    ]


def test_everything_off_sends_nothing() -> None:
    config = SecurityHeaders(
        frame_options=None,
        content_type_options=False,
        referrer_policy=None,
        cross_origin_opener_policy=None,
        hsts_seconds=0,
    )
    assert config.encode(https=False) == []
    assert config.encode(https=True) == []


def test_hsts_without_subdomains() -> None:
    config = SecurityHeaders(hsts_seconds=300, hsts_include_subdomains=False)
    assert config.encode(https=True)[-1] == (b"strict-transport-security", b"max-age=300")


def test_is_frozen() -> None:
    config = SecurityHeaders()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.frame_options = "SAMEORIGIN"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"frame_options": "ALLOW-FROM https://a.com"}, "frame_options must be 'DENY'"),
        ({"frame_options": "DENY\r\nSet-Cookie: a=b"}, "without line breaks"),
        ({"frame_options": ""}, "must not be empty"),
        ({"frame_options": 1}, "must be a string"),
        ({"referrer_policy": "never"}, "unknown policy 'never'"),
        ({"referrer_policy": "no-referrer,,origin"}, "unknown policy ''"),
        ({"cross_origin_opener_policy": "isolate"}, "cross_origin_opener_policy must be"),
        ({"hsts_seconds": -1}, "hsts_seconds must be a whole number"),
        ({"hsts_seconds": True}, "hsts_seconds must be a whole number"),
        ({"hsts_seconds": "3600"}, "hsts_seconds must be a whole number"),
        ({"hsts_preload": True, "hsts_seconds": 3600}, "hsts_preload=True needs"),
        ({"hsts_preload": True, "hsts_include_subdomains": False}, "hsts_preload=True needs"),
        ({"content_security_policy": "default-src 'self'\n"}, "without line breaks"),
        ({"content_security_policy": "default-src\x00"}, "without line breaks"),
        ({"content_security_policy": "   "}, "must not be empty"),
        ({"csp_report_only": True}, "csp_report_only=True needs a content_security_policy"),
        ({"permissions_policy": "camera=(sélf)"}, "printable ASCII"),
        ({"content_type_options": "yes"}, "content_type_options must be True or False"),
    ],
)
def test_bad_values_fail_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        SecurityHeaders(**options)


# -- SecurityHeadersMiddleware -------------------------------------------------

SHARED_HEADERS = [(b"content-type", b"text/plain"), (b"x-frame-options", b"SAMEORIGIN")]


async def foreign_app(scope: Scope, receive: Receive, send: Send) -> None:
    # Sends the same header list object every time, as some apps do.
    await send({"type": "http.response.start", "status": 200, "headers": SHARED_HEADERS})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.mark.anyio
async def test_middleware_adds_defaults_over_http_without_hsts() -> None:
    app = SecurityHeadersMiddleware(foreign_app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.text == "hello"
    assert response.headers.raw == [
        (b"content-type", b"text/plain"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    assert "strict-transport-security" not in response.headers


@pytest.mark.anyio
async def test_middleware_adds_hsts_over_https_and_keeps_app_headers() -> None:
    app = SecurityHeadersMiddleware(foreign_app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        first = await client.get("/")
        second = await client.get("/")
    for response in (first, second):
        assert response.headers["strict-transport-security"] == (
            "max-age=31536000; includeSubDomains"
        )
        assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    # The app's own list was never edited in place.
    assert SHARED_HEADERS == [(b"content-type", b"text/plain"), (b"x-frame-options", b"SAMEORIGIN")]


@pytest.mark.anyio
async def test_middleware_with_custom_config() -> None:
    config = SecurityHeaders(
        frame_options=None,
        referrer_policy="no-referrer",
        content_security_policy="default-src 'none'",
    )
    app = SecurityHeadersMiddleware(foreign_app, config=config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


@pytest.mark.anyio
async def test_middleware_with_nothing_to_add_passes_send_through(
    make_scope: Any, call_asgi: Any
) -> None:
    config = SecurityHeaders(
        frame_options=None,
        content_type_options=False,
        referrer_policy=None,
        cross_origin_opener_policy=None,
    )
    sent = await call_asgi(SecurityHeadersMiddleware(foreign_app, config=config), make_scope())
    assert sent[0]["headers"] is SHARED_HEADERS


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_middleware_leaves_other_scopes_alone(
    kind: str, make_scope: Any, call_asgi: Any
) -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = {"type": "websocket.accept", "headers": []}
        seen.append(message)
        await send(message)

    sent = await call_asgi(SecurityHeadersMiddleware(app), make_scope(kind))
    assert sent == seen
    assert sent[0] is seen[0]


def test_middleware_rejects_a_config_of_the_wrong_type() -> None:
    with pytest.raises(ConfigurationError, match="config must be a SecurityHeaders"):
        SecurityHeadersMiddleware(foreign_app, config={"frame_options": "DENY"})  # type: ignore[arg-type]


# -- Content-Security-Policy with a nonce per request -------------------------
NONCE_POLICY = "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'nonce-{nonce}'"


def csp_of(response: httpx.Response) -> str:
    return response.headers["content-security-policy"]


def nonce_in(policy: str) -> str:
    found = re.search(r"'nonce-([A-Za-z0-9_-]+)'", policy)
    assert found is not None, policy
    return found[1]


def test_a_nonce_policy_is_made_per_request_not_encoded_once() -> None:
    config = SecurityHeaders(content_security_policy=NONCE_POLICY)
    assert config.uses_nonce
    assert all(name != b"content-security-policy" for name, _ in config.encode(https=True))
    name, value = config.csp_header("abc")
    assert name == b"content-security-policy"
    assert value == b"default-src 'self'; script-src 'self' 'nonce-abc'; style-src 'nonce-abc'"
    report = SecurityHeaders(content_security_policy=NONCE_POLICY, csp_report_only=True)
    assert report.csp_header("n")[0] == b"content-security-policy-report-only"
    plain = SecurityHeaders(content_security_policy="default-src 'self'")
    assert not plain.uses_nonce
    with pytest.raises(ConfigurationError, match="takes no nonce"):
        plain.csp_header("abc")


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("script-src {nonce}", "write the nonce as 'nonce-{nonce}'"),
        ("script-src 'nonce-{nonce}' {other}", "the only placeholder"),
        ("script-src 'nonce-{nonce}' }", "the only placeholder"),
        ("script-src 'nonce-{ nonce }'", "the only placeholder"),
    ],
)
def test_a_policy_s_only_placeholder_is_the_nonce(policy: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        SecurityHeaders(content_security_policy=policy)


def nonce_app(tmp_path: Path) -> Carboy:
    (tmp_path / "page.html").write_text(
        '<script nonce="{{ csp_nonce() }}">go()</script><i>{{ csp_nonce() }}</i>'
    )
    app = Carboy(
        Settings(debug=True, templates_dir=str(tmp_path)),
        security=SecurityHeaders(content_security_policy=NONCE_POLICY),
    )

    @app.get("/plain")
    async def plain() -> str:  # a handler the dispatcher would call directly
        return "plain"

    @app.get("/page")
    async def page() -> TemplateResponse:
        return render("page.html")

    @app.get("/request")
    async def from_request(request: Request) -> str:
        return request.csp_nonce + " " + request.csp_nonce

    return app


def test_the_header_carries_a_fresh_nonce_each_request(tmp_path: Path) -> None:
    with TestClient(nonce_app(tmp_path)) as client:
        nonces = [nonce_in(csp_of(client.get(path))) for path in ("/plain", "/plain", "/page")]
        missing = client.get("/nowhere")  # a 404 gets the policy too
        assert missing.status_code == 404
        nonces.append(nonce_in(csp_of(missing)))
    assert len(set(nonces)) == 4
    assert all(len(n) == 22 for n in nonces)  # 128 bits, base64url


def test_the_template_and_request_nonce_is_the_header_s(tmp_path: Path) -> None:
    with TestClient(nonce_app(tmp_path)) as client:
        page = client.get("/page")
        nonce = nonce_in(csp_of(page))
        assert page.text == f'<script nonce="{nonce}">go()</script><i>{nonce}</i>'
        by_request = client.get("/request")
        assert by_request.text == f"{nonce_in(csp_of(by_request))} {nonce_in(csp_of(by_request))}"
        assert by_request.text.split()[0] != nonce


def test_error_pages_carry_the_nonce_on_their_style(tmp_path: Path) -> None:
    with TestClient(nonce_app(tmp_path)) as client:
        page = client.get("/nowhere", headers={"Accept": "text/html"})
    assert f'<style nonce="{nonce_in(csp_of(page))}">' in page.text


def test_an_app_without_a_nonce_policy_keeps_its_fast_path(tmp_path: Path) -> None:
    app = Carboy(debug=True, security=SecurityHeaders(content_security_policy="default-src 'self'"))

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    with TestClient(app) as client:
        assert csp_of(client.get("/plain")) == "default-src 'self'"
        page = client.get("/nowhere", headers={"Accept": "text/html"})
    assert "<style>" in page.text  # no nonce asked, none made
    assert app._table.static["/plain"].direct  # the dispatcher calls the handler itself
    strict = nonce_app(tmp_path)
    strict.build()
    assert not strict._table.static["/plain"].direct  # each request's headers are its own


def test_the_middleware_gives_a_mounted_app_the_request_s_nonce() -> None:
    sent: list[Message] = []

    async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def record(message: Message) -> None:
        sent.append(message)

    config = SecurityHeaders(content_security_policy=NONCE_POLICY)
    wrapped = SecurityHeadersMiddleware(legacy, config=config)
    scope: dict[str, Any] = {"type": "http", "scheme": "http", "carboy.csp_nonce": "n0nce"}
    asyncio.run(wrapped(scope, _no_receive, record))
    headers = dict(sent[0]["headers"])
    assert nonce_in(headers[b"content-security-policy"].decode()) == "n0nce"
    sent.clear()
    asyncio.run(wrapped({"type": "http", "scheme": "http"}, _no_receive, record))
    assert len(nonce_in(dict(sent[0]["headers"])[b"content-security-policy"].decode())) == 22


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
