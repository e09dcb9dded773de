"""Answer only requests whose ``Host`` header names one of the site's domains.

A forged ``Host`` header is how password-reset links get pointed at an
attacker's site and how caches get poisoned; checking it against a list of
the site's names closes that door (Django's ``ALLOWED_HOSTS``).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence

from carboy.exceptions import ConfigurationError
from carboy.middleware._errors import ErrorReply
from carboy.types import ASGIApp, Receive, Scope, Send

_logger = logging.getLogger("carboy.security")

# A registered name or IPv4 address, already lower-cased; an optional final
# dot is the fully-qualified form of the same name.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
# Longest name DNS allows, plus brackets/port slack; longer values are rejected unread.
_MAX_HOST_LENGTH = 300
# How many distinct good Host values are remembered, to skip parsing them again.
_CACHE_SIZE = 64


def _parse_host(value: bytes) -> str | None:
    """The host of a ``Host`` header value, normalised; ``None`` if malformed.

    Lower-cased, without the port or a final dot; IPv6 literals stay in
    brackets in their shortest form (``[::1]``).
    """
    if len(value) > _MAX_HOST_LENGTH:
        return None
    try:
        text = value.decode("ascii").lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]")
        literal = text[1:end]
        if end == -1 or "%" in literal:  # zone ids only make sense on the client's machine
            return None
        try:
            host = f"[{ipaddress.IPv6Address(literal).compressed}]"
        except ValueError:
            return None
        rest = text[end + 1 :]
    else:
        name, colon, port = text.partition(":")
        if _HOST_NAME.fullmatch(name) is None:
            return None
        host = name.removesuffix(".")
        rest = colon + port
    port = rest[1:]
    # A port is 1-65535 (RFC 9110 names no 0, and nothing above 16 bits).
    port_ok = port.isascii() and port.isdigit() and 1 <= int(port or "0") <= 65535
    if rest and not (rest[0] == ":" and 2 <= len(rest) <= 6 and port_ok):
        return None
    return host


def _pattern_host(text: str) -> str | None:
    """The normalised host an allowed-hosts pattern names, or ``None``."""
    if "*" in text or not text.isascii():
        return None
    if ":" in text and not text.startswith("["):
        try:  # a bare IPv6 address, written without brackets
            return f"[{ipaddress.IPv6Address(text).compressed}]"
        except ValueError:
            return None  # a name with a port
    if text.startswith("[") and not text.endswith("]"):
        return None  # an IPv6 literal with a port
    return _parse_host(text.encode("ascii"))


def _pattern_hint(text: str) -> str:
    """Why a pattern was refused, when a likely slip explains it."""
    if "*" in text:
        domain = text.lstrip("*.")
        return f" (for {domain} and all its subdomains write {'.' + domain!r})"
    if not text.isascii():
        return " (write internationalised names in their ASCII form, 'xn--...')"
    if ":" in text:
        return " (ports are not part of a host pattern)"
    return ""


class _HostPatterns:
    """Allowed-host patterns compiled for lookups that do not loop over the patterns."""

    __slots__ = ("any", "domains", "exact")

    def __init__(self, patterns: Iterable[str]) -> None:
        if isinstance(patterns, str | bytes):
            raise ConfigurationError(
                f"allowed_hosts must be a list of host names, not a single string: "
                f"write [{patterns!r}]"
            )
        self.any = False
        self.exact: set[str] = set()
        self.domains: set[str] = set()
        for pattern in patterns:
            self._add(pattern)
        if not (self.any or self.exact or self.domains):
            raise ConfigurationError(
                "allowed_hosts is empty, so every request would get 400 Invalid Host header; "
                "list the site's names, e.g. ['example.com', '.example.com'], or '*' for any"
            )

    def _add(self, pattern: object) -> None:
        if not isinstance(pattern, str):
            raise ConfigurationError(f"allowed_hosts entries must be strings, got {pattern!r}")
        text = pattern.strip().lower()
        if text == "*":
            self.any = True
            return
        subdomains = text.startswith(".")
        body = text[1:] if subdomains else text
        host = _pattern_host(body)
        if subdomains and host is not None and host.startswith("["):
            raise ConfigurationError(
                f"allowed_hosts entry {pattern!r}: an IP address has no subdomains, "
                "drop the leading dot"
            )
        if host is None:
            raise ConfigurationError(
                f"allowed_hosts entry {pattern!r} is not a host name{_pattern_hint(body)}"
            )
        (self.domains if subdomains else self.exact).add(host)

    def match(self, host: str) -> bool:
        """Whether the normalised ``host`` is allowed."""
        if self.any or host in self.exact:
            return True
        domains = self.domains
        if not domains:
            return False
        if host in domains:
            return True
        # Try each parent domain: a.b.example.com -> b.example.com -> example.com.
        dot = host.find(".")
        while dot != -1:
            if host[dot + 1 :] in domains:
                return True
            dot = host.find(".", dot + 1)
        return False


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether a ``Host`` header value matches one of ``patterns``.

    Patterns work as Django's ``ALLOWED_HOSTS``: ``"example.com"`` matches
    that name only, ``".example.com"`` the domain and all its subdomains,
    ``"*"`` any well-formed host. The port is ignored, case does not
    matter, and IPv6 literals are written in brackets (``"[::1]"``). A
    malformed value (spaces, ``@``, non-ASCII, a bad port...) never matches.

    Args:
        host: The header value, e.g. ``"shop.example.com:8443"``.
        patterns: The allowed host patterns.

    Raises:
        ConfigurationError: A pattern is not a host name (or has a port).

    Example:
        >>> host_allowed("Shop.Example.com:8443", [".example.com"])
        True
        >>> host_allowed("example.com@evil.com", ["*"])
        False
    """
    compiled = _HostPatterns(patterns)
    try:
        raw = host.encode("ascii")
    except UnicodeEncodeError:
        return False
    parsed = _parse_host(raw)
    return parsed is not None and compiled.match(parsed)


class TrustedHostMiddleware:
    """Reject requests whose ``Host`` header is missing, malformed or not allowed.

    Such HTTP requests get ``400 Invalid Host header`` without reaching the
    app; such WebSocket connections are closed before they are accepted
    (the client sees HTTP 403). See :func:`host_allowed` for the patterns.

    Args:
        app: The ASGI app to protect.
        allowed_hosts: Host patterns: ``"example.com"``, ``".example.com"``, ``"*"``.

    Raises:
        ConfigurationError: ``allowed_hosts`` is empty or has an entry that is not a host name.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = TrustedHostMiddleware(app, allowed_hosts=["example.com", ".example.org"])
    """

    __slots__ = ("_good", "_patterns", "_reply", "app")

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self._patterns = _HostPatterns(allowed_hosts)
        self._reply = ErrorReply(400, "Invalid Host header")
        # Host values already found good: most sites see a handful, so the
        # common request costs one set lookup. Bounded, so forged names
        # cannot grow it.
        self._good: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass allowed requests on to the app; answer the others with 400."""
        kind = scope["type"]
        if (kind != "http" and kind != "websocket") or self.allows(scope):
            await self.app(scope, receive, send)
            return
        await self.reject(scope, receive, send)

    def allows(self, scope: Scope) -> bool:
        """Whether the request has exactly one ``Host`` header, and it is allowed.

        A host found good once is remembered (up to 64 of them), so the
        common request costs one pass over its headers and one set lookup.
        A carboy app with no other middleware calls this from its dispatcher
        instead of adding a layer.
        """
        host: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"host":
                if host is not None:  # two Host headers: RFC 9112 says 400
                    return False
                host = value
        return host is not None and (host in self._good or self._check(host))

    def allows_value(self, host: bytes) -> bool:
        """Whether one ``Host`` header value is allowed: :meth:`allows` for a caller
        that holds the request's only ``Host`` value rather than an ASGI scope (RSGI)."""
        return host in self._good or self._check(host)

    async def reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request :meth:`allows` refused: 400, or close the WebSocket (HTTP 403)."""
        hosts = [value for key, value in scope["headers"] if key == b"host"]
        _logger.warning(
            "Rejected %s request with Host header %.100r",
            scope["type"],
            hosts[0] if len(hosts) == 1 else hosts or None,
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Invalid Host header"})
        else:
            await self._reply(scope, receive, send)

    def _check(self, host: bytes) -> bool:
        parsed = _parse_host(host)
        if parsed is None or not self._patterns.match(parsed):
            return False
        if len(self._good) < _CACHE_SIZE:
            self._good.add(host)
        return True
