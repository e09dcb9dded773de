"""Fixtures: dump tables to JSON and load them back (``carboy dumpdata`` / ``loaddata``).

The format is a JSON list with one object per row, as Django's::

    [
    {"model": "author", "fields": {"id": 1, "name": "Zoë"}},
    {"model": "post", "fields": {"id": 1, "author_id": 1, "price": "9.90", ...}}
    ]

``model`` is the table's name. Values round-trip exactly: decimals are strings,
dates and times ISO 8601, binary data base64, intervals exact seconds, UUIDs
strings, non-finite floats ``"nan"`` / ``"inf"``; ``null`` stays ``None``. Loading
inserts rows (or updates those whose primary key exists) in one transaction, in
dependency order, then moves PostgreSQL's id sequences past the loaded ids.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Column, Connection, MetaData, Table, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from carboy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from carboy.db._database import Database


class FixtureError(ConfigurationError):
    """A fixture cannot be dumped or loaded; the message names the row or model.

    Example:
        >>> raise FixtureError("blog.json, item 3: no table 'posts'")
    """


def resolve_tables(metadata: MetaData, names: Sequence[str], registry: Any = None) -> list[Table]:
    """The tables named (by table name or model class name, any case), in dependency order.

    No names means every table.

    Example:
        >>> [t.name for t in resolve_tables(Model.metadata, ["Post"])]
        ['post']
    """
    ordered = list(metadata.sorted_tables)
    if not names:
        return ordered
    by_name: dict[str, Table] = {t.name.lower(): t for t in ordered}
    if registry is not None:
        for mapper in registry.mappers:
            table = mapper.local_table
            if isinstance(table, Table):
                by_name.setdefault(mapper.class_.__name__.lower(), table)
    chosen: list[Table] = []
    for name in names:
        table = by_name.get(name.lower())
        if table is None:
            known = ", ".join(sorted(t.name for t in ordered)) or "none"
            raise FixtureError(f"No model or table named {name!r}; known tables: {known}")
        if table not in chosen:
            chosen.append(table)
    return [t for t in ordered if t in chosen]


# -- values --------------------------------------------------------------------------
def encode_value(value: Any) -> Any:
    """A column value as JSON data that :func:`decode_value` turns back into it.

    Example:
        >>> encode_value(Decimal("9.90")), encode_value(date(2024, 2, 29))
        ('9.90', '2024-02-29')
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
        return str(seconds)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    raise FixtureError(f"Cannot write a {type(value).__name__} value to a fixture: {value!r}")


def _python_type(column: Column[Any]) -> type | None:
    type_ = column.type
    try:
        found = type_.python_type
        if found is object and isinstance(type_, TypeDecorator):
            found = type_.impl_instance.python_type
    except NotImplementedError:
        return None
    return found


def decode_value(column: Column[Any], value: Any) -> Any:
    """Turn fixture data back into the Python value for ``column``.

    Example:
        >>> decode_value(Post.__table__.c.price, "9.90")
        Decimal('9.90')
    """
    if value is None:
        return None
    kind = _python_type(column)
    if kind is None or (isinstance(value, dict | list) and kind is not list):
        return value
    try:
        if kind is datetime:
            return datetime.fromisoformat(value)
        if kind is date:
            return date.fromisoformat(value)
        if kind is time:
            return time.fromisoformat(value)
        if kind is Decimal:
            return Decimal(str(value))
        if kind is float:
            return float(value)
        if kind is timedelta:
            seconds = Decimal(str(value))
            whole = int(seconds)
            return timedelta(seconds=whole, microseconds=int((seconds - whole) * 10**6))
        if kind is bytes:
            return base64.b64decode(value, validate=True)
        if kind is uuid.UUID:
            return uuid.UUID(str(value))
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise FixtureError(
            f"{column.table.name}.{column.name}: cannot read {value!r} as a {kind.__name__} ({exc})"
        ) from None
    return value


# -- dumping -------------------------------------------------------------------------
def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = connection.execution_options(yield_per=500).execute(select(table).order_by(*order))
    for row in result.mappings():
        yield {name: encode_value(value) for name, value in row.items()}


def dump(
    db: Database, out: IO[str], names: Sequence[str] = (), *, indent: int | None = None
) -> int:
    """Write the rows of the named models (default: all) to ``out`` as JSON; returns the count.

    Example:
        >>> with open("blog.json", "w", encoding="utf-8") as f:
        ...     dump(db, f, ["post", "author"])
        42
    """
    tables = resolve_tables(db.metadata, names, db.base.registry)
    count = 0
    out.write("[")
    with db.engine.connect() as connection:
        for table in tables:
            for fields in _rows(connection, table):
                entry = {"model": table.name, "fields": fields}
                out.write(",\n" if count else "\n")
                out.write(json.dumps(entry, ensure_ascii=False, indent=indent))
                count += 1
    out.write("\n]\n" if count else "]\n")
    return count


# -- loading ----------------------------------------------------------------------------
def _parse(data: Any, metadata: MetaData, where: str) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(data, list):
        raise FixtureError(f"{where}: a fixture is a JSON list of objects")
    by_table: dict[str, list[dict[str, Any]]] = {}
    for number, entry in enumerate(data):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("model"), str)
            or not (isinstance(entry.get("fields"), dict))
        ):
            raise FixtureError(
                f'{where}, item {number}: expected {{"model": "<table>", "fields": {{...}}}}'
            )
        table = metadata.tables.get(entry["model"])
        if table is None:
            raise FixtureError(f"{where}, item {number}: no table {entry['model']!r}")
        fields = entry["fields"]
        unknown = [k for k in fields if k not in table.c]
        if unknown:
            raise FixtureError(
                f"{where}, item {number}: {table.name} has no column "
                f"{', '.join(map(repr, unknown))}"
            )
        row = {key: decode_value(table.c[key], value) for key, value in fields.items()}
        by_table.setdefault(table.name, []).append(row)
    return by_table


def _upsert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    dialect = connection.dialect.name
    keys = [c.name for c in table.primary_key.columns]
    if dialect in ("postgresql", "sqlite") and keys:
        module: Any = postgresql if dialect == "postgresql" else sqlite
        for group in _same_keys(rows):
            stmt = module.insert(table)
            others = [k for k in group[0] if k not in keys]
            if others:
                stmt = stmt.on_conflict_do_update(
                    index_elements=keys, set_={k: stmt.excluded[k] for k in others}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=keys)
            connection.execute(stmt, group)
        return
    for group in _same_keys(rows):
        connection.execute(insert(table), group)


def _same_keys(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return groups.values()


def _reset_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            if _python_type(column) is not int:
                continue
            name = connection.dialect.identifier_preparer.format_table(table)
            col = connection.dialect.identifier_preparer.quote(column.name)
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                    f"COALESCE(MAX({col}), 1), MAX({col}) IS NOT NULL) FROM {name}"
                ),
                {"table": name, "column": column.name},
            )


def load(db: Database, sources: Sequence[IO[str]]) -> dict[str, int]:
    """Load JSON fixtures (all in one transaction); returns rows loaded per table.

    Example:
        >>> with open("blog.json", encoding="utf-8") as f:
        ...     load(db, [f])
        {'author': 2, 'post': 40}
    """
    by_table: dict[str, list[dict[str, Any]]] = {}
    for source in sources:
        where = getattr(source, "name", "<fixture>")
        try:
            data = json.load(source)
        except json.JSONDecodeError as exc:
            raise FixtureError(f"{where} is not valid JSON: {exc}") from None
        for table, rows in _parse(data, db.metadata, str(where)).items():
            by_table.setdefault(table, []).extend(rows)
    ordered = [t for t in db.metadata.sorted_tables if t.name in by_table]
    with db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        for target in ordered:
            _upsert(connection, target, by_table[target.name])
        if connection.dialect.name == "postgresql":
            _reset_sequences(connection, ordered)
    return {t.name: len(by_table[t.name]) for t in ordered}


def count_rows(db: Database, names: Sequence[str] = ()) -> dict[str, int]:
    """Rows per table (for messages and tests).

    Example:
        >>> count_rows(db, ["post"])
        {'post': 40}
    """
    tables = resolve_tables(db.metadata, names, db.base.registry)
    with db.engine.connect() as connection:
        return {
            t.name: int(connection.scalar(select(func.count()).select_from(t)) or 0) for t in tables
        }
