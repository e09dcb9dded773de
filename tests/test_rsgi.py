"""The same app over ASGI and RSGI, against real granian processes (carboy/_rsgi/).

tests/rsgi_app.py is served five ways: ``granian --interface asgi``, ``granian
--interface rsgi``, ``carboy run --server granian`` (RSGI by default), and
in-process by ``TestClient`` over each interface. Every HTTP behaviour test runs
against all five; ``test_asgi_and_rsgi_answer_alike`` then compares the answers
to the same requests byte for byte (headers but ``date``). The WebSocket tests
run against the three real servers; RSGI's one difference there (no close code
after the handshake: the client reads 1005) is asserted, not hidden.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from carboy.testing import TestClient
from tests.rsgi_app import FILE_BYTES, MAX_BODY, MAX_WS_MESSAGE, app, app_with_middleware

pytest.importorskip("granian")

ROOT = Path(__file__).resolve().parents[1]
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
REAL = ["granian-asgi", "granian-rsgi", "carboy-run"]
ALL = [*REAL, "testclient-asgi", "testclient-rsgi"]
#: Real server processes are "slow" tests (``-m "not slow"`` leaves them out).
slow = pytest.mark.slow


def _marked(kinds: list[str]) -> list[Any]:
    return [pytest.param(k, marks=slow) if not k.startswith("testclient") else k for k in kinds]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """One way of serving an app: a client for it, and how it is served."""

    kind: str
    interface: str  # "asgi" or "rsgi": what the app was called with
    client: httpx.Client
    url: str = ""  # real servers only
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    events: Path | None = None
    extra: list[Any] = field(default_factory=list)

    def ws(self, path: str, **options: Any) -> ClientConnection:
        return connect("ws" + self.url.removeprefix("http") + path, open_timeout=5, **options)

    def app_close_code(self, code: int) -> int:
        """The close code a client sees when the app closes with ``code`` after accepting."""
        return code if self.interface == "asgi" else 1005

    def stop(self) -> str:
        """Stop the server (SIGINT: a graceful shutdown) and return its output."""
        self.client.close()
        for extra in self.extra:
            extra.__exit__(None, None, None)
        if self.process is None:
            return ""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        return self.log.read_text() if self.log else ""


def _command(kind: str, target: str, port: int) -> tuple[list[str], str]:
    common = ["--host", "127.0.0.1", "--port", str(port)]
    if kind == "granian-asgi":
        return [sys.executable, "-m", "granian", "--interface", "asgi", *common, target], "asgi"
    if kind == "granian-rsgi":
        return [sys.executable, "-m", "granian", "--interface", "rsgi", *common, target], "rsgi"
    if kind == "carboy-run":
        return [
            sys.executable,
            "-m",
            "carboy",
            "run",
            target,
            "--server",
            "granian",
            *common,
        ], "rsgi"
    if kind == "carboy-run-asgi":
        run = [sys.executable, "-m", "carboy", "run", target, "--server", "granian"]
        return [*run, "--interface", "asgi", *common], "asgi"
    raise ValueError(kind)


def serve(kind: str, tmp: Path, target: str = "tests.rsgi_app:app") -> Served:
    """Start ``kind`` serving ``target`` and wait until it answers."""
    if kind.startswith("testclient-"):
        interface = kind.removeprefix("testclient-")
        the_app = app_with_middleware if target.endswith("app_with_middleware") else app
        client = TestClient(
            the_app,
            base_url="http://127.0.0.1",
            interface="rsgi" if interface == "rsgi" else "asgi",
            follow_redirects=False,
            raise_server_exceptions=False,
        )
        client.__enter__()  # the lifespan
        return Served(kind, interface, client)
    port = _free_port()
    args, interface = _command(kind, target, port)
    log = tmp / f"{kind}-{port}.log"
    events = tmp / f"{kind}-{port}.events"
    env = {**os.environ, "CARBOY_TEST_EVENTS": str(events), "PYTHONUNBUFFERED": "1"}
    env.pop("CARBOY_RUN_LOG_LEVEL", None)
    with log.open("wb") as output:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"{kind} exited with {process.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url + "/plain", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{kind} did not answer in 30s:\n{log.read_text()}")
            time.sleep(0.1)
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=10)
    return Served(kind, interface, client, url, process, log, events)


class Servers:
    """Servers started on first use and stopped at the end of the module."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: dict[tuple[str, str], Served] = {}

    def get(self, kind: str, target: str = "tests.rsgi_app:app") -> Served:
        key = (kind, target)
        if key not in self.running:
            self.running[key] = serve(kind, self.tmp, target)
        return self.running[key]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = Servers(tmp_path_factory.mktemp("rsgi"))
    yield started
    for served in started.running.values():
        served.stop()


@pytest.fixture(params=_marked(ALL))
def served(request: pytest.FixtureRequest, servers: Servers) -> Served:
    return servers.get(request.param)


@pytest.fixture(params=_marked(REAL))
def real(request: pytest.FixtureRequest, servers: Servers) -> Served:
    return servers.get(request.param)


# -- HTTP: every way of serving --------------------------------------------------------


def test_plain_text_json_and_path_parameters(served: Served) -> None:
    c = served.client
    plain = c.get("/plain")
    assert (plain.status_code, plain.text) == (200, "Hello, World!")
    assert plain.headers["content-type"] == "text/html; charset=utf-8"
    assert plain.headers["content-length"] == "13"
    js = c.get("/json")
    assert js.json() == {"message": "Hello, World!", "n": 1}
    assert js.headers["content-type"] == "application/json"
    assert c.get("/users/42").json() == {"id": 42}
    assert c.get("/users/x").status_code == 404  # the converter refuses "x"


def test_security_headers_are_on_every_response(served: Served) -> None:
    c = served.client
    responses = [
        c.get("/plain"),
        c.get("/users/1"),
        c.get("/items/a"),
        c.get("/nope"),
        c.get("/boom"),
        c.get("/stream"),
        c.get("/events"),
        c.get("/file"),
        c.get("/file", headers={"range": "bytes=0-9"}),
        c.head("/json"),
        c.post("/plain"),
        c.get("/created"),
        c.get("/slash"),
    ]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)


def test_query_parameters_are_converted_and_validated(served: Served) -> None:
    c = served.client
    assert c.get("/items/caf%C3%A9", params={"q": "5"}).json() == {"name": "café", "q": 5}
    bad = c.get("/items/a", params={"q": "many"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "q"]
    assert c.get("/sync", params={"n": "21"}).json() == {"double": 42}


def test_json_bodies_and_malformed_json(served: Served) -> None:
    c = served.client
    created = c.post("/items", json={"name": "pen", "price": 1.5})
    assert created.status_code == 201
    assert created.json() == {"created": {"name": "pen", "price": 1.5}}
    malformed = c.post("/items", content=b'{"name": ', headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["detail"].startswith("Malformed JSON body")
    assert c.post("/items", json={"name": "pen"}).status_code == 422  # no price
    assert c.post("/items", json=["not", "an", "object"]).status_code == 422
    deep = b"[" * 100_000 + b"]" * 100_000
    too_deep = c.post("/items", content=deep, headers={"content-type": "application/json"})
    assert too_deep.status_code in (400, 413)  # never a 500


def test_body_limit_holds_with_and_without_content_length(served: Served) -> None:
    c = served.client
    assert c.post("/echo", content=b"x" * MAX_BODY).json() == {"length": MAX_BODY, "type": ""}
    # Answered before its body is read: the connection may then close (hyper's choice under
    # ASGI), so none of these asks to keep it.
    close = {"connection": "close"}
    declared = c.post("/echo", content=b"x" * (MAX_BODY + 1), headers=close)
    assert declared.status_code == 413
    assert declared.json()["detail"] == f"Request body exceeds {MAX_BODY} bytes"

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(20):
            yield b"y" * 8192

    streamed = c.post("/echo", content=chunks(), headers=close)
    assert streamed.status_code == 413
    assert streamed.json()["detail"] == f"Request body exceeds {MAX_BODY} bytes"
    big_form = c.post(
        "/upload", data={"title": "t"}, files={"doc": ("a.bin", b"z" * MAX_BODY)}, headers=close
    )
    assert big_form.status_code == 413


def test_uploads_and_form_limits(served: Served) -> None:
    c = served.client
    ok = c.post("/upload", data={"title": "report"}, files={"doc": ("r.pdf", b"%PDF" * 100)})
    assert ok.status_code == 200
    assert ok.json() == {"title": "report", "filename": "r.pdf", "size": 400}
    three = [("doc", ("a", b"1")), ("doc", ("b", b"2")), ("doc", ("c", b"3"))]
    too_many = c.post("/upload", data={"title": "t"}, files=three, headers={"connection": "close"})
    assert too_many.status_code == 413  # form_max_files=2
    missing = c.post("/upload", data={"title": "t"})
    assert missing.status_code == 422
    garbage = c.post(
        "/upload",
        content=b"--xyz\r\nno headers here",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert garbage.status_code in (400, 422)


def test_headers_and_cookies(served: Served) -> None:
    c = served.client
    echoed = c.get("/headers", headers={"x-custom": "abc"})
    assert echoed.text == "custom=abc"
    assert echoed.headers["x-echo"] == "abc"
    assert echoed.headers["cache-control"] == "no-store"
    cookies = c.get("/cookies", headers={"cookie": "seen=yes"})
    assert cookies.text == "seen=yes"
    set_cookies = cookies.headers.get_list("set-cookie")
    assert len(set_cookies) == 2
    assert set_cookies[0] == "visit=1; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"
    assert set_cookies[1] == "theme=dark%20mode; Path=/; HttpOnly; SameSite=Lax"


def test_streaming_and_server_sent_events(served: Served) -> None:
    c = served.client
    with c.stream("GET", "/stream") as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        lines = [line for line in response.iter_lines() if line]
    assert lines == [f"line {i}" for i in range(5)]
    events = c.get("/events")
    assert events.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert events.headers["cache-control"] == "no-store"
    assert events.text == "".join(f'id: {i}\nevent: tick\ndata: {{"n":{i}}}\n\n' for i in range(3))


def test_files_ranges_and_conditional_requests(served: Served) -> None:
    c = served.client
    whole = c.get("/file")
    assert whole.status_code == 200
    assert whole.content == FILE_BYTES
    assert whole.headers["content-length"] == str(len(FILE_BYTES))
    assert whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]
    part = c.get("/file", headers={"range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == FILE_BYTES[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(FILE_BYTES)}"
    tail = c.get("/file", headers={"range": "bytes=-10"})
    assert tail.content == FILE_BYTES[-10:]
    several = c.get("/file", headers={"range": "bytes=0-1,10-11"})
    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert c.get("/file", headers={"range": "bytes=999999-"}).status_code == 416
    assert c.get("/file", headers={"range": "bytes=oops"}).status_code == 200  # ignored
    not_modified = c.get("/file", headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    head = c.head("/file")
    assert head.headers["content-length"] == str(len(FILE_BYTES))
    assert head.content == b""
    download = c.get("/download")
    assert download.text == "hello, file\n"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Gru_e.txt\"; filename*=utf-8''Gr%C3%BC%C3%9Fe.txt"
    )


def test_head_sends_the_length_and_no_body(served: Served) -> None:
    c = served.client
    for path in ("/plain", "/json", "/users/3", "/items/a", "/text"):
        get, head = c.get(path), c.head(path)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]
        assert head.headers["content-type"] == get.headers["content-type"]


def test_error_pages(served: Served) -> None:
    c = served.client
    missing = c.get("/nope")
    assert (missing.status_code, missing.json()) == (404, {"status": 404, "detail": "Not Found"})
    html = c.get("/nope", headers={"accept": "text/html"})
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert "Not Found" in html.text
    wrong_method = c.post("/plain")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, HEAD, OPTIONS"
    options = c.options("/plain")
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS")
    failed = c.get("/boom")
    assert failed.status_code == 500
    assert failed.json() == {"status": 500, "detail": "Internal Server Error"}
    assert "the handler failed" not in failed.text  # production: no traceback
    assert c.get("/unencodable").status_code == 500
    teapot = c.get("/teapot")
    assert (teapot.status_code, teapot.json()["detail"]) == (418, "I'm a teapot")
    redirect = c.get("/slash", params={"a": "1"})
    assert (redirect.status_code, redirect.headers["location"]) == (308, "/slash/?a=1")


def test_other_return_values_of_a_direct_handler(served: Served) -> None:
    c = served.client
    created = c.get("/created")
    assert (created.status_code, created.text, created.headers["x-made"]) == (201, "made", "1")
    text = c.get("/text")
    assert (text.text, text.headers["content-type"]) == ("plain text", "text/plain; charset=utf-8")
    nothing = c.get("/nothing")
    assert (nothing.status_code, nothing.content) == (204, b"")
    assert "content-length" not in nothing.headers


def test_the_host_header_is_checked(served: Served) -> None:
    c = served.client
    for path in ("/plain", "/users/1", "/items/a"):  # native and ASGI paths alike
        refused = c.get(path, headers={"host": "evil.example"})
        assert (refused.status_code, refused.text) == (400, "Invalid Host header")
        assert c.get(path, headers={"host": "localhost:8000"}).status_code == 200


def test_a_servers_start_up_froze_the_heap(served: Served) -> None:
    # gc_freeze: granian (either interface) and carboy run freeze the worker's heap once
    # started; carboy.testing's client leaves its test process alone.
    expected = not served.kind.startswith("testclient-")
    assert served.client.get("/gc").json() == {"frozen": expected}


def test_lifespan_hooks_and_background_tasks_ran(served: Served) -> None:
    c = served.client
    assert c.get("/lifespan").json() == {"started": True}
    name = f"job-{served.kind}"
    assert c.post("/jobs", params={"name": name}).json() == {"queued": name}
    deadline = time.monotonic() + 5
    while name not in c.get("/jobs").json()["done"]:
        assert time.monotonic() < deadline, "the background task did not run"
        time.sleep(0.02)


# -- ASGI and RSGI answer alike -------------------------------------------------------

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/plain", {}),
    ("GET", "/json", {}),
    ("GET", "/users/42", {}),
    ("GET", "/users/x", {}),
    ("GET", "/created", {}),
    ("GET", "/text", {}),
    ("GET", "/nothing", {}),
    ("GET", "/boom", {}),
    ("GET", "/teapot", {}),
    ("GET", "/unencodable", {}),
    ("GET", "/items/a?q=3", {}),
    ("GET", "/items/a?q=x", {}),
    ("POST", "/items", {"json": {"name": "pen", "price": 1.5}}),
    ("POST", "/items", {"content": b"{bad", "headers": {"content-type": "application/json"}}),
    ("POST", "/items", {"json": {"name": "pen"}}),
    ("POST", "/echo", {"content": b"x" * (MAX_BODY + 1)}),
    ("POST", "/echo", {"content": b"x" * 10}),
    ("POST", "/ping", {}),
    ("POST", "/ping", {"content": b"ignored"}),
    ("GET", "/long", {}),
    ("POST", "/upload", {"data": {"title": "t"}, "files": {"doc": ("d.txt", b"doc")}}),
    ("GET", "/headers", {"headers": {"x-custom": "abc"}}),
    ("GET", "/cookies", {"headers": {"cookie": "seen=1"}}),
    ("GET", "/stream", {}),
    ("GET", "/events", {}),
    ("GET", "/file", {}),
    ("GET", "/file", {"headers": {"range": "bytes=5-20"}}),
    ("GET", "/file", {"headers": {"range": "bytes=999999-"}}),
    ("GET", "/download", {}),
    ("GET", "/sync?n=2", {}),
    ("GET", "/lifespan", {}),
    ("GET", "/nope", {}),
    ("GET", "/nope", {"headers": {"accept": "text/html"}}),
    ("POST", "/plain", {}),
    ("OPTIONS", "/plain", {}),
    ("GET", "/slash", {}),
    ("GET", "/plain", {"headers": {"host": "evil.example"}}),
    ("HEAD", "/plain", {}),
    ("HEAD", "/json", {}),
    ("HEAD", "/file", {}),
    ("HEAD", "/items/a", {}),
    ("HEAD", "/stream", {}),
]


def _observed(response: httpx.Response, drop: frozenset[str]) -> tuple[Any, ...]:
    headers = []
    for name, value in response.headers.multi_items():
        if name in drop:
            continue
        if name == "set-cookie":  # the expiry is a date a second may change
            value = "; ".join(p for p in value.split("; ") if not p.startswith("expires="))
        headers.append((name, value))
    return response.status_code, sorted(headers), response.content


@slow
def test_asgi_and_rsgi_answer_alike(servers: Servers) -> None:
    asgi, rsgi = servers.get("granian-asgi"), servers.get("granian-rsgi")
    in_process = servers.get("testclient-rsgi")
    for method, path, options in CASES:
        # A new connection each: some of these leave a body unread.
        over_asgi = httpx.request(method, asgi.url + path, **options)
        over_rsgi = httpx.request(method, rsgi.url + path, **options)
        # Whether granian keeps a connection open after a body nobody read depends, under
        # ASGI, on how much of it had arrived (hyper's choice); over RSGI carboy reads up
        # to 64 KiB of it and keeps the connection, past that it sends "connection: close".
        ignored = frozenset({"date", "connection"})
        assert _observed(over_rsgi, ignored) == _observed(over_asgi, ignored), (method, path)
        # TestClient over RSGI shows what granian's clients see (but its own headers).
        local = in_process.client.request(method, path, **options)
        server_headers = frozenset({"date", "server", "transfer-encoding"})
        assert _observed(local, server_headers) == _observed(over_rsgi, server_headers), (
            method,
            path,
        )


# -- bad input: 4xx, never a 500 -------------------------------------------------------


def _raw(url: str, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes; the status and the body of the answer (the server closes)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_malformed_requests_get_4xx(real: Served) -> None:
    url = real.url
    get = b"GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    # A header value with a byte that is not ASCII: served (under RSGI granian drops it).
    status, body = _raw(url, get + b"X-Custom: caf\xe9\r\n\r\n")
    assert status == 200
    assert body == (b"custom=caf\xc3\xa9" if real.interface == "asgi" else b"custom=")
    two_hosts = b"GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil\r\nConnection: close\r\n\r\n"
    assert _raw(url, two_hosts)[0] == 400
    no_host = b"GET /users/1 HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert _raw(url, no_host)[0] == 400
    bad_length = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"
    assert _raw(url, bad_length)[0] == 400
    no_colon = get + b"this is not a header\r\n\r\n"
    assert _raw(url, no_colon)[0] == 400
    if real.kind == "carboy-run":  # carboy run's limits: 16 KiB of head
        huge = get + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"
        assert 400 <= _raw(url, huge)[0] < 500
    short_body = (
        b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\nConnection: close\r\n\r\n{bad}"
    )
    assert _raw(url, short_body)[0] == 400
    assert real.client.get("/plain").status_code == 200  # still serving


# -- WebSockets: the three real servers ------------------------------------------------


def _closed(exc: ConnectionClosed) -> int | None:
    return exc.rcvd.code if exc.rcvd is not None else None


def test_websocket_echo(real: Served) -> None:
    with real.ws("/ws") as ws:
        ws.send("hi")
        assert ws.recv() == "echo: hi"
        ws.send(b"\x01\x02\x03")
        assert ws.recv() == b"\x03\x02\x01"
        ws.send("json")
        ws.send('{"a": [1, 2]}')
        assert ws.recv() == '{"a":[1,2]}'


def test_websocket_close_codes(real: Served) -> None:
    with real.ws("/ws") as ws:
        ws.send("close")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert _closed(info.value) == real.app_close_code(4001)
    if real.interface == "asgi":
        assert info.value.rcvd is not None
        assert info.value.rcvd.reason == "closed by the app"
    with real.ws("/ws/rooms/7?token=secret") as ws:
        assert ws.recv() == '{"room":7}'
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert _closed(info.value) == real.app_close_code(1000)
    with real.ws("/ws/fail") as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv()
    assert _closed(info.value) == real.app_close_code(1011)


def test_websocket_refusals_are_http_403(real: Served) -> None:
    refusals = [
        ("/ws/rooms/7", {}),  # WebSocketException before accept
        ("/ws/rooms/7?token=nope", {}),
        ("/ws/missing", {}),  # no such route
        ("/ws", {"origin": "https://evil.example"}),  # the Origin check (production)
        ("/ws", {"additional_headers": {"host": "evil.example"}}),  # the Host check
    ]
    for path, options in refusals:
        with pytest.raises(InvalidStatus) as info:
            real.ws(path, **options)
        assert info.value.response.status_code == 403, path
    with real.ws("/ws", origin="http://localhost") as ws:  # the site's own origin
        ws.send("ok")
        assert ws.recv() == "echo: ok"


def test_an_oversized_websocket_message_closes_the_connection(real: Served) -> None:
    with real.ws("/ws", max_size=None) as ws:
        ws.send("x" * (MAX_WS_MESSAGE + 1))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert _closed(info.value) == real.app_close_code(1009)
    with real.ws("/ws") as ws:  # the server carries on
        ws.send("x" * MAX_WS_MESSAGE)
        assert ws.recv() == "echo: " + "x" * MAX_WS_MESSAGE


# -- app-wide middleware: RSGI runs the ASGI path ------------------------------------------

MIDDLEWARE_KINDS = ["granian-asgi", "granian-rsgi", "testclient-rsgi"]


@pytest.mark.parametrize("kind", _marked(MIDDLEWARE_KINDS))
def test_app_wide_middleware_runs_over_rsgi(servers: Servers, kind: str) -> None:
    served = servers.get(kind, "tests.rsgi_app:app_with_middleware")
    c = served.client
    for path in ("/plain", "/users/5", "/items/a", "/nope"):
        response = c.get(path)
        assert response.headers["x-middleware"] == "yes", path
        assert response.headers["x-frame-options"] == "DENY", path
    zipped = c.get("/long", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == "carboy " * 500  # httpx inflates it
    preflight = c.options(
        "/items",
        headers={"origin": "https://front.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://front.example"
    assert c.get("/plain", headers={"host": "evil.example"}).status_code == 400
    too_big = c.post("/echo", content=b"x" * (MAX_BODY + 1), headers={"connection": "close"})
    assert too_big.status_code == 413
    assert c.get("/lifespan").json() == {"started": True}
    if served.url:
        with served.ws("/ws") as ws:
            ws.send("through middleware")
            assert ws.recv() == "echo: through middleware"


# -- the lifespan in the server process, and choosing the interface ------------------------


@slow
@pytest.mark.parametrize("kind", ["granian-asgi", "granian-rsgi", "carboy-run"])
def test_startup_and_shutdown_hooks_run_in_the_server(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    served = serve(kind, tmp_path_factory.mktemp("lifespan"))
    try:
        served.client.post("/jobs", params={"name": "last"})
        deadline = time.monotonic() + 5
        while "last" not in served.client.get("/jobs").json()["done"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        output = served.stop()
    assert served.events is not None
    assert served.events.read_text().splitlines() == ["startup", "job last", "shutdown"], output


@slow
def test_carboy_run_can_serve_granian_over_asgi(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    default = servers.get("carboy-run")
    forced = serve("carboy-run-asgi", tmp_path_factory.mktemp("asgi"))
    try:
        for served, code in ((default, 1005), (forced, 4001)):
            with served.ws("/ws") as ws:
                ws.send("close")
                with pytest.raises(ConnectionClosed) as info:
                    ws.recv()
            assert _closed(info.value) == code, served.kind
        assert forced.client.get("/json").json() == default.client.get("/json").json()
    finally:
        output = forced.stop()
    assert "granian (ASGI)" in output
    assert default.log is not None
    assert "granian (RSGI)" in default.log.read_text()


@slow
def test_a_failing_startup_stops_the_rsgi_worker(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(
        "from carboy import Carboy\n"
        "app = Carboy(debug=True)\n"
        "@app.on_startup\n"
        "def broken() -> None:\n"
        "    raise RuntimeError('no database')\n"
    )
    port = _free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "rsgi",
            "--port",
            str(port),
            "failing:app",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "carboy refuses to serve: the start-up failed (RuntimeError: no database)" in output


# -- the adapter in-process: the lifespan entry points and the bridges' edges --------------


def test_rsgi_init_and_del_run_the_lifespan_on_granians_loop() -> None:
    import asyncio

    from carboy import Carboy

    seen: list[str] = []
    target = Carboy(debug=True)

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            seen.append("background stopped")

    @target.on_startup
    async def up() -> None:
        seen.append("startup")
        target.background.spawn(forever(), daemon=True)

    @target.on_shutdown
    def down() -> None:
        seen.append("shutdown")

    loop = asyncio.new_event_loop()
    try:
        target.__rsgi_init__(loop)  # the loop is not running, as granian calls it
        assert seen == ["startup"]
        assert target.background.running
        loop.run_until_complete(asyncio.sleep(0))  # granian serves on the same loop
        target.__rsgi_del__(loop)
        assert seen == ["startup", "background stopped", "shutdown"]
        target.__rsgi_del__(loop)  # a second call does nothing
    finally:
        loop.close()


def test_a_failing_rsgi_init_exits_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from carboy import Carboy

    target = Carboy(debug=True)

    @target.on_startup
    def broken() -> None:
        raise RuntimeError("no database")

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(SystemExit) as info:
            target.__rsgi_init__(loop)
        target.__rsgi_del__(loop)  # nothing started: nothing to stop
    finally:
        loop.close()
    assert info.value.code == 1
    assert "carboy refuses to serve: the start-up failed (RuntimeError: no database)" in (
        caplog.text
    )


class _Headers:
    def __init__(self, **values: str) -> None:
        self.values = {k.replace("_", "-"): v for k, v in values.items()}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def get_all(self, key: str) -> list[str]:
        return [self.values[key]] if key in self.values else []

    def items(self) -> list[tuple[str, str]]:
        return list(self.values.items())

    def __contains__(self, key: str) -> bool:
        return key in self.values


class _Scope:
    def __init__(self, proto: str = "http", authority: str | None = None, **headers: str) -> None:
        self.proto, self.http_version, self.scheme, self.method = proto, "2", "https", "POST"
        self.path, self.query_string, self.authority = "/x", "a=1", authority
        self.client, self.server = "[::1]:5000", "unix"
        self.headers = _Headers(**headers)


class _HTTP:
    """A granian HTTP protocol that fails the way a broken connection does."""

    def __init__(self, body: bytes = b"", fail: bool = False) -> None:
        self.body, self.fail = body, fail
        self.sent: list[tuple[Any, ...]] = []

    async def __call__(self) -> bytes:
        if self.fail:
            raise RuntimeError("RSGI transport is closed")
        return self.body

    def __aiter__(self) -> Any:
        return self._chunks()

    async def _chunks(self) -> Any:
        if self.fail:
            raise RuntimeError("RSGI transport is closed")
        yield self.body
        yield b""

    async def client_disconnect(self) -> None:
        return None

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.sent.append(("bytes", status, headers, body))

    def response_file(self, status: int, headers: Any, file: str) -> None:
        self.sent.append(("file", status, headers, file))

    def response_stream(self, status: int, headers: Any) -> Any:
        protocol = self

        class Transport:
            async def send_bytes(self, data: bytes) -> None:
                if protocol.fail:
                    raise RuntimeError("RSGI transport is closed")
                protocol.sent.append(("chunk", data))

        self.sent.append(("stream", status, headers))
        return Transport()


@pytest.mark.anyio
async def test_the_http_bridge_builds_the_asgi_scope() -> None:
    from carboy._rsgi import HTTPBridge

    bridge = HTTPBridge(_HTTP(), _Scope(authority="example.com:8443"))  # type: ignore[arg-type]
    scope = bridge.scope
    assert (scope["http_version"], scope["scheme"], scope["method"]) == ("2", "https", "POST")
    assert (scope["path"], scope["query_string"], scope["root_path"]) == ("/x", b"a=1", "")
    assert scope["client"] == ("::1", 5000)
    assert scope["server"] is None  # a Unix socket has no port
    assert (b"host", b"example.com:8443") in scope["headers"]  # HTTP/2's :authority
    assert scope["extensions"] == {"http.response.pathsend": {}}
    # No body at all: one empty message, then the wait for the client to leave.
    assert await bridge.receive() == {"type": "http.request", "body": b"", "more_body": False}
    assert await bridge.receive() == {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_a_body_cut_short_reads_as_a_disconnect() -> None:
    from carboy._rsgi import HTTPBridge

    for length in ("10", "2000000"):  # read at once, and chunk by chunk
        bridge = HTTPBridge(_HTTP(b"abc"), _Scope(content_length=length))  # type: ignore[arg-type]
        messages = [await bridge.receive(), await bridge.receive()]
        assert messages[-1] == {"type": "http.disconnect"}
    broken = HTTPBridge(_HTTP(fail=True), _Scope(content_length="5"))  # type: ignore[arg-type]
    assert await broken.receive() == {"type": "http.disconnect"}


@pytest.mark.anyio
async def test_the_http_bridge_refuses_messages_out_of_order() -> None:
    from carboy._rsgi import HTTPBridge

    bridge = HTTPBridge(_HTTP(), _Scope())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=re.escape("before 'http.response.start'")):
        await bridge.send({"type": "http.response.body", "body": b"x"})
    await bridge.send({"type": "http.response.start", "status": 200, "headers": []})
    with pytest.raises(RuntimeError, match=re.escape("'http.response.start' twice")):
        await bridge.send({"type": "http.response.start", "status": 200, "headers": []})
    with pytest.raises(
        RuntimeError, match=re.escape("Unexpected ASGI message 'http.response.trailers'")
    ):
        await bridge.send({"type": "http.response.trailers"})
    await bridge.send({"type": "http.response.pathsend", "path": "/tmp/x"})
    with pytest.raises(RuntimeError, match="the response is already complete"):
        await bridge.send({"type": "http.response.body", "body": b""})
    bridge.finish()  # already complete: nothing more


@pytest.mark.anyio
async def test_a_start_with_no_body_is_sent_empty_and_a_gone_client_drops_chunks() -> None:
    from carboy._rsgi import HTTPBridge

    protocol = _HTTP()
    bridge = HTTPBridge(protocol, _Scope())  # type: ignore[arg-type]
    await bridge.send({"type": "http.response.start", "status": 204, "headers": []})
    bridge.finish()
    assert protocol.sent == [("bytes", 204, [], b"")]
    gone = _HTTP(fail=True)
    stream = HTTPBridge(gone, _Scope())  # type: ignore[arg-type]
    await stream.send({"type": "http.response.start", "status": 200, "headers": []})
    await stream.send({"type": "http.response.body", "body": b"a", "more_body": True})
    await stream.send({"type": "http.response.body", "body": b"b", "more_body": True})
    assert gone.sent == [("stream", 200, [])]  # nothing written, nothing raised
    assert await stream.receive() == {"type": "http.disconnect"}
    stream.finish()


class _Message:
    def __init__(self, kind: int, data: Any = None) -> None:
        self.kind, self.data = kind, data


class _WebSocket:
    def __init__(self, incoming: list[Any], fail_send: bool = False) -> None:
        self.incoming, self.fail_send = incoming, fail_send
        self.sent: list[Any] = []
        self.closed: list[int | None] = []

    async def accept(self) -> Any:
        socket = self

        class Transport:
            async def receive(self) -> Any:
                item = socket.incoming.pop(0)
                if isinstance(item, Exception):
                    raise item
                return item

            async def send_bytes(self, data: bytes) -> None:
                if socket.fail_send:
                    raise RuntimeError("RSGI transport is closed")
                socket.sent.append(data)

            async def send_str(self, data: str) -> None:
                socket.sent.append(data)

        return Transport()

    def close(self, status: int | None) -> None:
        self.closed.append(status)


@pytest.mark.anyio
async def test_the_websocket_bridge() -> None:
    from carboy._rsgi import ClientDisconnected, WebSocketBridge

    protocol = _WebSocket([_Message(1, b"\x00"), _Message(2, "hi"), RuntimeError("closed")])
    scope = _Scope("ws", sec_websocket_protocol="a, b,")
    bridge = WebSocketBridge(protocol, scope)  # type: ignore[arg-type]
    assert bridge.scope["scheme"] == "wss"
    assert bridge.scope["subprotocols"] == ["a", "b"]
    assert await bridge.receive() == {"type": "websocket.connect"}
    with pytest.raises(RuntimeError, match="before accepting it"):
        await bridge.receive()
    with pytest.raises(RuntimeError, match="before accepting it"):
        await bridge.send({"type": "websocket.send", "text": "early"})
    await bridge.send({"type": "websocket.accept"})
    assert await bridge.receive() == {"type": "websocket.receive", "bytes": b"\x00"}
    assert await bridge.receive() == {"type": "websocket.receive", "text": "hi"}
    await bridge.send({"type": "websocket.send", "bytes": b"\x01"})
    await bridge.send({"type": "websocket.send", "text": "back"})
    assert protocol.sent == [b"\x01", "back"]
    gone = {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    assert await bridge.receive() == gone  # the transport broke
    assert await bridge.receive() == gone  # and says so again
    with pytest.raises(
        RuntimeError, match=re.escape("Unexpected ASGI message 'websocket.http.response")
    ):
        await bridge.send({"type": "websocket.http.response.start", "status": 401})
    protocol.fail_send = True
    with pytest.raises(ClientDisconnected):
        await bridge.send({"type": "websocket.send", "bytes": b"late"})
    await bridge.send({"type": "websocket.close", "code": 4001})
    assert protocol.closed == [4001]

    refused = _WebSocket([])
    before = WebSocketBridge(refused, _Scope("ws"))  # type: ignore[arg-type]
    await before.send({"type": "websocket.close", "code": 1008})
    assert refused.closed == [403]  # before the handshake: the HTTP status


@pytest.mark.anyio
async def test_the_native_path_sends_each_schemes_own_default_headers() -> None:
    """HSTS goes out over HTTPS only, on the native RSGI path too (its header lists are
    cached per scheme and content type: one request of each, twice, reads both caches)."""
    from carboy import Carboy
    from carboy.middleware import SecurityHeaders

    native = Carboy(debug=True, security=SecurityHeaders(hsts_seconds=60))

    @native.get("/x")
    async def text() -> str:
        return "hi"

    native.build()
    for scheme in ("https", "http", "https", "http"):
        scope = _Scope(host="testserver")
        scope.scheme, scope.method = scheme, "GET"
        protocol = _HTTP()
        await native.__rsgi__(scope, protocol)  # type: ignore[arg-type]
        [(kind, status, headers, body)] = protocol.sent
        assert (kind, status, body) == ("bytes", 200, b"hi")
        assert ("content-type", "text/html; charset=utf-8") in headers  # a str is HTML by default
        hsts = ("strict-transport-security", "max-age=60; includeSubDomains")
        assert (hsts in headers) == (scheme == "https"), (scheme, headers)
