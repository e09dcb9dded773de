"""BodyLimitMiddleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from carboy.exceptions import ConfigurationError, HTTPException
from carboy.middleware import BodyLimitMiddleware
from carboy.requests import Request
from carboy.types import Message, Receive, Scope, Send

LIMIT = 10


class EchoApp:
    """Reads the whole body and answers with its length; records what it saw."""

    def __init__(self) -> None:
        self.calls = 0
        self.received = b""
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        self.scope = scope
        more = True
        while more:
            message = await receive()
            self.received += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.received)).encode()})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


class Chunks:
    """A chunked request body (no Content-Length) that counts how much was pulled."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


@pytest.mark.anyio
async def test_body_exactly_at_the_limit_passes() -> None:
    inner = EchoApp()
    async with client_for(BodyLimitMiddleware(inner, max_body_size=LIMIT)) as client:
        response = await client.post("/", content=b"x" * LIMIT)
    assert (response.status_code, response.text) == (200, "10")
    assert inner.received == b"x" * LIMIT


@pytest.mark.anyio
async def test_content_length_one_byte_over_is_refused_before_reading() -> None:
    inner = EchoApp()
    async with client_for(BodyLimitMiddleware(inner, max_body_size=LIMIT)) as client:
        response = await client.post("/", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.text == "Request body exceeds 10 bytes"
    assert response.headers["connection"] == "close"
    assert inner.calls == 0


@pytest.mark.anyio
async def test_413_is_json_for_json_clients() -> None:
    app = BodyLimitMiddleware(EchoApp(), max_body_size=LIMIT)
    async with client_for(app) as client:
        response = await client.post("/", content=b"x" * 11, headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"status": 413, "detail": "Request body exceeds 10 bytes"}


@pytest.mark.anyio
async def test_chunked_body_at_the_limit_passes() -> None:
    inner = EchoApp()
    body = Chunks(b"xxxx", b"xxxx", b"xx")
    async with client_for(BodyLimitMiddleware(inner, max_body_size=LIMIT)) as client:
        response = await client.post("/", content=body)
    assert (response.status_code, response.text) == (200, "10")


@pytest.mark.anyio
async def test_chunked_body_over_the_limit_gets_413_and_is_not_read_to_the_end() -> None:
    inner = EchoApp()
    body = Chunks(b"xxxx", b"xxxx", b"xxx", b"yyyy", b"zzzz")
    async with client_for(BodyLimitMiddleware(inner, max_body_size=LIMIT)) as client:
        response = await client.post("/", content=body)
    assert response.status_code == 413
    assert response.text == "Request body exceeds 10 bytes"
    # The app got the first two chunks only: the one crossing the limit was withheld.
    assert inner.received == b"xxxxxxxx"
    assert body.pulled == 3


@pytest.mark.anyio
async def test_an_app_that_catches_the_error_still_answers_413() -> None:
    class Forgiving:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            try:
                while (await receive()).get("more_body"):
                    pass
            except HTTPException:
                pass
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"oops"})

    async with client_for(BodyLimitMiddleware(Forgiving(), max_body_size=LIMIT)) as client:
        response = await client.post("/", content=Chunks(b"x" * 6, b"x" * 6))
    assert (response.status_code, response.text) == (413, "Request body exceeds 10 bytes")


@pytest.mark.anyio
async def test_an_app_that_rethrows_another_error_still_answers_413() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
        except HTTPException as exc:
            raise RuntimeError("body read failed") from exc

    async with client_for(BodyLimitMiddleware(app, max_body_size=LIMIT)) as client:
        response = await client.post("/", content=Chunks(b"x" * 6, b"x" * 6))
    assert response.status_code == 413


@pytest.mark.anyio
async def test_an_unrelated_app_error_is_not_hidden() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("bug")

    async with client_for(BodyLimitMiddleware(app, max_body_size=LIMIT)) as client:
        with pytest.raises(RuntimeError, match="bug"):
            await client.post("/", content=b"x")


@pytest.mark.anyio
async def test_overflow_after_the_response_started_aborts(make_scope: Any, call_asgi: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            await send({"type": "http.response.body", "body": b".", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    incoming: list[Message] = [
        {"type": "http.request", "body": b"x" * 6, "more_body": True},
        {"type": "http.request", "body": b"x" * 6, "more_body": False},
    ]
    with pytest.raises(HTTPException) as caught:
        await call_asgi(BodyLimitMiddleware(app, max_body_size=LIMIT), make_scope(), incoming)
    assert caught.value.status_code == 413


@pytest.mark.anyio
async def test_overflow_after_start_aborts_even_if_the_app_swallows_it(
    make_scope: Any, call_asgi: Any
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while (await receive()).get("more_body"):
                pass
        except HTTPException:
            pass
        await send({"type": "http.response.body", "body": b"done"})

    incoming: list[Message] = [{"type": "http.request", "body": b"x" * 11, "more_body": False}]
    with pytest.raises(HTTPException, match="exceeds 10 bytes"):
        await call_asgi(BodyLimitMiddleware(app, max_body_size=LIMIT), make_scope(), incoming)


@pytest.mark.anyio
async def test_reading_again_after_the_overflow_raises_again(
    make_scope: Any, call_asgi: Any
) -> None:
    errors: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(2):
            try:
                await receive()
            except HTTPException as exc:
                errors.append(exc.status_code)

    incoming: list[Message] = [{"type": "http.request", "body": b"x" * 11, "more_body": True}]
    sent = await call_asgi(BodyLimitMiddleware(app, max_body_size=LIMIT), make_scope(), incoming)
    assert errors == [413, 413]
    assert sent[0]["status"] == 413


@pytest.mark.anyio
async def test_carboy_request_inside_uses_the_middleware_limit() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen["limit"] = scope["carboy.max_body"]
        body = await Request(scope, receive).body()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with client_for(BodyLimitMiddleware(app, max_body_size=LIMIT)) as client:
        ok = await client.post("/", content=Chunks(b"x" * 5, b"y" * 5))
        too_big = await client.post("/", content=Chunks(b"x" * 5, b"y" * 6))
    assert (ok.status_code, ok.text) == (200, "xxxxxyyyyy")
    assert seen["limit"] == LIMIT
    assert too_big.status_code == 413


@pytest.mark.anyio
@pytest.mark.parametrize(
    "lengths",
    [
        [b"abc"],
        [b"-1"],
        [b"1.5"],
        [b""],
        [b"+5"],
        [b"0x10"],
        [b"\xd9\xa3"],  # an Arabic-Indic digit: digits must be ASCII
        [b"5, 5"],
        [b"5", b"6"],
    ],
)
async def test_malformed_content_length_gets_400(
    lengths: list[bytes], make_scope: Any, call_asgi: Any
) -> None:
    inner = EchoApp()
    headers = [(b"host", b"testserver"), *((b"content-length", value) for value in lengths)]
    sent = await call_asgi(
        BodyLimitMiddleware(inner, max_body_size=LIMIT), make_scope(method="POST", headers=headers)
    )
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b"Invalid Content-Length header"
    assert inner.calls == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("lengths", "status"),
    [
        ([b"9" * 5000], 413),  # past int()'s digit limit: still a 413, not a 500
        ([b"00000000000000000000000000010"], 200),
        ([b" 10 "], 200),
        ([b"10", b"10"], 200),
    ],
)
async def test_unusual_but_valid_content_lengths(
    lengths: list[bytes], status: int, make_scope: Any, call_asgi: Any
) -> None:
    headers = [(b"host", b"testserver"), *((b"content-length", value) for value in lengths)]
    incoming: list[Message] = [{"type": "http.request", "body": b"x" * 10, "more_body": False}]
    app = BodyLimitMiddleware(EchoApp(), max_body_size=LIMIT)
    sent = await call_asgi(app, make_scope(method="POST", headers=headers), incoming)
    assert sent[0]["status"] == status


@pytest.mark.anyio
async def test_zero_limit_allows_only_empty_bodies() -> None:
    app = BodyLimitMiddleware(EchoApp(), max_body_size=0)
    async with client_for(app) as client:
        empty = await client.get("/")
        one = await client.post("/", content=Chunks(b"x"))
    assert (empty.status_code, empty.text) == (200, "0")
    assert one.status_code == 413


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_pass_through(kind: str, make_scope: Any, call_asgi: Any) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    scope = make_scope(kind, headers=[(b"content-length", b"junk")])
    await call_asgi(BodyLimitMiddleware(app, max_body_size=LIMIT), scope)
    assert scopes == [scope]
    assert "carboy.max_body" not in scope


@pytest.mark.parametrize("bad", [-1, "10", 1.5, True, None])
def test_bad_limits(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_body_size must be"):
        BodyLimitMiddleware(EchoApp(), max_body_size=bad)
