"""Compiling a handler's signature into an argument plan, once, at start-up.

A plan lists where each parameter comes from and how it is validated, so a
request only runs the extractors its handler needs: a handler that takes no
``Request`` causes no ``Request`` to be built, and one that reads no query
string never parses it.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

from carboy.concurrency import run_sync
from carboy.datastructures import FormData, UploadFile
from carboy.exceptions import ConfigurationError, FieldError, HTTPException
from carboy.params._info import ParamInfo, ParamSource
from carboy.params._markers import MISSING, Body, Depends, Param
from carboy.params._validation import (
    Validator,
    is_model,
    is_sequence,
    make_validator,
    strip_optional,
)
from carboy.requests import Request
from carboy.types import Receive, Scope, Send

# Kinds of callables, decided once.
_ASYNC, _SYNC, _ASYNC_GEN, _GEN = "async", "sync", "async_gen", "gen"


@dataclass(frozen=True, slots=True)
class Provider:
    """An app-level object injectable by type: a fixed ``value`` or a ``factory`` dependency."""

    type: type
    value: Any = None
    factory: Callable[..., Any] | None = None


class Context:
    """What one request's plan works with: the connection and its lazily built objects."""

    __slots__ = (
        "_connection",
        "cache",
        "errors",
        "exits",
        "make_connection",
        "receive",
        "scope",
        "send",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        make_connection: Callable[[Scope, Receive, Send], Any] = Request,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.make_connection = make_connection
        self._connection: Any = None
        self.cache: dict[Any, Any] = {}
        self.errors: list[FieldError] = []
        self.exits: list[Any] = []

    @property
    def connection(self) -> Any:
        """The ``Request`` (or ``WebSocket``), built on first use."""
        if self._connection is None:
            self._connection = self.make_connection(self.scope, self.receive, self.send)
        return self._connection


Extractor = Callable[[Context], Any]


@dataclass(slots=True)
class Plan:
    """The compiled calling plan of one handler or dependency."""

    func: Callable[..., Any]
    kind: str
    name: str
    #: (parameter name, extractor) for values available without I/O.
    simple: list[tuple[str, Extractor]] = field(default_factory=list)
    #: (parameter name, extractor) for body/form values (awaited).
    body: list[tuple[str, Callable[[Context], Awaitable[Any]]]] = field(default_factory=list)
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
        key = self.func
        if self.use_cache and key in ctx.cache:
            return ctx.cache[key]
        kwargs = await self.resolve(ctx)
        if ctx.errors:
            return None
        func = self.func
        if self.kind == _ASYNC:
            value = await func(**kwargs)
        elif self.kind == _SYNC:
            value = await run_sync(func, **kwargs)
        elif self.kind == _ASYNC_GEN:
            gen = func(**kwargs)
            value = await anext(gen, _DONE)
            if value is _DONE:
                raise RuntimeError(f"Dependency {self.name!r} returned without yielding")
            ctx.exits.append(gen)
        else:
            gen = func(**kwargs)
            value = await run_sync(next, gen, _DONE)
            if value is _DONE:
                raise RuntimeError(f"Dependency {self.name!r} returned without yielding")
            ctx.exits.append(gen)
        if self.use_cache:
            ctx.cache[key] = value
        return value


async def unwind(exits: list[Any], exc: BaseException | None) -> None:
    """Finish yield-dependencies, newest first; ``exc`` is thrown into each.

    An exception raised by a cleanup replaces the one in flight and is raised
    at the end, after every other cleanup has run.
    """
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
                if await run_sync(next, gen, _DONE) is _DONE:
                    continue
            elif await run_sync(_throw, gen, exc) is _DONE:
                continue
        except StopAsyncIteration:
            continue
        except BaseException as err:
            if err is not exc:
                exc = err
            continue
        exc = RuntimeError(
            f"Dependency {getattr(gen, '__qualname__', gen)!r} yielded more than once"
        )
    exits.clear()
    if exc is not original and exc is not None:
        raise exc


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


def _error(loc: list[str | int], msg: str, kind: str) -> FieldError:
    return FieldError(loc, msg, kind)


def compile_plan(
    func: Callable[..., Any],
    *,
    path_params: Mapping[str, Any],
    providers: Mapping[type, Provider],
    connection_type: type,
    where: str,
    use_cache: bool = True,
    side_dependencies: tuple[Depends, ...] = (),
    _seen: tuple[Callable[..., Any], ...] = (),
) -> Plan:
    """Compile ``func``'s signature into a :class:`Plan`.

    Args:
        func: The handler or dependency.
        path_params: Names in the route path -> their converter (``python_type`` used).
        providers: Types injectable app-wide.
        connection_type: ``Request`` for HTTP routes, ``WebSocket`` for WebSocket ones.
        where: How to name ``func`` in error messages (``"GET /users/{id} (users.py:12)"``).
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
    )
    sub: dict[str, Any] = {
        "path_params": path_params,
        "providers": providers,
        "connection_type": connection_type,
        "_seen": (*_seen, func),
    }
    for dep in side_dependencies:
        plan.side_dependencies.append(
            compile_plan(
                dep.dependency, where=f"{where} dependency", use_cache=dep.use_cache, **sub
            )
        )

    body_specs: list[tuple[str, str, Any, Any, Validator | None, bool]] = []
    #: Whether each JSON body parameter insists on a JSON Content-Type (see ``Body``).
    strict_json: list[bool] = []
    for pname, param in signature.parameters.items():
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
            plan.simple.append((pname, _connection))
            plan.params[pname] = describe("connection", pname)
            continue
        # 3. App-level providers, by type.
        provider = _find_provider(base, providers) if marker is None else None
        if provider is not None:
            if provider.factory is not None:
                plan.dependencies.append(
                    (
                        pname,
                        compile_plan(
                            provider.factory,
                            where=f"{here} (provider of {provider.type.__name__})",
                            **sub,
                        ),
                    )
                )
            else:
                plan.simple.append((pname, _constant(provider.value)))
            plan.params[pname] = describe("provider", pname)
            continue
        # 4. Values from the request.
        if marker is not None:
            source = marker.source
        elif pname in path_params:
            source = "path"
        elif isinstance(base, type) and issubclass(base, UploadFile):
            source = "file"
        elif is_model(annotation):
            source = "body"
        else:
            source = "query"
        constraints = marker.constraints if isinstance(marker, Param) else {}
        alias = marker.alias if isinstance(marker, Param) else None
        try:
            validator = None if source == "file" else make_validator(full_type, constraints)
        except Exception as exc:
            raise ConfigurationError(
                f"{here}: cannot inject type {annotation!r}: it is not a path, query, header "
                "or body type and no provider is registered for it (a battery provides its "
                "types once installed, e.g. app.install(Database(...)))"
            ) from exc
        multi = is_sequence(annotation)

        if source == "path":
            if pname not in path_params:
                raise ConfigurationError(f"{here}: the route path has no {{{pname}}}")
            conv_type = getattr(path_params[pname], "python_type", str)
            raw = base is conv_type and not constraints and not rest
            plan.simple.append((pname, _path_extractor(pname, None if raw else validator)))
            plan.params[pname] = describe("path", pname)
            if raw:
                plan.raw_path.add(pname)
        elif source in ("query", "header", "cookie"):
            if source == "header":
                convert = getattr(marker, "convert_underscores", True)
                key = (alias or (pname.replace("_", "-") if convert else pname)).lower()
            else:
                key = alias or pname
            plan.simple.append((pname, _scalar_extractor(source, key, default, validator, multi)))
            plan.params[pname] = describe(source, key)
        elif source in ("body", "form", "file"):
            key = alias or pname
            embed = isinstance(marker, Body) and marker.embed
            if source == "body":
                strict_json.append(not isinstance(marker, Body) or marker.strict_content_type)
            body_specs.append(
                (pname, source if not embed else "body-embed", key, default, validator, multi)
            )
            plan.params[pname] = describe(source, key, embed)
        else:  # pragma: no cover - markers define sources above
            raise ConfigurationError(f"{here}: unknown source {source!r}")

    json_specs = [s for s in body_specs if s[1] in ("body", "body-embed")]
    # Relaxed only when every body parameter asks for it: one strict model keeps it strict.
    strict = not strict_json or any(strict_json)
    if len(json_specs) == 1 and json_specs[0][1] == "body":
        name, _, key, default, validator, _ = json_specs[0]
        plan.body.append((name, _whole_body_extractor(default, validator, strict)))
    else:
        for name, _, key, default, validator, _ in json_specs:
            plan.body.append((name, _body_key_extractor(key, default, validator, strict)))
            info = plan.params[name]
            if not info.embed:
                plan.params[name] = dataclasses.replace(info, embed=True)
    for name, source, key, default, validator, multi in body_specs:
        if source in ("form", "file"):
            plan.body.append((name, _form_extractor(source, key, default, validator, multi)))
    return plan


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
    if provider is not None:
        return provider
    for ptype, candidate in providers.items():
        if issubclass(ptype, base):
            return candidate
    return None


def _constant(value: Any) -> Extractor:
    return lambda ctx: value


def _connection(ctx: Context) -> Any:
    return ctx.connection


def _path_extractor(name: str, validator: Validator | None) -> Extractor:
    if validator is None:
        return lambda ctx: ctx.scope["path_params"][name]

    def extract(ctx: Context) -> Any:
        return validator(ctx.scope["path_params"][name], ["path", name], ctx.errors)

    return extract


def _scalar_extractor(
    source: str, key: str, default: Any, validator: Validator | None, multi: bool
) -> Extractor:
    def values(ctx: Context) -> Any:
        conn = ctx.connection
        if source == "query":
            container = conn.query_params
        elif source == "header":
            container = conn.headers
        else:
            container = conn.cookies
        if multi:
            found = (
                container.getlist(key)
                if hasattr(container, "getlist")
                else ([container[key]] if key in container else [])
            )
            return found if found else MISSING
        return container.get(key, MISSING)

    def extract(ctx: Context) -> Any:
        raw = values(ctx)
        if raw is MISSING:
            if default is MISSING:
                ctx.errors.append(_error([source, key], "Field required", "missing"))
                return None
            return default
        if validator is None:
            return raw
        return validator(raw, [source, key], ctx.errors)

    return extract


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_json_type(ctype: str) -> bool:
    """``application/json`` or ``application/*+json`` (a media type without parameters)."""
    return ctype == "application/json" or (
        ctype.startswith("application/") and ctype.endswith("+json")
    )


async def _read_body_data(ctx: Context, strict: bool) -> Any:
    """The body as Python data: parsed JSON (or, not ``strict``, a form as a dict);
    MISSING when empty.

    ``strict``: only a JSON Content-Type is read, anything else is a 415, so a
    cross-site ``<form>`` or no-cors ``fetch`` (which cannot send one without a
    CORS preflight) never reaches a JSON handler.
    """
    if "carboy.body_data" in ctx.cache:
        return ctx.cache["carboy.body_data"]
    request: Request = ctx.connection
    ctype = request.content_type
    data: Any
    if strict:
        if not is_json_type(ctype) and (ctype or await request.body()):
            raise HTTPException(
                415,
                f"Unsupported Content-Type {ctype or '(none)'!r}: this endpoint takes a "
                "JSON body; send Content-Type: application/json",
            )
        raw = await request.body()
        data = await request.json() if raw else MISSING
    elif ctype in _FORM_TYPES:
        form = await request.form()
        data = {}
        for k, v in form.multi_items():
            if k in data:
                data[k] = [*data[k], v] if isinstance(data[k], list) else [data[k], v]
            else:
                data[k] = v
    elif ctype in ("", "text/plain") or is_json_type(ctype):
        raw = await request.body()
        data = await request.json() if raw else MISSING
    else:
        raise HTTPException(
            415, f"Unsupported Content-Type {ctype!r}: send application/json or a form"
        )
    ctx.cache["carboy.body_data"] = data
    return data


def _whole_body_extractor(
    default: Any, validator: Validator | None, strict: bool
) -> Callable[[Context], Awaitable[Any]]:
    async def extract(ctx: Context) -> Any:
        data = await _read_body_data(ctx, strict)
        if data is MISSING:
            if default is MISSING:
                ctx.errors.append(_error(["body"], "Field required", "missing"))
                return None
            return default
        return validator(data, ["body"], ctx.errors) if validator else data

    return extract


def _body_key_extractor(
    key: str, default: Any, validator: Validator | None, strict: bool
) -> Callable[[Context], Awaitable[Any]]:
    async def extract(ctx: Context) -> Any:
        data = await _read_body_data(ctx, strict)
        if data is MISSING:
            data = {}
        if not isinstance(data, dict):
            ctx.errors.append(_error(["body"], "Input should be an object", "dict_type"))
            return None
        if key not in data:
            if default is MISSING:
                ctx.errors.append(_error(["body", key], "Field required", "missing"))
                return None
            return default
        return validator(data[key], ["body", key], ctx.errors) if validator else data[key]

    return extract


def _form_extractor(
    source: str, key: str, default: Any, validator: Validator | None, multi: bool
) -> Callable[[Context], Awaitable[Any]]:
    async def extract(ctx: Context) -> Any:
        request: Request = ctx.connection
        ctype = request.content_type
        if ctype not in _FORM_TYPES:
            raise HTTPException(
                415,
                f"Unsupported Content-Type {ctype or '(none)'!r}: this endpoint takes a form; "
                "send application/x-www-form-urlencoded or multipart/form-data",
            )
        form: FormData = await request.form()
        values = form.getlist(key)
        if not values:
            if default is MISSING:
                ctx.errors.append(_error([source, key], "Field required", "missing"))
                return None
            return default
        if source == "file":
            files = [v for v in values if isinstance(v, UploadFile)]
            if len(files) != len(values):
                ctx.errors.append(_error([source, key], "Expected an uploaded file", "file_type"))
                return None
            return files if multi else files[-1]
        raw = values if multi else values[-1]
        if isinstance(raw, UploadFile):
            ctx.errors.append(_error([source, key], "Expected a field, got a file", "str_type"))
            return None
        return validator(raw, [source, key], ctx.errors) if validator else raw

    return extract
