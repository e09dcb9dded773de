"""Compiling a handler's signature into an argument plan, once, at start-up.

:func:`compile_plan` reads a handler's (or a dependency's) parameters and
annotations and decides, for each, where its value comes from (the path, the
query string, a header, the body, a dependency or an installed provider) and
how it is validated; the :class:`~carboy.params._plan.Plan` it returns is what
runs per request.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, get_args, get_origin

from carboy.datastructures import UploadFile
from carboy.exceptions import ConfigurationError
from carboy.params._context import Context, Extractor
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import MISSING, Depends, Param
from carboy.params._plan import _ASYNC, _ASYNC_GEN, _GEN, _SYNC, Plan, Provider
from carboy.params._sources import SOURCES, Source, Wanted
from carboy.params._validation import is_model, is_sequence, make_validator, strip_optional
from carboy.requests import Request


def _kind(func: Callable[..., Any]) -> str:
    # The __call__ method of a callable object decides its kind, not callable() (B004).
    target = getattr(func, "__call__", None) if not inspect.isroutine(func) else func  # noqa: B004
    if inspect.isclass(func):
        return _SYNC
    for candidate in (func, target):
        if candidate is None:
            continue
        if inspect.isasyncgenfunction(candidate):
            return _ASYNC_GEN
        if inspect.isgeneratorfunction(candidate):
            return _GEN
        if inspect.iscoroutinefunction(candidate):
            return _ASYNC
    return _SYNC


def _hints(func: Callable[..., Any], where: str) -> dict[str, Any]:
    target: Any = func.__init__ if inspect.isclass(func) else func
    if not inspect.isroutine(target) and callable(target):
        target = target.__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise ConfigurationError(
            f"{where}: cannot resolve its type annotations ({exc}); make sure every "
            "annotated name is imported at module level"
        ) from exc


def compile_plan(
    func: Callable[..., Any],
    *,
    path_params: Mapping[str, Any],
    providers: Mapping[type, Provider],
    connection_type: type,
    where: str,
    use_cache: bool = True,
    side_dependencies: tuple[Depends, ...] = (),
    origin: Depends | None = None,
    one_hop: bool = False,
    _cache_key: Any = None,
    _seen: tuple[Callable[..., Any], ...] = (),
) -> Plan:
    """Compile ``func``'s signature into a :class:`Plan`.

    Args:
        func: The handler or dependency.
        path_params: Names in the route path -> their converter (``python_type`` used).
        providers: Types injectable app-wide.
        connection_type: ``Request`` for HTTP routes, ``WebSocket`` for WebSocket ones.
        where: How to name ``func`` in error messages (``"GET /users/{id} (users.py:12)"``).
        origin: The ``Depends`` that ``func`` is compiled for (``Plan.marker``).
        one_hop: ``func`` runs in a ``def`` handler's thread hop if it is a ``def``
            function or generator (true for an HTTP handler, false for WebSocket
            ones); its ``def`` dependencies then do too, and take providers'
            ``sync_factory``.
    """
    if func in _seen:
        chain = " -> ".join(getattr(f, "__qualname__", repr(f)) for f in (*_seen, func))
        raise ConfigurationError(f"{where}: dependency cycle {chain}")
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: cannot read the signature of {func!r}") from exc
    hints = _hints(func, where)
    plan = Plan(
        func=func,
        kind=_kind(func),
        name=getattr(func, "__qualname__", repr(func)),
        use_cache=use_cache,
        return_type=hints.get("return", inspect.Parameter.empty),
        marker=origin,
        cache_key=func if _cache_key is None else _cache_key,
    )
    in_hop = one_hop and plan.runs_in_thread
    sub: dict[str, Any] = {
        "path_params": path_params,
        "providers": providers,
        "connection_type": connection_type,
        "one_hop": in_hop,
        "_seen": (*_seen, func),
    }
    for dep in side_dependencies:
        plan.side_dependencies.append(
            compile_plan(
                dep.dependency,
                where=f"{where} dependency",
                use_cache=dep.use_cache,
                origin=dep,
                **sub,
            )
        )

    #: The parameters each request source fills, in signature order.
    wanted: dict[Source, list[Wanted]] = {}
    #: Their full annotations (``Annotated`` metadata kept), for ``ParamInfo``.
    types: dict[str, Any] = {}
    #: (position in the signature, name, extractor): extractors without I/O.
    simple: list[tuple[int, str, Extractor]] = []
    positions: dict[str, int] = {}
    for position, (pname, param) in enumerate(signature.parameters.items()):
        positions[pname] = position
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        metadata: tuple[Any, ...] = ()
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = tuple(extra)
        marker: Param | Depends | None = None
        rest: list[Any] = []
        for item in metadata:
            if isinstance(item, Param | Depends) and marker is None:
                marker = item
            else:
                rest.append(item)
        default = param.default
        if isinstance(default, Param | Depends):
            marker = marker or default
            default = default.default if isinstance(default, Param) else MISSING
        elif default is inspect.Parameter.empty:
            default = MISSING
        if isinstance(marker, Param) and marker.default is not MISSING and default is MISSING:
            default = marker.default
        full_type = Annotated[(annotation, *rest)] if rest else annotation
        here = f"{where}, parameter {pname!r}"

        def describe(source: str, wire: str, embed: bool = False) -> ParamInfo:
            return _describe(pname, source, wire, full_type, default, marker, embed)  # noqa: B023

        # 1. Dependencies.
        if isinstance(marker, Depends):
            plan.dependencies.append(
                (
                    pname,
                    compile_plan(
                        marker.dependency,
                        where=f"{here} (Depends)",
                        use_cache=marker.use_cache,
                        origin=marker,
                        **sub,
                    ),
                )
            )
            plan.params[pname] = describe("depends", pname)
            continue
        base = strip_optional(annotation)
        # 2. The connection itself.
        if (
            isinstance(base, type)
            and issubclass(base, connection_type | Request)
            and marker is None
        ):
            simple.append((position, pname, _connection))
            plan.params[pname] = describe("connection", pname)
            continue
        # 3. App-level providers, by type.
        provider = _find_provider(base, providers) if marker is None else None
        if provider is not None:
            if provider.subclasses is not None:
                plan.dependencies.append(
                    (
                        pname,
                        compile_plan(
                            provider.subclasses(base),
                            where=f"{here} (provider of {provider.type.__name__} subclasses)",
                            **sub,
                        ),
                    )
                )
            elif provider.factory is not None:
                factory = provider.factory
                if in_hop and provider.sync_factory is not None:
                    factory = provider.sync_factory
                plan.dependencies.append(
                    (
                        pname,
                        compile_plan(
                            factory,
                            where=f"{here} (provider of {provider.type.__name__})",
                            _cache_key=provider.factory,
                            **sub,
                        ),
                    )
                )
            else:
                simple.append((position, pname, _constant(provider.value)))
            plan.params[pname] = describe("provider", pname)
            continue
        # 4. Values from the request: each source compiles its parameters below.
        kind = _request_source(pname, marker, base, annotation, path_params)
        source = SOURCES[kind]
        constraints = marker.constraints if isinstance(marker, Param) else {}
        try:
            validator = (
                None if kind in source.unvalidated else make_validator(full_type, constraints)
            )
        except Exception as exc:
            raise ConfigurationError(
                f"{here}: cannot inject type {annotation!r}: it is not a path, query, header "
                "or body type and no provider is registered for it (a battery provides its "
                "types once installed, e.g. app.install(Database(...)))"
            ) from exc
        wanted.setdefault(source, []).append(
            Wanted(
                name=pname,
                source=kind,
                base=base,
                metadata=tuple(rest),
                default=default,
                marker=marker if isinstance(marker, Param) else None,
                validator=validator,
                multi=is_sequence(annotation),
                where=here,
            )
        )
        # Its ParamInfo once compiled (embed and wire name are the source's); the
        # placeholder keeps plan.params in signature order.
        plan.params[pname] = describe(kind.value, pname)
        types[pname] = full_type

    for source in dict.fromkeys(SOURCES.values()):  # registry order, each source once
        group = wanted.get(source)
        if not group:
            continue
        for want, fetch in zip(group, source.compile(group, path_params), strict=True):
            name = want.name
            plan.params[name] = _describe(
                name,
                want.source.value,
                fetch.wire_name,
                types[name],
                want.default,
                want.marker,
                fetch.embed,
            )
            if fetch.raw:
                plan.raw_path.add(name)
            if source.reads_body:
                plan.body.append((name, fetch.extract))
            else:
                simple.append((positions[name], name, fetch.extract))
    # Extractors without I/O run in signature order (so do their errors).
    plan.simple.extend((name, extract) for _, name, extract in sorted(simple, key=_first))
    return plan


def _first(item: tuple[int, str, Extractor]) -> int:
    return item[0]


def _request_source(
    name: str,
    marker: Param | Depends | None,
    base: Any,
    annotation: Any,
    path_params: Mapping[str, Any],
) -> ParamSource:
    """Where a parameter's value comes from when no dependency or provider gives it."""
    if isinstance(marker, Param):
        return ParamSource(marker.source)
    if name in path_params:
        return ParamSource.PATH
    if isinstance(base, type) and issubclass(base, UploadFile):
        return ParamSource.FILE
    if is_model(annotation):
        return ParamSource.BODY
    return ParamSource.QUERY


def _describe(
    name: str,
    source: str,
    wire: str,
    type_: Any,
    default: Any,
    marker: Param | Depends | None,
    embed: bool,
) -> ParamInfo:
    m = marker if isinstance(marker, Param) else None
    return ParamInfo(
        name=name,
        source=ParamSource(source),
        wire_name=wire,
        type=type_,
        default=default,
        constraints=dict(m.constraints) if m else {},
        description=m.description if m else None,
        examples=m.examples if m else (),
        deprecated=m.deprecated if m else False,
        embed=embed,
    )


def _find_provider(base: Any, providers: Mapping[type, Provider]) -> Provider | None:
    if not isinstance(base, type):
        return None
    provider = providers.get(base)
    if provider is not None and provider.subclasses is None:
        return provider
    for ptype, candidate in providers.items():
        if candidate.subclasses is None and issubclass(ptype, base):
            return candidate
    for ptype, candidate in providers.items():
        if candidate.subclasses is not None and issubclass(base, ptype):
            return candidate
    return None


def _constant(value: Any) -> Extractor:
    return lambda ctx: value


def _connection(ctx: Context) -> Any:
    return ctx.connection
