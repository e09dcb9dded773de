"""A handler's argument plan, and running it per request.

A plan lists where each parameter comes from and how it is validated, so a
request only runs the extractors its handler needs: a handler that takes no
``Request`` causes no ``Request`` to be built, and one that reads no query
string never parses it. It is made once, at start-up, by
:func:`~carboy.params._compile.compile_plan`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carboy.params._context import BodyExtractor, Context, Extractor
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import Depends

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
