"""carboy's full-stack page app: the ``page`` and ``page_sync`` tests run against this one.

A TechEmpower app carries no sessions, so carboy's (``bench.apps.carboy_app``)
has none; this app is the site a carboy user writes, with ``carboy.auth``
on every route. The ``/page`` test is written as a carboy user writes a page:
``carboy.auth`` (the ``Auth`` battery with its default signed-cookie
sessions, or ``BENCH_SESSIONS_URL=database://`` for sessions in the
database; the signed-in user as ``Annotated[User, login_required]``), the
``carboy.db`` ORM session and a ``Fortune`` model read with ``select()``, and
the ``page.html`` Jinja2 template through ``carboy.templating.render``.
``/page-sync`` is the same page as a sync ``def`` handler on a sync ORM
``Session``. ``POST /login`` checks the password with the user store and
signs in with ``carboy.auth.login`` (a new session id, as at every sign-in).

carboy's auth tables (``auth_user``, ``auth_permission``...) have the names of
Django's, which share this database; so carboy connects as its own role
(``carboy_bench``), whose ``search_path`` puts its schema first: its auth
tables live there, and ``world`` and ``fortune`` are read from ``public`` as
everyone's are. ``bench_setup()`` makes the role and the schema, runs
carboy's migrations and creates the user.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from bench.common import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    BENCH_USERNAME,
    DATABASE_URL,
    POOL_SIZE,
    TEMPLATES_DIR,
)
from carboy import Carboy, Form, HTTPException, Request, Response
from carboy.auth import Auth, Guard, User, login
from carboy.db import AsyncSession, Database, Model, Session
from carboy.settings import Settings
from carboy.templating import render

# carboy refuses short secret keys in production; this one is public and fine for a benchmark.
SECRET_KEY = "carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
#: The role carboy connects as, and the schema its own tables live in.
ROLE = "carboy_bench"
SCHEMA = "carboy_app"
#: ``cookie://`` (carboy's default: signed cookies) or ``database://`` (the auth_session table).
SESSIONS_URL = os.environ.get("BENCH_SESSIONS_URL", "cookie://")


def _role_url(url: str = DATABASE_URL, role: str = ROLE) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


app = Carboy(
    Settings(
        debug=False,
        secret_key=SECRET_KEY,
        # Production as deployed: the Host header is checked on every request.
        allowed_hosts=["127.0.0.1", "localhost"],
        templates_dir=str(TEMPLATES_DIR),
        sessions_url=SESSIONS_URL,
    )
)
db = Database(_role_url(), pool_size=POOL_SIZE, max_overflow=0, pool_timeout=30)
app.install(db)
# No sign-in pages (the harness posts to /login below); the rest as installed by default.
auth = Auth(pages=None)
app.install(auth)


# -- the full-stack page ---------------------------------------------------------
class Fortune(Model):
    __tablename__ = "fortune"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


#: The signed-in user, or a redirect to the sign-in route (this app has no sign-in page).
SignedIn = Annotated[User, Guard(login_url="/login")]


# The harness signs in with one form POST and no form page before it (no CSRF token).
@app.post("/login", extra={"csrf_exempt": True})
async def sign_in(
    request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    users = auth.users
    found = await users.get_by_login(username)
    if found is None or not await users.check_password(found, password):
        raise HTTPException(403, "bad credentials")
    await login(request, found)
    return Response(None, 204)


@app.get("/page")
async def page(user: SignedIn, session: AsyncSession) -> object:
    fortunes = await session.scalars(select(Fortune).order_by(Fortune.id))
    return render("page.html", {"user": user, "fortunes": fortunes.all()})


@app.get("/page-sync")
def page_sync(user: SignedIn, session: Session) -> object:
    fortunes = session.scalars(select(Fortune).order_by(Fortune.id))
    return render("page.html", {"user": user, "fortunes": fortunes.all()})


def bench_setup() -> None:
    """carboy's role, schema, auth tables and ``/page`` user (called by ``bench.db_setup``)."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        role, schema = sql.Identifier(ROLE), sql.Identifier(SCHEMA)
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(schema, role)
        )
        conn.execute(sql.SQL("GRANT SELECT, UPDATE ON world, fortune TO {}").format(role))
        name = sql.Identifier(urlsplit(DATABASE_URL).path.lstrip("/"))
        conn.execute(
            sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}, public").format(
                role, name, schema
            )
        )
    app.build()
    db.migrations.migrate()
    asyncio.run(_ensure_user())


async def _ensure_user() -> None:
    users: Any = auth.users
    try:
        found = await users.get_by_login(BENCH_USERNAME)
        if found is None:
            await users.create(username=BENCH_USERNAME, email=BENCH_EMAIL, password=BENCH_PASSWORD)
        elif not await users.check_password(found, BENCH_PASSWORD):
            await users.set_password(found, BENCH_PASSWORD)
    finally:
        await db.dispose()
