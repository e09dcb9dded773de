"""GZipMiddleware."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import pytest

from carboy.exceptions import ConfigurationError
from carboy.middleware import GZipMiddleware
from carboy.types import Message, Receive, Scope, Send

TEXT = b"carboy compresses this line nicely. " * 40  # 1440 bytes


def whole(
    body: bytes = TEXT, headers: list[tuple[bytes, bytes]] | None = None, status: int = 200
) -> Any:
    """An app answering ``body`` in one message."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raw = headers if headers is not None else [(b"content-type", b"text/plain")]
        raw = [*raw, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    return app


def streamed(*parts: bytes, media_type: bytes = b"text/plain") -> Any:
    """An app answering ``parts`` one message each, with no Content-Length."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", media_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for part in parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def get_scope(make_scope: Any, accept: bytes | None = b"gzip", method: str = "GET") -> Any:
    headers = [(b"host", b"testserver")]
    if accept is not None:
        headers.append((b"accept-encoding", accept))
    return make_scope(headers=headers, method=method)


def header(message: Message, name: bytes) -> bytes | None:
    values = [value for key, value in message["headers"] if key == name]
    assert len(values) <= 1, f"{name!r} repeated"
    return values[0] if values else None


# -- whole bodies --------------------------------------------------------------------


@pytest.mark.anyio
async def test_large_body_is_compressed(make_scope: Any, call_asgi: Any) -> None:
    sent = await call_asgi(GZipMiddleware(whole()), get_scope(make_scope))
    start, body = sent
    assert start["status"] == 200
    assert header(start, b"content-encoding") == b"gzip"
    assert header(start, b"vary") == b"Accept-Encoding"
    assert header(start, b"content-length") == str(len(body["body"])).encode()
    assert len(body["body"]) < len(TEXT) // 5
    assert gzip.decompress(body["body"]) == TEXT
    assert len(sent) == 2


@pytest.mark.anyio
async def test_through_httpx_the_client_decodes_it() -> None:
    app = GZipMiddleware(whole())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == TEXT


@pytest.mark.anyio
async def test_minimum_size_boundary(make_scope: Any, call_asgi: Any) -> None:
    at = await call_asgi(GZipMiddleware(whole(b"a" * 500)), get_scope(make_scope))
    under = await call_asgi(GZipMiddleware(whole(b"a" * 499)), get_scope(make_scope))
    assert header(at[0], b"content-encoding") == b"gzip"
    assert gzip.decompress(at[1]["body"]) == b"a" * 500
    assert header(under[0], b"content-encoding") is None
    assert header(under[0], b"vary") is None
    assert under[1]["body"] == b"a" * 499


@pytest.mark.anyio
async def test_small_body_without_content_length_is_left_alone(
    make_scope: Any, call_asgi: Any
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"tiny"})

    sent = await call_asgi(GZipMiddleware(app, minimum_size=10), get_scope(make_scope))
    assert sent == [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"tiny"},
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("accept", "compressed"),
    [
        (None, False),
        (b"identity", False),
        (b"br, deflate", False),
        (b"gzip;q=0", False),
        (b"gzip; q=0.0, *", False),
        (b"*;q=0", False),
        (b"gzip;q=bogus", False),
        (b"gzip", True),
        (b"GZIP", True),
        (b"br;q=1.0, gzip;q=0.5", True),
        (b"deflate, gzip, br", True),
        (b"*", True),
        (b"identity;q=1, *;q=0.1", True),
    ],
)
async def test_accept_encoding(
    accept: bytes | None, compressed: bool, make_scope: Any, call_asgi: Any
) -> None:
    sent = await call_asgi(GZipMiddleware(whole()), get_scope(make_scope, accept))
    assert (header(sent[0], b"content-encoding") == b"gzip") is compressed
    assert (sent[1]["body"] == TEXT) is not compressed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("headers", "status", "options"),
    [
        ([(b"content-encoding", b"br")], 200, {}),
        ([(b"content-type", b"text/event-stream")], 200, {}),
        ([(b"content-type", b"Image/PNG")], 200, {"exclude_media_types": ["image/*"]}),
        (
            [(b"content-type", b"application/zip; x=1")],
            200,
            {"exclude_media_types": ["application/zip"]},
        ),
        ([(b"cache-control", b"public, No-Transform")], 200, {}),
        ([(b"content-range", b"bytes 0-1439/5000")], 206, {}),
        ([], 204, {}),
        ([], 304, {}),
    ],
)
async def test_responses_left_alone(
    headers: list[tuple[bytes, bytes]],
    status: int,
    options: dict[str, Any],
    make_scope: Any,
    call_asgi: Any,
) -> None:
    sent = await call_asgi(
        GZipMiddleware(whole(headers=headers, status=status), **options), get_scope(make_scope)
    )
    assert header(sent[0], b"content-encoding") in (None, b"br")
    assert sent[1]["body"] == TEXT


@pytest.mark.anyio
async def test_head_requests_are_left_alone(make_scope: Any, call_asgi: Any) -> None:
    sent = await call_asgi(GZipMiddleware(whole()), get_scope(make_scope, method="HEAD"))
    assert header(sent[0], b"content-length") == b"1440"
    assert header(sent[0], b"content-encoding") is None


@pytest.mark.anyio
async def test_etag_is_weakened_and_vary_merged(make_scope: Any, call_asgi: Any) -> None:
    headers = [(b"ETag", b'"abc"'), (b"Vary", b"Cookie")]
    sent = await call_asgi(GZipMiddleware(whole(headers=headers)), get_scope(make_scope))
    assert header(sent[0], b"etag") == b'W/"abc"'
    assert header(sent[0], b"vary") == b"Cookie, Accept-Encoding"


@pytest.mark.anyio
async def test_weak_etag_stays_as_it_is(make_scope: Any, call_asgi: Any) -> None:
    headers = [(b"etag", b'W/"abc"')]
    sent = await call_asgi(GZipMiddleware(whole(headers=headers)), get_scope(make_scope))
    assert header(sent[0], b"etag") == b'W/"abc"'


# -- streaming -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_streaming_is_compressed_part_by_part(make_scope: Any, call_asgi: Any) -> None:
    parts = [b"first line\n", b"", b"second line\n" * 30, b"third\n"]
    sent = await call_asgi(GZipMiddleware(streamed(*parts)), get_scope(make_scope))
    start, *bodies = sent
    assert header(start, b"content-encoding") == b"gzip"
    assert header(start, b"content-length") is None
    assert header(start, b"vary") == b"Accept-Encoding"
    # Each non-empty part is flushed: what arrived so far decodes to what was sent so far.
    decoder = zlib.decompressobj(31)
    so_far = b""
    for message, part in zip(bodies, [p for p in parts if p], strict=False):
        assert message["more_body"] is True
        so_far += decoder.decompress(message["body"])
        assert so_far.endswith(part)
    assert len(bodies) == 4
    assert bodies[-1].get("more_body", False) is False
    assert gzip.decompress(b"".join(m["body"] for m in bodies)) == b"".join(parts)


@pytest.mark.anyio
async def test_streaming_through_httpx_decompresses_to_the_original() -> None:
    parts = [f"event {n}\n".encode() * 20 for n in range(10)]
    app = GZipMiddleware(streamed(*parts))
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    async with client, client.stream("GET", "/", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == b"".join(parts)


@pytest.mark.anyio
async def test_server_sent_events_are_not_compressed(make_scope: Any, call_asgi: Any) -> None:
    app = GZipMiddleware(streamed(b"data: 1\n\n", media_type=b"text/event-stream"))
    sent = await call_asgi(app, get_scope(make_scope))
    assert header(sent[0], b"content-encoding") is None
    assert sent[1]["body"] == b"data: 1\n\n"


@pytest.mark.anyio
async def test_other_messages_release_the_held_start(make_scope: Any, call_asgi: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": "/tmp/file"})

    sent = await call_asgi(GZipMiddleware(app), get_scope(make_scope))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["headers"] == []


@pytest.mark.anyio
async def test_a_start_without_body_is_still_sent(make_scope: Any, call_asgi: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    sent = await call_asgi(GZipMiddleware(app), get_scope(make_scope))
    assert [m["type"] for m in sent] == ["http.response.start"]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_pass_through(kind: str, make_scope: Any, call_asgi: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.accept"})

    sent = await call_asgi(GZipMiddleware(app), make_scope(kind))
    assert sent == [{"type": "websocket.accept"}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"minimum_size": -1}, "minimum_size must be"),
        ({"minimum_size": "500"}, "minimum_size must be"),
        ({"compresslevel": 0}, "compresslevel must be 1 to 9"),
        ({"compresslevel": 10}, "compresslevel must be 1 to 9"),
        ({"compresslevel": True}, "compresslevel must be 1 to 9"),
        ({"exclude_media_types": "text/html"}, "not a single string"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GZipMiddleware(whole(), **options)


@pytest.mark.anyio
async def test_empty_vary_is_replaced(make_scope: Any, call_asgi: Any) -> None:
    sent = await call_asgi(GZipMiddleware(whole(headers=[(b"vary", b"")])), get_scope(make_scope))
    assert header(sent[0], b"vary") == b"Accept-Encoding"


@pytest.mark.anyio
async def test_vary_star_is_kept(make_scope: Any, call_asgi: Any) -> None:
    sent = await call_asgi(GZipMiddleware(whole(headers=[(b"vary", b"*")])), get_scope(make_scope))
    assert header(sent[0], b"vary") == b"*"


@pytest.mark.anyio
async def test_messages_before_the_start_are_passed_on(make_scope: Any, call_asgi: Any) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": []})
        await whole()(scope, receive, send)

    sent = await call_asgi(GZipMiddleware(app), get_scope(make_scope))
    assert [m["type"] for m in sent] == [
        "http.response.early_hint",
        "http.response.start",
        "http.response.body",
    ]
    assert gzip.decompress(sent[2]["body"]) == TEXT
