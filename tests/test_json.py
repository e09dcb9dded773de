"""carboy/_json.py: one datetime format on every path that writes JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypedDict
from zoneinfo import ZoneInfo

import msgspec
import pytest
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    TypeAdapter,
    computed_field,
    field_serializer,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from carboy import Carboy, JSONResponse, WebSocket, _json, _temporal
from carboy.htmx import hx_trigger
from carboy.log import JSONFormatter
from carboy.responses import EventSourceResponse, Response, ServerSentEvent
from carboy.templating import Templates
from carboy.testing import TestClient

UTC = dt.UTC
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
LMT = dt.timezone(dt.timedelta(minutes=53, seconds=28))  # Europe/Amsterdam before 1892

# (value, what carboy writes): naive, aware UTC and not, zero and non-zero microseconds.
CASES: list[tuple[Any, str]] = [
    (dt.datetime(2024, 1, 1), "2024-01-01T00:00:00.000000Z"),
    (dt.datetime(2024, 1, 1, 9, 30, 0, 120), "2024-01-01T09:30:00.000120Z"),
    (dt.datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T00:00:00.000000Z"),
    (dt.datetime(2024, 1, 1, 0, 0, 0, 5, tzinfo=UTC), "2024-01-01T00:00:00.000005Z"),
    (dt.datetime(2024, 1, 1, 9, 30, tzinfo=IST), "2024-01-01T09:30:00.000000+05:30"),
    (dt.datetime(2024, 1, 1, 9, 30, 0, 500000, tzinfo=IST), "2024-01-01T09:30:00.500000+05:30"),
    (dt.datetime(2024, 1, 1, 9, 30, tzinfo=NEW_YORK), "2024-01-01T09:30:00.000000-05:00"),
    (dt.datetime(2024, 7, 1, tzinfo=ZoneInfo("Europe/London")), "2024-07-01T00:00:00.000000+01:00"),
    (dt.datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/London")), "2024-01-01T00:00:00.000000Z"),
    (dt.datetime(1890, 1, 1, tzinfo=LMT), "1889-12-31T23:06:32.000000Z"),
    (dt.time(9, 30), "09:30:00.000000"),
    (dt.time(9, 30, 0, 7), "09:30:00.000007"),
    (dt.time(9, 30, tzinfo=UTC), "09:30:00.000000Z"),
    (dt.time(9, 30, tzinfo=IST), "09:30:00.000000+05:30"),
    (dt.time(0, 30, tzinfo=LMT), "23:36:32.000000Z"),
    (dt.date(2024, 1, 1), "2024-01-01"),
]
IDS = [repr(value) for value, _ in CASES]


@pytest.mark.parametrize(("value", "text"), CASES, ids=IDS)
def test_dumps_writes_one_format(value: Any, text: str) -> None:
    assert _json.dumps(value) == f'"{text}"'.encode()
    assert _json.dumps({"at": value, "list": [value], "deep": {"x": (value,)}}) == (
        f'{{"at":"{text}","list":["{text}"],"deep":{{"x":["{text}"]}}}}'.encode()
    )


@pytest.mark.parametrize(("value", "text"), CASES, ids=IDS)
def test_dict_keys_too(value: Any, text: str) -> None:
    assert _json.dumps({value: 1}) == f'{{"{text}":1}}'.encode()


def test_a_format_that_round_trips() -> None:
    for value, text in CASES:
        if isinstance(value, dt.datetime):
            back = dt.datetime.fromisoformat(text)
            # The same instant (a naive value is taken as UTC), microseconds kept.
            assert back == (value if value.tzinfo else value.replace(tzinfo=UTC))


def test_strings_that_look_like_times_are_left_alone() -> None:
    value = {"t": "09:30:00", "d": "2024-01-01T00:00:00", "n": "12:00:00+05:30", "ok": "1:2"}
    assert _json.dumps(value) == msgspec.json.encode(value)


def test_everything_else_is_written_as_msgspec_writes_it() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        at: dt.datetime

    class Tagged(msgspec.Struct, rename="camel", omit_defaults=True):
        created_at: dt.datetime
        note: str | None = None

    class Pair(NamedTuple):
        a: int
        b: dt.time

    value = {
        "uuid": uuid.UUID(int=1),
        "decimal": Decimal("1.50"),
        "bytes": b"hi",
        "set": {1},
        "nan": float("nan"),
        "int_key": {1: "a"},
        "point": Point(1, dt.datetime(2024, 1, 1)),
        "struct": Tagged(dt.datetime(2024, 1, 1)),
        "pair": Pair(1, dt.time(1)),
        "delta": dt.timedelta(days=1, seconds=1),
    }
    assert json.loads(_json.dumps(value)) == {
        "uuid": "00000000-0000-0000-0000-000000000001",
        "decimal": "1.50",
        "bytes": "aGk=",
        "set": [1],
        "nan": None,
        "int_key": {"1": "a"},
        "point": {"x": 1, "at": "2024-01-01T00:00:00.000000Z"},
        "struct": {"createdAt": "2024-01-01T00:00:00.000000Z"},
        "pair": [1, "01:00:00.000000"],
        "delta": "P1DT1S",
    }


def test_unserializable_values_still_fail_loudly() -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        _json.dumps({"at": dt.datetime(2024, 1, 1), "x": object()})


def test_a_value_out_of_range_after_conversion_fails_loudly() -> None:
    with pytest.raises(OverflowError):
        _temporal.format_datetime(dt.datetime.min.replace(tzinfo=LMT))


# -- pydantic -----------------------------------------------------------------------


class Inner(BaseModel):
    at: dt.datetime


class Animal(BaseModel):
    born: dt.datetime


class Cat(Animal):
    lives: int = 9


class Everything(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    created_at: dt.datetime
    maybe_at: dt.datetime | None = None
    opens: dt.time = dt.time(9)
    day: dt.date = dt.date(2024, 1, 1)
    inner: Inner
    inners: list[Inner] = []
    pets: list[Animal | Cat] = []
    anything: Any = None
    meta: dict[str, Any] = {}
    loose: list = []  # type: ignore[type-arg]
    keyed: dict[dt.datetime, int] = {}
    year_only: Annotated[dt.datetime, PlainSerializer(lambda v: v.year)] = dt.datetime(2020, 1, 1)
    as_is: Annotated[Any, PlainValidator(lambda v: v)] = None
    secret: SecretStr = SecretStr("hunter2")
    url: HttpUrl = HttpUrl("https://example.com/")
    hidden: dt.datetime = Field(dt.datetime(2024, 1, 1), exclude=True)
    custom: dt.datetime = dt.datetime(2024, 1, 1)

    @field_serializer("custom")
    def _custom(self, value: dt.datetime) -> dt.datetime:
        return value + dt.timedelta(days=1)  # returns a datetime: written in carboy's format

    @computed_field  # type: ignore[prop-decorator]
    @property
    def computed_at(self) -> dt.datetime:
        return dt.datetime(2024, 1, 2)


NAIVE = dt.datetime(2024, 1, 1)
Z = "2024-01-01T00:00:00.000000Z"


def everything() -> Everything:
    return Everything(
        created_at=NAIVE,
        maybe_at=dt.datetime(2024, 1, 1, tzinfo=IST),
        inner=Inner(at=dt.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        inners=[Inner(at=NAIVE)],
        pets=[Cat(born=NAIVE), Animal(born=NAIVE)],
        anything={"at": NAIVE, "model": Inner(at=NAIVE), "t": (dt.time(1),)},
        meta={"at": [NAIVE]},
        loose=[NAIVE],
        keyed={NAIVE: 1},
        as_is=NAIVE,
    )


EVERYTHING_JSON = {
    "createdAt": Z,
    "maybeAt": "2024-01-01T00:00:00.000000+05:30",
    "opens": "09:00:00.000000",
    "day": "2024-01-01",
    "inner": {"at": "2024-01-01T00:00:00.000001Z"},
    "inners": [{"at": Z}],
    "pets": [{"born": Z, "lives": 9}, {"born": Z}],
    "anything": {"at": Z, "model": {"at": Z}, "t": ["01:00:00.000000"]},
    "meta": {"at": [Z]},
    "loose": [Z],
    "keyed": {Z: 1},
    "yearOnly": 2020,
    "asIs": Z,
    "secret": "**********",
    "url": "https://example.com/",
    "custom": "2024-01-02T00:00:00.000000Z",
    "computedAt": "2024-01-02T00:00:00.000000Z",
}


def test_pydantic_serializer_writes_carboy_datetimes_and_keeps_the_rest() -> None:
    serializer = _json.pydantic_serializer(TypeAdapter(Everything))
    assert json.loads(serializer.to_json(everything(), by_alias=True)) == EVERYTHING_JSON
    # The model's own serializer is left as pydantic made it.
    assert everything().model_dump(mode="json")["created_at"] == "2024-01-01T00:00:00"


def test_pydantic_models_inside_plain_values() -> None:
    assert json.loads(_json.dumps({"x": [everything()]})) == {"x": [EVERYTHING_JSON]}


def test_a_union_sends_the_subclass_it_holds() -> None:
    class Zoo(BaseModel):
        first: Animal | Cat
        second: Cat | Animal

    zoo = Zoo(first=Cat(born=NAIVE), second=Cat(born=NAIVE))
    assert json.loads(_json.dumps(zoo)) == {
        "first": {"born": Z, "lives": 9},
        "second": {"born": Z, "lives": 9},
    }


def test_model_serializers_are_retimed() -> None:
    class Wrapped(BaseModel):
        at: dt.datetime

        @model_serializer(mode="wrap")
        def _ser(self, handler: Any) -> dict[str, Any]:
            return {**handler(self), "again": self.at}

    class Plain(BaseModel):
        at: dt.datetime

        @model_serializer
        def _ser(self) -> dict[str, Any]:
            return {"when": self.at}

    assert _json.dumps(Wrapped(at=NAIVE)) == f'{{"at":"{Z}","again":"{Z}"}}'.encode()
    assert _json.dumps(Plain(at=NAIVE)) == f'{{"when":"{Z}"}}'.encode()


def test_a_model_with_no_datetime_keeps_pydantic_serializer() -> None:
    class Flat(BaseModel):
        name: str

    adapter = TypeAdapter(Flat)
    assert _json.pydantic_serializer(adapter) is adapter.serializer


class Carried(msgspec.Struct):
    at: dt.datetime
    model: Inner
    tags: set[str]


@dataclasses.dataclass
class Noted:
    at: dt.datetime


def test_structs_and_dataclasses_in_a_model_field_typed_any() -> None:
    class Holder(BaseModel):
        anything: Any

    struct = Carried(at=NAIVE, model=Inner(at=NAIVE), tags={"a"})
    assert json.loads(_json.dumps(Holder(anything=[struct, Noted(at=NAIVE)]))) == {
        "anything": [{"at": Z, "model": {"at": Z}, "tags": ["a"]}, {"at": Z}]
    }


def test_is_pydantic_model_knows_instances_without_importing_pydantic_itself() -> None:
    assert _json.is_pydantic_model(everything())
    assert not _json.is_pydantic_model(Everything)  # the class is no instance
    assert not _json.is_pydantic_model({"a": 1})
    assert not _json.is_pydantic_model(msgspec.Struct())


# -- which return annotations skip the check ------------------------------------------


class NoTime(TypedDict):
    name: str
    tags: list[str]


class WithTime(TypedDict):
    at: dt.datetime


class Node(msgspec.Struct):
    name: str
    children: list[Node] = []


class Stamped(msgspec.Struct):
    at: dt.datetime | None = None


class Color(enum.StrEnum):
    RED = "red"


class Epoch(enum.Enum):
    UNIX = dt.datetime(1970, 1, 1)


@pytest.mark.parametrize(
    ("annotation", "checked"),
    [
        (dict[str, str], False),
        (list[int], False),
        (dict[str, int | None], False),
        (tuple[str, ...], False),
        (Literal["a", "b"], False),
        (Annotated[dict[str, str], "doc"], False),
        (Color, False),
        (NoTime, False),
        (Node, False),
        (None, False),
        (uuid.UUID, False),
        (dict, True),
        (list, True),
        (Any, True),
        (dict[str, Any], True),
        (dict[str, dt.datetime], True),
        (list[dt.date], True),  # a date may be a datetime
        (WithTime, True),
        (Stamped, True),
        (Epoch, True),
        (Path, True),
    ],
)
def test_dumps_for(annotation: Any, checked: bool) -> None:
    expected = _json.dumps if checked else _json.encode
    assert _json.dumps_for(annotation) is expected


# -- every path that writes JSON ------------------------------------------------------


class Event(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None


class EventOut(BaseModel):
    starts_at: dt.datetime


class EventStruct(msgspec.Struct, rename="camel"):
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None


@dataclasses.dataclass
class EventData:
    starts_at: dt.datetime
    opens: dt.time


@dataclasses.dataclass
class EventRow:  # what a database gives back: naive, UTC by convention
    starts_at: dt.datetime
    secret: str


AWARE = dt.datetime(2024, 1, 1, 9, 30, tzinfo=IST)
AWARE_TEXT = "2024-01-01T09:30:00.000000+05:30"


def paths_app() -> Carboy:
    app = Carboy(debug=True)

    @app.get("/plain")
    async def plain():  # type: ignore[no-untyped-def]  # no annotation: anything may come back
        return {"at": NAIVE, "times": [dt.time(9)], "day": dt.date(2024, 1, 1)}

    @app.get("/plain-typed")
    async def plain_typed() -> dict[str, dt.datetime]:
        return {"at": NAIVE}

    @app.get("/plain-sync")
    def plain_sync() -> list[Any]:
        return [NAIVE, AWARE]

    @app.get("/plain-tuple")
    async def plain_tuple() -> tuple[dict[str, Any], int]:
        return {"at": NAIVE}, 201

    @app.get("/model")
    async def model() -> Event:
        return Event(starts_at=NAIVE, ends_at=AWARE)

    @app.get("/models", extra={"exclude_none": True})
    async def models() -> list[Event]:
        return [Event(starts_at=NAIVE)]

    @app.get("/response-model", response_model=EventOut)
    async def response_model() -> EventRow:
        return EventRow(NAIVE, "s3cret")

    @app.get("/struct")
    async def struct() -> EventStruct:
        return EventStruct(NAIVE, AWARE)

    @app.get("/struct-sparse", extra={"exclude_none": True})
    async def struct_sparse() -> EventStruct:
        return EventStruct(NAIVE)

    @app.get("/struct-response-model", response_model=EventStruct)
    async def struct_response_model() -> EventRow:
        return EventRow(NAIVE, "s3cret")

    @app.get("/dataclass")
    async def dataclass() -> EventData:
        return EventData(NAIVE, dt.time(9, 30, tzinfo=UTC))

    @app.get("/json-response")
    async def json_response() -> Response:
        return JSONResponse({"at": NAIVE})

    @app.get("/events")
    async def events() -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            yield ServerSentEvent({"at": NAIVE})

        return EventSourceResponse(stream())

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"at": NAIVE})
        await websocket.send_json([AWARE], mode="binary")
        await websocket.close()

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    with TestClient(paths_app()) as client:
        yield client  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/plain", {"at": Z, "times": ["09:00:00.000000"], "day": "2024-01-01"}),
        ("/plain-typed", {"at": Z}),
        ("/plain-sync", [Z, AWARE_TEXT]),
        ("/plain-tuple", {"at": Z}),
        ("/model", {"startsAt": Z, "endsAt": AWARE_TEXT}),
        ("/models", [{"startsAt": Z}]),
        ("/response-model", {"starts_at": Z}),
        ("/struct", {"startsAt": Z, "endsAt": AWARE_TEXT}),
        ("/struct-sparse", {"startsAt": Z}),
        ("/struct-response-model", {"startsAt": Z, "endsAt": None}),
        ("/dataclass", {"starts_at": Z, "opens": "09:30:00.000000Z"}),
        ("/json-response", {"at": Z}),
    ],
)
def test_every_response_path(client: TestClient, url: str, body: Any) -> None:
    response = client.get(url)
    assert response.status_code < 300, response.text
    assert response.json() == body


def test_head_sends_the_same_length(client: TestClient) -> None:
    for url in ("/plain", "/model"):
        get, head = client.get(url), client.head(url)
        assert head.headers["content-length"] == str(len(get.content))


def test_server_sent_events(client: TestClient) -> None:
    assert f'data: {{"at":"{Z}"}}' in client.get("/events").text


def test_websocket_send_json(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"at": Z}
        assert ws.receive_json() == [AWARE_TEXT]


def test_templates_tojson(tmp_path: Path) -> None:
    templates = Templates([tmp_path])
    template = templates.env.from_string("{{ value|tojson }} {{ value|tojson(2) }}")
    text = template.render(value={"at": NAIVE, "html": "</script>"})
    assert text == (
        f'{{"at":"{Z}","html":"\\u003c/script\\u003e"}} '
        f'{{\n  "at": "{Z}",\n  "html": "\\u003c/script\\u003e"\n}}'
    )


def test_htmx_trigger_detail() -> None:
    response = hx_trigger(Response(b""), "saved", {"at": NAIVE, "who": "zoë"})
    assert json.loads(response.headers["hx-trigger"]) == {"saved": {"at": Z, "who": "zoë"}}
    assert response.headers["hx-trigger"].isascii()


def test_json_log_extras() -> None:
    record = logging.LogRecord("carboy.request", 20, "", 0, "hi", None, None)
    record.at = NAIVE
    record.opens = dt.time(9)
    record.path = Path("/x")
    line = json.loads(JSONFormatter().format(record))
    assert (line["at"], line["opens"], line["path"]) == (Z, "09:00:00.000000", "/x")
