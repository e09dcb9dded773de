"""pydantic models serialized by their own schema, with carboy's datetimes.

pydantic writes datetimes in its own format; a copy of a model's core schema
whose datetimes and times use carboy's (:func:`carboy._temporal.format_datetime`)
makes every path write one format. Split from :mod:`carboy._json` so that
``import carboy`` does not import pydantic: this module loads with the first
pydantic model that is encoded, or the first route whose output is one.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

import msgspec
from pydantic import BaseModel, TypeAdapter
from pydantic_core import SchemaSerializer, core_schema

from carboy._temporal import format_datetime, format_time

# Keys of a core schema that hold user values or settings, not schemas.
_NOT_SCHEMAS = frozenset({"metadata", "default", "expected", "members", "config", "function"})


def plain_temporal(value: Any) -> Any:
    """``value`` for pydantic to infer, its datetimes and times already written as text."""
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.time):
        return format_time(value)
    if isinstance(value, dict):
        return {plain_temporal(k): plain_temporal(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_temporal(item) for item in value]
    if isinstance(value, BaseModel) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return model_json(value)
    if isinstance(value, msgspec.Struct):
        # The Struct as builtins with its datetimes left as values, so the recursion
        # writes them in carboy's format; a model inside it comes through the hook.
        return plain_temporal(
            msgspec.to_builtins(value, builtin_types=_TEMPORAL, enc_hook=model_json)
        )
    return value


def model_json(value: Any) -> Any:
    """A model or dataclass instance as JSON types, by the model's own (retimed) schema.

    The JSON encoder's hook for pydantic models, and the hook here for what a
    Struct holds: anything else is not JSON serializable.
    """
    if not isinstance(value, BaseModel) and not dataclasses.is_dataclass(value):
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    model: type = type(value)
    return _model_serializer(model).to_python(value, mode="json", by_alias=True)


_TEMPORAL = (datetime.datetime, datetime.time)


def _any_json(value: Any, handler: core_schema.SerializerFunctionWrapHandler) -> Any:
    return handler(plain_temporal(value))


_DATETIME_JSON = core_schema.plain_serializer_function_ser_schema(
    format_datetime, return_schema=core_schema.str_schema(), when_used="json"
)
_TIME_JSON = core_schema.plain_serializer_function_ser_schema(
    format_time, return_schema=core_schema.str_schema(), when_used="json"
)
_ANY_JSON = core_schema.wrap_serializer_function_ser_schema(_any_json, when_used="json")
_ANY = core_schema.any_schema(serialization=_ANY_JSON)
# The schemas pydantic serializes by looking at the value ("inference", so with its
# own datetime format) get _ANY_JSON, which writes datetimes first. A PlainValidator
# ("function-plain") is one.
_ADDED = {
    "datetime": _DATETIME_JSON,
    "time": _TIME_JSON,
    "any": _ANY_JSON,
    "function-plain": _ANY_JSON,
}


def _stand_ins(schema: Any, models: dict[str, type]) -> None:
    """Name stand-ins for the models of a retimed copy (see :func:`_stand_in`), in place.

    Every model: one whose own fields did not change may still reach one that did
    through a ``definition-ref``.
    """
    if isinstance(schema, list | tuple):
        for item in schema:
            _stand_ins(item, models)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _stand_ins(value, models)
        kind = schema.get("type")
        if kind == "model" and not isinstance(schema["cls"], _InstancesOf):
            schema["cls"] = _stand_in(schema["cls"])
        elif kind == "union":
            schema["choices"] = _subclasses_first(schema["choices"], models)


def _retimed(schema: Any, models: dict[str, type]) -> tuple[Any, bool]:
    """A copy of a pydantic core schema whose datetimes and times serialize to JSON
    in carboy's format, and whether anything changed. ``models``: ref -> model class."""
    if isinstance(schema, list | tuple):
        items = [_retimed(item, models) for item in schema]
        return type(schema)(item for item, _ in items), any(changed for _, changed in items)
    if not isinstance(schema, dict):
        return schema, False
    out: dict[str, Any] = {}
    changed = False
    for key, value in schema.items():
        if key in _NOT_SCHEMAS:
            out[key] = value
        elif key == "serialization":
            out[key], changed_here = _retimed_serializer(value, models)
            changed = changed or changed_here
        else:
            out[key], changed_here = _retimed(value, models)
            changed = changed or changed_here
    kind = out.get("type")
    if "serialization" not in out and kind in _ADDED:
        out["serialization"] = _ADDED[kind]
        changed = True
    return out, changed


def _retimed_serializer(
    serializer: dict[str, Any], models: dict[str, type]
) -> tuple[dict[str, Any], bool]:
    """A schema's own ``serialization`` (a user's serializer), retimed where it infers."""
    out = dict(serializer)
    changed = False
    for key in ("schema", "return_schema"):
        if key in out:
            out[key], changed_here = _retimed(out[key], models)
            changed = changed or changed_here
    if out.get("type") in ("function-plain", "function-wrap") and "return_schema" not in out:
        # pydantic would infer the format of what the user's function returns.
        out["return_schema"] = _ANY
        changed = True
    return out, changed


def _model_refs(schema: Any, found: dict[str, type]) -> dict[str, type]:
    """Every model of a core schema by its ref."""
    if isinstance(schema, list | tuple):
        for item in schema:
            _model_refs(item, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "model" and "ref" in schema:
            found[schema["ref"]] = schema["cls"]
        for key, value in schema.items():
            if key not in _NOT_SCHEMAS:
                _model_refs(value, found)
    return found


def _subclasses_first(choices: list[Any], models: dict[str, type]) -> list[Any]:
    """A union's choices with each model before the models it subclasses.

    pydantic first looks for a choice of the value's exact type; a stand-in is no
    exact type, so the first choice the value is an instance of wins, and a ``Cat``
    must not be sent as the ``Animal`` listed before it.
    """

    def model_of(choice: Any) -> type | None:
        schema = choice[0] if isinstance(choice, tuple) else choice
        if schema.get("type") == "definition-ref":
            return models.get(schema["schema_ref"])
        cls = schema.get("cls") if schema.get("type") == "model" else None
        return getattr(cls, "_model", cls)

    classes = [model_of(choice) for choice in choices]
    found = [cls for cls in classes if cls is not None]

    def depth(cls: type | None) -> int:
        return 0 if cls is None else -sum(cls is not c and issubclass(cls, c) for c in found)

    order = sorted(range(len(choices)), key=lambda i: depth(classes[i]))
    return [choices[i] for i in order]


class _InstancesOf(type):
    """The type of a model's stand-in: any instance of the model is an instance of it."""

    _model: type

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._model)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._model)


@functools.cache
def _stand_in(model: type) -> type:
    """A stand-in for ``model`` in a retimed schema.

    pydantic-core serializes a nested model with the model's own prebuilt
    serializer (its datetime format) whenever the schema names the model class
    itself, so a retimed schema names this look-alike instead. It serializes the
    same fields: pydantic reads them from the instance.
    """
    namespace: dict[str, Any] = {"_model": model}
    descriptor_fields = getattr(model, "__pydantic_descriptor_fields__", None)
    if descriptor_fields is not None:
        namespace["__pydantic_descriptor_fields__"] = descriptor_fields
    return _InstancesOf(model.__name__, (), namespace)


def pydantic_serializer(adapter: TypeAdapter[Any]) -> SchemaSerializer:
    """``adapter``'s serializer, writing datetimes and times in carboy's format (to JSON).

    Types that hold no datetime, time or inferred value keep pydantic's own.
    """
    models = _model_refs(adapter.core_schema, {})
    schema, changed = _retimed(adapter.core_schema, models)
    if not changed:
        return adapter.serializer
    _stand_ins(schema, models)
    return SchemaSerializer(schema)


@functools.cache
def _model_serializer(model: type) -> SchemaSerializer:
    return pydantic_serializer(TypeAdapter(model))
