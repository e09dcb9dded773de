"""The OpenAPI 3.1 document: every route's parameters, bodies, responses, security, names."""

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from carboy import (
    Body,
    Carboy,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    Module,
    Query,
    Request,
    UploadFile,
    WebSocket,
)
from carboy.api import API, OpenAPIBuilder, OpenAPIConfig, openapi_path
from carboy.exceptions import ConfigurationError
from carboy.responses import PlainTextResponse
from carboy.testing import TestClient


class NoteIn(BaseModel):
    """What a client sends."""

    title: str = Field(min_length=1, max_length=200, examples=["Groceries"])
    tags: list[str] = Field(default_factory=list, max_length=10)


class Note(NoteIn):
    id: int


class Point(msgspec.Struct):
    x: int
    y: int = 0


@dataclasses.dataclass
class Size:
    width: int
    height: int


def document_of(app: Carboy, api: API | None = None, **config: Any) -> dict[str, Any]:
    """Install ``api`` (or a fresh one) with ``config``, fetch the document, validate it."""
    if api is None:
        api = API(prefix="/api", title="Test", version="2.0", openapi=OpenAPIConfig(**config))
    app.install(api)
    with TestClient(app) as client:
        response = client.get(api.prefix + api.openapi_config.openapi_url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    validate(document)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    return document


def test_info_and_path_templates() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def home() -> dict[str, str]:
        return {}

    document = document_of(app)
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Test", "version": "2.0"}
    assert set(document["paths"]) == {"/"}  # the document and docs routes are not in it
    assert openapi_path("/a/{year:int}/{slug}/{rest:path}") == "/a/{year}/{slug}/{rest}"


def test_parameters_with_their_constraints_descriptions_examples_and_deprecation() -> None:
    app = Carboy(debug=True)

    @app.get("/items/{item_id:int}/{slug:slug}/{key:uuid}")
    async def item(
        item_id: int,
        slug: str,
        key: str,
        page: Annotated[int, Query(ge=1, le=100, description="Page", examples=[2])] = 1,
        q: Annotated[str | None, Query(min_length=2, max_length=9, pattern="^[a-z]+$")] = None,
        tag: Annotated[list[str] | None, Query()] = None,
        old: Annotated[int, Query(deprecated=True)] = 0,
        user_agent: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
        theme: Annotated[str, Cookie()] = "light",
    ) -> dict[str, int]:
        return {}

    params = {
        p["name"]: p
        for p in document_of(app)["paths"]["/items/{item_id}/{slug}/{key}"]["get"]["parameters"]
    }
    assert params["item_id"] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    }
    assert params["slug"]["schema"] == {"type": "string", "pattern": "^(?:[-a-zA-Z0-9_]+)$"}
    assert params["key"]["schema"]["format"] == "uuid"
    assert params["page"] == {
        "name": "page",
        "in": "query",
        "description": "Page",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "examples": [2], "default": 1},
    }
    q = params["q"]["schema"]["anyOf"][0]
    assert q == {"type": "string", "minLength": 2, "maxLength": 9, "pattern": "^[a-z]+$"}
    assert params["tag"]["schema"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert params["old"]["deprecated"] is True
    assert params["user-agent"]["in"] == "header"
    assert "authorization" not in params  # OpenAPI describes it as a security scheme instead
    assert params["theme"] == {
        "name": "theme",
        "in": "cookie",
        "schema": {"type": "string", "default": "light"},
    }


def test_json_form_and_multipart_bodies() -> None:
    app = Carboy(debug=True)

    @app.post("/notes", status_code=201)
    async def create(note: NoteIn) -> Note:
        return Note(id=1, **note.model_dump())

    @app.post("/embedded")
    async def embedded(
        a: Annotated[int, Body(ge=0)], b: Annotated[str, Body(description="B")] = "x"
    ) -> None:
        return None

    @app.post("/login")
    async def login(
        username: Annotated[str, Form(max_length=150)], password: Annotated[str, Form()]
    ) -> None:
        return None

    @app.post("/avatar")
    async def avatar(
        name: Annotated[str, Form()], picture: UploadFile, more: Annotated[list[UploadFile], File()]
    ) -> None:
        return None

    paths = document_of(app)["paths"]
    create_op = paths["/notes"]["post"]
    assert create_op["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NoteIn"}}},
        "required": True,
    }
    assert create_op["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Note"
    }
    body = paths["/embedded"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 0},
            "b": {"type": "string", "description": "B", "default": "x"},
        },
        "required": ["a"],
    }
    form = paths["/login"]["post"]["requestBody"]["content"]
    assert list(form) == ["application/x-www-form-urlencoded", "multipart/form-data"]
    schema = form["application/x-www-form-urlencoded"]["schema"]
    assert schema["properties"]["username"] == {"type": "string", "maxLength": 150}
    assert schema["required"] == ["username", "password"]
    multipart = paths["/avatar"]["post"]["requestBody"]["content"]
    assert list(multipart) == ["multipart/form-data"]
    properties = multipart["multipart/form-data"]["schema"]["properties"]
    assert properties["picture"] == {"type": "string", "format": "binary"}
    assert properties["more"] == {"type": "array", "items": {"type": "string", "format": "binary"}}


def test_responses_per_status_with_pydantic_msgspec_and_dataclass_models() -> None:
    app = Carboy(debug=True)

    @app.get("/notes")
    async def notes() -> list[Note]:
        return []

    @app.get("/point")
    async def point() -> Point:
        return Point(1)

    @app.get("/points")
    async def points() -> list[Point]:
        return []

    @app.get("/size")
    async def size() -> Size:
        return Size(1, 2)

    @app.get("/shaped", response_model=NoteIn)
    async def shaped() -> dict[str, Any]:
        return {}

    @app.delete("/gone")
    async def gone() -> None:
        return None

    @app.get("/page")
    async def page() -> str:
        return "<p>hi</p>"

    @app.get("/text", media_type="text/plain")
    async def text() -> str:
        return "hi"

    @app.get("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("hi")

    @app.get(
        "/declared/{id:int}",
        extra={"responses": {404: "No such thing", 409: Note, 410: {"description": "Gone"}}},
    )
    async def declared(id: int) -> dict[str, int]:
        return {}

    document = document_of(app)
    paths = document["paths"]

    def ok(path: str, method: str = "get", status: str = "200") -> Any:
        return paths[path][method]["responses"][status]

    assert ok("/notes")["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Note"},
    }
    assert ok("/point")["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Point"
    }
    assert ok("/points")["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/Point"
    }
    assert ok("/size")["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Size"
    }
    assert ok("/shaped")["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NoteIn"
    }
    assert ok("/gone", "delete", "204") == {"description": "No Content"}
    assert ok("/page")["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert ok("/text")["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert ok("/plain")["content"] == {"text/plain": {}}
    components = document["components"]["schemas"]
    assert components["Point"]["required"] == ["x"]  # msgspec's schema
    assert components["Size"]["required"] == ["width", "height"]
    assert components["NoteIn"]["properties"]["title"]["examples"] == ["Groceries"]
    responses = paths["/declared/{id}"]["get"]["responses"]
    assert responses["404"]["description"] == "No such thing"
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert responses["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Note"
    }
    assert responses["410"] == {"description": "Gone"}


def test_error_responses_the_422_and_the_error_shapes() -> None:
    app = Carboy(debug=True)

    @app.get("/search")
    async def search(q: str) -> list[str]:
        return []

    @app.post("/notes")
    async def create(note: NoteIn) -> Note:
        return Note(id=1, **note.model_dump())

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    document = document_of(app)
    search_op = document["paths"]["/search"]["get"]["responses"]
    assert set(search_op) == {"200", "422"}
    assert search_op["422"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
    }
    assert set(document["paths"]["/notes"]["post"]["responses"]) == {
        "200",
        "400",
        "413",
        "415",
        "422",
    }
    assert set(document["paths"]["/ping"]["get"]["responses"]) == {"200"}
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["status", "detail"]
    assert schemas["FieldError"]["required"] == ["loc", "field", "msg", "type"]
    assert schemas["Problem"]["required"] == ["type", "title", "status"]


def test_api_routes_document_problem_details() -> None:
    app = Carboy(debug=True)
    api = API(prefix="/api")

    @api.get("/notes/{note_id:int}")
    async def note(note_id: int) -> Note:
        raise HTTPException(404, "No such note")

    responses = document_of(app, api)["paths"]["/api/notes/{note_id}"]["get"]["responses"]
    assert responses["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    # A path that matches no route is the router's 404, in carboy's own body: both are listed.
    assert responses["404"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}},
    }


def test_tags_operation_ids_summaries_descriptions_deprecation_and_openapi_extra() -> None:
    app = Carboy(debug=True)
    blog = Module("blog", prefix="/blog", tags=["blog"])
    shop = Module("shop", prefix="/shop")

    @blog.get("/", tags=["posts"], extra={"deprecated": True})
    async def index() -> list[str]:
        """List the posts.

        Newest first, *published* only.
        """
        return []

    @shop.get(
        "/",
        extra={
            "summary": "Shop front",
            "openapi_extra": {"x-cost": 1, "responses": {"200": {"description": "The shop"}}},
        },
    )
    async def index_shop() -> list[str]:
        return []

    @shop.get("/again", name="index")
    async def shop_index() -> list[str]:
        return []

    @blog.route("/both", methods=["GET", "POST"])
    async def both() -> list[str]:
        return []

    app.install(blog)
    app.install(shop)
    api = API(
        openapi=OpenAPIConfig(
            tags=[{"name": "posts", "description": "Blog posts"}, {"name": "unused"}]
        )
    )
    document = document_of(app, api)
    blog_index = document["paths"]["/blog/"]["get"]
    assert blog_index["tags"] == ["blog", "posts"]
    assert blog_index["summary"] == "List the posts."
    assert blog_index["description"] == "Newest first, *published* only."
    assert blog_index["deprecated"] is True
    # Two routes named "index" (blog.index, shop.index): the full names tell them apart.
    assert blog_index["operationId"] == "blog_index"
    assert document["paths"]["/shop/again"]["get"]["operationId"] == "shop_index"
    assert document["paths"]["/shop/"]["get"]["operationId"] == "index_shop"
    shop_front = document["paths"]["/shop/"]["get"]
    assert shop_front["summary"] == "Shop front"
    assert shop_front["x-cost"] == 1
    assert shop_front["responses"]["200"]["description"] == "The shop"
    assert "content" in shop_front["responses"]["200"]  # merged, not replaced
    assert [document["paths"]["/blog/both"][m]["operationId"] for m in ("get", "post")] == [
        "both_get",
        "both_post",
    ]
    # The declared tags first, in their order (the docs page's), then the others.
    assert document["tags"] == [
        {"name": "posts", "description": "Blog posts"},
        {"name": "unused"},
        {"name": "blog"},
    ]


def test_hidden_routes_websockets_and_mounts_are_left_out() -> None:
    app = Carboy(debug=True)

    @app.get("/secret", extra={"include_in_schema": False})
    async def secret() -> str:
        return ""

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.close()

    async def other(scope: Any, receive: Any, send: Any) -> None:
        return None

    app.mount("/legacy", other)
    assert document_of(app)["paths"] == {}


def test_only_api_leaves_the_apps_pages_out() -> None:
    app = Carboy(debug=True)

    @app.get("/about")
    async def about() -> str:
        return "<h1>About</h1>"

    api = API(prefix="/api", openapi=OpenAPIConfig(only_api=True))

    @api.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    assert list(document_of(app, api)["paths"]) == ["/api/ping"]


def test_dependencies_parameters_are_documented_once() -> None:
    app = Carboy(debug=True)

    async def paging(page: Annotated[int, Query(ge=1)] = 1) -> int:
        return page

    @app.get("/a", dependencies=[Depends(paging)])
    async def a(page: Annotated[int, Depends(paging)], request: Request) -> list[int]:
        return [page]

    params = document_of(app)["paths"]["/a"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["page"]


def test_a_type_that_cannot_be_described_stops_the_start_with_the_route_named() -> None:
    class Opaque:
        pass

    app = Carboy(debug=True)

    @app.get("/opaque", extra={"responses": {200: Opaque}})
    async def opaque() -> dict[str, int]:
        return {}

    app.install(API(prefix="/api"))
    with (
        pytest.raises(RuntimeError, match=r"cannot describe .*Opaque.*GET /opaque"),
        TestClient(app),
    ):
        pass


def test_the_document_is_built_once_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = OpenAPIBuilder.build

    def counting(self: OpenAPIBuilder) -> dict[str, Any]:
        built.append(1)
        return original(self)

    monkeypatch.setattr(OpenAPIBuilder, "build", counting)
    app = Carboy(debug=True)
    api = API()
    app.install(api)
    with TestClient(app) as client:
        assert built == [1]  # at start-up, before any request
        first = client.get("/openapi.json").content
        assert client.get("/openapi.json").content == first
        assert api.openapi() is api.openapi()
    assert built == [1]


def _auth_app(tmp_path: Path, *, tokens: bool = True, jwt: bool = True) -> Carboy:
    from carboy.auth import Auth, JWTBackend, JWTKey, MemoryUserStore, TokenBackend
    from carboy.db import Database

    app = Carboy(debug=True)
    app.install(Database(f"sqlite:///{tmp_path / 'auth.db'}"))
    app.install(
        Auth(
            users=MemoryUserStore(),
            pages=None,
            tokens=TokenBackend() if tokens else None,
            jwt=JWTBackend(signing_key=JWTKey("k1", "x" * 32, "HS256")) if jwt else None,
        )
    )
    return app


def test_security_schemes_from_auth_applied_where_guards_say(tmp_path: Path) -> None:
    from carboy.auth import Guard, login_required, permission_required

    app = _auth_app(tmp_path)
    api = API(prefix="/api")
    beta = Guard(lambda user: True, name="beta_required")

    @api.get("/open")
    async def open_route() -> list[str]:
        return []

    @api.get("/mine", dependencies=[login_required])
    async def mine() -> list[str]:
        return []

    @api.post("/posts")
    @permission_required("blog.add_post")
    async def add_post() -> list[str]:
        return []

    @api.delete("/beta")
    async def beta_route(user: Annotated[Any, beta]) -> None:
        return None

    document = document_of(app, api)
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": schemes["session"]["description"],
    }
    assert schemes["csrfToken"]["in"] == "header"
    assert schemes["csrfToken"]["name"] == "X-CSRF-Token"
    assert schemes["personalToken"]["type"] == "http"
    assert schemes["personalToken"]["scheme"] == "bearer"
    assert "cby_<key>_<secret>" in schemes["personalToken"]["description"]
    assert schemes["jwt"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["jwt"]["description"],
    }
    paths = document["paths"]
    assert "security" not in paths["/api/open"]["get"]
    assert "401" not in paths["/api/open"]["get"]["responses"]
    mine_op = paths["/api/mine"]["get"]
    # A read needs the session cookie alone; any one scheme will do.
    assert mine_op["security"] == [{"session": []}, {"personalToken": []}, {"jwt": []}]
    assert {"401", "403"} <= set(mine_op["responses"])
    assert "`login_required`" in mine_op["description"]
    # A write under the session also needs the CSRF header.
    post_op = paths["/api/posts"]["post"]
    assert post_op["security"][0] == {"session": [], "csrfToken": []}
    assert "permission_required('blog.add_post')" in post_op["description"]
    assert paths["/api/beta"]["delete"]["security"][0] == {"session": [], "csrfToken": []}


def test_security_without_tokens_or_csrf_header(tmp_path: Path) -> None:
    from carboy.auth import login_required

    app = _auth_app(tmp_path, tokens=False, jwt=False)
    api = API(openapi=OpenAPIConfig(csrf_header=None))

    @api.post("/mine", dependencies=[login_required])
    async def mine() -> list[str]:
        return []

    document = document_of(app, api)
    assert list(document["components"]["securitySchemes"]) == ["session"]
    assert document["paths"]["/mine"]["post"]["security"] == [{"session": []}]


def test_an_app_without_auth_has_no_security_schemes() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def home() -> list[str]:
        return []

    assert "securitySchemes" not in document_of(app)["components"]


def test_custom_error_schema_for_an_app_envelope() -> None:
    app = Carboy(debug=True, error_envelope=lambda error: {"error": {"code": error.status}})

    @app.get("/search")
    async def search(q: str) -> list[str]:
        return []

    schema = {"type": "object", "properties": {"error": {"type": "object"}}, "required": ["error"]}
    api = API(prefix="/api", openapi=OpenAPIConfig(error_schema=schema))

    @api.get("/items")
    async def items(q: str) -> list[str]:
        return []

    document = document_of(app, api)
    assert document["components"]["schemas"]["Error"] == schema
    # The envelope shapes the API's errors too: they are documented with it.
    assert document["paths"]["/api/items"]["get"]["responses"]["422"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
    }


def test_bad_paths_in_the_config_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"OpenAPIConfig\(docs_url='docs'\)"):
        OpenAPIConfig(docs_url="docs")
    with pytest.raises(ConfigurationError, match="must differ"):
        OpenAPIConfig(docs_url="/x", openapi_url="/x")
