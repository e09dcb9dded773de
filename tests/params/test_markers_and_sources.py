"""Where handler parameters come from: path, query, header, cookie, body, form, file,
the connection and app-level providers (carboy.params._markers and _plan)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import pytest
from pydantic import BaseModel

from carboy import (
    Body,
    Carboy,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
)
from carboy.exceptions import ConfigurationError
from carboy.params import Plan
from carboy.settings import Settings
from carboy.testing import TestClient


class Item(BaseModel):
    name: str
    price: float


class Point(msgspec.Struct):
    x: int
    y: int


@dataclass
class Tag:
    label: str
    weight: int = 1


@pytest.fixture
def app() -> Carboy:
    return Carboy(debug=True)


def test_marker_reprs_and_defaults() -> None:
    assert repr(Query()) == "Query(default=<required>, alias=None)"
    assert repr(Header(3, alias="X-A")) == "Header(default=3, alias='X-A')"
    assert Query(ge=1, le=5).constraints == {"ge": 1, "le": 5}
    assert Body(embed=True).embed is True
    assert Header(convert_underscores=False).convert_underscores is False
    assert [m.source for m in (Path(), Query(), Header(), Cookie(), Body(), Form(), File())] == [
        "path",
        "query",
        "header",
        "cookie",
        "body",
        "form",
        "file",
    ]

    def dep() -> int:  # pragma: no cover
        return 1

    assert repr(Depends(dep)) == f"Depends({dep.__qualname__})"
    with pytest.raises(TypeError, match="needs a callable"):
        Depends(3)  # type: ignore[arg-type]


# -- path, query, header, cookie ---------------------------------------------
def test_sources_by_name_and_marker(app: Carboy) -> None:
    @app.get("/items/{item_id:int}")
    async def handler(
        item_id: int,
        q: str,
        user_agent: Annotated[str, Header()],
        session: Annotated[str, Cookie()],
        limit: int = 10,
        x_trace_id: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return {
            "item_id": item_id,
            "q": q,
            "ua": user_agent,
            "session": session,
            "limit": limit,
            "trace": x_trace_id,
        }

    with TestClient(app) as client:
        response = client.get(
            "/items/3?q=hi",
            headers={"User-Agent": "agent/1", "X-Trace-Id": "t-1", "Cookie": "session=abc"},
        )
        assert response.status_code == 200
        assert response.json() == {
            "item_id": 3,
            "q": "hi",
            "ua": "agent/1",
            "session": "abc",
            "limit": 10,
            "trace": "t-1",
        }


def test_aliases_and_header_underscore_rules(app: Carboy) -> None:
    @app.get("/a")
    async def handler(
        page_size: Annotated[int, Query(alias="page-size")],
        token: Annotated[str, Header(alias="X-API-Key")],
        raw_name: Annotated[str, Header(convert_underscores=False)],
        sid: Annotated[str, Cookie(alias="session-id")],
    ) -> dict[str, Any]:
        return {"page_size": page_size, "token": token, "raw": raw_name, "sid": sid}

    with TestClient(app) as client:
        response = client.get(
            "/a?page-size=5",
            headers={"x-api-key": "k", "raw_name": "r", "cookie": "session-id=s"},
        )
        assert response.json() == {"page_size": 5, "token": "k", "raw": "r", "sid": "s"}
        response = client.get("/a?page_size=5", headers={"raw-name": "r"})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [
            ["query", "page-size"],
            ["header", "x-api-key"],
            ["header", "raw_name"],
            ["cookie", "session-id"],
        ]


def test_path_marker_with_constraints(app: Carboy) -> None:
    @app.get("/p/{n:int}")
    async def handler(n: Annotated[int, Path(ge=10)]) -> int:
        return n  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/p/12").json() == 12
        response = client.get("/p/3")
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "loc": ["path", "n"],
                "field": "n",
                "type": "greater_than_equal",
                "msg": "Input should be greater than or equal to 10",
            }
        ]


def test_path_param_annotated_with_another_type_is_validated(app: Carboy) -> None:
    @app.get("/s/{v}")
    async def handler(v: int) -> dict[str, Any]:
        return {"v": v}

    with TestClient(app) as client:
        assert client.get("/s/41").json() == {"v": 41}
        response = client.get("/s/x")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["path", "v"]


def test_query_and_header_lists(app: Carboy) -> None:
    @app.get("/l")
    async def handler(
        ids: list[int],
        tags: Annotated[list[str] | None, Query(alias="tag")] = None,
        accept: Annotated[list[str], Header()] = [],  # noqa: B006
    ) -> dict[str, Any]:
        return {"ids": ids, "tags": tags, "accept": accept}

    with TestClient(app) as client:
        response = client.get(
            "/l?ids=1&ids=2&tag=a&tag=b", headers=[("accept", "a/b"), ("Accept", "c/d")]
        )
        assert response.json() == {"ids": [1, 2], "tags": ["a", "b"], "accept": ["a/b", "c/d"]}
        response = client.get("/l?ids=1&ids=x")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "ids", 1]
        response = client.get("/l")
        assert response.json()["errors"] == [
            {"loc": ["query", "ids"], "field": "ids", "msg": "Field required", "type": "missing"}
        ]


def test_last_query_value_wins_for_scalars(app: Carboy) -> None:
    @app.get("/one")
    async def handler(n: int) -> int:
        return n  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/one?n=1&n=2").json() == 2


# -- the body -----------------------------------------------------------------------
def test_models_come_from_the_body_without_a_marker(app: Carboy) -> None:
    @app.post("/item")
    async def item(item: Item) -> dict[str, Any]:
        return {"type": type(item).__name__, **item.model_dump()}

    @app.post("/point")
    async def point(point: Point) -> dict[str, Any]:
        return {"type": type(point).__name__, "x": point.x, "y": point.y}

    @app.post("/tag")
    async def tag(tag: Tag) -> dict[str, Any]:
        return {"type": type(tag).__name__, "label": tag.label, "weight": tag.weight}

    with TestClient(app) as client:
        assert client.post("/item", json={"name": "a", "price": "1.5"}).json() == {
            "type": "Item",
            "name": "a",
            "price": 1.5,
        }
        assert client.post("/point", json={"x": 1, "y": 2}).json() == {
            "type": "Point",
            "x": 1,
            "y": 2,
        }
        assert client.post("/tag", json={"label": "x"}).json() == {
            "type": "Tag",
            "label": "x",
            "weight": 1,
        }


def test_body_marker_for_plain_types(app: Carboy) -> None:
    @app.post("/ids")
    async def ids(values: Annotated[list[int], Body()]) -> int:
        return sum(values)  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.post("/ids", json=[1, 2, "3"]).json() == 6
        response = client.post("/ids", json={"a": 1})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body"]


def test_several_body_params_are_embedded(app: Carboy) -> None:
    @app.post("/order")
    async def order(item: Item, tag: Tag, note: Annotated[str, Body()] = "none") -> dict[str, Any]:
        return {"item": item.name, "tag": tag.label, "note": note}

    with TestClient(app) as client:
        body = {"item": {"name": "a", "price": 1}, "tag": {"label": "t"}, "note": "n"}
        assert client.post("/order", json=body).json() == {"item": "a", "tag": "t", "note": "n"}
        response = client.post("/order", json={"item": {"name": "a"}})
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["errors"]] == [
            ["body", "item", "price"],
            ["body", "tag"],
        ]
        response = client.post("/order", json=[1])
        assert response.status_code == 422
        assert response.json()["errors"][0] == {
            "loc": ["body"],
            "field": "body",
            "msg": "Input should be an object",
            "type": "dict_type",
        }


def test_body_embed_for_a_single_param(app: Carboy) -> None:
    @app.post("/e")
    async def embedded(item: Annotated[Item, Body(embed=True, alias="the-item")]) -> str:
        return item.name

    with TestClient(app) as client:
        assert client.post("/e", json={"the-item": {"name": "n", "price": 2}}).text == "n"
        response = client.post("/e", json={"name": "n", "price": 2})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "the-item"]


def test_optional_body_may_be_omitted(app: Carboy) -> None:
    @app.post("/opt")
    async def opt(item: Item | None = None) -> dict[str, Any]:
        return {"item": item.name if item else None}

    with TestClient(app) as client:
        assert client.post("/opt").json() == {"item": None}
        assert client.post("/opt", json={"name": "x", "price": 1}).json() == {"item": "x"}


def test_a_json_body_needs_a_json_content_type(app: Carboy) -> None:
    @app.post("/item")
    async def item(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/tags")
    async def tags(tags: Annotated[list[str], Body(embed=True)]) -> list[str]:
        return tags

    with TestClient(app) as client:
        # A cross-site <form> sends these; a no-cors fetch can also send text/plain.
        for route, kwargs in [
            ("/item", {"data": {"name": "a", "price": "2"}}),
            ("/item", {"files": {"name": ("n", b"a")}}),
            ("/tags", {"data": {"tags": "a"}}),
            ("/item", {"content": b'{"name":"a","price":1}', "headers": {"content-type": ""}}),
            ("/item", {"content": b'{"name":"a","price":1}'}),
            (
                "/item",
                {"content": b'{"name":"a","price":1}', "headers": {"content-type": "text/plain"}},
            ),
            (
                "/item",
                {"content": b'{"name":"a","price":1}', "headers": {"content-type": "text/json"}},
            ),
        ]:
            response = client.post(route, **kwargs)  # type: ignore[arg-type]
            assert response.status_code == 415, (route, kwargs)
        assert response.json()["detail"] == (
            "Unsupported Content-Type 'text/json': this endpoint takes a JSON body; "
            "send Content-Type: application/json"
        )
        no_type = client.post("/item", content=b"{}", headers={"content-type": ""})
        assert "'(none)'" in no_type.json()["detail"]
        ok = client.post(
            "/item",
            content=b'{"name":"a","price":1}',
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )
        assert ok.json() == {"name": "a", "price": 1.0}
        assert client.post("/tags", json={"tags": ["x"]}).json() == ["x"]
        # An empty body with no Content-Type is no body: the default, or "Field required".
        assert client.post("/item").status_code == 422


def test_strict_content_type_false_reads_forms_and_untyped_bodies(app: Carboy) -> None:
    @app.post("/item")
    async def item(item: Annotated[Item, Body(strict_content_type=False)]) -> dict[str, Any]:
        return item.model_dump()

    @app.post("/mixed")
    async def mixed(
        a: Annotated[Item, Body(strict_content_type=False)], b: Item
    ) -> None:  # pragma: no cover
        pass

    with TestClient(app) as client:
        assert client.post("/item", data={"name": "a", "price": "2"}).json() == {
            "name": "a",
            "price": 2.0,
        }
        for ctype in ("", "text/plain", "application/json"):
            response = client.post(
                "/item", content=b'{"name":"b","price":1}', headers={"content-type": ctype}
            )
            assert response.json() == {"name": "b", "price": 1.0}, ctype
        assert (
            client.post("/item", content=b"x", headers={"content-type": "text/csv"}).status_code
            == 415
        )
        # One strict body parameter keeps the route strict.
        assert client.post("/mixed", data={"a": "1"}).status_code == 415


def test_plus_json_content_types_are_json(app: Carboy) -> None:
    @app.post("/item")
    async def item(item: Item) -> str:
        return item.name

    with TestClient(app) as client:
        response = client.post(
            "/item",
            content=b'{"name":"a","price":1}',
            headers={"content-type": "application/merge-patch+json"},
        )
        assert response.text == "a"


# -- forms and files ------------------------------------------------------------
def test_form_fields_and_files(app: Carboy) -> None:
    @app.post("/upload")
    async def upload(
        title: Annotated[str, Form()],
        count: Annotated[int, Form()],
        doc: UploadFile,
        extras: Annotated[list[UploadFile], File()],
        tags: Annotated[list[str], Form()] = [],  # noqa: B006
    ) -> dict[str, Any]:
        return {
            "title": title,
            "count": count,
            "tags": tags,
            "doc": [doc.filename, doc.content_type, (await doc.read()).decode()],
            "extras": [e.filename for e in extras],
        }

    with TestClient(app) as client:
        response = client.post(
            "/upload",
            data={"title": "T", "count": "3", "tags": ["a", "b"]},
            files=[
                ("doc", ("a.txt", b"hello", "text/plain")),
                ("extras", ("x.bin", b"1", "application/octet-stream")),
                ("extras", ("y.bin", b"2", "application/octet-stream")),
            ],
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "title": "T",
            "count": 3,
            "tags": ["a", "b"],
            "doc": ["a.txt", "text/plain", "hello"],
            "extras": ["x.bin", "y.bin"],
        }


def test_form_errors_are_listed(app: Carboy) -> None:
    @app.post("/f")
    async def form(
        name: Annotated[str, Form()], age: Annotated[int, Form()], doc: UploadFile
    ) -> None:  # pragma: no cover
        pass

    with TestClient(app) as client:
        response = client.post("/f", data={"age": "x", "doc": "not a file"})
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert [(e["loc"], e["type"]) for e in errors] == [
            (["form", "name"], "missing"),
            (["form", "age"], "int_parsing"),
            (["file", "doc"], "file_type"),
        ]
        response = client.post("/f", data={"age": "1"}, files={"name": ("n.txt", b"x")})
        assert response.status_code == 422
        assert response.json()["errors"][0] == {
            "loc": ["form", "name"],
            "field": "name",
            "msg": "Expected a field, got a file",
            "type": "str_type",
        }


def test_form_on_a_json_body_is_415(app: Carboy) -> None:
    @app.post("/f")
    async def form(name: Annotated[str, Form()]) -> str:  # pragma: no cover
        return name

    with TestClient(app) as client:
        response = client.post("/f", json={"name": "x"})
        assert response.status_code == 415
        assert response.json()["detail"] == (
            "Unsupported Content-Type 'application/json': this endpoint takes a form; "
            "send application/x-www-form-urlencoded or multipart/form-data"
        )
        # No Content-Type at all is not a form either (it was read as urlencoded).
        response = client.post("/f", content=b"name=x", headers={"content-type": ""})
        assert response.status_code == 415
        assert "'(none)'" in response.json()["detail"]
        assert client.post("/f", data={"name": "x"}).text == "x"


# -- the connection and providers ---------------------------------------------------
def test_request_is_injected_by_type_under_any_name(app: Carboy) -> None:
    @app.get("/r")
    async def handler(req: Request, other: Request | None) -> dict[str, Any]:
        return {"same": req is other, "path": req.url.path}

    with TestClient(app) as client:
        assert client.get("/r").json() == {"same": True, "path": "/r"}


class Mailer:
    def __init__(self, url: str) -> None:
        self.url = url


class Clock:
    pass


def test_providers_by_type_value_and_factory(app: Carboy) -> None:
    mailer = Mailer("smtp://localhost")
    app.provide(Mailer, mailer)
    calls: list[str] = []

    def make_clock() -> Iterator[Clock]:
        calls.append("open")
        yield Clock()
        calls.append("close")

    app.provide(Clock, factory=make_clock)

    @app.get("/m")
    async def handler(m: Mailer, clock: Clock, again: Clock) -> dict[str, Any]:
        return {
            "same": m is mailer,
            "url": m.url,
            "clock": type(clock).__name__,
            "cached": clock is again,
        }

    with TestClient(app) as client:
        assert client.get("/m").json() == {
            "same": True,
            "url": "smtp://localhost",
            "clock": "Clock",
            "cached": True,
        }
    assert calls == ["open", "close"]
    assert set(app.providers_by_type) >= {Mailer, Clock, Settings, Carboy}


def test_provide_needs_exactly_one_of_value_and_factory(app: Carboy) -> None:
    with pytest.raises(ConfigurationError, match=r"provide\(Mailer\): give a value or a factory"):
        app.provide(Mailer)
    with pytest.raises(ConfigurationError):
        app.provide(Mailer, Mailer("x"), factory=lambda: Mailer("y"))


class MySettings(Settings):
    site_name: str = "Mine"


def test_settings_and_app_are_injectable_by_type() -> None:
    app = Carboy(MySettings(debug=True))

    @app.get("/s")
    async def handler(settings: Settings, mine: MySettings, the_app: Carboy) -> dict[str, Any]:
        return {
            "debug": settings.debug,
            "site": mine.site_name,
            "same": settings is mine,
            "app": the_app is app,
        }

    with TestClient(app) as client:
        assert client.get("/s").json() == {"debug": True, "site": "Mine", "same": True, "app": True}


class Base:
    pass


class Special(Base):
    pass


def test_provider_for_a_base_class_serves_subclass_requests(app: Carboy) -> None:
    special = Special()
    app.provide(Special, special)

    @app.get("/b")
    async def handler(thing: Base) -> bool:
        return thing is special  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/b").json() is True


class Filter:
    """A user-declared class family: each subclass is built per request by its own dependency."""

    def __init__(self, q: str) -> None:
        self.q = q


class TitleFilter(Filter):
    pass


class ExactFilter(Filter):
    pass


def test_provide_subclasses_builds_each_subclass_with_its_own_dependency(app: Carboy) -> None:
    made: list[type] = []

    def dependency_for(cls: type[Filter]) -> Any:
        made.append(cls)

        async def build(request: Request) -> Filter:
            return cls(request.query_params.get("q", ""))

        return build

    app.provide_subclasses(Filter, dependency_for)

    @app.get("/f")
    async def handler(title: TitleFilter, exact: ExactFilter, again: TitleFilter) -> dict[str, Any]:
        return {
            "title": [type(title).__name__, title.q],
            "exact": type(exact).__name__,
            "cached": title is again,
        }

    with TestClient(app) as client:
        assert client.get("/f?q=dune").json() == {
            "title": ["TitleFilter", "dune"],
            "exact": "ExactFilter",
            "cached": False,
        }
        client.get("/f")
    # Called when the routes compile, once per parameter, never per request.
    assert made == [TitleFilter, ExactFilter, TitleFilter]


def test_a_plain_provider_wins_over_a_subclass_provider(app: Carboy) -> None:
    fixed = TitleFilter("fixed")
    app.provide(TitleFilter, fixed)
    app.provide_subclasses(Filter, lambda cls: lambda: cls("built"))

    @app.get("/f")
    async def handler(title: TitleFilter, exact: ExactFilter) -> list[str]:
        return [title.q, exact.q]

    with TestClient(app) as client:
        assert client.get("/f").json() == ["fixed", "built"]


# -- threads ----------------------------------------------------------------------
def test_def_handlers_run_in_a_worker_thread_and_async_on_the_loop(app: Carboy) -> None:
    seen: dict[str, int] = {}

    @app.get("/sync")
    def sync_handler() -> str:
        seen["sync"] = threading.get_ident()
        return "s"

    @app.get("/async")
    async def async_handler() -> str:
        seen["async"] = threading.get_ident()
        return "a"

    @app.get("/async-with-args")
    async def async_args(q: int = 0) -> str:
        seen["async_args"] = threading.get_ident()
        return "a"

    with TestClient(app) as client:
        client.get("/async")
        client.get("/sync")
        client.get("/async-with-args")
    assert seen["async"] == seen["async_args"]
    assert seen["sync"] != seen["async"]
    assert threading.get_ident() not in seen.values()


_seen_threads: dict[str, int] = {}


def record_thread_dep() -> int:
    _seen_threads["dep"] = threading.get_ident()
    return 1


def test_sync_dependencies_also_run_off_the_loop(app: Carboy) -> None:
    seen = _seen_threads

    @app.get("/d")
    async def handler(x: Annotated[int, Depends(record_thread_dep)]) -> int:
        seen["handler"] = threading.get_ident()
        return x  # type: ignore[return-value]

    with TestClient(app) as client:
        assert client.get("/d").json() == 1
    assert seen["dep"] != seen["handler"]


# -- plans and build-time errors ---------------------------------------------------
def test_plan_describes_each_parameter(app: Carboy) -> None:
    @app.post("/p/{id:int}")
    async def handler(
        id: int, q: str, item: Item, ua: Annotated[str, Header()], request: Request
    ) -> None:  # pragma: no cover
        pass

    from carboy.params._compile import compile_plan
    from carboy.routing import IntConverter

    plan = compile_plan(
        handler,
        path_params={"id": IntConverter()},
        providers={},
        connection_type=Request,
        where="test",
    )
    assert isinstance(plan, Plan)
    assert {k: (v.source.value, v.wire_name) for k, v in plan.params.items()} == {
        "id": ("path", "id"),
        "q": ("query", "q"),
        "item": ("body", "item"),
        "ua": ("header", "ua"),
        "request": ("connection", "request"),
    }
    assert plan.raw_path == {"id"}
    assert not plan.path_only
    # The client's parameters only, for docs.
    assert [p.name for p in plan.request_params()] == ["id", "q", "item", "ua"]


class Database:
    pass


def test_uninjectable_parameter_is_refused_at_build_naming_the_handler(app: Carboy) -> None:
    @app.get("/db")
    async def list_users(db: Database) -> None:  # pragma: no cover
        pass

    with pytest.raises(ConfigurationError) as info:
        app.build()
    message = str(info.value)
    assert "list_users" in message
    assert "parameter 'db'" in message
    assert "GET /db" in message
    assert "no provider is registered" in message


def test_path_marker_without_a_path_parameter_is_refused(app: Carboy) -> None:
    @app.get("/x")
    async def handler(missing: Annotated[int, Path()]) -> None:  # pragma: no cover
        pass

    with pytest.raises(ConfigurationError, match=r"the route path has no \{missing\}"):
        app.build()


def test_generator_handlers_are_refused(app: Carboy) -> None:
    @app.get("/g")
    async def handler() -> Any:  # pragma: no cover
        yield "x"

    with pytest.raises(ConfigurationError, match="cannot be a generator"):
        app.build()


def test_unresolvable_annotations_are_reported(app: Carboy) -> None:
    def handler(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass  # pragma: no cover

    app.add_route("/u", handler)
    with pytest.raises(ConfigurationError, match="cannot resolve its type annotations"):
        app.build()
