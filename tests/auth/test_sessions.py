"""carboy.auth.sessions: the Session, SessionMiddleware and its options, over every store."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from carboy import Carboy, ConfigurationError, Request, Response, StreamingResponse
from carboy.auth import (
    Flash,
    MemoryStore,
    Session,
    SessionConfig,
    SessionMiddleware,
    SessionTooLarge,
    flash,
    get_flashed,
)
from carboy.identity import SessionStore
from carboy.testing import TestClient
from carboy.websockets import WebSocket

from .conftest import SECRET_KEY, close_store, cookie_store, new_app, run


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def session_app(session_store: SessionStore | None, **options: Any) -> Carboy:
    app = new_app()
    app.add_middleware(SessionMiddleware, SessionConfig(store=session_store, **options))
    if session_store is not None:
        app.on_shutdown(functools.partial(close_store, session_store))

    @app.get("/get")
    async def get(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @app.post("/set")
    async def set_(request: Request) -> dict[str, Any]:
        request.session.update(await request.json())
        return dict(request.session)

    @app.post("/clear")
    async def clear(request: Request) -> str:
        request.session.clear()
        return "cleared"

    @app.post("/rotate")
    async def rotate(request: Request) -> str:
        session = request.session
        assert isinstance(session, Session)
        session.rotate()
        return "rotated"

    @app.get("/none")
    async def none() -> str:
        return "no session here"

    @app.post("/fail")
    async def fail(request: Request) -> str:
        request.session["lost"] = True
        raise RuntimeError("handler failed")

    return app


def set_cookies(response: Any) -> list[str]:
    return list(response.headers.get_list("set-cookie"))


def client_for(app: Carboy, base_url: str = "http://testserver", **options: Any) -> TestClient:
    return TestClient(app, base_url, **options)


# -- the basics, over every store ------------------------------------------------------
def test_round_trip(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        assert client.post("/set", json={"cart": [3, 7], "name": "ann"}).status_code == 200
        assert client.get("/get").json() == {"cart": [3, 7], "name": "ann"}
        client.post("/set", json={"name": "bob"})
        assert client.get("/get").json() == {"cart": [3, 7], "name": "bob"}


def test_an_untouched_session_sets_no_cookie(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        response = client.get("/none")
        assert set_cookies(response) == []
        assert "vary" not in response.headers
        # Read but empty: no cookie either, but the page varies on it.
        response = client.get("/get")
        assert (set_cookies(response), response.headers["vary"]) == ([], "Cookie")


def test_an_unchanged_session_is_not_saved_again(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        assert len(set_cookies(client.post("/set", json={"a": 1}))) == 1
        response = client.get("/get")
        assert response.json() == {"a": 1}
        assert set_cookies(response) == []
        assert response.headers["vary"] == "Cookie"


def test_cookie_attributes_over_plain_http(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
    name, _, rest = cookie.partition("=")
    attributes = rest.split("; ")[1:]
    assert name == "session"
    assert attributes == [f"Max-Age={3 * 24 * 3600}", "Path=/", "HttpOnly", "SameSite=Lax"]


def test_cookie_over_https_is_host_prefixed_and_secure(session_store: SessionStore) -> None:
    with client_for(session_app(session_store), "https://testserver") as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert cookie.startswith("__Host-session=")
        assert cookie.endswith("; Path=/; HttpOnly; SameSite=Lax; Secure")
        assert "Domain" not in cookie
        assert client.get("/get").json() == {"a": 1}


def test_a_plain_cookie_is_not_read_over_https(session_store: SessionStore) -> None:
    """Over HTTPS only ``__Host-session`` counts: a sibling subdomain cannot plant it."""
    with client_for(session_app(session_store)) as plain:
        plain.post("/set", json={"user": "planted"})
        value = plain.cookies["session"]
    with client_for(session_app(session_store), "https://testserver") as client:
        client.cookies.set("session", value)
        assert client.get("/get").json() == {}


def test_debug_over_http_uses_the_plain_name(session_store: SessionStore) -> None:
    app = session_app(session_store)
    app.settings = app.settings.replace(debug=True)
    with client_for(app) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert cookie.startswith("session=") and "Secure" not in cookie
        assert client.get("/get").json() == {"a": 1}


def test_clear_deletes_the_session_and_its_cookie(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        client.post("/set", json={"a": 1})
        key = client.cookies["session"]
        (cookie,) = set_cookies(client.post("/clear"))
        assert cookie.startswith("session=; Max-Age=0; ")
        assert "session" not in client.cookies
        assert client.get("/get").json() == {}
    if session_store.server_side:
        assert run(session_store, session_store.load(key)) is None


def test_rotate_keeps_the_data_under_a_new_key(session_store: SessionStore) -> None:
    with client_for(session_app(session_store)) as client:
        client.post("/set", json={"a": 1})
        old = client.cookies["session"]
        assert len(set_cookies(client.post("/rotate"))) == 1
        new = client.cookies["session"]
        assert client.get("/get").json() == {"a": 1}
    if session_store.server_side:
        # (A signed cookie has no id to change: it carries the data itself.)
        assert new != old
        assert run(session_store, session_store.load(old)) is None


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "x" * 9000,
        "a.b.c",
        "%00%01",
        '"quoted"',
        "%C3%A9",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # the shape of a key, unknown
    ],
)
def test_forged_and_malformed_cookies_start_a_fresh_session(
    session_store: SessionStore, value: str
) -> None:
    with client_for(session_app(session_store)) as client:
        forged = {"cookie": f"session={value}"}
        response = client.get("/get", headers=forged)
        assert response.status_code == 200
        assert response.json() == {}
        # The bad cookie is deleted.
        assert [c.split(";")[0] for c in set_cookies(response)] == ["session="]
        response = client.post("/set", json={"a": 1}, headers=forged)
        assert response.json() == {"a": 1}
        assert client.cookies["session"] != value
        assert client.get("/get").json() == {"a": 1}


def test_a_failed_request_saves_nothing(session_store: SessionStore) -> None:
    with client_for(session_app(session_store), raise_server_exceptions=False) as client:
        client.post("/set", json={"a": 1})
        response = client.post("/fail")
        assert response.status_code == 500
        assert set_cookies(response) == []
        assert client.get("/get").json() == {"a": 1}


def test_vary_is_merged_with_the_handler_s(session_store: SessionStore) -> None:
    app = session_app(session_store)

    @app.get("/varies")
    async def varies(request: Request) -> Response:
        request.session.get("a")
        return Response("x", headers={"vary": "Accept-Encoding"})

    @app.get("/varies-already")
    async def varies_already(request: Request) -> Response:
        request.session.get("a")
        return Response("x", headers={"vary": "cookie"})

    with client_for(app) as client:
        assert client.get("/varies").headers["vary"] == "Accept-Encoding, Cookie"
        assert client.get("/varies-already").headers["vary"] == "cookie"


# -- expiry and renewal ------------------------------------------------------------------
def test_idle_expiry(session_store: SessionStore) -> None:
    clock = Clock()
    app = session_app(session_store, idle_timeout=600, renew_after=60, clock=clock)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        clock.advance(599)
        assert client.get("/get").json() == {"a": 1}  # renewed here (599 s > 60 s)
        clock.advance(599)
        assert client.get("/get").json() == {"a": 1}  # ...so still alive
        clock.advance(600)
        response = client.get("/get")
        assert response.json() == {}
        assert [c.split(";")[0] for c in set_cookies(response)] == ["session="]


def test_renewal_slides_the_cookie_only_when_due(session_store: SessionStore) -> None:
    clock = Clock()
    app = session_app(session_store, idle_timeout=600, renew_after=60, clock=clock)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        first = client.cookies["session"]
        clock.advance(30)
        assert set_cookies(client.get("/get")) == []  # not due yet
        clock.advance(31)
        (renewed,) = set_cookies(client.get("/get"))
        assert "Max-Age=600" in renewed
        if session_store.server_side:
            assert client.cookies["session"] == first  # same key, new expiry
        clock.advance(1)
        assert set_cookies(client.get("/get")) == []


def test_absolute_expiry_however_active(session_store: SessionStore) -> None:
    clock = Clock()
    app = session_app(session_store, max_age=1000, idle_timeout=600, renew_after=60, clock=clock)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        for _ in range(3):
            clock.advance(300)
            assert client.get("/get").json() == {"a": 1}
        clock.advance(99)  # 999 s after the start
        (renewed,) = set_cookies(client.post("/set", json={"b": 2}))
        assert "Max-Age=1;" in renewed  # the cookie never outlives the absolute end
        clock.advance(1)
        assert client.get("/get").json() == {}


def test_cookie_max_age_is_the_nearer_end(session_store: SessionStore) -> None:
    clock = Clock()
    app = session_app(session_store, max_age=1000, idle_timeout=600, renew_after=60, clock=clock)
    with client_for(app) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert "Max-Age=600;" in cookie  # idle end first
        clock.advance(500)
        (cookie,) = set_cookies(client.post("/set", json={"a": 2}))
        assert "Max-Age=500;" in cookie  # the absolute end is nearer now


def test_without_idle_timeout_only_the_absolute_lifetime_counts(
    session_store: SessionStore,
) -> None:
    clock = Clock()
    app = session_app(session_store, max_age=1000, idle_timeout=None, clock=clock)
    with client_for(app) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert "Max-Age=1000;" in cookie
        clock.advance(900)
        response = client.get("/get")
        assert (response.json(), set_cookies(response)) == ({"a": 1}, [])
        clock.advance(100)
        assert client.get("/get").json() == {}


def test_rotation_restarts_the_absolute_lifetime(session_store: SessionStore) -> None:
    clock = Clock()
    app = session_app(session_store, max_age=1000, idle_timeout=None, clock=clock)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        clock.advance(900)
        client.post("/rotate")
        clock.advance(900)
        assert client.get("/get").json() == {"a": 1}


# -- options: each changes what happens -------------------------------------------------------
def test_option_cookie_name() -> None:
    with client_for(session_app(MemoryStore(), cookie_name="sid")) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert cookie.startswith("sid=")
        assert client.get("/get").json() == {"a": 1}
    with client_for(session_app(MemoryStore(), cookie_name="sid"), "https://testserver") as c:
        (cookie,) = set_cookies(c.post("/set", json={"a": 1}))
        assert cookie.startswith("__Host-sid=")


@pytest.mark.parametrize("samesite", ["lax", "strict", "none"])
def test_option_samesite(samesite: str) -> None:
    with client_for(session_app(MemoryStore(), samesite=samesite)) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
    assert f"SameSite={samesite.capitalize()}" in cookie
    # SameSite=None needs Secure (and so the prefixed name), even over plain HTTP.
    assert ("Secure" in cookie) is (samesite == "none")


def test_option_domain() -> None:
    app = session_app(MemoryStore(), domain="example.com")
    with client_for(app, "https://www.example.com") as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
        assert cookie.startswith("__Secure-session=")  # __Host- forbids Domain
        assert "; Domain=example.com;" in cookie and cookie.endswith("; Secure")
        assert client.get("/get").json() == {"a": 1}


@pytest.mark.parametrize(("secure", "base"), [(True, "http"), (False, "https")])
def test_option_secure(secure: bool, base: str) -> None:
    app = session_app(MemoryStore(), secure=secure)
    with client_for(app, f"{base}://localhost") as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
    assert cookie.startswith("__Host-session=" if secure else "session=")
    assert cookie.endswith("; Secure") is secure


def test_option_max_age_and_idle_timeout_set_the_cookie_lifetime() -> None:
    with client_for(session_app(MemoryStore(), max_age=50, idle_timeout=None)) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
    assert "Max-Age=50;" in cookie
    with client_for(session_app(MemoryStore(), idle_timeout=70, renew_after=7)) as client:
        (cookie,) = set_cookies(client.post("/set", json={"a": 1}))
    assert "Max-Age=70;" in cookie


def test_option_renew_after_zero_renews_every_request() -> None:
    clock = Clock()
    app = session_app(MemoryStore(), idle_timeout=600, renew_after=0, clock=clock)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        assert len(set_cookies(client.get("/get"))) == 1
        assert len(set_cookies(client.get("/get"))) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cookie_name": "bad name"}, "a cookie name is"),
        ({"cookie_name": "__Host-session"}, "without the __Host- or __Secure- prefix"),
        ({"max_age": 0}, "max_age=0"),
        ({"idle_timeout": -1}, "idle_timeout=-1"),
        ({"idle_timeout": 60, "renew_after": 60}, "less than idle_timeout"),
        ({"renew_after": -1}, "renew_after=-1"),
        ({"samesite": "sometimes"}, "samesite='sometimes'"),
        ({"domain": "example.com; Secure"}, "is not a domain name"),
        ({"samesite": "none", "secure": False}, "SameSite=None"),
    ],
)
def test_bad_options_say_what_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace("[", r"\[")):
        SessionConfig(**options)


def test_the_default_store_is_a_cookie_signed_with_the_app_s_key() -> None:
    app = session_app(None)
    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        value = client.cookies["session"]
        assert asyncio.run(cookie_store().load(value)) is not None  # signed with SECRET_KEY
        assert client.get("/get").json() == {"a": 1}


# -- the cookie store ----------------------------------------------------------------------
def test_cookie_store_refuses_loudly_what_a_browser_would_drop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = session_app(cookie_store(max_size=500))
    with client_for(app, raise_server_exceptions=False) as client:
        assert client.post("/set", json={"a": "x" * 100}).status_code == 200
        incompressible = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(400))
        response = client.post("/set", json={"big": incompressible})
        assert (response.status_code, set_cookies(response)) == (500, [])
        # The earlier session is intact.
        assert client.get("/get").json() == {"a": "x" * 100}
    (record,) = [r for r in caplog.records if r.exc_info]
    assert record.exc_info is not None and isinstance(record.exc_info[1], SessionTooLarge)
    assert "more than the 500 a cookie may hold" in str(record.exc_info[1])
    assert "(keys: a, big)" in str(record.exc_info[1])


def test_cookie_store_default_limit_fits_a_browser() -> None:
    session_store = cookie_store()
    assert session_store.max_size == 4000
    with pytest.raises(SessionTooLarge):
        run(session_store, session_store.save(None, {"k": [str(i) * 3 for i in range(2000)]}, 60))


def test_cookie_store_old_keys_still_verify_after_rotation() -> None:
    from carboy.auth import CookieStore, Signer

    old = "old-" + SECRET_KEY
    value = asyncio.run(
        CookieStore(Signer(old, salt="carboy.auth.session")).save(None, {"d": {}}, 60)
    )
    rotated = CookieStore(Signer(SECRET_KEY, fallbacks=[old], salt="carboy.auth.session"))
    assert asyncio.run(rotated.load(value)) == {"d": {}}
    assert asyncio.run(cookie_store().load(value)) is None


def test_cookie_store_bad_options() -> None:
    from carboy.auth import CookieStore

    with pytest.raises(ConfigurationError, match=r"takes a carboy\.auth\.Signer"):
        CookieStore("key")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="at least 100 bytes"):
        cookie_store(max_size=10)


# -- the Session object ----------------------------------------------------------------------
def test_session_tracks_reads_and_changes() -> None:
    session = Session({"a": 1}, key="k")
    assert not (session.accessed or session.modified)
    assert session["a"] == 1 and session.accessed and not session.modified
    session["b"] = [1]
    assert session.modified
    assert session.setdefault("b", 2) == [1]
    assert session.setdefault("c", 3) == 3
    assert session.pop("c") == 3
    assert session.pop("c", None) is None
    with pytest.raises(KeyError):
        session.pop("c")
    del session["b"]
    assert dict(session) == {"a": 1} and len(session) == 1 and "a" in session
    assert session.get("zz", 5) == 5
    assert not session.is_new and Session().is_new
    assert repr(session) == "Session(keys=['a'], modified)"


def test_session_refuses_what_json_cannot_hold() -> None:
    session = Session()
    with pytest.raises(TypeError, match=r"session\['when'\]: the session holds JSON values"):
        session["when"] = object()
    with pytest.raises(TypeError, match="JSON values"):
        session.update({"nan": float("nan")})
    with pytest.raises(TypeError, match="keys are strings"):
        session[1] = "x"  # type: ignore[index]
    session["ok"] = {"nested": [1, "two", None, 3.5, True]}
    assert not session.is_empty


def test_session_invalidate() -> None:
    session = Session({"a": 1}, key="k")
    session.invalidate()
    assert session.is_empty and session.invalidated and session.rotated and session.modified


def test_a_closed_session_refuses_changes() -> None:
    session = Session({"a": 1})
    session.close("saved already")
    assert session["a"] == 1
    for change in (
        lambda: session.__setitem__("a", 2),
        lambda: session.__delitem__("a"),
        lambda: session.update(a=2),
        session.clear,
        session.rotate,
        session.invalidate,
        lambda: session.pop("a"),
        lambda: session.setdefault("z", 1),
        lambda: session.flash("hi"),
    ):
        with pytest.raises(RuntimeError, match="saved already"):
            change()
    assert dict(session) == {"a": 1}


def test_changing_the_session_after_the_response_started_fails_loudly() -> None:
    app = session_app(MemoryStore())

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            request.session["late"] = True

        return StreamingResponse(body())

    with (
        client_for(app) as client,
        pytest.raises(RuntimeError, match="saved when the response started"),
    ):
        client.get("/stream")


def test_websocket_sessions_are_read_only() -> None:
    session_store = MemoryStore()
    app = session_app(session_store)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        try:
            websocket.session["x"] = 1
        except RuntimeError as exc:
            await websocket.send_text(str(exc))
        await websocket.close()

    with client_for(app) as client:
        client.post("/set", json={"a": 1})
        with client.websocket_connect("/ws") as connection:
            assert connection.receive_json() == {"a": 1}
            assert "A WebSocket cannot change the session" in connection.receive_text()


def test_concurrent_coroutines_of_one_request() -> None:
    app = session_app(MemoryStore())

    @app.post("/count")
    async def count(request: Request) -> int:
        session = request.session
        assert isinstance(session, Session)

        async def bump() -> None:
            async with session.lock:
                value = session.get("n", 0)
                await asyncio.sleep(0)  # another coroutine runs here
                session["n"] = value + 1

        await asyncio.gather(*(bump() for _ in range(50)))
        return int(session["n"])

    with client_for(app) as client:
        assert client.post("/count").json() == 50
        assert client.get("/get").json() == {"n": 50}


def test_concurrent_threads_of_one_request() -> None:
    session = Session()
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for j in range(200):
            session.flash(f"{i}-{j}")
            session.setdefault(f"k{i}", i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(session.get_flashed()) == 1600
    assert dict(session.items()) == {f"k{i}": i for i in range(8)}


# -- flash messages ------------------------------------------------------------------------------
def test_flash_messages_show_once() -> None:
    app = session_app(cookie_store())

    @app.post("/save")
    async def save(request: Request) -> str:
        flash(request, "Saved.", "success")
        flash(request, "Check your e-mail.")
        flash(request, "Quota almost full.", "warning")
        return "ok"

    @app.get("/warnings")
    async def warnings(request: Request) -> list[list[str]]:
        return [list(f) for f in get_flashed(request, "warning")]

    @app.get("/messages")
    async def messages(request: Request) -> list[list[str]]:
        return [[f.category, f.message] for f in get_flashed(request)]

    with client_for(app) as client:
        client.post("/save")
        assert client.get("/warnings").json() == [["Quota almost full.", "warning"]]
        assert client.get("/messages").json() == [
            ["success", "Saved."],
            ["info", "Check your e-mail."],
        ]
        assert client.get("/messages").json() == []
        # Taking the last message out empties the session: its cookie goes.
        assert "session" not in client.cookies


def test_flash_validation_and_tampered_flashes() -> None:
    session = Session()
    with pytest.raises(TypeError, match="str message and category"):
        session.flash(3)  # type: ignore[arg-type]
    session["_flashes"] = [["info", "ok"], "junk", ["a", 1], ["x"]]
    assert session.get_flashed() == [Flash("ok", "info")]
    session["_flashes"] = "junk"
    assert session.get_flashed() == []


def test_flash_needs_the_auth_sessions() -> None:
    from carboy.types import ASGIApp, Receive, Scope, Send

    class DictSessions:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            scope["session"] = {}
            await self.app(scope, receive, send)

    app = new_app()
    app.add_middleware(DictSessions)

    @app.get("/flash")
    async def flash_it(request: Request) -> str:
        with pytest.raises(TypeError, match=r"flash\(\) needs the session of carboy\.auth"):
            flash(request, "hi")
        with pytest.raises(TypeError, match=r"get_flashed\(\) needs the session"):
            get_flashed(request)
        return "ok"

    with client_for(app) as client:
        assert client.get("/flash").text == "ok"


@pytest.mark.parametrize(
    "envelope",
    [
        {"d": {"a": 1}, "c": 1, "s": None},
        {"d": {"a": 1}, "c": True, "s": True},
        {"d": [1], "c": 1, "s": 1},
        {"c": 1, "s": 1},
    ],
)
def test_a_malformed_stored_session_is_a_fresh_one(envelope: dict[str, Any]) -> None:
    session_store = MemoryStore()
    key = asyncio.run(session_store.save(None, envelope, 60))
    with client_for(session_app(session_store)) as client:
        response = client.get("/get", headers={"cookie": f"session={key}"})
        assert response.json() == {}
        assert [c.split(";")[0] for c in set_cookies(response)] == ["session="]
    assert asyncio.run(session_store.load(key)) is None  # the unreadable session is deleted


def test_other_scopes_pass_through_the_middleware() -> None:
    from carboy.auth import AuthenticationMiddleware

    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def main() -> None:
        for middleware in (
            SessionMiddleware(inner, SessionConfig(store=MemoryStore())),
            AuthenticationMiddleware(inner, backends=[]),
        ):
            await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    asyncio.run(main())
    assert seen == ["lifespan", "lifespan"]
