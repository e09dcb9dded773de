"""login(), logout() and AuthenticationMiddleware, over every session store."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from carboy import (
    AuthCredentials,
    Carboy,
    ConfigurationError,
    HTTPException,
    Request,
    TemplateResponse,
    render,
)
from carboy.auth import (
    Auth,
    AuthenticationMiddleware,
    AuthUser,
    MemoryStore,
    SessionBackend,
    SessionConfig,
    flash,
    login,
    logout,
)
from carboy.cli import cli
from carboy.connections import HTTPConnection
from carboy.identity import SessionStore
from carboy.testing import TestClient
from carboy.websockets import WebSocket

from .conftest import DictUsers, Member, close_store, new_app, run


def auth_app(
    session_store: SessionStore | None, users: DictUsers, root: Path | None = None, **options: Any
) -> tuple[Carboy, Auth]:
    app = new_app(root=root) if root is not None else new_app()
    # These tests are about sessions, sign-in and sign-out: the CSRF check (on by
    # default) has its own tests, tests/auth/test_csrf.py.
    auth = Auth(users=users, sessions=SessionConfig(store=session_store, **options), csrf=None)
    app.install(auth)
    if session_store is not None:
        app.on_shutdown(functools.partial(close_store, session_store))

    @app.post("/login")
    async def sign_in(request: Request) -> dict[str, Any]:
        form = await request.json()
        user = await users.get_by_login(form["username"])
        if user is None or not await users.check_password(user, form["password"]):
            raise HTTPException(400, "wrong username or password")
        await login(request, user)
        return {"user": request.user.display_name}

    @app.post("/logout")
    async def sign_out(request: Request) -> str:
        await logout(request)
        return "bye"

    @app.post("/logout-everywhere")
    async def sign_out_everywhere(request: Request) -> str:
        await logout(request, everywhere=True)
        return "bye everywhere"

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": request.user.display_name, "session": sorted(request.session)}

    @app.post("/put")
    async def put(request: Request) -> str:
        request.session.update(await request.json())
        return "ok"

    return app, auth


@pytest.fixture
def ann(users: DictUsers) -> Member:
    users.users["1"] = Member(1, "ann", password="s3cret")
    users.users["2"] = Member(2, "bob", password="hunter2")
    return users.users["1"]


def sign_in(client: TestClient, username: str = "ann", password: str = "s3cret") -> None:
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text


def whoami(client: TestClient, cookie: str | None = None) -> str:
    headers = None
    if cookie is not None:
        client.cookies.clear()  # this cookie only
        headers = {"cookie": f"session={cookie}"}
    user: str = client.get("/me", headers=headers).json()["user"]
    return user


# -- sign-in -----------------------------------------------------------------------------
def test_login_and_the_next_request(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        assert whoami(client) == ""
        sign_in(client)
        assert whoami(client) == "ann"
        assert client.get("/me").json()["session"] == ["_auth_generation", "_auth_user_id"]
    assert users.updates[-1][0] == "1" and "last_login" in users.updates[-1][1]
    assert ann.last_login is not None


def test_the_session_id_changes_at_login(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    """No fixation: a session id planted before sign-in is worth nothing after it."""
    app, _ = auth_app(session_store, users)
    with TestClient(app) as attacker:
        attacker.post("/put", json={"cart": [1]})
        planted = attacker.cookies["session"]
    with TestClient(app) as victim:
        victim.cookies.set("session", planted, domain="testserver.local")
        assert victim.get("/me").json()["session"] == ["cart"]
        sign_in(victim)
        assert victim.cookies["session"] != planted
        assert victim.get("/me").json() == {
            "user": "ann",
            "session": ["_auth_generation", "_auth_user_id", "cart"],  # the data is kept
        }
    with TestClient(app) as attacker:
        assert whoami(attacker, planted) == ""
    if session_store.server_side:
        assert run(session_store, session_store.load(planted)) is None


def test_another_user_s_data_does_not_carry_over(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        sign_in(client)
        client.post("/put", json={"draft": "ann's"})
        sign_in(client, "ann")
        assert "draft" in client.get("/me").json()["session"]  # same user: kept
        sign_in(client, "bob", "hunter2")
        assert client.get("/me").json() == {
            "user": "bob",
            "session": ["_auth_generation", "_auth_user_id"],
        }


def test_an_inactive_user_cannot_sign_in(users: DictUsers, ann: Member) -> None:
    ann.is_active = False
    app, _ = auth_app(MemoryStore(), users)

    @app.post("/login-inactive")
    async def sign_in_inactive(request: Request) -> str:
        with pytest.raises(ValueError, match="User '1' is inactive and cannot sign in"):
            await login(request, ann)
        return request.user.display_name

    with TestClient(app) as client:
        response = client.post("/login-inactive")
        assert (response.text, response.headers.get("set-cookie")) == ("", None)


# -- sign-out ----------------------------------------------------------------------------
def test_a_session_cookie_replayed_after_logout_is_refused(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        sign_in(client)
        stolen = client.cookies["session"]
        assert whoami(client) == "ann"
        response = client.post("/logout")
        assert response.text == "bye"
        assert "session=; Max-Age=0" in response.headers["set-cookie"]
        assert whoami(client) == ""
    with TestClient(app) as replay:
        assert whoami(replay, stolen) == ""
        assert replay.get("/me", headers={"cookie": f"session={stolen}"}).json()["session"] == []
    if session_store.server_side:
        assert run(session_store, session_store.load(stolen)) is None


def devices(client: TestClient, count: int) -> list[str]:
    """Sign in ``count`` times from fresh cookie jars: each device's session cookie."""
    cookies = []
    for _ in range(count):
        client.cookies.clear()
        sign_in(client)
        cookies.append(client.cookies["session"])
    client.cookies.clear()
    return cookies


def test_logout_ends_other_devices_only_where_it_must(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    """A server-side store ends this session only; a cookie store has to end them all."""
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        phone, laptop = devices(client, 2)
        client.post("/logout", headers={"cookie": f"session={phone}"})
        assert whoami(client, phone) == ""
        assert whoami(client, laptop) == ("ann" if session_store.server_side else "")
    assert ann.session_generation == (0 if session_store.server_side else 1)


def test_logout_everywhere(session_store: SessionStore, users: DictUsers, ann: Member) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        phone, laptop = devices(client, 2)
        response = client.post("/logout-everywhere", headers={"cookie": f"session={phone}"})
        assert response.status_code == 200
        assert (whoami(client, phone), whoami(client, laptop)) == ("", "")
        # The stale session was dropped with its cookie.
        response = client.get("/me", headers={"cookie": f"session={laptop}"})
        assert "session=; Max-Age=0" in response.headers["set-cookie"]
        client.cookies.clear()
        sign_in(client)
        assert whoami(client) == "ann"
    assert ann.session_generation == 1


def test_logout_without_a_user_keeps_the_generation(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        client.post("/put", json={"a": 1})
        assert client.post("/logout").status_code == 200
        assert client.get("/me").json() == {"user": "", "session": []}
    assert ann.session_generation == 0


def test_a_flash_after_logout_lives_in_a_new_session(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)

    @app.post("/logout-with-message")
    async def bye(request: Request) -> str:
        await logout(request)
        flash(request, "Signed out.")
        return "ok"

    with TestClient(app) as client:
        sign_in(client)
        before = client.cookies["session"]
        client.post("/logout-with-message")
        assert client.cookies["session"] != before
        assert client.get("/me").json() == {"user": "", "session": ["_flashes"]}


# -- who is signed in, request by request ------------------------------------------------------
def test_a_user_who_became_inactive_is_anonymous(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        sign_in(client)
        client.post("/put", json={"cart": [1]})
        ann.is_active = False
        response = client.get("/me")
        assert response.json() == {"user": "", "session": []}
        assert "session=; Max-Age=0" in response.headers["set-cookie"]


def test_a_moved_generation_is_anonymous(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        sign_in(client)
        asyncio.run(users.set_password(ann, "new password"))  # bumps the generation
        assert whoami(client) == ""
        sign_in(client, password="new password")
        assert whoami(client) == "ann"


def test_a_deleted_user_is_anonymous(
    session_store: SessionStore, users: DictUsers, ann: Member
) -> None:
    app, _ = auth_app(session_store, users)
    with TestClient(app) as client:
        sign_in(client)
        del users.users["1"]
        assert whoami(client) == ""


def test_a_forged_user_id_in_the_session_is_anonymous(users: DictUsers, ann: Member) -> None:
    session_store = MemoryStore()
    app, _ = auth_app(session_store, users)

    @app.post("/forge")
    async def forge(request: Request) -> str:
        request.session.update({"_auth_user_id": 1, "_auth_generation": 0})  # not a str
        return "ok"

    with TestClient(app) as client:
        client.post("/forge")
        assert whoami(client) == ""


def test_request_user_and_auth_in_websockets(users: DictUsers, ann: Member) -> None:
    app, _ = auth_app(MemoryStore(), users)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.user.display_name)
        await websocket.close()

    with TestClient(app) as client:
        sign_in(client)
        with client.websocket_connect("/ws") as connection:
            assert connection.receive_text() == "ann"


# -- backends ------------------------------------------------------------------------------
class HeaderBackend:
    """A token-like backend: ``X-Token: <pk>`` signs in as that user; ``bad`` is a 401."""

    def __init__(self, users: DictUsers) -> None:
        self.users = users

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthUser, AuthCredentials] | None:
        token = conn.headers.get("x-token")
        if token is None:
            return None
        if token == "bad":
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Token"})
        user = await self.users.get(token)
        credentials = AuthCredentials(frozenset({"api"}), method="token", explicit=True)
        return (user, credentials) if user is not None else None


def test_backends_are_asked_in_order(users: DictUsers, ann: Member) -> None:
    app, auth = auth_app(MemoryStore(), users)
    auth.backends.append(HeaderBackend(users))
    assert isinstance(auth.backends[0], SessionBackend)

    @app.get("/scopes")
    async def scopes(request: Request) -> dict[str, Any]:
        auth = request.auth
        return {
            "user": request.user.display_name,
            "scopes": sorted(auth.scopes),
            "method": auth.method,
            "explicit": auth.explicit,
        }

    with TestClient(app) as client:
        assert client.get("/scopes").json() == {
            "user": "",
            "scopes": [],
            "method": "",
            "explicit": False,
        }
        assert client.get("/scopes", headers={"x-token": "2"}).json() == {
            "user": "bob",
            "scopes": ["api"],
            "method": "token",
            "explicit": True,
        }
        sign_in(client)  # the session comes first
        assert client.get("/scopes", headers={"x-token": "2"}).json() == {
            "user": "ann",
            "scopes": [],
            "method": "session",
            "explicit": False,
        }


def test_a_backend_s_http_error_answers_the_request(users: DictUsers, ann: Member) -> None:
    app, auth = auth_app(MemoryStore(), users)
    auth.backends.append(HeaderBackend(users))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()

    with TestClient(app) as client:
        response = client.get("/me", headers={"x-token": "bad", "accept": "application/json"})
        assert response.status_code == 401
        assert response.json() == {"status": 401, "detail": "invalid token"}
        assert response.headers["www-authenticate"] == "Token"
        from carboy.testing import WebSocketDenied

        with (
            pytest.raises(WebSocketDenied) as denied,
            client.websocket_connect("/ws", headers={"x-token": "bad"}),
        ):
            pass
        assert denied.value.status_code == 403


def test_authentication_middleware_alone() -> None:
    app = new_app()

    class Everyone:
        async def authenticate(self, conn: HTTPConnection) -> Any:
            return Member(9, "root"), AuthCredentials(frozenset({"all"}))

    app.add_middleware(AuthenticationMiddleware, backends=[Everyone()])

    @app.get("/")
    async def home(request: Request) -> str:
        return f"{request.user.display_name} {sorted(request.auth.scopes)}"

    with TestClient(app) as client:
        assert client.get("/").text == "root ['all']"


def test_the_session_backend_without_a_user_store_says_so() -> None:
    app = new_app()
    app.install(Auth(sessions=SessionConfig(store=MemoryStore())))

    @app.post("/forge")
    async def forge(request: Request) -> str:
        request.session["_auth_user_id"] = "1"
        return "ok"

    with TestClient(app) as client:
        client.post("/forge")
        with pytest.raises(ConfigurationError, match=r"has no user store"):
            client.get("/")


# -- the Auth module's session parts ---------------------------------------------------------
def test_auth_module_properties(users: DictUsers) -> None:
    auth = Auth()
    with pytest.raises(ConfigurationError, match="no user store"):
        _ = auth.users
    with pytest.raises(ConfigurationError, match="when the app builds"):
        _ = auth.session_store
    app = new_app()
    app.install(auth)
    app.build()
    assert type(auth.session_store).__name__ == "CookieStore"
    session_store = MemoryStore()
    assert (
        Auth(users=users, sessions=SessionConfig(store=session_store)).session_store
        is session_store
    )


def test_auth_without_a_secret_key_refuses_to_build_outside_debug() -> None:
    app = Carboy(allowed_hosts=["*"])
    app.install(Auth())
    with pytest.raises(ConfigurationError, match="without a secret key"):
        app.build()


def test_auth_in_debug_without_a_secret_key_signs_with_a_random_key() -> None:
    app = Carboy(debug=True)
    app.install(Auth(sessions=SessionConfig()))

    @app.post("/put")
    async def put(request: Request) -> str:
        request.session["a"] = 1
        return "ok"

    @app.get("/get")
    async def get(request: Request) -> dict[str, Any]:
        return dict(request.session)

    with TestClient(app) as client:
        client.post("/put")
        assert client.get("/get").json() == {"a": 1}


def test_get_flashed_in_templates(tmp_path: Path, users: DictUsers) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        "{% for f in get_flashed() %}[{{ f.category }}:{{ f.message }}]{% endfor %}"
        "{% for f in get_flashed('error') %}never{% endfor %}"
    )
    app, _ = auth_app(MemoryStore(), users, root=tmp_path)

    @app.post("/flash")
    async def flash_it(request: Request) -> str:
        flash(request, "<b>Saved</b>", "success")
        return "ok"

    @app.get("/page")
    async def page() -> TemplateResponse:
        return render("page.html")

    with TestClient(app) as client:
        client.post("/flash")
        assert client.get("/page").text == "[success:&lt;b&gt;Saved&lt;/b&gt;]"
        assert client.get("/page").text == ""


def test_clearsessions(users: DictUsers) -> None:
    clock_now = [1000.0]
    session_store = MemoryStore(clock=lambda: clock_now[0])
    run(session_store, session_store.save(None, {"d": {}}, 10))
    run(session_store, session_store.save(None, {"d": {}}, 100))
    app, _ = auth_app(session_store, users)
    clock_now[0] += 50

    result = CliRunner().invoke(cli, ["clearsessions"], obj=app, catch_exceptions=False)
    assert (result.exit_code, result.output) == (0, "Removed 1 expired session.\n")
    assert len(session_store) == 1
    result = CliRunner().invoke(cli, ["clearsessions"], obj=app, catch_exceptions=False)
    assert result.output == "Removed 0 expired sessions.\n"

    cookie_app, _ = auth_app(None, users)
    result = CliRunner().invoke(cli, ["clearsessions"], obj=cookie_app, catch_exceptions=False)
    assert result.output == "CookieStore keeps sessions in cookies: nothing to clear.\n"
    assert "clearsessions" in CliRunner().invoke(cli, ["--help"], obj=app).output


def test_clearsessions_without_auth() -> None:
    app = new_app()
    from carboy.auth.cli import clearsessions

    app.add_command(clearsessions)
    result = CliRunner().invoke(cli, ["clearsessions"], obj=app)
    assert result.exit_code == 1
    assert "No Auth module is installed" in result.output
