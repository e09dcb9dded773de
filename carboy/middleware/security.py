"""The security headers carboy sends on every response, and a middleware for mounted apps.

carboy itself does not wrap ``send`` for these: the app encodes
:class:`SecurityHeaders` once per scheme at start-up and appends the list to
every response start. :class:`SecurityHeadersMiddleware` is for foreign ASGI
apps mounted inside carboy, which do not go through carboy's responses.
"""

from __future__ import annotations

from dataclasses import dataclass

from carboy.connections import CSP_NONCE_KEY, make_csp_nonce
from carboy.exceptions import ConfigurationError
from carboy.middleware._headers import check_header_value, copy_response_headers
from carboy.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

_FRAME_OPTIONS = ("DENY", "SAMEORIGIN")
_REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
_OPENER_POLICIES = frozenset(
    {"same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"}
)
# hstspreload.org refuses a domain whose policy is shorter or skips subdomains.
_PRELOAD_MIN_SECONDS = 31536000
#: Where a policy takes each request's nonce: ``script-src 'self' 'nonce-{nonce}'``.
NONCE_PLACEHOLDER = "{nonce}"


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """Which security headers every response carries, and their values.

    The defaults are safe for most sites: no framing (clickjacking), no MIME
    sniffing, a referrer policy that does not leak paths to other sites, an
    isolated browsing context, and a year of HSTS on HTTPS. Set a field to
    ``None`` (or ``False``, or ``hsts_seconds=0``) to leave its header out.
    Bad values raise :class:`~carboy.exceptions.ConfigurationError` when the
    object is built, not when a response is sent.

    Attributes:
        frame_options: ``X-Frame-Options``: ``"DENY"``, ``"SAMEORIGIN"`` or ``None``.
        content_type_options: Send ``X-Content-Type-Options: nosniff``.
        referrer_policy: ``Referrer-Policy`` (one policy, or a comma-separated fallback list).
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy``.
        hsts_seconds: ``Strict-Transport-Security`` max-age; sent on HTTPS only; 0 turns it off.
        hsts_include_subdomains: Add ``includeSubDomains`` to HSTS.
        hsts_preload: Add ``preload`` to HSTS (needs subdomains and at least a year).
        content_security_policy: ``Content-Security-Policy``, e.g. ``"default-src 'self'"``.
            Write ``'nonce-{nonce}'`` in it for a nonce made fresh for each request
            (``request.csp_nonce``, ``csp_nonce()`` in templates): the header is then
            made per request, the rest stays encoded once.
        csp_report_only: Send the policy as ``Content-Security-Policy-Report-Only`` instead.
        permissions_policy: ``Permissions-Policy``, e.g. ``"geolocation=(), camera=()"``.

    Example:
        >>> headers = SecurityHeaders(
        ...     frame_options="SAMEORIGIN", content_security_policy="default-src 'self'"
        ... )
        >>> headers.encode(https=False)[0]
        (b'x-frame-options', b'SAMEORIGIN')
        >>> strict = SecurityHeaders(content_security_policy="script-src 'nonce-{nonce}'")
        >>> strict.csp_header("rAnd0m")
        (b'content-security-policy', b"script-src 'nonce-rAnd0m'")
    """

    frame_options: str | None = "DENY"
    content_type_options: bool = True
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    cross_origin_opener_policy: str | None = "same-origin"
    hsts_seconds: int = 31536000
    hsts_include_subdomains: bool = True
    hsts_preload: bool = False
    content_security_policy: str | None = None
    csp_report_only: bool = False
    permissions_policy: str | None = None

    def __post_init__(self) -> None:
        for flag in (
            "content_type_options",
            "hsts_include_subdomains",
            "hsts_preload",
            "csp_report_only",
        ):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigurationError(
                    f"SecurityHeaders.{flag} must be True or False, got {getattr(self, flag)!r}"
                )
        if self.frame_options is not None:
            value = check_header_value("SecurityHeaders.frame_options", self.frame_options)
            if value.upper() not in _FRAME_OPTIONS:
                raise ConfigurationError(
                    "SecurityHeaders.frame_options must be 'DENY', 'SAMEORIGIN' or None, "
                    f"got {self.frame_options!r} (ALLOW-FROM is obsolete: use "
                    'content_security_policy="frame-ancestors ...")'
                )
            object.__setattr__(self, "frame_options", value.upper())
        if self.referrer_policy is not None:
            value = check_header_value("SecurityHeaders.referrer_policy", self.referrer_policy)
            policies = [part.strip().lower() for part in value.split(",")]
            unknown = [part for part in policies if part not in _REFERRER_POLICIES]
            if unknown:
                raise ConfigurationError(
                    f"SecurityHeaders.referrer_policy has unknown policy {unknown[0]!r}; "
                    f"choose from {', '.join(sorted(_REFERRER_POLICIES))}"
                )
            object.__setattr__(self, "referrer_policy", ", ".join(policies))
        if self.cross_origin_opener_policy is not None:
            value = check_header_value(
                "SecurityHeaders.cross_origin_opener_policy", self.cross_origin_opener_policy
            ).lower()
            if value not in _OPENER_POLICIES:
                raise ConfigurationError(
                    "SecurityHeaders.cross_origin_opener_policy must be one of "
                    f"{', '.join(sorted(_OPENER_POLICIES))} or None, "
                    f"got {self.cross_origin_opener_policy!r}"
                )
            object.__setattr__(self, "cross_origin_opener_policy", value)
        self._check_hsts()
        for field in ("content_security_policy", "permissions_policy"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(
                    self, field, check_header_value(f"SecurityHeaders.{field}", value)
                )
        if self.content_security_policy is not None:
            _check_placeholders(self.content_security_policy)
        if self.csp_report_only and self.content_security_policy is None:
            raise ConfigurationError(
                "SecurityHeaders.csp_report_only=True needs a content_security_policy to report on"
            )

    def _check_hsts(self) -> None:
        seconds = self.hsts_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ConfigurationError(
                f"SecurityHeaders.hsts_seconds must be a whole number of seconds >= 0 "
                f"(0 turns HSTS off), got {seconds!r}"
            )
        if self.hsts_preload and (
            seconds < _PRELOAD_MIN_SECONDS or not self.hsts_include_subdomains
        ):
            raise ConfigurationError(
                "SecurityHeaders.hsts_preload=True needs hsts_include_subdomains=True and "
                f"hsts_seconds >= {_PRELOAD_MIN_SECONDS} (one year): browsers' preload "
                "lists accept nothing less"
            )

    @property
    def uses_nonce(self) -> bool:
        """True when the policy takes a nonce per request (``'nonce-{nonce}'``)."""
        policy = self.content_security_policy
        return policy is not None and NONCE_PLACEHOLDER in policy

    def csp_header(self, nonce: str) -> tuple[bytes, bytes]:
        """The ``Content-Security-Policy`` header of a nonce policy, with ``nonce`` in it.

        Raises:
            ConfigurationError: The policy takes no nonce (it is in :meth:`encode`).

        Example:
            >>> policy = SecurityHeaders(content_security_policy="script-src 'nonce-{nonce}'")
            >>> policy.csp_header("abc")[1]
            b"script-src 'nonce-abc'"
        """
        policy = self.content_security_policy
        if policy is None or NONCE_PLACEHOLDER not in policy:
            raise ConfigurationError(
                "SecurityHeaders.csp_header(): the content_security_policy takes no nonce "
                "(write 'nonce-{nonce}' in it); its header is in encode()"
            )
        name = (
            b"content-security-policy-report-only"
            if self.csp_report_only
            else b"content-security-policy"
        )
        return name, policy.replace(NONCE_PLACEHOLDER, nonce).encode("ascii")

    def encode(self, https: bool) -> RawHeaders:
        """The headers as a new ASGI list of ``(name, value)`` byte pairs.

        ``Strict-Transport-Security`` is only in the HTTPS list: browsers
        ignore it over plain HTTP, and sending it there suggests HTTPS is set
        up when it may not be. A policy that takes a nonce is left out: its
        header differs per request (:meth:`csp_header`).

        Args:
            https: Whether the list is for responses sent over HTTPS.

        Example:
            >>> SecurityHeaders(hsts_seconds=60).encode(https=True)[-1]
            (b'strict-transport-security', b'max-age=60; includeSubDomains')
        """
        headers: RawHeaders = []
        if self.frame_options is not None:
            headers.append((b"x-frame-options", self.frame_options.encode("ascii")))
        if self.content_type_options:
            headers.append((b"x-content-type-options", b"nosniff"))
        if self.referrer_policy is not None:
            headers.append((b"referrer-policy", self.referrer_policy.encode("ascii")))
        if self.cross_origin_opener_policy is not None:
            headers.append(
                (b"cross-origin-opener-policy", self.cross_origin_opener_policy.encode("ascii"))
            )
        if self.content_security_policy is not None and not self.uses_nonce:
            name = (
                b"content-security-policy-report-only"
                if self.csp_report_only
                else b"content-security-policy"
            )
            headers.append((name, self.content_security_policy.encode("ascii")))
        if self.permissions_policy is not None:
            headers.append((b"permissions-policy", self.permissions_policy.encode("ascii")))
        if https and self.hsts_seconds:
            value = f"max-age={self.hsts_seconds}"
            if self.hsts_include_subdomains:
                value += "; includeSubDomains"
            if self.hsts_preload:
                value += "; preload"
            headers.append((b"strict-transport-security", value.encode("ascii")))
        return headers


def _check_placeholders(policy: str) -> None:
    """A policy's only placeholder is ``{nonce}``, and only as ``'nonce-{nonce}'``."""
    if "{" not in policy and "}" not in policy:
        return
    rest = policy.replace(f"'nonce-{NONCE_PLACEHOLDER}'", "")
    if NONCE_PLACEHOLDER in rest:
        raise ConfigurationError(
            "SecurityHeaders.content_security_policy: write the nonce as 'nonce-{nonce}' "
            f"(a quoted source of script-src or style-src), got {policy!r}"
        )
    if "{" in rest or "}" in rest:
        raise ConfigurationError(
            "SecurityHeaders.content_security_policy: '{nonce}' is the only placeholder "
            f"(in 'nonce-{{nonce}}'); no other braces belong in a policy, got {policy!r}"
        )


_DEFAULT = SecurityHeaders()


class SecurityHeadersMiddleware:
    """Add carboy's security headers to the responses of a foreign ASGI app.

    Headers the app already set are left as they are, never duplicated.
    HSTS is added only to responses sent over HTTPS. A policy with
    ``'nonce-{nonce}'`` gets the request's nonce (``request.csp_nonce``: the
    one carboy's own pages of this request use, else a fresh one).

    Args:
        app: The ASGI app to wrap.
        config: The headers to add; the defaults of :class:`SecurityHeaders` if not given.

    Example:
        >>> async def legacy_app(scope, receive, send): ...
        >>> wrapped = SecurityHeadersMiddleware(
        ...     legacy_app, config=SecurityHeaders(frame_options="SAMEORIGIN")
        ... )
    """

    __slots__ = ("_config", "_http", "_https", "app")

    def __init__(self, app: ASGIApp, *, config: SecurityHeaders = _DEFAULT) -> None:
        if not isinstance(config, SecurityHeaders):
            raise ConfigurationError(
                f"SecurityHeadersMiddleware config must be a SecurityHeaders, got {config!r}"
            )
        self.app = app
        self._http = config.encode(https=False)
        self._https = config.encode(https=True)
        self._config = config if config.uses_nonce else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, adding the missing headers to its response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._https if scope.get("scheme") == "https" else self._http
        if self._config is not None:
            nonce = scope.get(CSP_NONCE_KEY)
            if not isinstance(nonce, str):
                nonce = scope[CSP_NONCE_KEY] = make_csp_nonce()
            extra = [*extra, self._config.csp_header(nonce)]
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = copy_response_headers(message.get("headers", ()))
                present = {key for key, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
