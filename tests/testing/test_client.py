"""TestClient and AsyncTestClient, driven against small raw ASGI apps."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from carboy.exceptions import WebSocketDisconnect
from carboy.testing import AsyncTestClient, TestClient, WebSocketDenied
from carboy.testing._protocol import CHUNK_SIZE
from carboy.types import ASGIApp, Message, Receive, Scope, Send

# -- small raw ASGI apps -------------------------------------------------------


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """``app``, answering lifespan scopes by returning (no lifespan support)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)

    return wrapped


def http_client(app: ASGIApp, **options: Any) -> TestClient:
    return TestClient(without_lifespan(app), **options)


def async_client(app: ASGIApp, **options: Any) -> AsyncTestClient:
    return AsyncTestClient(without_lifespan(app), **options)


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return b"".join(m.get("body", b"") for m in messages), messages


async def respond(
    send: Send,
    body: bytes | str = b"",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = body.encode() if isinstance(body, str) else body
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": data})


def scope_echo() -> tuple[ASGIApp, list[Scope]]:
    """An app that answers with a JSON view of its scope and body; keeps the scopes."""
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        body, messages = await read_body(receive)
        view = {
            "type": scope["type"],
            "asgi": scope["asgi"],
            "http_version": scope["http_version"],
            "method": scope["method"],
            "scheme": scope["scheme"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query_string": scope["query_string"].decode("latin-1"),
            "root_path": scope["root_path"],
            "client": list(scope["client"]),
            "server": list(scope["server"]),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
            "messages": [[len(m.get("body", b"")), m.get("more_body", False)] for m in messages],
        }
        await respond(send, json.dumps(view), headers=[(b"content-type", b"application/json")])

    return app, seen


@pytest.fixture
def echo() -> Iterator[tuple[TestClient, list[Scope]]]:
    app, seen = scope_echo()
    with http_client(app) as client:
        yield client, seen


# -- requests --------------------------------------------------------------------


def test_get_builds_the_asgi_scope(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo
    response = client.get("/items", headers={"X-Token": "abc"})
    assert response.status_code == 200
    view = response.json()
    assert view["type"] == "http"
    assert view["asgi"] == {"version": "3.0"}
    assert view["http_version"] == "1.1"
    assert view["method"] == "GET"
    assert view["scheme"] == "http"
    assert view["path"] == "/items"
    assert view["raw_path"] == "/items"
    assert view["query_string"] == ""
    assert view["root_path"] == ""
    assert view["client"] == ["testclient", 50000]
    assert view["server"] == ["testserver", 80]
    headers = dict(view["headers"])
    assert headers["host"] == "testserver"
    assert headers["x-token"] == "abc"
    assert headers["user-agent"] == "testclient"
    assert all(name == name.lower() for name, _ in view["headers"])
    assert view["messages"] == [[0, False]]


def test_https_base_url_gives_https_scheme_and_port() -> None:
    app, _ = scope_echo()
    with http_client(app, base_url="https://example.org:8443") as client:
        view = client.get("/").json()
    assert view["scheme"] == "https"
    assert view["server"] == ["example.org", 8443]
    assert dict(view["headers"])["host"] == "example.org:8443"


def test_post_body_arrives(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo
    view = client.post("/echo", json={"name": "ann"}).json()
    assert view["method"] == "POST"
    assert json.loads(view["body"]) == {"name": "ann"}
    assert dict(view["headers"])["content-type"] == "application/json"
    assert dict(view["headers"])["content-length"] == str(len(view["body"]))


def test_large_body_arrives_in_chunks(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo
    body = bytes(range(256)) * 1200  # 307,200 bytes
    view = client.put("/upload", content=body).json()
    assert view["body"].encode("latin-1") == body
    sizes = [size for size, _ in view["messages"]]
    assert sizes == [CHUNK_SIZE] * 4 + [len(body) - 4 * CHUNK_SIZE]
    assert [more for _, more in view["messages"]] == [True, True, True, True, False]


def test_generator_body_keeps_its_chunks(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo

    def parts() -> Iterator[bytes]:
        yield b"first,"
        yield b"second"

    view = client.post("/stream", content=parts()).json()
    assert view["body"] == "first,second"
    assert view["messages"] == [[6, True], [6, False]]


def test_query_string_stays_raw(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo
    view = client.get("/search", params=[("q", "a b&c"), ("tag", "x"), ("tag", "y")]).json()
    assert view["query_string"] == "q=a+b%26c&tag=x&tag=y"
    view = client.get("/search?q=%C3%A9t%C3%A9").json()
    assert view["query_string"] == "q=%C3%A9t%C3%A9"


def test_percent_encoded_path_is_decoded_raw_path_is_not(
    echo: tuple[TestClient, list[Scope]],
) -> None:
    client, _ = echo
    view = client.get("/caf%C3%A9/a%2Fb/100%25").json()
    assert view["path"] == "/café/a/b/100%"
    assert view["raw_path"] == "/caf%C3%A9/a%2Fb/100%25"


def test_unicode_path_is_encoded_on_the_wire(echo: tuple[TestClient, list[Scope]]) -> None:
    client, _ = echo
    view = client.get("/naïve/日本").json()
    assert view["path"] == "/naïve/日本"
    assert view["raw_path"] == "/na%C3%AFve/%E6%97%A5%E6%9C%AC"


def test_repeated_request_and_response_headers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        values = [v for k, v in scope["headers"] if k == b"x-tag"]
        headers = [(b"x-seen", v) for v in values] + [(b"x-one", b"1")]
        await respond(send, b"ok", headers=headers)

    with http_client(app) as client:
        response = client.get("/", headers=[("X-Tag", "a"), ("X-Tag", "b")])
    assert response.headers.get_list("x-seen") == ["a", "b"]
    assert response.headers["x-one"] == "1"


def test_head_request() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"5")]
        body = b"" if scope["method"] == "HEAD" else b"hello"
        await respond(send, body, headers=headers)

    with http_client(app) as client:
        response = client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == "5"
    assert response.content == b""


# -- cookies and redirects ------------------------------------------------------------


def cookie_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/login":
            await respond(send, b"in", headers=[(b"set-cookie", b"session=s3cr3t; Path=/")])
        elif scope["path"] == "/logout":
            expired = b"session=; Path=/; Max-Age=0"
            await respond(send, b"out", headers=[(b"set-cookie", expired)])
        else:
            cookie = dict(scope["headers"]).get(b"cookie", b"")
            await respond(send, cookie)

    return app


def test_cookies_persist_across_requests() -> None:
    with http_client(cookie_app()) as client:
        assert client.get("/me").content == b""
        client.get("/login")
        assert client.cookies["session"] == "s3cr3t"
        assert client.get("/me").content == b"session=s3cr3t"
        client.get("/logout")
        assert client.get("/me").content == b""


def test_cookies_given_to_the_client_are_sent() -> None:
    with http_client(cookie_app(), cookies={"theme": "dark"}) as client:
        assert client.get("/me").content == b"theme=dark"


def redirect_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/old":
            await respond(send, status=302, headers=[(b"location", b"/new?from=old")])
        else:
            await respond(send, f"{scope['path']}?{scope['query_string'].decode()}")

    return app


def test_redirects_are_followed_by_default() -> None:
    with http_client(redirect_app()) as client:
        response = client.get("/old")
    assert response.status_code == 200
    assert response.text == "/new?from=old"
    assert [r.status_code for r in response.history] == [302]
    assert str(response.url) == "http://testserver/new?from=old"


def test_redirects_can_be_left_alone() -> None:
    with http_client(redirect_app(), follow_redirects=False) as client:
        response = client.get("/old")
    assert response.status_code == 302
    assert response.headers["location"] == "/new?from=old"


# -- streaming ---------------------------------------------------------------------


def test_streaming_response_arrives_chunk_by_chunk() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send(
                {"type": "http.response.body", "body": f"part{i};".encode(), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    with http_client(app) as client:
        assert client.get("/").content == b"part0;part1;part2;"
        with client.stream("GET", "/") as response:
            assert list(response.iter_raw()) == [b"part0;", b"part1;", b"part2;"]


def test_leaving_an_endless_stream_disconnects_the_app() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def watch() -> None:
            seen.append((await receive())["type"])

        watcher = asyncio.create_task(watch())
        try:
            n = 0
            while not watcher.done():
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                n += 1
                await asyncio.sleep(0.001)
        finally:
            await watcher

    with http_client(app) as client, client.stream("GET", "/events") as response:
        lines = response.iter_lines()
        assert [next(lines), next(lines)] == ["tick", "tick"]
    assert seen == ["http.disconnect"]


def test_app_sees_disconnect_after_the_response_is_complete() -> None:
    after: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await respond(send, b"done")
        after.append(await receive())
        after.append(await receive())

    with http_client(app) as client:
        assert client.post("/", content=b"x").text == "done"
    assert after == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


def test_background_work_after_the_response_is_finished_before_returning() -> None:
    done: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"queued")
        await asyncio.sleep(0.01)
        done.append(True)

    with http_client(app) as client:
        assert client.get("/").text == "queued"
        assert done == [True]


# -- errors --------------------------------------------------------------------------


def crashing_app(where: str) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if where == "after-200":
            await respond(send, b"fine")
        elif where == "after-500":
            await respond(send, b"Server Error", status=500)
        elif where == "mid-stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise ValueError(f"boom {where}")

    return app


@pytest.mark.parametrize("where", ["before", "after-200", "mid-stream"])
def test_app_exceptions_reach_the_test(where: str) -> None:
    with http_client(crashing_app(where)) as client, pytest.raises(ValueError, match=where):
        client.get("/")


def test_a_complete_500_response_means_the_app_handled_its_error() -> None:
    with http_client(crashing_app("after-500")) as client:
        response = client.get("/")
    assert response.status_code == 500
    assert response.text == "Server Error"


def test_unraised_exceptions_become_a_500() -> None:
    with http_client(crashing_app("before"), raise_server_exceptions=False) as client:
        response = client.get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_unraised_exception_mid_stream_keeps_what_was_sent() -> None:
    with http_client(crashing_app("mid-stream"), raise_server_exceptions=False) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"half"


def test_app_returning_without_a_response_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with (
        http_client(app) as client,
        pytest.raises(RuntimeError, match="without sending a response"),
    ):
        client.get("/")
    with http_client(app, raise_server_exceptions=False) as client:
        assert client.get("/").status_code == 500


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (
            [{"type": "http.response.start", "status": 200}] * 2,
            "'http.response.start' twice",
        ),
        ([{"type": "http.response.body", "body": b"x"}], "before 'http.response.start'"),
        (
            [
                {"type": "http.response.start", "status": 200},
                {"type": "http.response.body", "body": b"x"},
                {"type": "http.response.body", "body": b"y"},
            ],
            "after the response ended",
        ),
        ([{"type": "http.response.bogus"}], "unknown HTTP message 'http.response.bogus'"),
    ],
)
def test_protocol_mistakes_are_reported(messages: list[Message], error: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    with http_client(app) as client, pytest.raises(RuntimeError, match=error):
        client.get("/")


def test_a_stuck_app_times_out_instead_of_hanging() -> None:
    cancelled = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with http_client(app, timeout=0.2) as client:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match=r"sent nothing for 0\.2 seconds"):
            client.get("/")
        assert time.monotonic() - start < 5
        assert cancelled.wait(5)


# -- the event loop -------------------------------------------------------------------


def loop_app() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        await respond(send, f"{id(loop)} {threading.current_thread().name}")

    return app


def client_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "carboy-testclient"}


# Earlier tests' forgotten clients may stop their threads at any moment (when the
# collector gets to them), so these tests follow the threads they start, not a count.


def test_one_loop_per_client_in_a_background_thread() -> None:
    before = client_threads()
    client = http_client(loop_app())
    assert not client_threads() - before  # started lazily
    first = client.get("/").text.split()
    second = client.get("/").text.split()
    assert first == second
    assert first[1] == "carboy-testclient"
    (thread,) = client_threads() - before
    client.close()
    assert not thread.is_alive()


def test_a_forgotten_client_stops_its_loop_when_collected() -> None:
    before = client_threads()
    client = http_client(loop_app())
    client.get("/")
    (thread,) = client_threads() - before
    del client
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


# -- lifespan ------------------------------------------------------------------------


def lifespan_app(events: list[str], *, fail: str | None = None, crash: bool = False) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            events.append(message["type"])
            if crash:
                raise OSError("database unreachable")
            if fail == "startup":
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            scope["state"]["db"] = "connected"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            events.append(message["type"])
            if fail == "shutdown":
                await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
            return
        events.append(f"request {scope.get('state')}")
        await respond(send, b"ok")

    return app


def test_with_block_runs_startup_and_shutdown() -> None:
    events: list[str] = []
    with TestClient(lifespan_app(events)) as client:
        assert events == ["lifespan.startup"]
        client.get("/")
    assert events == [
        "lifespan.startup",
        "request {'db': 'connected'}",
        "lifespan.shutdown",
    ]


def test_request_state_is_a_copy_of_the_lifespan_state() -> None:
    states: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["n"] = 1
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        states.append(scope["state"])
        scope["state"]["n"] += 1
        await respond(send)

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
    assert states == [{"n": 2}, {"n": 2}]


def test_no_lifespan_without_with() -> None:
    events: list[str] = []
    client = TestClient(lifespan_app(events))
    client.get("/")
    client.close()
    assert events == ["request None"]


def test_startup_failure_raises_with_the_message() -> None:
    events: list[str] = []
    client = TestClient(lifespan_app(events, fail="startup"))
    with pytest.raises(RuntimeError, match="Lifespan startup failed: no database"), client:
        pass  # pragma: no cover - never entered
    assert events == ["lifespan.startup"]
    assert client.is_closed


def test_startup_crash_raises_the_apps_exception() -> None:
    with (
        pytest.raises(OSError, match="database unreachable"),
        TestClient(lifespan_app([], crash=True)),
    ):
        pass  # pragma: no cover - never entered


def test_shutdown_failure_raises_with_the_message() -> None:
    with (
        pytest.raises(RuntimeError, match="Lifespan shutdown failed: flush failed"),
        TestClient(lifespan_app([], fail="shutdown")) as client,
    ):
        client.get("/")


def test_app_without_lifespan_support_still_works_in_with() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # does not speak lifespan
        await respond(send, repr(scope.get("state")))

    with TestClient(app) as client:
        assert client.get("/").text == "None"


# -- WebSockets ------------------------------------------------------------------------


def ws_echo(log: list[Message] | None = None) -> ASGIApp:
    """Echo each frame back as it came; records what the app received."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        offered = scope["subprotocols"]
        await send(
            {
                "type": "websocket.accept",
                "subprotocol": offered[-1] if offered else None,
                "headers": [(b"x-room", b"lobby")],
            }
        )
        while True:
            message = await receive()
            if log is not None:
                log.append(message)
            if message["type"] == "websocket.disconnect":
                return
            reply = {k: v for k, v in message.items() if k in ("text", "bytes")}
            await send({"type": "websocket.send", **reply})

    return app


def test_websocket_echo_text_bytes_json() -> None:
    with http_client(ws_echo()) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"n": [1, 2], "é": None})
        assert ws.receive_json() == {"n": [1, 2], "é": None}
        ws.send_json([True], mode="binary")
        assert ws.receive_bytes() == b"[true]"
        ws.send_json({"a": 1}, mode="binary")
        assert ws.receive_json() == {"a": 1}
        ws.send({"type": "websocket.receive", "text": "raw"})
        assert ws.receive() == {"type": "websocket.send", "text": "raw"}


def test_websocket_scope_and_handshake_details() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await ws_echo()(scope, receive, send)

    with (
        http_client(app, cookies={"sid": "42"}) as client,
        client.websocket_connect(
            "/chat/caf%C3%A9?room=1", subprotocols=["v1", "v2"], headers={"X-Token": "t"}
        ) as ws,
    ):
        assert ws.accepted_subprotocol == "v2"
        assert ws.extra_headers["x-room"] == "lobby"
    scope = scopes[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/chat/café"
    assert scope["raw_path"] == b"/chat/caf%C3%A9"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["v1", "v2"]
    assert scope["client"] == ("testclient", 50000)
    assert scope["server"] == ("testserver", 80)
    assert scope["extensions"] == {"websocket.http.response": {}}
    headers = dict(scope["headers"])
    assert headers[b"host"] == b"testserver"
    assert headers[b"cookie"] == b"sid=42"
    assert headers[b"x-token"] == b"t"
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"connection"] == b"upgrade"
    assert headers[b"sec-websocket-version"] == b"13"
    assert headers[b"sec-websocket-protocol"] == b"v1, v2"
    assert len(headers[b"sec-websocket-key"]) == 24


def test_wss_scheme_for_https_base_url() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        await ws_echo()(scope, receive, send)

    with http_client(app, base_url="https://secure.test") as client:
        client.websocket_connect("/ws").close()
    assert scopes[0]["scheme"] == "wss"
    assert scopes[0]["server"] == ("secure.test", 443)


def test_client_close_reaches_the_app_with_its_code() -> None:
    log: list[Message] = []
    with http_client(ws_echo(log)) as client:
        ws = client.websocket_connect("/ws")
        ws.send_text("last")
        assert ws.receive_text() == "last"
        ws.close(4000, "bye")
        ws.close()  # a second close does nothing
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 4000
    assert log[-1] == {"type": "websocket.disconnect", "code": 4000, "reason": "bye"}


def test_leaving_the_with_block_closes_normally() -> None:
    log: list[Message] = []
    with http_client(ws_echo(log)) as client, client.websocket_connect("/ws"):
        pass
    assert log == [{"type": "websocket.disconnect", "code": 1000, "reason": ""}]


def test_server_close_raises_disconnect_with_code_and_reason() -> None:
    after_close: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bye"})
        await send({"type": "websocket.close", "code": 4003, "reason": "kicked"})
        after_close.append(await receive())

    with http_client(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4003, "kicked")
        with pytest.raises(WebSocketDisconnect):  # again, without waiting
            ws.receive_text()
    assert after_close == [{"type": "websocket.disconnect", "code": 4003, "reason": ""}]


def test_app_returning_without_close_is_an_abnormal_closure() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    with http_client(app) as client, client.websocket_connect("/ws") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1006


def test_close_before_accept_is_denied_with_403() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4401, "reason": "login first"})

    with http_client(app) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws")
    denied = info.value
    assert (denied.status_code, denied.code, denied.reason) == (403, 4401, "login first")
    assert (
        str(denied) == "The app denied the WebSocket with HTTP 403 (close code 4401: login first)"
    )


def test_http_denial_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send(
            {"type": "websocket.http.response.body", "body": b'{"error":', "more_body": True}
        )
        await send({"type": "websocket.http.response.body", "body": b'"token"}'})

    with http_client(app) as client, pytest.raises(WebSocketDenied) as info:
        client.websocket_connect("/ws")
    denied = info.value
    assert denied.status_code == 401
    assert denied.code is None
    assert denied.headers["www-authenticate"] == "Bearer"
    assert json.loads(denied.body) == {"error": "token"}


def test_receive_times_out_instead_of_hanging() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()  # waits for the client; never sends first
        await send({"type": "websocket.send", "text": message.get("text", "gone")})
        await receive()

    with http_client(app) as client, client.websocket_connect("/ws", timeout=0.1) as ws:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=r"sent nothing for 0\.1 seconds"):
            ws.receive_text()
        assert time.monotonic() - start < 3
        ws.send_text("still here")  # the app was not disturbed by the timeout
        assert ws.receive_text(timeout=5) == "still here"


def test_handshake_times_out_when_the_app_never_answers() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(60)

    with (
        http_client(app) as client,
        pytest.raises(TimeoutError, match=r"did not accept the WebSocket in 0\.1s"),
    ):
        client.websocket_connect("/ws", timeout=0.1)


def test_app_exception_before_accept_reaches_the_test() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("no such room")

    with http_client(app) as client, pytest.raises(LookupError, match="no such room"):
        client.websocket_connect("/ws")


def test_app_exception_after_accept_reaches_the_test() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ZeroDivisionError("bad math")

    with http_client(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("go")
        with pytest.raises(ZeroDivisionError, match="bad math"):
            ws.receive_text()


def test_app_exception_after_closing_wins_over_the_close() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1011})
        raise KeyError("the real problem")

    with http_client(app) as client, client.websocket_connect("/ws") as ws:
        with pytest.raises(KeyError, match="the real problem") as info:
            ws.receive_text()
        assert isinstance(info.value.__context__, WebSocketDisconnect)


def test_app_exception_after_client_close_is_raised_by_close() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise RuntimeError("cleanup failed")

    with http_client(app) as client:
        ws = client.websocket_connect("/ws")
        with pytest.raises(RuntimeError, match="cleanup failed"):
            ws.close()


def test_app_sending_after_the_client_left_gets_an_oserror() -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            errors.append(exc)

    with http_client(app) as client:
        client.websocket_connect("/ws").close()
    assert len(errors) == 1
    assert "the client disconnected" in str(errors[0])


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"type": "websocket.send", "text": "x"}], "'websocket.send' before 'websocket.accept'"),
        ([{"type": "websocket.accept"}] * 2, "'websocket.accept' twice"),
        ([{"type": "websocket.bogus"}], "unknown WebSocket message 'websocket.bogus'"),
    ],
)
def test_websocket_protocol_mistakes_are_reported(messages: list[Message], error: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        for message in messages:
            await send(message)

    with (
        http_client(app) as client,
        pytest.raises(RuntimeError, match=error),
        client.websocket_connect("/ws") as ws,
    ):
        ws.receive()


def test_app_returning_without_accepting_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    with http_client(app) as client, pytest.raises(RuntimeError, match="without accepting"):
        client.websocket_connect("/ws")


def test_receive_text_on_a_binary_frame_says_so() -> None:
    with http_client(ws_echo()) as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"\x01")
        with pytest.raises(TypeError, match=r"Expected a text message, the app sent bytes"):
            ws.receive_text()
        ws.send_text("t")
        with pytest.raises(TypeError, match=r"Expected a binary message, the app sent text"):
            ws.receive_bytes()


# -- AsyncTestClient ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_requests() -> None:
    app, _ = scope_echo()
    async with async_client(app) as client:
        view = (await client.post("/a%20b?x=1", content=b"y" * (CHUNK_SIZE + 1))).json()
    assert view["path"] == "/a b"
    assert view["query_string"] == "x=1"
    assert view["messages"] == [[CHUNK_SIZE, True], [1, False]]
    assert dict(view["headers"])["user-agent"] == "testclient"


@pytest.mark.anyio
async def test_async_client_lifespan() -> None:
    events: list[str] = []
    async with AsyncTestClient(lifespan_app(events)) as client:
        await client.get("/")
    assert events == ["lifespan.startup", "request {'db': 'connected'}", "lifespan.shutdown"]


@pytest.mark.anyio
async def test_async_client_startup_failure() -> None:
    with pytest.raises(RuntimeError, match="Lifespan startup failed: no database"):
        async with AsyncTestClient(lifespan_app([], fail="startup")):
            pass  # pragma: no cover - never entered


@pytest.mark.anyio
async def test_async_client_errors_and_streams() -> None:
    async with async_client(crashing_app("before")) as client:
        with pytest.raises(ValueError, match="boom before"):
            await client.get("/")
    async with async_client(crashing_app("before"), raise_server_exceptions=False) as client:
        assert (await client.get("/")).status_code == 500

    ticks: list[str] = []

    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": b"tick", "more_body": True})
            ticks.append("tick")
            await asyncio.sleep(0.001)

    async with async_client(endless) as client, client.stream("GET", "/") as response:
        async for chunk in response.aiter_raw():
            assert chunk == b"tick"
            break
    count = len(ticks)
    await asyncio.sleep(0.01)
    assert len(ticks) == count  # the app stopped once the client left


@pytest.mark.anyio
async def test_async_websocket_session() -> None:
    log: list[Message] = []
    async with (
        async_client(ws_echo(log)) as client,
        client.websocket_connect("/ws", subprotocols=["a"]) as ws,
    ):
        assert ws.accepted_subprotocol == "a"
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"
        await ws.send_bytes(b"b")
        assert await ws.receive_bytes() == b"b"
        await ws.send_json({"k": 1})
        assert await ws.receive_json() == {"k": 1}
    assert log[-1] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}


@pytest.mark.anyio
async def test_async_websocket_denial_and_timeout() -> None:
    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4001})

    async with async_client(deny) as client:
        with pytest.raises(WebSocketDenied) as info:
            async with client.websocket_connect("/ws"):
                pass  # pragma: no cover - never entered
        assert (info.value.status_code, info.value.code) == (403, 4001)

    async with (
        async_client(ws_echo()) as client,
        client.websocket_connect("/ws", timeout=0.05) as ws,
    ):
        with pytest.raises(TimeoutError):
            await ws.receive_text()


@pytest.mark.anyio
async def test_async_websocket_needs_opening_first() -> None:
    async with async_client(ws_echo()) as client:
        ws = client.websocket_connect("/ws")
        with pytest.raises(RuntimeError, match="Open the WebSocket first"):
            await ws.send_text("x")
        await ws.close()  # closing a never-opened session is harmless


def test_testclient_is_not_collected_as_a_test_class() -> None:
    assert TestClient.__test__ is False


def test_client_works_inside_another_threads_callback() -> None:
    results: list[str] = []
    with http_client(loop_app()) as client:

        def worker(fetch: Callable[[str], httpx.Response]) -> None:
            results.append(fetch("/").text.split()[1])

        thread = threading.Thread(target=worker, args=(client.get,))
        thread.start()
        thread.join(10)
    assert results == ["carboy-testclient"]


# -- apps that misbehave ------------------------------------------------------------------


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give lingering apps 50 ms instead of a second before they are cancelled."""
    import carboy.testing._async
    import carboy.testing._sync

    monkeypatch.setattr(carboy.testing._sync, "CLOSE_GRACE", 0.05)
    monkeypatch.setattr(carboy.testing._async, "CLOSE_GRACE", 0.05)


def lingering_ws(cancelled: list[bool]) -> ASGIApp:
    """Accepts, then ignores the client entirely until cancelled."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    return app


@pytest.mark.usefixtures("short_grace")
def test_an_app_that_ignores_the_close_is_cancelled() -> None:
    cancelled: list[bool] = []
    with http_client(lingering_ws(cancelled)) as client:
        start = time.monotonic()
        client.websocket_connect("/ws").close()
        assert time.monotonic() - start < 3
        deadline = time.monotonic() + 5
        while not cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
    assert cancelled == [True]


@pytest.mark.anyio
@pytest.mark.usefixtures("short_grace")
async def test_async_an_app_that_ignores_the_close_is_cancelled() -> None:
    cancelled: list[bool] = []
    async with async_client(lingering_ws(cancelled)) as client, client.websocket_connect("/ws"):
        pass
    assert cancelled == [True]


def test_a_stream_that_stalls_mid_body_times_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"start", "more_body": True})
        await asyncio.sleep(60)

    with http_client(app, timeout=0.1) as client, client.stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert next(chunks) == b"start"
        with pytest.raises(httpx.ReadTimeout):
            next(chunks)


def test_unexpected_lifespan_message_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.ready"})

    with (
        pytest.raises(RuntimeError, match=r"unexpected lifespan message 'lifespan\.ready'"),
        TestClient(app),
    ):
        pass  # pragma: no cover - never entered


def test_websocket_denial_response_after_accept_is_a_protocol_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})

    with (
        http_client(app) as client,
        client.websocket_connect("/ws") as ws,
        pytest.raises(RuntimeError, match=r"'websocket\.http\.response\.start' after"),
    ):
        ws.receive()
