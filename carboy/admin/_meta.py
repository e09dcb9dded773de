"""What the admin reads from a SQLAlchemy model: its fields, keys and relations.

Read once per registered model when the admin is built: every page works from
these descriptions, never from reflection per request.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ForeignKey, Table, inspect
from sqlalchemy import types as sa_types
from sqlalchemy.orm import Mapper, RelationshipDirection, RelationshipProperty


class Kind(enum.Enum):
    """How a field is edited, shown and filtered."""

    TEXT = "text"
    LONGTEXT = "longtext"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    CHOICE = "choice"
    UUID = "uuid"
    FOREIGN_KEY = "foreign_key"
    MANY_TO_MANY = "many_to_many"
    #: Anything else (JSON, binary...): shown as text, never edited by the admin.
    OTHER = "other"


_WORDS = re.compile(r"[_\s]+")


def humanize(name: str) -> str:
    """``"created_at"`` -> ``"Created at"``; ``"category_id"`` -> ``"Category"``.

    Example:
        >>> humanize("is_staff")
        'Is staff'
    """
    if name.endswith("_id") and len(name) > 3:
        name = name[:-3]
    words = _WORDS.sub(" ", name).strip()
    return words[:1].upper() + words[1:]


@dataclass(slots=True)
class FieldInfo:
    """One field of a model as the admin sees it (a column, or a many-to-many relation).

    Attributes:
        name: The attribute's name on the model (``"title"``, ``"category_id"``, ``"tags"``).
        label: Its label on pages (``"Title"``, ``"Category"``).
        kind: How it is edited and filtered.
        column: The column, for column fields.
        nullable: May be empty (None).
        required: Must be given on a new object (not null, no default).
        max_length: Longest text the column holds.
        choices: ``(value, label)`` pairs of an enum column.
        enum: The enum class of an enum column.
        target: The model a foreign key or many-to-many relation points at.
        relation: The relationship attribute that loads the target (``"category"``).
        editable: The admin may change it (not the primary key, not OTHER).
        help: The column's ``comment`` / ``doc``.
    """

    name: str
    label: str
    kind: Kind
    column: Column[Any] | None = None
    nullable: bool = False
    required: bool = False
    max_length: int | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    enum: type[enum.Enum] | None = None
    target: type | None = None
    relation: str | None = None
    editable: bool = True
    help: str = ""
    auto_timestamp: bool = False

    @property
    def is_relation(self) -> bool:
        """A foreign key or many-to-many field."""
        return self.kind in (Kind.FOREIGN_KEY, Kind.MANY_TO_MANY)


@dataclass(slots=True)
class ChildRelation:
    """Another table whose rows point at this model's rows (a one-to-many, seen from the one).

    Attributes:
        table: The child table.
        model: Its mapped class, if it has one.
        column: The child's foreign-key column.
        ondelete: The foreign key's ``ON DELETE`` (upper case, or "").
        orm_cascade: A relationship from this model deletes the children with it.
        orm_nulls: A relationship from this model sets their key to NULL instead.
        relation: That relationship's name on this model, if any.
    """

    table: Table
    model: type | None
    column: Column[Any]
    ondelete: str
    orm_cascade: bool = False
    orm_nulls: bool = False
    relation: str | None = None

    @property
    def deletes(self) -> bool:
        """Deleting the parent deletes these rows."""
        return self.orm_cascade or self.ondelete == "CASCADE"

    @property
    def nulls(self) -> bool:
        """Deleting the parent sets these rows' key to NULL."""
        if self.deletes:
            return False
        return self.ondelete == "SET NULL" or (self.orm_nulls and bool(self.column.nullable))


@dataclass(slots=True)
class LinkRelation:
    """A many-to-many link table: deleting the parent removes its link rows."""

    name: str
    table: Table
    column: Column[Any]
    target: type


def _python_type(column: Column[Any]) -> Any:
    try:
        return column.type.python_type
    except NotImplementedError:
        return None


def _kind(column: Column[Any]) -> Kind:
    col_type = column.type
    if isinstance(col_type, sa_types.Enum):
        return Kind.CHOICE
    python = _python_type(column)
    if python is bool:
        return Kind.BOOLEAN
    if python is int:
        return Kind.INTEGER
    if python is float:
        return Kind.FLOAT
    if python is decimal.Decimal:
        return Kind.DECIMAL
    if python is dt.datetime:
        return Kind.DATETIME
    if python is dt.date:
        return Kind.DATE
    if python is dt.time:
        return Kind.TIME
    if python is uuid.UUID:
        return Kind.UUID
    if python is str:
        if isinstance(col_type, sa_types.Text) and not getattr(col_type, "length", None):
            return Kind.LONGTEXT
        if isinstance(col_type, sa_types.String) and col_type.length is None:
            return Kind.LONGTEXT
        return Kind.TEXT
    return Kind.OTHER


def _enum_choices(column: Column[Any]) -> tuple[list[tuple[str, str]], type[enum.Enum] | None]:
    col_type = column.type
    if not isinstance(col_type, sa_types.Enum):
        return [], None
    enum_class = col_type.enum_class
    if enum_class is not None:
        return [(m.name, humanize(m.name.lower())) for m in enum_class], enum_class
    return [(str(v), str(v)) for v in col_type.enums], None


def _has_default(column: Column[Any]) -> bool:
    return column.default is not None or column.server_default is not None


@dataclass(slots=True)
class ModelInfo:
    """Everything the admin knows about one model, read once.

    Attributes:
        model: The mapped class.
        table: Its table.
        pk: The primary-key column (one column: the admin's URLs hold it).
        fields: Column fields and many-to-many fields, in declaration order.
        children: Tables that point at this one (what a delete may cascade to).
        links: Many-to-many link tables (their rows go with a deleted object).
    """

    model: type
    table: Table
    pk: Column[Any]
    fields: dict[str, FieldInfo]
    children: list[ChildRelation]
    links: list[LinkRelation]

    @property
    def pk_name(self) -> str:
        """The attribute name of the primary key."""
        return _attribute_of(inspect(self.model), self.pk)

    def field(self, name: str) -> FieldInfo:
        """The field ``name``; raises KeyError."""
        return self.fields[name]

    def pk_value(self, text: str) -> Any:
        """The primary key from its text in a URL; raises ValueError when it cannot be one."""
        python = _python_type(self.pk)
        if python is int:
            if not re.fullmatch(r"-?\d{1,19}", text):
                raise ValueError(f"{text!r} is not a whole number")
            return int(text)
        if python is uuid.UUID:
            return uuid.UUID(text)
        if len(text) > 255:
            raise ValueError("too long")
        return text


def _attribute_of(mapper: Mapper[Any], column: Column[Any]) -> str:
    for prop in mapper.column_attrs:
        if column in prop.columns:
            return str(prop.key)
    return str(column.key)


def _fk_target(mapper: Mapper[Any], column: Column[Any]) -> tuple[type | None, str | None]:
    """The model a foreign-key column points at, and the relationship that loads it."""
    fks: list[ForeignKey] = list(column.foreign_keys)
    if len(fks) != 1:
        return None, None
    target_table = fks[0].column.table
    target: type | None = None
    relation: str | None = None
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.MANYTOONE and column in rel.local_columns:
            target = rel.mapper.class_
            relation = str(rel.key)
            break
    if target is None:
        for other in mapper.registry.mappers:
            if other.local_table is target_table:
                target = other.class_
                break
    return target, relation


@functools.cache
def read_model(model: type) -> ModelInfo:
    """Describe ``model`` for the admin (read once per model, then cached).

    Raises:
        ValueError: It is not a mapped class on a table, or its primary key has
            more than one column.

    Example:
        >>> [f.name for f in read_model(Post).fields.values()][:2]
        ['id', 'title']
    """
    mapper: Mapper[Any] | None = inspect(model, raiseerr=False)
    if mapper is None or not isinstance(getattr(mapper, "local_table", None), Table):
        raise ValueError(f"{model!r} is not a SQLAlchemy model on a table")
    table: Table = mapper.local_table  # type: ignore[assignment]  # checked above
    pks = list(mapper.primary_key)
    if len(pks) != 1:
        raise ValueError(
            f"{model.__name__} has a primary key of {len(pks)} columns; the admin needs "
            "one column (its pages are addressed by it)"
        )
    fields: dict[str, FieldInfo] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if not isinstance(column, Column):
            continue  # a column_property over an expression
        name = str(prop.key)
        kind = _kind(column)
        target = relation = None
        if column.foreign_keys:
            target, relation = _fk_target(mapper, column)
            if target is not None:
                kind = Kind.FOREIGN_KEY
        choices, enum_class = _enum_choices(column)
        length = getattr(column.type, "length", None)
        is_pk = column.primary_key
        auto_ts = kind is Kind.DATETIME and column.default is not None and not column.nullable
        fields[name] = FieldInfo(
            name=name,
            label=humanize(name) if name != "id" else "ID",
            kind=kind,
            column=column,
            nullable=bool(column.nullable),
            required=not column.nullable and not _has_default(column) and not is_pk,
            max_length=length if isinstance(length, int) else None,
            choices=choices,
            enum=enum_class,
            target=target,
            relation=relation,
            editable=not is_pk and kind is not Kind.OTHER,
            help=str(column.comment or column.doc or ""),
            auto_timestamp=auto_ts,
        )
    links: list[LinkRelation] = []
    for rel in mapper.relationships:
        if not _is_many_to_many(rel):
            continue
        secondary: Table = rel.secondary  # type: ignore[assignment]
        local = next(
            (
                c
                for c in secondary.columns
                if any(fk.column.table is table for fk in c.foreign_keys)
            ),
            None,
        )
        if local is None:
            continue
        name = str(rel.key)
        links.append(LinkRelation(name, secondary, local, rel.mapper.class_))
        if rel.viewonly:
            continue
        fields[name] = FieldInfo(
            name=name,
            label=humanize(name),
            kind=Kind.MANY_TO_MANY,
            nullable=True,
            target=rel.mapper.class_,
            relation=name,
        )
    pk: Column[Any] = pks[0]  # type: ignore[assignment]  # a table's key is a Column
    return ModelInfo(model, table, pk, fields, _children(mapper, table), links)


def _is_many_to_many(rel: RelationshipProperty[Any]) -> bool:
    return rel.direction is RelationshipDirection.MANYTOMANY and isinstance(rel.secondary, Table)


def _children(mapper: Mapper[Any], table: Table) -> list[ChildRelation]:
    """Every table with a foreign key to ``table`` (link tables of M2M relations aside)."""
    orm: dict[Any, RelationshipProperty[Any]] = {}
    for rel in mapper.relationships:
        if rel.direction is RelationshipDirection.ONETOMANY:
            for column in rel.remote_side:
                orm[column] = rel
    secondaries = {
        rel.secondary for rel in mapper.relationships if isinstance(rel.secondary, Table)
    }
    found: list[ChildRelation] = []
    metadata = table.metadata
    by_table = {m.local_table: m.class_ for m in mapper.registry.mappers}
    for other in metadata.sorted_tables:
        if other in secondaries:
            continue
        for column in other.columns:
            for fk in column.foreign_keys:
                if fk.column.table is not table or (other is table and column.primary_key):
                    continue
                found_rel = orm.get(column)
                cascade = found_rel is not None and "delete" in found_rel.cascade
                nulls = found_rel is not None and not cascade and not found_rel.passive_deletes
                found.append(
                    ChildRelation(
                        table=other,
                        model=by_table.get(other),
                        column=column,
                        ondelete=(fk.ondelete or "").upper(),
                        orm_cascade=cascade,
                        orm_nulls=nulls,
                        relation=str(found_rel.key) if found_rel is not None else None,
                    )
                )
    return found
