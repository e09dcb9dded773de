"""Compiling a handler's signature into an argument plan, once, at start-up.

A plan lists where each parameter comes from and how it is validated, so a
request only runs the extractors its handler needs: a handler that takes no
``Request`` causes no ``Request`` to be built, and one that reads no query
string never parses it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

from carboy.datastructures import UploadFile
from carboy.exceptions import ConfigurationError
from carboy.params._context import BodyExtractor, Context, Extractor
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import MISSING, Depends, Param
from carboy.params._sources import SOURCES, Source, Wanted
from carboy.params._validation import is_model, is_sequence, make_validator, strip_optional
from carboy.requests import Request

# Kinds of callables, decided once.
_ASYNC, _SYNC, _ASYNC_GEN, _GEN = "async", "sync", "async_gen", "gen"
_THREAD_KINDS = frozenset((_SYNC, _GEN))


@dataclass(frozen=True, slots=True)
class Provider:
    """An app-level object injectable by type: a fixed ``value`` or a ``factory`` dependency.

    With ``sync_factory`` too, a ``def`` handler's parameters (and those of the
    ``def`` dependencies it runs in its thread hop) get ``sync_factory``'s value,
    made in that hop; every other parameter gets ``factory``'s. One request
    makes one value either way (they share a cache entry).

    With ``subclasses``, the provider serves every subclass of ``type`` instead:
    ``subclasses(cls)`` is called once per parameter type, at start-up, and
    returns the dependency that builds a ``cls`` for each request (how
    ``carboy.forms`` injects each form class).
    """

    type: type
    value: Any = None
    factory: Callable[..., Any] | None = None
    subclasses: Callable[[Any], Callable[..., Any]] | None = None
    sync_factory: Callable[..., Any] | None = None


@dataclass(slots=True)
class Plan:
    """The compiled calling plan of one handler or dependency."""

    func: Callable[..., Any]
    kind: str
    name: str
    #: (parameter name, extractor) for values available without I/O.
    simple: list[tuple[str, Extractor]] = field(default_factory=list)
    #: (parameter name, extractor) for body/form values (awaited).
    body: list[tuple[str, BodyExtractor]] = field(default_factory=list)
    #: (parameter name, plan) for dependencies, in signature order.
    dependencies: list[tuple[str, Plan]] = field(default_factory=list)
    #: Extra dependencies whose values are discarded (route/router ``dependencies=``).
    side_dependencies: list[Plan] = field(default_factory=list)
    use_cache: bool = True
    #: Each parameter, for docs, OpenAPI and the CLI (see ``Carboy.routes_info``).
    params: dict[str, ParamInfo] = field(default_factory=dict)
    #: Path parameters passed as the router converted them (no validation of their own).
    raw_path: set[str] = field(default_factory=set)
    #: The return annotation (``inspect.Parameter.empty`` when there is none).
    return_type: Any = inspect.Parameter.empty
    #: The ``Depends`` marker this plan was compiled for (None for a handler or a provider).
    marker: Depends | None = None
    #: What its value is cached under for the request (``func``, or its provider's factory).
    cache_key: Any = None

    @property
    def path_only(self) -> bool:
        """True when every argument comes straight from the matched path, unconverted."""
        return not (self.body or self.dependencies or self.side_dependencies) and all(
            name in self.raw_path for name in self.params
        )

    def request_params(self) -> list[ParamInfo]:
        """Every parameter the client sends, this plan's and its dependencies', once each."""
        found: dict[tuple[ParamSource, str], ParamInfo] = {}
        for dep in self.side_dependencies:
            for info in dep.request_params():
                found.setdefault((info.source, info.wire_name), info)
        deps = dict(self.dependencies)
        for name, info in self.params.items():
            if info.source.from_request:
                found.setdefault((info.source, info.wire_name), info)
            elif name in deps:
                for sub in deps[name].request_params():
                    found.setdefault((sub.source, sub.wire_name), sub)
        return list(found.values())

    def dependency_markers(self) -> list[Depends]:
        """Every ``Depends`` this plan runs, its dependencies' included, each once, in order.

        The route's and routers' ``dependencies=`` come first, then the
        parameters' own, depth first: what tools (OpenAPI security, the admin)
        read to see which guards protect a route.
        """
        found: list[Depends] = []
        for plan in (*self.side_dependencies, *(dep for _, dep in self.dependencies)):
            if plan.marker is not None and not any(m is plan.marker for m in found):
                found.append(plan.marker)
            for marker in plan.dependency_markers():
                if not any(m is marker for m in found):
                    found.append(marker)
        return found

    @property
    def runs_in_thread(self) -> bool:
        """Whether this plan is a ``def`` function or generator (its call blocks a thread)."""
        return self.kind in _THREAD_KINDS

    async def resolve(self, ctx: Context) -> dict[str, Any]:
        """Build the keyword arguments; errors are collected in ``ctx.errors``."""
        for dep in self.side_dependencies:
            await dep.call(ctx)
        kwargs = {name: extract(ctx) for name, extract in self.simple}
        for name, extract_body in self.body:
            kwargs[name] = await extract_body(ctx)
        for name, dep in self.dependencies:
            kwargs[name] = await dep.call(ctx)
        return kwargs

    async def call(self, ctx: Context) -> Any:
        """Run as a dependency: resolve, call, register cleanup, cache per request."""
        key = self.cache_key
        if self.use_cache and key in ctx.cache:
            return ctx.cache[key]
        kwargs = await self.resolve(ctx)
        if ctx.errors:
            return None
        func = self.func
        if self.kind == _ASYNC:
            value = await func(**kwargs)
        elif self.kind == _SYNC:
            value = await ctx.run_sync(functools.partial(func, **kwargs))
        elif self.kind == _ASYNC_GEN:
            gen = func(**kwargs)
            value = await anext(gen, _DONE)
            if value is _DONE:
                raise RuntimeError(f"Dependency {self.name!r} returned without yielding")
            ctx.exits.append(gen)
        else:
            gen = func(**kwargs)
            value = await ctx.run_sync(next, gen, _DONE)
            if value is _DONE:
                raise RuntimeError(f"Dependency {self.name!r} returned without yielding")
            ctx.exits.append(gen)
        if self.use_cache:
            ctx.cache[key] = value
        return value

    # -- one thread hop for a def handler ----------------------------------------------
    # A ``def`` handler's ``def`` dependencies run in the same thread as the handler,
    # in one hop: ``prepare`` does on the event loop what a thread cannot (body
    # parsing, async dependencies), then ``resolve_sync`` / ``call_sync`` run in the
    # thread with those values.

    async def prepare(self, ctx: Context, ready: dict[int, dict[str, Any]]) -> None:
        """On the loop: what this sync plan and its sync dependencies need awaited.

        Its own arguments that are no dependency's (path, query, headers, body)
        and its async dependencies' values go into ``ready[id(plan)]``, in the
        order :meth:`resolve` takes them; async side dependencies just run.
        """
        for dep in self.side_dependencies:
            if dep.runs_in_thread:
                await dep.prepare(ctx, ready)
            else:
                await dep.call(ctx)
        values = {name: extract(ctx) for name, extract in self.simple}
        for name, extract_body in self.body:
            values[name] = await extract_body(ctx)
        for name, dep in self.dependencies:
            if dep.runs_in_thread:
                await dep.prepare(ctx, ready)
            else:
                values[name] = await dep.call(ctx)
        ready[id(self)] = values

    def resolve_sync(self, ctx: Context, ready: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """In the thread: :meth:`resolve` with what :meth:`prepare` did on the loop."""
        for dep in self.side_dependencies:
            if dep.runs_in_thread:
                dep.call_sync(ctx, ready)
        kwargs = ready[id(self)]
        for name, dep in self.dependencies:
            if dep.runs_in_thread:
                kwargs[name] = dep.call_sync(ctx, ready)
        return kwargs

    def call_sync(self, ctx: Context, ready: dict[int, dict[str, Any]]) -> Any:
        """In the thread: :meth:`call` for a ``def`` dependency or generator."""
        key = self.cache_key
        if self.use_cache and key in ctx.cache:
            return ctx.cache[key]
        kwargs = self.resolve_sync(ctx, ready)
        if ctx.errors:
            return None
        if self.kind == _SYNC:
            value = self.func(**kwargs)
        else:
            gen = self.func(**kwargs)
            value = next(gen, _DONE)
            if value is _DONE:
                raise RuntimeError(f"Dependency {self.name!r} returned without yielding")
            ctx.exits.append(gen)
        if self.use_cache:
            ctx.cache[key] = value
        return value


async def unwind(ctx: Context, exc: BaseException | None) -> None:
    """Finish the request's yield-dependencies, newest first; ``exc`` is thrown into each.

    An exception raised by a cleanup replaces the one in flight and is raised
    at the end, after every other cleanup has run. ``def`` generators finish in
    the thread pool, in the request's :attr:`~Context.thread_context`.
    """
    exits = ctx.exits
    original = exc
    for gen in reversed(exits):
        try:
            if inspect.isasyncgen(gen):
                if exc is None:
                    await gen.__anext__()
                else:
                    await gen.athrow(exc)
            elif exc is None:
                # StopIteration cannot cross a thread-pool future (asyncio refuses
                # it and the await never ends), so the end comes back as _DONE.
                if await ctx.run_sync(next, gen, _DONE) is _DONE:
                    continue
            elif await ctx.run_sync(_throw, gen, exc) is _DONE:
                continue
        except StopAsyncIteration:
            continue
        except BaseException as err:
            if err is not exc:
                exc = err
            continue
        exc = _yielded_twice(gen)
    exits.clear()
    if exc is not original and exc is not None:
        raise exc


def unwind_sync(exits: list[Any], start: int, exc: BaseException | None) -> None:
    """In the thread: :func:`unwind` for the ``def`` generators from ``exits[start:]``.

    Raises what :func:`unwind` would; the generators before ``start`` (async
    ones, entered on the loop) are left for it.
    """
    original = exc
    while len(exits) > start:
        gen = exits.pop()
        try:
            step = next(gen, _DONE) if exc is None else _throw(gen, exc)
            if step is _DONE:
                continue
        except BaseException as err:
            if err is not exc:
                exc = err
            continue
        exc = _yielded_twice(gen)
    if exc is not original and exc is not None:
        raise exc


def _yielded_twice(gen: Any) -> RuntimeError:
    return RuntimeError(f"Dependency {getattr(gen, '__qualname__', gen)!r} yielded more than once")


#: What a finished generator gives back instead of raising StopIteration.
_DONE: Any = object()


def _throw(gen: Any, exc: BaseException) -> Any:
    """``gen.throw(exc)``, with the generator's end as ``_DONE`` (see ``unwind``)."""
    try:
        return gen.throw(exc)
    except StopIteration:
        return _DONE


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
