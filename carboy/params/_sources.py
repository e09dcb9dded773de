"""Where the values of request parameters come from: one :class:`Source` per ``ParamSource``.

``compile_plan`` decides each parameter's source (its marker's; else the path for
a name in the route path, a file for ``UploadFile``, the body for a model, the
query string for anything else), then hands every parameter of one source to
that source's :meth:`Source.compile`, once, at start-up. ``SOURCES`` is the
registry. A new source (a session value, say) is one subclass here, registered
in ``SOURCES``, with its ``ParamSource`` member and a marker whose ``source``
names it; ``compile_plan`` does not change.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from carboy.datastructures import FormData, UploadFile
from carboy.exceptions import ConfigurationError, FieldError, HTTPException
from carboy.params._context import BodyExtractor, Context, Extractor
from carboy.params._info import ParamSource
from carboy.params._markers import MISSING, Body, Header, Param
from carboy.params._validation import Validator
from carboy.requests import Request


@dataclass(frozen=True, slots=True)
class Wanted:
    """One handler parameter that a request source fills, as ``compile_plan`` read it."""

    name: str
    source: ParamSource
    #: The annotation without ``Annotated`` metadata and ``Optional``: what sources inspect.
    base: Any
    #: The ``Annotated`` metadata other than the marker (pydantic constraints...).
    metadata: tuple[Any, ...]
    #: MISSING when the parameter is required.
    default: Any
    marker: Param | None
    #: Checks and converts a value to the annotation (None: taken as it comes).
    validator: Validator | None
    #: The annotation is a sequence (``list[str]``): every value is taken, not the last.
    multi: bool
    #: How error messages name the parameter.
    where: str

    @property
    def alias(self) -> str | None:
        """The marker's ``alias=``."""
        return self.marker.alias if self.marker is not None else None

    @property
    def constraints(self) -> Mapping[str, Any]:
        """The marker's constraints (``ge``, ``max_length``...)."""
        return self.marker.constraints if self.marker is not None else {}


@dataclass(frozen=True, slots=True)
class Fetch:
    """How one parameter's value is fetched, as its source compiled it."""

    #: An :data:`Extractor`, or a :data:`BodyExtractor` for a source that reads the body.
    extract: Extractor | BodyExtractor
    #: The parameter's name in the request (header names lower-cased).
    wire_name: str
    #: A body value that is one key of the JSON object, not the whole body.
    embed: bool = False
    #: The matched path value passed as the router converted it: a handler of only
    #: such parameters can be called with the path parameters (``Plan.path_only``).
    raw: bool = False


class Source:
    """Where the values of one or more ``ParamSource`` kinds come from.

    One instance serves the kinds ``SOURCES`` maps to it, and gets the
    parameters of all of them together (a form's fields and files).
    """

    #: Its extractors read the body: they are awaited, after the ones that do not.
    reads_body: ClassVar[bool] = False
    #: Kinds whose values are taken as they come, with no validator (uploaded files).
    unvalidated: ClassVar[frozenset[ParamSource]] = frozenset()

    def compile(self, wanted: Sequence[Wanted], path_params: Mapping[str, Any]) -> list[Fetch]:
        """A :class:`Fetch` for each of one signature's parameters of this source, in order.

        ``path_params``: the route path's names and their converters.
        """
        return [self.fetch(w, path_params) for w in wanted]

    def fetch(self, wanted: Wanted, path_params: Mapping[str, Any]) -> Fetch:
        """The :class:`Fetch` of one parameter (sources that need no others' implement this)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither fetch() nor compile()")


def _missing(loc: list[str | int]) -> FieldError:
    return FieldError(loc, "Field required", "missing")


class PathSource(Source):
    """A value matched in the route's path; as the router converted it when that suffices."""

    def fetch(self, wanted: Wanted, path_params: Mapping[str, Any]) -> Fetch:
        name = wanted.name
        if name not in path_params:
            raise ConfigurationError(f"{wanted.where}: the route path has no {{{name}}}")
        converted = getattr(path_params[name], "python_type", str)
        raw = wanted.base is converted and not wanted.constraints and not wanted.metadata
        validator = None if raw else wanted.validator
        if validator is None:
            return Fetch(lambda ctx: ctx.scope["path_params"][name], name, raw=raw)

        def extract(ctx: Context) -> Any:
            return validator(ctx.scope["path_params"][name], ["path", name], ctx.errors)

        return Fetch(extract, name, raw=raw)


class _ScalarSource(Source):
    """Values of one of the request's multi-dicts (query string, headers, cookies)."""

    #: The ``Request`` attribute holding the values.
    container: ClassVar[str]

    def key(self, wanted: Wanted) -> str:
        """The name looked up in the container."""
        return wanted.alias or wanted.name

    def fetch(self, wanted: Wanted, path_params: Mapping[str, Any]) -> Fetch:
        source = wanted.source.value
        key = self.key(wanted)
        default, validator, multi = wanted.default, wanted.validator, wanted.multi
        container_of = operator.attrgetter(self.container)

        def values(ctx: Context) -> Any:
            container = container_of(ctx.connection)
            if multi:
                found = (
                    container.getlist(key)
                    if hasattr(container, "getlist")
                    else ([container[key]] if key in container else [])
                )
                return found if found else MISSING
            return container.get(key, MISSING)

        def extract(ctx: Context) -> Any:
            raw = values(ctx)
            if raw is MISSING:
                if default is MISSING:
                    ctx.errors.append(_missing([source, key]))
                    return None
                return default
            if validator is None:
                return raw
            return validator(raw, [source, key], ctx.errors)

        return Fetch(extract, key)


class QuerySource(_ScalarSource):
    """A query-string parameter (the default for plain scalar parameters)."""

    container = "query_params"


class HeaderSource(_ScalarSource):
    """A request header: ``user_agent`` reads ``user-agent`` (``convert_underscores``)."""

    container = "headers"

    def key(self, wanted: Wanted) -> str:
        convert = wanted.marker.convert_underscores if isinstance(wanted.marker, Header) else True
        name = wanted.name.replace("_", "-") if convert else wanted.name
        return (wanted.alias or name).lower()


class CookieSource(_ScalarSource):
    """A cookie."""

    container = "cookies"


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_json_type(ctype: str) -> bool:
    """``application/json`` or ``application/*+json`` (a media type without parameters)."""
    return ctype == "application/json" or (
        ctype.startswith("application/") and ctype.endswith("+json")
    )


class BodySource(Source):
    """The JSON body: the whole of it for one body parameter, one key each for several.

    The body's Content-Type must be JSON unless every body parameter relaxes it
    (``Body(strict_content_type=False)``): one strict model keeps it strict.
    """

    reads_body = True

    def compile(self, wanted: Sequence[Wanted], path_params: Mapping[str, Any]) -> list[Fetch]:
        strict = any(not isinstance(w.marker, Body) or w.marker.strict_content_type for w in wanted)
        if len(wanted) == 1 and not (isinstance(wanted[0].marker, Body) and wanted[0].marker.embed):
            only = wanted[0]
            return [
                Fetch(
                    _whole_body_extractor(only.default, only.validator, strict),
                    only.alias or only.name,
                )
            ]
        return [
            Fetch(
                _body_key_extractor(w.alias or w.name, w.default, w.validator, strict),
                w.alias or w.name,
                embed=True,
            )
            for w in wanted
        ]


class FormSource(Source):
    """A field or an uploaded file of a urlencoded or multipart form."""

    reads_body = True
    unvalidated = frozenset({ParamSource.FILE})

    def fetch(self, wanted: Wanted, path_params: Mapping[str, Any]) -> Fetch:
        key = wanted.alias or wanted.name
        extract = _form_extractor(
            wanted.source.value, key, wanted.default, wanted.validator, wanted.multi
        )
        return Fetch(extract, key)


_FORM = FormSource()

#: The request sources, by ``ParamSource``. Sources that read the body run in this
#: order (the JSON body before forms), each one's parameters in signature order.
SOURCES: Mapping[ParamSource, Source] = {
    ParamSource.PATH: PathSource(),
    ParamSource.QUERY: QuerySource(),
    ParamSource.HEADER: HeaderSource(),
    ParamSource.COOKIE: CookieSource(),
    ParamSource.BODY: BodySource(),
    ParamSource.FORM: _FORM,
    ParamSource.FILE: _FORM,
}


async def _read_body_data(ctx: Context, strict: bool) -> Any:
    """The body as Python data: parsed JSON (or, not ``strict``, a form as a dict);
    MISSING when empty.

    ``strict``: only a JSON Content-Type is read, anything else is a 415, so a
    cross-site ``<form>`` or no-cors ``fetch`` (which cannot send one without a
    CORS preflight) never reaches a JSON handler.
    """
    if "carboy.body_data" in ctx.cache:
        return ctx.cache["carboy.body_data"]
    request: Request = ctx.connection
    ctype = request.content_type
    data: Any
    if strict:
        if not is_json_type(ctype) and (ctype or await request.body()):
            raise HTTPException(
                415,
                f"Unsupported Content-Type {ctype or '(none)'!r}: this endpoint takes a "
                "JSON body; send Content-Type: application/json",
            )
        raw = await request.body()
        data = await request.json() if raw else MISSING
    elif ctype in _FORM_TYPES:
        form = await request.form()
        data = {}
        for k, v in form.multi_items():
            if k in data:
                data[k] = [*data[k], v] if isinstance(data[k], list) else [data[k], v]
            else:
                data[k] = v
    elif ctype in ("", "text/plain") or is_json_type(ctype):
        raw = await request.body()
        data = await request.json() if raw else MISSING
    else:
        raise HTTPException(
            415, f"Unsupported Content-Type {ctype!r}: send application/json or a form"
        )
    ctx.cache["carboy.body_data"] = data
    return data


def _whole_body_extractor(default: Any, validator: Validator | None, strict: bool) -> BodyExtractor:
    async def extract(ctx: Context) -> Any:
        data = await _read_body_data(ctx, strict)
        if data is MISSING:
            if default is MISSING:
                ctx.errors.append(_missing(["body"]))
                return None
            return default
        return validator(data, ["body"], ctx.errors) if validator else data

    return extract


def _body_key_extractor(
    key: str, default: Any, validator: Validator | None, strict: bool
) -> BodyExtractor:
    async def extract(ctx: Context) -> Any:
        data = await _read_body_data(ctx, strict)
        if data is MISSING:
            data = {}
        if not isinstance(data, dict):
            ctx.errors.append(FieldError(["body"], "Input should be an object", "dict_type"))
            return None
        if key not in data:
            if default is MISSING:
                ctx.errors.append(_missing(["body", key]))
                return None
            return default
        return validator(data[key], ["body", key], ctx.errors) if validator else data[key]

    return extract


def _form_extractor(
    source: str, key: str, default: Any, validator: Validator | None, multi: bool
) -> BodyExtractor:
    async def extract(ctx: Context) -> Any:
        request: Request = ctx.connection
        ctype = request.content_type
        if ctype not in _FORM_TYPES:
            raise HTTPException(
                415,
                f"Unsupported Content-Type {ctype or '(none)'!r}: this endpoint takes a form; "
                "send application/x-www-form-urlencoded or multipart/form-data",
            )
        form: FormData = await request.form()
        values = form.getlist(key)
        if not values:
            if default is MISSING:
                ctx.errors.append(_missing([source, key]))
                return None
            return default
        if source == "file":
            files = [v for v in values if isinstance(v, UploadFile)]
            if len(files) != len(values):
                ctx.errors.append(
                    FieldError([source, key], "Expected an uploaded file", "file_type")
                )
                return None
            return files if multi else files[-1]
        raw = values if multi else values[-1]
        if isinstance(raw, UploadFile):
            ctx.errors.append(FieldError([source, key], "Expected a field, got a file", "str_type"))
            return None
        return validator(raw, [source, key], ctx.errors) if validator else raw

    return extract
