"""The ``carboy`` command group: built-in commands plus those of the app's modules.

The app is imported lazily, the first time a command needs it, so
``carboy new`` and ``carboy --help`` work where there is no app at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import click
from rich.text import Text

from carboy.app import Carboy
from carboy.cli._console import CliError, make_console
from carboy.cli._discover import (
    AppConfigError,
    AppImportError,
    DiscoveredApp,
    NoAppFoundError,
    discover_app,
    user_traceback,
)
from carboy.exceptions import ConfigurationError

P = ParamSpec("P")
R = TypeVar("R")

_LOADER_KEY = "carboy.cli.loader"


class AppLoader:
    """Finds and imports the app once, on first use, and remembers the outcome.

    The ``carboy`` group keeps one as its context object; commands reach it
    with :func:`current_loader`.

    Args:
        spec: ``module:attr`` (``--app``, ``CARBOY_APP``); ``None`` searches the
            current directory.
        app: An app object to use as is, instead of importing one (tests do this:
            ``CliRunner().invoke(cli, ["routes"], obj=app)``).

    Example:
        >>> loader = AppLoader("mysite.app:app")
        >>> loader.load().app
        <Carboy 'mysite' debug=True>
    """

    def __init__(self, spec: str | None = None, *, app: Carboy | None = None) -> None:
        self.spec = spec
        self.traceback = False
        self.error: CliError | None = None
        self.warned = False
        self._found: DiscoveredApp | None = None
        if app is not None:
            self._found = DiscoveredApp(app, None, "app", False, Path.cwd())

    def load(self) -> DiscoveredApp:
        """The discovered app; raises the discovery error (again) if there is none."""
        if self._found is not None:
            return self._found
        if self.error is None:
            try:
                self._found = discover_app(self.spec)
            except CliError as exc:
                self.error = exc
        if self.error is not None:
            raise self._explained(self.error)
        if self._found is None:  # pragma: no cover - one of the two is always set
            raise CliError("The app could not be loaded.")
        return self._found

    def build(self, app: Carboy) -> None:
        """``app.build()``, with a refused configuration reported as a friendly error.

        Any other exception (the user's code raised, say a broken ``models.py``)
        stops the command with its traceback.
        """
        try:
            app.build()
        except ConfigurationError as exc:
            raise self._explained(AppConfigError(str(exc), exc)) from exc
        except Exception as exc:
            summary = f"{type(exc).__name__}: {exc}"
            raise AppImportError(
                f"Building the app failed: {summary}", details=user_traceback(exc)
            ) from exc

    def _explained(self, error: CliError) -> CliError:
        if self.traceback and isinstance(error, AppConfigError):
            error.details = error.full_traceback
        return error


def current_loader(ctx: click.Context | None = None) -> AppLoader:
    """The :class:`AppLoader` of the running ``carboy`` command.

    A module's command run outside the ``carboy`` group (say, by a test
    invoking it directly) gets a loader of its own: for the app passed as
    ``obj``, or found from ``CARBOY_APP`` and the current directory.

    Example:
        >>> current_loader().load().import_string
        'mysite.app:app'
    """
    ctx = ctx or click.get_current_context()
    loader = ctx.find_object(AppLoader)
    if loader is not None:
        return loader
    existing = ctx.meta.get(_LOADER_KEY)
    if isinstance(existing, AppLoader):
        return existing
    loader = AppLoader(os.environ.get("CARBOY_APP") or None, app=ctx.find_object(Carboy))
    ctx.meta[_LOADER_KEY] = loader
    return loader


def pass_app(f: Callable[Concatenate[Carboy, P], R]) -> Callable[P, R]:
    """Decorator: give a click command the project's app as its first argument.

    The app is loaded (imported, not built) when the command runs; call
    ``app.build()`` in the command if it needs the compiled routes or the
    batteries' set-up. A battery's commands use this the same way.

    Example:
        >>> import click
        >>> from carboy import Carboy, Module
        >>> from carboy.cli import pass_app
        >>> reports = Module("reports")
        >>> @click.command("count-routes")
        ... @pass_app
        ... def count_routes(app: Carboy) -> None:
        ...     click.echo(len(app.resolved_routes))
        >>> reports.add_command(count_routes)
    """

    def new_func(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        app = current_loader(ctx).load().app
        result: R = ctx.invoke(f, app, *args, **kwargs)
        return result

    return functools.update_wrapper(new_func, f)


def _set_app_spec(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(AppLoader).spec = value


def _set_traceback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(AppLoader).traceback = True


class CarboyGroup(click.Group):
    """A click group that adds the commands of the app's modules to its own.

    It takes ``--app module:attr`` (or ``CARBOY_APP``) and ``--traceback``.
    Looking up a command that is not built in imports the app and searches
    ``module.commands`` of every module in ``app.walk()``; built-in commands
    never import it.

    Example:
        >>> import click
        >>> cli = CarboyGroup("mytool")
        >>> @cli.command()
        ... def hello() -> None:
        ...     click.echo("hello")
    """

    def __init__(
        self,
        name: str | None = None,
        commands: MutableMapping[str, click.Command] | Sequence[click.Command] | None = None,
        **attrs: Any,
    ) -> None:
        params: list[click.Parameter] = list(attrs.pop("params", None) or [])
        params.append(
            click.Option(
                ["--app"],
                metavar="MODULE:ATTR",
                envvar="CARBOY_APP",
                expose_value=False,
                is_eager=True,
                callback=_set_app_spec,
                help="Where the app is, e.g. 'mysite.app:app' or 'app:create_app' "
                "(default: found in the current directory). Env: CARBOY_APP.",
            )
        )
        params.append(
            click.Option(
                ["--traceback"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_traceback,
                help="Show the full traceback of configuration errors.",
            )
        )
        super().__init__(name, commands, params=params, **attrs)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Start with an :class:`AppLoader` as the context object (wrapping an ``obj`` app)."""
        obj = extra.get("obj")
        if "obj" not in self.context_settings and (obj is None or isinstance(obj, Carboy)):
            extra["obj"] = AppLoader(app=obj)
        return super().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in commands and, if the app loads, its modules' commands, sorted."""
        names = set(super().list_commands(ctx)) | set(self._module_commands(ctx, strict=False))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else a module's command (this loads the app)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return self._module_commands(ctx, strict=True).get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Click's lookup, with a hint when no app was found to bring more commands."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            error = current_loader(ctx).error
            if not isinstance(error, NoAppFoundError):
                raise
            hint = (
                "Commands of the app's modules (carboy.db's makemigrations, your own...) "
                f"are available once the app is found, and it was not: {error.message}"
            )
            raise click.UsageError(f"{exc.message}\n\n{hint}", exc.ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Help: the built-in commands, then those of the app's modules."""
        sections = [
            ("Commands", {name: self.commands[name] for name in super().list_commands(ctx)}),
            ("Commands of the app's modules", self._module_commands(ctx, strict=False)),
        ]
        visible = [
            (title, sorted((n, c) for n, c in commands.items() if not c.hidden))
            for title, commands in sections
        ]
        names = [name for _, rows in visible for name, _ in rows]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        for title, rows in visible:
            if rows:
                with formatter.section(title):
                    formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])

    def _module_commands(self, ctx: click.Context, *, strict: bool) -> dict[str, click.Command]:
        loader = current_loader(ctx)
        try:
            found = loader.load()
        except NoAppFoundError:
            return {}
        except CliError as exc:
            if strict:
                raise
            if not loader.warned:
                loader.warned = True
                make_console(stderr=True).print(
                    Text.assemble(
                        ("Warning: ", "bold yellow"),
                        "the app could not be loaded, so its modules' commands are not "
                        f"listed: {exc.format_message()}",
                    ),
                    soft_wrap=True,
                )
            return {}
        commands: dict[str, click.Command] = {}
        for module in found.app.walk():
            for command in module.commands:
                name = command.name
                if name and name not in self.commands:
                    commands.setdefault(name, command)
        return commands
