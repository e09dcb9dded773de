"""The list page's filters: by boolean, choice, date and foreign-key fields.

Each filter reads one query parameter (the field's name) and narrows the
statement; a value it does not know is a 400 that says which values it takes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Select, select
from sqlalchemy.orm import Session

from carboy.admin._meta import FieldInfo, Kind
from carboy.exceptions import HTTPException

#: How many related objects a foreign-key filter lists.
MAX_FK_CHOICES = 100


@dataclass(frozen=True, slots=True)
class Choice:
    """One value a filter offers: its query value (None: "All"), label, and whether chosen."""

    value: str | None
    label: str
    selected: bool


class FieldFilter:
    """A filter on one field; the subclasses know their kind's values."""

    def __init__(self, info: FieldInfo) -> None:
        if info.column is None:
            raise ValueError(f"{info.name!r} is not a column: list_filter takes columns")
        self.info = info
        self.column: Column[Any] = info.column
        self.param = info.name
        self.title = info.label

    def options(self, session: Session) -> list[tuple[str, str]]:
        """``(value, label)`` of each value offered (besides "All")."""
        raise NotImplementedError

    def condition(self, value: str) -> Any:
        """The WHERE clause for ``value``; raises ValueError for an unknown one."""
        raise NotImplementedError

    def apply(self, stmt: Select[Any], value: str) -> Select[Any]:
        """``stmt`` narrowed to ``value``; a 400 for a value this filter does not take."""
        try:
            return stmt.where(self.condition(value))
        except ValueError as exc:
            raise HTTPException(
                400, f"Filter {self.param!r} does not take {value[:40]!r}: {exc}"
            ) from None

    def choices(self, session: Session, current: str | None) -> list[Choice]:
        """ "All" and each option, with the current one selected."""
        found = [Choice(None, "All", current is None)]
        found.extend(Choice(v, label, current == v) for v, label in self.options(session))
        return found

    def _null_options(self) -> list[tuple[str, str]]:
        return [("__none__", "Empty")] if self.info.nullable else []

    def _null_condition(self, value: str) -> Any:
        if value == "__none__" and self.info.nullable:
            return self.column.is_(None)
        return None


class BooleanFilter(FieldFilter):
    """Yes / No (/ Empty)."""

    def options(self, session: Session) -> list[tuple[str, str]]:
        return [("1", "Yes"), ("0", "No"), *self._null_options()]

    def condition(self, value: str) -> Any:
        null = self._null_condition(value)
        if null is not None:
            return null
        if value not in ("1", "0"):
            raise ValueError("it takes 1 (yes) or 0 (no)")
        column = self.column
        return column.is_(value == "1")


class ChoiceFilter(FieldFilter):
    """One value of an enum."""

    def options(self, session: Session) -> list[tuple[str, str]]:
        return [*self.info.choices, *self._null_options()]

    def condition(self, value: str) -> Any:
        null = self._null_condition(value)
        if null is not None:
            return null
        known = {v for v, _ in self.info.choices}
        if value not in known:
            raise ValueError(f"it takes one of {', '.join(sorted(known))}")
        column = self.column
        if self.info.enum is not None:
            return column == self.info.enum[value]
        return column == value


_DATE_OPTIONS = [
    ("today", "Today"),
    ("7d", "Past 7 days"),
    ("month", "This month"),
    ("year", "This year"),
]


class DateFilter(FieldFilter):
    """Today, the past 7 days, this month, this year (/ Empty)."""

    def options(self, session: Session) -> list[tuple[str, str]]:
        return [*_DATE_OPTIONS, *self._null_options()]

    def condition(self, value: str) -> Any:
        null = self._null_condition(value)
        if null is not None:
            return null
        today = dt.datetime.now(dt.UTC).date()
        starts = {
            "today": today,
            "7d": today - dt.timedelta(days=6),
            "month": today.replace(day=1),
            "year": today.replace(month=1, day=1),
        }
        if value not in starts:
            raise ValueError(f"it takes one of {', '.join(starts)}")
        column = self.column
        start: dt.date | dt.datetime = starts[value]
        if self.info.kind is Kind.DATETIME:
            start = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        return column >= start


class ForeignKeyFilter(FieldFilter):
    """One related object (the first :data:`MAX_FK_CHOICES` are listed)."""

    def __init__(self, info: FieldInfo, pk_of: Any) -> None:
        super().__init__(info)
        self.pk_of = pk_of  # the target model's ModelInfo.pk_value

    def options(self, session: Session) -> list[tuple[str, str]]:
        target: Any = self.info.target
        column = next(iter(self.column.foreign_keys)).column
        rows: Sequence[Any] = session.scalars(
            select(target).order_by(column).limit(MAX_FK_CHOICES)
        ).all()
        key = column.key
        return [(str(getattr(row, key)), str(row)) for row in rows] + self._null_options()

    def condition(self, value: str) -> Any:
        null = self._null_condition(value)
        if null is not None:
            return null
        column = self.column
        return column == self.pk_of(value)


def make_filter(info: FieldInfo, pk_of: Any = None) -> FieldFilter:
    """The filter for ``info``'s kind.

    Raises:
        ValueError: The field's kind has no filter (text, numbers...).
    """
    if info.kind is Kind.BOOLEAN:
        return BooleanFilter(info)
    if info.kind is Kind.CHOICE:
        return ChoiceFilter(info)
    if info.kind in (Kind.DATE, Kind.DATETIME):
        return DateFilter(info)
    if info.kind is Kind.FOREIGN_KEY:
        return ForeignKeyFilter(info, pk_of)
    raise ValueError(
        f"{info.name!r} is a {info.kind.value} field; list_filter takes boolean, choice, "
        "date and foreign-key fields"
    )
