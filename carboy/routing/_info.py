"""What the app serves, route by route, as published for OpenAPI, the admin and the CLI."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carboy.types import ASGIApp

if TYPE_CHECKING:
    from carboy.params import Depends, ParamInfo


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One HTTP or WebSocket route of a built app (see :meth:`carboy.Carboy.routes_info`).

    Attributes:
        methods: HTTP methods, as declared (empty for a WebSocket route).
        path: The full path template (``/blog/{slug}``), router prefixes included.
        name: The full name for ``url_for`` (``blog.post_detail``).
        handler: The handler function.
        summary: ``extra["summary"]``, else the docstring's first line.
        description: ``extra["description"]``, else the rest of the docstring.
        tags: The route's and its routers' tags.
        status_code: The status of a successful response: as declared, else 204
            for a handler annotated ``-> None``, else 200.
        params: What the client sends (path, query, header, cookie, body, form,
            file), the handler's and its dependencies', each once.
        body_type: The type of the whole JSON body, when one parameter takes it.
        return_type: The handler's return annotation (``inspect.Parameter.empty`` if none).
        response_model: ``response_model=``: the type the return value is sent as.
        responses: ``extra["responses"]``: other responses, status -> description or type.
        extra: Everything passed as ``extra=`` (``include_in_schema``,
            ``openapi_extra``, a battery's own keys...).
        websocket: Whether it is a WebSocket route.
        source: ``file.py:12`` of the handler.
        media_type: ``media_type=``: the content type of a ``str`` or ``bytes``
            return (None: carboy's default, ``text/html`` for ``str``).
        dependencies: Every ``Depends`` the route runs, once each: its routers'
            and its own ``dependencies=``, then those of its parameters and of
            their dependencies (a guard such as ``login_required`` is one).

    Example:
        >>> [info.path for info in app.routes_info() if isinstance(info, RouteInfo)]
        ['/', '/items/{item_id}']
    """

    methods: tuple[str, ...]
    path: str
    name: str
    handler: Callable[..., Any]
    summary: str | None
    description: str | None
    tags: tuple[str, ...]
    status_code: int
    params: tuple[ParamInfo, ...]
    body_type: Any
    return_type: Any
    response_model: Any
    responses: Mapping[int, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)
    websocket: bool = False
    source: str = ""
    media_type: str | None = None
    dependencies: tuple[Depends, ...] = ()

    @property
    def include_in_schema(self) -> bool:
        """Whether OpenAPI should list it (``extra={"include_in_schema": False}`` hides it)."""
        return bool(self.extra.get("include_in_schema", True))

    @property
    def deprecated(self) -> bool:
        """Whether API docs mark it deprecated (``extra={"deprecated": True}``)."""
        return bool(self.extra.get("deprecated", False))


@dataclass(frozen=True, slots=True)
class MountInfo:
    """An ASGI app the built app serves under a prefix, the static files included.

    Attributes:
        path: The full prefix (``/static``); every path below it goes to ``app``.
        name: The name for ``url_for`` (``static``), if any.
        app: The mounted ASGI app as given (not wrapped in middleware).
        source: Where it was mounted (``file.py:12``); empty for the app's own
            static files (carboy mounts them).
    """

    path: str
    name: str | None
    app: ASGIApp
    source: str = ""


def split_docstring(func: Any) -> tuple[str | None, str | None]:
    """(first line, the rest) of ``func``'s docstring, cleaned; None where empty."""
    doc = inspect.getdoc(func) or ""
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None
