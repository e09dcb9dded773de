"""Path converters: ``{id:int}``, ``{key:uuid}``, ``{rest:path}`` and user-defined ones."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class Converter(Protocol):
    """Turns one path segment into a Python value and back.

    ``to_python`` raises ``ValueError`` when the segment does not match, so
    the router tries the next candidate route. ``regex`` describes the same
    language, for segments that mix text and parameters (``{name}.{ext}``).

    Example:
        >>> class YearConverter:
        ...     regex = "[0-9]{4}"
        ...     python_type = int
        ...     def to_python(self, value: str) -> int:
        ...         if len(value) != 4 or not value.isdigit():
        ...             raise ValueError(value)
        ...         return int(value)
        ...     def to_url(self, value: int) -> str:
        ...         return f"{value:04d}"
        >>> app.register_converter("year", YearConverter())
    """

    regex: str
    python_type: Any

    def to_python(self, value: str) -> Any:
        """The value for a matched segment; ``ValueError`` if it does not match."""
        ...

    def to_url(self, value: Any) -> str:
        """The segment for a value (used by ``url_for``)."""
        ...


class StringConverter:
    """Any non-empty segment without ``/`` (the default)."""

    regex = "[^/]+"
    python_type = str
    #: The router skips calling ``to_python`` for converters that accept any segment.
    accepts_any_segment: ClassVar[bool] = True

    def to_python(self, value: str) -> str:
        if not value:
            raise ValueError("empty segment")
        return value

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text or "/" in text:
            raise ValueError(f"{value!r} cannot be a path segment (empty or contains '/')")
        return text


#: The largest value of a signed 64-bit integer (``BIGINT``, SQLite's ``INTEGER``).
INT64_MAX = 2**63 - 1
#: The largest value of a signed 32-bit integer (PostgreSQL's ``integer``).
INT32_MAX = 2**31 - 1


class IntConverter:
    """Non-negative decimal integers of ASCII digits, up to ``max_value``.

    ``{id:int}`` takes 0 to 2**63 - 1 (what a 64-bit database column holds);
    ``{id:int32}`` takes 0 to 2**31 - 1 (PostgreSQL's ``integer``). A segment
    beyond the range does not match the route: 404, never a database error.

    Example:
        >>> IntConverter(max_value=99).to_python("100")
        Traceback (most recent call last):
        ValueError: 100
    """

    regex = "[0-9]+"
    python_type = int

    def __init__(self, max_value: int = INT64_MAX) -> None:
        self.max_value = max_value
        self._max_digits = len(str(max_value))

    def to_python(self, value: str) -> int:
        if not (value.isascii() and value.isdigit()) or len(value) > self._max_digits:
            raise ValueError(value)
        number = int(value)
        if number > self.max_value:
            raise ValueError(value)
        return number

    def to_url(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{value!r} is not a non-negative int")
        if value > self.max_value:
            raise ValueError(f"{value!r} is larger than {self.max_value}")
        return str(value)


class FloatConverter:
    """Non-negative decimal numbers (``3``, ``3.5``)."""

    regex = r"[0-9]+(?:\.[0-9]+)?"
    python_type = float

    _match = re.compile(regex).fullmatch

    def to_python(self, value: str) -> float:
        # The regex, not float(): it takes "nan", "1e5", "-1" and Unicode digits.
        if self._match(value) is None:
            raise ValueError(value)
        return float(value)

    def to_url(self, value: Any) -> str:
        number = float(value)
        if number < 0 or not math.isfinite(number):
            raise ValueError(f"{value!r} is not a non-negative finite number")
        return repr(number)


class UUIDConverter:
    """A UUID in its canonical hyphenated form."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    python_type = uuid.UUID

    _match = re.compile(regex).fullmatch

    def to_python(self, value: str) -> uuid.UUID:
        # The regex, not uuid.UUID() alone: it takes braces, "urn:uuid:", stray
        # hyphens and Unicode digits.
        if self._match(value) is None:
            raise ValueError(value)
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(uuid.UUID(str(value)))


class SlugConverter:
    """Letters, digits, ``-`` and ``_`` (ASCII)."""

    regex = "[-a-zA-Z0-9_]+"
    python_type = str

    def to_python(self, value: str) -> str:
        if (
            not value
            or not value.isascii()
            or not value.replace("-", "").replace("_", "").isalnum()
        ):
            raise ValueError(value)
        return value

    def to_url(self, value: Any) -> str:
        return self.to_python(str(value))


class PathConverter:
    """The rest of the path, slashes included (only as the last part of a route)."""

    regex = ".+"
    python_type = str

    def to_python(self, value: str) -> str:
        if not value:
            raise ValueError("empty path")
        return value

    def to_url(self, value: Any) -> str:
        text = str(value)
        if not text:
            raise ValueError("empty path")
        return text


def default_converters() -> dict[str, Converter]:
    """A fresh table of the built-in converters (each app owns its own table)."""
    return {
        "str": StringConverter(),
        "int": IntConverter(),
        "int32": IntConverter(max_value=INT32_MAX),
        "float": FloatConverter(),
        "uuid": UUIDConverter(),
        "slug": SlugConverter(),
        "path": PathConverter(),
    }
