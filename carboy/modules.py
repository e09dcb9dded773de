"""Modules: the unit a project and its batteries are built from.

A module is a router plus everything else a feature area brings: templates,
static files, start-up and shutdown hooks, CLI commands, injectable
providers, error handlers and start-up checks. Installing it on the app with
``app.install(module)`` wires all of it in one place. Batteries (``carboy.db``,
``carboy.auth``...) are modules too, built only on this public surface.
"""

from __future__ import annotations

import enum
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from carboy.errors import ErrorHandler, ExceptionHandlers
from carboy.exceptions import ConfigurationError
from carboy.params import Depends, Provider
from carboy.routing import Router

if TYPE_CHECKING:
    import click

    from carboy.app import Carboy
    from carboy.middleware import Middleware

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
M = TypeVar("M", bound="Module")

Hook = Callable[[], Any]
#: A readiness check: returns (sync or async) when the dependency is reachable, raises when not.
ReadinessCheck = Callable[[], Any]


class CheckLevel(enum.IntEnum):
    """How serious a check's finding is; ``ERROR`` and above stop the app at start-up.

    The values are those of :mod:`logging`, so levels compare and sort.

    Example:
        >>> CheckLevel.WARNING < CheckLevel.ERROR
        True
    """

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50


@dataclass(frozen=True, slots=True)
class CheckMessage:
    """A finding of a start-up check: a stable id, a level, a message and a hint.

    Args:
        id: Stable and searchable, ``<module>.<letter><number>`` by convention
            (``db.E001``, ``security.W004``).
        message: What is wrong, naming the object and the field.
        hint: What to do about it.
        obj: The object concerned (``"settings"``, a model's name).
        level: How serious it is; ``ERROR`` and ``CRITICAL`` stop the app at start-up.
        deploy: Only a concern in production: reported by ``carboy check --deploy``,
            never at start-up or by a plain ``carboy check``.

    Example:
        >>> msg = CheckMessage("shop.E001", "No payment provider", level=CheckLevel.ERROR)
        >>> msg.is_error
        True
    """

    id: str
    message: str
    hint: str = ""
    obj: str = ""
    level: CheckLevel = field(kw_only=True)
    deploy: bool = field(default=False, kw_only=True)

    @property
    def is_error(self) -> bool:
        """True at ``ERROR`` and above: the app refuses to start (unless deploy-only)."""
        return self.level >= CheckLevel.ERROR

    def __str__(self) -> str:
        where = f"{self.obj}: " if self.obj else ""
        hint = f"\n\tHINT: {self.hint}" if self.hint else ""
        return f"{self.id} {where}{self.message}{hint}"


Check = Callable[["Carboy"], Sequence[CheckMessage]]


def _caller_root(depth: int = 2) -> Path:
    frame = sys._getframe(depth)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("carboy."):
        if frame.f_back is None:
            break
        frame = frame.f_back
    filename = frame.f_globals.get("__file__") if frame is not None else None
    return Path(filename).resolve().parent if filename else Path(os.getcwd())


class Module(Router):
    """Routes, templates, static files, hooks, commands and providers, installed together.

    Args:
        name: The module's name: route names are prefixed with it (``"blog.index"``).
        prefix: URL prefix of its routes (``"/blog"``).
        templates: Its template folder (relative to the module's file); the app's own
            templates override a module's of the same name.
        static: Its static folder, served under the app's static URL after the app's own.
        root: The folder ``templates`` and ``static`` are relative to; defaults to the
            folder of the file that created the module.
        middleware: Middleware for this module's routes only.
        dependencies: Dependencies run before each of its routes.

    Example:
        >>> blog = Module("blog", prefix="/blog", templates="templates")
        >>> @blog.get("/")
        ... async def index() -> str:
        ...     return "<h1>Blog</h1>"
        >>> @blog.on_startup
        ... async def warm() -> None: ...
        >>> app.install(blog)
    """

    def __init__(
        self,
        name: str,
        *,
        prefix: str = "",
        templates: str | os.PathLike[str] | None = None,
        static: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] | None = None,
        middleware: Sequence[Middleware] = (),
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
    ) -> None:
        super().__init__(
            prefix, name=name, middleware=middleware, dependencies=dependencies, tags=tags
        )
        self.root = Path(root) if root is not None else _caller_root()
        self.templates_dir = self._resolve(templates)
        self.static_dir = self._resolve(static)
        self.startup_hooks: list[Hook] = []
        self.shutdown_hooks: list[Hook] = []
        self._commands: list[click.Command] = []
        self._command_factories: list[Callable[[], Iterable[click.Command]]] = []
        self.providers: dict[type, Provider] = {}
        self.checks: list[Check] = []
        self.readiness_checks: dict[str, ReadinessCheck] = {}
        self.exception_handlers = ExceptionHandlers()
        self.context_processors: list[Callable[..., Any]] = []
        self.modules: list[Module] = []

    def _resolve(self, folder: str | os.PathLike[str] | None) -> Path | None:
        if folder is None:
            return None
        path = Path(folder)
        return path if path.is_absolute() else self.root / path

    # -- what a module brings -------------------------------------------
    def on_startup(self, func: F) -> F:
        """Decorator: run ``func`` (sync or async) when the app starts."""
        self._check_open("add a startup hook")
        self.startup_hooks.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Decorator: run ``func`` (sync or async) when the app shuts down (reverse order)."""
        self._check_open("add a shutdown hook")
        self.shutdown_hooks.append(func)
        return func

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        """Decorator: add a ``carboy`` CLI sub-command (a click command).

        Example:
            >>> @blog.command("publish-all")
            ... def publish_all() -> None:
            ...     print("done")
        """
        import click

        def decorator(func: F) -> F:
            self.add_command(click.command(*args, **kwargs)(func))
            return func

        return decorator

    def add_command(self, command: click.Command) -> None:
        """Add a ready-made click command or group to the ``carboy`` CLI."""
        self._check_open("add a command")
        self._commands.append(command)

    def add_commands(self, factory: Callable[[], Iterable[click.Command]]) -> None:
        """Add the commands ``factory`` returns, made only when the CLI first asks.

        For a battery whose commands import what serving never needs (click
        groups, rich, Alembic): a server process, or a serverless cold start,
        then does not pay for them.

        Example:
            >>> shop = Module("shop")
            >>> def shop_commands():
            ...     import click
            ...     return [click.Command("restock", callback=lambda: None)]
            >>> shop.add_commands(shop_commands)
            >>> [c.name for c in shop.commands]
            ['restock']
        """
        self._check_open("add commands")
        self._command_factories.append(factory)

    @property
    def commands(self) -> list[click.Command]:
        """The module's ``carboy`` CLI commands, in the order they were added."""
        while self._command_factories:
            self._commands.extend(self._command_factories.pop(0)())
        return self._commands

    def provide(
        self,
        type_: type[T],
        value: T | None = None,
        *,
        factory: Callable[..., Any] | None = None,
        sync_factory: Callable[..., Any] | None = None,
    ) -> None:
        """Make ``value`` (or what ``factory`` returns, per request) injectable by ``type_``.

        A factory is a dependency: sync or async, with ``yield`` for cleanup.
        ``sync_factory``, a ``def`` function or generator, serves the parameters
        of ``def`` handlers instead (and of the ``def`` dependencies they run):
        it runs in the handler's own thread hop, its cleanup too. One request
        makes one value either way. ``carboy.db`` provides ``Session`` so: the
        session of a ``def`` handler commits in the handler's thread.

        Example:
            >>> app.provide(Mailer, Mailer("smtp://localhost"))
            >>> @app.get("/ping")
            ... async def ping(mailer: Mailer) -> str: ...
        """
        self._check_open("add a provider")
        if (value is None) == (factory is None):
            raise ConfigurationError(f"provide({type_.__name__}): give a value or a factory")
        if sync_factory is not None and (
            factory is None
            or inspect.iscoroutinefunction(sync_factory)
            or inspect.isasyncgenfunction(sync_factory)
        ):
            raise ConfigurationError(
                f"provide({type_.__name__}): sync_factory must be a def function or "
                "generator, given with a factory"
            )
        self.providers[type_] = Provider(type_, value, factory, sync_factory=sync_factory)

    def provide_subclasses(
        self, base: type[T], dependency_for: Callable[[type[T]], Callable[..., Any]]
    ) -> None:
        """Make every subclass of ``base`` injectable, each built by its own dependency.

        ``dependency_for(cls)`` runs once per parameter type, when the app builds
        its routes, and returns the dependency (sync or async, with its own
        injected parameters) that makes a ``cls`` for each request. A battery
        whose users declare their own classes (``carboy.forms``: ``async def
        create(form: PostForm)``) registers its base class this way.

        Example:
            >>> class Filter:
            ...     def __init__(self, request: Request) -> None: ...
            >>> def build(cls: type[Filter]):
            ...     async def make(request: Request) -> Filter:
            ...         return cls(request)
            ...     return make
            >>> app.provide_subclasses(Filter, build)
        """
        self._check_open("add a provider")
        self.providers[base] = Provider(base, subclasses=dependency_for)

    def check(self, func: Check) -> Check:
        """Decorator: a start-up check ``func(app) -> [CheckMessage, ...]``."""
        self._check_open("add a check")
        self.checks.append(func)
        return func

    def add_readiness_check(self, name: str, func: ReadinessCheck) -> None:
        """Declare a dependency ``/readyz`` must reach: ``func()`` returns if up, raises if not.

        ``func`` may be sync or async; :class:`carboy.health.Health` runs every
        module's checks at once, each within its timeout.

        Example:
            >>> async def payments_up() -> None:
            ...     await payments_client.ping()
            >>> shop.add_readiness_check("payments", payments_up)
        """
        self._check_open("add a readiness check")
        self.readiness_checks[name] = func

    def exception_handler(self, key: int | type[BaseException]) -> Callable[[F], F]:
        """Decorator: handle an exception type or an HTTP status code.

        Example:
            >>> @app.exception_handler(404)
            ... async def not_found(request: Request, exc: HTTPException) -> Response:
            ...     return HTMLResponse("<h1>Nothing here</h1>", 404)
        """

        self._check_open("add an exception handler")

        def decorator(func: F) -> F:
            self.exception_handlers.add(key, func)
            return func

        return decorator

    def add_exception_handler(self, key: int | type[BaseException], handler: ErrorHandler) -> None:
        """Register an error handler without the decorator."""
        self._check_open("add an exception handler")
        self.exception_handlers.add(key, handler)

    def context_processor(self, func: F) -> F:
        """Decorator: ``func(request) -> dict`` adds variables to every template's context."""
        self._check_open("add a context processor")
        self.context_processors.append(func)
        return func

    def install(self, module: Module) -> None:
        """Install a sub-module (a battery may bring the modules it needs)."""
        if not isinstance(module, Module):
            raise ConfigurationError(f"install() takes a carboy Module, got {module!r}")
        self._check_open(f"install module {module.name!r}")
        if any(m is module for m in self.modules):
            return
        self.modules.append(module)
        self.include(module)

    def setup(self, app: Carboy) -> None:
        """Called once when the app builds itself; batteries override to wire themselves.

        At this point every module is installed and the settings are final.
        """

    def shell_context(self) -> Mapping[str, Any]:
        """Names that ``carboy shell`` starts with; override to add your own.

        Later modules win over earlier ones; ``app`` and ``settings`` are always there.

        Example:
            >>> class Shop(Module):
            ...     def shell_context(self) -> dict[str, object]:
            ...         return {"Product": Product}
        """
        return {}

    def get_module(self, cls: type[M]) -> M:
        """The module of type ``cls`` installed here (or under a module installed here).

        The one lookup for batteries and commands: ``app.get_module(Database)``.

        Raises:
            ConfigurationError: No such module is installed.

        Example:
            >>> db = app.get_module(Database)
        """
        for module in self.walk():
            if isinstance(module, cls):
                return module
        where = f"module {self.name!r}" if self.name else "this app"
        raise ConfigurationError(
            f"No {cls.__qualname__} module is installed on {where}: "
            f"add app.install({cls.__qualname__}(...))"
        )

    # -- walking ---------------------------------------------------------
    def walk(self, *, children_first: bool = False) -> list[Module]:
        """This module and every module installed under it, depth first, each once.

        With ``children_first``, each module comes after the modules it installed
        (the start-up order: a battery's hooks may use the batteries it brought).
        """
        seen: list[Module] = []
        order: list[Module] = []

        def visit(module: Module) -> None:
            if any(m is module for m in seen):
                return
            seen.append(module)
            for child in module.modules:
                visit(child)
            order.append(module)

        visit(self)
        return order if children_first else seen


async def run_hook(hook: Hook) -> None:
    """Run a start-up/shutdown hook, sync or async."""
    result = hook()
    if inspect.isawaitable(result):
        await result
