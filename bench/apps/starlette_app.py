"""Starlette: routes, an orjson response class, asyncpg through ``_pg``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from bench.apps._pg import Database
from bench.common import MESSAGE, PLAINTEXT, TEMPLATES_DIR, parse_queries


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


database = Database()
templates = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
fortunes_template = templates.get_template("fortunes_rows.html")


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse(PLAINTEXT)


async def json(request: Request) -> ORJSONResponse:
    return ORJSONResponse({"message": MESSAGE})


async def user(request: Request) -> ORJSONResponse:
    return ORJSONResponse({"id": request.path_params["id"]})


async def db(request: Request) -> ORJSONResponse:
    return ORJSONResponse(await database.world())


async def queries(request: Request) -> ORJSONResponse:
    count = parse_queries(request.query_params.get("queries"))
    return ORJSONResponse(await database.worlds(count))


async def fortunes(request: Request) -> HTMLResponse:
    rows = await database.fortunes()
    return HTMLResponse(fortunes_template.render(fortunes=rows))


async def updates(request: Request) -> ORJSONResponse:
    count = parse_queries(request.query_params.get("queries"))
    return ORJSONResponse(await database.update_worlds(count))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await database.connect()
    yield
    await database.close()


app = Starlette(
    routes=[
        Route("/plaintext", plaintext),
        Route("/json", json),
        Route("/users/{id:int}", user),
        Route("/db", db),
        Route("/queries", queries),
        Route("/fortunes", fortunes),
        Route("/updates", updates),
    ],
    lifespan=lifespan,
)
