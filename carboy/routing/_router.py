"""Routes and routers: how handlers are declared and grouped under a prefix."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from carboy.exceptions import ConfigurationError, SetupError
from carboy.types import ASGIApp

if TYPE_CHECKING:
    from carboy.middleware import Middleware
    from carboy.params import Depends

F = TypeVar("F", bound=Callable[..., Any])

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


def source_of(obj: Any) -> str:
    """``file.py:12`` for a function (where it was defined), for error messages."""
    # A callable object's __call__ method is where it is defined (hence B004).
    call = getattr(obj, "__call__", None)  # noqa: B004
    code = getattr(obj, "__code__", None) or getattr(call, "__code__", None)
    if code is None:
        return repr(obj)
    filename = code.co_filename
    try:
        rel = os.path.relpath(filename)
        if not rel.startswith(".."):
            filename = rel
    except ValueError:  # pragma: no cover - other drive on Windows
        pass
    return f"{filename}:{code.co_firstlineno}"


def _caller_location() -> str:
    """``file.py:12`` of the user code calling into the router (for error messages)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
        "carboy.routing"
    ):
        frame = frame.f_back
    filename = frame.f_code.co_filename
    try:
        rel = os.path.relpath(filename)
        if not rel.startswith(".."):
            filename = rel
    except ValueError:  # pragma: no cover - other drive on Windows
        pass
    return f"{filename}:{frame.f_lineno}"


@dataclass(slots=True)
class Route:
    """A declared HTTP or WebSocket route (what ``@router.get(...)`` records).

    The API and admin batteries read these (path, endpoint, methods, name,
    tags, summary) to build OpenAPI documents and menus.
    """

    path: str
    endpoint: Callable[..., Any]
    methods: frozenset[str]
    name: str
    status_code: int | None = None
    media_type: str | None = None
    dependencies: tuple[Depends, ...] = ()
    tags: tuple[str, ...] = ()
    websocket: bool = False
    summary: str | None = None
    source: str = ""
    #: The type the return value is serialized as (``response_model=``), if set.
    response_model: Any = None
    #: Rarely used options and tool metadata (see :data:`EXTRA_KEYS`).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def include_in_schema(self) -> bool:
        """Whether OpenAPI lists the route (``extra={"include_in_schema": False}`` hides it)."""
        return bool(self.extra.get("include_in_schema", True))


#: The ``extra=`` keys carboy reads itself; any other key is kept for batteries and tools.
EXTRA_KEYS: dict[str, type | tuple[type, ...]] = {
    "include_in_schema": bool,
    "responses": dict,
    "openapi_extra": dict,
    "deprecated": bool,
    "summary": str,
    "description": str,
    "exclude_none": bool,
    "middleware": (list, tuple),
}


def _check_extra(path: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, kind in EXTRA_KEYS.items():
        if key in extra and not isinstance(extra[key], kind):
            expected = kind.__name__ if isinstance(kind, type) else kind
            raise ConfigurationError(
                f"Route {path!r}: extra[{key!r}] must be a {expected}, got {extra[key]!r}"
            )
    for status in extra.get("responses", {}):
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigurationError(
                f"Route {path!r}: extra['responses'] keys are status codes 100-599, got {status!r}"
            )
    return dict(extra)


@dataclass(slots=True)
class Mount:
    """An ASGI app served under a path prefix (static files, a foreign app)."""

    path: str
    app: ASGIApp
    name: str | None = None
    source: str = ""


@dataclass(slots=True)
class ResolvedRoute:
    """A route with everything its routers added: full path, name, middleware, dependencies."""

    route: Route | Mount
    path: str
    name: str | None
    middleware: tuple[Middleware, ...]
    dependencies: tuple[Depends, ...]
    tags: tuple[str, ...]
    router: Router


class Router:
    """A group of routes under a prefix and a name: the routing half of a module.

    Routers nest with :meth:`include`; a router's middleware and dependencies
    apply to its routes only. Route names are prefixed with the router's name
    (``"blog.post_detail"``).

    Example:
        >>> blog = Router(prefix="/blog", name="blog")
        >>> @blog.get("/{slug}")
        ... async def post_detail(slug: str) -> dict:
        ...     return {"slug": slug}
        >>> app.include(blog)   # url_for("blog.post_detail", slug="hi") == "/blog/hi"
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] = (),
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                f"Router prefix {prefix!r} must start with '/' and not end with '/'"
            )
        if name is not None and (not name or "." in name):
            raise ConfigurationError(f"Router name {name!r} must be non-empty and have no '.'")
        self.prefix = prefix
        self.name = name
        self.middleware = list(middleware)
        self.dependencies = list(dependencies)
        self.tags = list(tags)
        self.routes: list[Route | Mount] = []
        self.children: list[tuple[Router, str]] = []
        self._frozen = False

    # -- setup guards ----------------------------------------------------
    def _check_open(self, what: str) -> None:
        if self._frozen:
            raise SetupError(
                f"Cannot {what} after the app has started: register routes, modules and "
                "middleware before the first request (at import time or in a factory)"
            )

    def _freeze(self) -> None:
        self._frozen = True
        for child, _ in self.children:
            child._freeze()

    # -- declaring routes ------------------------------------------------
    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
        status_code: int | None = None,
        media_type: str | None = None,
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        response_model: Any = None,
        extra: Mapping[str, Any] | None = None,
        websocket: bool = False,
    ) -> Route:
        """Register ``endpoint`` for ``path``; see :meth:`route` for the options."""
        self._check_open(f"add route {path!r}")
        if not callable(endpoint):
            raise ConfigurationError(f"Route {path!r}: endpoint {endpoint!r} is not callable")
        upper = frozenset(m.upper() for m in methods)
        unknown = upper - HTTP_METHODS
        if unknown:
            raise ConfigurationError(f"Route {path!r}: unknown HTTP method(s) {sorted(unknown)}")
        if status_code is not None and not 100 <= status_code <= 599:
            raise ConfigurationError(f"Route {path!r}: status_code {status_code} is not 100-599")
        doc = (getattr(endpoint, "__doc__", None) or "").strip()
        route = Route(
            path=path,
            endpoint=endpoint,
            methods=frozenset() if websocket else upper,
            name=name or str(getattr(endpoint, "__name__", "endpoint")),
            status_code=status_code,
            media_type=media_type,
            dependencies=tuple(dependencies),
            tags=tuple(tags),
            websocket=websocket,
            summary=doc.splitlines()[0] if doc else None,
            source=source_of(endpoint),
            response_model=response_model,
            extra=_check_extra(path, extra or {}),
        )
        self.routes.append(route)
        return route

    def route(
        self,
        path: str,
        *,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
        status_code: int | None = None,
        media_type: str | None = None,
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        response_model: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Decorator: register a handler for ``path`` and ``methods``.

        Args:
            path: ``/users/{id:int}``-style template.
            methods: HTTP methods (HEAD and OPTIONS are added automatically).
            name: For ``url_for``; defaults to the function's name.
            status_code: Status of a successful response (default 200, 204 for ``None``).
            media_type: Content type for ``str`` returns (default ``text/html``).
            dependencies: ``Depends`` run before the handler, values discarded.
            tags: Grouping for API docs.
            response_model: Serialize the return value as this type instead of the
                return annotation (fields it lacks are dropped, aliases applied).
            extra: Rarely used options, one mapping so the signature stays small:
                ``include_in_schema`` (bool, default True), ``responses``
                (status -> description or type, for API docs), ``openapi_extra``
                (dict merged into the OpenAPI operation), ``deprecated``,
                ``summary`` and ``description`` (override the docstring's),
                ``exclude_none`` (leave ``None`` fields out of the JSON),
                ``middleware`` (a list of :class:`~carboy.middleware.Middleware`
                for this route only, innermost, e.g. ``cache_page(60)``). Other
                keys are kept as they are for batteries and tools; all of it is
                published by :meth:`carboy.Carboy.routes_info`.

        Example:
            >>> @app.route("/items", methods=["GET", "POST"])
            ... async def items() -> list[str]:
            ...     return ["a"]
        """

        def decorator(func: F) -> F:
            self.add_route(
                path,
                func,
                methods=methods,
                name=name,
                status_code=status_code,
                media_type=media_type,
                dependencies=dependencies,
                tags=tags,
                response_model=response_model,
                extra=extra,
            )
            return func

        return decorator

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Decorator for a GET (and HEAD) route; options as for :meth:`route`."""
        return self.route(path, methods=("GET",), **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Decorator for a POST route; options as for :meth:`route`."""
        return self.route(path, methods=("POST",), **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Decorator for a PUT route; options as for :meth:`route`."""
        return self.route(path, methods=("PUT",), **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Decorator for a PATCH route; options as for :meth:`route`."""
        return self.route(path, methods=("PATCH",), **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Decorator for a DELETE route; options as for :meth:`route`."""
        return self.route(path, methods=("DELETE",), **options)

    def websocket(
        self, path: str, *, name: str | None = None, dependencies: Sequence[Depends] = ()
    ) -> Callable[[F], F]:
        """Decorator for a WebSocket handler; parameters are injected as for HTTP.

        Example:
            >>> @app.websocket("/ws")
            ... async def echo(ws: WebSocket) -> None:
            ...     await ws.accept()
            ...     async for text in ws.iter_text():
            ...         await ws.send_text(text)
        """

        def decorator(func: F) -> F:
            self.add_route(path, func, name=name, dependencies=dependencies, websocket=True)
            return func

        return decorator

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        """Serve the ASGI ``app`` under ``path`` (it sees ``root_path`` extended by ``path``).

        Example:
            >>> app.mount("/legacy", other_asgi_app, name="legacy")
        """
        self._check_open(f"mount {path!r}")
        if not path.startswith("/") or path.endswith("/"):
            raise ConfigurationError(
                f"Mount path {path!r} must start with '/' and not end with '/'"
            )
        self.routes.append(Mount(path, app, name, _caller_location()))

    def include(self, router: Router, *, prefix: str = "") -> None:
        """Add ``router``'s routes under this router (``prefix`` is added before its own).

        Example:
            >>> api = Router(prefix="/api", name="api")
            >>> api.include(users_router)
        """
        self._check_open("include a router")
        if router is self:
            raise ConfigurationError("A router cannot include itself")
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                f"Include prefix {prefix!r} must start with '/', not end with '/'"
            )
        self.children.append((router, prefix))

    # -- reading ---------------------------------------------------------
    def iter_routes(
        self,
        prefix: str = "",
        name_prefix: str = "",
        middleware: tuple[Middleware, ...] = (),
        dependencies: tuple[Depends, ...] = (),
        tags: tuple[str, ...] = (),
    ) -> Iterator[ResolvedRoute]:
        """Every route of this router and its children, fully resolved."""
        prefix = prefix + self.prefix
        if self.name:
            name_prefix = f"{name_prefix}{self.name}."
        middleware = middleware + tuple(self.middleware)
        dependencies = dependencies + tuple(self.dependencies)
        tags = tags + tuple(self.tags)
        for route in self.routes:
            if isinstance(route, Mount):
                name = f"{name_prefix}{route.name}" if route.name else None
                yield ResolvedRoute(route, prefix + route.path, name, middleware, (), tags, self)
                continue
            path = prefix + route.path
            yield ResolvedRoute(
                route,
                path,
                f"{name_prefix}{route.name}",
                middleware,
                dependencies + route.dependencies,
                tags + route.tags,
                self,
            )
        for child, child_prefix in self.children:
            yield from child.iter_routes(
                prefix + child_prefix, name_prefix, middleware, dependencies, tags
            )
