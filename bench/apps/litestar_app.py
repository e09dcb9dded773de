"""Litestar: typed handlers (serialized by msgspec), Jinja templates, asyncpg through ``_pg``."""

from __future__ import annotations

from litestar import Litestar, MediaType, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from bench.apps._pg import Database
from bench.common import MESSAGE, PLAINTEXT, TEMPLATES_DIR, parse_queries

database = Database()


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> bytes:
    return PLAINTEXT


@get("/json")
async def json() -> dict[str, str]:
    return {"message": MESSAGE}


@get("/users/{id:int}")
async def user(id: int) -> dict[str, int]:
    return {"id": id}


@get("/db")
async def db() -> dict[str, int]:
    return await database.world()


@get("/queries")
async def queries(queries: str | None = None) -> list[dict[str, int]]:
    return await database.worlds(parse_queries(queries))


@get("/fortunes")
async def fortunes() -> Template:
    rows = await database.fortunes()
    return Template(template_name="fortunes_rows.html", context={"fortunes": rows})


@get("/updates")
async def updates(queries: str | None = None) -> list[dict[str, int]]:
    return await database.update_worlds(parse_queries(queries))


app = Litestar(
    route_handlers=[plaintext, json, user, db, queries, fortunes, updates],
    template_config=TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine),
    on_startup=[database.connect],
    on_shutdown=[database.close],
    openapi_config=None,
    debug=False,
)
