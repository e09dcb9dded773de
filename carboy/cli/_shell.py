"""``carboy shell``: Python with the app, its settings and its modules' names loaded."""

from __future__ import annotations

import code as code_module
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import click

import carboy
from carboy.app import Carboy
from carboy.cli._console import CliError
from carboy.cli._group import current_loader, pass_app


@click.command("shell")
@click.option(
    "-c",
    "--command",
    "command",
    metavar="CODE",
    help="Run CODE with the same names loaded, then exit.",
)
@click.option("--plain", is_flag=True, help="Use Python's own shell even if IPython is installed.")
@pass_app
def shell(app: Carboy, command: str | None, plain: bool) -> None:
    """Open Python with the app, its settings and its modules' names loaded.

    The names are `app`, `settings` and those of each module's shell_context().

    The app is built (routes compiled, batteries set up) but not started: its
    start-up hooks do not run. A module adds names by defining
    ``shell_context()`` returning a dict (the db battery adds its models).

    \b
      carboy shell
      carboy shell -c "print(app.url_path_for('pages.home'))"
    """
    current_loader().build(app)
    namespace = shell_namespace(app)
    if command is not None:
        exec(compile(command, "<carboy shell -c>", "exec"), namespace)
        return
    names = ", ".join(sorted(n for n in namespace if not n.startswith("_")))
    banner = (
        f"carboy {carboy.__version__} shell on Python {sys.version.split()[0]}\nLoaded: {names}"
    )
    if not plain and importlib.util.find_spec("IPython") is not None:
        ipython = importlib.import_module("IPython")
        ipython.start_ipython(argv=[], user_ns=namespace, display_banner=False)
        return
    _enable_completion(namespace)
    code_module.interact(banner=banner, local=namespace, exitmsg="")


def shell_namespace(app: Carboy) -> dict[str, Any]:
    """The names a shell starts with: ``app``, ``settings``, then each module's own.

    A module contributes by overriding :meth:`~carboy.Module.shell_context`,
    which returns a mapping of names to objects; later modules win over earlier ones.

    Example:
        >>> sorted(shell_namespace(app))
        ['app', 'settings']
    """
    namespace: dict[str, Any] = {"app": app, "settings": app.settings}
    for module in app.walk():
        names = module.shell_context()
        if not isinstance(names, Mapping):
            raise CliError(
                f"Module {module.name!r}: shell_context() must return a dict of names, "
                f"got {type(names).__name__}"
            )
        namespace.update({str(key): value for key, value in names.items()})
    return namespace


def _enable_completion(namespace: dict[str, Any]) -> None:
    try:
        import readline
        import rlcompleter
    except ImportError:  # pragma: no cover - Python built without readline
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")
