"""FastAPI: response models (serialized by Pydantic), asyncpg through ``_pg``.

FastAPI's docs now recommend a response model or return type instead of a
custom JSON response class: Pydantic then validates the value and writes the
JSON bytes itself. Handlers return plain dicts, the cheapest input for that.

``/page`` the way FastAPI's users write it: Starlette's ``SessionMiddleware``
(a signed cookie), a ``current_user`` dependency reading the user id from the
session and loading the user with SQLAlchemy's async ORM (``_page_sql``), and
``Jinja2Templates``. The session middleware wraps the whole app, as it does in
a FastAPI project; a request without a cookie pays only for its look.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.sessions import SessionMiddleware

from bench.apps import _page_sql
from bench.apps._page_sql import SESSION_SECRET, authenticate, bench_setup, db_session
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
    await _page_sql.engine.dispose()


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


# -- the full-stack page: Starlette's signed-cookie sessions, a current-user dependency --
app.add_middleware(SessionMiddleware, secret_key=SESSION_SECRET, https_only=False)
templates_response = Jinja2Templates(directory=TEMPLATES_DIR)
DB = Annotated[AsyncSession, Depends(db_session)]


async def current_user(request: Request, session: DB) -> _page_sql.User:
    """The signed-in user from the session cookie, or 401."""
    user_id = request.session.get("user_id")
    user = await session.get(_page_sql.User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise HTTPException(status_code=401, detail="Not signed in")
    return user


@app.post("/login", status_code=204)
async def login(
    request: Request,
    session: DB,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> None:
    user = await authenticate(session, username, password)
    if user is None:
        raise HTTPException(status_code=403, detail="bad credentials")
    request.session.clear()  # a new session at sign-in
    request.session["user_id"] = user.id


@app.get("/page", response_class=HTMLResponse)
async def page(
    request: Request, user: Annotated[_page_sql.User, Depends(current_user)], session: DB
) -> HTMLResponse:
    return templates_response.TemplateResponse(
        request, "page.html", {"user": user, "fortunes": await _page_sql.fortunes(session)}
    )


__all__ = ["app", "bench_setup"]
