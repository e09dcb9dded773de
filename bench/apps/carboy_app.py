"""carboy under test: the same routes as every peer, written with carboy's public API.

The database tests use the ``carboy.db`` battery (``bench.apps.carboy_db``):
its pooled asyncpg connections, prepared statements and one batched UPDATE.

The full-stack ``/page`` test (session cookie -> logged-in user -> one query ->
template) reads through one pooled connection of ``carboy.db`` per request, the
battery's documented fast path for reads (``db.driver_connection()``: the
driver's prepared statements, no ORM identity map), and renders with carboy's
own templates. Login itself (not measured) uses the ORM session.
carboy's auth battery does not exist yet, so the session is what that battery
will do, written here by hand and kept as lean as Flask-Login's: an
HMAC-signed cookie holding the user id, and the user loaded by primary key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any

import psycopg
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from bench.apps.carboy_db import install_db_routes
from bench.common import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    BENCH_USERNAME,
    DATABASE_URL,
    MESSAGE,
    PAGE_FORTUNES_SQL,
    TEMPLATES_DIR,
)
from carboy import Carboy, Cookie, Depends, Form, HTTPException, Response
from carboy.db import AsyncSession, Database, Model
from carboy.settings import Settings
from carboy.templating import render

# carboy refuses short secret keys in production; this one is public and fine for a benchmark.
SECRET_KEY = "carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
SESSION_COOKIE = "carboy_session"

app = Carboy(
    Settings(
        debug=False,
        secret_key=SECRET_KEY,
        # Production as deployed: the Host header is checked on every request.
        allowed_hosts=["127.0.0.1", "localhost"],
        templates_dir=str(TEMPLATES_DIR),
    )
)


@app.get("/plaintext", media_type="text/plain")
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json() -> dict[str, str]:
    return {"message": MESSAGE}


@app.get("/users/{id:int}")
async def user(id: int) -> dict[str, int]:
    return {"id": id}


install_db_routes(app)


# -- the full-stack page ---------------------------------------------------------
class BenchUser(Model):
    __tablename__ = "carboy_bench_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(256))


class PageFortune(Model):
    __tablename__ = "fortune"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


def _hash_password(password: str, salt: str) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt.encode(), n=2**14, r=8, p=1)
    return f"scrypt${salt}${digest.hex()}"


def _check_password(password: str, stored: str) -> bool:
    _, salt, _ = stored.split("$")
    return hmac.compare_digest(_hash_password(password, salt), stored)


def _sign(user_id: int) -> str:
    mac = hmac.new(SECRET_KEY.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()
    return f"{user_id}.{mac}"


async def read_connection(db: Database) -> AsyncIterator[Any]:
    """One pooled driver connection per request, shared by the user lookup and the page."""
    async with db.driver_connection() as conn:
        yield conn


Connection = Annotated[Any, Depends(read_connection)]
USER_BY_ID = "SELECT id, username, email FROM carboy_bench_user WHERE id = $1"


async def current_user(
    conn: Connection, carboy_session: Annotated[str | None, Cookie()] = None
) -> Any:
    """The logged-in user from the signed session cookie, or 401."""
    if carboy_session:
        user_id, _, _ = carboy_session.partition(".")
        if user_id.isdigit() and hmac.compare_digest(_sign(int(user_id)), carboy_session):
            found = await conn.fetchrow(USER_BY_ID, int(user_id))
            if found is not None:
                return found
    raise HTTPException(401, "Log in first")


@app.post("/login")
async def login(
    session: AsyncSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    found = await session.scalar(select(BenchUser).where(BenchUser.username == username))
    if found is None or not _check_password(password, found.password_hash):
        raise HTTPException(403, "bad credentials")
    response = Response(None, 204)
    response.set_cookie(SESSION_COOKIE, _sign(found.id))
    return response


@app.get("/page")
async def page(user: Annotated[Any, Depends(current_user)], conn: Connection) -> object:
    fortunes = await conn.fetch(PAGE_FORTUNES_SQL)
    return render("page.html", {"user": user, "fortunes": fortunes})


def bench_setup() -> None:
    """Create carboy's user table and the ``/page`` user (called by ``bench.db_setup``)."""
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS carboy_bench_user ("
            "id serial PRIMARY KEY, username varchar(150) UNIQUE NOT NULL, "
            "email varchar(254) NOT NULL, password_hash varchar(256) NOT NULL)"
        )
        row = conn.execute(
            "SELECT password_hash FROM carboy_bench_user WHERE username = %s", (BENCH_USERNAME,)
        ).fetchone()
        if row is None or not _check_password(BENCH_PASSWORD, row[0]):
            conn.execute("DELETE FROM carboy_bench_user WHERE username = %s", (BENCH_USERNAME,))
            conn.execute(
                "INSERT INTO carboy_bench_user (username, email, password_hash) "
                "VALUES (%s, %s, %s)",
                (
                    BENCH_USERNAME,
                    BENCH_EMAIL,
                    _hash_password(BENCH_PASSWORD, secrets.token_hex(8)),
                ),
            )
