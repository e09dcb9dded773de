"""carboy.auth.tokens: personal access tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from carboy import Carboy, ConfigurationError, HTTPException, Request
from carboy.auth import AccessToken, MemoryUserStore, TokenBackend, TokenCredentials
from carboy.auth.users import MemoryUser
from carboy.connections import HTTPConnection
from carboy.db import Database
from carboy.testing import AsyncTestClient
from tests.auth.users_for_tests import Member, ann_and_bob

pytestmark = pytest.mark.anyio


@pytest.fixture
async def users() -> MemoryUserStore:
    return await ann_and_bob()


async def stored(users: MemoryUserStore, pk: str) -> MemoryUser:
    found = await users.get(pk)
    assert found is not None
    return found


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    table = AccessToken.__table__
    async with database.async_engine.begin() as connection:
        await connection.run_sync(lambda sync: table.drop(sync, checkfirst=True))
        await connection.run_sync(table.create)
    yield database
    async with database.async_engine.begin() as connection:
        await connection.run_sync(table.drop)
    await database.dispose()


@pytest.fixture
def tokens(users: MemoryUserStore, db: Database) -> TokenBackend:
    return TokenBackend(users, db=db)


def conn(*authorization: str) -> HTTPConnection:
    headers = [(b"authorization", value.encode("latin-1")) for value in authorization]
    return HTTPConnection({"type": "http", "path": "/", "headers": headers})


async def refused(tokens: TokenBackend, header: str) -> str:
    with pytest.raises(HTTPException) as caught:
        await tokens.authenticate(conn(header))
    assert caught.value.status_code == 401
    challenge = caught.value.headers["WWW-Authenticate"]
    assert challenge.startswith(f"{tokens.scheme} error=")
    return str(caught.value.detail)


async def row(db: Database, token_id: int) -> AccessToken:
    async with db.async_session() as session:
        found = await session.get(AccessToken, token_id)
    assert found is not None
    return found


async def set_column(db: Database, token_id: int, **values: Any) -> None:
    async with db.atransaction() as session:
        await session.execute(
            update(AccessToken).where(AccessToken.id == token_id).values(**values)
        )


def api(tokens: TokenBackend) -> Carboy:
    app = Carboy(secret_key="token-tests-" * 4, allowed_hosts=["*"])

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        found = await tokens.authenticate(request)
        if found is None:
            return {"user": None}
        request.user, request.auth = found
        return {
            "user": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
            "method": request.auth.method,
            "explicit": request.auth.explicit,
        }

    return app


async def test_a_new_token_authenticates_its_user_with_its_scopes(
    tokens: TokenBackend, users: MemoryUserStore
) -> None:
    new = await tokens.create(await stored(users, "1"), " laptop ", scopes=["b", "a", "a"])
    assert new.token.startswith("cby_") and len(new.token) == 4 + 16 + 1 + 43
    assert new.token not in repr(new)
    assert (new.record.name, new.record.scopes, new.record.user_id) == ("laptop", ["a", "b"], "1")
    async with AsyncTestClient(api(tokens)) as client:
        response = await client.get("/me", headers={"authorization": f"Bearer {new.token}"})
        assert response.json() == {
            "user": "ann",
            "scopes": ["a", "b"],
            "method": "token",
            "explicit": True,
        }
        assert (await client.get("/me")).json() == {"user": None}
    user, credentials = await tokens.authenticate(conn(f"Bearer {new.token}"))  # type: ignore[misc]
    assert user.pk == "1" and isinstance(credentials, TokenCredentials)
    assert credentials.token is not None and credentials.token.id == new.record.id


async def test_only_a_hash_of_the_secret_is_stored(tokens: TokenBackend, db: Database) -> None:
    new = await tokens.create(Member(1, "ann"), "ci")
    _, key, secret = new.token.split("_", 2)
    stored = await row(db, new.record.id)
    assert stored.key == key
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    async with db.connection() as connection:
        values = [str(v) for v in (await connection.execute(select(AccessToken.__table__))).one()]
    assert not any(secret in value for value in values)


async def test_a_refusal_is_a_401_json_with_a_challenge(tokens: TokenBackend) -> None:
    async with AsyncTestClient(api(tokens)) as client:
        forged = "cby_" + "0" * 16 + "_" + "A" * 43
        response = await client.get("/me", headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json() == {"status": 401, "detail": "The token is not valid"}
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The token is not valid"'
    )


async def test_a_revoked_token_is_refused(tokens: TokenBackend, users: MemoryUserStore) -> None:
    ann, bob = await stored(users, "1"), await stored(users, "2")
    new = await tokens.create(ann, "laptop")
    assert (await tokens.authenticate(conn(f"Bearer {new.token}"))) is not None
    assert await tokens.revoke(new.record.id, user=bob) is False  # not bob's to revoke
    assert (await tokens.authenticate(conn(f"Bearer {new.token}"))) is not None
    assert await tokens.revoke(new.record.id, user=ann) is True
    assert await refused(tokens, f"Bearer {new.token}") == "The token has been revoked"
    assert await tokens.revoke(new.record.id) is False  # already revoked
    assert await tokens.revoke(12345) is False


async def test_revoke_all(tokens: TokenBackend, users: MemoryUserStore) -> None:
    ann, bob = await stored(users, "1"), await stored(users, "2")
    first, second = await tokens.create(ann, "a"), await tokens.create(ann, "b")
    kept = await tokens.create(bob, "c")
    assert await tokens.revoke(first.record.id) is True
    assert await tokens.revoke_all(ann) == 1
    for new in (first, second):
        assert await refused(tokens, f"Bearer {new.token}") == "The token has been revoked"
    assert (await tokens.authenticate(conn(f"Bearer {kept.token}"))) is not None
    listed = await tokens.tokens_of(ann)
    assert [t.name for t in listed] == ["b", "a"] and not any(t.is_usable for t in listed)
    assert [t.is_usable for t in await tokens.tokens_of(bob)] == [True]


async def test_an_expired_token_is_refused(
    tokens: TokenBackend, users: MemoryUserStore, db: Database
) -> None:
    new = await tokens.create(await stored(users, "1"), "short", expires_in=timedelta(hours=1))
    assert new.record.expires_at is not None
    assert new.record.expires_at - new.record.created_at == timedelta(hours=1)
    assert (await tokens.authenticate(conn(f"Bearer {new.token}"))) is not None
    await set_column(db, new.record.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await refused(tokens, f"Bearer {new.token}") == "The token has expired"
    assert not (await row(db, new.record.id)).is_usable
    forever = await tokens.create(await stored(users, "1"), "forever")
    assert forever.record.expires_at is None and forever.record.is_usable


async def test_a_wrong_secret_or_unknown_key_is_refused(tokens: TokenBackend) -> None:
    new = await tokens.create(Member(1, "ann"), "laptop")
    prefix_and_key, secret = new.token[:21], new.token[21:]
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert await refused(tokens, f"Bearer {prefix_and_key}{wrong}") == "The token is not valid"
    unknown = "cby_" + "f" * 16 + "_" + secret
    assert await refused(tokens, f"Bearer {unknown}") == "The token is not valid"


async def test_malformed_tokens_are_refused(tokens: TokenBackend) -> None:
    for token in ("cby_", "cby_short_secret", "cby_" + "0" * 16 + "_" + "A" * 42, "cby_X" * 20):
        assert await refused(tokens, f"Bearer {token}") == "The token is malformed", token
    assert await refused(tokens, "Bearer cby_" + "A" * 300) == (
        "The token is longer than 256 characters"
    )


async def test_other_credentials_are_left_to_other_backends(tokens: TokenBackend) -> None:
    assert await tokens.authenticate(conn()) is None
    assert await tokens.authenticate(conn("Bearer eyJhbGciOi.eyJzdWIi.sig")) is None
    assert await tokens.authenticate(conn("Bearer ghp_abcdef")) is None
    assert await tokens.authenticate(conn("Basic YW5uOnNlY3JldA==")) is None


async def test_the_users_of_tokens_must_exist_and_be_active(
    tokens: TokenBackend, users: MemoryUserStore
) -> None:
    ann = await stored(users, "1")
    new = await tokens.create(ann, "laptop")
    await users.update(ann, is_active=False)
    assert await refused(tokens, f"Bearer {new.token}") == (
        "The token's user does not exist or is inactive"
    )
    ghost = await tokens.create(Member(77, "ghost"), "orphan")
    assert await refused(tokens, f"Bearer {ghost.token}") == (
        "The token's user does not exist or is inactive"
    )


async def test_last_used_is_written_at_most_once_per_interval(
    users: MemoryUserStore, db: Database
) -> None:
    throttled = TokenBackend(users, db=db)
    every_time = TokenBackend(users, db=db, touch_interval=timedelta(0))
    new = await throttled.create(await stored(users, "1"), "busy")
    assert new.record.last_used_at is None
    await throttled.authenticate(conn(f"Bearer {new.token}"))
    first = (await row(db, new.record.id)).last_used_at
    assert first is not None and datetime.now(UTC) - first < timedelta(seconds=30)
    await throttled.authenticate(conn(f"Bearer {new.token}"))
    assert (await row(db, new.record.id)).last_used_at == first  # within 5 minutes: no write
    await every_time.authenticate(conn(f"Bearer {new.token}"))
    second = (await row(db, new.record.id)).last_used_at
    assert second is not None and second > first
    long_ago = datetime.now(UTC) - timedelta(minutes=6)
    await set_column(db, new.record.id, last_used_at=long_ago)
    await throttled.authenticate(conn(f"Bearer {new.token}"))
    third = (await row(db, new.record.id)).last_used_at
    assert third is not None and third > second


async def test_the_prefix_and_scheme_are_configurable(users: MemoryUserStore, db: Database) -> None:
    tokens = TokenBackend(users, db=db, prefix="acme", scheme="Token")
    new = await tokens.create(await stored(users, "1"), "ci")
    assert new.token.startswith("acme_")
    assert await tokens.authenticate(conn(f"Bearer {new.token}")) is None
    found = await tokens.authenticate(conn(f"Token {new.token}"))
    assert found is not None and found[0].pk == "1"
    default = TokenBackend(users, db=db)
    assert await default.authenticate(conn(f"Bearer {new.token}")) is None
    assert await refused(tokens, "Token acme_nope") == "The token is malformed"


async def test_bad_arguments(tokens: TokenBackend) -> None:
    ann = Member(1, "ann")
    with pytest.raises(ValueError, match="1 to 100 characters"):
        await tokens.create(ann, "  ")
    with pytest.raises(ValueError, match="1 to 100 characters"):
        await tokens.create(ann, "x" * 101)
    with pytest.raises(ValueError, match="expires_in must be positive"):
        await tokens.create(ann, "x", expires_in=timedelta(0))
    for prefix in ("", "Cby", "c_b", "1cb", "x" * 17):
        with pytest.raises(ConfigurationError, match=r"TokenBackend\(prefix="):
            TokenBackend(prefix=prefix)
    with pytest.raises(ConfigurationError, match="must not be negative"):
        TokenBackend(touch_interval=timedelta(seconds=-1))
    with pytest.raises(ConfigurationError, match=r"TokenBackend\(scheme="):
        TokenBackend(scheme="")
    assert repr(TokenBackend(prefix="acme")) == "TokenBackend(prefix='acme', scheme='Bearer')"


async def test_a_backend_without_database_or_users_says_so(
    users: MemoryUserStore, db: Database
) -> None:
    with pytest.raises(ConfigurationError, match="has no database"):
        await TokenBackend(users).create(Member(1, "ann"), "x")
    new = await TokenBackend(db=db).create(Member(1, "ann"), "x")
    with pytest.raises(ConfigurationError, match="has no user store"):
        await TokenBackend(db=db).authenticate(conn(f"Bearer {new.token}"))
