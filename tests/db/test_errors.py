"""Database errors become clear HTTP answers: 409/422 naming the field, 503 when down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import asyncpg
import psycopg
import pytest
from pydantic import BaseModel
from sqlalchemy import String, UniqueConstraint, delete, insert, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from carboy import Carboy, InvalidFields
from carboy.db import AsyncSession, Database, Session, aget_or_404, get_or_404, model_base
from carboy.db.errors import (
    ConstraintViolation,
    DatabaseUnavailable,
    IntegrityViolation,
    translate_error,
)
from carboy.testing import AsyncTestClient
from tests.db.conftest import POSTGRES_URL, Blog, make_app, require_postgres

pytestmark = pytest.mark.anyio


def _seed(db: Database, blog: Blog) -> None:
    db.create_all()
    with db.transaction() as session:
        ada = blog.Author(name="ada")
        session.add(ada)
        session.flush()
        session.add(blog.Post(title="first", author_id=ada.id))


def _violating_app(database_url: str, blog: Blog, mode: str) -> tuple[Carboy, Database]:
    """Routes that each break one constraint after the handler's own checks passed."""
    app, db = make_app(database_url, blog.base)
    Author, Post = blog.Author, blog.Post
    actions: dict[str, Any] = {
        "unique": lambda: insert(Author).values(name="ada"),
        "foreign-key": lambda: insert(Post).values(title="orphan", author_id=999),
        "referenced": lambda: delete(Author).where(Author.name == "ada"),
        "not-null": lambda: insert(Post).values(title=None, author_id=1),
        "check": lambda: update(Post).values(views=-1),
    }
    if mode == "sync":

        @app.post("/break/{what}")
        def break_sync(what: str, session: Session) -> str:
            session.execute(actions[what]())
            return "no error?"
    else:

        @app.post("/break/{what}")
        async def break_async(what: str, session: AsyncSession) -> str:
            await session.execute(actions[what]())
            return "no error?"

    return app, db


def _error(status: int, detail: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"status": status, "detail": detail, "errors": errors}


async def test_unique_violation_is_409_naming_the_field(
    database_url: str, blog: Blog, mode: str
) -> None:
    app, db = _violating_app(database_url, blog, mode)
    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/break/unique")
    assert response.status_code == 409
    assert response.json() == _error(
        409,
        "An author with this name already exists (constraint uq_author_name).",
        [
            {
                "loc": ["body", "name"],
                "field": "name",
                "type": "unique",
                "msg": "This value is already used by another author (constraint uq_author_name).",
            }
        ],
    )


async def test_missing_foreign_key_target_is_422(
    database_url: str, backend: str, blog: Blog, mode: str
) -> None:
    app, db = _violating_app(database_url, blog, mode)
    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/break/foreign-key")
    assert response.status_code == 422
    # PostgreSQL names the constraint, carboy finds its column in the models; SQLite only
    # says "a foreign key failed", and carboy finds it when the table has just one.
    assert response.json() == _error(
        422,
        "post.author_id refers to an author that does not exist "
        "(constraint fk_post_author_id_author).",
        [
            {
                "loc": ["body", "author_id"],
                "field": "author_id",
                "type": "foreign_key",
                "msg": "No author has this id (constraint fk_post_author_id_author).",
            }
        ],
    )


async def test_deleting_a_referenced_row_is_409(
    database_url: str, backend: str, blog: Blog, mode: str
) -> None:
    app, db = _violating_app(database_url, blog, mode)
    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/break/referenced")
    assert response.status_code == 409
    detail = response.json()["detail"]
    if backend == "postgresql":
        assert detail == (
            "This author is still referenced by post (constraint "
            "fk_post_author_id_author); delete or change those first."
        )
    else:
        assert detail == "This author is still referenced; delete or change those first."


async def test_not_null_violation_is_422_naming_the_field(
    database_url: str, blog: Blog, mode: str
) -> None:
    app, db = _violating_app(database_url, blog, mode)
    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/break/not-null")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "post.title is required."
    assert body["errors"] == [
        {"loc": ["body", "title"], "field": "title", "type": "not_null", "msg": "Field required"}
    ]


async def test_check_violation_is_422_naming_the_constraint(
    database_url: str, blog: Blog, mode: str
) -> None:
    app, db = _violating_app(database_url, blog, mode)
    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/break/check")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith(
        "A value breaks the check constraint ck_post_views_not_negative"
    )
    assert body["detail"] in (
        "A value breaks the check constraint ck_post_views_not_negative on post.",  # PostgreSQL
        "A value breaks the check constraint ck_post_views_not_negative.",  # SQLite
    )


async def test_violations_outside_an_injected_session_are_handled_too(
    database_url: str, blog: Blog
) -> None:
    # The handler uses the engine directly: the battery's exception handler answers.
    app, db = make_app(database_url, blog.base)

    @app.post("/raw")
    def raw(database: Database) -> str:
        with database.engine.begin() as connection:
            connection.execute(insert(blog.Author).values(name="ada"))
        return "no error?"

    _seed(db, blog)
    async with AsyncTestClient(app) as client:
        response = await client.post("/raw")
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "name"


async def test_other_database_errors_stay_500_without_details(database_url: str) -> None:
    app, _ = make_app(database_url, model_base())

    @app.get("/missing-table")
    def missing(session: Session) -> str:
        session.execute(text("SELECT * FROM no_such_table"))
        return "no error?"

    @app.get("/raw-missing-table")
    def raw_missing(database: Database) -> str:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        return "no error?"

    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        for path in ("/missing-table", "/raw-missing-table"):
            response = await client.get(path)
            assert response.status_code == 500
            assert response.json() == {"status": 500, "detail": "Internal Server Error"}


async def test_debug_mode_shows_the_database_error(database_url: str) -> None:
    app = Carboy(debug=True)
    app.install(Database(database_url, base=model_base()))

    @app.get("/raw-missing-table")
    def raw_missing(database: Database) -> str:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        return "no error?"

    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        response = await client.get("/raw-missing-table")
    assert response.status_code == 500
    assert "no_such_table" in response.json()["detail"]


def test_translate_error_leaves_other_exceptions_alone() -> None:
    assert translate_error(ValueError("x")) is None
    assert translate_error(OSError("disk")) is None
    assert translate_error(DatabaseUnavailable("down")) is None


def test_violation_messages_without_driver_details() -> None:
    from carboy.db.errors import IntegrityViolation

    violation = IntegrityViolation(ConstraintViolation("constraint"))
    assert violation.status_code == 422
    assert violation.detail == {"message": "A database constraint was violated.", "errors": []}


# -- the database goes away ---------------------------------------------------------------------
def _reading_app(url: str, mode: str) -> Carboy:
    app, _ = make_app(url, model_base())

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    if mode == "sync":

        @app.get("/db")
        def read_sync(session: Session) -> int:
            return int(session.scalar(select(1)) or 0)
    else:

        @app.get("/db")
        async def read_async(session: AsyncSession) -> int:
            return int(await session.scalar(select(1)) or 0)

    return app


async def test_an_unreachable_sqlite_file_is_503(tmp_path: Any, mode: str) -> None:
    app = _reading_app(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", mode)
    async with AsyncTestClient(app) as client:
        response = await client.get("/db")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert (await client.get("/ping")).status_code == 200
    # aiosqlite stops the thread of a failed connection later, reporting to this loop:
    # let it finish before the loop closes.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, 5)


class _Proxy:
    """A TCP relay to PostgreSQL that the test can take down and bring back."""

    def __init__(self) -> None:
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        except OSError:
            writer.close()
            return
        self.links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links.discard(writer)
        self.links.discard(up_writer)


async def test_database_down_is_503_and_the_app_recovers_when_it_returns(
    postgres_url: str, mode: str
) -> None:
    proxy = _Proxy()
    await proxy.start()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert str(proxy.port) in url
    app = _reading_app(url, mode)
    try:
        async with AsyncTestClient(app) as client:
            assert (await client.get("/db")).json() == 1
            await proxy.stop()
            for _ in range(3):  # pooled connections are dead, new ones are refused
                response = await client.get("/db")
                assert response.status_code == 503
                assert response.json()["detail"] == (
                    "The database is unavailable; please retry shortly."
                )
                assert (await client.get("/ping")).text == "pong"
            await proxy.start()
            assert (await client.get("/db")).json() == 1
            assert (await client.get("/db")).json() == 1
    finally:
        await proxy.stop()


async def test_a_connection_killed_mid_request_is_503_then_the_next_request_works(
    postgres_url: str, mode: str
) -> None:
    require_postgres()
    app, _ = make_app(postgres_url, model_base())
    admin_dsn = POSTGRES_URL

    def kill(pid: int) -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    if mode == "sync":

        @app.get("/work")
        def work_sync(session: Session, kill_me: bool = False) -> int:
            pid = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
            if kill_me:
                kill(pid)
            return int(session.scalar(select(1)) or 0)
    else:

        @app.get("/work")
        async def work_async(session: AsyncSession, kill_me: bool = False) -> int:
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
            if kill_me:
                admin = await asyncpg.connect(admin_dsn)
                try:
                    await admin.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await admin.close()
            return int(await session.scalar(select(1)) or 0)

    async with AsyncTestClient(app) as client:
        assert (await client.get("/work")).json() == 1
        killed = await client.get("/work", params={"kill_me": "true"})
        assert killed.status_code == 503
        assert killed.headers["retry-after"] == "5"
        for _ in range(3):
            assert (await client.get("/work")).json() == 1


async def test_the_driver_connection_fast_path_answers_the_same_way(
    postgres_url: str, postgres_blog: Blog
) -> None:
    blog = postgres_blog
    app, db = make_app(postgres_url, blog.base)

    @app.post("/raw-insert")
    async def raw_insert(database: Database) -> str:
        async with database.driver_connection() as conn:
            await conn.execute("INSERT INTO author (name) VALUES ($1)", "ada")
        return "ok"

    @app.get("/raw-kill")
    async def raw_kill(database: Database, kill_me: bool = False) -> int:
        async with database.driver_connection() as conn:
            if kill_me:
                admin = await asyncpg.connect(POSTGRES_URL)
                try:
                    await admin.execute(
                        "SELECT pg_terminate_backend($1)",
                        await conn.fetchval("SELECT pg_backend_pid()"),
                    )
                finally:
                    await admin.close()
            return int(await conn.fetchval("SELECT 1"))

    db.create_all()
    async with AsyncTestClient(app) as client:
        assert (await client.post("/raw-insert")).text == "ok"
        duplicate = await client.post("/raw-insert")
        assert duplicate.status_code == 409
        assert duplicate.json()["errors"][0]["field"] == "name"
        killed = await client.get("/raw-kill", params={"kill_me": "true"})
        assert killed.status_code == 503
        for _ in range(3):
            assert (await client.get("/raw-kill")).json() == 1


async def test_unique_indexes_and_composite_constraints_name_their_fields(
    database_url: str, tables: Any
) -> None:
    class Account(tables):  # type: ignore[misc, valid-type]
        email: Mapped[str] = mapped_column(String(100), unique=True, index=True)
        team: Mapped[str] = mapped_column(String(20))
        handle: Mapped[str] = mapped_column(String(20))
        __table_args__ = (UniqueConstraint("team", "handle"),)

    db = Database(database_url, base=tables)
    db.create_all()
    with db.transaction() as session:
        session.add(Account(email="a@x", team="red", handle="ada"))

    def insert(**values: str) -> dict[str, Any]:
        with pytest.raises(IntegrityViolation) as caught, db.transaction() as session:
            session.add(Account(**values))
        assert caught.value.status_code == 409
        detail: dict[str, Any] = caught.value.detail
        return detail

    by_index = insert(email="a@x", team="blue", handle="bob")
    assert (
        by_index["message"] == "An account with this email already exists (constraint "
        "ix_account_email)."
    )
    assert [e["field"] for e in by_index["errors"]] == ["email"]
    composite = insert(email="b@x", team="red", handle="ada")
    assert composite["message"] == (
        "An account with this team, handle already exists (constraint uq_account_team_handle)."
    )
    assert [e["field"] for e in composite["errors"]] == ["team", "handle"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("user", "A user with this email already exists."),
        ("author", "An author with this email already exists."),
        ("hour_log", "An hour_log with this email already exists."),
        ("european_site", "A european_site with this email already exists."),
        ("post", "A post with this email already exists."),
    ],
)
def test_messages_use_the_article_a_reader_expects(table: str, message: str) -> None:
    violation = IntegrityViolation(ConstraintViolation("unique", table, ("email",)))
    assert violation.message == message


def test_an_integrity_violation_has_the_attributes_of_every_invalid_fields() -> None:
    violation = IntegrityViolation(ConstraintViolation("not_null", "post", ("title",)))
    assert isinstance(violation, InvalidFields)
    assert violation.status_code == 422
    assert [(e.loc, e.field, e.type) for e in violation.errors] == [
        (["body", "title"], "title", "not_null")
    ]
    assert violation.detail == {"message": violation.message, "errors": violation.errors}


def test_values_beyond_the_column_are_422_not_500(database_url: str, blog: Blog) -> None:
    # Regression: SQLite raised OverflowError (2**63) and PostgreSQL's int4 a
    # DataError (2**31): each was a 500 with a traceback.
    app, db = make_app(database_url, blog.base)
    db.create_all()

    @app.get("/sync/{id}")
    def sync_post(id: str, session: Session) -> str:
        return blog.Post.__name__ if session.get(blog.Post, int(id)) else "none"

    @app.get("/async/{id}")
    async def async_post(id: str, session: AsyncSession) -> str:
        return "found" if await session.get(blog.Post, int(id)) else "none"

    from carboy.testing import TestClient

    postgres = database_url.startswith("postgresql")
    with TestClient(app) as client:
        for kind in ("sync", "async"):
            answer = client.get(f"/{kind}/{2**63}")
            assert answer.status_code == 422, (kind, answer.text)
            assert "out of the range" in answer.json()["detail"]
            answer = client.get(f"/{kind}/{2**31}")
            assert answer.status_code == (422 if postgres else 200), (kind, answer.text)
            assert client.get(f"/{kind}/1").status_code == 200
    assert translate_error(OverflowError("Python int too large")) is not None


# -- values the database cannot hold (a 4xx, never a 500) ------------------------------
class NewCounter(BaseModel):
    name: str
    value: int  # a body field: not bounded by carboy, the database refuses it


def _range_app(database_url: str, blog: Blog, mode: str) -> tuple[Carboy, Database]:
    app, db = make_app(database_url, blog.base)
    Counter = blog.Counter

    if mode == "sync":

        @app.get("/raw/{counter_id}")
        def raw_sync(counter_id: int, session: Session) -> dict[str, Any]:
            found = session.get(Counter, counter_id)
            return {"found": found is not None}

        @app.get("/counter/{counter_id}")
        def counter_sync(counter_id: int, session: Session) -> dict[str, Any]:
            return {"name": get_or_404(session, Counter, counter_id).name}

        @app.get("/blog/{post_id:int}")
        def post_sync(post_id: int, session: Session) -> dict[str, Any]:
            return {"title": get_or_404(session, blog.Post, post_id).title}

        @app.post("/counters", status_code=201)
        def add_sync(body: NewCounter, session: Session) -> dict[str, Any]:
            session.add(Counter(name=body.name, value=body.value))
            session.flush()
            return {"ok": True}
    else:

        @app.get("/raw/{counter_id}")
        async def raw_async(counter_id: int, session: AsyncSession) -> dict[str, Any]:
            found = await session.get(Counter, counter_id)
            return {"found": found is not None}

        @app.get("/counter/{counter_id}")
        async def counter_async(counter_id: int, session: AsyncSession) -> dict[str, Any]:
            return {"name": (await aget_or_404(session, Counter, counter_id)).name}

        @app.get("/blog/{post_id:int}")
        async def post_async(post_id: int, session: AsyncSession) -> dict[str, Any]:
            return {"title": (await aget_or_404(session, blog.Post, post_id)).title}

        @app.post("/counters", status_code=201)
        async def add_async(body: NewCounter, session: AsyncSession) -> dict[str, Any]:
            session.add(Counter(name=body.name, value=body.value))
            await session.flush()
            return {"ok": True}

    return app, db


async def test_values_past_what_the_database_holds_are_4xx_not_500(
    database_url: str, blog: Blog, mode: str, backend: str
) -> None:
    app, db = _range_app(database_url, blog, mode)
    _seed(db, blog)
    with db.transaction() as session:
        session.add(blog.Counter(name="hits", value=1))
    big = 2**63  # past every integer column
    int4 = 2**31  # past PostgreSQL's integer (the default id column there)
    async with AsyncTestClient(app) as client:
        # The path converter stops at 64 bits: no route matches.
        assert (await client.get(f"/blog/{big}")).status_code == 404
        # A plain int parameter is 64-bit: a 422 naming it.
        response = await client.get(f"/raw/{big}")
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["path", "counter_id"]
        # get_or_404 knows its key column's range: a 404, not a database error.
        assert (await client.get(f"/counter/{int4}")).status_code == 404
        assert (await client.get("/counter/1")).json() == {"name": "hits"}
        # Straight to the driver: PostgreSQL refuses an int4 past its range (22003).
        response = await client.get(f"/raw/{int4}")
        if backend == "postgresql":
            assert response.status_code == 422
            assert "database column" in response.json()["detail"]
        else:
            assert response.json() == {"found": False}
        # A body value past 64 bits: SQLite's driver (OverflowError) and PostgreSQL
        # both refuse it; a 422, and nothing is written.
        response = await client.post("/counters", json={"name": "big", "value": big})
        assert response.status_code == 422, response.text
        response = await client.post("/counters", json={"name": "ok", "value": 5})
        assert response.status_code == 201
    with db.transaction() as session:
        names = sorted(session.scalars(select(blog.Counter.name)))
    assert names == ["hits", "ok"]


def test_translate_error_knows_data_errors() -> None:
    found = translate_error(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert found is not None and found.status_code == 422


async def test_database_down_is_logged_rate_limited(
    tmp_path: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    from carboy.db import _database

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(_database._unavailable_log, "_next", 0.0)
    monkeypatch.setattr(_database._unavailable_log, "_suppressed", 0)
    app = _reading_app(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", mode)
    try:
        with caplog.at_level(logging.WARNING, logger="carboy.db"):
            async with AsyncTestClient(app) as client:
                for _ in range(5):
                    assert (await client.get("/db")).status_code == 503
                _database._unavailable_log._next = 0.0  # the interval has passed
                assert (await client.get("/db")).status_code == 503
    finally:
        monkeypatch.undo()
        for thread in threading.enumerate():
            if "_connection_worker_thread" in thread.name:
                await asyncio.to_thread(thread.join, 5)
    lines = [r.getMessage() for r in caplog.records if r.name == "carboy.db"]
    assert len(lines) == 2, lines  # not one line per request
    assert lines[0].startswith("Database unavailable (answering 503): ")
    assert "more like it in the last 10s not logged" in lines[1]
