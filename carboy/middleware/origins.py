"""The ``Origin`` check on WebSocket handshakes (cross-site WebSocket hijacking).

Browsers let any page open a WebSocket to any site and send the site's
cookies with it; unlike ``fetch``, no CORS preflight stops it. The only
defence is the ``Origin`` header the browser sets on the handshake.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from carboy.exceptions import ConfigurationError
from carboy.middleware.hosts import _HostPatterns, _parse_host
from carboy.types import ASGIApp, Receive, Scope, Send

_logger = logging.getLogger("carboy.security")

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _normalise_origin(value: str) -> tuple[str, str] | None:
    """``(origin, host)`` of an ``Origin`` value, lower-cased, default port dropped.

    (``"https://Example.com:443"`` gives ``("https://example.com", "example.com")``;
    ``"null"``, paths, user info and malformed hosts give None.)
    """
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep or scheme not in _DEFAULT_PORTS or not rest or "/" in rest or "@" in rest:
        return None
    host = _parse_host(rest.encode("ascii", "replace"))
    if host is None:
        return None
    port = rest.rpartition(":")[2] if not rest.endswith("]") and ":" in rest else ""
    if port == _DEFAULT_PORTS[scheme]:
        port = ""
    return f"{scheme}://{host}" + (f":{port}" if port else ""), host


def parse_origin(value: str) -> str | None:
    """The origin ``value`` names, normalised: lower-cased, the default port dropped.

    None for ``"null"`` (sandboxed pages, ``file://``, some redirects), for a
    value with a path or user info, and for anything malformed.

    Example:
        >>> parse_origin("HTTPS://Example.com:443")
        'https://example.com'
        >>> parse_origin("null") is None
        True
    """
    parsed = _normalise_origin(value)
    return parsed[0] if parsed is not None else None


class TrustedOrigins:
    """Origins a check accepts: full origins, host patterns, or ``"*"`` for any.

    Entries are full origins (``"https://app.example.com"``, the default port
    optional), which must match scheme, host and port; host patterns as in
    ``allowed_hosts`` (``"example.com"``, ``".example.com"`` with its
    subdomains), which match any scheme and port; or ``"*"``.

    Args:
        entries: The origins and patterns.
        where: The option the entries come from, for error messages.

    Raises:
        ConfigurationError: An entry is neither an origin nor a host pattern.

    Example:
        >>> trusted = TrustedOrigins(["https://pay.example.com", ".example.org"])
        >>> trusted.match("https://pay.example.com"), trusted.match("http://a.example.org:8080")
        (True, True)
        >>> trusted.match("https://evil.example")
        False
    """

    __slots__ = ("_any", "_hosts", "_origins")

    def __init__(self, entries: Sequence[str], *, where: str = "allowed_origins") -> None:
        if isinstance(entries, str | bytes):
            raise ConfigurationError(
                f"{where} must be a list, not a single string: write [{entries!r}]"
            )
        entry_name = where.removesuffix("s").replace("_", " ")
        self._any = "*" in entries
        self._origins: set[str] = set()
        patterns: list[str] = []
        for entry in entries:
            if entry == "*":
                continue
            if "://" in entry:
                parsed = _normalise_origin(entry)
                if parsed is None:
                    raise ConfigurationError(
                        f"{entry_name} {entry!r} is not an origin: write "
                        "'https://example.com' (scheme, host and optional port, no path)"
                    )
                self._origins.add(parsed[0])
            else:
                patterns.append(entry)
        self._hosts = _HostPatterns(patterns) if patterns else None

    @property
    def any(self) -> bool:
        """True when every origin is trusted (``"*"``)."""
        return self._any

    def match(self, origin: str) -> bool:
        """Whether the origin ``origin`` (an ``Origin`` header's value) is trusted.

        ``"null"`` and malformed values never are, not even under ``"*"``.
        """
        parsed = _normalise_origin(origin)
        if parsed is None:
            return False
        full, host = parsed
        return (
            self._any
            or full in self._origins
            or (self._hosts is not None and self._hosts.match(host))
        )


class WebSocketOriginMiddleware:
    """Refuse WebSocket handshakes whose ``Origin`` is another site's.

    A handshake passes when it has no ``Origin`` (not a browser), when its
    origin is the page's own (``Origin`` host equals the ``Host`` header's),
    or when it matches ``allowed_origins``: full origins
    (``"https://app.example.com"``, default port optional), host patterns as in
    ``allowed_hosts`` (``"example.com"``, ``".example.com"``), or ``"*"`` for any.
    Refused handshakes get HTTP 403 (or, on a server without the ASGI denial
    extension, a close before accepting, which the client also sees as 403)
    and a warning on the ``carboy.security`` logger. HTTP requests pass
    untouched. A carboy app in production runs this check itself, with the
    ``websocket_allowed_origins`` setting (by default its ``allowed_hosts``).

    Args:
        app: The ASGI app to protect.
        allowed_origins: Origins or host patterns allowed besides the page's own.

    Raises:
        ConfigurationError: an entry is neither an origin nor a host pattern.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = WebSocketOriginMiddleware(app, allowed_origins=["https://example.com"])
    """

    __slots__ = ("_trusted", "app")

    def __init__(self, app: ASGIApp, *, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self._trusted = TrustedOrigins(allowed_origins, where="allowed_origins")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass allowed handshakes (and everything else) on; refuse the others."""
        if scope["type"] != "websocket" or self.allows(scope):
            await self.app(scope, receive, send)
            return
        await self.reject(scope, receive, send)

    def allows(self, scope: Scope) -> bool:
        """Whether the handshake's ``Origin`` is absent, the page's own or allowed."""
        origin: bytes | None = None
        host: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"origin":
                if origin is not None:
                    return False
                origin = value
            elif key == b"host":
                host = value
        if origin is None or self._trusted.any:
            return True
        try:
            parsed = _normalise_origin(origin.decode("ascii"))
        except UnicodeDecodeError:
            return False
        if parsed is None:  # "null" (sandboxed pages, file://) and anything malformed
            return False
        if self._trusted.match(parsed[0]):
            return True
        return host is not None and _parse_host(host) == parsed[1]

    async def reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a handshake :meth:`allows` refused: HTTP 403, logged."""
        origins = [value for key, value in scope["headers"] if key == b"origin"]
        _logger.warning(
            "Refused WebSocket handshake to %.200r from Origin %.100r",
            scope.get("path", ""),
            origins[0] if len(origins) == 1 else origins,
        )
        if "websocket.http.response" in scope.get("extensions", {}):
            body = b"Origin not allowed"
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "Origin not allowed"})
