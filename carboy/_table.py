"""The compiled route table: built once at start-up (``_build``), read on every request.

It lives beside the app rather than in :mod:`carboy.routing`: it is what the app
compiles its routes into, holding the endpoints that :mod:`carboy.params` made;
routing keeps the parts users write and read (routes, paths, converters, infos).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from carboy.exceptions import ConfigurationError
from carboy.params import Direct
from carboy.routing import NoMatchFound, PathTemplate, PathTree
from carboy.types import ASGIApp


@dataclass(slots=True)
class Endpoints:
    """Everything served at one path template: an ASGI endpoint per method."""

    template: PathTemplate
    methods: dict[str, ASGIApp] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    websocket: ASGIApp | None = None
    websocket_source: str = ""
    allow: str = ""
    #: Per method, the handler the dispatcher may call directly (see ``carboy.params.Direct``).
    direct: dict[str, Direct] = field(default_factory=dict)


class RouteTable:
    """Static paths in a dict, dynamic ones in a :class:`PathTree`, mounts by prefix."""

    def __init__(self) -> None:
        self.static: dict[str, Endpoints] = {}
        self.tree: PathTree[Endpoints] = PathTree()
        self.mounts: list[tuple[str, ASGIApp, str]] = []
        self.names: dict[str, tuple[PathTemplate, str]] = {}
        self._by_shape: dict[tuple[str, ...], Endpoints] = {}

    def add(
        self,
        template: PathTemplate,
        endpoint: ASGIApp,
        *,
        methods: frozenset[str],
        websocket: bool,
        name: str | None,
        source: str,
        direct: Direct | None = None,
    ) -> None:
        """Add one route; refuse duplicates and collisions naming both places.

        ``direct``: the handler, when the dispatcher may call it itself (an
        endpoint that no route middleware wraps).
        """
        shape = template.shape
        entry = self._by_shape.get(shape)
        if entry is None:
            entry = Endpoints(template)
            self._by_shape[shape] = entry
            if template.is_static:
                self.static[template.path] = entry
            else:
                self.tree.insert(template, entry)
        elif entry.template.param_names != template.param_names:
            first = next(iter(entry.sources.values()), entry.websocket_source)
            raise ConfigurationError(
                f"Routes {entry.template.path!r} ({first}) and {template.path!r} ({source}) "
                "match the same paths but name their parameters differently; use the same names"
            )
        if websocket:
            if entry.websocket is not None:
                raise ConfigurationError(
                    f"WebSocket route {template.path!r} is declared twice "
                    f"({entry.websocket_source} and {source})"
                )
            entry.websocket = endpoint
            entry.websocket_source = source
        else:
            for method in sorted(methods):
                if method in entry.methods:
                    raise ConfigurationError(
                        f"Route {method} {template.path!r} is declared twice "
                        f"({entry.sources[method]} and {source})"
                    )
                entry.methods[method] = endpoint
                entry.sources[method] = source
                if direct is not None:
                    entry.direct[method] = direct.for_head() if method == "HEAD" else direct
        if name is not None:
            self.add_name(name, template, source)

    def add_name(self, name: str, template: PathTemplate, source: str) -> None:
        """Register ``name`` for reversing; the same name twice must be the same path."""
        known = self.names.get(name)
        if known is not None and known[0].path != template.path:
            raise ConfigurationError(
                f"Route name {name!r} is used twice: {known[0].path!r} ({known[1]}) and "
                f"{template.path!r} ({source}); pass name= to tell them apart"
            )
        if known is None:  # keep the first place, for later error messages
            self.names[name] = (template, source)

    def add_mount(self, prefix: str, app: ASGIApp, source: str) -> None:
        """Serve ``app`` under ``prefix``; the longest prefix wins."""
        for known, _, where in self.mounts:
            if known == prefix:
                raise ConfigurationError(
                    f"Mount {prefix!r} is declared twice ({where} and {source})"
                )
        self.mounts.append((prefix, app, source))
        self.mounts.sort(key=lambda m: len(m[0]), reverse=True)

    def finish(self) -> None:
        """Add automatic HEAD and OPTIONS, pre-compute each ``Allow`` header, compile the tree."""
        self.tree.compile()
        for entry in self._by_shape.values():
            if not entry.methods:
                continue
            if "GET" in entry.methods and "HEAD" not in entry.methods:
                entry.methods["HEAD"] = entry.methods["GET"]
                direct = entry.direct.get("GET")
                if direct is not None:
                    entry.direct["HEAD"] = direct.for_head()
            allowed = set(entry.methods) | {"OPTIONS"}
            entry.allow = ", ".join(sorted(allowed))

    def lookup(self, path: str, params: dict[str, Any]) -> Endpoints | None:
        """The endpoints for ``path`` (static first), filling ``params``."""
        entry = self.static.get(path)
        if entry is not None:
            return entry
        return self.tree.match(path, params)

    def lookup_all(self, path: str) -> Iterator[tuple[Endpoints, dict[str, Any]]]:
        """Every entry matching ``path`` with its params, best first (slow paths only)."""
        entry = self.static.get(path)
        if entry is not None:
            yield entry, {}
        yield from self.tree.match_all(path)

    def find_mount(self, path: str) -> tuple[str, ASGIApp] | None:
        """The mount serving ``path``, if any."""
        for prefix, app, _ in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, app
        return None

    def url_path_for(self, name: str, params: Mapping[str, Any]) -> str:
        """Reverse a route name; parameters not in the path become the query string."""
        known = self.names.get(name)
        if known is None:
            close = [n for n in self.names if n.endswith("." + name) or name in n][:5]
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise NoMatchFound(f"No route named {name!r}{hint}")
        template = known[0]
        missing = [p for p in template.param_names if p not in params]
        if missing:
            raise NoMatchFound(
                f"Route {name!r} ({template.path}) needs parameter(s) {', '.join(missing)}"
            )
        try:
            path = template.format(params)
        except ValueError as exc:
            raise NoMatchFound(f"Route {name!r} ({template.path}): {exc}") from None
        extra = {k: v for k, v in params.items() if k not in template.param_names}
        if extra:
            path += "?" + urlencode(extra, doseq=True)
        return path
