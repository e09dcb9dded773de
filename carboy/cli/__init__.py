"""The ``carboy`` command: create, run, inspect and check a project.

Batteries and a project's own modules add commands with
``module.add_command(...)`` (or ``@module.command()``); :func:`pass_app`
hands such a command the project's app.

Example:
    >>> import click
    >>> from carboy import Carboy, Module
    >>> from carboy.cli import pass_app
    >>> stats = Module("stats")
    >>> @stats.command("count-routes")
    ... @pass_app
    ... def count_routes(app: Carboy) -> None:
    ...     click.echo(len(app.resolved_routes))
"""

from carboy.cli._console import CliError as CliError
from carboy.cli._discover import AppConfigError as AppConfigError
from carboy.cli._discover import AppImportError as AppImportError
from carboy.cli._discover import DiscoveredApp as DiscoveredApp
from carboy.cli._discover import NoAppFoundError as NoAppFoundError
from carboy.cli._discover import discover_app as discover_app
from carboy.cli._group import AppLoader as AppLoader
from carboy.cli._group import CarboyGroup as CarboyGroup
from carboy.cli._group import current_loader as current_loader
from carboy.cli._group import pass_app as pass_app
from carboy.cli._main import cli as cli
from carboy.cli._main import main as main

__all__ = [
    "AppConfigError",
    "AppImportError",
    "AppLoader",
    "CarboyGroup",
    "CliError",
    "DiscoveredApp",
    "NoAppFoundError",
    "cli",
    "current_loader",
    "discover_app",
    "main",
    "pass_app",
]
