"""Auth(tokens=..., jwt=..., two_factor=...): the parts get Auth's users and the app's database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from carboy import Carboy, ConfigurationError, Request
from carboy.auth import (
    AccessToken,
    Auth,
    JWTBackend,
    JWTKey,
    MemoryUserStore,
    SQLUserStore,
    TokenBackend,
    TwoFactor,
)
from carboy.db import Database
from carboy.testing import TestClient

SECRET = "module-tests-secret-" * 3


def new_app() -> Carboy:
    return Carboy(secret_key="module-tests-" * 4, allowed_hosts=["*"])


def test_the_parts_get_auths_users_and_the_apps_database(tmp_path: Path) -> None:
    app = new_app()
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    users = MemoryUserStore()
    tokens, jwt, two_factor = (
        TokenBackend(),
        JWTBackend(signing_key=JWTKey("k", SECRET)),
        TwoFactor(),
    )
    auth = Auth(users=users, tokens=tokens, jwt=jwt, two_factor=two_factor)
    app.install(db)
    app.install(auth)
    assert auth.backends[1:] == [tokens, jwt]  # after the session; a JWT is tried last
    app.build()
    assert tokens.db is db and two_factor.db is db
    assert tokens.users is users and jwt.users is users


def test_parts_given_their_own_users_and_database_keep_them(tmp_path: Path) -> None:
    app = new_app()
    own_db = Database(f"sqlite:///{tmp_path / 'tokens.db'}")
    own_users = MemoryUserStore()
    tokens = TokenBackend(own_users, db=own_db)
    two_factor = TwoFactor(own_db)
    app.install(Auth(users=MemoryUserStore(), tokens=tokens, two_factor=two_factor))
    app.build()  # no Database installed: none is needed
    assert tokens.db is own_db and tokens.users is own_users and two_factor.db is own_db


def test_the_default_sql_store_is_the_parts_store(tmp_path: Path) -> None:
    app = new_app()
    app.install(Database(f"sqlite:///{tmp_path / 'app.db'}"))
    jwt = JWTBackend(signing_key=JWTKey("k", SECRET))
    auth = Auth(jwt=jwt)
    app.install(auth)
    app.build()
    assert isinstance(jwt.users, SQLUserStore) and jwt.users is auth.users


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ({"tokens": TokenBackend}, "Auth(tokens=...)"),
        ({"two_factor": TwoFactor}, "Auth(two_factor=...)"),
        ({"tokens": TokenBackend, "two_factor": TwoFactor}, "Auth(tokens=..., two_factor=...)"),
    ],
)
def test_without_a_database_the_build_says_what_to_install(
    parts: dict[str, type], named: str
) -> None:
    app = new_app()
    app.install(Auth(users=MemoryUserStore(), **{name: kind() for name, kind in parts.items()}))
    with pytest.raises(
        ConfigurationError,
        match=re.escape(f"{named} keeps its data in the database: install carboy.db.Database("),
    ):
        app.build()


def test_without_a_user_store_the_build_says_so() -> None:
    app = new_app()
    app.install(Auth(jwt=JWTBackend(signing_key=JWTKey("k", SECRET))))
    with pytest.raises(ConfigurationError, match=r"Auth\.users: no user store"):
        app.build()


def test_handlers_ask_for_the_parts_by_type(tmp_path: Path) -> None:
    app = new_app()
    app.install(Database(f"sqlite:///{tmp_path / 'app.db'}"))
    tokens, jwt = TokenBackend(prefix="acme"), JWTBackend(signing_key=JWTKey("k", SECRET))
    app.install(Auth(users=MemoryUserStore(), tokens=tokens, jwt=jwt, two_factor=TwoFactor()))

    @app.get("/parts")
    async def parts(tokens: TokenBackend, jwt: JWTBackend, two_factor: TwoFactor) -> dict:
        return {"prefix": tokens.prefix, "keys": sorted(jwt.keys), "issuer": two_factor.issuer}

    with TestClient(app) as client:
        answer = client.get("/parts").json()
    assert answer == {"prefix": "acme", "keys": ["k"], "issuer": "carboy"}


def test_without_the_parts_nothing_is_added(tmp_path: Path) -> None:
    app = new_app()
    auth = Auth(users=MemoryUserStore())
    app.install(auth)
    app.build()
    assert len(auth.backends) == 1 and auth.tokens is None and auth.two_factor is None


def test_requests_authenticate_through_the_middleware(tmp_path: Path) -> None:
    app = new_app()
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    users = MemoryUserStore()
    ann = asyncio.run(users.create(username="ann", password=None))
    tokens, jwt = TokenBackend(), JWTBackend(signing_key=JWTKey("k", SECRET))
    app.install(db)
    app.install(Auth(users=users, tokens=tokens, jwt=jwt))
    AccessToken.__table__.create(db.engine)

    @app.get("/me")
    async def me(request: Request) -> dict:
        auth = request.auth
        return {
            "user": request.user.display_name,
            "via": auth.method,
            "scopes": sorted(auth.scopes),
        }

    with TestClient(app) as client:
        new = asyncio.run(tokens.create(ann, "ci", scopes={"deploy"}))
        by_token = client.get("/me", headers={"authorization": f"Bearer {new.token}"})
        assert by_token.json() == {"user": "ann", "via": "token", "scopes": ["deploy"]}
        by_jwt = client.get("/me", headers={"authorization": f"Bearer {jwt.issue(ann)}"})
        assert by_jwt.json() == {"user": "ann", "via": "jwt", "scopes": []}
        assert client.get("/me").json() == {"user": "", "via": "", "scopes": []}
        asyncio.run(tokens.revoke(new.record.id))
        refused = client.get("/me", headers={"authorization": f"Bearer {new.token}"})
        assert refused.status_code == 401
        assert refused.json() == {"status": 401, "detail": "The token has been revoked"}
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    AccessToken.__table__.drop(db.engine)
