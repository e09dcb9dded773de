"""CORS presets for APIs: what an API-only project usually needs from ``CORSMiddleware``.

The core's :class:`~carboy.middleware.CORSMiddleware` does the work (preflights,
``Vary: Origin``, the WebSocket origin check); a preset is the set of options
an API wants: the headers API clients send (``Authorization``, ``If-Match``, the
version and CSRF headers) and those their scripts must read (``ETag``,
``Location``, ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carboy.exceptions import ConfigurationError

#: Request headers API clients send across origins.
API_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "api-version",
    "x-requested-with",
)
#: Response headers an API's clients read.
API_RESPONSE_HEADERS = ("etag", "location", "retry-after", "link", "www-authenticate")


@dataclass(frozen=True)
class CORS:
    """The CORS options of an API; make one with :meth:`public` or :meth:`first_party`.

    ``API(cors=...)`` installs ``CORSMiddleware`` app-wide with them (a preflight
    must be answered before any route matches); ``app.add_middleware(CORSMiddleware,
    **preset.options())`` does the same by hand.

    Example:
        >>> API(prefix="/api", cors=CORS.first_party(["https://app.example.com"]))
    """

    allow_origins: Sequence[str] = ()
    allow_credentials: bool = False
    allow_methods: Sequence[str] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    allow_headers: Sequence[str] = API_REQUEST_HEADERS
    expose_headers: Sequence[str] = API_RESPONSE_HEADERS
    max_age: int = 600

    @classmethod
    def public(cls, *, methods: Sequence[str] = ("GET", "HEAD", "OPTIONS")) -> CORS:
        """Any site's scripts may call the API, without cookies: a public, token-only API.

        Reads only by default; pass ``methods`` for writes (with tokens, never cookies).
        """
        return cls(allow_origins=("*",), allow_methods=tuple(methods))

    @classmethod
    def first_party(cls, origins: Sequence[str], *, csrf_header: str = "X-CSRF-Token") -> CORS:
        """Your own front end on other origins, signed in by the session cookie.

        Credentials are allowed for those origins only (never ``*``), and the
        CSRF header may be sent.
        """
        origins = tuple(origins)
        if not origins or "*" in origins:
            raise ConfigurationError(
                "CORS.first_party(origins): list the front end's origins "
                "('https://app.example.com'); '*' cannot go with cookies"
            )
        return cls(
            allow_origins=origins,
            allow_credentials=True,
            allow_headers=(*API_REQUEST_HEADERS, csrf_header.lower()),
        )

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``CORSMiddleware``."""
        return {
            "allow_origins": list(self.allow_origins),
            "allow_credentials": self.allow_credentials,
            "allow_methods": list(self.allow_methods),
            "allow_headers": list(self.allow_headers),
            "expose_headers": list(self.expose_headers),
            "max_age": self.max_age,
        }
