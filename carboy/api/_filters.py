"""Filtering, ordering and search of a resource's list: declared names only, never SQL text.

A filter is a declared field and a declared operator, read from the query
string as ``field`` (``exact``) or ``field__op``; its value is validated as the
field's type (a 422 when it is not one). Ordering takes whitelisted names
(``-created_at,title``); search looks for a term in declared text fields.
Anything else in the query string is a 400 that names the parameter and says
which ones there are: a name is looked up among the declared ones and mapped
to its column, so nothing the client sends is ever part of the SQL.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any

import sqlalchemy as sa

from carboy.api._fields import FieldSpec
from carboy.exceptions import ConfigurationError, FieldError, InvalidFields
from carboy.params import Query

#: The longest ordering, search term and text filter value accepted.
MAX_ORDERING_LENGTH = 200
MAX_SEARCH_LENGTH = 100
MAX_TEXT_FILTER_LENGTH = 200
#: The most values an ``__in`` filter takes.
MAX_IN_VALUES = 100

Clause = Callable[[Any, Any], Any]


def _contains(column: Any, value: Any) -> Any:
    return column.contains(value, autoescape=True)


def _icontains(column: Any, value: Any) -> Any:
    return column.icontains(value, autoescape=True)


def _startswith(column: Any, value: Any) -> Any:
    return column.startswith(value, autoescape=True)


def _istartswith(column: Any, value: Any) -> Any:
    return column.istartswith(value, autoescape=True)


def _isnull(column: Any, value: Any) -> Any:
    return column.is_(None) if value else column.is_not(None)


#: operator -> (SQL clause, what its value is: "same" type, "text", "list", "bool").
OPERATORS: dict[str, tuple[Clause, str]] = {
    "exact": (lambda column, value: column == value, "same"),
    "ne": (lambda column, value: column != value, "same"),
    "gt": (lambda column, value: column > value, "same"),
    "gte": (lambda column, value: column >= value, "same"),
    "lt": (lambda column, value: column < value, "same"),
    "lte": (lambda column, value: column <= value, "same"),
    "in": (lambda column, value: column.in_(value), "list"),
    "contains": (_contains, "text"),
    "icontains": (_icontains, "text"),
    "startswith": (_startswith, "text"),
    "istartswith": (_istartswith, "text"),
    "isnull": (_isnull, "bool"),
}


@dataclasses.dataclass(frozen=True)
class FilterParam:
    """One query parameter that filters: its wire name, its field, its operator."""

    query: str
    spec: FieldSpec
    operator: str
    python_name: str

    def parameter(self) -> inspect.Parameter:
        """The handler parameter that reads and validates it."""
        _, kind = OPERATORS[self.operator]
        base = _strip_none(self.spec.type)
        bounds = dict(self.spec.constraints)
        if kind == "text":
            tp: Any = str
            bounds = {"max_length": MAX_TEXT_FILTER_LENGTH}
        elif kind == "bool":
            tp, bounds = bool, {}
        elif kind == "list":
            tp, bounds = list[base], {"max_length": MAX_IN_VALUES}  # type: ignore[valid-type]
        else:
            tp = base
            bounds = {k: v for k, v in bounds.items() if k in ("ge", "le", "max_length")}
            if "max_length" in bounds and base is not str:
                bounds.pop("max_length")
        description = f"Only items whose {self.spec.wire} {_PHRASES[self.operator]}"
        marker = Query(None, alias=self.query, description=description, **bounds)
        return inspect.Parameter(
            self.python_name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[tp | None, marker],
        )

    def clause(self, value: Any) -> Any:
        """The WHERE clause for a value the client sent."""
        clause, _ = OPERATORS[self.operator]
        return clause(self.spec.column, value)


_PHRASES = {
    "exact": "equals this",
    "ne": "differs from this",
    "gt": "is greater than this",
    "gte": "is at least this",
    "lt": "is less than this",
    "lte": "is at most this",
    "in": "is one of these (repeat the parameter)",
    "contains": "contains this (case-sensitive)",
    "icontains": "contains this (any case)",
    "startswith": "starts with this",
    "istartswith": "starts with this (any case)",
    "isnull": "is null (true) or not (false)",
}


def _strip_none(tp: Any) -> Any:
    args = getattr(tp, "__args__", None)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def filter_params(
    filters: Mapping[str, Sequence[str]] | Sequence[str],
    specs: Mapping[str, FieldSpec],
    where: str,
) -> list[FilterParam]:
    """The query parameters of the declared filters.

    Raises:
        ConfigurationError: A filter names an unknown field or operator, or a field
            that is not a column.
    """
    declared = dict(filters) if isinstance(filters, Mapping) else dict.fromkeys(filters, ("exact",))
    found: list[FilterParam] = []
    for name, operators in declared.items():
        spec = specs.get(name)
        if spec is None or spec.column is None:
            raise ConfigurationError(
                f"{where}: filters[{name!r}]: not a column of the resource; the columns are "
                f"{sorted(n for n, s in specs.items() if s.column is not None)}"
            )
        if isinstance(operators, str):
            operators = (operators,)
        for operator in operators:
            if operator not in OPERATORS:
                raise ConfigurationError(
                    f"{where}: filters[{name!r}]: unknown operator {operator!r}; the operators "
                    f"are {sorted(OPERATORS)}"
                )
            query = spec.wire if operator == "exact" else f"{spec.wire}__{operator}"
            found.append(FilterParam(query, spec, operator, f"_filter_{len(found)}"))
    return found


@dataclasses.dataclass(frozen=True)
class Ordering:
    """The whitelisted orderings of a list, and the default one."""

    columns: Mapping[str, Any]
    default: tuple[str, ...]
    tiebreak: Any

    @classmethod
    def declare(
        cls,
        names: Iterable[str],
        default: Sequence[str],
        specs: Mapping[str, FieldSpec],
        tiebreak: Any,
        where: str,
    ) -> Ordering:
        """Check the declared names against the resource's columns."""
        columns: dict[str, Any] = {}
        for name in names:
            spec = specs.get(name)
            if spec is None or spec.column is None:
                raise ConfigurationError(f"{where}: ordering names {name!r}, not a column")
            columns[spec.wire] = spec.column
        wire_default: list[str] = []
        for item in default:
            name = item.removeprefix("-")
            spec = specs.get(name)
            if spec is None or spec.column is None:
                raise ConfigurationError(f"{where}: default ordering {item!r} is not a column")
            columns.setdefault(spec.wire, spec.column)
            wire_default.append(("-" if item.startswith("-") else "") + spec.wire)
        return cls(columns, tuple(wire_default), tiebreak)

    def parse(self, text: str | None) -> list[tuple[Any, bool]]:
        """``"-created_at,title"`` -> [(column, descending)...], the key last; 400 if unknown.

        Only names in the whitelist are accepted; anything else (``id;drop table``)
        is refused with the list of the names there are.
        """
        items = self.default if text is None or not text.strip() else tuple(text.split(","))
        result: list[tuple[Any, bool]] = []
        seen: set[str] = set()
        for raw in items:
            item = raw.strip()
            name = item.removeprefix("-")
            column = self.columns.get(name)
            if column is None or not name:
                allowed = ", ".join(sorted(self.columns)) or "none"
                raise InvalidFields(
                    400,
                    f"Cannot order by {item!r}: the orderings are {allowed} (prefix '-' to "
                    "reverse), separated by commas",
                    [
                        FieldError(
                            ["query", "ordering"], f"Unknown ordering {item!r}", "unknown_ordering"
                        )
                    ],
                )
            if name not in seen:
                seen.add(name)
                result.append((column, item.startswith("-")))
        if not any(column is self.tiebreak for column, _ in result):
            result.append((self.tiebreak, False))
        return result

    @property
    def parameter(self) -> inspect.Parameter:
        """The ``ordering`` query parameter."""
        names = ", ".join(sorted(self.columns))
        marker = Query(
            None,
            alias="ordering",
            max_length=MAX_ORDERING_LENGTH,
            description=f"Comma-separated, '-' to reverse; one of: {names}",
            examples=[",".join(self.default)] if self.default else (),
        )
        return inspect.Parameter(
            "_ordering",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, marker],
        )


def order_by(stmt: sa.Select[Any], ordering: Sequence[tuple[Any, bool]]) -> sa.Select[Any]:
    """``stmt`` ordered by parsed orderings."""
    return stmt.order_by(*(column.desc() if desc else column.asc() for column, desc in ordering))


def search_parameter(fields: Sequence[str]) -> inspect.Parameter:
    """The ``search`` query parameter."""
    marker = Query(
        None,
        alias="search",
        max_length=MAX_SEARCH_LENGTH,
        description=f"Items whose {', '.join(fields)} contain this text (any case)",
    )
    return inspect.Parameter(
        "_search",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, marker],
    )


def search_clause(columns: Sequence[Any], term: str) -> Any:
    """Any of ``columns`` contains ``term``, any case (``%`` and ``_`` are literal)."""
    return sa.or_(*(column.icontains(term, autoescape=True) for column in columns))


def refuse_unknown(query: Iterable[str], known: set[str]) -> None:
    """400 for a query parameter the list does not read (a misspelt filter, an operator)."""
    unknown = sorted(set(query) - known)
    if unknown:
        allowed = ", ".join(sorted(known))
        raise InvalidFields(
            400,
            f"Unknown query parameter(s) {', '.join(map(repr, unknown))}; "
            f"this list reads: {allowed}",
            [
                FieldError(["query", name], "Unknown query parameter", "unknown_parameter")
                for name in unknown
            ],
        )
