"""Model resources: list, retrieve, create, update (PUT, PATCH) and delete over a model.

``api.resource(Post, ...)`` declares one; the API builds it when the app
builds (the settings are known then): its schemas from the model, one route
per action with a handler whose signature says what it reads, so the route
table, the validation and the OpenAPI document are the ones every carboy
route gets. The handlers run in an ``AsyncSession`` of :mod:`carboy.db`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import selectinload

from carboy._json import dumps as encode_json
from carboy.api._fields import (
    FieldSpec,
    RelationMode,
    input_model,
    model_fields,
    output_model,
    primary_key,
    scalar_default,
    serializer,
)
from carboy.api._filters import (
    FilterParam,
    Ordering,
    filter_params,
    order_by,
    refuse_unknown,
    search_clause,
    search_parameter,
)
from carboy.api._pagination import CursorPagination, PageNumberPagination, PageRequest, Pagination
from carboy.api._throttling import THROTTLE_KEY, ThrottleSpec, check_route_throttles
from carboy.auth import login_required, permission_required
from carboy.auth.permissions import permission_label
from carboy.auth.signing import Signer
from carboy.db import AsyncSession
from carboy.db.errors import translate_error
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.params import Body, Depends, Header, Path
from carboy.requests import Request
from carboy.responses import Response

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.modules import Module

F = TypeVar("F", bound=Callable[..., Any])

#: The standard actions, as Django REST framework names them.
ACTIONS = ("list", "create", "retrieve", "update", "partial_update", "destroy")
_VERBS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}
_JSON = "application/json"


@dataclass(frozen=True)
class ModelPermissions:
    """Who may run each action: carboy.auth's per-model permissions by default.

    Writes need ``<label>.add_<model>``, ``change_`` or ``delete_``; reads need
    ``view_`` only with ``read=True`` (otherwise anyone may read). ``actions``
    overrides one action: a permission name, or None to let anyone run it.
    On one object (retrieve, update, delete, detail actions) the check is
    ``user.has_perm(perm, obj)``, so the ``Auth(object_permissions=...)`` hook
    decides for that object.

    Example:
        >>> ModelPermissions(read=True, actions={"destroy": "blog.moderate"})
    """

    read: bool = False
    actions: Mapping[str, str | None] = field(default_factory=dict)

    def permission(self, model: type, action: str) -> str | None:
        """The permission ``action`` needs on ``model`` (None: anyone)."""
        if action in self.actions:
            return self.actions[action]
        verb = _VERBS.get(action)
        if verb is None or (verb == "view" and not self.read):
            return None
        return f"{permission_label(model)}.{verb}_{model.__name__.lower()}"


#: Anyone may run every action (for a public, read-write demo or an internal API).
ALLOW_ANY = ModelPermissions(actions=dict.fromkeys(ACTIONS))


@dataclass
class _Action:
    name: str
    func: Callable[..., Any]
    methods: tuple[str, ...]
    detail: bool
    permission: str | None
    status_code: int | None


def make_etag(body: bytes) -> str:
    """A strong ETag of a representation: the quoted start of its SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str, current: str) -> bool:
    """Whether ``If-Match`` allows a write on a representation with ``current`` ETag."""
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or current in tags


def _handler(
    name: str,
    doc: str | None,
    params: Sequence[inspect.Parameter],
    returns: Any,
    impl: Callable[..., Awaitable[Any]],
    lookup: str | None = None,
) -> Callable[..., Awaitable[Any]]:
    """An async handler with this signature that calls ``impl`` (carboy compiles its plan).

    ``lookup`` names the path parameter that ``impl`` receives as ``_lookup``.
    """

    async def handler(**kwargs: Any) -> Any:
        if lookup is not None:
            kwargs["_lookup"] = kwargs.pop(lookup)
        return await impl(**kwargs)

    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = doc
    ordered = sorted(params, key=lambda p: p.default is not inspect.Parameter.empty)
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in ordered], return_annotation=returns
    )
    handler.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    return handler


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


class Resource:
    """List, retrieve, create, update and delete one model, with its schemas derived from it.

    Make one with :meth:`API.resource <carboy.api.API.resource>`. See
    docs/api/resources.md for each option.

    Args:
        model: The carboy.db model.
        path: The collection's path under the API (default ``/<table>s``).
        name: The prefix of its route names and operation ids (default from the path).
        fields: The fields shown, in order (default: every column, then relations
            and computed fields).
        read_only: Fields a client cannot write (the primary key always is).
        write_only: Fields a client writes but responses never show.
        writable: Fields the model or database makes a value for (a callable or
            server default, as ``created_at``'s) that clients may write all the same;
            by default those are read-only.
        computed: Read-only fields read from the object (a property): name -> type.
        relations: Relationships shown as the related primary key(s) (``"id"``) or
            the related objects' fields (``"nested"``).
        camel_case: JSON field and query names in camelCase (``createdAt``).
        lookup: The unique column in the detail path (default the primary key).
        pagination: :class:`PageNumberPagination` (default),
            :class:`LimitOffsetPagination` or :class:`CursorPagination`.
        filters: Filterable fields: ``["published"]`` (equality) or
            ``{"created_at": ["gte", "lte"]}`` (see ``OPERATORS``).
        ordering: Fields the client may order by (``?ordering=-created_at``).
        default_ordering: The order without ``?ordering`` (default the primary key).
        search: Text fields ``?search=`` looks in (any case).
        permissions: Who may run each action (:class:`ModelPermissions`).
        queryset: ``queryset(request) -> select(...)``: the rows this request may
            see, for every action (``select(Post).where(Post.published)``).
        actions: The standard actions to serve (default all of ``ACTIONS``).
        require_if_match: Refuse writes without ``If-Match`` (428).
        tags: OpenAPI tags (default the resource's name).
        throttles: An action's own quota, in place of the API's: action name
            (standard or custom) -> a rate (``"5/minute"``), a
            :class:`carboy.cache.Throttle`, or None for no throttle.
    """

    def __init__(
        self,
        model: type,
        *,
        path: str | None = None,
        name: str | None = None,
        fields: Sequence[str] | None = None,
        read_only: Sequence[str] = (),
        write_only: Sequence[str] = (),
        writable: Sequence[str] = (),
        computed: Mapping[str, Any] | None = None,
        relations: Mapping[str, RelationMode] | None = None,
        camel_case: bool = False,
        lookup: str | None = None,
        pagination: Pagination | None = None,
        filters: Mapping[str, Sequence[str]] | Sequence[str] = (),
        ordering: Sequence[str] = (),
        default_ordering: Sequence[str] | None = None,
        search: Sequence[str] = (),
        permissions: ModelPermissions | None = None,
        queryset: Callable[[Request], sa.Select[Any]] | None = None,
        actions: Sequence[str] = ACTIONS,
        require_if_match: bool = False,
        tags: Sequence[str] | None = None,
        throttles: Mapping[str, ThrottleSpec | None] | None = None,
    ) -> None:
        table = getattr(model, "__tablename__", model.__name__.lower())
        self.model = model
        self.path = path if path is not None else f"/{table}s"
        if not self.path.startswith("/") or self.path.endswith("/"):
            raise ConfigurationError(
                f"Resource({model.__name__}): path {self.path!r} must start with '/' "
                "and not end with one"
            )
        self.name = name or self.path.strip("/").replace("/", "_").replace("-", "_")
        self.where = f"Resource({model.__name__}, path={self.path!r})"
        unknown = sorted(set(actions) - set(ACTIONS))
        if unknown:
            raise ConfigurationError(
                f"{self.where}: unknown action(s) {unknown}; the actions are {list(ACTIONS)}"
            )
        self.actions = tuple(actions)
        self.throttles = dict(throttles or {})
        check_route_throttles(self.throttles, self.where)
        self.permissions = permissions or ModelPermissions()
        self.pagination = pagination or PageNumberPagination()
        self.queryset = queryset
        self.require_if_match = require_if_match
        self.tags = tuple(tags) if tags is not None else (self.name,)
        self.camel_case = camel_case
        self.specs = model_fields(
            model,
            fields=fields,
            read_only=read_only,
            write_only=write_only,
            writable=writable,
            computed=dict(computed or {}),
            relations=dict(relations or {}),
            camel_case=camel_case,
            where=self.where,
        )
        by_name = {spec.name: spec for spec in self.specs}
        self.pk = primary_key(model, self.where)
        self.lookup = self._lookup_column(lookup)
        if lookup is not None and not isinstance(self.lookup.type, sa.Integer):
            # A text lookup is a path segment: one that is empty or has a '/' could be
            # stored but never looked up, so clients may not write one.
            self.specs = [
                dataclasses.replace(
                    spec, constraints={**spec.constraints, "pattern": r"^[^/]+$", "min_length": 1}
                )
                if spec.column is self.lookup
                else spec
                for spec in self.specs
            ]
            by_name = {spec.name: spec for spec in self.specs}
        self.filters: list[FilterParam] = filter_params(filters, by_name, self.where)
        self.ordering = Ordering.declare(
            ordering,
            default_ordering if default_ordering is not None else (self.pk.key,),
            {
                **by_name,
                self.pk.key: by_name.get(self.pk.key)
                or FieldSpec(self.pk.key, self.pk.key, int, column=self.pk),
            },
            self.pk,
            self.where,
        )
        self.search_columns = []
        for field_name in search:
            spec = by_name.get(field_name)
            if spec is None or spec.column is None or not isinstance(spec.column.type, sa.String):
                raise ConfigurationError(
                    f"{self.where}: search field {field_name!r} is not a text column"
                )
            self.search_columns.append(spec.column)
        self.search_fields = tuple(by_name[n].wire for n in search)
        if isinstance(self.pagination, CursorPagination):
            self.pagination.check_ordering(self.ordering.parse(None), self.where)
        self._loaders = [
            selectinload(getattr(model, spec.name))
            for spec in self.specs
            if spec.relation is not None
        ]
        self._relation_names = [spec.name for spec in self.specs if spec.relation is not None]
        self.serialize = serializer(self.specs)
        self._custom: list[_Action] = []
        self._built = False
        # SET pk = pk (and each onupdate column to itself, so that no timestamp moves):
        # a write that changes nothing, to take SQLite's write lock (see _get).
        table = self.pk.table
        unchanged = {c.name: c for c in table.columns if c.onupdate is not None or c is self.pk}
        self._touch = sa.update(table).values(unchanged)

    def _lookup_column(self, lookup: str | None) -> Any:
        if lookup is None:
            return self.pk
        column = getattr(self.model, lookup, None)
        table_column = getattr(column, "property", None)
        columns = getattr(table_column, "columns", None)
        if not columns or not (columns[0].unique or columns[0].primary_key):
            raise ConfigurationError(
                f"{self.where}: lookup {lookup!r} is not a unique column of {self.model.__name__}"
            )
        return columns[0]

    # -- custom actions -------------------------------------------------------------
    def action(
        self,
        name: str,
        *,
        methods: Sequence[str] = ("POST",),
        detail: bool = True,
        permission: str | None = None,
        status_code: int | None = None,
    ) -> Callable[[F], F]:
        """Decorator: a custom action at ``<path>/{id}/<name>`` (or ``<path>/<name>``).

        A detail action's first parameter receives the object (loaded, the
        object-level permission checked); the others are injected as for any
        handler. Returning an instance of the model sends it as the resource
        shows it.

        Example:
            >>> @posts.action("publish", permission="blog.change_post")
            ... async def publish(post: Post) -> Post:
            ...     post.published = True
            ...     return post
        """
        if self._built:
            raise ConfigurationError(f"{self.where}: add actions before the app builds")

        def decorator(func: F) -> F:
            self._custom.append(
                _Action(
                    name, func, tuple(m.upper() for m in methods), detail, permission, status_code
                )
            )
            return func

        return decorator

    async def before_save(self, request: Request, obj: Any, created: bool) -> None:
        """Called before an object is written (override: set the author, a slug...)."""

    # -- building -------------------------------------------------------------------
    def build(self, api: Module, app: Carboy) -> None:
        """Add this resource's routes to ``api`` (run by the API when the app builds)."""
        if self._built:
            return
        self._built = True
        settings = app.settings
        self.pagination.bind(settings.api_max_page_size, self.where)
        if isinstance(self.pagination, CursorPagination):
            self.pagination.bind_signer(
                Signer.from_settings(settings, salt=f"carboy.api.cursor:{api.prefix}{self.path}")
            )
        model_name = self.model.__name__
        nested: dict[str, type[BaseModel]] = {}
        self.out = output_model(model_name, self.specs, camel_case=self.camel_case, models=nested)
        self.create_in = input_model(
            f"{model_name}Create", self.specs, partial=False, camel_case=self.camel_case
        )
        self.patch_in = input_model(
            f"{model_name}Patch", self.specs, partial=True, camel_case=self.camel_case
        )
        self.page_out = self.pagination.envelope(f"{model_name}Page", self.out)
        kind = self.lookup.type
        if isinstance(kind, sa.Integer):
            # {id:int32} for an integer column: a key PostgreSQL's integer cannot hold is a 404.
            converter = "int" if isinstance(kind, sa.BigInteger) else "int32"
            self._lookup_type: Any = int
        else:
            converter, self._lookup_type = "str", str
        detail = f"{self.path}/{{{self.lookup.key}:{converter}}}"
        for action in self.actions:
            getattr(self, f"_add_{action}")(api, detail)
        unknown = sorted(set(self.throttles) - set(self.actions) - {c.name for c in self._custom})
        if unknown:
            raise ConfigurationError(
                f"{self.where}: throttles for unknown action(s) {unknown}; the actions are "
                f"{[*self.actions, *(c.name for c in self._custom)]}"
            )
        for custom in self._custom:
            self._add_custom(api, custom, detail)

    def _route(
        self,
        api: Module,
        path: str,
        action: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        status_code: int,
        guard: Depends | None,
        responses: Mapping[int, Any] | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        if responses:
            extra["responses"] = dict(responses)
        if action in self.throttles:
            extra[THROTTLE_KEY] = self.throttles[action]
        api.add_route(
            path,
            handler,
            methods=methods,
            name=f"{self.name}_{action}",
            status_code=status_code,
            dependencies=[guard] if guard is not None else [],
            tags=self.tags,
            extra=extra,
        )

    def _guard(
        self, action: str, detail: bool, permission: str | None = None
    ) -> tuple[Depends | None, str | None]:
        perm = (
            permission
            if permission is not None or action not in _VERBS
            else self.permissions.permission(self.model, action)
        )
        if perm is None:
            return None, None
        return (login_required if detail else permission_required(perm)), perm

    # -- the standard actions -------------------------------------------------------
    def _add_list(self, api: Module, detail: str) -> None:
        params = [_param("request", Request), _param("session", AsyncSession)]
        params += [f.parameter() for f in self.filters]
        if self.search_columns:
            params.append(search_parameter(self.search_fields))
        if self.pagination.orderable and len(self.ordering.columns) > 0:
            params.append(self.ordering.parameter)
        params += self.pagination.parameters()
        known = {f.query for f in self.filters} | set(self.pagination.names)
        if self.search_columns:
            known.add("search")
        if self.pagination.orderable and self.ordering.columns:
            known.add("ordering")
        guard, _ = self._guard("list", detail=False)

        async def list_items(request: Request, session: AsyncSession, **values: Any) -> Response:
            refuse_unknown(request.query_params, known)
            stmt = self._select(request)
            for item in self.filters:
                value = values[item.python_name]
                if value is not None:
                    stmt = stmt.where(item.clause(value))
            term = values.get("_search")
            if term:
                stmt = stmt.where(search_clause(self.search_columns, term))
            ordering = self.ordering.parse(
                values.get("_ordering") if self.pagination.orderable else None
            )
            stmt = order_by(stmt, ordering)
            page = {name: values[f"_page_{name}"] for name in self.pagination.names}
            body = await self._db(
                self.pagination.page(
                    session, PageRequest(stmt, ordering, page, request.url), self.serialize
                )
            )
            return Response(encode_json(body), media_type=_JSON)

        doc = (
            f"List {self.model.__name__} objects.\n\nFilters, ordering and pagination come "
            "from the query string; an unknown parameter is a 400."
        )
        handler = _handler(f"{self.name}_list", doc, params, self.page_out, list_items)
        self._route(
            api,
            self.path,
            "list",
            handler,
            ["GET"],
            200,
            guard,
            {400: "An unknown query parameter, ordering or cursor", **self.pagination.responses},
        )

    def _add_create(self, api: Module, detail: str) -> None:
        guard, _ = self._guard("create", detail=False)
        params = [
            _param("request", Request),
            _param("session", AsyncSession),
            _param("body", Annotated[self.create_in, Body()]),
        ]

        async def create(request: Request, session: AsyncSession, body: BaseModel) -> Response:
            obj = self.model()
            # Fields not sent get the model's defaults (a callable default included).
            for key, value in body.model_dump(exclude_unset=True).items():
                setattr(obj, key, value)
            await self.before_save(request, obj, True)
            session.add(obj)
            await self._db(session.flush())
            if self._relation_names:
                await self._db(session.refresh(obj, self._relation_names))
            payload = encode_json(self.serialize(obj))
            location = None
            if "retrieve" in self.actions:
                # The path parameters of the API itself (a URL version) come along.
                params = {**request.path_params, self.lookup.key: getattr(obj, self.lookup.key)}
                location = request.url_for(f"{api.name}.{self.name}_retrieve", **params)
            headers = {"etag": make_etag(payload)}
            if location:
                headers["location"] = str(location)
            return Response(payload, status_code=201, media_type=_JSON, headers=headers)

        doc = f"Create a {self.model.__name__}."
        handler = _handler(f"{self.name}_create", doc, params, self.out, create)
        self._route(
            api,
            self.path,
            "create",
            handler,
            ["POST"],
            201,
            guard,
            {409: "It conflicts with another (a unique field)"},
        )

    def _add_retrieve(self, api: Module, detail: str) -> None:
        guard, perm = self._guard("retrieve", detail=True)
        params = [
            _param("request", Request),
            _param("session", AsyncSession),
            self._lookup_param(),
            _param(
                "if_none_match",
                Annotated[str | None, Header(None, alias="if-none-match", max_length=1000)],
                None,
            ),
        ]

        async def retrieve(
            request: Request, session: AsyncSession, _lookup: Any, if_none_match: str | None
        ) -> Response:
            obj = await self._get(session, request, _lookup, lock=False)
            self._check_object(request, perm, obj)
            payload = encode_json(self.serialize(obj))
            etag = make_etag(payload)
            if if_none_match is not None and etag_matches(if_none_match, etag):
                return Response(b"", status_code=304, headers={"etag": etag})
            return Response(payload, media_type=_JSON, headers={"etag": etag})

        doc = (
            f"One {self.model.__name__}, with its ETag (If-None-Match gives a 304 when unchanged)."
        )
        handler = _handler(
            f"{self.name}_retrieve", doc, params, self.out, retrieve, lookup=self.lookup.key
        )
        self._route(
            api,
            detail,
            "retrieve",
            handler,
            ["GET"],
            200,
            guard,
            {304: "Not modified (If-None-Match)"},
        )

    def _add_update(self, api: Module, detail: str) -> None:
        self._add_write(api, detail, "update", "PUT", self.create_in, partial=False)

    def _add_partial_update(self, api: Module, detail: str) -> None:
        self._add_write(api, detail, "partial_update", "PATCH", self.patch_in, partial=True)

    def _lookup_param(self) -> inspect.Parameter:
        """The detail path's parameter, named after the lookup column (``id``, ``slug``)."""
        marker = Path(description=f"The {self.model.__name__}'s {self.lookup.key}")
        return _param(self.lookup.key, Annotated[self._lookup_type, marker])

    def _if_match_param(self) -> inspect.Parameter:
        marker = Header(
            None,
            alias="if-match",
            max_length=1000,
            description="The ETag the change is based on: a stale one is a 412, nothing written",
        )
        return _param("if_match", Annotated[str | None, marker], None)

    def _add_write(
        self,
        api: Module,
        detail: str,
        action: str,
        method: str,
        schema: type[BaseModel],
        *,
        partial: bool,
    ) -> None:
        guard, perm = self._guard(action, detail=True)
        params = [
            _param("request", Request),
            _param("session", AsyncSession),
            self._lookup_param(),
            _param("body", Annotated[schema, Body()]),
            self._if_match_param(),
        ]

        async def write(
            request: Request,
            session: AsyncSession,
            _lookup: Any,
            body: BaseModel,
            if_match: str | None,
        ) -> Response:
            obj = await self._get(session, request, _lookup, lock=True)
            self._check_object(request, perm, obj)
            self._precondition(obj, if_match)
            for key, value in self._changes(body, partial).items():
                setattr(obj, key, value)
            await self.before_save(request, obj, False)
            await self._db(session.flush())
            if self._relation_names:
                await self._db(session.refresh(obj, self._relation_names))
            payload = encode_json(self.serialize(obj))
            return Response(payload, media_type=_JSON, headers={"etag": make_etag(payload)})

        verb = "Change some fields of" if partial else "Replace"
        doc = (
            f"{verb} a {self.model.__name__}.\n\nSend If-Match with its ETag: if someone "
            "changed it since, the answer is a 412 and their change is kept."
        )
        handler = _handler(
            f"{self.name}_{action}", doc, params, self.out, write, lookup=self.lookup.key
        )
        self._route(api, detail, action, handler, [method], 200, guard, self._write_responses())

    def _changes(self, body: BaseModel, partial: bool) -> dict[str, Any]:
        """What a PATCH (the fields sent) or a PUT (every field: unsent ones reset) writes."""
        values = body.model_dump(exclude_unset=True)
        if partial:
            return values
        for spec in self.specs:
            if spec.writable and spec.column is not None and spec.name not in values:
                plain, default = scalar_default(spec.column)
                if plain:
                    values[spec.name] = default
        return values

    def _write_responses(self) -> dict[int, Any]:
        found: dict[int, Any] = {
            409: "It conflicts with another (a unique field)",
            412: "If-Match is not its current ETag: someone changed it since; nothing was written",
        }
        if self.require_if_match:
            found[428] = "Send If-Match with the ETag of the object the change is based on"
        return found

    def _add_destroy(self, api: Module, detail: str) -> None:
        guard, perm = self._guard("destroy", detail=True)
        params = [
            _param("request", Request),
            _param("session", AsyncSession),
            self._lookup_param(),
            self._if_match_param(),
        ]

        async def destroy(
            request: Request, session: AsyncSession, _lookup: Any, if_match: str | None
        ) -> None:
            obj = await self._get(session, request, _lookup, lock=True)
            self._check_object(request, perm, obj)
            self._precondition(obj, if_match)
            await session.delete(obj)
            await self._db(session.flush())

        handler = _handler(
            f"{self.name}_destroy",
            f"Delete a {self.model.__name__}.",
            params,
            None,
            destroy,
            lookup=self.lookup.key,
        )
        self._route(
            api, detail, "destroy", handler, ["DELETE"], 204, guard, self._write_responses()
        )

    def _add_custom(self, api: Module, custom: _Action, detail: str) -> None:
        func = custom.func
        hints = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
        params = list(signature.parameters.values())
        obj_name = params[0].name if custom.detail and params else None
        if custom.detail and obj_name is None:
            raise ConfigurationError(
                f"{self.where}: action {custom.name!r} is a detail action: its first "
                "parameter receives the object"
            )
        rest = [
            _param(p.name, hints.get(p.name, Any), p.default) for p in params if p.name != obj_name
        ]
        returns = hints.get("return", inspect.Parameter.empty)
        if returns is self.model:
            returns = self.out
        guard, perm = self._guard(custom.name, detail=custom.detail, permission=custom.permission)
        extra = [_param("_request", Request), _param("_session", AsyncSession)]
        if custom.detail:
            if any(p.name == self.lookup.key for p in rest):
                raise ConfigurationError(
                    f"{self.where}: action {custom.name!r} has a parameter named "
                    f"{self.lookup.key!r}, which is the path's; rename it"
                )
            extra.append(self._lookup_param())
        unsafe = any(m not in ("GET", "HEAD") for m in custom.methods)

        async def run(
            _request: Request, _session: AsyncSession, _lookup: Any = None, **kwargs: Any
        ) -> Any:
            if obj_name is not None:
                obj = await self._get(_session, _request, _lookup, lock=unsafe)
                self._check_object(_request, perm, obj)
                kwargs[obj_name] = obj
            result = func(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            await self._db(_session.flush())
            if isinstance(result, self.model):
                if self._relation_names:
                    await self._db(_session.refresh(result, self._relation_names))
                payload = encode_json(self.serialize(result))
                return Response(
                    payload,
                    status_code=custom.status_code or 200,
                    media_type=_JSON,
                    headers={"etag": make_etag(payload)},
                )
            return result

        path = f"{detail}/{custom.name}" if custom.detail else f"{self.path}/{custom.name}"
        handler = _handler(
            f"{self.name}_{custom.name}",
            inspect.getdoc(func),
            [*extra, *rest],
            returns,
            run,
            lookup=self.lookup.key if custom.detail else None,
        )
        status = custom.status_code or (204 if returns is None or returns is type(None) else 200)
        self._route(api, path, custom.name, handler, custom.methods, status, guard)

    # -- reading and writing ---------------------------------------------------------
    def _select(self, request: Request) -> sa.Select[Any]:
        stmt = self.queryset(request) if self.queryset is not None else sa.select(self.model)
        return stmt.options(*self._loaders) if self._loaders else stmt

    async def _get(self, session: AsyncSession, request: Request, value: Any, *, lock: bool) -> Any:
        stmt = self._select(request).where(self.lookup == value)
        if lock:
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                # SQLite has no row locks: a no-op write takes the database's write lock
                # first, so a concurrent If-Match check waits for this transaction.
                await self._db(session.execute(self._touch.where(self.lookup == value)))
            stmt = stmt.with_for_update(of=self.model).execution_options(populate_existing=True)
        obj = await self._db(session.scalar(stmt))
        if obj is None:
            raise HTTPException(404, f"{self.model.__name__} {value} not found")
        return obj

    def _check_object(self, request: Request, perm: str | None, obj: Any) -> None:
        if perm is None:
            return
        user: Any = request.user
        if not user.has_perm(perm, obj):
            raise HTTPException(403, "You do not have permission to do this")

    def _precondition(self, obj: Any, if_match: str | None) -> None:
        if if_match is None:
            if self.require_if_match:
                raise HTTPException(
                    428, "Send If-Match with the ETag of the object this change is based on"
                )
            return
        current = make_etag(encode_json(self.serialize(obj)))
        if not etag_matches(if_match, current):
            raise HTTPException(
                412,
                f"{self.model.__name__} was changed since the ETag in If-Match: fetch it again "
                "and apply the change to what it is now",
                headers={"etag": current},
            )

    async def _db(self, work: Awaitable[Any]) -> Any:
        """Await database work; an error a client caused becomes its 4xx (problem details)."""
        try:
            return await work
        except sa.exc.DBAPIError as exc:
            translated = translate_error(exc, [self.model.metadata])  # type: ignore[attr-defined]
            if translated is None:
                raise
            raise translated from exc
