"""JWT bearer tokens (PyJWT): signed, short-lived credentials for APIs.

A :class:`JWTBackend` verifies ``Authorization: Bearer <jwt>``: the algorithm
must be the one of the key named by the token's ``kid`` (so ``alg: none`` and
the "RSA public key as an HMAC secret" trick are refused before any
signature check), the signature must hold, ``exp``, ``nbf`` and ``iat`` are
checked with a leeway, and ``iss`` and ``aud`` must be the configured ones.
The subject (``sub``) is a user's ``pk``, looked up in the
:class:`~carboy.auth.UserStore`; a user who is inactive, or whose session
generation moved since the token was issued ("log out everywhere", a password
change), is refused. The token's scopes (``scope``) become ``request.auth.scopes``.

Keys rotate by ``kid``: one key signs, any number of older ones still verify.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt as pyjwt
from jwt.algorithms import get_default_algorithms

from carboy.auth._bearer import check_scheme, read_token, refusal
from carboy.auth._protocols import AuthUser, UserStore
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.identity import AuthCredentials

#: The algorithms a :class:`JWTKey` may use. ``none`` is never one of them.
ALGORITHMS = frozenset(
    {
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
#: Shortest HMAC secret per algorithm: as long as the hash (RFC 7518 §3.2).
_HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_REFUSED: dict[type[Exception], str] = {
    pyjwt.ExpiredSignatureError: "The token has expired",
    pyjwt.ImmatureSignatureError: "The token is not valid yet",
    pyjwt.InvalidIssuedAtError: "The token's issue time (iat) is invalid",
    pyjwt.InvalidAudienceError: "The token is not meant for this audience",
    pyjwt.InvalidIssuerError: "The token was not issued by the expected issuer",
    pyjwt.MissingRequiredClaimError: "The token lacks a required claim",
    pyjwt.InvalidSignatureError: "The token's signature is invalid",
}


@dataclass(frozen=True)
class JWTKey:
    """One key of a :class:`JWTBackend`: its id (``kid``), its algorithm and its material.

    For HMAC (``HS256``...) ``key`` is the shared secret, at least as long as the
    hash (32 bytes for ``HS256``). For RSA, EC and EdDSA it is a PEM string or a
    ``cryptography`` key object: a private key signs and verifies, a public key
    only verifies.

    Args:
        kid: The key id written in each token's header; it picks the key.
        key: The secret, or the PEM / key object.
        algorithm: One of :data:`ALGORITHMS`; tokens naming another are refused.

    Example:
        >>> key = JWTKey("2026-01", "a-long-random-secret-of-32-bytes-or-more", "HS256")
        >>> key.algorithm
        'HS256'
    """

    kid: str
    key: Any = field(repr=False)
    algorithm: str = "HS256"
    _prepared: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not self.kid:
            raise ConfigurationError(f"JWTKey(kid={self.kid!r}): the key id must be a string")
        if self.algorithm not in ALGORITHMS:
            raise ConfigurationError(
                f"JWTKey({self.kid!r}, algorithm={self.algorithm!r}): not an allowed algorithm; "
                f"use one of {', '.join(sorted(ALGORITHMS))}"
            )
        minimum = _HMAC_MIN_BYTES.get(self.algorithm)
        if minimum is not None:
            secret = self.key.encode() if isinstance(self.key, str) else self.key
            if not isinstance(secret, bytes) or len(secret) < minimum:
                raise ConfigurationError(
                    f"JWTKey({self.kid!r}): an {self.algorithm} secret must be at least "
                    f"{minimum} bytes (make one with secrets.token_urlsafe({minimum}))"
                )
        # Prepared once: a malformed key (or a PEM key given as an HMAC secret,
        # which PyJWT refuses) fails at start-up, not on the first request.
        try:
            prepared = get_default_algorithms()[self.algorithm].prepare_key(self.key)
        except (pyjwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"JWTKey({self.kid!r}): not a usable {self.algorithm} key ({exc})"
            ) from exc
        object.__setattr__(self, "_prepared", prepared)

    @property
    def can_sign(self) -> bool:
        """True for an HMAC secret or a private key."""
        return self.algorithm.startswith("HS") or hasattr(self._prepared, "public_key")

    @property
    def _verifier(self) -> Any:
        public = getattr(self._prepared, "public_key", None)
        return public() if callable(public) else self._prepared


@dataclass(frozen=True, slots=True)
class JWTCredentials(AuthCredentials):
    """``request.auth`` of a request that came in with a JWT: the verified claims too.

    Example:
        >>> if isinstance(request.auth, JWTCredentials): request.auth.claims["jti"]
    """

    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)


def encode_jwt(claims: Mapping[str, Any], key: JWTKey) -> str:
    """Sign ``claims`` with ``key``; the header names the key's ``kid``.

    The claims are signed as given: :meth:`JWTBackend.issue` adds ``exp``,
    ``iat``, ``iss``... for you.

    Example:
        >>> key = JWTKey("k1", "a-long-random-secret-of-32-bytes-or-more", "HS256")
        >>> token = encode_jwt({"sub": "42", "exp": 2_000_000_000}, key)
        >>> token.count(".")
        2
    """
    if not key.can_sign:
        raise ConfigurationError(f"JWTKey({key.kid!r}) is a public key: it cannot sign tokens")
    headers = {"kid": key.kid}
    return pyjwt.encode(dict(claims), key._prepared, algorithm=key.algorithm, headers=headers)


class JWTBackend:
    """Authenticate ``Authorization: Bearer <jwt>`` (an :class:`~carboy.auth.AuthBackend`).

    Args:
        users: Where the token's subject is looked up; :class:`~carboy.auth.Auth`
            gives its own store to a backend registered without one.
        signing_key: The key :meth:`issue` signs with (it verifies too); None for
            a backend that only verifies tokens another service issues.
        verify_keys: Older (or the issuer's public) keys that still verify.
        issuer: The ``iss`` tokens must carry (and :meth:`issue` writes); None
            to not check it.
        audience: The ``aud`` tokens must carry; None to not check it.
        leeway: Clock skew allowed on ``exp``, ``nbf`` and ``iat``.
        lifetime: How long the tokens of :meth:`issue` are valid.
        scheme: The Authorization scheme (``"Bearer"``; some APIs use ``"JWT"``).
        scopes_claim: The claim holding the scopes: a space-separated string
            (OAuth 2's ``scope``) or a list of strings (``scp``).
        check_generation: Refuse a token whose ``gen`` claim is not the user's
            current session generation (tokens of :meth:`issue` carry it). Turn
            off for tokens of an issuer that knows nothing of generations.
        max_length: Longest token looked at; longer ones are refused unread.

    Example:
        >>> backend = JWTBackend(
        ...     users,
        ...     signing_key=JWTKey("2026-06", secret, "HS256"),
        ...     issuer="https://api.example.com",
        ...     audience="api",
        ... )
        >>> token = backend.issue(user, scopes={"articles:read"})
    """

    method = "jwt"

    def __init__(
        self,
        users: UserStore | None = None,
        *,
        signing_key: JWTKey | None = None,
        verify_keys: Sequence[JWTKey] = (),
        issuer: str | None = None,
        audience: str | None = None,
        leeway: timedelta = timedelta(seconds=30),
        lifetime: timedelta = timedelta(minutes=15),
        scheme: str = "Bearer",
        scopes_claim: str = "scope",
        check_generation: bool = True,
        max_length: int = 8192,
    ) -> None:
        keys = [*([signing_key] if signing_key is not None else []), *verify_keys]
        if not keys:
            raise ConfigurationError("JWTBackend needs a signing_key or at least one verify key")
        self.keys: dict[str, JWTKey] = {}
        for key in keys:
            if key.kid in self.keys:
                raise ConfigurationError(f"JWTBackend: two keys have the kid {key.kid!r}")
            self.keys[key.kid] = key
        if signing_key is not None and not signing_key.can_sign:
            raise ConfigurationError(
                f"JWTBackend(signing_key=JWTKey({signing_key.kid!r})): a public key cannot sign; "
                "give the private key, or pass it in verify_keys"
            )
        if lifetime <= timedelta(0) or leeway < timedelta(0):
            raise ConfigurationError("JWTBackend: lifetime must be positive, leeway not negative")
        self.users = users
        self.signing_key = signing_key
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.lifetime = lifetime
        self.scheme = check_scheme(scheme, "JWTBackend")
        self.scopes_claim = scopes_claim
        self.check_generation = check_generation
        self.max_length = max_length
        self._required = ["exp", "iat", "sub"]
        self._required += ["iss"] if issuer is not None else []
        self._required += ["aud"] if audience is not None else []

    # -- issuing ------------------------------------------------------------------------
    def issue(
        self,
        user: AuthUser,
        *,
        scopes: Iterable[str] = (),
        lifetime: timedelta | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token for ``user``, valid for ``lifetime`` (the backend's by default).

        It carries ``sub`` (the user's pk), ``iat``, ``nbf``, ``exp``, a random
        ``jti``, ``gen`` (the user's session generation), ``iss`` and ``aud`` when
        configured, the scopes, and any extra ``claims``.

        Example:
            >>> token = backend.issue(user, scopes={"articles:write"})
        """
        if self.signing_key is None:
            raise ConfigurationError("JWTBackend.issue: this backend has no signing_key")
        now = int(time.time())
        span = lifetime if lifetime is not None else self.lifetime
        payload: dict[str, Any] = {
            **(claims or {}),
            "sub": user.pk,
            "iat": now,
            "nbf": now,
            "exp": now + int(span.total_seconds()),
            "jti": secrets.token_urlsafe(16),
            "gen": user.session_generation,
            self.scopes_claim: " ".join(sorted(set(scopes))),
        }
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        return encode_jwt(payload, self.signing_key)

    # -- verifying ----------------------------------------------------------------------
    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once its key, algorithm, signature and times hold.

        Raises:
            HTTPException: 401 with a ``WWW-Authenticate`` that says what failed.

        Example:
            >>> backend.verify(token)["sub"]
            '42'
        """
        try:
            header = pyjwt.get_unverified_header(token)
        except pyjwt.PyJWTError:
            raise self._refuse("The token is not a well-formed JWT") from None
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise self._refuse("The token names no key this server knows (kid)")
        if header.get("alg") != key.algorithm:
            # Checked here, not left to PyJWT: the algorithm is the key's, never
            # the token's choice (no "none", no public key used as an HMAC secret).
            raise self._refuse("The token's algorithm is not the one of its key")
        try:
            claims: dict[str, Any] = pyjwt.decode(
                token,
                key._verifier,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": self._required},
            )
        except pyjwt.PyJWTError as exc:
            description = next(
                (text for kind, text in _REFUSED.items() if isinstance(exc, kind)),
                "The token is not a valid JWT",
            )
            raise self._refuse(description) from None
        return claims

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthUser, JWTCredentials] | None:
        """The user of the request's JWT; None when it carries none (or not a JWT).

        A bearer token that is not shaped like a JWT (three dot-separated parts)
        is left to the other backends (a personal access token, say).

        Raises:
            HTTPException: 401 when the token is a JWT and is not valid.
        """
        token = read_token(conn, self.scheme, self.max_length)
        if token is None or token.count(".") != 2:
            return None
        claims = self.verify(token)
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise self._refuse("The token's subject (sub) is not a user id")
        if self.users is None:
            raise ConfigurationError(
                "JWTBackend has no user store: pass users=..., or register it with Auth"
            )
        user = await self.users.get(subject)
        if user is None or not user.is_active:
            raise self._refuse("The token's user does not exist or is inactive")
        generation = claims.get("gen")
        current = type(generation) is int and generation == user.session_generation
        if self.check_generation and not current:
            raise self._refuse("The token was issued before the user's sessions were ended")
        scopes = self._scopes(claims.get(self.scopes_claim, ""))
        return user, JWTCredentials(scopes, method=self.method, explicit=True, claims=claims)

    def _scopes(self, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            return frozenset(value.split())
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return frozenset(value)
        raise self._refuse("The token's scopes are neither a string nor a list of strings")

    def _refuse(self, description: str) -> HTTPException:
        return refusal(self.scheme, description)

    def __repr__(self) -> str:
        return f"JWTBackend(keys={sorted(self.keys)!r}, issuer={self.issuer!r})"
