"""The ``carboy`` command itself: the group and its built-in commands."""

from __future__ import annotations

import sys

import click

import carboy
from carboy.cli._check import check
from carboy.cli._group import CarboyGroup
from carboy.cli._new import new
from carboy.cli._routes import routes
from carboy.cli._run import run
from carboy.cli._shell import shell

_PYTHON = ".".join(str(part) for part in sys.version_info[:3])

cli = CarboyGroup(
    "carboy",
    commands=[new, run, routes, shell, check],
    help="carboy: the web framework that starts as one file and grows into a project.\n\n"
    "Commands that need the app find it in the current directory (app.py, main.py, "
    "asgi.py, or <package>/app.py) unless --app or CARBOY_APP says where it is. "
    "The app's modules add commands of their own.",
)
cli = click.version_option(
    carboy.__version__,
    "--version",
    "-V",
    package_name="carboy",
    message=f"%(prog)s %(version)s (Python {_PYTHON})",
)(cli)


def main() -> None:
    """Run the ``carboy`` command (the console script's entry point).

    Example:
        $ carboy --version
        carboy 0.1.0 (Python 3.12.4)
    """
    cli.main(prog_name="carboy")
