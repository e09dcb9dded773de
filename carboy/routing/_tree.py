"""The tree of dynamic paths: built from templates, walked or compiled to match."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from carboy.routing._compiled import compile_tree
from carboy.routing._paths import PathTemplate, _Node

T = TypeVar("T")


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
