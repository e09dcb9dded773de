"""``carboy run``: check the app loads, then serve it with uvicorn or granian."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import click
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

import carboy
from carboy.cli._console import CliError, make_console
from carboy.cli._discover import DiscoveredApp
from carboy.cli._group import AppLoader, current_loader
from carboy.cli._limits import ServerLimits, limit_options
from carboy.log import RUN_LOG_LEVEL_ENV, configure_logging

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


@click.command("run")
@click.argument("app_spec", metavar="[APP]", required=False)
@click.option(
    "--host",
    "-h",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; 0.0.0.0 for every IPv4 interface.",
)
@click.option(
    "--port",
    "-p",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart when a Python file of the project changes "
    "[default: on in debug mode with one worker, like Django's runserver].",
)
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (production); not with --reload.",
)
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="The server (granian: pip install 'carboy[granian]').",
)
@click.option(
    "--interface",
    type=click.Choice(["rsgi", "asgi"]),
    default=None,
    help="How granian calls the app: RSGI (its native interface, the default) or ASGI "
    "(WebSocket close codes and subprotocols need it); uvicorn speaks ASGI only.",
)
@click.option(
    "--log-level",
    type=click.Choice(_LOG_LEVELS),
    default="info",
    show_default=True,
    help="The server's log level.",
)
@limit_options
@click.option("--traceback", is_flag=True, help="Show the full traceback of configuration errors.")
@click.pass_context
def run(
    ctx: click.Context,
    app_spec: str | None,
    host: str,
    port: int,
    reload: bool | None,
    workers: int,
    server: str,
    interface: str | None,
    log_level: str,
    max_header_size: int,
    max_headers: int,
    header_timeout: float,
    keep_alive_timeout: int,
    limit_concurrency: int,
    traceback: bool,
) -> None:
    """Serve the app; APP is 'module:attr' (default: the one found here).

    The app is imported and built first, so a missing app or a refused
    setting is reported at once, before the server starts.

    \b
      carboy run                        http://127.0.0.1:8000
      carboy run --no-reload            debug mode without restarting on code changes
      carboy run mysite.app:app --host 0.0.0.0 --workers 4 --server granian
      carboy run --server granian --interface asgi   granian, over ASGI
    """
    group_loader = current_loader(ctx)
    loader = AppLoader(app_spec) if app_spec else group_loader
    loader.traceback = group_loader.traceback or traceback
    if reload is True and workers > 1:
        raise click.UsageError("--reload runs one worker; drop --workers or --reload.", ctx)
    limits = ServerLimits(
        max_header_size=max_header_size,
        max_headers=max_headers,
        header_timeout=header_timeout,
        keep_alive_timeout=keep_alive_timeout,
        limit_concurrency=limit_concurrency,
    )
    if server == "granian":
        limits.check_granian()
        interface = interface or "rsgi"
    elif interface == "rsgi":
        raise click.UsageError(
            "--interface rsgi needs --server granian (uvicorn speaks ASGI).", ctx
        )
    else:
        interface = "asgi"
    found = loader.load()
    loader.build(found.app)
    if reload is None:
        # Debug mode reloads on code changes, as Django's runserver does, when it can:
        # one worker, and an app the server can import again.
        reload = found.app.debug and workers == 1 and found.import_string is not None
    if (reload or workers > 1 or server == "granian") and found.import_string is None:
        raise CliError(
            "This app was handed over as an object, so the server cannot import it again "
            "(needed for --reload, --workers and granian); give its location: "
            "carboy run module:attr"
        )
    _print_banner(
        found,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        server=f"{server} ({interface.upper()})",
    )
    # carboy's loggers in the settings' format, here and in every worker process
    # (Carboy.build() reads the variable there).
    configure_logging(found.app.settings, level=log_level.upper())
    # Set for the worker processes the server starts, and only while it serves: a
    # `carboy run` driven in-process (tests) must not leave it behind for later builds.
    previous = os.environ.get(RUN_LOG_LEVEL_ENV)
    os.environ[RUN_LOG_LEVEL_ENV] = log_level
    try:
        if server == "granian":
            _serve_granian(
                found,
                host=host,
                port=port,
                reload=reload,
                workers=workers,
                log_level=log_level,
                limits=limits,
                interface=interface,
            )
        else:
            _serve_uvicorn(
                found,
                host=host,
                port=port,
                reload=reload,
                workers=workers,
                log_level=log_level,
                limits=limits,
            )
    finally:
        if previous is None:
            os.environ.pop(RUN_LOG_LEVEL_ENV, None)
        else:
            os.environ[RUN_LOG_LEVEL_ENV] = previous


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def _print_banner(
    found: DiscoveredApp, *, host: str, port: int, reload: bool, workers: int, server: str
) -> None:
    debug = found.app.debug
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    table.add_row("app", Text(found.import_string or repr(found.app)))
    url = Text(_url(host, port), style="bold cyan")
    if host in ("0.0.0.0", "::"):
        url.append(f"  (every interface; locally {_url('127.0.0.1', port)})", style="dim")
    table.add_row("url", url)
    table.add_row(
        "debug",
        Text("on: tracebacks in error pages, never in production", style="yellow")
        if debug
        else Text("off", style="green"),
    )
    mode = "reload on code changes" if reload else f"{workers} worker" + "s" * (workers > 1)
    table.add_row("server", Text(f"{server}, {mode}"))
    console = make_console()
    console.print(Panel.fit(table, title=f"carboy {carboy.__version__}", title_align="left"))
    if debug and not reload:
        console.print(Text("Not reloading on code changes.", style="dim"))


def _serve_uvicorn(
    found: DiscoveredApp,
    *,
    host: str,
    port: int,
    reload: bool,
    workers: int,
    log_level: str,
    limits: ServerLimits,
) -> None:
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "lifespan": "on",
        # carboy sends the Server header it is told to (settings.server_header),
        # and reads X-Forwarded-* only from settings.trusted_proxies.
        "server_header": False,
        "proxy_headers": False,
        **limits.uvicorn_options(),
    }
    if reload or workers > 1:
        # Each server process imports the app again, from its import string.
        options.update(factory=found.factory, workers=workers if workers > 1 else None)
        if reload:
            options.update(reload=True, reload_dirs=[str(found.directory)])
        uvicorn.run(found.import_string or "", **options)
    else:
        # One process: serve the app already imported and built.
        uvicorn.run(found.app, **options)


def _serve_granian(
    found: DiscoveredApp,
    *,
    host: str,
    port: int,
    reload: bool,
    workers: int,
    log_level: str,
    limits: ServerLimits,
    interface: str,
) -> None:
    if importlib.util.find_spec("granian") is None:
        raise CliError(
            "granian is not installed. Install it with: pip install 'carboy[granian]' "
            "(or use the default server: carboy run --server uvicorn)"
        )
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        found.import_string or "",
        address=host,
        port=port,
        # RSGI: the app's __rsgi__ (carboy/_rsgi/); ASGI: the app itself.
        interface=Interfaces.RSGI if interface == "rsgi" else Interfaces.ASGI,
        workers=workers,
        reload=reload,
        reload_paths=[found.directory] if reload else None,
        log_level=LogLevels(log_level),
        factory=found.factory,
        working_dir=found.directory,
        **limits.granian_options(),
    ).serve()
