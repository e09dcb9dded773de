"""The API commands: ``carboy openapi schema`` and ``carboy openapi client``.

They are added to the ``carboy`` command when an :class:`~carboy.api.API` is installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from carboy.cli import CliError, current_loader, pass_app

if TYPE_CHECKING:
    from carboy.api._module import API
    from carboy.app import Carboy


def _api(app: Carboy, name: str | None) -> API:
    from carboy.api._module import API

    current_loader().build(app)
    apis = [module for module in app.walk() if isinstance(module, API)]
    if name is not None:
        apis = [api for api in apis if api.name == name]
    if not apis:
        where = f" named {name!r}" if name else ""
        raise CliError(f"The app has no carboy.api API{where}: app.install(API(...))")
    if len(apis) > 1:
        names = ", ".join(repr(api.name) for api in apis)
        raise CliError(f"The app has several APIs ({names}): choose one with --api NAME")
    return apis[0]


_API_OPTION = click.option(
    "--api", "api_name", metavar="NAME", help="The API, if there are several."
)
_OUTPUT_OPTION = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file (default: standard output).",
)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)


@click.group("openapi")
def openapi() -> None:
    """The OpenAPI document of the app's API, and a typed client made from it."""


@openapi.command("schema")
@_API_OPTION
@_OUTPUT_OPTION
@click.option("--indent", type=int, default=2, show_default=True, help="Spaces per level.")
@pass_app
def schema(app: Carboy, api_name: str | None, output: Path | None, indent: int) -> None:
    """Print (or write) the OpenAPI 3.1 document, as /openapi.json serves it."""
    document = _api(app, api_name).openapi(app)
    _write(json.dumps(document, indent=indent or None, ensure_ascii=False), output)


@openapi.command("client")
@_API_OPTION
@_OUTPUT_OPTION
@pass_app
def client(app: Carboy, api_name: str | None, output: Path | None) -> None:
    """Generate a typed Python client (one module, on httpx) for the API."""
    from carboy.api._client import generate_client

    _write(generate_client(_api(app, api_name).openapi(app)), output)


def commands() -> list[click.Command]:
    """The commands the API module adds to ``carboy``."""
    return [openapi]
