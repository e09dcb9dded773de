"""carboy.identity: request.user, request.auth and request.session, anonymous by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from carboy import (
    AnonymousUser,
    AuthCredentials,
    BaseUser,
    Carboy,
    ConfigurationError,
    Request,
    SessionStore,
)
from carboy.testing import TestClient
from carboy.types import ASGIApp, Receive, Scope, Send


class Member:
    is_authenticated = True

    def __init__(self, name: str) -> None:
        self.display_name = name


class HeaderAuth:
    """A toy auth backend: ``X-User: ann`` authenticates as ann with the ``write`` scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for key, value in scope["headers"]:
            if key == b"x-user":
                scope["user"] = Member(value.decode())
                scope["auth"] = AuthCredentials(frozenset({"write"}))
        await self.app(scope, receive, send)


class MemoryStore:
    server_side = True

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {"k1": {"visits": 1}}

    async def load(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        key = key or f"k{len(self.data) + 1}"
        self.data[key] = dict(data)
        return key

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def clear_expired(self) -> int:
        return 0


class StoreSessions:
    """Session middleware over any SessionStore, as the auth battery's will be."""

    def __init__(self, app: ASGIApp, store: SessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = Request(scope).cookies.get("sid", "")
        scope["session"] = dict(await self.store.load(key) or {})
        await self.app(scope, receive, send)
        await self.store.save(key or None, scope["session"], 60)


def who(request: Request) -> dict[str, Any]:
    return {
        "authenticated": request.user.is_authenticated,
        "name": request.user.display_name,
        "can_write": request.auth.has("write"),
    }


def test_anonymous_by_default() -> None:
    app = Carboy(debug=True)
    app.get("/me")(who)
    with TestClient(app) as client:
        assert client.get("/me").json() == {
            "authenticated": False,
            "name": "",
            "can_write": False,
        }


def test_an_auth_backend_fills_the_slots() -> None:
    app = Carboy(debug=True)
    app.add_middleware(HeaderAuth)
    app.get("/me")(who)
    with TestClient(app) as client:
        assert client.get("/me", headers={"x-user": "ann"}).json() == {
            "authenticated": True,
            "name": "ann",
            "can_write": True,
        }
        assert client.get("/me").json()["authenticated"] is False


def test_the_slots_can_be_set_from_a_dependency() -> None:
    app = Carboy(debug=True)

    @app.get("/me")
    async def me(request: Request) -> str:
        request.user = Member("bob")
        request.auth = AuthCredentials(frozenset({"read"}))
        assert request.scope["user"] is request.user
        return f"{request.user.display_name} {sorted(request.auth.scopes)}"

    with TestClient(app) as client:
        assert client.get("/me").text == "bob ['read']"


def test_session_without_middleware_says_what_to_install() -> None:
    request = Request({"type": "http", "headers": []})
    with pytest.raises(ConfigurationError, match=r"install the sessions of carboy\.auth"):
        request.session  # noqa: B018 - the property raises


def test_session_backed_by_a_store() -> None:
    store = MemoryStore()
    app = Carboy(debug=True)
    app.add_middleware(StoreSessions, store=store)

    @app.get("/visit")
    async def visit(request: Request) -> int:
        request.session["visits"] = request.session.get("visits", 0) + 1
        visits: int = request.session["visits"]
        return visits

    with TestClient(app) as client:
        assert client.get("/visit", headers={"cookie": "sid=k1"}).json() == 2
    assert store.data["k1"] == {"visits": 2}


def test_anonymous_user_and_protocol() -> None:
    anonymous = AnonymousUser()
    assert isinstance(anonymous, BaseUser)
    assert isinstance(Member("ann"), BaseUser)
    assert not anonymous and anonymous == AnonymousUser() and anonymous != Member("x")
    assert hash(anonymous) == hash(AnonymousUser())
    assert repr(anonymous) == "AnonymousUser()"
    assert AuthCredentials().scopes == frozenset()


def test_credentials_say_how_the_request_authenticated() -> None:
    anonymous = AuthCredentials()
    assert (anonymous.method, anonymous.explicit) == ("", False)
    cookie = AuthCredentials(frozenset({"read"}), method="session")
    header = AuthCredentials(frozenset({"read"}), method="token", explicit=True)
    assert not cookie.explicit and header.explicit
    assert cookie != header and cookie.has("read") and header.has("read")
    with pytest.raises(AttributeError):
        header.explicit = False  # type: ignore[misc]


def test_explicit_credentials_reach_the_handler() -> None:
    class BearerAuth:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if (b"authorization", b"Bearer t1") in scope.get("headers", []):
                scope["user"] = Member("ann")
                scope["auth"] = AuthCredentials(frozenset(), method="token", explicit=True)
            await self.app(scope, receive, send)

    app = Carboy(debug=True)
    app.add_middleware(BearerAuth)

    @app.get("/how")
    async def how(request: Request) -> dict[str, Any]:
        return {"method": request.auth.method, "explicit": request.auth.explicit}

    with TestClient(app) as client:
        assert client.get("/how").json() == {"method": "", "explicit": False}
        answer = client.get("/how", headers={"authorization": "Bearer t1"}).json()
        assert answer == {"method": "token", "explicit": True}
