"""Typed values and validation errors (carboy.params._validation and the 4xx it leads to)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, Optional

import msgspec
import pytest
from pydantic import BaseModel, Field

from carboy import Body, Carboy, Header, Query
from carboy.exceptions import FieldError
from carboy.params._validation import (
    is_model,
    is_optional,
    is_sequence,
    is_struct,
    make_validator,
    strip_optional,
)
from carboy.testing import TestClient


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


class Point(msgspec.Struct):
    x: int
    y: int
    label: str = ""


@dataclasses.dataclass
class Pair:
    a: int
    b: int


# -- helpers ------------------------------------------------------------------
def test_type_helpers() -> None:
    assert is_optional(int | None) and is_optional(Optional[int])  # noqa: UP045
    assert not is_optional(int)
    assert strip_optional(int | None) is int
    assert strip_optional(int | str | None) == int | str | None
    assert is_sequence(list[int]) and is_sequence(tuple[int, ...]) and is_sequence(set[str])
    assert is_sequence(list[int] | None)
    assert not is_sequence(str) and not is_sequence(dict[str, int])
    assert is_struct(Point) and not is_struct(Item)
    assert is_model(Item) and is_model(Point) and is_model(Pair) and is_model(Item | None)
    assert is_model(Annotated[Item, "x"])
    assert not is_model(dict) and not is_model(int)


def test_make_validator_collects_errors_without_raising() -> None:
    assert make_validator(str) is None
    assert make_validator(Any) is None
    validate = make_validator(int, {"ge": 1})
    assert validate is not None
    errors: list[FieldError] = []
    assert validate("5", ["query", "n"], errors) == 5
    assert validate("0", ["query", "n"], errors) is None
    assert validate("x", ["query", "n"], errors) is None
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "n"], "greater_than_equal"),
        (["query", "n"], "int_parsing"),
    ]


def test_struct_validator_lists_every_bad_field() -> None:
    validate = make_validator(Point)
    assert validate is not None
    errors: list[FieldError] = []
    assert validate({"x": "nope", "label": 3}, ["body"], errors) is None
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "x"], "value_error"),
        (["body", "y"], "missing"),
        (["body", "label"], "value_error"),
    ]
    assert errors[0]["msg"] == "Expected `int`, got `str`"
    errors.clear()
    assert validate([1, 2], ["body"], errors) is None
    assert errors == [FieldError(["body"], "Input should be an object", "type_error")]
    errors.clear()
    assert validate({"x": "1", "y": 2}, ["body"], errors) == Point(1, 2)
    assert errors == []


def test_field_error_shape() -> None:
    assert FieldError(["query", "page"], "bad") == {
        "loc": ["query", "page"],
        "field": "page",
        "msg": "bad",
        "type": "value_error",
    }
    assert FieldError([], "bad", "x")["field"] == ""


# -- scalar types from the query -------------------------------------------
@pytest.fixture
def client() -> Iterator[TestClient]:
    app = Carboy(debug=True)

    @app.get("/types")
    async def types(
        i: int = 0,
        f: float = 0.0,
        b: bool = False,
        s: str = "",
        u: uuid.UUID | None = None,
        d: dt.date | None = None,
        t: dt.datetime | None = None,
        m: Decimal | None = None,
        c: Color | None = None,
        lv: Level | None = None,
        li: list[int] = [],  # noqa: B006
        o: Optional[int] = None,  # noqa: UP045
    ) -> dict[str, Any]:
        return {
            "i": i,
            "f": f,
            "b": b,
            "s": s,
            "u": u and u.hex,
            "d": d and d.isoformat(),
            "t": t and t.isoformat(),
            "m": m and str(m),
            "c": c and c.name,
            "lv": lv and lv.name,
            "li": li,
            "o": o,
            "types": sorted({type(v).__name__ for v in (i, f, b, u, d, t, m, c) if v}),
        }

    @app.get("/constrained")
    async def constrained(
        page: Annotated[int, Query(ge=1, le=100)] = 1,
        q: Annotated[str, Query(min_length=2, max_length=5, pattern="^[a-z]+$")] = "ab",
        token: Annotated[int | None, Header(alias="x-token", gt=0)] = None,
    ) -> dict[str, Any]:
        return {"page": page, "q": q, "token": token}

    with TestClient(app) as client:
        yield client


def test_every_scalar_type_converts(client: TestClient) -> None:
    uid = uuid.UUID("5f0c6a3e-8d0b-4c8e-9a57-3f2a1b4c5d6e")
    response = client.get(
        "/types",
        params={
            "i": "-3",
            "f": "2.5",
            "b": "true",
            "s": "x",
            "u": str(uid),
            "d": "2024-02-29",
            "t": "2024-02-29T10:30:00+00:00",
            "m": "1.10",
            "c": "blue",
            "lv": "2",
            "li": ["1", "2"],
            "o": "7",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "i": -3,
        "f": 2.5,
        "b": True,
        "s": "x",
        "u": uid.hex,
        "d": "2024-02-29",
        "t": "2024-02-29T10:30:00+00:00",
        "m": "1.10",
        "c": "BLUE",
        "lv": "HIGH",
        "li": [1, 2],
        "o": 7,
        "types": ["Color", "Decimal", "UUID", "bool", "date", "datetime", "float", "int"],
    }


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("yes", True), ("on", True), ("0", False), ("false", False), ("off", False)],
)
def test_bool_spellings(client: TestClient, raw: str, value: bool) -> None:
    assert client.get("/types", params={"b": raw}).json()["b"] is value


def test_defaults_apply_when_absent(client: TestClient) -> None:
    body = client.get("/types").json()
    assert body["i"] == 0 and body["li"] == [] and body["o"] is None and body["u"] is None


def test_every_bad_query_value_is_listed(client: TestClient) -> None:
    response = client.get(
        "/types",
        params={
            "i": "1.5",
            "f": "x",
            "b": "maybe",
            "u": "nope",
            "d": "2024-02-30",
            "t": "yesterday",
            "m": "1,5",
            "c": "green",
            "lv": "9",
            "li": ["1", "two"],
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert body["detail"] == "Validation failed"
    assert [(e["loc"], e["field"], e["type"]) for e in body["errors"]] == [
        (["query", "i"], "i", "int_parsing"),
        (["query", "f"], "f", "float_parsing"),
        (["query", "b"], "b", "bool_parsing"),
        (["query", "u"], "u", "uuid_parsing"),
        (["query", "d"], "d", "date_from_datetime_parsing"),
        (["query", "t"], "t", "datetime_from_date_parsing"),
        (["query", "m"], "m", "decimal_parsing"),
        (["query", "c"], "c", "enum"),
        (["query", "lv"], "lv", "enum"),
        (["query", "li", 1], "li.1", "int_parsing"),
    ]
    assert all(isinstance(e["msg"], str) and e["msg"] for e in body["errors"])


def test_constraints_from_annotated_markers(client: TestClient) -> None:
    assert client.get("/constrained?page=5&q=abc", headers={"x-token": "3"}).json() == {
        "page": 5,
        "q": "abc",
        "token": 3,
    }
    response = client.get("/constrained?page=0&q=ABCDEFG", headers={"x-token": "0"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [
        (["query", "page"], "greater_than_equal"),
        (["query", "q"], "string_too_long"),
        (["header", "x-token"], "greater_than"),
    ]
    response = client.get("/constrained?page=101&q=A1")
    assert [e["type"] for e in response.json()["errors"]] == [
        "less_than_equal",
        "string_pattern_mismatch",
    ]


# -- errors across sources, and body errors --------------------------------------
@pytest.fixture
def body_client() -> Iterator[TestClient]:
    app = Carboy(debug=True)

    @app.post("/items/{shop:int}")
    async def create(shop: int, item: Item, count: int = 1) -> dict[str, Any]:
        return {"shop": shop, "item": item.model_dump(), "count": count}

    @app.post("/points")
    async def points(point: Point) -> dict[str, int]:
        return {"x": point.x, "y": point.y}

    @app.post("/pairs")
    async def pairs(pair: Pair) -> dict[str, int]:
        return {"sum": pair.a + pair.b}

    @app.post("/raw")
    async def raw(data: Annotated[dict[str, int], Body()]) -> dict[str, int]:
        return data

    with TestClient(app) as client:
        yield client


def test_422_lists_every_error_across_path_query_and_body() -> None:
    app = Carboy(debug=True)

    @app.post("/shops/{shop}/items")
    async def create(
        shop: int,
        item: Item,
        count: Annotated[int, Query(ge=1)],
        x_rate: Annotated[float, Header()],
    ) -> None:  # pragma: no cover
        pass

    with TestClient(app) as client:
        response = client.post(
            "/shops/abc/items?count=0",
            json={"name": "", "price": -1, "tags": "nope"},
            headers={"x-rate": "fast"},
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    errors = response.json()["errors"]
    assert [(e["loc"], e["field"], e["type"]) for e in errors] == [
        (["path", "shop"], "shop", "int_parsing"),
        (["query", "count"], "count", "greater_than_equal"),
        (["header", "x-rate"], "x-rate", "float_parsing"),
        (["body", "name"], "name", "string_too_short"),
        (["body", "price"], "price", "greater_than"),
        (["body", "tags"], "tags", "list_type"),
    ]
    assert (
        errors[0]["msg"] == "Input should be a valid integer, unable to parse string as an integer"
    )


def test_422_as_html_lists_the_fields() -> None:
    app = Carboy(debug=True)

    @app.get("/v")
    async def v(n: int, m: int) -> None:  # pragma: no cover
        pass

    with TestClient(app) as client:
        response = client.get("/v?n=x", headers={"accept": "text/html"})
    assert response.status_code == 422
    assert "<li><code>query.n</code>: Input should be a valid integer" in response.text
    assert "<li><code>query.m</code>: Field required</li>" in response.text


def test_struct_and_dataclass_bodies_list_errors(body_client: TestClient) -> None:
    response = body_client.post("/points", json={"x": "a"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [
        (["body", "x"], "value_error"),
        (["body", "y"], "missing"),
    ]
    assert body_client.post("/points", json={"x": 1, "y": "2"}).json() == {"x": 1, "y": 2}
    response = body_client.post("/pairs", json={"a": "x"})
    assert [(e["loc"], e["type"]) for e in response.json()["errors"]] == [
        (["body", "a"], "int_parsing"),
        (["body", "b"], "missing"),
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"{bad",
        b'{"name": "a",}',
        b"[1, 2",
        b"\xff\xfe",
        b'{"a": 1} trailing',
        b"nul\x00",
        b'{"x": 1e999}',
        b'{"x": ' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_json_is_400_with_a_message(body_client: TestClient, content: bytes) -> None:
    response = body_client.post(
        "/points", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Malformed JSON body: ")
    assert len(detail) > len("Malformed JSON body: ")


def test_wrong_content_type_is_415(body_client: TestClient) -> None:
    response = body_client.post("/points", content=b"x=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json() == {
        "status": 415,
        "detail": (
            "Unsupported Content-Type 'text/plain': this endpoint takes a JSON body; "
            "send Content-Type: application/json"
        ),
    }
    response = body_client.post(
        "/points", content=b"<x/>", headers={"content-type": "application/xml; charset=utf-8"}
    )
    assert response.status_code == 415


def test_empty_body_for_a_required_model_is_422(body_client: TestClient) -> None:
    for headers in ({"content-type": "application/json"}, {}):
        response = body_client.post("/points", content=b"", headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"loc": ["body"], "field": "body", "msg": "Field required", "type": "missing"}
        ]


def test_json_null_and_wrong_shapes(body_client: TestClient) -> None:
    response = body_client.post("/points", json=None)
    assert response.status_code == 422
    response = body_client.post("/raw", json={"a": "x", "b": 2})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "a"]
    assert body_client.post("/raw", json={"a": "1"}).json() == {"a": 1}


def test_hostile_values_never_500(body_client: TestClient) -> None:
    huge = "9" * 5000
    for params in (
        {"count": huge},
        {"count": "\x00"},
        {"count": "../../etc/passwd"},
        {"count": "1e309"},
        {"count": "-" * 10_000},
    ):
        response = body_client.post("/items/1", params=params, json={"name": "a", "price": 1})
        assert response.status_code == 422, params
    deep = "[" * 10_000 + "]" * 10_000
    response = body_client.post(
        "/raw", content=deep.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Malformed JSON body: nested too deeply"


def test_plain_ints_from_the_request_are_64_bit() -> None:
    from carboy.params._validation import INT64_MAX, bounded_ints, make_validator

    errors: list[Any] = []
    validate = make_validator(int)
    assert validate is not None
    assert validate(str(INT64_MAX), ["query", "n"], errors) == INT64_MAX
    assert errors == []
    validate(str(INT64_MAX + 1), ["query", "n"], errors)
    assert [e["loc"] for e in errors] == [["query", "n"]]
    # Declared bounds win over the default range.
    # A declared bound replaces the default on its side only.
    lower = make_validator(int, {"ge": 0})
    assert lower is not None
    errors = []
    lower(str(2**70), ["query", "n"], errors)
    assert len(errors) == 1
    upper = make_validator(int, {"le": 10**30})
    assert upper is not None
    errors = []
    assert upper(str(2**70), ["query", "n"], errors) == 2**70
    assert errors == []
    assert bounded_ints(str) is str
    assert bounded_ints(int | None) != int | None
