"""The API battery as one module: ``app.install(API(...))``."""

from __future__ import annotations

import importlib
import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carboy.api._cors import CORS
from carboy.api._openapi import DocumentOptions, OpenAPIBuilder, check_document
from carboy.api._problems import ProblemMiddleware
from carboy.api._resource import Resource
from carboy.api._security import Security
from carboy.api._throttling import APIThrottles, ThrottleSpec, make_throttle
from carboy.api._versioning import Versioning
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.middleware import CORSMiddleware, Middleware
from carboy.modules import Module
from carboy.params import Depends
from carboy.requests import Request
from carboy.responses import Response
from carboy.routing import Route, RouteInfo
from carboy.templating import TemplateResponse, render

if TYPE_CHECKING:
    from carboy.app import Carboy

#: The Content-Security-Policy of the docs page: Swagger UI's files and the document,
#: all from 'self'; no inline script or style (the page starts Swagger UI from docs.js).
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class OpenAPIConfig:
    """Where the document and the docs page are served, and what the document says.

    Args:
        openapi_url: The document's path, under the API's prefix.
        docs_url: The docs page's path (Swagger UI), under the API's prefix.
        only_api: Document only the API's own routes; by default every route of
            the app (its pages, other modules) that is in the schema.
        servers: OpenAPI ``servers`` objects (``[{"url": "https://api.example.com"}]``).
        tags: OpenAPI tag objects, to give tags descriptions and an order.
        csrf_header: The header carrying the CSRF token with the session cookie
            (None: the document names no CSRF scheme).
        error_schema: The JSON Schema of the app's error body when it has its
            own ``error_envelope`` (the problem details of the API's routes
            included); by default carboy's ``{"status", "detail", "errors"?}``.
        docs_csp: The docs page's Content-Security-Policy, sent in place of the
            app's on that page only.
        home_url: A link back to the site in the docs page's header.

    Example:
        >>> API(title="Shop", openapi=OpenAPIConfig(docs_url="/reference", only_api=True))
    """

    openapi_url: str = "/openapi.json"
    docs_url: str = "/docs"
    only_api: bool = False
    servers: Sequence[Mapping[str, Any]] = ()
    tags: Sequence[Mapping[str, Any]] = ()
    csrf_header: str | None = "X-CSRF-Token"
    error_schema: Mapping[str, Any] | None = None
    docs_csp: str = DOCS_CSP
    home_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("openapi_url", "docs_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("/") or value.endswith("/"):
                raise ConfigurationError(
                    f"OpenAPIConfig({name}={value!r}): a path that starts with '/' and does "
                    "not end with one, such as '/docs'"
                )
        if self.openapi_url == self.docs_url:
            raise ConfigurationError("OpenAPIConfig: openapi_url and docs_url must differ")


class API(Module):
    """An HTTP API: an OpenAPI 3.1 document, a docs page, problem-details errors.

    Routes added to the API (``@api.get(...)``) are routes like any other; the
    API answers their errors as RFC 9457 ``application/problem+json`` and, when
    the docs are on, serves the OpenAPI document of the app at
    ``<prefix>/openapi.json`` and Swagger UI at ``<prefix>/docs``. The document
    is built once, at start-up.

    Args:
        prefix: The API's URL prefix (``"/api"``); the document and docs page live under it.
        name: Its name (route names are ``<name>.<handler>``).
        title: The document's ``info.title``.
        version: The document's ``info.version`` (your API's version, not OpenAPI's).
        description: The document's ``info.description`` (Markdown).
        docs: Serve the document and the docs page; None follows the ``api_docs``
            setting, which itself defaults to on in debug and off in production.
        openapi: Paths and contents of the document (:class:`OpenAPIConfig`).
        dependencies: Dependencies run before each of the API's routes.
        tags: Tags of every route of the API.
        versioning: :class:`URLVersioning` (``/api/v2/...``) or
            :class:`HeaderVersioning` (``API-Version: 2``); handlers read the
            version with ``version: Annotated[str, api.request_version]``.
        cors: A :class:`CORS` preset, installed app-wide (``CORS.public()``,
            ``CORS.first_party([...])``).
        throttle: Each client's quota over the API's routes: a rate
            (``"100/minute"``) or a :class:`carboy.cache.Throttle`, counted in
            the app's cache per client (its access token, else its user, else
            its address) with the IETF ``RateLimit-Policy`` and ``RateLimit``
            fields on every answer and a problem+json 429 with ``Retry-After``
            past it; a route's ``extra={"throttle": ...}`` or a resource's
            ``throttles=`` gives that route its own quota (None: none). Any
            other dependency that answers 429 (carboy.auth's throttles) is run
            before each route and documented as is.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.api import API
        >>> api = API(prefix="/api", title="Notes")
        >>> @api.get("/ping")
        ... async def ping() -> dict[str, str]:
        ...     return {"ping": "pong"}
        >>> app = Carboy(debug=True)
        >>> app.install(api)
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        name: str = "api",
        title: str = "API",
        version: str = "0.1.0",
        description: str | None = None,
        docs: bool | None = None,
        openapi: OpenAPIConfig | None = None,
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        versioning: Versioning | None = None,
        cors: CORS | None = None,
        throttle: ThrottleSpec | Depends | None = None,
    ) -> None:
        run = list(dependencies)
        if versioning is not None:
            prefix = versioning.prefix(prefix, name)
            run.insert(0, versioning.marker)
        if isinstance(throttle, Depends):
            run.insert(0, throttle)
        #: The quota of each client over the API's routes (None: none, or a dependency's).
        self.throttles = APIThrottles(
            None
            if throttle is None or isinstance(throttle, Depends)
            else make_throttle(throttle, name),
            self._owns_route,
        )
        super().__init__(
            name,
            prefix=prefix,
            templates="templates",
            static="static",
            root=Path(__file__).parent,
            middleware=[Middleware(ProblemMiddleware)],
            dependencies=run,
            tags=tags,
        )
        self.versioning = versioning
        self.cors = cors
        self.throttle = throttle
        #: The apps the middleware went on: setup runs once per app (more if called
        #: again), and one API object may be installed on several (an app factory's).
        self._wired: weakref.WeakSet[Carboy] = weakref.WeakSet()
        self.title = title
        self.version = version
        self.description = description
        self.docs = docs
        self.openapi_config = openapi if openapi is not None else OpenAPIConfig()
        self._app: Carboy | None = None
        #: Each app's document, and its JSON (an app's settings shape its document).
        self._documents: weakref.WeakKeyDictionary[Carboy, dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._document_bytes: weakref.WeakKeyDictionary[Carboy, bytes] = weakref.WeakKeyDictionary()
        #: ``(handler id, methods)`` of the API's routes, and their handler ids: found
        #: once the app compiles its routes (after every setup), see :meth:`_own_routes`.
        self._own: set[tuple[int, tuple[str, ...]]] | None = None
        self._own_handlers: set[int] = set()
        self._docs_added = False  # the routes: on this module, so once for every app
        self.resources: list[Resource] = []
        self.on_startup(self._build_document)
        # Imported when the CLI lists commands: serving never loads click groups.
        self.add_commands(lambda: importlib.import_module("carboy.api.cli").commands())

    # -- wiring ------------------------------------------------------------------
    @property
    def app(self) -> Carboy | None:
        """The app the API is installed on, once that app has built (None before)."""
        return self._app

    @property
    def request_version(self) -> Depends:
        """The dependency that gives a handler the request's API version.

        Raises:
            ConfigurationError: The API has no ``versioning``.

        Example:
            >>> @api.get("/hello")
            ... async def hello(version: Annotated[str, api.request_version]) -> dict[str, str]:
            ...     return {"version": version}
        """
        if self.versioning is None:
            raise ConfigurationError(
                f"API {self.name!r} has no versions: give it versioning=URLVersioning([...]) "
                "or HeaderVersioning([...])"
            )
        return self.versioning.marker

    def docs_enabled(self, app: Carboy) -> bool:
        """Whether the document and docs page are served: ``docs=``, else the setting."""
        if self.docs is not None:
            return self.docs
        setting: bool | None = app.settings.api_docs
        return app.debug if setting is None else setting

    def resource(self, model: type, **options: Any) -> Resource:
        """Serve list, retrieve, create, update and delete of ``model`` under this API.

        The options are :class:`~carboy.api.Resource`'s; the routes are made when
        the app builds (the ``api_max_page_size`` setting is read then).

        Example:
            >>> posts = api.resource(Post, path="/posts", filters=["published"],
            ...                      ordering=["created_at"], search=["title"])
        """
        self._check_open(f"add a resource for {getattr(model, '__name__', model)!r}")
        found = Resource(model, **options)
        if any(r.path == found.path for r in self.resources):
            raise ConfigurationError(f"{self.name}: two resources at {found.path!r}")
        self.resources.append(found)
        return found

    def setup(self, app: Carboy) -> None:
        """Wire the app (CORS, throttles) and add the resources', document's and docs' routes."""
        self._app = app
        self._documents.pop(app, None)
        self._document_bytes.pop(app, None)
        self._own = None
        if self.versioning is not None:
            self.versioning.setup(app, self.name or "api")
        if app not in self._wired:  # what goes on the app: on each app, once
            self._wired.add(app)
            if self.cors is not None:
                app.add_middleware(CORSMiddleware, **self.cors.options())
            app.add_route_middleware(self.throttles)
        for resource in self.resources:
            resource.build(self, app)
        self.throttles.check_cache(app)
        if not self._docs_added:
            # Always routed; each app that serves them decides (docs_enabled): a 404 where off.
            self._docs_added = True
            config = self.openapi_config
            hidden = {"include_in_schema": False}
            self.add_route(config.openapi_url, self._serve_document, name="openapi", extra=hidden)
            self.add_route(config.docs_url, self._serve_docs, name="docs", extra=hidden)

    # -- the document --------------------------------------------------------------
    def openapi(self, app: Carboy | None = None) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app (built on the first call, then kept).

        Raises:
            ConfigurationError: A route's types cannot be described, or the API
                is not installed on a built app.

        Example:
            >>> document = api.openapi(app)
            >>> sorted(document["paths"])
            ['/api/ping']
        """
        target = app if app is not None else self._app
        if target is None:
            raise ConfigurationError(
                "API.openapi(): the API is not installed on an app; app.install(api), "
                "or pass the app: api.openapi(app)"
            )
        document = self._documents.get(target)
        if document is None:
            target.build()
            config = self.openapi_config
            options = DocumentOptions(
                title=self.title,
                version=self.version,
                description=self.description,
                servers=config.servers,
                tags=config.tags,
                include=self._is_own if config.only_api else None,
                # An app with its own error envelope answers the API's errors with it.
                problem_routes=self._is_own if target.error_envelope is None else _never,
                error_schema=config.error_schema,
                throttles=(self.throttle,) if isinstance(self.throttle, Depends) else (),
                rate_limit=self.throttles.for_route,
                security=Security.from_app(target, config.csrf_header),
            )
            document = OpenAPIBuilder(target, options).build()
            check_document(document)
            self._documents[target] = document
        return document

    def _own_routes(self) -> set[tuple[int, tuple[str, ...]]]:
        if self._own is None:  # first asked while the app compiles its routes
            self._own = {
                (id(resolved.route.endpoint), tuple(sorted(resolved.route.methods)))
                for resolved in self.iter_routes()
                if isinstance(resolved.route, Route)
            }
            self._own_handlers = {handler for handler, _ in self._own}
        return self._own

    def _is_own(self, info: RouteInfo) -> bool:
        return (id(info.handler), info.methods) in self._own_routes()

    def _owns_route(self, info: RouteInfo) -> bool:
        self._own_routes()
        return id(info.handler) in self._own_handlers

    def _build_document(self) -> None:
        """At start-up: the document of the app set up last (a route it cannot describe
        stops the start, not the first request for the document)."""
        if self._app is not None:
            self._json_document(self._app)

    def _json_document(self, app: Carboy) -> bytes:
        found = self._document_bytes.get(app)
        if found is None:
            found = json.dumps(self.openapi(app), ensure_ascii=False).encode("utf-8")
            self._document_bytes[app] = found
        return found

    def _check_docs(self, request: Request) -> None:
        if not self.docs_enabled(request.app):
            raise HTTPException(404)

    async def _serve_document(self, request: Request) -> Response:
        self._check_docs(request)
        return Response(self._json_document(request.app), media_type="application/json")

    async def _serve_docs(self, request: Request) -> TemplateResponse:
        self._check_docs(request)
        config = self.openapi_config
        context = {
            "title": self.title,
            "version": self.version,
            "openapi_url": request.url_for(f"{self.name}.openapi", **request.path_params),
            "csrf_header": config.csrf_header,
            "home_url": config.home_url,
        }
        headers = {"content-security-policy": config.docs_csp, "cache-control": "no-store"}
        return render("carboy_api/docs.html", context, headers=headers)


def _never(info: RouteInfo) -> bool:
    return False
