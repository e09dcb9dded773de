"""BlackSheep: the default router, typed route and query parameters, ``view`` on Jinja2.

Written as BlackSheep's docs show it: handlers registered with ``get``, the
path parameter declared ``{int:id}`` and bound by name, the ``queries`` query
parameter bound by name (a simple type defaults to the query string), JSON
through ``json()`` with the serializer set to orjson in ``json_settings`` (the
documented way to change it), HTML through ``view()`` on a ``JinjaRenderer``,
and the asyncpg pool of ``_pg`` opened in ``on_start``. BlackSheep's renderer
looks templates up with a ``.jinja`` extension; ``fortunes.jinja`` includes the
``fortunes_rows.html`` every peer renders.
"""

from blacksheep import Application, get, json, text
from blacksheep.server.rendering.jinja2 import JinjaRenderer
from blacksheep.server.responses import view
from blacksheep.settings.html import html_settings
from blacksheep.settings.json import json_settings
from jinja2 import FileSystemLoader
from orjson import dumps, loads

from bench.apps._pg import Database
from bench.common import MESSAGE, TEMPLATES_DIR, parse_queries

json_settings.use(loads=loads, dumps=lambda value: dumps(value).decode())
html_settings.use(JinjaRenderer(loader=FileSystemLoader(TEMPLATES_DIR)))  # type: ignore[no-untyped-call]

database = Database()
app = Application()


@app.on_start
async def connect(application: Application) -> None:
    await database.connect()


@app.on_stop
async def close(application: Application) -> None:
    await database.close()


@get("/plaintext")
async def plaintext() -> object:
    return text("Hello, World!")


@get("/json")
async def json_test() -> object:
    return json({"message": MESSAGE})


@get("/users/{int:id}")
async def user(id: int) -> object:
    return json({"id": id})


@get("/db")
async def db() -> object:
    return json(await database.world())


@get("/queries")
async def queries(queries: str | None = None) -> object:
    return json(await database.worlds(parse_queries(queries)))


@get("/fortunes")
async def fortunes() -> object:
    return view("fortunes", {"fortunes": await database.fortunes()})


@get("/updates")
async def updates(queries: str | None = None) -> object:
    return json(await database.update_worlds(parse_queries(queries)))
