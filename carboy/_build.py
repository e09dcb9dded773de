"""Building the app, once, before it serves: what ``Carboy.build()`` runs.

Each route is compiled into the :class:`~carboy._table.RouteTable` (its handler
into an endpoint and a plan, by :mod:`carboy.params`), with the static files
mounted first; the default headers are encoded once per scheme; the middleware
stack is assembled. These take what they read as arguments: the configuration
stays on the app, and what is built goes back to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carboy._table import RouteTable
from carboy.exceptions import ConfigurationError
from carboy.modules import Module
from carboy.params import (
    CompiledEndpoint,
    ParamSource,
    Plan,
    Provider,
    compile_http_endpoint,
    compile_websocket_endpoint,
)
from carboy.responses import MountGuard
from carboy.routing import (
    Converter,
    Mount,
    MountInfo,
    ResolvedRoute,
    Route,
    RouteInfo,
    parse_path,
    split_docstring,
)
from carboy.types import ASGIApp, RawHeaders

if TYPE_CHECKING:
    from carboy.middleware import (
        Middleware,
        ProxyHeadersMiddleware,
        SecurityHeaders,
        TrustedHostMiddleware,
        WebSocketOriginMiddleware,
    )
    from carboy.settings import Settings

#: Chooses middleware for one route when the app builds: ``factory(info)`` returns
#: a :class:`~carboy.middleware.Middleware` to wrap the route in, or None to leave it.
#: Registered with :meth:`carboy.Carboy.add_route_middleware`.
RouteMiddleware = Callable[[RouteInfo], "Middleware | None"]


class RouteCompiler:
    """Compiles an app's routes and mounts into its route table, recording what it serves.

    ``infos`` is what ``Carboy.routes_info()`` returns, in declaration order.
    """

    def __init__(
        self,
        converters: Mapping[str, Converter],
        providers: Mapping[type, Provider],
        route_middleware: Sequence[RouteMiddleware] = (),
        *,
        direct: bool = True,
    ):
        self.converters = converters
        self.providers = providers
        self.route_middleware = route_middleware
        #: False when every request must go through ``Carboy._fill_scope`` (a CSP
        #: nonce per request): no handler is called directly then.
        self.direct = direct
        self.table = RouteTable()
        self.routes: list[ResolvedRoute] = []
        self.infos: list[RouteInfo | MountInfo] = []

    def add_static(self, settings: Settings, app: Module, modules: Sequence[Module]) -> None:
        """Mount the static files of every module at ``settings.static_url``.

        The folders are searched in module order, then carboy's own (htmx). An
        ``app`` that mounts something at that URL itself keeps its own.
        """
        from carboy.staticfiles import StaticFiles

        url = settings.static_url.rstrip("/") or "/static"
        if any(isinstance(r, Mount) and r.path == url for r in app.routes):
            return
        directories = [m.static_dir for m in modules if m.static_dir and m.static_dir.is_dir()]
        static = StaticFiles(
            directory=[str(d) for d in directories],
            packages=[("carboy", "static")],
            check_dir=False,
        )
        self.table.add_mount(url, static, "carboy static files")
        self.infos.append(MountInfo(url, "static", static, ""))
        self.table.add_name(
            "static", parse_path(url + "/{path:path}", self.converters), "carboy static files"
        )

    def add(self, resolved: ResolvedRoute) -> None:
        """Compile one route (or mount) into the table."""
        route = resolved.route
        if isinstance(route, Mount):
            app: ASGIApp = MountGuard(route.app)
            for mw in reversed(resolved.middleware):
                app = mw.wrap(app)
            self.table.add_mount(resolved.path, app, route.source)
            if resolved.name:
                self.table.add_name(
                    resolved.name,
                    parse_path(resolved.path + "/{path:path}", self.converters),
                    route.source,
                )
            self.routes.append(resolved)
            self.infos.append(MountInfo(resolved.path, resolved.name, route.app, route.source))
            return
        template = parse_path(resolved.path, self.converters)
        kind = "WEBSOCKET" if route.websocket else "/".join(sorted(route.methods))
        handler = getattr(route.endpoint, "__qualname__", repr(route.endpoint))
        where = f"{kind} {resolved.path} ({handler} at {route.source})"
        path_params = template.converters()
        compiled: CompiledEndpoint
        if route.websocket:
            compiled = compile_websocket_endpoint(
                route.endpoint,
                path_params=path_params,
                providers=self.providers,
                dependencies=resolved.dependencies,
                where=where,
            )
        else:
            compiled = compile_http_endpoint(
                route.endpoint,
                path_params=path_params,
                providers=self.providers,
                dependencies=resolved.dependencies,
                media_type=route.media_type,
                status_code=route.status_code,
                where=where,
                response_model=route.response_model,
                exclude_none=bool(route.extra.get("exclude_none", False)),
            )
        endpoint = compiled.endpoint
        info = route_info(resolved, route, compiled.plan)
        # The route's own middleware is inside its routers' middleware; what the app's
        # route middleware chose is innermost, so it sees the request (and the body
        # stream) exactly as the handler will.
        wrappers = [*resolved.middleware, *route.extra.get("middleware", ())]
        for factory in self.route_middleware:
            chosen = factory(info)
            if chosen is not None:
                wrappers.append(chosen)
        for mw in reversed(wrappers):
            endpoint = mw.wrap(endpoint)
        self.table.add(
            template,
            endpoint,
            methods=route.methods,
            websocket=route.websocket,
            name=resolved.name,
            source=route.source,
            # Route middleware must run: such a handler is never called directly.
            direct=None if wrappers or not self.direct else compiled.direct,
        )
        self.routes.append(resolved)
        self.infos.append(info)

    def finish(self) -> RouteTable:
        """The finished table (automatic HEAD and OPTIONS added)."""
        self.table.finish()
        return self.table


def route_info(resolved: ResolvedRoute, route: Route, plan: Plan) -> RouteInfo:
    """What ``routes_info()`` says about one compiled route."""
    summary, description = split_docstring(route.endpoint)
    params = plan.request_params()
    whole = [p for p in params if p.source is ParamSource.BODY and not p.embed]
    status = route.status_code
    if status is None:
        status = 204 if plan.return_type is type(None) else 200
    return RouteInfo(
        methods=tuple(sorted(route.methods)),
        path=resolved.path,
        name=resolved.name or route.name,
        handler=route.endpoint,
        summary=route.extra.get("summary", summary),
        description=route.extra.get("description", description),
        tags=resolved.tags,
        status_code=status,
        params=tuple(params),
        body_type=whole[0].type if whole else None,
        return_type=plan.return_type,
        response_model=route.response_model,
        responses=dict(route.extra.get("responses", {})),
        extra=dict(route.extra),
        websocket=route.websocket,
        source=route.source,
        media_type=route.media_type,
        dependencies=tuple(plan.dependency_markers()),
    )


def default_headers(
    security: SecurityHeaders, server_header: str | None
) -> tuple[RawHeaders, RawHeaders]:
    """The pre-encoded headers every response gets: (over HTTP, over HTTPS)."""
    http = security.encode(https=False)
    https = security.encode(https=True)
    server = _server_header(server_header)
    if server is not None:
        http.append(server)
        https.append(server)
    return http, https


def _server_header(value: str | None) -> tuple[bytes, bytes] | None:
    """The pre-encoded ``Server`` header of ``settings.server_header``, if one is set."""
    if not value:
        return None
    if "\r" in value or "\n" in value or not value.isprintable():
        raise ConfigurationError(
            f"server_header {value!r} is not a valid header value (no control characters)"
        )
    try:
        return (b"server", value.encode("latin-1"))
    except UnicodeEncodeError:
        raise ConfigurationError(
            f"server_header {value!r} must be Latin-1 text (HTTP header values are bytes)"
        ) from None


@dataclass(frozen=True, slots=True)
class Stack:
    """The middleware around the dispatcher, and the checks the dispatcher runs itself."""

    #: The outermost middleware, or None when the dispatcher is called first.
    app: ASGIApp | None
    #: The Host check, when the dispatcher runs it (production, no other middleware).
    hosts: TrustedHostMiddleware | None
    #: The WebSocket Origin check (production), run by the dispatcher.
    origins: WebSocketOriginMiddleware | None
    #: Reads the forwarding headers of trusted proxies (``settings.trusted_proxies``).
    proxies: ProxyHeadersMiddleware | None


def build_stack(dispatcher: ASGIApp, settings: Settings, middleware: Sequence[Middleware]) -> Stack:
    """Assemble the middleware stack around ``dispatcher`` (the app).

    In production the Host header is checked first. With no other
    middleware, the dispatcher does that check itself (``Stack.hosts``):
    the production default then costs no extra layer per request.
    """
    app: ASGIApp = dispatcher
    hosts_check: TrustedHostMiddleware | None = None
    origins: WebSocketOriginMiddleware | None = None
    proxies: ProxyHeadersMiddleware | None = None
    for mw in reversed(middleware):
        app = mw.wrap(app)
    if settings.https_redirect:
        from carboy.middleware import HTTPSRedirectMiddleware

        app = HTTPSRedirectMiddleware(app)
    hosts = list(settings.allowed_hosts)
    if not settings.debug:
        from carboy.middleware import WebSocketOriginMiddleware

        # The WebSocket Origin check runs in the dispatcher, behind any
        # middleware (CORS may answer first, but never for a handshake).
        allowed = settings.websocket_allowed_origins
        if allowed is None:
            allowed = [host for host in hosts if host != "*"]
        origins = WebSocketOriginMiddleware(dispatcher, allowed_origins=allowed)
    if not settings.debug and "*" not in hosts:
        from carboy.middleware import TrustedHostMiddleware

        guard = TrustedHostMiddleware(app, allowed_hosts=hosts)
        if app is dispatcher and not settings.access_log:
            hosts_check = guard
        else:
            app = guard
    if settings.access_log:
        from carboy.middleware import AccessLogMiddleware

        app = AccessLogMiddleware(app)  # outermost: refusals are logged too
    if settings.trusted_proxies:
        from carboy.middleware import ProxyHeadersMiddleware

        proxies = ProxyHeadersMiddleware(dispatcher, trusted_proxies=settings.trusted_proxies)
    return Stack(None if app is dispatcher else app, hosts_check, origins, proxies)
