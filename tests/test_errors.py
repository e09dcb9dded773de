"""Tests for carboy.errors and carboy.exceptions: error responses, handlers, debug page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from carboy import (
    Carboy,
    HTMLResponse,
    HTTPException,
    PlainTextResponse,
    Query,
    Request,
    RequestValidationError,
    Response,
    StreamingResponse,
)
from carboy.errors import ErrorDetails, ExceptionHandlers, error_response, wants_html
from carboy.exceptions import FieldError, WebSocketDisconnect, WebSocketException
from carboy.testing import TestClient

SECRET = "s3cr3t-db-password"


class AppError(Exception):
    pass


class SpecificError(AppError):
    pass


def production() -> Carboy:
    return Carboy(debug=False, secret_key="x" * 40, allowed_hosts=["testserver"])


def add_failing_routes(app: Carboy) -> None:
    @app.get("/crash/{part}")
    async def crash(part: str) -> None:
        raise RuntimeError(f"connection to postgres://admin:{SECRET}@db failed")

    @app.get("/sync-crash")
    def sync_crash() -> None:
        raise KeyError(SECRET)

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise HTTPException(403, "You shall not pass", {"X-Reason": "policy"})

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418)

    @app.get("/stream-crash")
    async def stream_crash() -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("late failure")

        return StreamingResponse(gen())


# -- exceptions ------------------------------------------------------------------
def test_exceptions() -> None:
    exc = HTTPException(404)
    assert (exc.status_code, exc.detail, exc.headers) == (404, "Not Found", {})
    assert repr(HTTPException(400, "bad")) == "HTTPException(status_code=400, detail='bad')"
    errors = [FieldError(["query", "q"], "Field required", "missing")]
    rve = RequestValidationError(errors)
    assert rve.status_code == 422 and rve.errors == errors
    assert rve.detail == {"message": "Validation failed", "errors": errors}
    assert WebSocketDisconnect().code == 1000
    assert WebSocketException(reason="x").code == 1008
    assert WebSocketException(reason="x").reason == "x"


# -- error_response and Accept ----------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        ("text/html", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json, text/html", False),
        ("text/html, application/json", True),
        ("TEXT/HTML", True),
    ],
)
def test_wants_html(accept: str | None, html: bool) -> None:
    headers = [(b"accept", accept.encode())] if accept else []
    assert wants_html({"headers": headers}) is html


def test_error_response_shapes() -> None:
    scope: dict[str, Any] = {"headers": []}
    response = error_response(scope, 404)
    assert response.body == b'{"status":404,"detail":"Not Found"}'
    response = error_response(scope, 400, "Bad <thing>", headers={"X-A": "1"})
    assert response.body == b'{"status":400,"detail":"Bad <thing>"}'
    assert response.headers["x-a"] == "1"
    html = error_response({"headers": [(b"accept", b"text/html")]}, 400, "Bad <thing>")
    assert b"<p>Bad &lt;thing&gt;</p>" in html.body
    assert b"<title>400 Bad Request</title>" in html.body


# -- HTTPException and handlers -----------------------------------------------------
def test_http_exception_with_headers() -> None:
    app = Carboy(debug=True)
    add_failing_routes(app)
    with TestClient(app) as client:
        response = client.get("/forbidden")
        assert response.status_code == 403
        assert response.headers["x-reason"] == "policy"
        assert response.json() == {"status": 403, "detail": "You shall not pass"}
        assert client.get("/teapot").json() == {"status": 418, "detail": "I'm a Teapot"}


def test_handlers_by_status_and_by_type_sync_and_async() -> None:
    app = Carboy(debug=True)
    seen: list[str] = []

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> Response:
        seen.append(f"404:{request.url.path}")
        return HTMLResponse(f"<h1>Nothing at {request.url.path}</h1>", 404)

    @app.exception_handler(403)
    def forbidden(request: Request, exc: HTTPException) -> dict[str, Any]:
        seen.append("403")
        return {"custom": exc.detail}

    @app.exception_handler(AppError)
    def app_error(request: Request, exc: AppError) -> tuple[str, int]:
        seen.append(f"AppError:{type(exc).__name__}")
        return f"app error: {exc}", 409

    @app.exception_handler(HTTPException)
    async def any_http(request: Request, exc: HTTPException) -> Response:
        return PlainTextResponse(f"http {exc.status_code}", exc.status_code)

    @app.get("/app-error")
    async def raise_app() -> None:
        raise AppError("plain")

    @app.get("/specific")
    def raise_specific() -> None:
        raise SpecificError("sub")

    @app.get("/forbidden")
    async def forbidden_route() -> None:
        raise HTTPException(403, "no")

    @app.get("/gone")
    async def gone() -> None:
        raise HTTPException(410)

    with TestClient(app) as client:
        response = client.get("/missing")
        assert (response.status_code, response.text) == (404, "<h1>Nothing at /missing</h1>")
        assert response.headers["x-frame-options"] == "DENY"
        response = client.get("/forbidden")
        assert (response.status_code, response.json()) == (403, {"custom": "no"})
        response = client.get("/app-error")
        assert (response.status_code, response.text) == (409, "app error: plain")
        response = client.get("/specific")  # a subclass finds its base's handler
        assert (response.status_code, response.text) == (409, "app error: sub")
        response = client.get("/gone")  # no 410 handler: the HTTPException type handler
        assert (response.status_code, response.text) == (410, "http 410")
    assert seen == ["404:/missing", "403", "AppError:AppError", "AppError:SpecificError"]


def test_status_handler_applies_to_automatic_405() -> None:
    app = Carboy(debug=True)

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: HTTPException) -> Response:
        return PlainTextResponse("nope", 405, headers=exc.headers)

    @app.get("/")
    async def index() -> str:
        return "x"

    with TestClient(app) as client:
        response = client.post("/")
    assert (response.status_code, response.text) == (405, "nope")
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_validation_error_handler() -> None:
    app = Carboy(debug=True)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> dict[str, Any]:
        return {"fields": [e["field"] for e in exc.errors]}

    @app.get("/v")
    async def v(a: int, b: int) -> None:  # pragma: no cover
        pass

    with TestClient(app) as client:
        response = client.get("/v?a=x")
    assert (response.status_code, response.json()) == (422, {"fields": ["a", "b"]})


@pytest.mark.parametrize("debug", [True, False])
def test_a_failing_handler_gives_a_500(debug: bool, caplog: pytest.LogCaptureFixture) -> None:
    app = Carboy(debug=True) if debug else production()

    @app.exception_handler(AppError)
    async def broken(request: Request, exc: AppError) -> Response:
        raise ValueError(f"handler failed {SECRET}")

    @app.exception_handler(404)
    def broken_sync(request: Request, exc: HTTPException) -> Response:
        raise ValueError("sync handler failed")

    @app.get("/x")
    async def x() -> None:
        raise AppError("original")

    with TestClient(app) as client, caplog.at_level(logging.ERROR, "carboy.error"):
        response = client.get("/x")
        assert response.status_code == 500
        assert client.get("/nothing").status_code == 500
    assert (SECRET in response.text) is debug
    assert any(
        "Error handler" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records
    )


# -- debug page vs production ------------------------------------------------------
def test_debug_page_as_html_has_traceback_and_request_details() -> None:
    app = Carboy(debug=True)
    add_failing_routes(app)
    with TestClient(app) as client:
        response = client.get(
            "/crash/part?q=1", headers={"accept": "text/html", "x-custom": "<value>"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    text = response.text
    assert "<strong>RuntimeError</strong>" in text
    assert "Traceback (most recent call last)" in text
    assert "test_errors.py" in text and "in crash" in text
    assert SECRET in text
    assert "<code>path</code>: /crash/part" in text
    assert "<code>query_string</code>: q=1" in text
    assert "<code>x-custom</code>: &lt;value&gt;" in text  # escaped
    assert "debug is on" in text
    assert response.headers["x-frame-options"] == "DENY"


def test_debug_page_as_json() -> None:
    app = Carboy(debug=True)
    add_failing_routes(app)
    with TestClient(app) as client:
        response = client.get("/sync-crash")
    body = response.json()
    assert response.status_code == 500
    assert body["status"] == 500
    assert body["detail"] == f"KeyError: '{SECRET}'"
    assert "Traceback (most recent call last)" in body["traceback"]
    assert body["request"]["method"] == "GET"
    assert body["request"]["path"] == "/sync-crash"
    assert body["request"]["headers"]["host"] == "testserver"


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
@pytest.mark.parametrize("url", ["/crash/secret-path-part", "/sync-crash"])
def test_production_500_leaks_nothing(
    url: str, accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = production()
    add_failing_routes(app)
    with TestClient(app) as client, caplog.at_level(logging.ERROR, "carboy.error"):
        response = client.get(url, headers={"accept": accept})
    assert response.status_code == 500
    text = response.text
    for leak in (
        SECRET,
        "Traceback",
        "RuntimeError",
        "KeyError",
        "secret-path-part",
        "sync-crash",
        "test_errors.py",
        "postgres",
    ):
        assert leak not in text
    if accept == "application/json":
        assert response.json() == {"status": 500, "detail": "Internal Server Error"}
    else:
        assert "<h1>500 Internal Server Error</h1>" in text
    for name in ("x-frame-options", "x-content-type-options", "referrer-policy"):
        assert name in response.headers
    # The details go to the log instead.
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)


def test_an_error_after_the_response_started_is_not_answered_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Carboy(debug=True)
    add_failing_routes(app)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, "carboy.error"),
    ):
        response = client.get("/stream-crash")
    assert (response.status_code, response.content) == (200, b"partial")
    assert any("after the response started" in r.getMessage() for r in caplog.records)


# -- hosts in production --------------------------------------------------------------
def test_bad_host_in_production_is_400() -> None:
    app = production()

    @app.get("/")
    async def index() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
        for host in ("evil.com", "testserver.evil.com", "[evil", "", "testserver:abc"):
            response = client.get("/", headers={"host": host})
            assert response.status_code == 400, host
            assert response.text == "Invalid Host header"
        response = client.get("/", headers={"host": "evil.com", "accept": "application/json"})
        assert response.json() == {"status": 400, "detail": "Invalid Host header"}
        for name in ("x-frame-options", "x-content-type-options"):
            assert name in response.headers


def test_any_host_in_debug() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def index() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/", headers={"host": "anything.example"}).text == "ok"


# -- ExceptionHandlers directly ----------------------------------------------------------
def test_exception_handlers_registry() -> None:
    def h(request: Request, exc: Any) -> None:  # pragma: no cover
        pass

    def other(request: Request, exc: Any) -> None:  # pragma: no cover
        pass

    handlers = ExceptionHandlers()
    handlers.add(404, h)
    handlers.add(AppError, h)
    assert handlers.find(HTTPException(404)) is h
    assert handlers.find(HTTPException(500)) is None
    assert handlers.find(SpecificError()) is h
    assert handlers.find(ValueError()) is None
    with pytest.raises(TypeError, match="status code or an exception class"):
        handlers.add("404", h)  # type: ignore[arg-type]
    base = ExceptionHandlers()
    base.add(404, other)
    base.add(500, other)
    handlers.update(base)
    assert handlers.by_status == {404: h, 500: other}


# -- the error envelope --------------------------------------------------------------
def rails_style(error: ErrorDetails) -> dict[str, Any]:
    """The envelope some API specs require: ``{"errors": {"field": ["msg", ...]}}``."""
    if error.errors is None:
        return {"errors": {"_": [str(error.detail)]}}
    by_field: dict[str, list[str]] = {}
    for e in error.errors:
        by_field.setdefault(e.field, []).append(e.msg)
    return {"errors": by_field}


def test_error_envelope_reshapes_every_json_error() -> None:
    app = Carboy(debug=True, error_envelope=rails_style)

    @app.get("/items/{n:int}")
    async def item(n: int, page: int = Query(ge=1)) -> int:
        return n

    with TestClient(app) as client:
        invalid = client.get("/items/1?page=0")
        assert invalid.status_code == 422
        assert invalid.json() == {
            "errors": {"page": ["Input should be greater than or equal to 1"]}
        }
        missing = client.get("/nothing")
        assert missing.status_code == 404
        assert missing.json() == {"errors": {"_": ["No route matches '/nothing'"]}}
        # HTML error pages are not JSON, so they keep their shape.
        assert (
            "<h1>404 Not Found</h1>" in client.get("/nothing", headers={"accept": "text/html"}).text
        )


def test_error_envelope_shapes_middleware_replies_too() -> None:
    app = Carboy(
        secret_key="k3y-" + "aZ9_" * 20,
        allowed_hosts=["example.com"],
        error_envelope=rails_style,
    )

    @app.get("/")
    async def index() -> str:
        return "x"

    with TestClient(app, base_url="http://evil.test") as client:
        rejected = client.get("/", headers={"accept": "application/json"})
    assert rejected.status_code == 400
    assert rejected.json() == {"errors": {"_": ["Invalid Host header"]}}


def test_without_an_envelope_the_default_shape() -> None:
    app = Carboy(debug=True)

    @app.get("/page")
    async def page(n: int) -> int:
        return n

    with TestClient(app) as client:
        assert client.get("/page?n=x").json() == {
            "status": 422,
            "detail": "Validation failed",
            "errors": [
                {
                    "loc": ["query", "n"],
                    "field": "n",
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "type": "int_parsing",
                }
            ],
        }


def test_error_pages_by_convention(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "base.html").write_text(
        "<html><title>Shop</title><body>{% block body %}{% endblock %}</body></html>"
    )
    (templates / "404.html").write_text(
        '{% extends "base.html" %}{% block body %}<h1>Lost? {{ status_code }} {{ phrase }}</h1>'
        "<p>{{ detail }}</p><p>{{ request.path }}</p>{% endblock %}"
    )
    (templates / "500.html").write_text(
        "{% extends 'base.html' %}{% block body %}Oops{% endblock %}"
    )
    (templates / "405.html").write_text("{{ no_such_thing.attribute }}")  # broken on purpose
    app = Carboy(secret_key="k" * 50, allowed_hosts=["testserver"], root=tmp_path)

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("bug")

    @app.get("/only-get")
    async def only_get() -> str:
        return "ok"

    html_accept = {"accept": "text/html"}
    with TestClient(app, raise_server_exceptions=False) as client:
        missing = client.get("/nowhere", headers=html_accept)
        as_json = client.get("/nowhere")
        failed = client.get("/boom", headers=html_accept)
        with caplog.at_level(logging.ERROR, logger="carboy.error"):
            broken = client.post("/only-get", headers=html_accept)
    assert missing.status_code == 404
    assert missing.text == (
        "<html><title>Shop</title><body><h1>Lost? 404 Not Found</h1>"
        "<p>Not Found</p><p>/nowhere</p></body></html>"
    )
    assert missing.headers["content-type"].startswith("text/html")
    assert as_json.json() == {"status": 404, "detail": "Not Found"}
    assert failed.status_code == 500
    assert "Oops" in failed.text and "bug" not in failed.text
    # A broken error template falls back to the built-in page, and says so in the log.
    assert broken.status_code == 405
    assert "<h1>405 Method Not Allowed</h1>" in broken.text
    assert "Error page 405.html failed to render" in caplog.text
