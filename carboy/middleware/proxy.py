"""Take the client, scheme and host from a trusted proxy's forwarding headers.

Behind a load balancer or reverse proxy, the ASGI server sees the proxy as
the client, and plain HTTP when the proxy terminated TLS. The proxy says
what it saw in ``Forwarded`` (RFC 7239) or ``X-Forwarded-For``,
``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Anyone can send those
headers, so they are read only from peers listed as trusted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from carboy.exceptions import ConfigurationError
from carboy.middleware.hosts import _parse_host
from carboy.types import ASGIApp, Receive, Scope, Send

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# One ``name=value`` pair of a Forwarded element, the value a token or a quoted string,
# followed by the separator: ';' (next pair), ',' (next element) or the end.
_PAIR = re.compile(
    r"""[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=("(?:[^"\\]|\\.)*"|[^;,"\s]*)[ \t]*([;,]|$)"""
)
_QUOTED_PAIR = re.compile(r"\\(.)")
_SCHEMES = {
    "http": {"http": "http", "https": "https"},
    "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"},
}
# Longer header values are not parsed: no proxy chain is that long.
_MAX_HEADER = 4096
_FORWARDING_HEADERS = frozenset(
    {b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
)


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[_Network, ...]:
    """The networks of a ``trusted_proxies`` list: addresses and CIDR blocks.

    Raises:
        ConfigurationError: An entry is neither an IP address nor a network.

    Example:
        >>> parse_trusted_proxies(["10.0.0.0/8", "::1"])
        (IPv4Network('10.0.0.0/8'), IPv6Network('::1/128'))
    """
    if isinstance(entries, str | bytes):
        raise ConfigurationError(
            f"trusted_proxies must be a list of addresses, not a single string: write [{entries!r}]"
        )
    networks: list[_Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ConfigurationError(
                f"trusted_proxies entry {entry!r} is not an IP address or network "
                "(write '10.0.0.5', '10.0.0.0/8' or '::1'; host names are not resolved)"
            ) from None
    return tuple(networks)


def _node_address(node: str) -> _Address | None:
    """The IP address of a forwarded node (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``)."""
    text = node.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """The elements of a ``Forwarded`` value, each a dict of its pairs; None if malformed."""
    elements: list[dict[str, str]] = [{}]
    pos = 0
    while pos < len(value):
        match = _PAIR.match(value, pos)
        if match is None or match.end() == pos:
            return None
        name, raw, separator = match.groups()
        if raw.startswith('"'):
            raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
        elements[-1][name.lower()] = raw
        pos = match.end()
        if separator == ",":
            elements.append({})
        elif not separator:
            break
    return elements


class ProxyHeadersMiddleware:
    """Trust ``Forwarded`` / ``X-Forwarded-*`` headers from the listed proxies only.

    When the connection's peer (``scope["client"]``) is one of
    ``trusted_proxies``, the request's client address, scheme and ``Host``
    are rewritten from what the proxy forwarded, so ``request.client``,
    ``request.url``, ``request.is_secure``, HSTS, ``Secure`` cookies, the
    Host check and the HTTPS redirect all see the original request. From any
    other peer the headers are ignored. ``Forwarded`` (RFC 7239) wins over
    ``X-Forwarded-*`` when both are present.

    The client is found by walking the chain from the right (the hop the
    nearest proxy added) and skipping trusted proxies, so a client cannot
    pose as another address by sending its own ``X-Forwarded-For``. A
    ``proto`` other than ``http``/``https``, or a malformed host, is ignored.

    carboy applies this itself, before everything else, when
    ``Settings.trusted_proxies`` is set; use the middleware to wrap another app.

    Args:
        app: The ASGI app to wrap.
        trusted_proxies: Addresses and networks of the proxies (``"10.0.0.0/8"``).

    Example:
        >>> async def app(scope, receive, send): ...
        >>> app = ProxyHeadersMiddleware(app, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    """

    __slots__ = ("_known", "_networks", "app")

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self._networks = parse_trusted_proxies(trusted_proxies)
        # Peers already classified; bounded, so a flood of addresses cannot grow it.
        self._known: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the scope of a request from a trusted proxy, then run the app."""
        self.apply(scope)
        await self.app(scope, receive, send)

    def is_trusted(self, host: str) -> bool:
        """Whether the peer address ``host`` is one of the trusted proxies.

        Example:
            >>> async def app(scope, receive, send): ...
            >>> ProxyHeadersMiddleware(app, trusted_proxies=["10.0.0.0/8"]).is_trusted("10.1.2.3")
            True
        """
        known = self._known.get(host)
        if known is None:
            address = _node_address(host)
            known = address is not None and any(address in net for net in self._networks)
            if len(self._known) < 1024:
                self._known[host] = known
        return known

    def apply(self, scope: Scope) -> None:
        """Rewrite ``scope`` in place if it is an HTTP or WebSocket request from a trusted peer."""
        kind = scope["type"]
        client = scope.get("client")
        if kind not in _SCHEMES or not client or not self.is_trusted(str(client[0])):
            return
        found: dict[bytes, list[bytes]] = {}
        for key, value in scope["headers"]:
            if key in _FORWARDING_HEADERS:
                found.setdefault(key, []).append(value)
        if not found:
            return
        values = {key: b", ".join(parts).decode("latin-1") for key, parts in found.items()}
        if any(len(value) > _MAX_HEADER for value in values.values()):
            return
        if b"forwarded" in values:
            hop = self._from_forwarded(values[b"forwarded"])
        else:
            hop = self._from_x_forwarded(values)
        if hop is None:
            return
        node, proto, host = hop
        if node is not None:
            address = _node_address(node)
            if address is not None:
                scope["client"] = (str(address), 0)
            elif node:
                scope["client"] = (node, 0)  # "unknown" or an obfuscated id (RFC 7239 6.3)
        if proto is not None:
            scheme = _SCHEMES[kind].get(proto.strip().lower())
            if scheme is not None:
                scope["scheme"] = scheme
        if host is not None:
            raw = host.strip().encode("latin-1")
            if _parse_host(raw) is not None:
                headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
                headers.append((b"host", raw))
                scope["headers"] = headers

    def _from_forwarded(self, value: str) -> tuple[str | None, str | None, str | None] | None:
        elements = _parse_forwarded(value)
        if not elements:
            return None
        chosen = elements[0]
        for element in reversed(elements):
            chosen = element
            if not self.is_trusted(element.get("for", "")):
                break
        return chosen.get("for"), chosen.get("proto"), chosen.get("host")

    def _from_x_forwarded(
        self, values: dict[bytes, str]
    ) -> tuple[str | None, str | None, str | None]:
        chain = [part.strip() for part in values.get(b"x-forwarded-for", "").split(",")]
        chain = [part for part in chain if part]
        index = 0
        for index in range(len(chain) - 1, -1, -1):
            if not self.is_trusted(chain[index]):
                break
        node = chain[index] if chain else None

        def hop_value(header: bytes) -> str | None:
            if header not in values:
                return None
            parts = [part.strip() for part in values[header].split(",")]
            # One value per hop: take the chosen client's; otherwise the nearest proxy's.
            return parts[index] if len(parts) == len(chain) > 0 else parts[-1]

        return node, hop_value(b"x-forwarded-proto"), hop_value(b"x-forwarded-host")
