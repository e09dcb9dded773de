"""CORSMiddleware."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from carboy.exceptions import ConfigurationError
from carboy.middleware import CORSMiddleware
from carboy.types import Receive, Scope, Send

SITE = "https://site.example"
OTHER = "https://other.example"


class App:
    """Answers 200 "ok" with a fixed set of headers; counts its calls."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.calls = 0
        self.headers = headers if headers is not None else [(b"content-type", b"text/plain")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"ok"})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def preflight_headers(
    origin: str = SITE, method: str = "POST", headers: str | None = None
) -> dict[str, str]:
    result = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        result["Access-Control-Request-Headers"] = headers
    return result


def cors_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """The CORS-related headers of a response, in order."""
    return [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.startswith("access-control-") or name == "vary"
    ]


# -- simple (actual) requests -------------------------------------------------------


@pytest.mark.anyio
async def test_request_without_origin_is_untouched() -> None:
    inner = App()
    app = CORSMiddleware(inner, allow_origins=[SITE], allow_credentials=True)
    async with client_for(app) as client:
        response = await client.get("/")
    assert response.headers.raw == [(b"content-type", b"text/plain")]
    assert inner.calls == 1


@pytest.mark.anyio
async def test_allowed_origin_is_echoed_with_vary() -> None:
    app = CORSMiddleware(App(), allow_origins=[SITE, OTHER], expose_headers=["X-Total"])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": SITE})
    assert response.status_code == 200
    assert cors_headers(response) == [
        ("access-control-allow-origin", SITE),
        ("access-control-expose-headers", "X-Total"),
        ("vary", "Origin"),
    ]


@pytest.mark.anyio
async def test_disallowed_origin_runs_the_app_without_cors_headers() -> None:
    inner = App()
    app = CORSMiddleware(inner, allow_origins=[SITE])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": "https://evil.example"})
    assert (response.status_code, response.text) == (200, "ok")
    assert cors_headers(response) == [("vary", "Origin")]
    assert inner.calls == 1


@pytest.mark.anyio
async def test_wildcard_without_credentials_sends_star_and_no_vary() -> None:
    app = CORSMiddleware(App(), allow_origins=["*"])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": "https://anyone.example"})
        null = await client.get("/", headers={"Origin": "null"})
    assert cors_headers(response) == [("access-control-allow-origin", "*")]
    assert cors_headers(null) == [("access-control-allow-origin", "*")]


@pytest.mark.anyio
async def test_wildcard_with_credentials_echoes_the_origin() -> None:
    app = CORSMiddleware(App(), allow_origins=["*"], allow_credentials=True)
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": OTHER})
    assert cors_headers(response) == [
        ("access-control-allow-origin", OTHER),
        ("access-control-allow-credentials", "true"),
        ("vary", "Origin"),
    ]


@pytest.mark.anyio
async def test_wildcard_with_credentials_does_not_allow_the_null_origin() -> None:
    app = CORSMiddleware(App(), allow_origins=["*"], allow_credentials=True)
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": "null"})
    assert cors_headers(response) == [("vary", "Origin")]


@pytest.mark.anyio
async def test_a_listed_null_origin_is_allowed() -> None:
    app = CORSMiddleware(App(), allow_origins=["null"], allow_credentials=True)
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": "null"})
    assert response.headers["access-control-allow-origin"] == "null"


@pytest.mark.anyio
async def test_existing_vary_is_merged_and_app_cors_headers_kept() -> None:
    inner = App([(b"Vary", b"Accept-Encoding"), (b"access-control-allow-origin", b"https://x")])
    app = CORSMiddleware(inner, allow_origins=[SITE])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": SITE})
    assert cors_headers(response) == [
        ("vary", "Accept-Encoding, Origin"),
        ("access-control-allow-origin", "https://x"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://api.example.com", True),
        ("https://a-b.example.com", True),
        ("https://example.com", False),
        ("http://api.example.com", False),
        ("https://api.example.com.evil.net", False),
        ("https://evil.net/https://api.example.com", False),
    ],
)
async def test_origin_regex_must_match_the_whole_origin(origin: str, allowed: bool) -> None:
    app = CORSMiddleware(App(), allow_origin_regex=r"https://[a-z-]+\.example\.com")
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": origin})
    assert ("access-control-allow-origin" in response.headers) is allowed


@pytest.mark.anyio
async def test_options_without_request_method_is_not_a_preflight() -> None:
    inner = App()
    app = CORSMiddleware(inner, allow_origins=[SITE])
    async with client_for(app) as client:
        response = await client.options("/", headers={"Origin": SITE})
    assert response.text == "ok"
    assert inner.calls == 1
    assert response.headers["access-control-allow-origin"] == SITE


# -- preflights --------------------------------------------------------------------


@pytest.mark.anyio
async def test_allowed_preflight_is_answered_without_the_app() -> None:
    inner = App()
    app = CORSMiddleware(
        inner, allow_origins=[SITE], allow_methods=["GET", "post"], allow_headers=["X-Token"]
    )
    async with client_for(app) as client:
        response = await client.options(
            "/", headers=preflight_headers(headers="x-token, Content-Type")
        )
    assert response.status_code == 200
    assert response.content == b""
    assert cors_headers(response) == [
        ("access-control-allow-origin", SITE),
        ("access-control-allow-methods", "GET, POST"),
        (
            "access-control-allow-headers",
            "accept, accept-language, content-language, content-type, x-token",
        ),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
    ]
    assert inner.calls == 0


@pytest.mark.anyio
async def test_preflight_with_credentials_and_wildcards_echoes_the_request() -> None:
    app = CORSMiddleware(
        App(),
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        allow_credentials=True,
        max_age=60,
    )
    async with client_for(app) as client:
        response = await client.options(
            "/", headers=preflight_headers(OTHER, "DELETE", "X-Custom, x-other")
        )
    assert response.status_code == 200
    assert cors_headers(response) == [
        ("access-control-allow-origin", OTHER),
        ("access-control-allow-credentials", "true"),
        ("access-control-max-age", "60"),
        ("access-control-allow-methods", "DELETE"),
        ("access-control-allow-headers", "x-custom, x-other"),
        ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
    ]


@pytest.mark.anyio
async def test_wildcard_preflight_without_credentials() -> None:
    app = CORSMiddleware(App(), allow_origins=["*"], allow_methods=["GET", "PUT"])
    async with client_for(app) as client:
        response = await client.options("/", headers=preflight_headers(method="PUT"))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (preflight_headers("https://evil.example"), "Disallowed CORS origin"),
        (preflight_headers(method="DELETE"), "Disallowed CORS method"),
        (preflight_headers(headers="X-Token, X-Secret"), "Disallowed CORS headers"),
        (preflight_headers(headers="Authorization"), "Disallowed CORS headers"),
    ],
)
async def test_disallowed_preflights_get_400(headers: dict[str, str], message: str) -> None:
    inner = App()
    app = CORSMiddleware(
        inner, allow_origins=[SITE], allow_methods=["GET", "POST"], allow_headers=["X-Token"]
    )
    async with client_for(app) as client:
        response = await client.options("/", headers=headers)
    assert response.status_code == 400
    assert response.text == message
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"
    assert inner.calls == 0


@pytest.mark.anyio
async def test_preflight_with_empty_request_headers_list() -> None:
    app = CORSMiddleware(App(), allow_origins=[SITE], allow_methods=["POST"])
    async with client_for(app) as client:
        response = await client.options("/", headers=preflight_headers(headers=" , "))
    assert response.status_code == 200


# -- WebSocket ---------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ([(b"host", b"app.example")], True),
        ([(b"host", b"app.example"), (b"origin", SITE.encode())], True),
        ([(b"host", b"app.example"), (b"origin", b"https://app.example")], True),
        ([(b"host", b"app.example:443"), (b"origin", b"https://app.example")], True),
        ([(b"host", b"app.example:8000"), (b"origin", b"http://app.example:8000")], True),
        ([(b"host", b"app.example"), (b"origin", b"https://evil.example")], False),
        ([(b"origin", b"https://evil.example")], False),
        ([(b"host", b"app.example:8000"), (b"origin", b"http://app.example")], False),
    ],
)
async def test_websocket_origin_check(
    headers: list[tuple[bytes, bytes]], accepted: bool, make_scope: Any, call_asgi: Any
) -> None:
    inner = App()
    app = CORSMiddleware(inner, allow_origins=[SITE])
    sent = await call_asgi(app, make_scope("websocket", headers=headers))
    if accepted:
        assert sent == [{"type": "websocket.accept"}]
    else:
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Disallowed origin"}]
        assert inner.calls == 0


@pytest.mark.anyio
async def test_websocket_with_wildcard_is_not_checked(make_scope: Any, call_asgi: Any) -> None:
    app = CORSMiddleware(App(), allow_origins=["*"])
    scope = make_scope("websocket", headers=[(b"origin", b"https://evil.example")])
    assert await call_asgi(app, scope) == [{"type": "websocket.accept"}]


@pytest.mark.anyio
async def test_lifespan_passes_through(make_scope: Any, call_asgi: Any) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    await call_asgi(CORSMiddleware(app, allow_origins=[SITE]), make_scope("lifespan"))
    assert len(scopes) == 1


# -- configuration -------------------------------------------------------------------


@pytest.mark.anyio
async def test_origins_are_normalised() -> None:
    app = CORSMiddleware(App(), allow_origins=["HTTPS://Site.Example/"])
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": SITE})
    assert response.headers["access-control-allow-origin"] == SITE


@pytest.mark.anyio
async def test_a_compiled_regex_is_accepted() -> None:
    app = CORSMiddleware(App(), allow_origin_regex=re.compile(r"https://.*\.test"))
    async with client_for(app) as client:
        response = await client.get("/", headers={"Origin": "https://a.test"})
    assert response.headers["access-control-allow-origin"] == "https://a.test"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "allows no origin"),
        ({"allow_origins": "https://site.example"}, "not a single string"),
        ({"allow_origins": ["https://site.example/app"]}, "is not an origin"),
        ({"allow_origins": ["site.example"]}, "is not an origin"),
        ({"allow_origins": ["https://user@site.example"]}, "is not an origin"),
        ({"allow_origins": ["https://site.example\r\nx: y"]}, "without line breaks"),
        ({"allow_origin_regex": "("}, "does not compile"),
        ({"allow_origins": ["*"], "allow_methods": ["GET POST"]}, "not a valid HTTP token"),
        ({"allow_origins": ["*"], "allow_headers": ["X:Y"]}, "not a valid HTTP token"),
        ({"allow_origins": ["*"], "expose_headers": ["a,b"]}, "not a valid HTTP token"),
        ({"allow_origins": ["*"], "max_age": -1}, "max_age must be"),
        ({"allow_origins": ["*"], "max_age": "60"}, "max_age must be"),
        ({"allow_origins": ["*"], "allow_credentials": "yes"}, "allow_credentials must be"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CORSMiddleware(App(), **options)


@pytest.mark.anyio
async def test_any_header_preflight_without_requested_headers() -> None:
    app = CORSMiddleware(App(), allow_origins=[SITE], allow_methods=["GET"], allow_headers=["*"])
    async with client_for(app) as client:
        response = await client.options("/", headers=preflight_headers(method="GET"))
    assert response.status_code == 200
    assert "access-control-allow-headers" not in response.headers
    assert response.headers["vary"] == "Origin, Access-Control-Request-Headers"


def test_options_that_are_not_lists_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="allow_methods must be a list of strings"):
        CORSMiddleware(App(), allow_origins=[SITE], allow_methods=5)  # type: ignore[arg-type]


def test_refused_preflights_are_logged_to_carboy_security(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from carboy import Carboy
    from carboy.middleware import CORSMiddleware
    from carboy.testing import TestClient

    app = Carboy(debug=True)
    app.add_middleware(CORSMiddleware, allow_origins=["https://good.example"])

    @app.get("/")
    async def home() -> str:
        return "hi"

    client = TestClient(app)
    with caplog.at_level(logging.WARNING, logger="carboy.security"):
        ok = client.options(
            "/",
            headers={"origin": "https://good.example", "access-control-request-method": "GET"},
        )
        assert not caplog.records
        bad = client.options(
            "/", headers={"origin": "https://evil.example", "access-control-request-method": "GET"}
        )
    assert (ok.status_code, bad.status_code) == (200, 400)
    assert [r.name for r in caplog.records] == ["carboy.security"]
    assert "https://evil.example" in caplog.records[0].getMessage()
