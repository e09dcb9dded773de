"""Cross-origin resource sharing: let chosen sites call the app from the browser.

Browsers block a page's scripts from reading responses from another origin
unless the response says that origin may. This middleware answers the
browser's preflight ``OPTIONS`` requests and adds the ``Access-Control-*``
headers to the other responses, from one configuration checked at start-up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from carboy.exceptions import ConfigurationError
from carboy.middleware._errors import ErrorReply
from carboy.middleware._headers import add_vary, check_names, copy_response_headers, first_header
from carboy.responses import Response
from carboy.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

_logger = logging.getLogger("carboy.security")

# Request headers a browser may always send cross-origin, so always allowed.
_SAFELISTED_HEADERS = ("accept", "accept-language", "content-language", "content-type")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]+")


def _check_origin(origin: str) -> bytes:
    text = origin.lower().removesuffix("/")
    if text != "*" and text != "null" and _ORIGIN.fullmatch(text) is None:
        raise ConfigurationError(
            f"allow_origins entry {origin!r} is not an origin: write scheme, host and "
            "optional port, without a path, e.g. 'https://example.com' or 'http://localhost:8000'"
        )
    return text.encode("ascii")


def _check_tokens(where: str, values: object) -> tuple[str, ...]:
    tokens = check_names(where, values)
    for token in tokens:
        if _TOKEN.fullmatch(token) is None:
            raise ConfigurationError(f"{where} entry {token!r} is not a valid HTTP token")
    return tokens


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers for the allowed origins.

    A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
    is answered here without running the app: 200 with the allowed methods,
    headers and max-age, or 400 ``Disallowed CORS origin`` (``method``,
    ``headers``). Other requests with an ``Origin`` run the app and get the
    ``Access-Control-Allow-*`` headers added when the origin is allowed;
    requests without ``Origin`` pass through untouched. Whenever the answer
    depends on the origin the response says ``Vary: Origin``, so caches keep
    one copy per origin.

    With ``allow_credentials=True`` (cookies, HTTP auth) the browser refuses a
    literal ``*``, so an allowed origin is echoed back instead; the ``null``
    origin (sandboxed frames, ``file:``) is then allowed only if listed.

    WebSocket handshakes are not subject to CORS in browsers, so this
    middleware guards them: a handshake whose ``Origin`` is neither allowed
    nor the app's own host is closed before it is accepted (cross-site
    WebSocket hijacking). Handshakes without ``Origin`` (non-browser clients)
    pass.

    Args:
        app: The ASGI app to wrap.
        allow_origins: Origins allowed, like ``"https://example.com"``; ``"*"`` for any.
        allow_origin_regex: A regular expression a whole origin must match to be allowed.
        allow_methods: Methods allowed in cross-origin requests; ``"*"`` for any.
        allow_headers: Request headers allowed beyond the always-safe ones; ``"*"`` for any.
        allow_credentials: Let browsers send cookies and HTTP authentication.
        expose_headers: Response headers the page's scripts may read.
        max_age: Seconds the browser may cache a preflight answer.

    Raises:
        ConfigurationError: An option is malformed (e.g. an origin with a path).

    Example:
        >>> async def api(scope, receive, send): ...
        >>> api = CORSMiddleware(
        ...     api,
        ...     allow_origins=["https://example.com"],
        ...     allow_methods=["GET", "POST"],
        ...     allow_headers=["Authorization"],
        ...     allow_credentials=True,
        ... )
    """

    __slots__ = (
        "_any_header",
        "_any_method",
        "_any_origin",
        "_bad_headers",
        "_bad_method",
        "_bad_origin",
        "_credentials",
        "_headers",
        "_methods",
        "_origin_regex",
        "_origins",
        "_preflight_headers",
        "_simple_headers",
        "_wildcard",
        "_wildcard_headers",
        "app",
    )

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str] = (),
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        self.app = app
        origins = {_check_origin(origin) for origin in check_names("allow_origins", allow_origins)}
        self._any_origin = b"*" in origins
        self._origins = frozenset(origins - {b"*"})
        try:
            self._origin_regex = (
                re.compile(allow_origin_regex) if allow_origin_regex is not None else None
            )
        except re.error as exc:
            raise ConfigurationError(f"allow_origin_regex does not compile: {exc}") from None
        if not (origins or self._origin_regex):
            raise ConfigurationError(
                "CORSMiddleware allows no origin: give allow_origins (e.g. "
                "['https://example.com']) or allow_origin_regex"
            )
        if not isinstance(allow_credentials, bool):
            raise ConfigurationError(
                f"allow_credentials must be True or False, got {allow_credentials!r}"
            )
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise ConfigurationError(
                f"max_age must be a whole number of seconds >= 0, got {max_age!r}"
            )
        self._credentials = allow_credentials
        # Only "any origin, no credentials" gives every origin the same answer.
        self._wildcard = self._any_origin and not allow_credentials

        methods = [method.upper() for method in _check_tokens("allow_methods", allow_methods)]
        self._any_method = "*" in methods
        self._methods = frozenset(method.encode("ascii") for method in methods)
        headers = [name.lower() for name in _check_tokens("allow_headers", allow_headers)]
        self._any_header = "*" in headers
        self._headers = frozenset(name.encode("ascii") for name in (*headers, *_SAFELISTED_HEADERS))
        exposed = _check_tokens("expose_headers", expose_headers)

        # Everything that does not depend on the request is encoded now.
        common: RawHeaders = []
        if allow_credentials:
            common.append((b"access-control-allow-credentials", b"true"))
        self._simple_headers = list(common)
        if exposed:
            self._simple_headers.append(
                (b"access-control-expose-headers", ", ".join(exposed).encode("ascii"))
            )
        self._wildcard_headers = [(b"access-control-allow-origin", b"*"), *self._simple_headers]
        self._preflight_headers = list(common)
        if not self._any_method:
            self._preflight_headers.append(
                (b"access-control-allow-methods", ", ".join(dict.fromkeys(methods)).encode("ascii"))
            )
        if not self._any_header:
            names = sorted(set(headers) | set(_SAFELISTED_HEADERS))
            self._preflight_headers.append(
                (b"access-control-allow-headers", ", ".join(names).encode("ascii"))
            )
        self._preflight_headers.append((b"access-control-max-age", str(max_age).encode("ascii")))
        vary = {"vary": "Origin"}
        self._bad_origin = ErrorReply(400, "Disallowed CORS origin", vary)
        self._bad_method = ErrorReply(400, "Disallowed CORS method", vary)
        self._bad_headers = ErrorReply(400, "Disallowed CORS headers", vary)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer preflights; run the app for the rest, adding CORS headers."""
        kind = scope["type"]
        if kind == "http":
            origin = first_header(scope["headers"], b"origin")
            if origin is None:
                await self.app(scope, receive, send)
                return
            if scope["method"] == "OPTIONS":
                requested = first_header(scope["headers"], b"access-control-request-method")
                if requested is not None:
                    await self._preflight(scope, receive, send, origin, requested)
                    return
            await self._simple(scope, receive, send, origin)
        elif kind == "websocket" and not self._wildcard:
            origin = first_header(scope["headers"], b"origin")
            if origin is None or self._allowed(origin) or _same_origin(origin, scope):
                await self.app(scope, receive, send)
            else:
                _logger.warning("Refused WebSocket handshake from Origin %.100r (CORS)", origin)
                await send({"type": "websocket.close", "code": 1008, "reason": "Disallowed origin"})
        else:
            await self.app(scope, receive, send)

    def _allowed(self, origin: bytes) -> bool:
        if self._wildcard or origin in self._origins:
            return True
        if self._any_origin and origin != b"null":
            return True
        regex = self._origin_regex
        return regex is not None and regex.fullmatch(origin.decode("latin-1")) is not None

    async def _simple(self, scope: Scope, receive: Receive, send: Send, origin: bytes) -> None:
        if self._wildcard:
            extra = self._wildcard_headers
        elif self._allowed(origin):
            extra = [(b"access-control-allow-origin", origin), *self._simple_headers]
        else:
            extra = []
        vary = not self._wildcard

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = copy_response_headers(message.get("headers", ()))
                if extra:
                    present = {key for key, _ in headers}
                    headers.extend(header for header in extra if header[0] not in present)
                if vary:
                    add_vary(headers, b"Origin")
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: bytes, requested: bytes
    ) -> None:
        if not self._allowed(origin):
            _logger.warning("Refused CORS preflight from Origin %.100r", origin)
            await self._bad_origin(scope, receive, send)
            return
        method = requested.strip().upper()
        if not (self._any_method or method in self._methods):
            _logger.warning("Refused CORS preflight for method %.100r from %.100r", method, origin)
            await self._bad_method(scope, receive, send)
            return
        raw_names = first_header(scope["headers"], b"access-control-request-headers") or b""
        names = [name.strip().lower() for name in raw_names.split(b",") if name.strip()]
        if not self._any_header and any(name not in self._headers for name in names):
            _logger.warning(
                "Refused CORS preflight for headers %.100r from %.100r", raw_names, origin
            )
            await self._bad_headers(scope, receive, send)
            return

        allow_origin = b"*" if self._wildcard else origin
        headers: RawHeaders = [(b"access-control-allow-origin", allow_origin)]
        headers += self._preflight_headers
        vary = [] if self._wildcard else [b"Origin"]
        # "*" is no wildcard for credentialed requests: echo what was asked instead.
        if self._any_method:
            headers.append((b"access-control-allow-methods", method))
            vary.append(b"Access-Control-Request-Method")
        if self._any_header:
            if names:
                headers.append((b"access-control-allow-headers", b", ".join(names)))
            vary.append(b"Access-Control-Request-Headers")
        if vary:
            headers.append((b"vary", b", ".join(vary)))
        response = Response(b"", 200)
        response.raw_headers.extend(headers)
        await response(scope, receive, send)


def _same_origin(origin: bytes, scope: Scope) -> bool:
    """Whether ``origin`` names the host the request was sent to (the app's own page)."""
    host = first_header(scope["headers"], b"host")
    if host is None:
        return False
    scheme, _, netloc = origin.partition(b"://")
    host = host.lower()
    if netloc == host:
        return True
    default_port = b":443" if scheme == b"https" else b":80"
    return host == netloc + default_port
