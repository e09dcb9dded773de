"""Litestar: typed handlers (serialized by msgspec), Jinja templates, asyncpg through ``_pg``.

``/page`` the way Litestar's docs write it: ``SessionAuth`` (its session
middleware, here the cookie backend: the session encrypted in the cookie)
with a ``retrieve_user_handler`` loading the user with SQLAlchemy's async ORM
(``_page_sql``), ``request.user`` in the handler, and a ``Template`` response.
The routes of the other tests are excluded from the authentication, as its
docs show for public routes.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from litestar import Litestar, MediaType, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.params import Body
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.security.session_auth import SessionAuth
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.template.config import TemplateConfig

from bench.apps import _page_sql
from bench.apps._page_sql import SESSION_SECRET, User, authenticate, bench_setup, db_session
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


# -- the full-stack page -------------------------------------------------------------
async def retrieve_user(
    session: dict[str, Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    async with _page_sql.sessions() as orm:
        return await orm.get(User, user_id)


session_auth = SessionAuth[User, Any](
    retrieve_user_handler=retrieve_user,
    # AES-GCM wants a 16, 24 or 32 byte key.
    session_backend_config=CookieBackendConfig(
        secret=hashlib.sha256(SESSION_SECRET.encode()).digest(), secure=False
    ),
    exclude=[
        "/plaintext",
        "/json",
        "/users/",
        "/db",
        "/queries",
        "/fortunes",
        "/updates",
        "/login",
    ],
)
LoginForm = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@post("/login", status_code=HTTP_204_NO_CONTENT, dependencies={"orm": Provide(db_session)})
async def login(request: Request[Any, Any, Any], data: LoginForm, orm: Any) -> None:
    user = await authenticate(orm, data.get("username", ""), data.get("password", ""))
    if user is None:
        raise HTTPException(status_code=403, detail="bad credentials")
    request.clear_session()  # a new session at sign-in
    request.set_session({"user_id": user.id})


@get("/page", dependencies={"orm": Provide(db_session)})
async def page(request: Request[User, Any, Any], orm: Any) -> Template:
    rows = await _page_sql.fortunes(orm)
    return Template(template_name="page.html", context={"user": request.user, "fortunes": rows})


async def _dispose() -> None:
    await _page_sql.engine.dispose()


app = Litestar(
    route_handlers=[plaintext, json, user, db, queries, fortunes, updates, login, page],
    on_app_init=[session_auth.on_app_init],
    template_config=TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine),
    on_startup=[database.connect],
    on_shutdown=[database.close, _dispose],
    openapi_config=None,
    debug=False,
)

__all__ = ["app", "bench_setup"]
