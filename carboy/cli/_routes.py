"""``carboy routes``: every route of the app, where it is declared, as a table or JSON.

It prints what :meth:`carboy.Carboy.routes_info` publishes and derives nothing itself.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from carboy.app import Carboy
from carboy.cli._console import make_console
from carboy.cli._group import current_loader, pass_app
from carboy.params import ParamInfo
from carboy.routing import MountInfo, RouteInfo

# The usual reading order of methods; others follow alphabetically.
_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))}
_KIND_STYLE = {"http": "green", "websocket": "magenta", "mount": "blue"}


@click.command("routes")
@click.option("--json", "as_json", is_flag=True, help="Print the routes as a JSON list.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Under each route, print its description and parameters.",
)
@pass_app
def routes(app: Carboy, as_json: bool, verbose: bool) -> None:
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
    console = make_console()
    console.print(table)
    if verbose:
        for row in rows:
            if row["kind"] != "mount":
                methods = ",".join(row["methods"]) or "WS"
                console.print(Text(f"\n{methods} {row['path']}", style="bold"))
                for line in _details(row):
                    console.print(Text(line), highlight=False)


def _details(row: dict[str, Any]) -> list[str]:
    lines = [f"  {text}" for text in (row["summary"], row["description"]) if text]
    for param in row["params"]:
        parts = [f"{param['source']} {param['name']}: {param['type']}"]
        if not param["required"]:
            parts.append(f"= {param['default']}")
        parts += [f"{k}={v!r}" for k, v in param["constraints"].items()]
        if param["description"]:
            parts.append(f"- {param['description']}")
        if param["deprecated"]:
            parts.append("(deprecated)")
        lines.append("  " + " ".join(parts))
    return lines


def route_rows(app: Carboy) -> list[dict[str, Any]]:
    """One JSON-ready dict per route and mount, from :meth:`carboy.Carboy.routes_info`.

    Every row has ``kind`` (``"http"``, ``"websocket"`` or ``"mount"``),
    ``methods``, ``path``, ``name``, ``handler`` and ``source``; route rows
    also ``summary``, ``description``, ``status_code`` and ``params`` (each
    with ``name``, ``source``, ``type``, ``required``, ``default``,
    ``constraints``, ``description``, ``examples``, ``deprecated``). The
    static files the app serves are listed as a mount. Sorted by path, then method.

    Example:
        >>> route_rows(app)[0]
        {'kind': 'http', 'methods': ['GET'], 'path': '/', 'name': 'home', ...}
    """
    rows: list[dict[str, Any]] = []
    for info in app.routes_info():
        if isinstance(info, MountInfo):
            rows.append(_row("mount", [], info.path, info.name, info.app, info.source))
            continue
        kind = "websocket" if info.websocket else "http"
        methods = sorted(info.methods, key=lambda m: (_METHOD_ORDER.get(m, 99), m))
        row = _row(kind, methods, info.path, info.name, info.handler, info.source)
        row.update(_route_details(info))
        rows.append(row)
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


def _route_details(info: RouteInfo) -> dict[str, Any]:
    return {
        "summary": info.summary,
        "description": info.description,
        "status_code": info.status_code,
        "params": [_param(p) for p in info.params],
    }


def _param(param: ParamInfo) -> dict[str, Any]:
    return {
        "name": param.wire_name,
        "source": param.source.value,
        "type": _type_name(param.type),
        "required": param.required,
        "default": None if param.required else _jsonable(param.default),
        "constraints": {k: _jsonable(v) for k, v in param.constraints.items()},
        "description": param.description,
        "examples": [_jsonable(v) for v in param.examples],
        "deprecated": param.deprecated,
    }


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)


def _dotted_name(obj: object) -> str:
    """``module.qualname`` of a function or class; of its class for other objects."""
    target = obj if hasattr(obj, "__qualname__") else type(obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", repr(target))
    return f"{module}.{qualname}" if module else str(qualname)
