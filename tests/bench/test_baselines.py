"""The bare baselines the benchmarks divide by: same answers, and the same headers as carboy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench.apps import bare_app, bare_secure_app
from bench.report import summarize
from carboy.middleware import SecurityHeaders


def call(app: Any, path: str, method: str = "GET") -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return start["status"], list(start["headers"]), body["body"]


def test_secure_baseline_sends_carboys_default_headers() -> None:
    assert SecurityHeaders().encode(https=False) == bare_secure_app.SECURITY_HEADERS


@pytest.mark.parametrize("path", ["/plaintext", "/json"])
def test_secure_baseline_answers_exactly_like_carboy(path: str) -> None:
    from bench.apps import carboy_app

    status, headers, body = call(carboy_app.app, path)
    assert call(bare_secure_app.app, path) == (status, headers, body)


def test_carboys_techempower_app_has_no_middleware_and_takes_the_fast_path() -> None:
    # Sessions and sign-in live in the page app (bench.apps.carboy_page_app): a layer
    # on this one would take every route off the dispatcher's direct path.
    from bench.apps import carboy_app

    carboy_app.app.build()
    assert carboy_app.app.user_middleware == []
    assert carboy_app.app._direct
    _, headers, _ = call(carboy_app.app, "/plaintext")
    assert not any(name in (b"vary", b"set-cookie") for name, _ in headers)


@pytest.mark.parametrize("path", ["/plaintext", "/json"])
def test_plain_baseline_answers_the_same_bodies_with_two_headers(path: str) -> None:
    status, headers, body = call(bare_app.app, path)
    assert (status, body) == call(bare_secure_app.app, path)[::2]
    assert [name for name, _ in headers] == [b"content-type", b"content-length"]


def test_unknown_paths_are_404() -> None:
    assert call(bare_secure_app.app, "/nope")[0] == 404


def test_report_gives_carboy_both_baseline_ratios() -> None:
    def run(framework: str, rps: float) -> dict[str, Any]:
        return {
            "test": "json",
            "framework": framework,
            "server": "uvicorn",
            "status": "ok",
            "rps": rps,
            "p99_ms": 1.0,
            "rss_kib": 1024,
        }

    results = {
        "runs": [run("bare", 100.0), run("bare_secure", 90.0), run("carboy", 81.0)],
    }
    rows = {row["framework"]: row for row in summarize(results)}
    assert rows["carboy"]["vs_bare"] == pytest.approx(0.81)
    assert rows["carboy"]["vs_bare_secure"] == pytest.approx(0.90)


class _Headers:
    """Request headers as granian gives them: a Host header, or none (``host=None``)."""

    def __init__(self, host: str | None) -> None:
        self._items = [] if host is None else [("host", host)]

    def get_all(self, key: str) -> list[str]:
        return [value for name, value in self._items if name == key]

    def get(self, key: str, default: Any = None) -> Any:
        return next(iter(self.get_all(key)), default)

    def __contains__(self, key: str) -> bool:
        return bool(self.get_all(key))

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class _Scope:
    proto = "http"
    method = "GET"
    scheme = "http"
    http_version = "1.1"
    query_string = ""
    client = "127.0.0.1:5000"
    server = "127.0.0.1:8000"
    root_path = ""
    authority = None
    rsgi_version = "1.5"

    def __init__(self, path: str) -> None:
        self.path = path
        self.headers = _Headers("127.0.0.1")


class _Protocol:
    def __init__(self) -> None:
        self.sent: list[tuple[int, list[tuple[str, str]], bytes]] = []

    async def __call__(self) -> bytes:  # no request body
        return b""

    async def client_disconnect(self) -> None:
        await asyncio.get_running_loop().create_future()

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.sent.append((status, list(headers), body))


def call_rsgi(app: Any, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    protocol = _Protocol()
    asyncio.run(app(_Scope(path), protocol))
    (sent,) = protocol.sent
    return sent


def call_status(app: Any, scope: Any) -> int:
    protocol = _Protocol()
    asyncio.run(app(scope, protocol))
    return protocol.sent[0][0]


@pytest.mark.parametrize("path", ["/plaintext", "/json", "/users/42"])
def test_secure_rsgi_baseline_answers_exactly_like_carboy_over_rsgi(path: str) -> None:
    from bench.apps import bare_rsgi_app, bare_secure_rsgi_app, carboy_app

    carboy_app.app.build()
    carboy = call_rsgi(carboy_app.app.__rsgi__, path)
    assert call_rsgi(bare_secure_rsgi_app.app, path) == carboy
    # The plain RSGI baseline: the same status and body, the content type alone.
    status, headers, body = call_rsgi(bare_rsgi_app.app, path)
    assert (status, body) == (carboy[0], carboy[2])
    assert [name for name, _ in headers] == ["content-type"]


@pytest.mark.parametrize("path", ["/plaintext", "/json", "/users/42", "/nowhere"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_scope_rsgi_baseline_answers_exactly_like_carboy_over_rsgi(path: str, scheme: str) -> None:
    from bench.apps import bare_scope_rsgi_app, carboy_app

    carboy_app.app.build()
    scope = _Scope(path)
    scope.scheme = scheme
    carboy, bare = _Protocol(), _Protocol()
    asyncio.run(carboy_app.app.__rsgi__(scope, carboy))
    asyncio.run(bare_scope_rsgi_app.app(scope, bare))
    if path == "/nowhere":  # carboy's 404 is its own error page (over ASGI): the status
        assert [s[0] for s in bare.sent] == [s[0] for s in carboy.sent] == [404]
    else:
        assert bare.sent == carboy.sent
    names = [name for name, _ in bare.sent[0][1]]
    assert ("strict-transport-security" in names) is (scheme == "https")


@pytest.mark.parametrize("host", ["evil.example", None])
def test_scope_rsgi_baseline_checks_the_host_header_as_carboy_does(host: str | None) -> None:
    from bench.apps import bare_scope_rsgi_app, carboy_app

    carboy_app.app.build()
    scope = _Scope("/plaintext")
    scope.headers = _Headers(host)
    bare = _Protocol()
    asyncio.run(bare_scope_rsgi_app.app(scope, bare))
    assert bare.sent[0][0] == 400
    assert call_status(carboy_app.app.__rsgi__, scope) == 400


def test_secure_rsgi_baseline_sends_carboys_default_headers_as_text() -> None:
    from bench.apps import bare_secure_rsgi_app

    expected = [
        (name.decode(), value.decode()) for name, value in SecurityHeaders().encode(https=False)
    ]
    assert expected == bare_secure_rsgi_app.SECURITY_HEADERS


def test_report_divides_rsgi_rows_by_the_rsgi_baseline_with_headers() -> None:
    def run(framework: str, server: str, rps: float) -> dict[str, Any]:
        return {
            "test": "plaintext",
            "framework": framework,
            "server": server,
            "status": "ok",
            "rps": rps,
            "p99_ms": 1.0,
            "rss_kib": 1024,
        }

    results = {
        "runs": [
            run("bare", "granian", 100.0),
            run("bare_secure", "granian", 95.0),
            run("bare_rsgi", "granian-rsgi", 140.0),
            run("bare_secure_rsgi", "granian-rsgi", 120.0),
            run("carboy", "granian-rsgi", 108.0),
            run("carboy", "granian", 76.0),
        ],
    }
    rows = {(r["framework"], r["server"]): r for r in summarize(results)}
    rsgi = rows["carboy", "granian-rsgi"]
    assert rsgi["vs_bare"] == pytest.approx(1.08)
    assert rsgi["vs_bare_secure"] == pytest.approx(0.90)  # the RSGI one, not the ASGI one
    assert rsgi["vs_bare_rsgi"] == pytest.approx(108 / 140)
    assert rows["carboy", "granian"]["vs_bare_secure"] == pytest.approx(0.80)
