"""Python types -> JSON Schema (2020-12, as OpenAPI 3.1 uses it), shared components once.

Every type a document needs is registered first (:meth:`Schemas.add` returns a
placeholder the operation holds), then :meth:`Schemas.resolve` generates them
all in one pass, so that models used by several operations (or with the same
class name in two modules) become one named component each. pydantic models,
dataclasses, ``TypedDict`` and plain types go through pydantic's JSON Schema
generator; msgspec ``Struct`` types through msgspec's own.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import pydantic
from pydantic import Field, TypeAdapter

from carboy.datastructures import UploadFile
from carboy.exceptions import ConfigurationError

#: Where components live in an OpenAPI document.
REF_PREFIX = "#/components/schemas/"
Mode = Literal["validation", "serialization"]


@dataclasses.dataclass(eq=False)
class SchemaRef:
    """A schema still to be generated: the operation holds this, the document its value."""

    type: Any
    mode: Mode
    where: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        """The generated schema (after :meth:`Schemas.resolve`)."""
        if self.value is None:
            raise RuntimeError(f"schema of {self.type!r} read before Schemas.resolve()")
        return {**self.value, **self.extra}


def _walk(tp: Any) -> typing.Iterator[Any]:
    yield tp
    for arg in get_args(tp):
        if not isinstance(arg, (str, int, float, bool, bytes)) and arg is not None:
            yield from _walk(arg)


def uses_struct(tp: Any) -> bool:
    """True when a msgspec ``Struct`` appears anywhere in ``tp`` (``list[Point]`` included)."""
    return any(isinstance(t, type) and issubclass(t, msgspec.Struct) for t in _walk(tp))


def with_constraints(tp: Any, constraints: Mapping[str, Any]) -> Any:
    """``tp`` with a marker's ``ge``/``max_length``... as pydantic metadata (for its schema)."""
    return Annotated[tp, Field(**dict(constraints))] if constraints else tp


def is_upload(tp: Any) -> bool:
    """True for ``UploadFile``, ``UploadFile | None`` and sequences of them."""
    return any(isinstance(t, type) and issubclass(t, UploadFile) for t in _walk(tp))


def upload_schema(tp: Any) -> dict[str, Any]:
    """The schema of a file field: binary content, or an array of it."""
    one = {"type": "string", "format": "binary"}
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        return upload_schema(rest[0]) if len(rest) == 1 else one
    if origin in (list, tuple, set, frozenset, typing.Sequence):
        return {"type": "array", "items": one}
    return one


class Schemas:
    """The schemas of one document: collect with :meth:`add`, then :meth:`resolve` once."""

    def __init__(self) -> None:
        self._refs: list[SchemaRef] = []
        #: The named components (models), by name.
        self.components: dict[str, Any] = {}

    def add(self, tp: Any, mode: Mode, where: str, **extra: Any) -> SchemaRef:
        """Register ``tp`` (as read from a request, or as sent in a response)."""
        ref = SchemaRef(tp, mode, where, dict(extra))
        self._refs.append(ref)
        return ref

    def component(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        """Add a hand-written component (the error shapes) and return its ``$ref``."""
        self.components[name] = schema
        return {"$ref": REF_PREFIX + name}

    def resolve(self) -> None:
        """Generate every registered schema; models become shared components.

        Raises:
            ConfigurationError: A type cannot be described (naming the route).
        """
        by_pydantic = [r for r in self._refs if not uses_struct(r.type)]
        by_msgspec = [r for r in self._refs if uses_struct(r.type)]
        if by_pydantic:
            inputs = []
            for index, ref in enumerate(by_pydantic):
                try:
                    adapter: TypeAdapter[Any] = TypeAdapter(ref.type)
                except (pydantic.PydanticSchemaGenerationError, TypeError) as exc:
                    raise _undescribable(ref, exc) from exc
                inputs.append((index, ref.mode, adapter))
            try:
                found, definitions = TypeAdapter.json_schemas(
                    inputs, ref_template=REF_PREFIX + "{model}"
                )
            except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
                raise ConfigurationError(f"OpenAPI: cannot describe a type: {exc}") from exc
            for index, ref in enumerate(by_pydantic):
                ref.value = found[(index, ref.mode)]
            self._merge(definitions.get("$defs", {}), "pydantic")
        if by_msgspec:
            try:
                values, definitions = msgspec.json.schema_components(
                    [r.type for r in by_msgspec], ref_template=REF_PREFIX + "{name}"
                )
            except TypeError as exc:
                raise _undescribable(by_msgspec[0], exc) from exc
            for ref, value in zip(by_msgspec, values, strict=True):
                ref.value = dict(value)
            self._merge(definitions, "msgspec")

    def _merge(self, definitions: Mapping[str, Any], by: str) -> None:
        for name, schema in definitions.items():
            known = self.components.get(name)
            if known is not None and known != schema:
                raise ConfigurationError(
                    f"OpenAPI: two different types are both named {name!r} (one described by "
                    f"{by}); rename one of them so the document can name each"
                )
            self.components[name] = schema


def _undescribable(ref: SchemaRef, exc: Exception) -> ConfigurationError:
    return ConfigurationError(
        f"OpenAPI: cannot describe {ref.type!r} ({ref.where}): {exc}. Use a pydantic model, "
        "msgspec Struct, dataclass or plain type, or leave the route out of the document "
        "with extra={'include_in_schema': False}"
    )
