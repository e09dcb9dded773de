"""``carboy routes``: every route of the app, where it is declared, as a table or JSON."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from carboy.app import Carboy
from carboy.cli._console import make_console
from carboy.cli._group import current_loader, pass_app
from carboy.routing import Mount

# The usual reading order of methods; others follow alphabetically.
_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))}
_KIND_STYLE = {"http": "green", "websocket": "magenta", "mount": "blue"}


@click.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print the routes as a JSON list.")
@pass_app
def routes(app: Carboy, as_json: bool) -> None:
    """List the routes: methods, path, name, handler and source.

    Sorted by path.

    WebSocket routes show WS as their method; mounted apps (static files,
    other ASGI apps) show MOUNT and serve every path under theirs.
    """
    current_loader().build(app)
    rows = route_rows(app)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for title in ("Methods", "Path", "Name", "Handler", "Source"):
        table.add_column(title, no_wrap=title != "Source")
    for row in rows:
        kind = row["kind"]
        methods = {"websocket": "WS", "mount": "MOUNT"}.get(kind) or ",".join(row["methods"])
        table.add_row(
            Text(methods, style=_KIND_STYLE[kind]),
            Text(row["path"] + ("/*" if kind == "mount" else "")),
            Text(row["name"] or "", style="cyan"),
            Text(row["handler"]),
            Text(row["source"], style="dim"),
        )
    make_console().print(table)


def route_rows(app: Carboy) -> list[dict[str, Any]]:
    """One dict per route (``kind``, ``methods``, ``path``, ``name``, ``handler``, ``source``).

    ``kind`` is ``"http"``, ``"websocket"`` or ``"mount"``. The static files
    the app serves are listed as a mount. Sorted by path, then method.

    Example:
        >>> route_rows(app)[0]
        {'kind': 'http', 'methods': ['GET'], 'path': '/', 'name': 'home', ...}
    """
    rows: list[dict[str, Any]] = []
    for resolved in app.resolved_routes:
        route = resolved.route
        if isinstance(route, Mount):
            rows.append(_row("mount", [], resolved.path, resolved.name, route.app, route.source))
        elif route.websocket:
            rows.append(
                _row("websocket", [], resolved.path, resolved.name, route.endpoint, route.source)
            )
        else:
            methods = sorted(route.methods, key=lambda m: (_METHOD_ORDER.get(m, 99), m))
            rows.append(
                _row("http", methods, resolved.path, resolved.name, route.endpoint, route.source)
            )
    # The app mounts its static files itself (not a declared route) unless a
    # route took that path.
    static_url = app.settings.static_url
    if not any(row["kind"] == "mount" and row["path"] == static_url for row in rows):
        from carboy.staticfiles import StaticFiles

        rows.append(_row("mount", [], static_url, "static", StaticFiles, ""))
    rows.sort(key=lambda row: (row["path"], row["kind"] == "mount", row["methods"]))
    return rows


def _row(
    kind: str, methods: list[str], path: str, name: str | None, handler: object, source: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "methods": methods,
        "path": path,
        "name": name,
        "handler": _dotted_name(handler),
        "source": source,
    }


def _dotted_name(obj: object) -> str:
    """``module.qualname`` of a function or class; of its class for other objects."""
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", repr(target))
    return f"{module}.{qualname}" if module else str(qualname)
