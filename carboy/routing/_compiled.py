"""Compiling a :class:`~carboy.routing.PathTree` into one Python function, at start-up.

The tree walk looks up each segment's children in dicts and lists and calls
each converter through its object; the compiled matcher is the same search
written out as straight-line code for this app's routes: one ``if`` per static
segment, the converters' bound methods (the built-in ``int`` converter
inlined), and the route found returned from where its branch ends. It finds
exactly what the tree's depth-first search finds first (static children,
then parameters in priority order, then mixed segments, then ``:path``
parameters), and fills ``params`` only on a match.

A node with many static children dispatches through a dict to one function
per child, and a branch nested too deep for Python's compiler continues in a
function of its own, so any tree compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from carboy.routing._converters import IntConverter

if TYPE_CHECKING:
    from carboy.routing._paths import _Node

T = TypeVar("T")

#: A matcher: ``match(path, params)`` returns the route's value (filling ``params``) or None.
Matcher = Callable[[str, dict[str, Any]], T | None]

#: Up to this many static children are tested with ``==``; more go through a dict.
_INLINE_STATIC = 8
#: Nested ``try`` blocks before a branch continues in its own function (Python allows 20).
_MAX_TRIES = 8
#: Indentation levels before a branch continues in its own function (Python allows 100).
_MAX_INDENT = 40


class _Compiler(Generic[T]):
    """Writes the source of the matcher and the namespace it runs in."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self.functions: list[list[str]] = []
        self._names = 0

    def _name(self, prefix: str, value: Any = None) -> str:
        self._names += 1
        name = f"{prefix}{self._names}"
        if value is not None:
            self.namespace[name] = value
        return name

    def function(self, node: _Node[T], depth: int, bound: tuple[tuple[str, str], ...]) -> str:
        """Emit a function matching ``node`` at segment ``depth``; return its name."""
        name = self._name("_f")
        args = "".join(f", {var}" for _, var in bound)
        lines = [f"def {name}(segs, n, params{args}):"]
        self.functions.append(lines)
        self.node(lines, node, depth, bound, 1, 0)
        lines.append("    return None")
        return name

    def node(
        self,
        out: list[str],
        node: _Node[T],
        depth: int,
        bound: tuple[tuple[str, str], ...],
        level: int,
        tries: int,
    ) -> None:
        """Emit the code that matches ``node`` with ``depth`` segments consumed."""
        if level > _MAX_INDENT or tries > _MAX_TRIES:
            self.call(out, node, depth, bound, level)
            return
        pad = "    " * level
        # segs[0] is the empty text before the path's first "/": segment i is segs[i + 1].
        at = depth + 1
        if node.value is not None:
            out.append(f"{pad}if n == {at}:")
            self.found(out, node.value, bound, level + 1)
        if not (node.static or node.params or node.mixed or node.rest):
            return
        seg = f"s{depth}"
        out.append(f"{pad}if n > {at}:")
        pad, level = pad + "    ", level + 1
        out.append(f"{pad}{seg} = segs[{at}]")
        self.static(out, node, depth, bound, level, tries, seg)
        for name, conv, any_segment, child in node.params:
            var = self._name("p")
            here = (*bound, (name, var))
            if any_segment:
                out.append(f"{pad}if {seg}:")
                out.append(f"{pad}    {var} = {seg}")
                self.node(out, child, depth + 1, here, level + 1, tries)
            elif type(conv) is IntConverter:
                # IntConverter.to_python, inlined: ASCII digits, bounded length and value.
                out.append(
                    f"{pad}if {seg}.isdigit() and {seg}.isascii() "
                    f"and len({seg}) <= {conv._max_digits}:"
                )
                out.append(f"{pad}    {var} = int({seg})")
                out.append(f"{pad}    if {var} <= {conv.max_value}:")
                self.node(out, child, depth + 1, here, level + 2, tries)
            else:
                convert = self._name("_c", conv.to_python)
                out.append(f"{pad}try:")
                out.append(f"{pad}    {var} = {convert}({seg})")
                out.append(f"{pad}except ValueError:")
                out.append(f"{pad}    pass")
                out.append(f"{pad}else:")
                self.node(out, child, depth + 1, here, level + 1, tries + 1)
        for segment, child in node.mixed:
            regex = self._name("_r", segment.regex.fullmatch if segment.regex else None)
            found = self._name("m")
            out.append(f"{pad}{found} = {regex}({seg})")
            out.append(f"{pad}if {found} is not None:")
            out.append(f"{pad}    try:")
            here = bound
            for index, (name, conv) in enumerate(segment.params):
                var = self._name("p")
                convert = self._name("_c", conv.to_python)
                out.append(f"{pad}        {var} = {convert}({found}.group({index + 1}))")
                here = (*here, (name, var))
            out.append(f"{pad}    except ValueError:")
            out.append(f"{pad}        pass")
            out.append(f"{pad}    else:")
            self.node(out, child, depth + 1, here, level + 2, tries + 1)
        if node.rest:
            rest = self._name("rest")
            out.append(f'{pad}{rest} = "/".join(segs[{at}:])')
            for name, conv, value in node.rest:
                var = self._name("p")
                convert = self._name("_c", conv.to_python)
                out.append(f"{pad}try:")
                out.append(f"{pad}    {var} = {convert}({rest})")
                out.append(f"{pad}except ValueError:")
                out.append(f"{pad}    pass")
                out.append(f"{pad}else:")
                self.found(out, value, (*bound, (name, var)), level + 1)

    def static(
        self,
        out: list[str],
        node: _Node[T],
        depth: int,
        bound: tuple[tuple[str, str], ...],
        level: int,
        tries: int,
        seg: str,
    ) -> None:
        """Emit the static children of ``node``: ``==`` tests, or a dict of functions."""
        pad = "    " * level
        if len(node.static) <= _INLINE_STATIC:
            keyword = "if"
            for text, child in node.static.items():
                out.append(f"{pad}{keyword} {seg} == {text!r}:")
                self.node(out, child, depth + 1, bound, level + 1, tries)
                keyword = "elif"
            return
        table = {text: self.function(kid, depth + 1, bound) for text, kid in node.static.items()}
        dispatch = self._name("_d")
        self.namespace[dispatch] = table  # names for now; functions once they exist
        args = "".join(f", {var}" for _, var in bound)
        result = self._name("r")
        out.append(f"{pad}{result} = {dispatch}.get({seg})")
        out.append(f"{pad}if {result} is not None:")
        out.append(f"{pad}    {result} = {result}(segs, n, params{args})")
        out.append(f"{pad}    if {result} is not None:")
        out.append(f"{pad}        return {result}")

    def call(
        self,
        out: list[str],
        node: _Node[T],
        depth: int,
        bound: tuple[tuple[str, str], ...],
        level: int,
    ) -> None:
        """Continue matching ``node`` in a function of its own (a deep branch)."""
        pad = "    " * level
        function = self.function(node, depth, bound)
        args = "".join(f", {var}" for _, var in bound)
        result = self._name("r")
        out.append(f"{pad}{result} = {function}(segs, n, params{args})")
        out.append(f"{pad}if {result} is not None:")
        out.append(f"{pad}    return {result}")

    def found(
        self, out: list[str], value: T, bound: tuple[tuple[str, str], ...], level: int
    ) -> None:
        """Emit a match: fill ``params`` from the branch's values, return the route's value."""
        pad = "    " * level
        for name, var in bound:
            out.append(f"{pad}params[{name!r}] = {var}")
        out.append(f"{pad}return {self._name('_v', value)}")


def compile_tree(root: _Node[T]) -> Matcher[T]:
    """The matcher of the tree under ``root``: one generated function (see the module)."""
    compiler: _Compiler[T] = _Compiler()
    lines = [
        "def match(path, params):",
        '    segs = path.split("/")',
        "    n = len(segs)",
    ]
    compiler.node(lines, root, 0, (), 1, 0)
    lines.append("    return None")
    source = "\n\n".join("\n".join(f) for f in [*compiler.functions, lines]) + "\n"
    namespace = compiler.namespace
    exec(compile(source, "<carboy routes>", "exec"), namespace)  # the source is ours, made above
    for name, value in list(namespace.items()):
        if name.startswith("_d") and isinstance(value, dict):
            namespace[name] = {text: namespace[fn] for text, fn in value.items()}
    matcher: Matcher[T] = namespace["match"]
    matcher.__doc__ = source  # what the routes compiled to, for debugging
    return matcher
