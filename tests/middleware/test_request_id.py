"""RequestIdMiddleware."""

from __future__ import annotations

import re
import uuid
from itertools import count
from typing import Any

import httpx
import pytest

from carboy.datastructures import State
from carboy.exceptions import ConfigurationError
from carboy.middleware import RequestIdMiddleware
from carboy.types import Receive, Scope, Send

HEX_ID = re.compile(r"[0-9a-f]{32}")


class App:
    """Answers with the request id it found in ``scope["state"]``."""

    def __init__(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.headers = headers or []
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        state = scope["state"]
        request_id = state["request_id"] if isinstance(state, dict) else state.request_id
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": request_id.encode()})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.anyio
async def test_a_new_id_is_made_stored_and_echoed() -> None:
    inner = App()
    async with client_for(RequestIdMiddleware(inner)) as client:
        first = await client.get("/")
        second = await client.get("/")
    assert HEX_ID.fullmatch(first.text)
    assert uuid.UUID(hex=first.text).version == 4
    assert uuid.UUID(hex=first.text).variant == uuid.RFC_4122
    assert first.headers["x-request-id"] == first.text
    assert second.text != first.text
    assert inner.scope is not None
    assert inner.scope["state"] == {"request_id": second.text}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming", ["abc-123", "a" * 200, "0af7651916cd43dd8448eb211c80319c", "Root=1-5f/x:y+z=.w_"]
)
async def test_a_safe_incoming_id_is_trusted(incoming: str) -> None:
    async with client_for(RequestIdMiddleware(App())) as client:
        response = await client.get("/", headers={"X-Request-ID": incoming})
    assert response.text == incoming
    assert response.headers["x-request-id"] == incoming


@pytest.mark.anyio
@pytest.mark.parametrize(
    "incoming",
    [
        b"a" * 201,
        b"",
        b"has space",
        b"<script>alert(1)</script>",
        b'quote"d',
        b"semi;colon",
        b"tab\there",
        b"nul\x00byte",
        b"line\r\nset-cookie: a=b",
        b"caf\xc3\xa9",
        b"x" * 100_000,
    ],
)
async def test_an_unsafe_incoming_id_is_replaced(
    incoming: bytes, make_scope: Any, call_asgi: Any
) -> None:
    scope = make_scope(headers=[(b"host", b"testserver"), (b"x-request-id", incoming)])
    sent = await call_asgi(RequestIdMiddleware(App()), scope)
    echoed = dict(sent[0]["headers"])[b"x-request-id"]
    assert HEX_ID.fullmatch(echoed.decode())
    assert sent[1]["body"] == echoed


@pytest.mark.anyio
async def test_incoming_ids_ignored_when_not_trusted() -> None:
    app = RequestIdMiddleware(App(), trust_incoming=False)
    async with client_for(app) as client:
        response = await client.get("/", headers={"X-Request-ID": "abc-123"})
    assert HEX_ID.fullmatch(response.text)
    assert response.headers["x-request-id"] == response.text


@pytest.mark.anyio
async def test_custom_header_and_generator() -> None:
    numbers = count(1)
    app = RequestIdMiddleware(
        App(), header_name="X-Correlation-ID", generator=lambda: f"req-{next(numbers)}"
    )
    async with client_for(app) as client:
        made = await client.get("/", headers={"X-Request-ID": "ignored"})
        kept = await client.get("/", headers={"X-Correlation-ID": "abc"})
    assert made.text == "req-1"
    assert made.headers["x-correlation-id"] == "req-1"
    assert "x-request-id" not in made.headers
    assert kept.text == "abc"


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["has space", "", "x" * 201, "é", 42])
async def test_a_generator_returning_unsafe_ids_is_a_configuration_error(bad: Any) -> None:
    app = RequestIdMiddleware(App(), generator=lambda: bad)
    async with client_for(app) as client:
        with pytest.raises(ConfigurationError, match="ids must be strings"):
            await client.get("/")


@pytest.mark.anyio
async def test_the_apps_own_header_is_not_duplicated() -> None:
    app = RequestIdMiddleware(App([(b"X-Request-ID", b"from-app")]))
    async with client_for(app) as client:
        response = await client.get("/")
    assert response.headers.get_list("x-request-id") == ["from-app"]


@pytest.mark.anyio
async def test_existing_state_dict_keeps_its_keys(make_scope: Any, call_asgi: Any) -> None:
    scope = make_scope(headers=[(b"x-request-id", b"abc")])
    scope["state"] = {"db": "pool"}
    await call_asgi(RequestIdMiddleware(App()), scope)
    assert scope["state"] == {"db": "pool", "request_id": "abc"}


@pytest.mark.anyio
async def test_carboy_state_gets_an_attribute(make_scope: Any, call_asgi: Any) -> None:
    state = State({"db": "pool"})
    scope = make_scope(headers=[(b"x-request-id", b"abc")])
    scope["state"] = state
    sent = await call_asgi(RequestIdMiddleware(App()), scope)
    assert scope["state"] is state
    assert state.request_id == "abc"
    assert state.db == "pool"
    assert sent[1]["body"] == b"abc"


@pytest.mark.anyio
async def test_websocket_gets_an_id_on_accept(make_scope: Any, call_asgi: Any) -> None:
    scope = make_scope("websocket", headers=[(b"x-request-id", b"ws-1")])
    sent = await call_asgi(RequestIdMiddleware(App()), scope)
    assert sent == [{"type": "websocket.accept", "headers": [(b"x-request-id", b"ws-1")]}]
    assert scope["state"] == {"request_id": "ws-1"}


@pytest.mark.anyio
async def test_lifespan_passes_through(make_scope: Any, call_asgi: Any) -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    scope = make_scope("lifespan")
    await call_asgi(RequestIdMiddleware(app), scope)
    assert scopes == [scope]
    assert "state" not in scope


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"header_name": "X Request"}, "header_name must be a valid header name"),
        ({"header_name": ""}, "header_name must be a valid header name"),
        ({"header_name": "X-Id\r\n"}, "header_name must be a valid header name"),
        ({"generator": "uuid"}, "generator must be a function"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RequestIdMiddleware(App(), **options)
