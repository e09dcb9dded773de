"""FastAPI: response models (serialized by Pydantic), asyncpg through ``_pg``.

FastAPI's docs now recommend a response model or return type instead of a
custom JSON response class: Pydantic then validates the value and writes the
JSON bytes itself. Handlers return plain dicts, the cheapest input for that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel

from bench.apps._pg import Database
from bench.common import MESSAGE, TEMPLATES_DIR, parse_queries


class Message(BaseModel):
    message: str


class World(BaseModel):
    id: int
    randomNumber: int  # the wire name the tests require


database = Database()
templates = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
fortunes_template = templates.get_template("fortunes_rows.html")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await database.connect()
    yield
    await database.close()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json", response_model=Message)
async def json() -> dict[str, str]:
    return {"message": MESSAGE}


class User(BaseModel):
    id: int


@app.get("/users/{id}", response_model=User)
async def user(id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/db", response_model=World)
async def db() -> dict[str, int]:
    return await database.world()


@app.get("/queries", response_model=list[World])
async def queries(queries: str | None = None) -> list[dict[str, int]]:
    return await database.worlds(parse_queries(queries))


@app.get("/fortunes", response_class=HTMLResponse)
async def fortunes() -> str:
    return fortunes_template.render(fortunes=await database.fortunes())


@app.get("/updates", response_model=list[World])
async def updates(queries: str | None = None) -> list[dict[str, int]]:
    return await database.update_worlds(parse_queries(queries))
