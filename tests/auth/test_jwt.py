"""carboy.auth.jwt: JWT bearer tokens, and every way a forged or stale one is refused."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from carboy import Carboy, ConfigurationError, HTTPException, Request
from carboy.auth import JWTBackend, JWTCredentials, JWTKey, MemoryUserStore, encode_jwt
from carboy.connections import HTTPConnection
from carboy.testing import TestClient
from tests.auth.users_for_tests import Member, ann_and_bob

SECRET = "jwt-tests-secret-" * 3
ISSUER = "https://api.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A token put together by hand, as an attacker would; ``sign(bytes) -> bytes``."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + (b64(sign(head.encode())) if sign else "")


def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


@pytest.fixture
def users() -> MemoryUserStore:
    return asyncio.run(ann_and_bob(bob_active=False))


@pytest.fixture
def backend(users: MemoryUserStore) -> JWTBackend:
    return JWTBackend(users, signing_key=JWTKey("k2", SECRET), issuer=ISSUER, audience="api")


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "1",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "iss": ISSUER,
        "aud": "api",
        "gen": 0,
        "scope": "articles:read",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def conn(*authorization: str) -> HTTPConnection:
    headers = [(b"authorization", value.encode("latin-1")) for value in authorization]
    return HTTPConnection({"type": "http", "path": "/", "headers": headers})


def authenticate(backend: JWTBackend, *authorization: str) -> Any:
    return asyncio.run(backend.authenticate(conn(*authorization)))


def refused(backend: JWTBackend, token: str, scheme: str = "Bearer") -> str:
    with pytest.raises(HTTPException) as caught:
        authenticate(backend, f"{scheme} {token}")
    assert caught.value.status_code == 401
    challenge = caught.value.headers["WWW-Authenticate"]
    assert challenge.startswith(f"{scheme} error=")
    assert f'error_description="{caught.value.detail}"' in challenge
    return str(caught.value.detail)


def api(backend: JWTBackend) -> Carboy:
    app = Carboy(secret_key="jwt-tests-" * 4, allowed_hosts=["*"])

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        found = await backend.authenticate(request)
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


# -- the way in ------------------------------------------------------------------------
def test_an_issued_token_authenticates_its_user_with_its_scopes(backend: JWTBackend) -> None:
    token = backend.issue(Member(1, "ann"), scopes={"articles:write", "articles:read"})
    with TestClient(api(backend)) as client:
        answer = client.get("/me", headers={"authorization": f"Bearer {token}"}).json()
        assert answer == {
            "user": "ann",
            "scopes": ["articles:read", "articles:write"],
            "method": "jwt",
            "explicit": True,
        }
        assert client.get("/me").json() == {"user": None}
    _, credentials = authenticate(backend, f"Bearer {token}")
    assert isinstance(credentials, JWTCredentials)
    assert credentials.claims["iss"] == ISSUER and credentials.claims["aud"] == "api"
    assert credentials.claims["exp"] - credentials.claims["iat"] == 15 * 60
    assert len(credentials.claims["jti"]) >= 20
    assert credentials == JWTCredentials(credentials.scopes, method="jwt", explicit=True)


def test_a_refusal_is_a_401_json_with_a_challenge(backend: JWTBackend) -> None:
    token = encode_jwt(claims(exp=int(time.time()) - 3600), JWTKey("k2", SECRET))
    with TestClient(api(backend)) as client:
        response = client.get("/me", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"status": 401, "detail": "The token has expired"}
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The token has expired"'
    )


def test_requests_without_a_jwt_are_left_to_other_backends(backend: JWTBackend) -> None:
    assert authenticate(backend) is None
    assert authenticate(backend, "Basic YW5uOnNlY3JldA==") is None
    assert authenticate(backend, "Token abc.def.ghi") is None
    # A bearer token that is not shaped like a JWT: a personal access token, say.
    assert authenticate(backend, "Bearer cby_0123abcd_secret") is None


def test_issue_writes_the_lifetime_and_extra_claims(backend: JWTBackend) -> None:
    token = backend.issue(Member(1, "ann"), lifetime=timedelta(hours=2), claims={"tenant": "t1"})
    found = backend.verify(token)
    assert found["exp"] - found["iat"] == 7200 and found["tenant"] == "t1"
    assert found["scope"] == "" and found["gen"] == 0
    bare = JWTBackend(signing_key=JWTKey("k", SECRET))
    plain = bare.verify(bare.issue(Member(1, "ann")))
    assert "iss" not in plain and "aud" not in plain


# -- forged tokens ---------------------------------------------------------------------
def test_alg_none_is_refused(backend: JWTBackend) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": "k2"}, claims())
    assert refused(backend, token) == "The token's algorithm is not the one of its key"
    no_kid = forge({"alg": "none", "typ": "JWT"}, claims())
    assert refused(backend, no_kid) == "The token names no key this server knows (kid)"


def test_another_algorithm_for_the_key_is_refused(backend: JWTBackend) -> None:
    other = forge(
        {"alg": "HS512", "typ": "JWT", "kid": "k2"},
        claims(),
        lambda data: hmac.new(SECRET.encode(), data, hashlib.sha512).digest(),
    )
    assert refused(backend, other) == "The token's algorithm is not the one of its key"


def test_the_rsa_public_key_used_as_an_hmac_secret_is_refused(users: MemoryUserStore) -> None:
    private, public = rsa_pem()
    backend = JWTBackend(users, verify_keys=[JWTKey("rsa", public, "RS256")])
    good = encode_jwt(claims(iss=None, aud=None), JWTKey("rsa", private, "RS256"))
    assert authenticate(backend, f"Bearer {good}")[0].pk == "1"
    attack = forge(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa"},
        claims(iss=None, aud=None),
        lambda data: hmac.new(public.encode(), data, hashlib.sha256).digest(),
    )
    assert refused(backend, attack) == "The token's algorithm is not the one of its key"


def test_a_bad_signature_is_refused(backend: JWTBackend) -> None:
    token = encode_jwt(claims(), JWTKey("k2", "another-secret-" * 3))
    assert refused(backend, token) == "The token's signature is invalid"
    head, _, signature = backend.issue(Member(1, "ann")).split(".")
    raised = b64(json.dumps({**claims(), "scope": "admin"}).encode())
    assert refused(backend, f"{head}.{raised}.{signature}") == "The token's signature is invalid"


def test_malformed_tokens_are_refused(backend: JWTBackend) -> None:
    assert refused(backend, "abc.def.ghi") == "The token is not a well-formed JWT"
    header = b64(json.dumps({"alg": "HS256", "kid": "k2"}).encode())
    assert refused(backend, f"{header}.AAAA.{b64(bytes(32))}") == "The token's signature is invalid"
    head = header + "." + b64(b"not json")
    signature = b64(hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest())
    assert refused(backend, f"{head}.{signature}") == "The token is not a valid JWT"


def test_a_token_without_a_signing_key_match_is_refused(backend: JWTBackend) -> None:
    token = encode_jwt(claims(), JWTKey("k9", SECRET))
    assert refused(backend, token) == "The token names no key this server knows (kid)"
    numeric = forge({"alg": "HS256", "kid": 2}, claims(), lambda d: d)
    assert refused(backend, numeric) == "The token is not a well-formed JWT"


# -- times, issuer, audience -----------------------------------------------------------
def test_expired_tokens_are_refused_beyond_the_leeway(users: MemoryUserStore) -> None:
    key = JWTKey("k2", SECRET)
    ten_seconds_ago = encode_jwt(claims(exp=int(time.time()) - 10), key)
    lenient = JWTBackend(users, signing_key=key, issuer=ISSUER, audience="api")
    assert authenticate(lenient, f"Bearer {ten_seconds_ago}")[0].pk == "1"
    strict = JWTBackend(users, signing_key=key, issuer=ISSUER, audience="api", leeway=timedelta(0))
    assert refused(strict, ten_seconds_ago) == "The token has expired"
    long_ago = encode_jwt(claims(exp=int(time.time()) - 3600), key)
    assert refused(lenient, long_ago) == "The token has expired"


def test_tokens_from_the_future_are_refused(backend: JWTBackend) -> None:
    key = JWTKey("k2", SECRET)
    later = int(time.time()) + 600
    assert refused(backend, encode_jwt(claims(nbf=later), key)) == "The token is not valid yet"
    assert refused(backend, encode_jwt(claims(iat=later, nbf=None), key)) in {
        "The token is not valid yet",
        "The token's issue time (iat) is invalid",
    }
    soon = int(time.time()) + 10  # within the 30 s leeway
    assert authenticate(backend, f"Bearer {encode_jwt(claims(nbf=soon), key)}")[0].pk == "1"


def test_required_claims(backend: JWTBackend) -> None:
    key = JWTKey("k2", SECRET)
    for missing in ("exp", "iat", "sub", "iss", "aud"):
        token = encode_jwt(claims(**{missing: None}), key)
        assert refused(backend, token) == "The token lacks a required claim", missing


def test_the_wrong_issuer_or_audience_is_refused(backend: JWTBackend) -> None:
    key = JWTKey("k2", SECRET)
    evil = encode_jwt(claims(iss="https://evil.example"), key)
    assert refused(backend, evil) == "The token was not issued by the expected issuer"
    other = encode_jwt(claims(aud="billing"), key)
    assert refused(backend, other) == "The token is not meant for this audience"
    listed = encode_jwt(claims(aud=["billing", "api"]), key)
    assert authenticate(backend, f"Bearer {listed}")[0].pk == "1"


def test_without_an_audience_configured_a_token_with_one_is_refused(users: MemoryUserStore) -> None:
    key = JWTKey("k2", SECRET)
    backend = JWTBackend(users, signing_key=key)
    assert authenticate(backend, f"Bearer {encode_jwt(claims(aud=None), key)}")[0].pk == "1"
    assert refused(backend, encode_jwt(claims(), key)) == "The token is not meant for this audience"


# -- the user behind the token ---------------------------------------------------------
def test_unknown_and_inactive_users_are_refused(backend: JWTBackend) -> None:
    key = JWTKey("k2", SECRET)
    for subject in ("2", "99"):
        token = encode_jwt(claims(sub=subject), key)
        assert refused(backend, token) == "The token's user does not exist or is inactive"
    assert refused(backend, encode_jwt(claims(sub=""), key)) == (
        "The token's subject (sub) is not a user id"
    )
    assert refused(backend, encode_jwt(claims(sub=1), key)) == "The token is not a valid JWT"


def test_ending_the_users_sessions_ends_their_tokens(users: MemoryUserStore) -> None:
    key = JWTKey("k2", SECRET)
    checking = JWTBackend(users, signing_key=key)
    ignoring = JWTBackend(users, signing_key=key, check_generation=False)
    ann = asyncio.run(users.get("1"))
    assert ann is not None
    token = checking.issue(ann)
    assert authenticate(checking, f"Bearer {token}")[0].pk == "1"
    asyncio.run(users.bump_generation(ann))
    assert refused(checking, token) == "The token was issued before the user's sessions were ended"
    assert authenticate(ignoring, f"Bearer {token}")[0].pk == "1"
    no_generation = encode_jwt(claims(gen=None, iss=None, aud=None), key)
    assert refused(checking, no_generation).startswith("The token was issued before")
    boolean = encode_jwt(claims(gen=True, iss=None, aud=None), key)
    assert refused(checking, boolean).startswith("The token was issued before")
    assert authenticate(ignoring, f"Bearer {no_generation}")[0].pk == "1"


def test_scopes_come_from_the_configured_claim(users: MemoryUserStore) -> None:
    key = JWTKey("k2", SECRET)
    default = JWTBackend(users, signing_key=key, check_generation=False)
    scp = JWTBackend(users, signing_key=key, scopes_claim="scp", check_generation=False)
    token = encode_jwt({**claims(iss=None, aud=None), "scp": ["a", "b"]}, key)
    assert authenticate(default, f"Bearer {token}")[1].scopes == {"articles:read"}
    assert authenticate(scp, f"Bearer {token}")[1].scopes == {"a", "b"}
    assert scp.verify(scp.issue(Member(1, "ann"), scopes=["x", "y"]))["scp"] == "x y"
    for wrong in (7, ["a", 3], {"a": True}):
        token = encode_jwt(claims(iss=None, aud=None, scope=wrong), key)
        assert refused(default, token) == (
            "The token's scopes are neither a string nor a list of strings"
        )
    unscoped = encode_jwt(claims(scope=None, iss=None, aud=None), key)
    assert authenticate(default, f"Bearer {unscoped}")[1].scopes == frozenset()


def test_a_backend_without_users_says_so() -> None:
    backend = JWTBackend(signing_key=JWTKey("k", SECRET))
    token = backend.issue(Member(1, "ann"))
    with pytest.raises(ConfigurationError, match="has no user store"):
        authenticate(backend, f"Bearer {token}")


# -- keys --------------------------------------------------------------------------------
def test_keys_rotate_by_kid(users: MemoryUserStore) -> None:
    old, new = JWTKey("2026-01", SECRET), JWTKey("2026-06", "the-new-secret-" * 3)
    before = JWTBackend(users, signing_key=old)
    after = JWTBackend(users, signing_key=new, verify_keys=[old])
    retired = JWTBackend(users, signing_key=new)
    old_token = before.issue(Member(1, "ann"))
    new_token = after.issue(Member(1, "ann"))
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == "2026-06"
    assert authenticate(after, f"Bearer {old_token}")[0].pk == "1"
    assert authenticate(after, f"Bearer {new_token}")[0].pk == "1"
    assert authenticate(retired, f"Bearer {new_token}")[0].pk == "1"
    assert refused(retired, old_token) == "The token names no key this server knows (kid)"
    assert refused(before, new_token) == "The token names no key this server knows (kid)"


def asymmetric_keys(algorithm: str) -> tuple[Any, Any]:
    if algorithm == "RS256":
        return rsa_pem()
    if algorithm == "ES256":
        ec_key = ec.generate_private_key(ec.SECP256R1())
        return ec_key, ec_key.public_key()
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return ed_key, ed_key.public_key()


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_asymmetric_keys_sign_with_the_private_half(users: MemoryUserStore, algorithm: str) -> None:
    private, public = asymmetric_keys(algorithm)
    issuer = JWTBackend(users, signing_key=JWTKey("a1", private, algorithm))
    verifier = JWTBackend(users, verify_keys=[JWTKey("a1", public, algorithm)])
    token = issuer.issue(Member(1, "ann"), scopes={"read"})
    assert authenticate(issuer, f"Bearer {token}")[1].scopes == {"read"}
    assert authenticate(verifier, f"Bearer {token}")[1].scopes == {"read"}
    other, _ = asymmetric_keys(algorithm)
    forged = encode_jwt(claims(iss=None, aud=None), JWTKey("a1", other, algorithm))
    assert refused(verifier, forged) == "The token's signature is invalid"
    with pytest.raises(ConfigurationError, match="a public key cannot sign"):
        JWTBackend(users, signing_key=JWTKey("a1", public, algorithm))
    with pytest.raises(ConfigurationError, match="has no signing_key"):
        verifier.issue(Member(1, "ann"))
    with pytest.raises(ConfigurationError, match="is a public key"):
        encode_jwt({"sub": "1"}, JWTKey("a1", public, algorithm))


def test_key_configuration_errors() -> None:
    private, public = rsa_pem()
    with pytest.raises(ConfigurationError, match="algorithm='none'\\): not an allowed algorithm"):
        JWTKey("k", SECRET, "none")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        JWTKey("k", "short", "HS256")
    with pytest.raises(ConfigurationError, match="at least 64 bytes"):
        JWTKey("k", SECRET, "HS512")
    with pytest.raises(ConfigurationError, match="not a usable HS256 key"):
        JWTKey("k", public, "HS256")
    with pytest.raises(ConfigurationError, match="not a usable RS256 key"):
        JWTKey("k", "not a pem key", "RS256")
    with pytest.raises(ConfigurationError, match="the key id must be a string"):
        JWTKey("", SECRET)
    with pytest.raises(ConfigurationError, match="needs a signing_key or at least one"):
        JWTBackend()
    with pytest.raises(ConfigurationError, match="two keys have the kid 'k'"):
        JWTBackend(signing_key=JWTKey("k", SECRET), verify_keys=[JWTKey("k", private, "RS256")])
    with pytest.raises(ConfigurationError, match="lifetime must be positive"):
        JWTBackend(signing_key=JWTKey("k", SECRET), lifetime=timedelta(0))
    with pytest.raises(ConfigurationError, match="leeway not negative"):
        JWTBackend(signing_key=JWTKey("k", SECRET), leeway=timedelta(seconds=-1))
    with pytest.raises(ConfigurationError, match=r"JWTBackend\(scheme='Bearer x'\)"):
        JWTBackend(signing_key=JWTKey("k", SECRET), scheme="Bearer x")
    assert "secret" not in repr(JWTKey("k", SECRET)) and SECRET not in repr(JWTKey("k", SECRET))
    assert repr(JWTBackend(signing_key=JWTKey("k", SECRET), issuer="i")) == (
        "JWTBackend(keys=['k'], issuer='i')"
    )


# -- the header --------------------------------------------------------------------------
def test_the_header_scheme_is_configurable(users: MemoryUserStore) -> None:
    backend = JWTBackend(users, signing_key=JWTKey("k", SECRET), scheme="JWT")
    token = backend.issue(Member(1, "ann"))
    assert authenticate(backend, f"Bearer {token}") is None
    assert authenticate(backend, f"JWT {token}")[0].pk == "1"
    assert authenticate(backend, f"jwt {token}")[0].pk == "1"  # schemes are case-insensitive
    assert refused(backend, "x.y.z", scheme="JWT") == "The token is not a well-formed JWT"


def test_hostile_headers_are_refused_unread(backend: JWTBackend) -> None:
    token = backend.issue(Member(1, "ann"))
    for header, description in [
        ("Bearer", "The Authorization header has no token"),
        ("Bearer    ", "The Authorization header has no token"),
        ("Bearer " + "a." * 5000 + "b", "The token is longer than 8192 characters"),
        ("Bearer a.b.c<script>", "The token has characters a token cannot contain"),
        ("Bearer a.b c", "The token has characters a token cannot contain"),
        ("Bearer caf\xe9.b.c", "The token has characters a token cannot contain"),
    ]:
        with pytest.raises(HTTPException) as caught:
            authenticate(backend, header)
        assert (caught.value.status_code, caught.value.detail) == (401, description), header
    with pytest.raises(HTTPException) as twice:
        authenticate(backend, f"Bearer {token}", f"Bearer {token}")
    assert twice.value.detail == "More than one Authorization header"
    assert 'error="invalid_request"' in twice.value.headers["WWW-Authenticate"]
    short = JWTBackend(backend.users, signing_key=JWTKey("k2", SECRET), max_length=100)
    with pytest.raises(HTTPException, match="longer than 100"):
        authenticate(short, f"Bearer {token}")
