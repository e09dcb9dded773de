"""StaticFiles: serving, mounting, traversal refusal, html mode, several directories."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from carboy.exceptions import ConfigurationError
from carboy.staticfiles import StaticFiles
from carboy.types import ASGIApp, Message, Scope

SECRET = b"TOP-SECRET-CONTENT"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """tmp/static with a few files, and tmp/secret.txt outside it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "sub").mkdir()
    (static / "empty-dir").mkdir()
    (static / "hello.txt").write_bytes(b"hello")
    (static / "css" / "site.css").write_bytes(b"body{}")
    (static / "app.js").write_bytes(b"1")
    (static / "sub" / "index.html").write_bytes(b"<p>sub index</p>")
    (static / "index.html").write_bytes(b"<p>home</p>")
    (static / "%2e%2e").mkdir()  # a directory really named "%2e%2e"
    (static / "%2e%2e" / "literal.txt").write_bytes(b"literal")
    (static / "%41.txt").write_bytes(b"percent-41")
    (static / "caf\u00e9.txt").write_bytes(b"coffee")
    # Symlinks: one escaping to a file, one escaping to a directory, one staying inside.
    (static / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (static / "escape-dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (static / "alias.txt").symlink_to(static / "hello.txt")
    return static


def client(app: ASGIApp, root_path: str = "/static") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def drive(
    app: ASGIApp,
    path: str,
    *,
    method: str = "GET",
    root_path: str = "/static",
    headers: Iterable[tuple[bytes, bytes]] = (),
    scope_extra: dict[str, Any] | None = None,
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Call ``app`` with a scope as a server builds it (path already percent-decoded)."""
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": root_path,
        "query_string": b"",
        "headers": list(headers),
        **(scope_extra or {}),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}  # pragma: no cover - never reached

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], dict(sent[0]["headers"]), body


# -- serving -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_serves_files_with_type_and_cache_headers(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        text = await c.get("/static/hello.txt")
        css = await c.get("/static/css/site.css")
        js = await c.get("/static/app.js")
        accented = await c.get("/static/caf%C3%A9.txt")
    assert (text.status_code, text.content) == (200, b"hello")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["cache-control"] == "public, max-age=3600"
    assert text.headers["content-length"] == "5"
    assert text.headers["accept-ranges"] == "bytes"
    assert "content-disposition" not in text.headers
    assert (css.content, css.headers["content-type"]) == (b"body{}", "text/css; charset=utf-8")
    assert js.headers["content-type"] == "text/javascript; charset=utf-8"
    assert accented.content == b"coffee"


@pytest.mark.anyio
async def test_etag_and_last_modified_give_304(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        first = await c.get("/static/hello.txt")
        by_etag = await c.get("/static/hello.txt", headers={"if-none-match": first.headers["etag"]})
        by_date = await c.get(
            "/static/hello.txt", headers={"if-modified-since": first.headers["last-modified"]}
        )
        stale = await c.get("/static/hello.txt", headers={"if-none-match": '"stale"'})
    for response in (by_etag, by_date):
        assert (response.status_code, response.content) == (304, b"")
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert response.headers["etag"] == first.headers["etag"]
    assert (stale.status_code, stale.content) == (200, b"hello")


@pytest.mark.anyio
async def test_range_request(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        response = await c.get("/static/hello.txt", headers={"range": "bytes=1-3"})
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 1-3/5"
    assert response.content == b"ell"


@pytest.mark.anyio
async def test_head(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        found = await c.head("/static/hello.txt")
        missing = await c.head("/static/nope.txt")
    assert (found.status_code, found.content) == (200, b"")
    assert found.headers["content-length"] == "5"
    assert (missing.status_code, missing.content) == (404, b"")


@pytest.mark.anyio
async def test_cache_max_age(site: Path) -> None:
    async with client(StaticFiles(directory=site, cache_max_age=60)) as c:
        assert (await c.get("/static/hello.txt")).headers["cache-control"] == "public, max-age=60"
    async with client(StaticFiles(directory=site, cache_max_age=None)) as c:
        assert "cache-control" not in (await c.get("/static/hello.txt")).headers


@pytest.mark.anyio
async def test_app_default_headers_are_appended(site: Path) -> None:
    defaults = [(b"x-content-type-options", b"nosniff")]
    app = StaticFiles(directory=site)
    for path, method, status in [
        ("/static/hello.txt", "GET", 200),
        ("/static/nope.txt", "GET", 404),
        ("/static/hello.txt", "POST", 405),
    ]:
        got, headers, _ = await drive(
            app, path, method=method, scope_extra={"carboy.headers": defaults}
        )
        assert got == status
        assert headers[b"x-content-type-options"] == b"nosniff"


# -- mounting --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_mount_that_keeps_the_full_path(site: Path) -> None:
    # carboy's mount: scope["path"] is the full path, scope["root_path"] ends with the prefix.
    status, _, body = await drive(
        StaticFiles(directory=site), "/app/static/css/site.css", root_path="/app/static"
    )
    assert (status, body) == (200, b"body{}")


@pytest.mark.anyio
async def test_mount_that_strips_the_prefix(site: Path) -> None:
    status, _, body = await drive(StaticFiles(directory=site), "/css/site.css")
    assert (status, body) == (200, b"body{}")


@pytest.mark.anyio
async def test_as_the_whole_app(site: Path) -> None:
    async with client(StaticFiles(directory=site), root_path="") as c:
        response = await c.get("/css/site.css")
    assert (response.status_code, response.content) == (200, b"body{}")


# -- traversal and other hostile paths -----------------------------------------------------


def hostile_paths(site: Path) -> list[str]:
    """Paths as the server hands them over (already percent-decoded once)."""
    return [
        "/static/../secret.txt",
        "/static/..",
        "/static/../",
        "/static/css/../../secret.txt",
        "/static/css/../hello.txt",  # lands inside, but dot segments are refused outright
        "/static/./hello.txt",
        "/static/.",
        "/static/..%2fsecret.txt",  # "%2f" sent as "%252f": a literal name, not a slash
        "/static/%2e%2e/secret.txt",  # "%2e%2e" sent as "%252e%252e": a literal name
        "/static/%2e%2e/../../secret.txt",
        "/static/..\\secret.txt",
        "/static/\\..\\secret.txt",
        "/static/css\\..\\..\\secret.txt",
        "/static/hello.txt\x00.png",
        "/static/\x00",
        "/static//etc/passwd",
        "/static/" + str(site.parent / "secret.txt"),  # "/static//tmp/.../secret.txt"
        "/static//" + str(site.parent / "secret.txt"),
        "/static/escape.txt",  # symlink to a file outside
        "/static/escape-dir/secret.txt",  # symlink to a directory outside
        "/static/C:/secret.txt" if os.name == "nt" else "/static/nope/../../secret.txt",
        "/static/" + "a" * 5000,  # name too long for the file system
        "/static/hello.txt/",  # a file is not a directory
        "/static/hello.txt/.",
        "/static/css",  # directories are not served without html=True
        "/static/css/",
        "/static/empty-dir/",
        "/static/",
        "/static",
    ]


@pytest.mark.anyio
async def test_hostile_paths_are_all_404(site: Path) -> None:
    app = StaticFiles(directory=site)
    for path in hostile_paths(site):
        status, headers, body = await drive(app, path)
        assert (status, body) == (404, b"Not Found"), path
        assert headers[b"content-type"] == b"text/plain; charset=utf-8"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/..%2Fsecret.txt",
        "/static/..%5csecret.txt",
        "/static/%5c..%5csecret.txt",
        "/static/%252e%252e/secret.txt",
        "/static/%252e%252e%252fsecret.txt",
        "/static/hello.txt%00",
        "/static/%2fetc%2fpasswd",
        "/static/%2F%2E%2E%2Fsecret.txt",
        "/static/escape.txt",
        "/static/escape-dir/secret.txt",
        "/static/escape-dir%2fsecret.txt",
    ],
)
async def test_hostile_urls_over_http_are_404(site: Path, url: str) -> None:
    async with client(StaticFiles(directory=site)) as c:
        response = await c.get(url)
    assert response.status_code == 404
    assert SECRET not in response.content


@pytest.mark.anyio
async def test_hostile_paths_in_html_mode_get_the_404_page(site: Path) -> None:
    (site / "404.html").write_bytes(b"<p>not here</p>")
    app = StaticFiles(directory=site, html=True)
    for path in hostile_paths(site):
        if path in ("/static/", "/static"):
            continue  # the home page and its redirect, see test_html_mode
        status, _, body = await drive(app, path)
        assert (status, body) == (404, b"<p>not here</p>"), path


@pytest.mark.anyio
async def test_percent_signs_in_names_are_literal(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        literal = await c.get("/static/%252e%252e/literal.txt")
        percent = await c.get("/static/%2541.txt")
        decoded = await c.get("/static/A.txt")
    assert (literal.status_code, literal.content) == (200, b"literal")
    assert (percent.status_code, percent.content) == (200, b"percent-41")
    assert decoded.status_code == 404


@pytest.mark.anyio
@pytest.mark.skipif(os.name == "nt", reason="a backslash cannot be part of a Windows file name")
async def test_backslash_is_refused_even_where_it_is_a_plain_character(site: Path) -> None:
    # On POSIX this names a real file, but on Windows it would be a path separator,
    # so the same URL must give the same answer everywhere.
    (site / "back\\slash.txt").write_bytes(b"x")
    status, _, _ = await drive(StaticFiles(directory=site), "/static/back\\slash.txt")
    assert status == 404


@pytest.mark.anyio
async def test_symlinks(site: Path) -> None:
    async with client(StaticFiles(directory=site)) as c:
        inside = await c.get("/static/alias.txt")
        escaping = await c.get("/static/escape.txt")
    assert (inside.status_code, inside.content) == (200, b"hello")
    assert escaping.status_code == 404
    async with client(StaticFiles(directory=site, follow_symlinks=True)) as c:
        followed = await c.get("/static/escape.txt")
        followed_dir = await c.get("/static/escape-dir/secret.txt")
    assert (followed.status_code, followed.content) == (200, SECRET)
    assert (followed_dir.status_code, followed_dir.content) == (200, SECRET)


@pytest.mark.anyio
async def test_directory_given_through_a_symlink(site: Path, tmp_path: Path) -> None:
    (tmp_path / "static-link").symlink_to(site, target_is_directory=True)
    async with client(StaticFiles(directory=tmp_path / "static-link")) as c:
        found = await c.get("/static/hello.txt")
        escaping = await c.get("/static/escape.txt")
    assert (found.status_code, found.content) == (200, b"hello")
    assert escaping.status_code == 404


@pytest.mark.anyio
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_special_files_are_not_served(site: Path) -> None:
    os.mkfifo(site / "pipe.txt")
    status, _, _ = await drive(StaticFiles(directory=site), "/static/pipe.txt")
    assert status == 404


# -- methods -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
async def test_other_methods_are_405(site: Path, method: str) -> None:
    app = StaticFiles(directory=site)
    for path in ("/static/hello.txt", "/static/nope.txt", "/static/../secret.txt"):
        status, headers, body = await drive(app, path, method=method)
        assert (status, body) == (405, b"Method Not Allowed")
        assert headers[b"allow"] == b"GET, HEAD"


@pytest.mark.anyio
async def test_websocket_is_refused(site: Path) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "websocket", "path": "/static/hello.txt", "headers": []}
    await StaticFiles(directory=site)(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]


@pytest.mark.anyio
async def test_lifespan_is_not_its_job(site: Path) -> None:
    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        raise AssertionError("nothing may be sent")

    with pytest.raises(RuntimeError, match="serves HTTP requests, not 'lifespan'"):
        await StaticFiles(directory=site)({"type": "lifespan"}, receive, send)


# -- html mode -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_html_mode(site: Path) -> None:
    (site / "404.html").write_bytes(b"<p>not here</p>")
    async with client(StaticFiles(directory=site, html=True)) as c:
        home = await c.get("/static/")
        sub = await c.get("/static/sub/")
        redirect = await c.get("/static/sub")
        redirect_query = await c.get("/static/sub?page=2&x=%C3%A9")
        root_redirect = await c.get("/static")
        missing = await c.get("/static/nope.html")
        no_index = await c.get("/static/css/")
        file = await c.get("/static/hello.txt")
        head_missing = await c.head("/static/nope.html")
    assert (home.status_code, home.content) == (200, b"<p>home</p>")
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert home.headers["cache-control"] == "public, max-age=3600"
    assert (sub.status_code, sub.content) == (200, b"<p>sub index</p>")
    assert (redirect.status_code, redirect.headers["location"]) == (307, "/static/sub/")
    assert redirect_query.headers["location"] == "/static/sub/?page=2&x=%C3%A9"
    assert (root_redirect.status_code, root_redirect.headers["location"]) == (307, "/static/")
    assert (missing.status_code, missing.content) == (404, b"<p>not here</p>")
    assert missing.headers["content-type"] == "text/html; charset=utf-8"
    assert "cache-control" not in missing.headers
    assert (no_index.status_code, no_index.content) == (404, b"<p>not here</p>")
    assert (file.status_code, file.content) == (200, b"hello")
    assert (head_missing.status_code, head_missing.content) == (404, b"")


@pytest.mark.anyio
async def test_html_redirect_for_a_mount_that_strips_the_prefix(site: Path) -> None:
    status, headers, _ = await drive(StaticFiles(directory=site, html=True), "/sub")
    assert (status, headers[b"location"]) == (307, b"/static/sub/")


@pytest.mark.anyio
async def test_html_redirect_keeps_percent_signs_literal(site: Path) -> None:
    (site / "50%").mkdir()
    (site / "50%" / "index.html").write_bytes(b"half")
    async with client(StaticFiles(directory=site, html=True)) as c:
        redirect = await c.get("/static/50%25")
        followed = await c.get(redirect.headers["location"])
    assert redirect.headers["location"] == "/static/50%25/"
    assert followed.content == b"half"


@pytest.mark.anyio
async def test_html_redirect_cannot_point_to_another_host(site: Path) -> None:
    (site / "evil.com").mkdir()
    (site / "evil.com" / "index.html").write_bytes(b"x")
    app = StaticFiles(directory=site, html=True)
    status, _, _ = await drive(app, "//evil.com", root_path="")
    assert status == 404
    status, headers, _ = await drive(app, "/evil.com", root_path="")
    assert (status, headers[b"location"]) == (307, b"/evil.com/")


@pytest.mark.anyio
async def test_html_mode_without_a_404_page(site: Path) -> None:
    async with client(StaticFiles(directory=site, html=True)) as c:
        response = await c.get("/static/nope.html")
    assert (response.status_code, response.content) == (404, b"Not Found")


@pytest.mark.anyio
async def test_without_html_mode_index_and_404_pages_are_plain_files(site: Path) -> None:
    (site / "404.html").write_bytes(b"<p>not here</p>")
    async with client(StaticFiles(directory=site)) as c:
        index = await c.get("/static/sub/index.html")
        missing = await c.get("/static/nope.html")
    assert (index.status_code, index.content) == (200, b"<p>sub index</p>")
    assert (missing.status_code, missing.content) == (404, b"Not Found")


# -- several directories -------------------------------------------------------------------


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "app-static", tmp_path / "module-static"
    for d in (first, second):
        (d / "sub").mkdir(parents=True)
    (first / "shared.txt").write_bytes(b"from app")
    (second / "shared.txt").write_bytes(b"from module")
    (second / "only-module.txt").write_bytes(b"module file")
    (first / "sub" / "index.html").write_bytes(b"app index")
    (second / "sub" / "index.html").write_bytes(b"module index")
    (second / "404.html").write_bytes(b"module 404")
    return first, second


@pytest.mark.anyio
async def test_several_directories_in_priority_order(layers: tuple[Path, Path]) -> None:
    first, second = layers
    async with client(StaticFiles(directory=[first, str(second)], html=True)) as c:
        shared = await c.get("/static/shared.txt")
        only = await c.get("/static/only-module.txt")
        index = await c.get("/static/sub/")
        missing = await c.get("/static/nope")
    assert shared.content == b"from app"
    assert only.content == b"module file"
    assert index.content == b"app index"
    assert (missing.status_code, missing.content) == (404, b"module 404")
    async with client(StaticFiles(directory=[second, first])) as c:
        assert (await c.get("/static/shared.txt")).content == b"from module"


@pytest.fixture
def package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An importable package (unique name per test) with static/ and assets/ directories."""
    name = "carboy_static_pkg_" + request.node.name.replace("[", "_").replace("]", "_")
    root = tmp_path / "pkgs" / name
    (root / "static").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "__init__.py").write_text("")
    (root / "static" / "widget.js").write_bytes(b"widget()")
    (root / "static" / "shared.txt").write_bytes(b"from package")
    (root / "assets" / "logo.svg").write_bytes(b"<svg/>")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    importlib.invalidate_caches()
    yield name
    sys.modules.pop(name, None)


@pytest.mark.anyio
async def test_package_directories(layers: tuple[Path, Path], package: str) -> None:
    first, _ = layers
    app = StaticFiles(directory=first, packages=[package, (package, "assets")])
    async with client(app) as c:
        widget = await c.get("/static/widget.js")
        shared = await c.get("/static/shared.txt")
        logo = await c.get("/static/logo.svg")
    assert widget.content == b"widget()"
    assert shared.content == b"from app"  # the directory comes before the packages
    assert (logo.content, logo.headers["content-type"]) == (b"<svg/>", "image/svg+xml")
    only_package = StaticFiles(packages=[package])
    assert only_package.lookup("shared.txt") is not None


def test_package_errors(package: str) -> None:
    with pytest.raises(ConfigurationError, match="'no_such_pkg_xyz' is not an importable package"):
        StaticFiles(packages=["no_such_pkg_xyz"])
    with pytest.raises(ConfigurationError, match="is not an importable package"):
        StaticFiles(packages=["no_such_parent_xyz.child"])
    with pytest.raises(ConfigurationError, match="has no 'public' directory"):
        StaticFiles(packages=[(package, "public")])
    with pytest.raises(ConfigurationError, match="is not an importable package"):
        StaticFiles(packages=["os"])  # a module, not a package


# -- configuration and lookup --------------------------------------------------------------


def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="StaticFiles needs a directory"):
        StaticFiles()
    with pytest.raises(ConfigurationError, match="does not exist or is not a directory"):
        StaticFiles(directory=tmp_path / "missing")
    (tmp_path / "file.txt").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="check_dir=False"):
        StaticFiles(directory=[tmp_path, tmp_path / "file.txt"])


@pytest.mark.anyio
async def test_check_dir_false_allows_a_directory_made_later(tmp_path: Path) -> None:
    app = StaticFiles(directory=tmp_path / "later", check_dir=False)
    async with client(app) as c:
        assert (await c.get("/static/a.txt")).status_code == 404
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / "a.txt").write_bytes(b"now")
        assert (await c.get("/static/a.txt")).content == b"now"


def test_lookup(site: Path) -> None:
    app = StaticFiles(directory=site)
    found = app.lookup("css/site.css")
    assert found is not None
    full_path, stat_result = found
    assert full_path == os.path.join(os.path.realpath(site), "css", "site.css")
    assert stat_result.st_size == 6
    assert app.lookup("/css/site.css") == (full_path, stat_result)
    for path in ("css", "css/", "nope.txt", "../secret.txt", "escape.txt", "a\\b", "", "/"):
        assert app.lookup(path) is None, path


def test_repr(site: Path) -> None:
    assert repr(StaticFiles(directory=site, html=True)) == (
        f"StaticFiles(directory={[os.path.realpath(site)]!r}, html=True)"
    )


def test_misses_inside_a_carboy_app_use_the_apps_error_handling(tmp_path: Path) -> None:
    from carboy import Carboy, HTMLResponse, HTTPException, Request
    from carboy.testing import TestClient

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.css").write_text("a{}")
    app = Carboy(debug=True, root=tmp_path)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: HTTPException) -> HTMLResponse:
        return HTMLResponse(f"<h1>no {request.path}</h1>", 404)

    with TestClient(app) as client:
        assert client.get("/static/a.css").text == "a{}"
        missing = client.get("/static/nope.css")
        assert (missing.status_code, missing.text) == (404, "<h1>no /static/nope.css</h1>")
        refused = client.post("/static/a.css", headers={"accept": "application/json"})
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD"
        assert refused.json()["status"] == 405
