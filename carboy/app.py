"""The ``Carboy`` application: the ASGI entry point, and the root module.

Its phases, each in its own place:

- **configuration**: this class (the constructor, settings, middleware,
  converters, templates, ``url_for``, ``routes_info``);
- **building**: ``Carboy.build()``, once, on :mod:`carboy._build` (routes
  compiled into the :mod:`carboy._table`, default headers, the middleware stack);
- **dispatch**: ``Carboy.__call__`` for the fast path (one method, so a request
  costs one coroutine frame there), :mod:`carboy._dispatch` past it;
- **error handling**: :mod:`carboy._error_handling`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carboy._build import RouteCompiler, RouteMiddleware, build_stack, default_headers
from carboy._dispatch import dispatch_websocket, unmatched_http
from carboy._error_handling import handle_error
from carboy._forms import FormLimits
from carboy._lifespan import IN_PROCESS_KEY, serve_lifespan
from carboy._table import Endpoints, RouteTable
from carboy.background import Background
from carboy.connections import CSP_NONCE_KEY, make_csp_nonce
from carboy.errors import ErrorEnvelope, ExceptionHandlers
from carboy.exceptions import ConfigurationError
from carboy.log import RUN_LOG_LEVEL_ENV, configure_logging
from carboy.modules import CheckMessage, Module, _caller_root
from carboy.params import Provider
from carboy.responses import DEFAULT_HEADERS_KEY
from carboy.routing import (
    Converter,
    MountInfo,
    PathTree,
    ResolvedRoute,
    RouteInfo,
    default_converters,
)
from carboy.types import ASGIApp, RawHeaders, Receive, Scope, Send

if TYPE_CHECKING:
    import asyncio

    from carboy._rsgi import RSGIAdapter
    from carboy.middleware import (
        Middleware,
        ProxyHeadersMiddleware,
        SecurityHeaders,
        TrustedHostMiddleware,
        WebSocketOriginMiddleware,
    )
    from carboy.settings import Settings
    from carboy.templating import Templates


#: Scope key marking that a request already went through this app's middleware.
_INNER_KEY = "carboy.app"

logger = logging.getLogger("carboy.error")


class Carboy(Module):
    """A carboy application: one file to start, a whole project when it grows.

    Args:
        settings: A :class:`~carboy.settings.Settings` (or subclass) instance; by
            default one is loaded from ``CARBOY_*`` environment variables and ``.env``.
        debug: Overrides ``settings.debug``: tracebacks in error pages, any Host allowed.
        secret_key: Overrides ``settings.secret_key`` (required in production).
        allowed_hosts: Overrides ``settings.allowed_hosts`` (checked in production).
        middleware: App-wide middleware, outermost first.
        security: The security headers sent on every response (on by default).
        root: Folder that ``templates/`` and ``static/`` are relative to; defaults to the
            folder of the file that creates the app.
        name: The app's name (used by ``carboy`` CLI output).
        error_envelope: Shapes the JSON body of every error response (404, 422, 413
            from middleware...): a function of an :class:`~carboy.errors.ErrorDetails`
            returning what to send; by default ``{"status", "detail", "errors"?}``.

    Example:
        >>> from carboy import Carboy
        >>> app = Carboy(debug=True)
        >>> @app.get("/")
        ... async def hello() -> str:
        ...     return "Hello, World!"
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        debug: bool | None = None,
        secret_key: str | None = None,
        allowed_hosts: Sequence[str] | None = None,
        middleware: Sequence[Middleware] = (),
        security: SecurityHeaders | None = None,
        root: str | os.PathLike[str] | None = None,
        name: str = "app",
        error_envelope: ErrorEnvelope | None = None,
    ) -> None:
        from carboy.middleware import SecurityHeaders
        from carboy.settings import Settings

        overrides: dict[str, Any] = {}
        if debug is not None:
            overrides["debug"] = debug
        if secret_key is not None:
            overrides["secret_key"] = secret_key
        if allowed_hosts is not None:
            overrides["allowed_hosts"] = list(allowed_hosts)
        if settings is None:
            settings = Settings(**overrides)
        elif overrides:
            settings = settings.replace(**overrides)
        root_path = Path(root) if root is not None else _caller_root()
        super().__init__(
            "app",
            templates=settings.templates_dir,
            static=settings.static_dir,
            root=root_path,
        )
        # Route names of the app itself have no prefix.
        self.name = None
        self.app_name = name
        self.error_envelope = error_envelope
        self.settings = settings
        self.security = security if security is not None else SecurityHeaders()
        self.user_middleware: list[Middleware] = list(middleware)
        #: Factories choosing middleware per route at build (:meth:`add_route_middleware`).
        self.route_middleware: list[RouteMiddleware] = []
        self.converters: dict[str, Converter] = default_converters()
        from carboy.datastructures import State

        self.state = State()
        #: Tasks that live as long as the app runs; shutdown waits for them.
        self.background = Background()
        self._table = RouteTable()
        self._stack: ASGIApp | None = None
        self._built = False
        #: True once built with no middleware: ``__call__`` dispatches directly.
        self._direct = False
        #: The Host check the dispatcher runs itself (production, no other middleware).
        self._hosts: TrustedHostMiddleware | None = None
        self._origins: WebSocketOriginMiddleware | None = None
        #: Reads the forwarding headers of trusted proxies (``settings.trusted_proxies``).
        self._proxies: ProxyHeadersMiddleware | None = None
        self._static: dict[str, Endpoints] = {}
        self._tree: PathTree[Endpoints] = PathTree()
        self._templates: Templates | None = None
        self._handlers = ExceptionHandlers()
        self._routes: list[ResolvedRoute] = []
        self._infos: list[RouteInfo | MountInfo] = []
        self._providers: dict[type, Provider] = {}
        self._http_headers: list[tuple[bytes, bytes]] = []
        self._https_headers: list[tuple[bytes, bytes]] = []
        #: The default headers of one request: the lists above, or with a fresh CSP
        #: nonce each request when the policy takes one (chosen at build).
        self._headers_for: Callable[[Scope], RawHeaders] = self._static_headers

    # -- configuration ----------------------------------------------------
    @property
    def debug(self) -> bool:
        """Whether the app runs in debug (development) mode."""
        return bool(self.settings.debug)

    @property
    def max_body_size(self) -> int:
        """The largest request body accepted, in bytes (413 past it)."""
        return int(self.settings.max_body_size)

    @property
    def form_limits(self) -> FormLimits:
        """The bounds every form body is parsed within (from the ``form_max_*`` settings)."""
        s = self.settings
        return FormLimits(
            max_fields=s.form_max_fields,
            max_files=s.form_max_files,
            max_field_size=s.form_max_field_size,
        )

    def add_middleware(self, cls: Callable[..., ASGIApp], *args: Any, **options: Any) -> None:
        """Add app-wide middleware; the first added is the outermost.

        Example:
            >>> app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
        """
        from carboy.middleware import Middleware

        self._check_open("add middleware")
        self.user_middleware.append(Middleware(cls, *args, **options))

    def add_route_middleware(self, factory: RouteMiddleware) -> None:
        """Wrap routes in middleware chosen per route, when the app builds.

        ``factory(info)`` runs once per HTTP and WebSocket route (mounts are not
        routes), with the route's :class:`~carboy.routing.RouteInfo` (methods,
        path, name, handler, ``extra``...), and returns a
        :class:`~carboy.middleware.Middleware` to wrap that route in, or None to
        leave it alone. A route nothing wraps costs nothing: the choice is made
        once, at start-up, not per request. The chosen middleware is the
        innermost, inside the route's own (``extra={"middleware": [...]}``) and
        its routers', so it sees the request as the handler does.

        This is how a battery puts a check on the routes that need it (the CSRF
        check of ``carboy.auth`` wraps the routes that take unsafe methods, unless
        their ``extra`` says ``csrf_exempt``); call it from ``Module.setup(app)``.

        Example:
            >>> def audit(info: RouteInfo) -> Middleware | None:
            ...     return Middleware(AuditLog) if "POST" in info.methods else None
            >>> app.add_route_middleware(audit)
        """
        self._check_open("add route middleware")
        self.route_middleware.append(factory)

    def register_converter(self, name: str, converter: Converter) -> None:
        """Make ``{param:name}`` available in route paths.

        Example:
            >>> app.register_converter("year", YearConverter())
        """
        self._check_open("register a converter")
        for attr in ("regex", "to_python", "to_url"):
            if not hasattr(converter, attr):
                raise ConfigurationError(f"Converter {name!r} has no {attr!r}")
        self.converters[name] = converter

    @property
    def templates(self) -> Templates:
        """The Jinja2 templates of the app and its modules (app folders first)."""
        if self._templates is None:
            self._templates = self._make_templates()
        return self._templates

    @property
    def resolved_routes(self) -> list[ResolvedRoute]:
        """Every route with its full path and name (builds the app if needed)."""
        self.build()
        return list(self._routes)

    def routes_info(self) -> list[RouteInfo | MountInfo]:
        """What the app serves: every route and mount, static files included (builds the app).

        In declaration order, the app's static mount first. This is what
        ``carboy routes``, the API and the admin batteries read: methods, path,
        name, handler, docs, tags, status, each parameter with its source,
        type, default, constraints and description, the body and return types,
        declared extra responses and the route's ``extra=`` mapping.

        Example:
            >>> for info in app.routes_info():
            ...     if isinstance(info, RouteInfo):
            ...         print(info.path, [p.name for p in info.params])
        """
        self.build()
        return list(self._infos)

    @property
    def providers_by_type(self) -> dict[type, Provider]:
        """Every injectable app-level type (after build)."""
        return dict(self._providers)

    def error_page(
        self, scope: Scope, status_code: int, detail: Any, errors: list[Any] | None
    ) -> str | None:
        """The HTML of the app's ``<status>.html`` template for an error, or None.

        Error pages by convention: a ``404.html`` or ``500.html`` (any status) in
        the templates is used for HTML error responses, with ``status_code``,
        ``phrase``, ``detail``, ``errors`` and ``request`` in its context; it may
        extend the site's base. A template that fails to render is logged and the
        built-in page is sent instead. Context processors must be sync here.

        Example:
            >>> app.error_page(scope, 404, "Not Found", None)  # templates/404.html
        """
        from jinja2 import TemplateNotFound

        from carboy.requests import Request
        from carboy.responses import status_phrase

        name = f"{status_code}.html"
        templates = self.templates
        try:
            templates.env.get_template(name)
        except TemplateNotFound:
            return None
        context = {
            "status_code": status_code,
            "phrase": status_phrase(status_code),
            "detail": detail,
            "errors": errors or [],
        }
        try:
            return templates.render_sync(name, context, request=Request(scope))
        except Exception:
            logger.exception("Error page %s failed to render; the built-in page is sent", name)
            return None

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """The path of the route named ``name``; extra params become the query string.

        Example:
            >>> app.url_path_for("user_detail", id=3)
            '/users/3'
        """
        self.build()
        return self._table.url_path_for(name, params)

    url_for = url_path_for

    # -- building (once, before serving: see carboy._build) -------------------
    def build(self) -> None:
        """Compile routes, plans and middleware; freeze setup. Runs once, at start-up."""
        if self._built:
            return
        self.settings.validate_for_startup()
        run_log_level = os.environ.get(RUN_LOG_LEVEL_ENV)
        if run_log_level:
            # Served by ``carboy run``: every worker process logs in the settings' format.
            configure_logging(self.settings, level=run_log_level.upper())
        modules = self._setup_modules()
        for module in modules:  # the app comes first, so its own choices win
            for ptype, provider in module.providers.items():
                self._providers.setdefault(ptype, provider)
            self._handlers.update(module.exception_handlers)
        from carboy.settings import Settings

        self._providers.setdefault(
            type(self.settings), Provider(type(self.settings), self.settings)
        )
        self._providers.setdefault(Settings, Provider(Settings, self.settings))
        self._providers.setdefault(Carboy, Provider(Carboy, self))
        nonce = self.security.uses_nonce
        if nonce:
            self._headers_for = self._nonce_headers
        # With a CSP nonce, each request's headers are made for it (in _fill_scope),
        # so the dispatcher never calls a handler directly.
        routes = RouteCompiler(
            self.converters, self._providers, self.route_middleware, direct=not nonce
        )
        routes.add_static(self.settings, self, modules)
        for resolved in self.iter_routes():
            routes.add(resolved)
        self._table = routes.finish()
        self._routes = routes.routes
        self._infos = routes.infos
        self._http_headers, self._https_headers = default_headers(
            self.security, self.settings.server_header
        )
        stack = build_stack(self, self.settings, self.user_middleware)
        self._stack = stack.app
        self._hosts = stack.hosts
        self._origins = stack.origins
        self._proxies = stack.proxies
        self._static = self._table.static
        self._tree = self._table.tree
        self._run_checks(modules)
        for module in modules:
            module._freeze()
        self._freeze()
        self._built = True
        # A trusted proxy's headers are applied in _enter, before everything else.
        self._direct = self._stack is None and self._proxies is None

    def _setup_modules(self) -> list[Module]:
        done: list[Module] = []
        while True:
            pending = [m for m in self.walk() if not any(m is d for d in done)]
            if not pending:
                return done
            for module in pending:
                if module is not self:
                    module.setup(self)
                done.append(module)

    def _make_templates(self) -> Templates:
        from carboy.templating import Templates

        modules = self.walk()
        directories = [m.templates_dir for m in modules if m.templates_dir]
        templates = Templates(
            [d for d in directories if d is not None and d.is_dir()],
            packages=[("carboy", "templates")],
            auto_reload=self.debug,
        )
        for module in modules:
            for processor in module.context_processors:
                templates.context_processor(processor)
        return templates

    def _run_checks(self, modules: list[Module]) -> None:
        errors = [m for m in self.run_checks(modules) if m.is_error and not m.deploy]
        if errors:
            listed = "\n".join(f"  {m}" for m in errors)
            raise ConfigurationError(f"carboy refuses to start; checks failed:\n{listed}")

    def run_checks(self, modules: list[Module] | None = None) -> list[CheckMessage]:
        """Run every module's start-up checks and return their findings."""
        found: list[CheckMessage] = []
        for module in modules if modules is not None else self.walk():
            for check in module.checks:
                found.extend(check(self))
        return found

    # -- dispatch (past the fast path: carboy._dispatch) -----------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Without middleware this method *is* the dispatcher (one coroutine
        # frame per request); with middleware, the stack runs first and calls
        # back in with the scope marked as having passed through it.
        if not self._direct and scope.get(_INNER_KEY) is not self:
            await self._enter(scope, receive, send)
            return
        kind = scope["type"]
        if kind == "http":
            hosts = self._hosts
            if hosts is not None and not hosts.allows(scope):
                self._fill_scope(scope, _NO_PARAMS)
                await hosts.reject(scope, receive, send)
                return
            path = scope["path"]
            entry = self._static.get(path)
            if entry is None:
                params: dict[str, Any] = {}
                entry = self._tree.match(path, params)
            else:
                params = _NO_PARAMS  # a static path has none; _fill_scope gives a fresh dict
            if entry is not None:
                direct = entry.direct.get(scope["method"])
                if direct is not None:
                    # A handler that needs only the path: called here, no endpoint
                    # frame, and the scope is only filled in if something else runs.
                    func, takes_params, encode, _, general, _, _ = direct
                    # _static_headers(scope), inlined: this is the hot path (no CSP nonce here).
                    defaults = (
                        self._https_headers if scope["scheme"] == "https" else self._http_headers
                    )
                    try:
                        rv = await (func(**params) if takes_params else func())
                        messages = encode(rv, defaults)
                        if messages is not None:
                            await send(messages[0])
                            await send(messages[1])
                            return
                        self._fill_scope(scope, params)
                        await general(rv)(scope, receive, send)
                    except Exception as exc:
                        self._fill_scope(scope, params)
                        await self._handle_error(scope, receive, send, exc)
                    return
            self._fill_scope(scope, params)
            if entry is not None:
                endpoint = entry.methods.get(scope["method"])
                if endpoint is not None:
                    try:
                        await endpoint(scope, receive, send)
                    except Exception as exc:
                        await self._handle_error(scope, receive, send, exc)
                    return
            try:
                await unmatched_http(self._table, scope, receive, send, entry, debug=self.debug)
            except Exception as exc:
                await self._handle_error(scope, receive, send, exc)
        elif kind == "websocket":
            scope["app"] = self
            if self._hosts is not None and not self._hosts.allows(scope):
                await self._hosts.reject(scope, receive, send)
                return
            origins = self._origins
            if origins is not None and not origins.allows(scope):
                await origins.reject(scope, receive, send)
                return
            await dispatch_websocket(self._table, scope, receive, send)
        elif kind == "lifespan":
            await serve_lifespan(self, receive, send, in_process=bool(scope.get(IN_PROCESS_KEY)))
        else:
            raise RuntimeError(f"carboy does not handle ASGI scope type {kind!r}")

    def _fill_scope(self, scope: Scope, params: dict[str, Any]) -> None:
        """What endpoints, responses and error handlers read from the scope."""
        scope["app"] = self
        scope["path_params"] = {} if params is _NO_PARAMS else params
        scope[DEFAULT_HEADERS_KEY] = self._headers_for(scope)

    def _static_headers(self, scope: Scope) -> RawHeaders:
        """The pre-encoded headers every response gets, for the request's scheme."""
        return self._https_headers if scope["scheme"] == "https" else self._http_headers

    def _nonce_headers(self, scope: Scope) -> RawHeaders:
        """The default headers with the CSP of this request's nonce (one per request)."""
        nonce = scope.get(CSP_NONCE_KEY)
        if not isinstance(nonce, str):
            nonce = scope[CSP_NONCE_KEY] = make_csp_nonce()
        static = self._https_headers if scope["scheme"] == "https" else self._http_headers
        return [*static, self.security.csp_header(nonce)]

    async def _enter(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Build on first use, run lifespan, or pass through the middleware stack."""
        if scope["type"] == "lifespan":
            await serve_lifespan(self, receive, send, in_process=bool(scope.get(IN_PROCESS_KEY)))
            return
        self.build()
        if self._direct:
            await self(scope, receive, send)
            return
        if self._proxies is not None:
            # First: the Host check, HSTS and the HTTPS redirect see what the proxy saw.
            self._proxies.apply(scope)
        scope[_INNER_KEY] = self
        if self._stack is None:
            await self(scope, receive, send)
            return
        # App-wide middleware runs before dispatch and may need the app (settings, url_for).
        scope["app"] = self
        if scope["type"] == "http":
            # Middleware may answer on its own (400, 413): with the same headers.
            scope[DEFAULT_HEADERS_KEY] = self._headers_for(scope)
        await self._stack(scope, receive, send)

    # -- granian's RSGI interface (carboy._rsgi) ----------------------------------
    @functools.cached_property
    def _rsgi(self) -> RSGIAdapter:
        from carboy._rsgi import RSGIAdapter

        return RSGIAdapter(self)

    @property
    def __rsgi__(self) -> Callable[[Any, Any], Awaitable[None]]:
        """The app's RSGI entry (granian reads it once, then calls it per connection).

        The same app served over RSGI: see :mod:`carboy._rsgi` and docs/deployment.md.
        """
        return self._rsgi.serve

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """RSGI start-up (granian calls it in each worker): build, run the start-up hooks."""
        self._rsgi.init(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """RSGI shutdown: stop background tasks, run the shutdown hooks."""
        self._rsgi.close(loop)

    # -- error handling (carboy._error_handling) -------------------------------
    async def _handle_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None:
        await handle_error(self._handlers, scope, receive, send, exc, debug=self.debug)

    def __repr__(self) -> str:
        return f"<Carboy {self.app_name!r} debug={self.debug}>"


#: The path parameters of every static route (never handed out: see ``_fill_scope``).
_NO_PARAMS: dict[str, Any] = {}
