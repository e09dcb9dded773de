"""Path templates (``/users/{id:int}``): parsing, matching trees and reversing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
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


class PathTree(Generic[T]):
    """Matcher for parameterized paths: a tree of segments, built once.

    ``match(path, params)`` walks one branch per segment (static children by
    dict lookup), so its cost grows with path depth, never with the number of
    routes. :meth:`compile`, called when the app builds, replaces it with a
    function generated for these routes that finds the same routes with less
    work per segment (see ``carboy/routing/_compiled.py``); adding a route
    afterwards goes back to the walk until the next :meth:`compile`.
    """

    __slots__ = ("_root", "match")

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()
        #: ``match(path, params)``: the value for ``path`` (filling ``params``), or None.
        self.match: Callable[[str, dict[str, Any]], T | None] = self.walk

    def compile(self) -> None:
        """Match with a function generated for the routes in the tree now."""
        from carboy.routing._compiled import compile_tree

        matcher = compile_tree(self._root)
        self.match = matcher

    def insert(self, template: PathTemplate, value: T) -> None:
        """Add a template; the caller has checked it does not collide."""
        self.match = self.walk
        node = self._root
        for seg in template.segments:
            if seg.kind == "static":
                node = node.static.setdefault(seg.text, _Node())
            elif seg.kind == "param":
                name, conv = seg.params[0]
                for n, c, _, child in node.params:
                    if n == name and type(c) is type(conv):
                        node = child
                        break
                else:
                    child = _Node()
                    any_segment = bool(getattr(conv, "accepts_any_segment", False))
                    node.params.append((name, conv, any_segment, child))
                    # Narrow converters are tried before the catch-all string converter.
                    node.params.sort(key=lambda p: p[2])
                    node = child
            elif seg.kind == "mixed":
                for s, child in node.mixed:
                    if s.text == seg.text:
                        node = child
                        break
                else:
                    child = _Node()
                    node.mixed.append((seg, child))
                    node = child
            else:
                name, conv = seg.params[0]
                node.rest.append((name, conv, value))
                return
        node.value = value

    def walk(self, path: str, params: dict[str, Any]) -> T | None:
        """The value for ``path`` (filling ``params``), or None, by walking the tree.

        The first, greedy walk takes the branch the full search would try
        first (static, then parameters in priority order) without recursion;
        only when it dead-ends does the backtracking search run.
        """
        segs = path[1:].split("/")
        node = self._root
        for seg in segs:
            child = node.static.get(seg)
            if child is None:
                for name, conv, any_segment, candidate in node.params:
                    if any_segment:
                        if seg:
                            params[name] = seg
                            child = candidate
                            break
                    else:
                        try:
                            params[name] = conv.to_python(seg)
                        except ValueError:
                            continue
                        child = candidate
                        break
                else:
                    break
            node = child
        else:
            if node.value is not None:
                return node.value
        # The greedy walk dead-ended: backtrack, taking the first match.
        params.clear()
        for value, found in _match_all(self._root, segs, 0, {}):
            params.update(found)
            return value
        return None

    def match_all(self, path: str) -> Iterator[tuple[T, dict[str, Any]]]:
        """Every value matching ``path`` with its params, best first (for the slow paths).

        :meth:`match` gives only the first; this one lets the app find another
        route for a method the first does not serve (``GET /users/me`` static,
        ``DELETE /users/{name}`` dynamic).
        """
        yield from _match_all(self._root, path[1:].split("/"), 0, {})


def _match_all(
    node: _Node[T], segs: list[str], i: int, params: dict[str, Any]
) -> Iterator[tuple[T, dict[str, Any]]]:
    # Depth first: static children, then parameters by priority, mixed segments, rest.
    if i == len(segs):
        if node.value is not None:
            yield node.value, dict(params)
        return
    seg = segs[i]
    child = node.static.get(seg)
    if child is not None:
        yield from _match_all(child, segs, i + 1, params)
    for name, conv, any_segment, child in node.params:
        if any_segment:
            if not seg:
                continue
            value: Any = seg
        else:
            try:
                value = conv.to_python(seg)
            except ValueError:
                continue
        yield from _match_all(child, segs, i + 1, {**params, name: value})
    for segment, child in node.mixed:
        m = segment.regex.fullmatch(seg) if segment.regex else None
        if m is None:
            continue
        try:
            values = {
                name: conv.to_python(text)
                for (name, conv), text in zip(segment.params, m.groups(), strict=True)
            }
        except ValueError:
            continue
        yield from _match_all(child, segs, i + 1, {**params, **values})
    rest = "/".join(segs[i:])
    for name, conv, value in node.rest:
        try:
            converted = conv.to_python(rest)
        except ValueError:
            continue
        yield value, {**params, name: converted}
