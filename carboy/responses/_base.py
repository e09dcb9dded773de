"""Response and the simple kinds that hold their whole body in memory."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import quote

from carboy import _json
from carboy.datastructures import MutableHeaders
from carboy.types import ASGIApp, Message, RawHeaders, Receive, Scope, Send

#: Key in the ASGI scope where the app puts its pre-encoded default headers
#: (security headers and the like); every response appends them.
DEFAULT_HEADERS_KEY = "carboy.headers"

#: Scope key set when a response starts, so an error after it is not answered twice.
STARTED_KEY = "carboy.response_started"

SameSite = Literal["lax", "strict", "none"]

# A cookie name is an RFC 6265 token; path and domain must not end the header
# line or add attributes.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_COOKIE_ATTR_BAD = re.compile(r"[\x00-\x1f\x7f;]")


def with_default_headers(raw: RawHeaders, scope: Scope) -> RawHeaders:
    """``raw`` plus the app's default headers, minus any the response set itself."""
    defaults: RawHeaders | None = scope.get(DEFAULT_HEADERS_KEY)
    if not defaults:
        return raw
    names = {k for k, _ in raw}
    return raw + [h for h in defaults if h[0] not in names]


class MountGuard:
    """Wraps a mounted ASGI app: adds the app's default headers its responses lack,
    and notes when a response starts (so a later error is not answered twice)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope[STARTED_KEY] = True
                headers = list(message.get("headers", ()))
                message = {**message, "headers": with_default_headers(headers, scope)}
            await send(message)

        await self.app(scope, receive, guarded_send)


class Response:
    """An HTTP response with its whole body in memory.

    Example:
        >>> Response(b"%PDF...", media_type="application/pdf", headers={"X-A": "1"})
    """

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body = self.render(content)
        self.raw_headers: RawHeaders = []
        self._cookies: list[tuple[str, bool | None]] = []
        self._init_headers(headers)

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into body bytes (subclasses encode JSON, etc.)."""
        if content is None:
            return b""
        if isinstance(content, bytes | bytearray | memoryview):
            return bytes(content)
        return str(content).encode(self.charset)

    def _init_headers(self, headers: Mapping[str, str] | None) -> None:
        raw = self.raw_headers
        if headers:
            raw.extend(
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            )
        names = {k for k, _ in raw}
        if b"content-length" not in names and not (
            self.status_code < 200 or self.status_code in (204, 304)
        ):
            raw.append((b"content-length", str(len(self.body)).encode()))
        if self.media_type is not None and b"content-type" not in names:
            ctype = self.media_type
            if ctype.startswith("text/") and "charset" not in ctype:
                ctype += f"; charset={self.charset}"
            raw.append((b"content-type", ctype.encode("latin-1")))

    @property
    def headers(self) -> MutableHeaders:
        """The response headers; changes write through."""
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: int | None = None,
        expires: datetime | int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Set a cookie, with secure defaults.

        ``httponly`` and ``SameSite=Lax`` are on unless turned off; ``secure``
        left as ``None`` means "Secure when the request came over HTTPS".

        Example:
            >>> response.set_cookie("theme", "dark", max_age=3600)
        """
        if not _COOKIE_NAME.match(key):
            raise ValueError(f"{key!r} is not a valid cookie name (RFC 6265 token characters)")
        for attr, text in (("path", path), ("domain", domain)):
            if text and _COOKIE_ATTR_BAD.search(text):
                raise ValueError(
                    f"Cookie {attr} cannot contain ';' or control characters: {text!r}"
                )
        parts = [f"{key}={quote(value, safe='')}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if expires is not None:
            if isinstance(expires, int):
                from datetime import UTC, timedelta

                expires = datetime.now(UTC) + timedelta(seconds=expires)
            parts.append(f"expires={format_datetime(expires, usegmt=True)}")
        if path:
            parts.append(f"Path={path}")
        if domain:
            parts.append(f"Domain={domain}")
        if httponly:
            parts.append("HttpOnly")
        if samesite is not None:
            if samesite.lower() not in ("lax", "strict", "none"):
                raise ValueError("samesite must be 'lax', 'strict' or 'none'")
            parts.append(f"SameSite={samesite.capitalize()}")
            if samesite.lower() == "none":
                secure = True  # browsers reject SameSite=None without Secure
        if partitioned:
            parts.append("Partitioned")
            secure = True
        self._cookies.append(("; ".join(parts), secure))

    def delete_cookie(
        self,
        key: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool | None = None,
        httponly: bool = True,
        samesite: SameSite | None = "lax",
    ) -> None:
        """Tell the browser to drop a cookie (same path and domain as when set)."""
        self.set_cookie(
            key,
            "",
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    def _final_headers(self, scope: Scope) -> RawHeaders:
        """The headers to send (cookies, app defaults); marks the response as started."""
        scope[STARTED_KEY] = True
        raw = self.raw_headers
        if self._cookies:
            https = scope.get("scheme") in ("https", "wss")
            raw = raw + [
                (b"set-cookie", (c + "; Secure" if (https if s is None else s) else c).encode())
                for c, s in self._cookies
            ]
        return with_default_headers(raw, scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self._final_headers(scope),
            }
        )
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status_code}>"


class HTMLResponse(Response):
    """``text/html; charset=utf-8``."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """``text/plain; charset=utf-8``."""

    media_type = "text/plain"


class JSONResponse(Response):
    """A JSON body from any JSON-able value (dicts, lists, dataclasses, Structs, models).

    Example:
        >>> JSONResponse({"id": 1}, status_code=201)
    """

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as JSON."""
        return _json.dumps(content)


class RedirectResponse(Response):
    """Redirect to ``url`` (302 by default; 303 after a form POST, 307/308 keep the method).

    Example:
        >>> RedirectResponse("/login", status_code=303)
    """

    def __init__(
        self, url: str, status_code: int = 302, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(b"", status_code=status_code, headers=headers)
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")


def status_phrase(code: int) -> str:
    """``404`` -> ``"Not Found"``; unknown codes give ``""``."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""
