"""Path templates (``/users/{id:int}``): parsing, reversing, and the tree node they fill."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from carboy.exceptions import ConfigurationError
from carboy.routing._converters import Converter, PathConverter

T = TypeVar("T")


class NoMatchFound(LookupError):
    """``url_for`` was given an unknown route name or the wrong parameters.

    Example:
        >>> try:
        ...     app.url_for("no_such_route")
        ... except NoMatchFound as exc:
        ...     print(exc)
        No route named 'no_such_route'
    """


_PARAM = re.compile(r"{([^{}:]*)(?::([^{}]*))?}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Segment:
    """One ``/``-separated part of a path template."""

    text: str
    kind: str  # "static" | "param" | "mixed" | "rest"
    params: tuple[tuple[str, Converter], ...] = ()
    regex: re.Pattern[str] | None = None

    @property
    def shape(self) -> str:
        """What the segment matches, for conflict detection (names don't count)."""
        if self.kind == "static":
            return self.text
        convs = ",".join(type(c).__name__ for _, c in self.params)
        if self.kind == "mixed":
            return f"~{_PARAM.sub('{}', self.text)}:{convs}"
        return f"{{{convs}}}" if self.kind == "param" else f"{{*{convs}}}"


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed route path. Build with :func:`parse_path`."""

    path: str
    segments: tuple[Segment, ...]
    param_names: tuple[str, ...]

    @property
    def is_static(self) -> bool:
        """True when the path has no parameters."""
        return not self.param_names

    @property
    def shape(self) -> tuple[str, ...]:
        """The path with parameter names erased: two routes of one shape collide."""
        return tuple(s.shape for s in self.segments)

    def converters(self) -> dict[str, Converter]:
        """Parameter name -> converter."""
        return {name: conv for seg in self.segments for name, conv in seg.params}

    def format(self, params: Mapping[str, Any]) -> str:
        """The concrete, percent-encoded path for ``params`` (missing ones raise ``KeyError``)."""
        convs = self.converters()

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            text = convs[name].to_url(params[name])
            safe = "/" if isinstance(convs[name], PathConverter) else ""
            return quote(text, safe=safe)

        return _PARAM.sub(sub, self.path)


def parse_path(path: str, converters: Mapping[str, Converter]) -> PathTemplate:
    """Parse ``path``; raise :class:`ConfigurationError` saying what is wrong with it."""
    if not path.startswith("/"):
        raise ConfigurationError(f"Route path {path!r} must start with '/'")
    segments: list[Segment] = []
    names: list[str] = []
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        params: list[tuple[str, Converter]] = []
        for match in _PARAM.finditer(part):
            name, conv_name = match.group(1), match.group(2) or "str"
            if not _NAME.match(name):
                raise ConfigurationError(
                    f"Route path {path!r}: {{{name}}} is not a valid parameter name"
                )
            if conv_name not in converters:
                known = ", ".join(sorted(converters))
                raise ConfigurationError(
                    f"Route path {path!r}: unknown converter {conv_name!r} "
                    f"(known: {known}; add one with app.register_converter())"
                )
            if name in names:
                raise ConfigurationError(f"Route path {path!r} uses {{{name}}} twice")
            names.append(name)
            params.append((name, converters[conv_name]))
        leftover = _PARAM.sub("", part)
        if "{" in leftover or "}" in leftover:
            raise ConfigurationError(f"Route path {path!r} has an unbalanced '{{' or '}}'")
        has_path = any(isinstance(c, PathConverter) for _, c in params)
        if not params:
            segments.append(Segment(part, "static"))
        elif len(params) == 1 and _PARAM.fullmatch(part):
            if has_path and index != len(parts) - 1:
                raise ConfigurationError(
                    f"Route path {path!r}: a :path parameter must be the last part of the path"
                )
            segments.append(Segment(part, "rest" if has_path else "param", tuple(params)))
        else:
            if has_path:
                raise ConfigurationError(
                    f"Route path {path!r}: a :path parameter must fill its whole segment"
                )
            pattern = ""
            pos = 0
            for match in _PARAM.finditer(part):
                pattern += re.escape(part[pos : match.start()])
                conv = dict(params)[match.group(1)]
                pattern += f"({conv.regex})"
                pos = match.end()
            pattern += re.escape(part[pos:])
            segments.append(Segment(part, "mixed", tuple(params), re.compile(pattern)))
    return PathTemplate(path, tuple(segments), tuple(names))


@dataclass(slots=True)
class _Node(Generic[T]):
    static: dict[str, _Node[T]] = field(default_factory=dict)
    #: ``(name, converter, accepts_any_segment, child)``, narrow converters first.
    params: list[tuple[str, Converter, bool, _Node[T]]] = field(default_factory=list)
    mixed: list[tuple[Segment, _Node[T]]] = field(default_factory=list)
    rest: list[tuple[str, Converter, T]] = field(default_factory=list)
    value: T | None = None
