"""Jinja2 templates: the environment, template responses and htmx partials.

The app makes one :class:`Templates` at start-up; handlers return
:func:`render` (``return render("post.html", {"post": post})``), and the
response renders the template when it is sent, with the request, the
context processors' values and the handler's context.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import jinja2
import msgspec
from jinja2 import nodes
from jinja2.runtime import Context

from carboy import _json
from carboy.exceptions import ConfigurationError
from carboy.requests import Request
from carboy.responses import HTMLResponse, Response
from carboy.types import Receive, Scope, Send

#: ``fn(request) -> dict`` (or an ``async def`` returning one), run before each render.
ContextProcessor = Callable[[Request], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
_P = TypeVar("_P", bound=ContextProcessor)

# Autoescape is on for every template except these (plain-text e-mails and the like).
_PLAIN_TEXT_EXTENSIONS = ("txt", "text")
_MAX_INHERITANCE_DEPTH = 64


class Templates:
    """Owns the Jinja2 environment: loaders, globals and context processors.

    Templates are looked up in ``directories`` in the order given (the app's
    own folder first, so it overrides modules), then in each
    ``(package, folder)`` of ``packages``. Autoescape is on for every
    template except ``.txt`` ones. Every template gets ``url_for(name,
    **params)``, ``static(path)``, ``csp_nonce()`` (the request's
    Content-Security-Policy nonce, for ``<script nonce="...">``) and
    ``request`` (when rendered for one).

    ``undefined`` picks what a missing variable does: jinja2's default
    ``Undefined`` renders it as an empty string; ``jinja2.StrictUndefined``
    raises, which catches typos in development.

    Example:
        >>> templates = Templates(["templates"], packages=[("carboy", "templates")])
        >>> templates.env.filters["shout"] = str.upper
    """

    def __init__(
        self,
        directories: Sequence[str | os.PathLike[str]] = (),
        *,
        packages: Sequence[tuple[str, str]] = (),
        globals: Mapping[str, Any] | None = None,
        auto_reload: bool = False,
        undefined: type[jinja2.Undefined] = jinja2.Undefined,
    ) -> None:
        loaders: list[jinja2.BaseLoader] = [
            jinja2.FileSystemLoader(os.fspath(path)) for path in directories
        ]
        loaders.extend(_package_loader(pkg, folder) for pkg, folder in packages)
        self._choice = jinja2.ChoiceLoader(loaders)
        self.env = jinja2.Environment(
            loader=self._choice,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=(),
                disabled_extensions=_PLAIN_TEXT_EXTENSIONS,
                default_for_string=True,
                default=True,
            ),
            auto_reload=auto_reload,
            undefined=undefined,
        )
        # |tojson writes what a JSON response would (datetimes included); Jinja
        # still makes it safe inside HTML (<, >, & and ' escaped).
        self.env.policies["json.dumps_function"] = _tojson
        self.env.policies["json.dumps_kwargs"] = {}
        self.env.globals["url_for"] = _url_for
        self.env.globals["static"] = _static
        self.env.globals["csp_nonce"] = _csp_nonce
        if globals:
            self.env.globals.update(globals)
        self._processors: list[tuple[ContextProcessor, bool]] = []
        self._plans: dict[str, _BlockPlan] = {}  # template name -> how to render one block

    # -- setup ---------------------------------------------------------
    def add_directory(self, path: str | os.PathLike[str]) -> None:
        """Search ``path`` after every folder and package already known.

        Modules call this when they are installed, so the app's own templates
        keep priority.

        Example:
            >>> templates.add_directory("blog/templates")
        """
        self._add_loader(jinja2.FileSystemLoader(os.fspath(path)))

    def add_package(self, package: str, folder: str = "templates") -> None:
        """Search ``folder`` inside the installed ``package``, after the rest.

        Example:
            >>> templates.add_package("myshop.cart")  # myshop/cart/templates/
        """
        self._add_loader(_package_loader(package, folder))

    def _add_loader(self, loader: jinja2.BaseLoader) -> None:
        self._choice = jinja2.ChoiceLoader([*self._choice.loaders, loader])
        self.env.loader = self._choice
        if self.env.cache is not None:
            self.env.cache.clear()  # a lookup may now resolve elsewhere
        self._plans.clear()

    def context_processor(self, fn: _P) -> _P:
        """Register ``fn(request) -> dict``; its values join every request's context.

        ``fn`` may be ``async def``. It runs on the event loop before each
        render that has a request, so keep it quick. The handler's own context
        wins over a processor's values of the same name.

        Example:
            >>> @templates.context_processor
            ... def site(request: Request) -> dict[str, str]:
            ...     return {"site_name": "My blog"}
        """
        self._processors.append((fn, inspect.iscoroutinefunction(fn)))
        return fn

    # -- rendering -----------------------------------------------------
    async def render(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: Request | None = None,
        block: str | None = None,
    ) -> str:
        """Render template ``name`` (or only its ``block``) to a string.

        With a ``request``, the context processors run (async ones awaited)
        and ``request`` is available in the template.

        Example:
            >>> html = await templates.render("post.html", {"post": post}, request=request)
            >>> items = await templates.render("list.html", ctx, request=request, block="items")
        """
        return self._render(name, await self._context(request, context), block)

    async def _context(
        self, request: Request | None, context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        extra: list[Mapping[str, Any]] = []
        if request is not None:
            for fn, _ in self._processors:
                result = fn(request)
                if inspect.isawaitable(result):
                    result = await result
                extra.append(_check_processor_result(fn, result))
        return _merge(request, extra, context)

    def _context_in_thread(
        self,
        request: Request,
        context: Mapping[str, Any] | None,
        loop: asyncio.AbstractEventLoop,
    ) -> dict[str, Any]:
        """:meth:`_context` from a worker thread: async processors run on ``loop``."""
        extra: list[Mapping[str, Any]] = []
        for fn, _ in self._processors:
            result = fn(request)
            if inspect.isawaitable(result):
                result = asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()
            extra.append(_check_processor_result(fn, result))
        return _merge(request, extra, context)

    def render_sync(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: Request | None = None,
        block: str | None = None,
    ) -> str:
        """:meth:`render` for code with no event loop (scripts, ``def`` handlers' helpers).

        Raises ``RuntimeError`` if an ``async`` context processor would have to run.

        Example:
            >>> text = templates.render_sync("email/welcome.txt", {"name": "Ada"})
        """
        extra: list[Mapping[str, Any]] = []
        if request is not None:
            for fn, is_async in self._processors:
                if is_async:
                    raise RuntimeError(_async_processor_message(fn))
                result = fn(request)
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()  # never awaited: avoid the "never awaited" warning
                    raise RuntimeError(_async_processor_message(fn))
                extra.append(_check_processor_result(fn, result))
        return self._render(name, _merge(request, extra, context), block)

    async def response(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: Request,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        block: str | None = None,
        media_type: str = "text/html",
    ) -> HTMLResponse:
        """Render ``name`` now and wrap it in an :class:`HTMLResponse`.

        Example:
            >>> return await templates.response("404.html", request=request, status_code=404)
        """
        text = await self.render(name, context, request=request, block=block)
        return HTMLResponse(text, status_code=status_code, headers=headers, media_type=media_type)

    def _render(self, name: str, context: dict[str, Any], block: str | None) -> str:
        try:
            return self._render_unchecked(name, context, block)
        except Exception as exc:
            hint = _lazy_load_hint(name, exc)
            if hint is None:
                raise
            raise RuntimeError(hint) from exc

    def _render_unchecked(self, name: str, context: dict[str, Any], block: str | None) -> str:
        template = self._get_template(name)
        if block is None:
            return template.render(context)
        plan = self._block_plan(name, template)
        ctx = template.new_context(context)
        # Jinja itself registers each ancestor's blocks on the context while
        # rendering an ``{% extends %}``; do the same so ``super()`` works.
        for ancestor in plan.templates[1:]:
            for block_name, fn in ancestor.blocks.items():
                ctx.blocks.setdefault(block_name, []).append(fn)
        if block not in ctx.blocks:
            known = ", ".join(sorted(ctx.blocks)) or "none"
            raise LookupError(
                f"Template {name!r} has no block {block!r} (its blocks, including inherited "
                f"ones: {known})"
            )
        try:
            for setup in plan.setups:
                "".join(setup.root_render_func(ctx))  # no output; running it fills ctx.vars
            return "".join(ctx.blocks[block][0](ctx))
        except Exception:
            self.env.handle_exception()  # rewrites the traceback to point into the template

    def _get_template(self, name: str) -> jinja2.Template:
        try:
            return self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise jinja2.TemplateNotFound(
                name, f"Template {name!r} not found; searched: {self._search_path()}"
            ) from None

    def _search_path(self) -> str:
        places: list[str] = []
        for loader in self._choice.loaders:
            if isinstance(loader, jinja2.FileSystemLoader):
                places.extend(os.path.abspath(p) for p in loader.searchpath)
            elif isinstance(loader, jinja2.PackageLoader):
                places.append(f"package {loader.package_name}/{loader.package_path}")
        return ", ".join(places) or "nowhere (no template folders are configured)"

    def _block_plan(self, name: str, template: jinja2.Template) -> _BlockPlan:
        plan = self._plans.get(name)
        if (
            plan is not None
            and plan.templates[0] is template
            and (not self.env.auto_reload or all(t.is_up_to_date for t in plan.templates))
        ):
            return plan
        templates = [template]
        setups: list[jinja2.Template] = []
        current_name = name
        while True:
            parent_name, setup = self._read_template(current_name)
            if setup is not None:
                setups.append(setup)
            if parent_name is None:
                break
            if len(templates) >= _MAX_INHERITANCE_DEPTH:
                raise jinja2.TemplateRuntimeError(
                    f"Template {name!r} extends more than {_MAX_INHERITANCE_DEPTH} levels deep "
                    "(is there a cycle?)"
                )
            templates.append(self.env.get_template(parent_name, current_name))
            current_name = parent_name
        plan = _BlockPlan(tuple(templates), tuple(setups))
        self._plans[name] = plan
        return plan

    def _read_template(self, name: str) -> tuple[str | None, jinja2.Template | None]:
        """The template's literal parent name and its top-level set-up code, compiled."""
        loader = self.env.loader
        if loader is None:  # pragma: no cover - Templates always sets a loader
            return None, None
        source, filename, uptodate = loader.get_source(self.env, name)
        tree = self.env.parse(source, name, filename)
        parent: str | None = None
        extends = tree.find(nodes.Extends)
        if extends is not None:
            if not (
                isinstance(extends.template, nodes.Const)
                and isinstance(extends.template.value, str)
            ):
                raise jinja2.TemplateRuntimeError(
                    f"Template {name!r} uses a computed {{% extends %}}; rendering one block "
                    'needs a literal parent name, like {% extends "layout.html" %}'
                )
            parent = extends.template.value
        # A whole render runs the top-level {% import %}, {% set %} and {% macro %}
        # of the template and its layouts; a block alone needs them too.
        body = [node for node in tree.body if isinstance(node, _SETUP_NODES)]
        if not body:
            return parent, None
        setup_tree = nodes.Template(body, lineno=1)
        setup_tree.set_environment(self.env)
        code = self.env.compile(setup_tree, name, filename)
        setup = self.env.template_class.from_code(
            self.env, code, self.env.make_globals(None), uptodate
        )
        return parent, setup


def _tojson(value: Any, indent: int | None = None) -> str:
    body = _json.dumps(value)
    return (body if indent is None else msgspec.json.format(body, indent=indent)).decode()


class _BlockPlan(NamedTuple):
    templates: tuple[jinja2.Template, ...]  # the template, then its layouts, nearest first
    setups: tuple[jinja2.Template, ...]  # their top-level set-up code, in the same order


_SETUP_NODES = (nodes.Import, nodes.FromImport, nodes.Assign, nodes.AssignBlock, nodes.Macro)


def _package_loader(package: str, folder: str) -> jinja2.PackageLoader:
    try:
        return jinja2.PackageLoader(package, folder)
    except (ImportError, ValueError) as exc:
        raise ConfigurationError(
            f"Cannot load templates from package {package!r}, folder {folder!r}: {exc}"
        ) from None


_DETACHED = re.compile(r"<(\w+) at .*attribute '(\w+)'")


def _lazy_load_hint(name: str, exc: Exception) -> str | None:
    """The fix, for a template that followed a relationship that could not load."""
    kind = type(exc).__name__
    if not type(exc).__module__.startswith("sqlalchemy") or kind not in (
        "DetachedInstanceError",
        "MissingGreenlet",
    ):
        return None
    found = _DETACHED.search(str(exc))
    what = f"{found[1]}.{found[2]}" if found else "Model.relationship"
    return (
        f"Template {name!r} followed {what}, which was not loaded and cannot be loaded "
        f"here ({kind}: the session is closed, or the load would block the event loop). "
        f"Load it in the handler: select(...).options(selectinload({what})), or "
        "render inside "
        "the handler's session (return render(...) from a handler that takes the "
        "Session / AsyncSession)"
    )


def _merge(
    request: Request | None, extra: list[Mapping[str, Any]], context: Mapping[str, Any] | None
) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if request is not None:
        merged["request"] = request
    for values in extra:
        merged.update(values)
    if context:
        merged.update(context)
    return merged


def _check_processor_result(fn: ContextProcessor, result: object) -> Mapping[str, Any]:
    if not isinstance(result, Mapping):
        raise TypeError(
            f"Context processor {_name(fn)} returned {type(result).__name__}; it must return "
            "a dict of template variables"
        )
    return result


def _async_processor_message(fn: ContextProcessor) -> str:
    return (
        f"Context processor {_name(fn)} is async and cannot run in render_sync(); "
        "use `await templates.render(...)` instead"
    )


def _name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


# -- template globals ----------------------------------------------------
def _request_from(context: Context, function: str) -> Request:
    request = context.get("request")
    if not isinstance(request, Request):
        raise jinja2.TemplateRuntimeError(
            f"{function}() in template {context.name!r} needs the request: render the "
            "template with request=... (carboy's render() and Templates.response() pass it)"
        )
    return request


@jinja2.pass_context
def _url_for(context: Context, name: str, /, **params: Any) -> str:
    """``{{ url_for("blog.post", id=post.id) }}``: the path of a named route."""
    return _request_from(context, "url_for").url_for(name, **params)


@jinja2.pass_context
def _static(context: Context, path: str) -> str:
    """``{{ static("css/site.css") }}``: the URL of a static file."""
    return _request_from(context, "static").url_for("static", path=path)


@jinja2.pass_context
def _csp_nonce(context: Context) -> str:
    """``<script nonce="{{ csp_nonce() }}">``: the request's Content-Security-Policy nonce."""
    return _request_from(context, "csp_nonce").csp_nonce


# -- lazy responses --------------------------------------------------------
class TemplateResponse(Response):
    """A response that renders a template when it is sent.

    Handlers make one with :func:`render`. Headers and cookies can be set on
    it before it is returned. It renders with the app's :class:`Templates`
    (``scope["app"].templates``) and the current request.

    Example:
        >>> response = render("post.html", {"post": post})
        >>> response.set_cookie("seen", "1")
        >>> response.template, response.context["post"] is post
        ('post.html', True)
    """

    media_type = "text/html"

    def __init__(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(None, status_code=status_code, headers=headers, media_type=media_type)
        # The length is known only once rendered.
        self.raw_headers[:] = [h for h in self.raw_headers if h[0] != b"content-length"]
        self.template = template
        self.context: dict[str, Any] = dict(context or {})
        self.block = block
        self._rendered = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._templates(scope)
        if not self._rendered:
            await self.render_now(scope, receive)
        await super().__call__(scope, receive, send)

    async def render_now(self, scope: Scope, receive: Receive, *, in_thread: bool = False) -> None:
        """Render the body now, where lazy loads of ORM relationships can run.

        The endpoint of an ``async def`` handler calls this before the handler's
        dependencies are cleaned up (so the request's session is still open),
        inside SQLAlchemy's greenlet bridge so an
        :class:`~sqlalchemy.ext.asyncio.AsyncSession`'s lazy loads work;
        ``in_thread`` renders in the thread pool instead. A ``def`` handler's
        response renders in its own thread (:meth:`render_in_thread`).

        Example:
            >>> await response.render_now(scope, receive)
        """
        templates = self._templates(scope)
        context = await templates._context(Request(scope, receive), self.context)
        if in_thread:
            from carboy.concurrency import run_sync

            text = await run_sync(templates._render, self.template, context, self.block)
        else:
            try:
                from sqlalchemy.util import greenlet_spawn
            except ImportError:  # no SQLAlchemy: nothing to bridge
                text = templates._render(self.template, context, self.block)
            else:
                text = await greenlet_spawn(templates._render, self.template, context, self.block)
        self._set_body(text)

    def render_in_thread(
        self, scope: Scope, receive: Receive, loop: asyncio.AbstractEventLoop
    ) -> None:
        """:meth:`render_now` from a worker thread (a ``def`` handler's), blocking it.

        The sync context processors run here; an async one runs on ``loop``
        while this thread waits for it.

        Example:
            >>> response.render_in_thread(scope, receive, loop)
        """
        templates = self._templates(scope)
        context = templates._context_in_thread(Request(scope, receive), self.context, loop)
        self._set_body(templates._render(self.template, context, self.block))

    def _templates(self, scope: Scope) -> Templates:
        templates = getattr(scope.get("app"), "templates", None)
        if not isinstance(templates, Templates):
            raise ConfigurationError(
                f"Cannot render {self.template!r}: the app has no templates. render() needs "
                'scope["app"].templates to be a carboy.templating.Templates (a Carboy app sets '
                "it up); outside an app, use Templates.response() instead"
            )
        return templates

    def _set_body(self, text: str) -> None:
        self.body = text.encode(self.charset)
        self._rendered = True
        if not (self.status_code < 200 or self.status_code in (204, 304)):
            self.headers["content-length"] = str(len(self.body))

    def __repr__(self) -> str:
        part = f" block={self.block!r}" if self.block else ""
        return f"<TemplateResponse {self.status_code} {self.template!r}{part}>"


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def render(
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> TemplateResponse:
    """Return this from a handler to answer with a rendered template.

    ``block`` renders only that ``{% block %}`` (for htmx partial updates).

    Example:
        >>> @app.get("/posts")
        ... async def posts(request: Request) -> TemplateResponse:
        ...     ctx = {"posts": await load_posts()}
        ...     if request.htmx:
        ...         return render("posts.html", ctx, block="items")
        ...     return render("posts.html", ctx)
    """
    return TemplateResponse(
        template, context, block=block, status_code=status_code, headers=headers
    )
