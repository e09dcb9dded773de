"""The OpenAPI 3.1 document of an app, from what ``app.routes_info()`` publishes.

One pass over the built app's routes: each HTTP route that is in the schema
becomes one operation per method, with its parameters (and their
constraints), its request body (JSON, urlencoded or multipart form), its
responses (the success status with the return type or ``response_model``,
the 422 and the other errors carboy sends, those declared in
``extra={"responses": ...}``), its security (from the guards of
:mod:`carboy.auth` among its dependencies), tags, an operation id, the
summary and description of the handler's docstring, examples and
deprecation. ``extra={"openapi_extra": {...}}`` is merged in last.
"""

from __future__ import annotations

import copy
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carboy.api._schemas import (
    SchemaRef,
    Schemas,
    is_upload,
    upload_schema,
    with_constraints,
)
from carboy.api._security import Security
from carboy.api._throttling import policy_field, policy_name
from carboy.exceptions import ConfigurationError
from carboy.params import ParamInfo, ParamSource
from carboy.responses import Response, status_phrase
from carboy.routing import (
    FloatConverter,
    IntConverter,
    PathConverter,
    RouteInfo,
    StringConverter,
    UUIDConverter,
    parse_path,
)

if TYPE_CHECKING:
    from carboy.app import Carboy

#: The OpenAPI version the documents are written in.
OPENAPI_VERSION = "3.1.0"
#: Headers OpenAPI says tools must ignore as parameters (they have their own fields).
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_][A-Za-z0-9_]*)?}")
_IN = {
    ParamSource.PATH: "path",
    ParamSource.QUERY: "query",
    ParamSource.HEADER: "header",
    ParamSource.COOKIE: "cookie",
}

#: One field error, as every carboy 422 lists them.
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "field": {"type": "string"},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
    "required": ["loc", "field", "msg", "type"],
}
#: carboy's default error body (``carboy.errors.default_envelope``).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "detail": {},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "required": ["status", "detail"],
}
#: RFC 9457 problem details, as an API's routes send them.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "required": ["type", "title", "status"],
}


@dataclass
class DocumentOptions:
    """What a document says about the API as a whole (``info``, ``servers``, ``tags``)."""

    title: str = "API"
    version: str = "0.1.0"
    description: str | None = None
    servers: Sequence[Mapping[str, Any]] = ()
    tags: Sequence[Mapping[str, Any]] = ()
    #: Which routes are in the document (default: every route in the schema).
    include: Callable[[RouteInfo], bool] | None = None
    #: The routes whose errors are problem details (the API module's own).
    problem_routes: Callable[[RouteInfo], bool] = field(default=lambda info: False)
    #: The error body of the other routes, as a JSON Schema (None: carboy's default).
    error_schema: Mapping[str, Any] | None = None
    #: The security schemes, and which operations need them (from carboy.auth's guards).
    security: Security | None = None
    #: Dependencies that answer 429 (throttles): operations that run one document it.
    throttles: Sequence[Any] = ()
    #: The carboy.cache throttle a route counts on (None: none): its 429 and RateLimit fields.
    rate_limit: Callable[[RouteInfo], Any] = field(default=lambda info: None)


def rate_limit_headers(throttle: Any) -> dict[str, Any]:
    """The RateLimit-Policy and RateLimit fields of a throttled operation's responses."""
    policy = policy_field(throttle)
    return {
        "RateLimit-Policy": {
            "description": "The quota (q requests per window of w seconds); "
            "draft-ietf-httpapi-ratelimit-headers",
            "schema": {"type": "string", "example": policy},
        },
        "RateLimit": {
            "description": "What is left of the quota (r) and the seconds until it resets (t)",
            "schema": {"type": "string", "example": f'"{policy_name(throttle)}";r=0;t=1'},
        },
    }


def openapi_path(path: str) -> str:
    """A carboy path template as OpenAPI writes it: ``/posts/{id:int}`` -> ``/posts/{id}``.

    Example:
        >>> openapi_path("/blog/{year:int}/{slug}")
        '/blog/{year}/{slug}'
    """
    return _PARAM.sub(r"{\1}", path)


class OpenAPIBuilder:
    """Builds one OpenAPI 3.1 document from a built app's routes.

    Example:
        >>> document = OpenAPIBuilder(app, DocumentOptions(title="Shop")).build()
        >>> document["openapi"]
        '3.1.0'
    """

    def __init__(self, app: Carboy, options: DocumentOptions) -> None:
        self.app = app
        self.options = options
        self.schemas = Schemas()
        self._ids: dict[str, int] = {}
        self._names: dict[str, int] = {}
        self._refs: list[tuple[dict[str, Any], str, SchemaRef]] = []

    def build(self) -> dict[str, Any]:
        """The document, as a dict of JSON values."""
        self.schemas.component("FieldError", FIELD_ERROR_SCHEMA)
        error = dict(self.options.error_schema or ERROR_SCHEMA)
        self.schemas.component("Error", error)
        self.schemas.component("Problem", PROBLEM_SCHEMA)
        routes = [
            info
            for info in self.app.routes_info()
            if isinstance(info, RouteInfo)
            and not info.websocket
            and info.include_in_schema
            and (self.options.include is None or self.options.include(info))
        ]
        for info in routes:
            last = info.name.rpartition(".")[2]
            self._names[last] = self._names.get(last, 0) + 1
        paths: dict[str, dict[str, Any]] = {}
        for info in routes:
            for method in info.methods:
                if method in ("HEAD", "OPTIONS"):
                    continue
                path = openapi_path(info.path)
                paths.setdefault(path, {})[method.lower()] = self._operation(info, method)
        self.schemas.resolve()
        for holder, key, ref in self._refs:
            holder[key] = ref.get()
        document: dict[str, Any] = {
            "openapi": OPENAPI_VERSION,
            "info": {"title": self.options.title, "version": self.options.version},
            "paths": paths,
            "components": {"schemas": dict(sorted(self.schemas.components.items()))},
        }
        if self.options.description:
            document["info"]["description"] = self.options.description
        if self.options.servers:
            document["servers"] = [dict(s) for s in self.options.servers]
        security = self.options.security
        if security is not None and security.schemes:
            document["components"]["securitySchemes"] = dict(security.schemes)
        tags = self._tags(routes)
        if tags:
            document["tags"] = tags
        return document

    # -- one operation ---------------------------------------------------------
    def _operation(self, info: RouteInfo, method: str) -> dict[str, Any]:
        where = f"{method} {info.path} ({info.source})"
        operation: dict[str, Any] = {"operationId": self._operation_id(info, method)}
        if info.tags:
            operation["tags"] = list(dict.fromkeys(info.tags))
        if info.summary:
            operation["summary"] = info.summary
        if info.description:
            operation["description"] = info.description
        if info.deprecated:
            operation["deprecated"] = True
        parameters = self._parameters(info, where)
        if parameters:
            operation["parameters"] = parameters
        body = self._request_body(info, where)
        if body is not None:
            operation["requestBody"] = body
        guarded = False
        security = self.options.security
        if security is not None:
            requirement = security.requirement(info, method)
            if requirement is not None:
                operation["security"] = requirement.alternatives
                guarded = True
                if requirement.note:
                    text = operation.get("description", "")
                    operation["description"] = (text + "\n\n" if text else "") + requirement.note
        operation["responses"] = self._responses(info, where, body is not None, guarded)
        extra = info.extra.get("openapi_extra")
        if extra:
            _deep_merge(operation, copy.deepcopy(dict(extra)))
        return operation

    def _operation_id(self, info: RouteInfo, method: str) -> str:
        last = info.name.rpartition(".")[2]
        base = last if self._names.get(last, 0) <= 1 else info.name.replace(".", "_")
        if len(info.methods) > 1:
            base = f"{base}_{method.lower()}"
        base = re.sub(r"[^A-Za-z0-9_]", "_", base)
        seen = self._ids.get(base, 0)
        self._ids[base] = seen + 1
        return base if not seen else f"{base}_{seen + 1}"

    def _schema(self, holder: dict[str, Any], key: str, ref: SchemaRef) -> None:
        self._refs.append((holder, key, ref))

    def _parameters(self, info: RouteInfo, where: str) -> list[dict[str, Any]]:
        converters = parse_path(info.path, self.app.converters).converters()
        found: list[dict[str, Any]] = []
        for param in info.params:
            location = _IN.get(param.source)
            if location is None:
                continue
            if location == "header" and param.wire_name.lower() in _IGNORED_HEADERS:
                continue
            item: dict[str, Any] = {"name": param.wire_name, "in": location}
            if location == "path" or param.required:
                item["required"] = True
            if param.description:
                item["description"] = param.description
            if param.deprecated:
                item["deprecated"] = True
            extra: dict[str, Any] = {}
            if param.examples:
                extra["examples"] = list(param.examples)
            if not param.required and _jsonable(param.default):
                extra["default"] = param.default
            if location == "path":
                extra.update(_converter_schema(converters.get(param.name)))
            tp = with_constraints(param.type, param.constraints)
            self._schema(item, "schema", self.schemas.add(tp, "validation", where, **extra))
            found.append(item)
        return found

    def _request_body(self, info: RouteInfo, where: str) -> dict[str, Any] | None:
        body = [p for p in info.params if p.source is ParamSource.BODY]
        form = [p for p in info.params if p.source in (ParamSource.FORM, ParamSource.FILE)]
        if body:
            media: dict[str, Any] = {}
            required = True
            if info.body_type is not None:
                whole = body[0]
                required = whole.required
                extra = {"examples": list(whole.examples)} if whole.examples else {}
                tp = with_constraints(whole.type, whole.constraints)
                self._schema(media, "schema", self.schemas.add(tp, "validation", where, **extra))
            else:
                media["schema"] = self._object(body, where)
                required = any(p.required for p in body)
            result: dict[str, Any] = {"content": {"application/json": media}}
            if required:
                result["required"] = True
            return result
        if form:
            schema = self._object(form, where)
            files = any(p.source is ParamSource.FILE or is_upload(p.type) for p in form)
            content: dict[str, Any] = {"multipart/form-data": {"schema": schema}}
            if not files:
                content = {"application/x-www-form-urlencoded": {"schema": schema}, **content}
            result = {"content": content}
            if any(p.required for p in form):
                result["required"] = True
            return result
        return None

    def _object(self, params: Iterable[ParamInfo], where: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in params:
            if param.source is ParamSource.FILE or is_upload(param.type):
                properties[param.wire_name] = upload_schema(param.type)
            else:
                extra: dict[str, Any] = {}
                if param.description:
                    extra["description"] = param.description
                if param.examples:
                    extra["examples"] = list(param.examples)
                if not param.required and _jsonable(param.default):
                    extra["default"] = param.default
                tp = with_constraints(param.type, param.constraints)
                self._schema(
                    properties, param.wire_name, self.schemas.add(tp, "validation", where, **extra)
                )
            if param.required:
                required.append(param.wire_name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema

    # -- responses -------------------------------------------------------------
    def _responses(
        self, info: RouteInfo, where: str, has_body: bool, guarded: bool
    ) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        status = str(info.status_code)
        success: dict[str, Any] = {"description": status_phrase(info.status_code)}
        content = self._success_content(info, where)
        if content is not None and info.status_code not in (204, 304):
            success["content"] = content
        responses[status] = success
        problem = self.options.problem_routes(info)
        error = self._error_content(problem)
        # What app-wide middleware answers before the route (an invalid token's 401, the
        # body limit's 413) and the router's 404 (no route) are in carboy's error body.
        either = {**self._error_content(False), **error}
        takes_input = any(p.source.from_request for p in info.params)
        if takes_input:
            responses["422"] = {
                "description": "The request did not validate; every failing field is listed",
                "content": error,
            }
        if has_body:
            responses["400"] = {"description": "The request body is malformed", "content": error}
            responses["413"] = {"description": "The request body is too large", "content": either}
            responses["415"] = {
                "description": "The request body is not of a media type this operation reads",
                "content": error,
            }
        if any(p.source is ParamSource.PATH for p in info.params):
            responses["404"] = {"description": "Not found", "content": either}
        if guarded:
            responses["401"] = {"description": "Authentication required", "content": either}
            responses["403"] = {"description": "Permission denied", "content": error}
        limited = self.options.rate_limit(info)
        if limited is not None or any(
            dep is throttle for dep in info.dependencies for throttle in self.options.throttles
        ):
            responses["429"] = {
                "description": "Too many requests: wait the seconds Retry-After says",
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
                "content": error,
            }
        for code, declared in info.responses.items():
            responses[str(code)] = self._declared(code, declared, where, error)
        if limited is not None:
            for response in responses.values():
                response.setdefault("headers", {}).update(rate_limit_headers(limited))
        return dict(sorted(responses.items()))

    def _error_content(self, problem: bool) -> dict[str, Any]:
        if problem:
            return {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

    def _declared(
        self, code: int, declared: Any, where: str, error: dict[str, Any]
    ) -> dict[str, Any]:
        if isinstance(declared, str):
            item: dict[str, Any] = {"description": declared}
            if code >= 400:
                item["content"] = copy.deepcopy(error)
            return item
        if isinstance(declared, Mapping):
            return copy.deepcopy(dict(declared))  # an OpenAPI response object, as written
        media: dict[str, Any] = {}
        self._schema(media, "schema", self.schemas.add(declared, "serialization", where))
        return {"description": status_phrase(code), "content": {"application/json": media}}

    def _success_content(self, info: RouteInfo, where: str) -> dict[str, Any] | None:
        output = info.response_model if info.response_model is not None else info.return_type
        if output is inspect.Parameter.empty or output is None or output is type(None):
            return None
        if output in (typing.Any, object):
            return None
        if isinstance(output, type) and issubclass(output, Response):
            media_type = getattr(output, "media_type", None)
            return {media_type: {}} if isinstance(media_type, str) else None
        if output is str:
            return {info.media_type or "text/html": {"schema": {"type": "string"}}}
        if output is bytes:
            media_type = info.media_type or "application/octet-stream"
            return {media_type: {"schema": {"type": "string", "format": "binary"}}}
        media: dict[str, Any] = {}
        self._schema(media, "schema", self.schemas.add(output, "serialization", where))
        return {"application/json": media}

    def _tags(self, routes: Sequence[RouteInfo]) -> list[dict[str, Any]]:
        """The declared tags in their order (the docs page's), then the others as used."""
        declared = [dict(t) for t in self.options.tags]
        names = {str(t["name"]) for t in declared}
        used = dict.fromkeys(tag for info in routes for tag in info.tags if tag not in names)
        return [*declared, *({"name": name} for name in used)]


def _converter_schema(converter: Any) -> dict[str, Any]:
    """What a path converter adds to its parameter's schema (ranges, patterns)."""
    if isinstance(converter, IntConverter):
        return {"minimum": 0, "maximum": converter.max_value}
    if isinstance(converter, FloatConverter):
        return {"minimum": 0}
    if isinstance(converter, UUIDConverter):
        return {"format": "uuid"}
    if isinstance(converter, PathConverter):
        return {"minLength": 1}
    if isinstance(converter, StringConverter) or converter is None:
        return {"pattern": "^[^/]+$"}
    regex = getattr(converter, "regex", None)
    return {"pattern": f"^(?:{regex})$"} if isinstance(regex, str) else {}


def _jsonable(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _jsonable(v) for k, v in value.items())
    return False


def _deep_merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def check_document(document: Mapping[str, Any]) -> None:
    """Raise a ``ConfigurationError`` when two operations share an operation id."""
    seen: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            op_id = operation.get("operationId")
            if op_id in seen:
                raise ConfigurationError(
                    f"OpenAPI: operationId {op_id!r} is used by {seen[op_id]} and "
                    f"{method.upper()} {path}; give one of them another route name"
                )
            seen[op_id] = f"{method.upper()} {path}"
