"""CSRF protection: an ``Origin`` check and a masked per-session token on unsafe requests.

A cross-site request forgery is another site's page making the visitor's
browser send a request here, with the visitor's session cookie attached. Two
independent checks refuse it, for every request with an unsafe method (anything
but GET, HEAD, OPTIONS and TRACE) that carries something to forge:

1. **Where it comes from.** ``Sec-Fetch-Site: cross-site`` is refused; an
   ``Origin`` must be the request's own (scheme, host and port) or one of the
   ``csrf_trusted_origins``; ``Origin: null`` is refused (unless the browser says
   ``Sec-Fetch-Site: same-origin``: a page with ``Referrer-Policy: no-referrer``
   posts a null Origin). Without an ``Origin``,
   a request over HTTPS needs a ``Referer`` of this site (as Django does); over
   plain HTTP the token alone decides.
2. **A token only this site's pages know.** The session holds a random
   secret; each page gets it masked with fresh random bytes (so the token
   differs on every render and a compressed, encrypted page leaks nothing of
   it: BREACH), sent back in the ``X-CSRF-Token`` header (htmx, ``fetch``) or
   the ``csrf_token`` form field, and compared in constant time.

Which requests are checked (see docs/auth/csrf.md):

* a request authenticated by an explicit credential (``Authorization:
  Bearer``: a personal access token or a JWT) never is: no page can make a
  browser add that header to a cross-site request;
* one with a live session, or signed in by any other means, always is;
* one with neither (no session cookie, or one that expired) has nothing to
  forge and passes, except on routes marked ``extra={"csrf_required": True}``:
  the sign-in and sign-up forms, where a forged request would sign the
  visitor in to the attacker's account;
* routes marked ``extra={"csrf_exempt": True}`` are never wrapped (webhooks).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from carboy.auth.sessions import Session
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.identity import SESSION_KEY
from carboy.middleware import Middleware, TrustedOrigins, parse_origin
from carboy.requests import Request
from carboy.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from carboy.routing import RouteInfo

logger = logging.getLogger("carboy.security")

#: Methods that must not change anything, so are never checked (RFC 9110 9.2.1).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: The session key of the CSRF secret.
SECRET_SESSION_KEY = "_csrf_secret"
#: ``extra=`` keys of a route: never checked; checked even without a session.
EXEMPT = "csrf_exempt"
REQUIRED = "csrf_required"

_SECRET_BYTES = 32
_TOKEN_LENGTH = len(base64.urlsafe_b64encode(bytes(2 * _SECRET_BYTES)).rstrip(b"="))
_TOKEN_CHARS = re.compile(rb"[A-Za-z0-9_-]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True, kw_only=True)
class CSRFConfig:
    """Where the CSRF token travels: ``Auth(csrf=CSRFConfig(...))``.

    The origins other than the request's own that may post are the
    ``csrf_trusted_origins`` setting (it differs per deployment).

    Args:
        header_name: The request header that carries the token (htmx, ``fetch``).
        field_name: The form field that carries it (``csrf_input()`` writes it).

    Raises:
        ConfigurationError: A name that cannot be a header or a form field name.

    Example:
        >>> from carboy.auth import Auth, CSRFConfig
        >>> auth = Auth(csrf=CSRFConfig(header_name="X-XSRF-Token"))
    """

    header_name: str = "X-CSRF-Token"
    field_name: str = "csrf_token"

    def __post_init__(self) -> None:
        if not isinstance(self.header_name, str) or not _HEADER_NAME.fullmatch(self.header_name):
            raise ConfigurationError(
                f"CSRFConfig(header_name={self.header_name!r}) is not a header name "
                "(letters, digits and !#$%&'*+-.^_`|~)"
            )
        if not isinstance(self.field_name, str) or not _FIELD_NAME.fullmatch(self.field_name):
            raise ConfigurationError(
                f"CSRFConfig(field_name={self.field_name!r}): a form field name here is "
                "letters, digits, '_', '.' and '-'"
            )


class CSRFFailure(HTTPException):
    """403: the CSRF check refused a request; ``reason`` says why.

    The app answers it as any :class:`~carboy.HTTPException`: an HTML page for
    a browser, JSON for an API client (its ``403.html`` or an
    ``exception_handler(CSRFFailure)`` when it has one).

    Example:
        >>> CSRFFailure("the CSRF token is missing").detail
        'CSRF check failed: the CSRF token is missing.'
    """

    def __init__(self, reason: str) -> None:
        super().__init__(403, f"CSRF check failed: {reason}.")
        self.reason = reason


# -- the token -------------------------------------------------------------------
def _session_of(conn: HTTPConnection) -> Session:
    session = conn.scope.get(SESSION_KEY)
    if not isinstance(session, Session):
        raise ConfigurationError(
            "csrf_token() needs the sessions of carboy.auth (the token's secret lives in the "
            "session): install carboy.auth.Auth"
        )
    return session


def _secret(session: Session) -> bytes | None:
    value = session.get(SECRET_SESSION_KEY)
    if not isinstance(value, str):
        return None
    try:
        secret = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return secret if len(secret) == _SECRET_BYTES else None


def csrf_token(conn: HTTPConnection) -> str:
    """A CSRF token for this request's session, masked afresh on every call.

    Send it back in the ``X-CSRF-Token`` header or the ``csrf_token`` form
    field of an unsafe request. The session's secret is made the first time
    (the session is then saved, and its cookie set). In templates the same is
    ``csrf_token()``, and ``csrf_input()`` writes the hidden form field.

    Raises:
        ConfigurationError: The request has no carboy.auth session.

    Example:
        >>> @app.get("/api/csrf")
        ... async def token(request: Request) -> dict[str, str]:
        ...     return {"token": csrf_token(request)}
    """
    session = _session_of(conn)
    secret = _secret(session)
    if secret is None:
        secret = secrets.token_bytes(_SECRET_BYTES)
        session[SECRET_SESSION_KEY] = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
    mask = secrets.token_bytes(_SECRET_BYTES)
    masked = bytes(a ^ b for a, b in zip(mask, secret, strict=True))
    return base64.urlsafe_b64encode(mask + masked).rstrip(b"=").decode()


def csrf_input(conn: HTTPConnection, field_name: str = "csrf_token") -> Markup:
    """The hidden form field with a fresh token: ``{{ csrf_input() }}`` inside a ``<form>``.

    Example:
        >>> csrf_input(request)  # doctest: +SKIP
        Markup('<input type="hidden" name="csrf_token" value="...">')
    """
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        escape(field_name), escape(csrf_token(conn))
    )


def rotate_csrf_token(conn: HTTPConnection) -> None:
    """Forget the session's CSRF secret: tokens made before stop working.

    :func:`~carboy.auth.login` calls it, so a token an attacker saw or planted
    before sign-in is worth nothing after.
    """
    session = conn.scope.get(SESSION_KEY)
    if isinstance(session, Session):
        session.pop(SECRET_SESSION_KEY, None)


def token_matches(token: str, session: Session) -> bool:
    """Whether ``token`` is a masked form of the session's secret (constant time)."""
    secret = _secret(session)
    raw = token.encode("ascii", "replace")
    if secret is None or len(raw) != _TOKEN_LENGTH or not _TOKEN_CHARS.fullmatch(raw):
        return False
    try:
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return False
    mask, masked = decoded[:_SECRET_BYTES], decoded[_SECRET_BYTES:]
    unmasked = bytes(a ^ b for a, b in zip(mask, masked, strict=True))
    return hmac.compare_digest(unmasked, secret)


# -- where the request comes from ----------------------------------------------
def origin_problem(scope: Scope, trusted: TrustedOrigins) -> str | None:
    """Why the request's ``Origin`` / ``Sec-Fetch-Site`` / ``Referer`` refuse it, or None.

    Sans-IO: reads the scope's headers only.
    """
    origins: list[bytes] = []
    fetch_site = referer = host = None
    for key, value in scope["headers"]:
        if key == b"origin":
            origins.append(value)
        elif key == b"sec-fetch-site":
            fetch_site = value.decode("latin-1").strip().lower()
        elif key == b"referer":
            referer = value.decode("latin-1")
        elif key == b"host" and host is None:
            host = value.decode("latin-1")
    scheme = "https" if scope.get("scheme") == "https" else "http"
    server = scope.get("server")
    if host is None and server and server[1] is not None:
        host = f"{server[0]}:{server[1]}"  # no Host header (HTTP/2 servers may give none)
    own = parse_origin(f"{scheme}://{host}") if host else None
    if len(origins) > 1:
        return "the request has more than one Origin header"
    origin = origins[0].decode("latin-1").strip() if origins else None
    if origin is not None:
        if origin.lower() == "null":
            if fetch_site == "same-origin":
                # A page of this site under Referrer-Policy: no-referrer (the token pages
                # of the auth battery): browsers then post "null" as the Origin, and say
                # where the request comes from in Sec-Fetch-Site, which no page can set.
                return None
            return (
                "the request comes from an opaque origin (Origin: null: a sandboxed frame, "
                "a local file or a cross-site redirect)"
            )
        parsed = parse_origin(origin)
        if parsed is None:
            return f"its Origin header {origin[:100]!r} is malformed"
        if trusted.match(parsed):
            return None  # trusted on purpose, even when the browser calls it cross-site
        if fetch_site == "cross-site":
            return "the browser sent it from another site (Sec-Fetch-Site: cross-site)"
        if parsed != own:
            return (
                f"it comes from {parsed}, which is not this site ({own or 'no Host'}) nor in "
                "csrf_trusted_origins (behind a proxy? see the trusted_proxies setting)"
            )
        return None
    if fetch_site == "cross-site":
        return "the browser sent it from another site (Sec-Fetch-Site: cross-site)"
    if fetch_site == "same-origin" or scheme != "https":
        # Plain HTTP without an Origin: not a browser, or a very old one. The token decides.
        return None
    # HTTPS and no Origin (an old browser): the Referer must be this site's, over HTTPS.
    if referer is None:
        return "an HTTPS request without an Origin header must have a Referer of this site"
    try:
        parts = urlsplit(referer.strip())
    except ValueError:
        return "its Referer is malformed"
    if parts.scheme != "https":
        return "its Referer is not an HTTPS page, while the request is over HTTPS"
    page = parse_origin(f"https://{parts.netloc}") if parts.netloc else None
    if page is None:
        return "its Referer is malformed"
    if page != own and not trusted.match(page):
        return f"its Referer is a page of {page}, which is not this site ({own or 'no Host'})"
    return None


# -- the check -------------------------------------------------------------------
class CSRFMiddleware:
    """The CSRF check around one route: what :class:`~carboy.auth.Auth` wraps unsafe routes in.

    Safe methods pass untouched. An unsafe request that has something to
    forge (see the module's docs) must pass the origin check and carry the
    session's token; otherwise it is answered with a 403 (:class:`CSRFFailure`)
    before the handler runs, and logged on ``carboy.security``.

    Args:
        app: The route's endpoint.
        config: Where the token travels.
        trusted_origins: Origins besides the request's own (``csrf_trusted_origins``).
        required: Check requests without a session too (``csrf_required`` routes).

    Example:
        >>> wrapped = CSRFMiddleware(endpoint, config=CSRFConfig(), trusted_origins=[])
    """

    __slots__ = ("_header", "_trusted", "app", "config", "required")

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: CSRFConfig,
        trusted_origins: Sequence[str] | TrustedOrigins = (),
        required: bool = False,
    ) -> None:
        self.app = app
        self.config = config
        self.required = required
        self._trusted = (
            trusted_origins
            if isinstance(trusted_origins, TrustedOrigins)
            else TrustedOrigins(trusted_origins, where="csrf_trusted_origins")
        )
        self._header = config.header_name.lower().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check an unsafe request, then run the route."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if not self._applies(request):
            await self.app(scope, receive, send)
            return
        try:
            await self._check(request)
            await self.app(scope, receive, send)
        finally:
            await request.close()  # uploads of a form read here, if the handler never did

    def _applies(self, request: Request) -> bool:
        if request.auth.explicit:
            return False  # a header a cross-site page cannot make the browser send
        session = request.scope.get(SESSION_KEY)
        # ``created`` is set when the request brought a live stored session.
        live = isinstance(session, Session) and session.created is not None
        return live or self.required or request.user.is_authenticated

    async def _check(self, request: Request) -> None:
        scope = request.scope
        problem = origin_problem(scope, self._trusted)
        if problem is None:
            problem = await self._token_problem(request)
        if problem is None:
            return
        headers = scope["headers"]
        logger.warning(
            "CSRF check refused %s %.200s: %s (Origin %.100r, Sec-Fetch-Site %.30r)",
            scope["method"],
            scope.get("path", ""),
            problem,
            _header(headers, b"origin"),
            _header(headers, b"sec-fetch-site"),
        )
        raise CSRFFailure(problem)

    async def _token_problem(self, request: Request) -> str | None:
        session = request.scope.get(SESSION_KEY)
        if not isinstance(session, Session) or _secret(session) is None:
            return (
                "this session has no CSRF token (the page was not made by this site, or "
                "the session ended): reload the page and send the form again"
            )
        token = _header(request.scope["headers"], self._header)
        if token is None and request.content_type in _FORM_TYPES:
            # The core's form parsing, within the app's limits; the handler gets the
            # same parsed form (it is kept with the request), not a second parse.
            value = (await request.form()).get(self.config.field_name)
            token = value if isinstance(value, str) else None
        if token is None:
            return (
                f"the CSRF token is missing: send it in the {self.config.field_name!r} form "
                f"field (csrf_input() in the form) or the {self.config.header_name} header"
            )
        if not token_matches(token, session):
            return "the CSRF token is incorrect (reload the page and send the form again)"
        return None


def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def route_middleware(
    config: CSRFConfig, trusted: TrustedOrigins, info: RouteInfo
) -> Middleware | None:
    """The CSRF check for one route, or None: safe-only, WebSocket and exempt routes.

    Raises:
        ConfigurationError: A route both ``csrf_exempt`` and ``csrf_required``.
    """
    exempt, required = bool(info.extra.get(EXEMPT)), bool(info.extra.get(REQUIRED))
    if exempt and required:
        raise ConfigurationError(
            f"Route {info.path!r} ({info.source}) has extra csrf_exempt and csrf_required: "
            "choose one"
        )
    if info.websocket or exempt or all(m in SAFE_METHODS for m in info.methods):
        return None
    return Middleware(CSRFMiddleware, config=config, trusted_origins=trusted, required=required)
