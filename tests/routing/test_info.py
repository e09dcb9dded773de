"""``Carboy.routes_info()``: every route and mount, typed, for OpenAPI, the admin and the CLI."""

from __future__ import annotations

import inspect
from typing import Annotated

import pydantic
import pytest

from carboy import Carboy, Depends, Header, MountInfo, ParamSource, Query, RouteInfo, Router
from carboy.exceptions import ConfigurationError
from carboy.params._markers import MISSING
from carboy.staticfiles import StaticFiles


class Article(pydantic.BaseModel):
    title: str


class ArticleOut(pydantic.BaseModel):
    id: int


async def current_token(authorization: Annotated[str, Header(description="Bearer")]) -> str:
    return authorization


def _routes(app: Carboy) -> dict[str, RouteInfo]:
    return {i.name: i for i in app.routes_info() if isinstance(i, RouteInfo)}


def test_a_route_with_documented_constrained_parameters() -> None:
    app = Carboy(debug=True)

    @app.get("/items/{item_id:int}", tags=["items"], extra={"responses": {404: "No such item"}})
    async def item(
        item_id: int,
        page: Annotated[
            int, Query(ge=1, le=100, description="Page", examples=[2], deprecated=True)
        ] = 1,
        q: Annotated[str | None, Query(min_length=2, max_length=9, pattern="^[a-z]+$")] = None,
    ) -> dict[str, int]:
        """One item.

        With its reviews.
        """
        return {}

    info = _routes(app)["item"]
    assert info.methods == ("GET",)
    assert info.path == "/items/{item_id:int}"
    assert info.handler is item
    assert (info.summary, info.description) == ("One item.", "With its reviews.")
    assert info.tags == ("items",)
    assert info.status_code == 200
    assert info.return_type == dict[str, int]
    assert info.responses == {404: "No such item"}
    assert info.body_type is None
    item_id, page, q = info.params
    assert (item_id.source, item_id.type, item_id.required) == (ParamSource.PATH, int, True)
    assert item_id.default is MISSING
    assert page.source is ParamSource.QUERY
    assert (page.default, page.required) == (1, False)
    assert page.constraints == {"ge": 1, "le": 100}
    assert (page.description, page.examples, page.deprecated) == ("Page", (2,), True)
    assert q.constraints == {"min_length": 2, "max_length": 9, "pattern": "^[a-z]+$"}
    assert q.type == str | None


def test_body_dependencies_status_and_extra() -> None:
    app = Carboy(debug=True)
    api = Router(prefix="/api", name="api", tags=["api"])

    @api.post(
        "/articles",
        status_code=201,
        response_model=ArticleOut,
        dependencies=[Depends(current_token)],
        extra={"include_in_schema": False, "openapi_extra": {"x-a": 1}, "mine": "kept"},
    )
    async def create(article: Article, token: Annotated[str, Depends(current_token)]) -> object:
        return None

    @api.delete("/articles/{id:int}")
    async def remove(id: int) -> None:
        return None

    app.include(api)
    infos = _routes(app)
    info = infos["api.create"]
    assert info.path == "/api/articles"
    assert info.tags == ("api",)
    assert info.status_code == 201
    assert info.body_type is Article
    assert info.response_model is ArticleOut
    assert info.return_type is object
    # The dependency's header appears once, though the route and a parameter both use it.
    assert [(p.source, p.wire_name) for p in info.params] == [
        (ParamSource.HEADER, "authorization"),
        (ParamSource.BODY, "article"),
    ]
    assert info.params[0].description == "Bearer"
    assert info.include_in_schema is False
    assert info.extra["openapi_extra"] == {"x-a": 1}
    assert info.extra["mine"] == "kept"
    assert infos["api.remove"].status_code == 204
    assert infos["api.remove"].include_in_schema is True
    assert infos["api.remove"].return_type is type(None)


def test_embedded_body_parameters_say_so() -> None:
    app = Carboy(debug=True)

    @app.post("/pair")
    async def pair(a: Article, b: Article) -> None: ...

    info = _routes(app)["pair"]
    assert [p.embed for p in info.params] == [True, True]
    assert info.body_type is None


def test_no_annotation_and_no_docstring() -> None:
    app = Carboy(debug=True)

    @app.get("/")
    async def home():  # type: ignore[no-untyped-def]
        return ""

    info = _routes(app)["home"]
    assert info.return_type is inspect.Parameter.empty
    assert (info.summary, info.description) == (None, None)


def test_summary_and_description_from_extra_win() -> None:
    app = Carboy(debug=True)

    @app.get("/", extra={"summary": "S", "description": "D", "deprecated": True})
    async def home() -> str:
        """Docstring."""
        return ""

    info = _routes(app)["home"]
    assert (info.summary, info.description, info.deprecated) == ("S", "D", True)


def test_mounts_and_the_static_mount_are_listed() -> None:
    app = Carboy(debug=True)
    media = StaticFiles(directory="media", check_dir=False)
    app.mount("/media", media, name="media")
    mounts = [i for i in app.routes_info() if isinstance(i, MountInfo)]
    assert [(m.path, m.name) for m in mounts] == [("/static", "static"), ("/media", "media")]
    assert mounts[1].app is media
    assert mounts[1].source.startswith("tests/routing/test_info.py:")
    assert isinstance(mounts[0].app, StaticFiles)


def test_a_mount_at_the_static_url_replaces_carboys() -> None:
    app = Carboy(debug=True)
    mine = StaticFiles(directory="assets", check_dir=False)
    app.mount("/static", mine, name="assets")
    mounts = [i for i in app.routes_info() if isinstance(i, MountInfo)]
    assert [(m.path, m.name, m.app) for m in mounts] == [("/static", "assets", mine)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"include_in_schema": "no"}, "extra['include_in_schema'] must be a bool, got 'no'"),
        ({"responses": [404]}, "extra['responses'] must be a dict, got [404]"),
        ({"responses": {"404": "x"}}, "keys are status codes 100-599, got '404'"),
        ({"responses": {99: "x"}}, "keys are status codes 100-599, got 99"),
    ],
)
def test_bad_extra_is_refused_at_declaration(extra: dict[str, object], message: str) -> None:
    app = Carboy(debug=True)
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("(", r"\(")):

        @app.get("/", extra=extra)
        async def home() -> str:
            return ""


def test_unknown_marker_constraint_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Query\(\) got unknown constraint\(s\) \['minimum'\]"):
        Query(minimum=1)


def test_dependencies_lists_every_depends_the_route_runs_and_media_type() -> None:
    app = Carboy(debug=True)
    router = Router(prefix="/r")

    def inner() -> int:
        return 1

    def outer(value: int = Depends(inner)) -> int:
        return value

    side, param, nested = Depends(inner), Depends(outer), Depends(inner)
    router.dependencies.append(side)

    @router.get("/text", media_type="text/plain")
    async def text(value: int = param) -> str:
        return str(value)

    @app.get("/plain")
    async def plain() -> str:
        return ""

    app.include(router)
    routes = _routes(app)
    info = routes["text"]
    assert info.media_type == "text/plain"
    # The router's dependency first, then the parameter's and the one it runs.
    assert [id(d) for d in info.dependencies[:2]] == [id(side), id(param)]
    assert [d.dependency for d in info.dependencies] == [inner, outer, inner]
    assert nested not in info.dependencies  # only markers the route really runs
    assert routes["plain"].dependencies == ()
    assert routes["plain"].media_type is None
