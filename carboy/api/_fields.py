"""A model's fields as a resource shows them: read from the SQLAlchemy mapping, once.

Each column becomes a :class:`FieldSpec` (its wire name, Python type, bounds,
whether a client may write it and must send it); relationships become nested
or id fields; ``computed`` names become read-only fields read from the object.
From the specs come the pydantic models that validate input (create, replace,
partial update) and describe output, and the getters that turn an object into
its JSON dict without a pydantic round trip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.alias_generators import to_camel
from sqlalchemy.orm import Mapper, RelationshipProperty

from carboy.exceptions import ConfigurationError

#: How a related object is shown: its primary key, or its own fields.
RelationMode = Literal["id", "nested"]

_INT_BOUNDS: dict[type[sa.types.TypeEngine[Any]], tuple[int, int]] = {
    sa.SmallInteger: (-(2**15), 2**15 - 1),
    sa.BigInteger: (-(2**63), 2**63 - 1),
    sa.Integer: (-(2**31), 2**31 - 1),  # PostgreSQL's integer; SQLite holds more
}


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a resource.

    Attributes:
        name: The attribute of the model (``created_at``).
        wire: Its name in JSON and in query strings (``createdAt`` with camelCase).
        type: Its Python type (``str | None`` for a nullable column).
        constraints: pydantic ``Field`` bounds (``max_length``, ``ge``...).
        writable: Whether a client may send it (create, update).
        readable: Whether responses show it (False for write-only fields).
        required: Whether a create (or a full update) must send it.
        column: The mapped column, for filters and ordering (None for computed).
        nested: The related model's fields, for a nested relation.
        many: A to-many relation (a list).
    """

    name: str
    wire: str
    type: Any
    constraints: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    writable: bool = True
    readable: bool = True
    required: bool = False
    column: Any = None
    nested: tuple[FieldSpec, ...] | None = None
    related: type | None = None
    many: bool = False
    relation: RelationMode | None = None


def column_type(column: Any) -> tuple[Any, dict[str, Any]]:
    """The Python type of a column and the bounds its database type puts on values."""
    kind = column.type
    constraints: dict[str, Any] = {}
    try:
        python: Any = kind.python_type
    except NotImplementedError:
        python = Any
    if isinstance(kind, sa.Enum) and kind.enum_class is not None:
        python = kind.enum_class
    elif isinstance(kind, sa.String) and kind.length:
        constraints["max_length"] = kind.length
    elif isinstance(kind, sa.Numeric) and python is decimal.Decimal:
        if kind.precision is not None:
            constraints["max_digits"] = kind.precision
        if kind.scale is not None:
            constraints["decimal_places"] = kind.scale
    elif isinstance(kind, sa.Integer):
        for sa_type, (low, high) in _INT_BOUNDS.items():
            if isinstance(kind, sa_type):
                constraints.update(ge=low, le=high)
                break
    elif isinstance(kind, sa.JSON):
        python = Any
    return python, constraints


def _made_by_default(column: Any) -> bool:
    default = column.default
    return default is not None and not getattr(default, "is_scalar", False)


def scalar_default(column: Any) -> tuple[bool, Any]:
    """(whether the column has a plain default value, or is nullable; that value)."""
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        return True, default.arg
    if default is None and column.server_default is None and column.nullable:
        return True, None
    return False, None


def _has_default(column: Any) -> bool:
    return bool(column.default is not None or column.server_default is not None or column.nullable)


def model_fields(
    model: type,
    *,
    fields: Sequence[str] | None,
    read_only: Iterable[str],
    write_only: Iterable[str],
    writable: Iterable[str] = (),
    computed: Mapping[str, Any],
    relations: Mapping[str, RelationMode],
    camel_case: bool,
    where: str,
) -> list[FieldSpec]:
    """The fields of ``model`` as a resource shows them (see :class:`FieldSpec`).

    Raises:
        ConfigurationError: A name given is not a column, relation or computed field.
    """
    mapper = _mapper(model, where)
    read_only, write_only, writable = set(read_only), set(write_only), set(writable)
    columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
    relationships = {rel.key: rel for rel in mapper.relationships}
    known = set(columns) | set(relationships) | set(computed)
    for label, names in (
        ("fields", fields or ()),
        ("read_only", read_only),
        ("write_only", write_only),
        ("writable", writable),
        ("relations", relations),
    ):
        unknown = sorted(set(names) - known)
        if unknown:
            raise ConfigurationError(
                f"{where}: {label} names {unknown}, which {model.__name__} does not have; "
                f"its fields are {sorted(columns)}, relations {sorted(relationships)}"
            )
    for name, mode in relations.items():
        if mode not in ("id", "nested"):
            raise ConfigurationError(
                f"{where}: relations[{name!r}] is 'id' or 'nested', not {mode!r}"
            )
    chosen = list(fields) if fields is not None else [*columns, *relations, *computed]
    specs: list[FieldSpec] = []
    for name in chosen:
        wire = to_camel(name) if camel_case else name
        if name in computed:
            specs.append(FieldSpec(name, wire, computed[name], writable=False))
        elif name in columns:
            column = columns[name]
            python, constraints = column_type(column)
            if column.nullable:
                python = python | None
            generated = column.primary_key and column.autoincrement in (True, "auto")
            # A value the model or the database makes (created_at's callable default, a
            # server default) is read-only unless the resource lists it as writable.
            made = name not in writable and (
                column.server_default is not None or _made_by_default(column)
            )
            specs.append(
                FieldSpec(
                    name,
                    wire,
                    python,
                    constraints,
                    writable=name not in read_only and not generated and not made,
                    readable=name not in write_only,
                    required=not _has_default(column) and not generated,
                    column=column,
                )
            )
        else:
            specs.append(
                _relation(
                    relationships[name], name, wire, relations.get(name, "id"), camel_case, where
                )
            )
    return specs


def _mapper(model: type, where: str) -> Mapper[Any]:
    try:
        mapper: Any = sa.inspect(model)
    except sa.exc.NoInspectionAvailable:
        raise ConfigurationError(f"{where}: {model!r} is not a SQLAlchemy model") from None
    if not isinstance(mapper, Mapper):
        raise ConfigurationError(f"{where}: {model!r} is not a SQLAlchemy model class")
    return mapper


def _relation(
    rel: RelationshipProperty[Any],
    name: str,
    wire: str,
    mode: RelationMode,
    camel_case: bool,
    where: str,
) -> FieldSpec:
    target = rel.mapper.class_
    pk = primary_key(target, where)
    many = bool(rel.uselist)
    if mode == "id":
        pk_type: Any = column_type(pk)[0]
        shown: Any = list[pk_type] if many else pk_type | None
        return FieldSpec(
            name, wire, shown, writable=False, related=target, many=many, relation="id"
        )
    nested = [
        spec
        for spec in model_fields(
            target,
            fields=None,
            read_only=(),
            write_only=(),
            computed={},
            relations={},
            camel_case=camel_case,
            where=f"{where}, relation {name!r}",
        )
        if spec.column is not None
    ]
    return FieldSpec(
        name,
        wire,
        Any,
        writable=False,
        nested=tuple(nested),
        related=target,
        many=many,
        relation="nested",
    )


def primary_key(model: type, where: str) -> Any:
    """The one primary-key column of ``model`` (composite keys are refused)."""
    keys = list(_mapper(model, where).primary_key)
    if len(keys) != 1:
        raise ConfigurationError(
            f"{where}: {model.__name__} has {len(keys)} primary-key columns; a resource "
            "needs exactly one (or give lookup= a unique column)"
        )
    return keys[0]


# -- pydantic models -----------------------------------------------------------------
def _model_config(camel_case: bool) -> ConfigDict:
    config = ConfigDict(extra="forbid", populate_by_name=False)
    if camel_case:
        config["alias_generator"] = to_camel
    return config


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def input_model(
    name: str, specs: Sequence[FieldSpec], *, partial: bool, camel_case: bool
) -> type[BaseModel]:
    """The pydantic model a create/update (``partial=False``) or PATCH body validates against.

    Unknown keys are refused (``extra="forbid"``): a misspelt field is a 422, not
    silently dropped. In a partial model every field is optional; only those sent
    are written.
    """
    definitions: dict[str, Any] = {}
    for spec in specs:
        if not spec.writable or spec.column is None:
            continue
        bounds = dict(spec.constraints)
        plain, value = scalar_default(spec.column)
        if partial or (not spec.required and not plain):
            default = Field(None, json_schema_extra=_no_default, **bounds)
        elif spec.required:
            default = Field(..., **bounds)
        else:
            default = Field(value, **bounds)
        definitions[spec.name] = (spec.type, default)
    return create_model(name, __config__=_model_config(camel_case), **definitions)


def output_model(
    name: str, specs: Sequence[FieldSpec], *, camel_case: bool, models: dict[str, type[BaseModel]]
) -> type[BaseModel]:
    """The pydantic model that describes one object in responses (for the document)."""
    definitions: dict[str, Any] = {}
    for spec in specs:
        if not spec.readable:
            continue
        tp = spec.type
        if spec.nested is not None:
            nested_name = f"{name}{to_camel(spec.name)[:1].upper()}{to_camel(spec.name)[1:]}"
            nested = models.get(nested_name) or output_model(
                nested_name, spec.nested, camel_case=camel_case, models=models
            )
            models[nested_name] = nested
            tp = list[nested] if spec.many else nested | None  # type: ignore[valid-type]
        definitions[spec.name] = (tp, Field(...))
    config = ConfigDict(populate_by_name=True)
    if camel_case:
        config["alias_generator"] = to_camel
    return create_model(name, __config__=config, **definitions)


# -- objects to JSON ----------------------------------------------------------------
Getter = Callable[[Any], Any]


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def serializer(specs: Sequence[FieldSpec]) -> Callable[[Any], dict[str, Any]]:
    """Compile ``obj -> dict`` for these fields (relations read as loaded)."""
    steps: list[tuple[str, Getter]] = []
    for spec in specs:
        if not spec.readable:
            continue
        steps.append((spec.wire, _getter(spec)))

    def serialize(obj: Any) -> dict[str, Any]:
        return {wire: get(obj) for wire, get in steps}

    return serialize


def _getter(spec: FieldSpec) -> Getter:
    name = spec.name
    if spec.relation == "id":
        related = spec.related
        pk_name = primary_key(related, "relation").key if related is not None else "id"
        if spec.many:
            return lambda obj: [getattr(item, pk_name) for item in getattr(obj, name)]

        def one_id(obj: Any) -> Any:
            item = getattr(obj, name)
            return None if item is None else getattr(item, pk_name)

        return one_id
    if spec.nested is not None:
        inner = serializer(spec.nested)
        if spec.many:
            return lambda obj: [inner(item) for item in getattr(obj, name)]

        def one(obj: Any) -> Any:
            item = getattr(obj, name)
            return None if item is None else inner(item)

        return one
    return lambda obj: _plain(getattr(obj, name))
