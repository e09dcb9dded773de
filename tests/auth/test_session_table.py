"""The auth_session table: made by the auth migration history, used by DatabaseStore,
left alone by the project's own migrations; and sessions shared by two app processes."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from carboy import Carboy, Request
from carboy.auth import Auth, DatabaseStore, RedisStore, SessionConfig, login, logout
from carboy.db import Database
from carboy.identity import SessionStore
from carboy.testing import TestClient

from .conftest import DictUsers, Member, close_store, new_app, redis_url, require_redis


def project(root: Path, url: str, users: DictUsers) -> tuple[Carboy, Database]:
    app = new_app(root=root)
    db = Database(url)
    app.install(db)
    # About sessions and sign-in: the CSRF check has its own tests (test_csrf.py).
    app.install(Auth(users=users, sessions=SessionConfig(store=DatabaseStore(db)), csrf=None))
    return app, db


def tables(url: str) -> set[str]:
    engine = create_engine(Database(url).sync_url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_the_table_and_the_project_leaves_it_alone(
    tmp_path: Path, fresh_url: str, users: DictUsers
) -> None:
    app, db = project(tmp_path, fresh_url, users)
    users.users["1"] = Member(1, "ann")

    @app.post("/login")
    async def sign_in(request: Request) -> str:
        await login(request, users.users["1"])
        return "ok"

    @app.get("/me")
    async def me(request: Request) -> str:
        return request.user.display_name

    app.build()
    assert any(s.label == "auth" for s in db.migration_sources)
    db.migrations.migrate()
    assert "auth_session" in tables(fresh_url)
    assert {m.branch for m in db.migrations.status() if m.applied} >= {"auth"}
    # The project's own history has nothing to say about auth_session.
    (tmp_path / "migrations").mkdir(exist_ok=True)
    made = db.migrations.make("initial", empty=True)
    assert len(made) == 1
    text = made[0].read_text()
    # (Other tests' models on the shared Model registry, e.g. the demo's once
    # tests/examples ran in this process, may add tables of their own here.)
    upgrade = text.split("def upgrade")[1].split("def downgrade")[0]
    assert "auth_session" not in text and "drop_table" not in upgrade

    with TestClient(app) as client:
        client.post("/login")
        assert client.get("/me").text == "ann"


def test_auth_with_a_database_knows_the_table_whatever_the_store(tmp_path: Path) -> None:
    # In a fresh interpreter: here, another test has imported the model already.
    code = f"""
import sys
from carboy import Carboy
from carboy.auth import Auth
from carboy.db import Database
assert "carboy.auth.sessions.models" not in sys.modules  # not by importing carboy.auth
app = Carboy(secret_key="{"k" * 40}", allowed_hosts=["*"], root={str(tmp_path)!r})
db = Database("sqlite:///{tmp_path / "app.db"}")
app.install(db)
app.install(Auth(users=object()))  # cookie sessions
app.build()
print("auth_session" in db.metadata.tables, [s.label for s in db.migration_sources])
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "True ['auth']"


def test_a_database_store_needs_a_database() -> None:
    from carboy import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"takes the app's carboy\.db\.Database"):
        DatabaseStore("sqlite:///x.db")  # type: ignore[arg-type]


def test_a_database_that_is_down_answers_503(tmp_path: Path, users: DictUsers) -> None:
    session_store = DatabaseStore(Database(f"sqlite:///{tmp_path / 'missing' / 'no.db'}"))
    app = new_app()
    app.install(Auth(users=users, sessions=SessionConfig(store=session_store)))

    @app.post("/put")
    async def put(request: Request) -> str:
        request.session["a"] = 1
        return "ok"

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/put", headers={"accept": "application/json"})
        assert response.status_code == 503


# -- two app processes, one database or Redis ---------------------------------------------
def shared_store(kind: str, url: str, prefix: str) -> SessionStore:
    if kind == "redis":
        return RedisStore(redis_url(), prefix=prefix)
    return DatabaseStore(Database(url))


@pytest.mark.parametrize("kind", ["postgresql", "redis"])
def test_two_processes_share_sign_in_and_sign_out(
    kind: str, users: DictUsers, request: pytest.FixtureRequest
) -> None:
    url = ""
    if kind == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        engine = create_engine(Database(url).sync_url, poolclass=NullPool)
        table = DatabaseStore(Database(url))._table
        table.drop(engine, checkfirst=True)
        table.create(engine)
        request.addfinalizer(lambda: (table.drop(engine, checkfirst=True), engine.dispose()))
    else:
        require_redis()
    users.users["1"] = Member(1, "ann")

    def process() -> Carboy:
        # Each "process" has its own app and store objects, over the same server.
        session_store = shared_store(kind, url, "carboy-test-shared:")
        app = new_app()
        app.install(Auth(users=users, sessions=SessionConfig(store=session_store), csrf=None))
        app.on_shutdown(functools.partial(close_store, session_store))

        @app.post("/login")
        async def sign_in(request: Request) -> str:
            await login(request, users.users["1"])
            return "ok"

        @app.post("/logout")
        async def sign_out(request: Request) -> str:
            await logout(request)
            return "bye"

        @app.get("/me")
        async def me(request: Request) -> str:
            return request.user.display_name

        return app

    one, two = process(), process()
    with TestClient(one) as client:
        client.post("/login")
        cookie = {"cookie": f"session={client.cookies['session']}"}
    with TestClient(two) as client:
        assert client.get("/me", headers=cookie).text == "ann"  # signed in through one
        client.post("/logout", headers=cookie)
    with TestClient(one) as client:
        assert client.get("/me", headers=cookie).text == ""  # signed out through two
    with TestClient(two) as client:
        assert client.get("/me", headers=cookie).text == ""


# -- with the real user stores -------------------------------------------------------------
def sign_in_app(app: Carboy, auth: Auth) -> None:
    @app.post("/login")
    async def sign_in(request: Request) -> str:
        form = await request.json()
        user = await auth.users.get_by_login(form["username"])
        if user is None or not await auth.users.check_password(user, form["password"]):
            return "refused"
        await login(request, user)
        return "ok"

    @app.post("/logout")
    async def sign_out(request: Request) -> str:
        await logout(request)
        return "bye"

    @app.get("/me")
    async def me(request: Request) -> str:
        return request.user.display_name


def test_the_sql_user_store_and_the_database_store_from_migrations(
    tmp_path: Path, fresh_url: str
) -> None:
    from .conftest import fast_hasher

    app = new_app(root=tmp_path)
    db = Database(fresh_url)
    app.install(db)
    auth = Auth(
        password_hasher=fast_hasher(), sessions=SessionConfig(store=DatabaseStore(db)), csrf=None
    )
    app.install(auth)
    sign_in_app(app, auth)
    app.build()
    db.migrations.migrate()  # the auth history: users, groups, permissions, then sessions
    assert {"auth_user", "auth_session"} <= tables(fresh_url)

    async def create() -> None:
        await auth.users.create(username="ann", password="plum tree in may")
        await db.dispose()

    asyncio.run(create())
    with TestClient(app) as client:
        assert client.post("/login", json={"username": "ann", "password": "nope"}).text == "refused"
        client.post("/login", json={"username": "Ann", "password": "plum tree in may"})
        assert client.get("/me").text == "ann"
        stolen = client.cookies["session"]
        client.post("/logout")
        client.cookies.clear()
        assert client.get("/me", headers={"cookie": f"session={stolen}"}).text == ""


def test_the_memory_user_store_with_cookie_sessions() -> None:
    from carboy.auth import MemoryUserStore

    from .conftest import fast_hasher

    users = MemoryUserStore(hasher=fast_hasher())
    app = new_app()
    auth = Auth(users=users, csrf=None)
    app.install(auth)
    sign_in_app(app, auth)
    ann = asyncio.run(users.create(username="ann", password="plum tree in may"))
    with TestClient(app) as client:
        client.post("/login", json={"username": "ann", "password": "plum tree in may"})
        assert client.get("/me").text == "ann"
        # A password change bumps the generation: the session ends.
        asyncio.run(users.set_password(ann, "another plum tree"))
        assert client.get("/me").text == ""
        client.post("/login", json={"username": "ann", "password": "another plum tree"})
        stolen = client.cookies["session"]
        client.post("/logout")  # the cookie store: ends the generation
        client.cookies.clear()
        assert client.get("/me", headers={"cookie": f"session={stolen}"}).text == ""
    refreshed = asyncio.run(users.get(ann.pk))
    assert refreshed is not None and refreshed.session_generation == 2
