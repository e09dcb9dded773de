"""The Database module: URLs, engines, per-request sessions, lifespan, discovery."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.ext.asyncio
import sqlalchemy.orm
from sqlalchemy import event, func, select, text

from carboy import Carboy, HTTPException, Module, Settings
from carboy.db import AsyncSession, Database, Session, model_base, parse_url
from carboy.db.errors import IntegrityViolation
from carboy.exceptions import ConfigurationError
from carboy.testing import AsyncTestClient
from tests.db.conftest import Blog, make_app, new_app

pytestmark = pytest.mark.anyio


def _count(db: Database, model: Any) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- URLs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "sync", "asynchronous"),
    [
        (
            "sqlite:////srv/app.db",
            "sqlite+pysqlite:////srv/app.db",
            "sqlite+aiosqlite:////srv/app.db",
        ),
        ("sqlite+aiosqlite:////a.db", "sqlite+pysqlite:////a.db", "sqlite+aiosqlite:////a.db"),
        (
            "postgresql://u:p@h:5433/d",
            "postgresql+psycopg://u:***@h:5433/d",
            "postgresql+asyncpg://u:***@h:5433/d",
        ),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://h/d", "postgresql+psycopg://h/d", "postgresql+asyncpg://h/d"),
        ("postgresql+psycopg://h/d", "postgresql+psycopg://h/d", "postgresql+asyncpg://h/d"),
        (
            "postgresql://h/d?sslmode=require",
            "postgresql+psycopg://h/d?sslmode=require",
            "postgresql+asyncpg://h/d?ssl=require",
        ),
        ("mysql://u@h/d", "mysql+pymysql://u@h/d", "mysql+aiomysql://u@h/d"),
    ],
)
def test_one_url_configures_the_sync_and_async_drivers(
    url: str, sync: str, asynchronous: str
) -> None:
    db = Database(url)
    assert str(db.sync_url) == sync
    assert str(db.async_url) == asynchronous


def test_unknown_dialect_without_driver_is_a_clear_error() -> None:
    db = Database("oracle://h/d")
    with pytest.raises(ConfigurationError, match=r"no.*async driver for 'oracle'|does not know"):
        _ = db.async_url


@pytest.mark.parametrize("url", ["not a url", "://nothing", "", "postgresql://ada:s3cret@h:port/d"])
def test_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="is not valid") as caught:
        parse_url(url)
    assert "s3cret" not in str(caught.value)


def test_relative_sqlite_paths_are_in_the_app_folder(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    db = Database("sqlite:///data/site.db")
    app.install(db)
    app.build()
    assert db.url.database == str(tmp_path / "data" / "site.db")


def test_default_url_is_app_db_in_the_app_folder(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    db = Database()
    app.install(db)
    app.build()
    assert str(db.sync_url) == f"sqlite+pysqlite:///{tmp_path / 'app.db'}"


def test_settings_database_url_is_used(tmp_path: Path) -> None:
    app = new_app(tmp_path, settings=Settings(database_url="postgresql://example/site"))
    db = Database()
    app.install(db)
    app.build()
    assert str(db.async_url) == "postgresql+asyncpg://example/site"


def test_repr_hides_the_password() -> None:
    assert repr(Database("postgresql://ada:secret@h/d")) == "<Database 'postgresql://ada:***@h/d'>"


# -- SQLite connection set-up -------------------------------------------------------------------
async def test_sqlite_connections_have_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert connection.scalar(text("PRAGMA busy_timeout")) == 5000
    async with db.async_engine.connect() as connection:
        assert (await connection.scalar(text("PRAGMA journal_mode"))) == "wal"
        assert (await connection.scalar(text("PRAGMA foreign_keys"))) == 1
    await db.dispose()


async def test_sqlite_ddl_is_transactional(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.rollback()
    with db.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 't'")) == 0
    await db.dispose()


async def test_in_memory_sqlite_is_one_database_per_engine() -> None:
    db = Database("sqlite://")
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with db.engine.connect() as connection:  # the same connection, so the same database
        assert connection.scalar(text("SELECT count(*) FROM t")) == 0
    await db.dispose()


# -- sessions per request ------------------------------------------------------------------------
def _writing_app(database_url: str, blog: Blog, mode: str) -> tuple[Carboy, Database]:
    app, db = make_app(database_url, blog.base)
    Author = blog.Author

    def write(session: Any, names: str) -> None:
        for name in names.split(","):
            session.add(Author(name=name))

    if mode == "sync":

        @app.post("/authors")
        def create_sync(session: Session, names: str, fail: str = "") -> dict[str, int]:
            write(session, names)
            session.flush()
            if fail == "http":
                raise HTTPException(400, "refused after writing")
            if fail == "crash":
                raise RuntimeError("handler bug after writing")
            return {"written": len(names.split(","))}
    else:

        @app.post("/authors")
        async def create_async(session: AsyncSession, names: str, fail: str = "") -> dict[str, int]:
            write(session, names)
            await session.flush()
            if fail == "http":
                raise HTTPException(400, "refused after writing")
            if fail == "crash":
                raise RuntimeError("handler bug after writing")
            return {"written": len(names.split(","))}

    return app, db


async def test_a_request_commits_when_the_handler_returns(
    database_url: str, blog: Blog, mode: str
) -> None:
    app, db = _writing_app(database_url, blog, mode)
    db.create_all()
    async with AsyncTestClient(app) as client:
        response = await client.post("/authors", params={"names": "ada,grace"})
    assert response.status_code == 200
    assert response.json() == {"written": 2}
    assert _count(db, blog.Author) == 2


@pytest.mark.parametrize(("fail", "status"), [("http", 400), ("crash", 500)])
async def test_an_exception_in_the_handler_leaves_no_partial_write(
    database_url: str, blog: Blog, mode: str, fail: str, status: int
) -> None:
    app, db = _writing_app(database_url, blog, mode)
    db.create_all()
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        response = await client.post("/authors", params={"names": "ada,grace", "fail": fail})
        assert response.status_code == status
        # The connection went back to the pool clean: the next request works.
        ok = await client.post("/authors", params={"names": "linus"})
        assert ok.status_code == 200
    assert _count(db, blog.Author) == 1


async def test_a_failed_commit_becomes_the_response(
    database_url: str, blog: Blog, mode: str
) -> None:
    # The handler returns normally; the unique violation only shows at commit, which
    # runs before the response is sent, so the client gets the 409, not a 200.
    app, db = make_app(database_url, blog.base)
    Author = blog.Author
    if mode == "sync":

        @app.post("/dupes")
        def dupes_sync(session: Session) -> str:
            session.add_all([Author(name="same"), Author(name="same")])
            return "written?"
    else:

        @app.post("/dupes")
        async def dupes_async(session: AsyncSession) -> str:
            session.add_all([Author(name="same"), Author(name="same")])
            return "written?"

    db.create_all()
    async with AsyncTestClient(app) as client:
        response = await client.post("/dupes")
    assert response.status_code == 409
    assert _count(db, Author) == 0


async def test_a_parameter_typed_with_sqlalchemys_own_session_class_is_injected(
    tmp_path: Path, blog: Blog
) -> None:
    app, db = make_app(f"sqlite:///{tmp_path / 'x.db'}", blog.base)

    @app.get("/kinds")
    def kinds(session: sqlalchemy.orm.Session) -> bool:
        return isinstance(session, Session)

    @app.get("/akinds")
    async def akinds(session: sqlalchemy.ext.asyncio.AsyncSession) -> bool:
        return isinstance(session, AsyncSession)

    async with AsyncTestClient(app) as client:
        assert (await client.get("/kinds")).json() is True
        assert (await client.get("/akinds")).json() is True
    await db.dispose()


async def test_every_connection_goes_back_to_the_pool(
    database_url: str, blog: Blog, mode: str
) -> None:
    app, db = _writing_app(database_url, blog, mode)
    db.create_all()
    async with AsyncTestClient(app, raise_server_exceptions=False) as client:
        for index in range(5):
            await client.post("/authors", params={"names": f"a{index}", "fail": "crash"})
            await client.post("/authors", params={"names": f"b{index}"})
        engine = db.engine if mode == "sync" else db.async_engine.sync_engine
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_engines_are_disposed_at_shutdown(database_url: str, blog: Blog, mode: str) -> None:
    app, db = _writing_app(database_url, blog, mode)
    engine = db.engine if mode == "sync" else db.async_engine.sync_engine
    opened: list[object] = []
    closed: list[object] = []
    event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    event.listen(engine, "close", lambda conn, record: closed.append(conn))
    db.create_all()
    async with AsyncTestClient(app) as client:
        for index in range(3):
            assert (await client.post("/authors", params={"names": f"n{index}"})).status_code == 200
        assert opened
        assert not closed
    assert len(closed) == len(opened)


async def test_the_app_starts_and_serves_other_routes_while_the_database_is_down(
    mode: str,
) -> None:
    base = model_base()
    blog = Blog(base)
    app, _ = _writing_app("postgresql://postgres@127.0.0.1:1/nothing", blog, mode)

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    async with AsyncTestClient(app) as client:
        assert (await client.get("/ping")).text == "pong"
        response = await client.post("/authors", params={"names": "ada"})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json() == {
            "status": 503,
            "detail": "The database is unavailable; please retry shortly.",
        }
        assert (await client.get("/ping")).text == "pong"


# -- transactions and connections outside requests -------------------------------------------------
async def test_transaction_commits_or_rolls_back_and_translates(
    database_url: str, blog: Blog
) -> None:
    db = Database(database_url, base=blog.base)
    db.create_all()
    with db.transaction() as session:
        session.add(blog.Author(name="ada"))

    def write_then_fail() -> None:
        with db.transaction() as session:
            session.add(blog.Author(name="grace"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with pytest.raises(IntegrityViolation) as caught, db.transaction() as session:
        session.add(blog.Author(name="ada"))
    assert caught.value.status_code == 409
    assert _count(db, blog.Author) == 1
    await db.dispose()


async def test_atransaction_commits_or_rolls_back_and_translates(
    database_url: str, blog: Blog
) -> None:
    db = Database(database_url, base=blog.base)
    await db.acreate_all()
    async with db.atransaction() as session:
        session.add(blog.Author(name="ada"))

    async def write_then_fail() -> None:
        async with db.atransaction() as session:
            session.add(blog.Author(name="grace"))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    with pytest.raises(IntegrityViolation):
        async with db.atransaction() as session:
            session.add(blog.Author(name="ada"))
    assert _count(db, blog.Author) == 1
    await db.adrop_all()
    await db.dispose()


async def test_an_async_transaction_ends_in_one_pass_through_the_greenlet_bridge(
    database_url: str, blog: Blog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Commit and close run together on the sync session: one greenlet_spawn, not two.
    db = Database(database_url, base=blog.base)
    await db.acreate_all()
    spawned: list[str] = []
    original = sqlalchemy.ext.asyncio.session.greenlet_spawn

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        spawned.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(sqlalchemy.ext.asyncio.session, "greenlet_spawn", counting)
    commits: list[object] = []
    async with db.atransaction() as session:
        event.listen(session.sync_session, "after_commit", commits.append)
        session.add(blog.Author(name="ada"))
        spawned.clear()
    assert spawned == ["_finish"], spawned
    assert commits == [session.sync_session]  # committed once
    assert not session.sync_session.in_transaction()
    assert session.sync_session.identity_map.keys() == set()  # closed: nothing kept
    assert _count(db, blog.Author) == 1
    await db.adrop_all()
    await db.dispose()


async def test_core_and_driver_connections(database_url: str, backend: str, blog: Blog) -> None:
    db = Database(database_url, base=blog.base)
    db.create_all()
    with db.transaction() as session:
        session.add_all([blog.Author(name="ada"), blog.Author(name="grace")])
    async with db.connection() as conn:
        names = (await conn.execute(select(blog.Author.name).order_by(blog.Author.name))).scalars()
        assert list(names) == ["ada", "grace"]
    async with db.driver_connection() as raw:
        if backend == "postgresql":
            assert await raw.fetchval("SELECT count(*) FROM author WHERE name = $1", "ada") == 1
            assert type(raw).__module__.startswith("asyncpg")
        else:
            cursor = await raw.execute("SELECT count(*) FROM author WHERE name = ?", ("ada",))
            assert (await cursor.fetchone())[0] == 1
            assert type(raw).__module__.startswith("aiosqlite")
    await db.dispose()


# -- wiring ----------------------------------------------------------------------------------
def test_get_module_finds_the_installed_database_or_says_how() -> None:
    app = new_app()
    with pytest.raises(ConfigurationError) as info:
        app.get_module(Database)
    assert str(info.value) == (
        "No Database module is installed on this app: add app.install(Database(...))"
    )
    db = Database("sqlite://")
    app.install(Module("blog"))
    app.install(db)
    assert app.get_module(Database) is db


async def test_the_database_itself_is_injectable(tmp_path: Path) -> None:
    app, _ = make_app(f"sqlite:///{tmp_path / 'x.db'}", model_base())

    @app.get("/url")
    async def url(database: Database) -> str:
        return database.sync_url.drivername

    async with AsyncTestClient(app) as client:
        assert (await client.get("/url")).text == "sqlite+pysqlite"


def test_models_next_to_an_installed_module_are_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shop_pkg_for_discovery"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent("""
        from carboy import Module
        shop = Module("shop")
    """)
    )
    (package / "models.py").write_text(
        textwrap.dedent("""
        from sqlalchemy.orm import Mapped
        from carboy.db import model_base
        Base = model_base()
        class Product(Base):
            name: Mapped[str]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("shop_pkg_for_discovery")]:
        monkeypatch.delitem(sys.modules, name)
    import shop_pkg_for_discovery  # type: ignore[import-not-found]

    app = new_app(tmp_path)
    app.install(shop_pkg_for_discovery.shop)
    app.install(Database("sqlite://"))
    assert "shop_pkg_for_discovery.models" not in sys.modules
    app.build()
    assert "shop_pkg_for_discovery.models" in sys.modules
    monkeypatch.delitem(sys.modules, "shop_pkg_for_discovery.models")
    monkeypatch.delitem(sys.modules, "shop_pkg_for_discovery")


@pytest.mark.parametrize(
    ("broken_line", "raised"),
    [
        ("from sqlalchemy import NoSuchName", ImportError),
        ("import no_such_dependency_of_the_models", ModuleNotFoundError),
        ("raise RuntimeError('boom in models')", RuntimeError),
    ],
)
def test_a_models_module_that_raises_stops_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken_line: str, raised: type[Exception]
) -> None:
    # Regression: an ImportError raised by models.py was swallowed, and the app
    # built with its tables missing (makemigrations would then drop them).
    package = tmp_path / "broken_models_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from carboy import Module\nshop = Module('shop')\n")
    (package / "models.py").write_text(f"{broken_line}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("broken_models_pkg")]:
        monkeypatch.delitem(sys.modules, name)
    import broken_models_pkg  # type: ignore[import-not-found]

    app = new_app(tmp_path)
    app.install(broken_models_pkg.shop)
    app.install(Database("sqlite://"))
    with pytest.raises(raised) as caught:
        app.build()
    assert type(caught.value) is raised
    assert any("the models of module 'shop'" in note for note in caught.value.__notes__)
    assert any(str(package / "models.py") in note for note in caught.value.__notes__)
    monkeypatch.delitem(sys.modules, "broken_models_pkg")


def test_a_listed_model_module_that_raises_is_not_reported_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "listed_broken_models.py").write_text("from sqlalchemy import NoSuchName\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    app = new_app(tmp_path)
    app.install(Database("sqlite://", models=["listed_broken_models"]))
    with pytest.raises(ImportError, match="NoSuchName") as caught:
        app.build()
    assert not isinstance(caught.value, ConfigurationError)
    assert "listed in Database(models=[...])" in caught.value.__notes__[0]
    sys.modules.pop("listed_broken_models", None)


def test_listed_model_modules_must_import() -> None:
    app = new_app()
    app.install(Database("sqlite://", models=["no_such_models_module"]))
    with pytest.raises(ConfigurationError, match="cannot import 'no_such_models_module'"):
        app.build()


def test_shell_context_names_the_models(blog: Blog) -> None:
    db = Database("sqlite://", base=blog.base)
    names = db.shell_context()
    assert names["db"] is db
    assert names["Post"] is blog.Post
    assert names["Author"] is blog.Author
    assert isinstance(names["session"], Session)
    names["session"].close()
