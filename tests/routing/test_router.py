"""Tests for carboy.routing._router through the app: routers, names, mounts, conflicts,
trailing slashes, automatic HEAD/OPTIONS, 405 and 404."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from carboy import Carboy, Module, Request, Router
from carboy.exceptions import ConfigurationError, SetupError
from carboy.routing import NoMatchFound, source_of
from carboy.testing import TestClient
from carboy.types import Receive, Scope, Send

HERE = os.path.relpath(__file__)


def where(func: Callable[..., Any]) -> str:
    """``tests/routing/test_router.py:NN`` for a handler defined in this file."""
    return f"{HERE}:{func.__code__.co_firstlineno}"


@pytest.fixture
def app() -> Carboy:
    return Carboy(debug=True)


# -- routers, prefixes and names -------------------------------------------------
def test_source_of_names_file_and_line() -> None:
    def handler() -> None:  # pragma: no cover
        pass

    assert source_of(handler) == where(handler)
    assert source_of(42) == "42"


def test_router_prefix_and_names(app: Carboy) -> None:
    blog = Router(prefix="/blog", name="blog")

    @blog.get("/")
    async def index() -> str:
        return "index"

    @blog.get("/{id:int}", name="post")
    async def post_detail(id: int, request: Request) -> dict[str, Any]:
        return {"id": id, "self": request.url_for("blog.post", id=id)}

    app.include(blog)
    with TestClient(app) as client:
        assert client.get("/blog/").text == "index"
        assert client.get("/blog/5").json() == {"id": 5, "self": "/blog/5"}
    assert app.url_path_for("blog.index") == "/blog/"
    assert app.url_path_for("blog.post", id=3) == "/blog/3"
    assert app.url_for("blog.post", id=3, page=2, tag=["a", "b"]) == "/blog/3?page=2&tag=a&tag=b"
    with pytest.raises(NoMatchFound, match=r"No route named 'post_detail'"):
        app.url_path_for("post_detail", id=1)


def test_nested_routers_join_prefixes_and_names(app: Carboy) -> None:
    users = Router(prefix="/users", name="users")
    api = Router(prefix="/api", name="api")
    v1 = Router(prefix="/v1")  # no name: adds nothing to route names

    @users.get("/{name}")
    async def detail(name: str) -> dict[str, str]:
        return {"name": name}

    v1.include(users)
    api.include(v1, prefix="/x")
    app.include(api)
    with TestClient(app) as client:
        assert client.get("/api/x/v1/users/ann").json() == {"name": "ann"}
    assert app.url_path_for("api.users.detail", name="ann b") == "/api/x/v1/users/ann%20b"
    assert [r.path for r in app.resolved_routes if r.name == "api.users.detail"] == [
        "/api/x/v1/users/{name}"
    ]


def test_module_routes_are_named_after_the_module(app: Carboy) -> None:
    shop = Module("shop", prefix="/shop")

    @shop.get("/cart")
    async def cart() -> str:
        return "cart"

    app.install(shop)
    with TestClient(app) as client:
        assert client.get("/shop/cart").text == "cart"
    assert app.url_path_for("shop.cart") == "/shop/cart"


def test_request_url_for_in_a_handler(app: Carboy) -> None:
    @app.get("/items/{id:int}", name="item")
    async def item(id: int, request: Request) -> str:
        return request.url_for("item", id=id + 1, q="a b")

    with TestClient(app) as client:
        assert client.get("/items/1").text == "/items/2?q=a+b"


def test_static_url_is_reversible(app: Carboy) -> None:
    assert app.url_path_for("static", path="css/site.css") == "/static/css/site.css"


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: Router(prefix="blog"), "must start with '/'"),
        (lambda: Router(prefix="/blog/"), "not end with '/'"),
        (lambda: Router(name="a.b"), "must be non-empty and have no '.'"),
        (lambda: Router(name=""), "must be non-empty"),
    ],
)
def test_router_arguments_are_checked(factory: Callable[[], Router], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        factory()


def test_add_route_checks_its_arguments(app: Carboy) -> None:
    async def h() -> None:  # pragma: no cover
        pass

    with pytest.raises(ConfigurationError, match=r"unknown HTTP method\(s\) \['BREW'\]"):
        app.add_route("/x", h, methods=["BREW"])
    with pytest.raises(ConfigurationError, match="status_code 600 is not 100-599"):
        app.add_route("/x", h, status_code=600)
    with pytest.raises(ConfigurationError, match="is not callable"):
        app.add_route("/x", "nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cannot include itself"):
        app.include(app)
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        app.mount("legacy", h)


def test_decorators_return_the_function(app: Carboy) -> None:
    async def h() -> None:  # pragma: no cover
        pass

    for decorator in (app.get, app.post, app.put, app.patch, app.delete):
        assert decorator(f"/{decorator.__name__}")(h) is h
    assert app.route("/r", methods=["GET", "POST"])(h) is h
    assert app.websocket("/ws")(h) is h


# -- mounts -------------------------------------------------------------------
def test_mounted_asgi_app_sees_root_path(app: Carboy) -> None:
    seen: list[tuple[str, str]] = []

    async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["root_path"], scope["path"]))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"legacy"})

    app.mount("/legacy", legacy, name="legacy")
    with TestClient(app) as client:
        response = client.get("/legacy/a/b?x=1")
        assert response.status_code == 200
        assert response.text == "legacy"
        # The app's default headers are not forced on a foreign app's response...
        assert client.get("/legacy").status_code == 200
        assert client.get("/legacyx").status_code == 404
    assert seen == [("/legacy", "/legacy/a/b"), ("/legacy", "/legacy")]
    assert app.url_path_for("legacy", path="a/b") == "/legacy/a/b"


def test_routes_beat_mounts(app: Carboy) -> None:
    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"mounted"})

    @app.get("/m/special")
    async def special() -> str:
        return "route"

    app.mount("/m", mounted)
    with TestClient(app) as client:
        assert client.get("/m/special").text == "route"
        assert client.get("/m/other").text == "mounted"


# -- conflicts at start-up ---------------------------------------------------------
def test_duplicate_route_names_both_places(app: Carboy) -> None:
    @app.get("/items/{id:int}")
    async def first(id: int) -> None:  # pragma: no cover
        pass

    other = Router()

    @other.get("/items/{id:int}")
    async def second(id: int) -> None:  # pragma: no cover
        pass

    app.include(other)
    with pytest.raises(ConfigurationError) as info:
        app.build()
    assert str(info.value) == (
        f"Route GET '/items/{{id:int}}' is declared twice ({where(first)} and {where(second)})"
    )


def test_same_shape_with_different_parameter_names_is_refused(app: Carboy) -> None:
    @app.get("/items/{id:int}")
    async def get_item(id: int) -> None:  # pragma: no cover
        pass

    @app.delete("/items/{pk:int}")
    async def delete_item(pk: int) -> None:  # pragma: no cover
        pass

    with pytest.raises(ConfigurationError) as info:
        app.build()
    message = str(info.value)
    assert f"'/items/{{id:int}}' ({where(get_item)})" in message
    assert f"'/items/{{pk:int}}' ({where(delete_item)})" in message


def test_duplicate_route_names_are_refused(app: Carboy) -> None:
    @app.get("/a", name="thing")
    async def a() -> None:  # pragma: no cover
        pass

    @app.get("/b", name="thing")
    async def b() -> None:  # pragma: no cover
        pass

    with pytest.raises(ConfigurationError) as info:
        app.build()
    message = str(info.value)
    assert message.startswith("Route name 'thing' is used twice")
    assert where(a) in message and where(b) in message


def test_routes_cannot_be_added_after_start_up(app: Carboy) -> None:
    router = Router(prefix="/r")
    app.include(router)

    @app.get("/")
    async def index() -> str:
        return "hi"

    with TestClient(app) as client:
        assert client.get("/").text == "hi"

    async def late() -> None:  # pragma: no cover
        pass

    for attempt in (
        lambda: app.get("/late")(late),
        lambda: router.get("/late")(late),
        lambda: app.mount("/late", late),
        lambda: app.include(Router()),
        lambda: app.register_converter("x", object()),  # type: ignore[arg-type]
    ):
        with pytest.raises(SetupError, match="after the app has started"):
            attempt()


# -- trailing slashes ------------------------------------------------------
@pytest.fixture
def slash_client(app: Carboy) -> Iterator[TestClient]:
    @app.get("/no-slash")
    async def no_slash() -> str:
        return "no-slash"

    @app.get("/sub/with-slash/")
    async def with_slash() -> str:
        return "with-slash"

    @app.get("/users/{name}/")
    async def user(name: str) -> str:
        return name

    @app.get("/{anything}")
    async def catch_all(anything: str) -> str:
        return anything

    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_trailing_slash_redirects_to_the_declared_form(slash_client: TestClient) -> None:
    response = slash_client.get("/no-slash/?a=1&b=%20")
    assert response.status_code == 308
    assert response.headers["location"] == "/no-slash?a=1&b=%20"
    response = slash_client.get("/sub/with-slash")
    assert response.status_code == 308
    assert response.headers["location"] == "/sub/with-slash/"
    assert response.headers["x-frame-options"] == "DENY"
    response = slash_client.get("/users/ann")
    assert response.status_code == 308
    assert response.headers["location"] == "/users/ann/"
    assert slash_client.get("/sub/with-slash/").text == "with-slash"
    # A path that matches a route as it is is never redirected.
    assert slash_client.get("/plain").text == "plain"


def test_redirect_keeps_the_method(slash_client: TestClient, app: Carboy) -> None:
    response = slash_client.post("/no-slash/")
    # No POST route at the other form either: 404, never a redirect that changes meaning.
    assert response.status_code == 308  # 308 keeps the method; the target then answers 405
    assert slash_client.post(response.headers["location"]).status_code == 405


@pytest.mark.parametrize("path", ["//evil.com/", "//evil.com", "///evil.com/"])
def test_no_open_redirect_through_the_slash_policy(slash_client: TestClient, path: str) -> None:
    response = slash_client.get("http://testserver" + path)
    assert response.status_code == 404
    assert "location" not in response.headers


def test_backslash_paths_are_quoted_in_redirects(slash_client: TestClient) -> None:
    response = slash_client.get("http://testserver/%5Cevil.com/")
    # "/\evil.com/" matches /{anything} without the slash; the Location is encoded.
    assert response.status_code == 308
    assert response.headers["location"] == "/%5Cevil.com"


# -- automatic HEAD and OPTIONS, 405, 404 ----------------------------------------
@pytest.fixture
def client(app: Carboy) -> Iterator[TestClient]:
    @app.get("/json")
    async def json_() -> dict[str, str]:
        return {"message": "hi"}

    @app.get("/text", media_type="text/plain")
    def text() -> str:
        return "plain"

    @app.route("/items", methods=["GET", "POST"])
    async def items() -> list[int]:
        return [1]

    @app.get("/users/{id:int}")
    async def user(id: int) -> dict[str, int]:
        return {"id": id}

    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize("url", ["/json", "/text", "/users/3"])
def test_head_is_automatic_with_the_same_headers_and_no_body(client: TestClient, url: str) -> None:
    get = client.get(url)
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""
    assert dict(head.headers) == dict(get.headers)
    assert int(head.headers["content-length"]) == len(get.content) > 0


def test_options_is_automatic(client: TestClient) -> None:
    response = client.options("/items")
    assert response.status_code == 204
    assert response.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert response.content == b""
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.options("/users/3").headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "BREW", "PROPFIND"])
def test_405_lists_allowed_methods(client: TestClient, method: str) -> None:
    response = client.request(method, "/json")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {"status": 405, "detail": f"Method {method} not allowed"}


def test_405_on_a_dynamic_route(client: TestClient) -> None:
    response = client.delete("/users/3")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"


def test_404_is_json_by_default_and_html_for_browsers(client: TestClient) -> None:
    response = client.get("/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": 404, "detail": "No route matches '/nothing'"}
    assert response.headers["x-frame-options"] == "DENY"

    response = client.get("/nothing", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>404 Not Found</h1>" in response.text
    assert "No route matches &#x27;/nothing&#x27;" in response.text

    response = client.get("/nothing", headers={"accept": "application/json, text/html"})
    assert response.headers["content-type"] == "application/json"


def test_404_for_unknown_method_on_unknown_path(client: TestClient) -> None:
    assert client.request("BREW", "/nothing").status_code == 404


def test_production_404_does_not_echo_the_path() -> None:
    app = Carboy(debug=False, secret_key="x" * 40, allowed_hosts=["testserver"])

    @app.get("/")
    async def index() -> str:  # pragma: no cover
        return ""

    with TestClient(app) as client:
        response = client.get("/secret-admin-path")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "detail": "Not Found"}


def test_method_falls_through_to_a_dynamic_route_that_has_it(app: Carboy) -> None:
    @app.get("/users/me")
    async def me() -> str:
        return "me"

    @app.delete("/users/{name}")
    async def remove(name: str) -> str:
        return f"deleted {name}"

    @app.get("/files/{id:int}")
    async def get_file(id: int) -> str:
        return f"file {id}"

    @app.post("/files/{name}")
    async def post_file(name: str) -> str:
        return f"posted {name}"

    with TestClient(app) as client:
        assert client.get("/users/me").text == "me"
        assert client.delete("/users/me").text == "deleted me"
        assert client.post("/files/3").text == "posted 3"
        response = client.put("/users/me")
        assert response.status_code == 405
        assert response.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
        assert client.options("/users/me").headers["allow"] == "DELETE, GET, HEAD, OPTIONS"


# -- behind a root_path ---------------------------------------------------------------
@pytest.mark.anyio
async def test_routes_match_below_a_server_root_path(app: Carboy) -> None:
    # uvicorn --root-path /api puts the prefix in front of "path" as well.
    @app.get("/users/{id:int}", name="user")
    async def user(id: int, request: Request) -> dict[str, Any]:
        return {"id": id, "url": str(request.url), "base": str(request.base_url)}

    @app.get("/items/")
    async def items() -> str:
        return "items"

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:  # pragma: no cover - GET bodies are not read
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    def scope(path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "/api",
            "query_string": b"",
            "headers": [(b"host", b"example.com")],
            "http_version": "1.1",
        }

    await app(scope("/api/users/3"), receive, send)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == (
        b'{"id":3,"url":"http://example.com/api/users/3","base":"http://example.com/api/"}'
    )
    sent.clear()
    await app(scope("/api/items"), receive, send)
    assert sent[0]["status"] == 308
    assert (b"location", b"/api/items/") in sent[0]["headers"]
    sent.clear()
    await app(scope("/api/nothing"), receive, send)
    assert sent[0]["status"] == 404
    assert sent[1]["body"] == b'{"status":404,"detail":"No route matches \'/nothing\'"}'


def test_a_carboy_app_mounted_in_another(app: Carboy) -> None:
    inner = Carboy(debug=True)

    @inner.get("/hello/{name}")
    async def hello(name: str, request: Request) -> dict[str, str]:
        return {"name": name, "path": request.url.path}

    app.mount("/inner", inner)
    with TestClient(app) as client:
        response = client.get("/inner/hello/ann")
        assert response.json() == {"name": "ann", "path": "/inner/hello/ann"}
        assert client.get("/inner/nothing").status_code == 404
