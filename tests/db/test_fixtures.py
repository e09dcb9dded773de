"""dumpdata / loaddata: JSON fixtures that round-trip every common column type."""

from __future__ import annotations

import enum
import io
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, Enum, ForeignKey, LargeBinary, Numeric, String, Uuid, select
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Database
from carboy.db.fixtures import FixtureError, count_rows, dump, encode_value, load


class Mood(enum.Enum):
    HAPPY = "happy"
    GRUMPY = "grumpy"


def _models(base: Any) -> tuple[Any, Any]:
    class Owner(base):  # type: ignore[misc, valid-type]
        name: Mapped[str] = mapped_column(String(50))

    class Everything(base):  # type: ignore[misc, valid-type]
        owner_id: Mapped[int | None] = mapped_column(ForeignKey("owner.id"))
        text: Mapped[str | None]
        price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
        ratio: Mapped[float | None]
        flag: Mapped[bool | None]
        day: Mapped[date | None]
        at: Mapped[datetime | None]
        clock: Mapped[time | None]
        span: Mapped[timedelta | None]
        blob: Mapped[bytes | None] = mapped_column(LargeBinary)
        token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
        data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
        mood: Mapped[Mood | None] = mapped_column(Enum(Mood))

    return Owner, Everything


ROW: dict[str, Any] = {
    "text": 'Zoë 🌍 <b>&amp;</b> "quotes" \\ back\nslash',
    "price": Decimal("12345678.90"),
    "ratio": 0.1 + 0.2,
    "flag": False,
    "day": date(2024, 2, 29),
    "at": datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
    "clock": time(7, 5, 3, 120),
    "span": timedelta(days=3, seconds=7, microseconds=11),
    "blob": bytes(range(256)),
    "token": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "data": {"nested": [1, "two", None, {"x": 1.5}]},
    "mood": Mood.GRUMPY,
}


def _dump(db: Database, *names: str) -> str:
    out = io.StringIO()
    dump(db, out, names)
    return out.getvalue()


def test_dump_and_load_round_trip_every_type(database_url: str, tables: Any) -> None:
    Owner, Everything = _models(tables)
    db = Database(database_url, base=tables)
    db.create_all()
    with db.transaction() as session:
        owner = Owner(name="Ada")
        session.add(owner)
        session.flush()
        session.add(Everything(owner_id=owner.id, **ROW))
        session.add(Everything())  # every value None
    first = _dump(db)
    data = json.loads(first)
    assert [entry["model"] for entry in data] == ["owner", "everything", "everything"]
    assert data[1]["fields"]["price"] == "12345678.90"
    assert data[1]["fields"]["day"] == "2024-02-29"
    assert data[2]["fields"] == dict.fromkeys(data[2]["fields"]) | {"id": 2}

    with db.transaction() as session:
        session.execute(Everything.__table__.delete())
        session.execute(Owner.__table__.delete())
    assert load(db, [io.StringIO(first)]) == {"owner": 1, "everything": 2}
    assert _dump(db) == first
    with db.session() as session:
        loaded = session.scalars(select(Everything).order_by(Everything.id)).all()
        for name, value in ROW.items():
            assert getattr(loaded[0], name) == value, name
        assert all(getattr(loaded[1], name) is None for name in ROW)

    # Loading again updates in place; new rows then get fresh ids (sequences moved on).
    assert load(db, [io.StringIO(first)]) == {"owner": 1, "everything": 2}
    assert count_rows(db) == {"owner": 1, "everything": 2}
    with db.transaction() as session:
        session.add(Everything(text="after"))
    with db.session() as session:
        assert session.scalars(select(Everything.id).order_by(Everything.id)).all() == [1, 2, 3]


def test_dump_selected_models_in_dependency_order(database_url: str, tables: Any) -> None:
    Owner, _ = _models(tables)
    db = Database(database_url, base=tables)
    db.create_all()
    with db.transaction() as session:
        session.add(Owner(name="Ada"))
    assert json.loads(_dump(db, "Everything", "OWNER")) == [
        {"model": "owner", "fields": {"id": 1, "name": "Ada"}}
    ]
    assert _dump(db, "everything") == "[]\n"
    with pytest.raises(FixtureError, match="No model or table named 'nope'"):
        _dump(db, "nope")


def test_a_fixture_whose_children_come_first_still_loads(database_url: str, tables: Any) -> None:
    _models(tables)
    db = Database(database_url, base=tables)
    db.create_all()
    fixture = json.dumps(
        [
            {"model": "everything", "fields": {"id": 5, "owner_id": 9}},
            {"model": "owner", "fields": {"id": 9, "name": "Grace"}},
        ]
    )
    assert load(db, [io.StringIO(fixture)]) == {"owner": 1, "everything": 1}


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("[1, 2", "is not valid JSON"),
        ('{"model": "owner"}', "a fixture is a JSON list of objects"),
        ('[{"model": "owner"}]', 'item 0: expected {"model": "<table>", "fields": {...}}'),
        ('[{"model": "ghost", "fields": {}}]', "item 0: no table 'ghost'"),
        ('[{"model": "owner", "fields": {"id": 1, "nam": "x"}}]', "owner has no column 'nam'"),
        (
            '[{"model": "everything", "fields": {"day": "29/02/2024"}}]',
            "everything.day: cannot read '29/02/2024' as a date",
        ),
        (
            '[{"model": "everything", "fields": {"price": "cheap"}}]',
            "everything.price: cannot read 'cheap' as a Decimal",
        ),
        (
            '[{"model": "everything", "fields": {"blob": "not base64!"}}]',
            "everything.blob: cannot read 'not base64!' as a bytes",
        ),
    ],
)
def test_bad_fixtures_are_refused_with_the_place(
    tmp_path: Any, tables: Any, fixture: str, message: str
) -> None:
    _models(tables)
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", base=tables)
    db.create_all()
    source = io.StringIO(fixture)
    source.name = "bad.json"
    with pytest.raises(
        FixtureError,
        match=message.replace("(", r"\(")
        .replace("{", r"\{")
        .replace("}", r"\}")
        .replace(".", r"\.")
        .replace("<", "<"),
    ):
        load(db, [source])
    assert count_rows(db) == {"owner": 0, "everything": 0}


def test_encode_value_refuses_unknown_types() -> None:
    assert encode_value(float("nan")) == "nan"
    assert encode_value(float("-inf")) == "-inf"
    with pytest.raises(FixtureError, match="Cannot write a object value"):
        encode_value(object())
