"""Per-view caching: what is stored, what is not, Vary, ETag and 304 (memory and Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from carboy import Carboy, Module
from carboy.cache import Cache, Caching, MemoryBackend, cache_page
from carboy.exceptions import ConfigurationError
from carboy.requests import Request
from carboy.responses import JSONResponse, PlainTextResponse, StreamingResponse
from carboy.testing import TestClient


def _app(cache: Cache, tmp_path: Path, **options: object) -> tuple[Carboy, list[str]]:
    app = Carboy(debug=True, root=tmp_path)
    app.install(Caching(cache))
    calls: list[str] = []
    cached = {"middleware": [cache_page(60, **options)]}  # type: ignore[arg-type]

    @app.route("/page", methods=["GET", "POST"], extra=cached)
    async def page(request: Request) -> PlainTextResponse:
        calls.append(request.method)
        lang = request.headers.get("accept-language", "")
        return PlainTextResponse(f"page {len(calls)} {lang}", headers={"Vary": "Accept-Language"})

    @app.get("/private", extra=cached)
    async def private() -> PlainTextResponse:
        calls.append("private")
        return PlainTextResponse("mine", headers={"Cache-Control": "private"})

    @app.get("/cookie", extra=cached)
    async def cookie() -> PlainTextResponse:
        calls.append("cookie")
        response = PlainTextResponse("hello")
        response.set_cookie("seen", "1")
        return response

    @app.get("/missing", extra=cached)
    async def missing() -> JSONResponse:
        calls.append("missing")
        return JSONResponse({"detail": "no"}, status_code=404)

    @app.get("/star", extra=cached)
    async def star() -> PlainTextResponse:
        calls.append("star")
        return PlainTextResponse("x", headers={"Vary": "*"})

    @app.get("/own", extra=cached)
    async def own() -> PlainTextResponse:
        calls.append("own")
        return PlainTextResponse("x", headers={"Cache-Control": "max-age=5", "ETag": '"v1"'})

    @app.get("/big", extra=cached)
    async def big() -> StreamingResponse:
        calls.append("big")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"x" * 400

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/plain")
    async def plain() -> str:
        calls.append("plain")
        return "not cached"

    return app, calls


@pytest.fixture
def client(cache: Cache, tmp_path: Path) -> Iterator[TestClient]:
    app, calls = _app(cache, tmp_path, max_size=1000)
    with TestClient(app) as client:  # the lifespan closes the cache's connections
        client.calls = calls  # type: ignore[attr-defined]  # the test's record of handler calls
        yield client


def calls(client: TestClient) -> list[str]:
    return client.calls  # type: ignore[attr-defined, no-any-return]  # set by the fixture


def test_a_get_is_served_from_the_cache(client: TestClient) -> None:
    first = client.get("/page")
    second = client.get("/page")
    assert first.text == second.text == "page 1 "
    assert calls(client) == ["GET"]
    assert second.headers["cache-control"] == "max-age=60"
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["etag"].startswith('"')


def test_the_query_string_is_part_of_the_key(client: TestClient) -> None:
    client.get("/page?a=1")
    client.get("/page?a=2")
    client.get("/page?a=1")
    assert calls(client) == ["GET", "GET"]


def test_if_none_match_answers_304(client: TestClient) -> None:
    etag = client.get("/page").headers["etag"]
    response = client.get("/page", headers={"If-None-Match": etag})
    assert (response.status_code, response.content) == (304, b"")
    assert response.headers["etag"] == etag
    assert client.get("/page", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/page", headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304


def test_304_on_the_first_request_too(cache: Cache, tmp_path: Path) -> None:
    app = Carboy(debug=True, root=tmp_path)
    app.install(Caching(cache))

    @app.get("/", extra={"middleware": [cache_page(60)]})
    async def index() -> str:
        return "the same every time"

    with TestClient(app) as client:
        etag = client.get("/").headers["etag"]
        cache.clear()  # a browser that kept the page asks a cache that lost it
        response = client.get("/", headers={"If-None-Match": etag})
        assert (response.status_code, response.content) == (304, b"")


def test_vary_keeps_one_copy_per_header_value(client: TestClient) -> None:
    assert client.get("/page", headers={"Accept-Language": "fr"}).text == "page 1 fr"
    assert client.get("/page", headers={"Accept-Language": "de"}).text == "page 2 de"
    assert client.get("/page", headers={"Accept-Language": "fr"}).text == "page 1 fr"
    assert calls(client) == ["GET", "GET"]


def test_vary_option_adds_request_headers(cache: Cache, tmp_path: Path) -> None:
    app, record = _app(cache, tmp_path, vary=["X-Tenant"])
    with TestClient(app) as client:
        client.get("/page", headers={"X-Tenant": "a"})
        client.get("/page", headers={"X-Tenant": "b"})
        client.get("/page", headers={"X-Tenant": "a"})
    assert record == ["GET", "GET"]


def test_head_is_served_from_a_cached_get(client: TestClient) -> None:
    client.get("/page")
    response = client.head("/page")
    assert (response.status_code, response.content) == (200, b"")
    assert calls(client) == ["GET"]


def test_a_head_alone_is_not_stored(client: TestClient) -> None:
    client.head("/page")
    client.get("/page")
    assert calls(client) == ["HEAD", "GET"]


@pytest.mark.parametrize("path", ["/private", "/cookie", "/missing", "/star", "/big"])
def test_responses_that_must_not_be_stored(client: TestClient, path: str) -> None:
    first, second = client.get(path), client.get(path)
    assert first.content == second.content
    assert len(calls(client)) == 2
    assert "etag" not in second.headers


def test_a_big_streamed_body_passes_through_whole(client: TestClient) -> None:
    assert client.get("/big").content == b"x" * 1600


def test_unsafe_methods_and_authorization_skip_the_cache(client: TestClient) -> None:
    client.get("/page")
    client.post("/page")
    client.get("/page", headers={"Authorization": "Bearer x"})
    assert calls(client) == ["GET", "POST", "GET"]


def test_the_handlers_own_headers_are_kept(client: TestClient) -> None:
    client.get("/own")
    response = client.get("/own")
    assert (response.headers["cache-control"], response.headers["etag"]) == ("max-age=5", '"v1"')
    assert calls(client) == ["own"]
    assert client.get("/own", headers={"If-None-Match": '"v1"'}).status_code == 304


def test_routes_without_it_are_untouched(client: TestClient) -> None:
    client.get("/plain")
    client.get("/plain")
    assert calls(client) == ["plain", "plain"]


def test_the_entry_expires(cache: Cache, tmp_path: Path) -> None:
    app = Carboy(debug=True, root=tmp_path)
    app.install(Caching(cache))
    record: list[int] = []

    @app.get("/", extra={"middleware": [cache_page(0.1)]})
    async def index() -> str:
        record.append(1)
        return "x"

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
        time.sleep(0.15)
        client.get("/")
    assert record == [1, 1]


def test_on_a_module(tmp_path: Path) -> None:
    cache = Cache(backend=MemoryBackend())
    blog = Module("blog", prefix="/blog", middleware=[cache_page(60, cache=cache)])
    record: list[int] = []

    @blog.get("/")
    async def index() -> str:
        record.append(1)
        return "posts"

    app = Carboy(debug=True, root=tmp_path)
    app.install(blog)  # the cache was given, so it need not be installed
    with TestClient(app) as client:
        assert client.get("/blog/").text == client.get("/blog/").text == "posts"
    assert record == [1]


def test_ttl_must_be_positive() -> None:
    app = Carboy(debug=True)

    @app.get("/", extra={"middleware": [cache_page(0)]})
    async def index() -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="positive"):
        app.build()
