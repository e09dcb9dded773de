"""Fields as read from the model: what the browser sends becomes pydantic's input."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from carboy.forms._fields import MISSING, _html_pattern, choices_of, compile_fields, value_text


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Labelled(enum.Enum):
    A = "a"

    @property
    def label(self) -> str:
        return "The letter A"


def test_choices_of_enums_and_literals() -> None:
    assert [(c.value, c.label, c.python) for c in choices_of(Level) or []] == [
        ("1", "Low", Level.LOW),
        ("2", "High", Level.HIGH),
    ]
    assert [c.label for c in choices_of(Labelled) or []] == ["The letter A"]
    assert [c.value for c in choices_of(Literal[1, "x"]) or []] == ["1", "x"]
    assert choices_of(str) is None


def test_values_are_written_as_the_controls_expect() -> None:
    assert value_text(None) == ""
    assert value_text(Level.HIGH) == "2"
    assert value_text(True) == "true"
    assert value_text(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert value_text(dt.time(9, 0)) == "09:00"
    assert value_text(Decimal("1.50")) == "1.50"


def test_parse_reads_strings_as_the_type_needs() -> None:
    class Model(BaseModel):
        level: Level = Level.LOW
        levels: list[Level] = []
        count: int | None = None
        name: str
        on: bool = False

    specs = compile_fields(Model)
    assert specs["level"].parse(["2"]) is Level.HIGH
    assert specs["levels"].parse(["1", "2", ""]) == [Level.LOW, Level.HIGH]
    assert specs["count"].parse([""]) is MISSING  # has a default: pydantic fills it in
    assert specs["name"].parse(["  "]) is MISSING and specs["name"].required
    assert specs["on"].parse([]) is False and specs["on"].parse(["true"]) is True
    assert specs["on"].parse(["off"]) is False and not specs["on"].required


def test_python_patterns_become_html_patterns_when_they_carry_over() -> None:
    assert _html_pattern(r"^[a-z]+$") == "[a-z]+"
    assert _html_pattern(r"abc") == ".*abc.*"
    assert _html_pattern(r"(?P<x>a)") is None
    assert _html_pattern(r"(?i)abc") is None


def test_a_default_factory_is_called_for_each_form() -> None:
    class Model(BaseModel):
        when: Annotated[dt.date, Field(default_factory=dt.date.today)]

    spec = compile_fields(Model)["when"]
    assert spec.initial() == dt.date.today() and not spec.required
