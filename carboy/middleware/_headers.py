"""Header helpers the middleware share: lookups, ``Vary`` merging, value checks."""

from __future__ import annotations

from collections.abc import Iterable

from carboy.exceptions import ConfigurationError
from carboy.types import RawHeaders


def first_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of request header ``name`` (lower-case bytes), or ``None``.

    Example:
        >>> first_header([(b"host", b"example.com")], b"host")
        b'example.com'
    """
    for key, value in headers:
        if key == name:
            return value
    return None


def copy_response_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    """A fresh list of an app's response headers, names lower-cased.

    Middleware never edits the app's list in place: an app may send the same
    pre-built list with every response.

    Example:
        >>> copy_response_headers([(b"Content-Type", b"text/plain")])
        [(b'content-type', b'text/plain')]
    """
    return [(key.lower(), value) for key, value in headers]


def add_vary(headers: RawHeaders, token: bytes) -> None:
    """Make ``headers`` say the response varies by ``token``, merging any ``Vary`` there.

    Example:
        >>> headers = [(b"vary", b"Cookie")]
        >>> add_vary(headers, b"Origin")
        >>> headers
        [(b'vary', b'Cookie, Origin')]
    """
    wanted = token.lower()
    for index, (key, value) in enumerate(headers):
        if key == b"vary":
            present = {item.strip().lower() for item in value.split(b",")}
            if wanted not in present and b"*" not in present:
                headers[index] = (key, value + b", " + token if value.strip() else token)
            return
    headers.append((b"vary", token))


def check_header_value(where: str, value: object) -> str:
    """``value`` if it is a non-empty string fit for a header, else a clear error.

    Header values are visible ASCII plus spaces: a line break would let the
    value start a new header (header injection).

    Example:
        >>> check_header_value("SecurityHeaders.referrer_policy", "no-referrer")
        'no-referrer'
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string, got {type(value).__name__}")
    if not all(" " <= char <= "~" or char == "\t" for char in value):
        raise ConfigurationError(
            f"{where} must be printable ASCII without line breaks or control characters, "
            f"got {value!r}"
        )
    text = value.strip(" \t")
    if not text:
        raise ConfigurationError(f"{where} must not be empty (use None to leave it out)")
    return text


def check_names(where: str, values: object) -> tuple[str, ...]:
    """``values`` as a tuple of header-safe strings; rejects a lone string.

    A bare string is a common slip (``allow_origins="https://a.com"``) that
    would otherwise be read one character at a time.

    Example:
        >>> check_names("allow_methods", ["GET", "POST"])
        ('GET', 'POST')
    """
    if isinstance(values, str | bytes):
        raise ConfigurationError(
            f"{where} must be a list of strings, not a single string: write [{values!r}]"
        )
    if not isinstance(values, Iterable):
        raise ConfigurationError(f"{where} must be a list of strings, got {values!r}")
    return tuple(check_header_value(where, value) for value in values)
