"""Turning a route's handler into the ASGI endpoint the router calls."""

from __future__ import annotations

import asyncio
import functools
from asyncio import AbstractEventLoop
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from carboy.exceptions import ConfigurationError, RequestValidationError
from carboy.params._compile import compile_plan
from carboy.params._context import Context
from carboy.params._markers import Depends
from carboy.params._plan import Plan, Provider, unwind, unwind_sync
from carboy.params._respond import Encoder, Renderer, Responder, make_responder, make_shaper
from carboy.requests import Request
from carboy.responses import Response
from carboy.types import ASGIApp, Receive, Scope, Send


def compile_http_endpoint(
    func: Callable[..., Any],
    *,
    path_params: Mapping[str, Any],
    providers: Mapping[type, Provider],
    dependencies: tuple[Depends, ...],
    media_type: str | None,
    status_code: int | None,
    where: str,
    response_model: Any = None,
    exclude_none: bool = False,
) -> CompiledEndpoint:
    """Compile ``func`` into an ASGI endpoint, with its plan (for docs and tools).

    The return value is sent as ``response_model`` when given, else as the
    return annotation when that is a model type (see ``make_shaper``).
    """
    plan = compile_plan(
        func,
        path_params=path_params,
        providers=providers,
        connection_type=Request,
        where=where,
        side_dependencies=dependencies,
        one_hop=True,
    )
    if response_model is not None:
        shape = make_shaper(response_model, convert=True, exclude_none=exclude_none)
        if shape is None:
            raise ConfigurationError(
                f"{where}: response_model={response_model!r} is not a pydantic model, "
                "msgspec Struct, dataclass or list of one"
            )
    else:
        shape = make_shaper(plan.return_type, convert=False, exclude_none=exclude_none)
    responder = make_responder(media_type, status_code, shape, plan.return_type)
    respond = responder.send
    is_async = plan.kind == "async"
    if plan.kind in ("gen", "async_gen"):
        raise ConfigurationError(
            f"{where}: a handler cannot be a generator; return a StreamingResponse instead"
        )

    # The fast paths: nothing to resolve but the matched path (or nothing at all).
    # Without route middleware the app's dispatcher calls these handlers itself
    # (see Direct); the endpoints below serve them when middleware wraps them.
    if plan.path_only and is_async:
        names = tuple(plan.params)
        every = set(names) == set(path_params)

        async def endpoint_path(scope: Scope, receive: Receive, send: Send) -> None:
            params = scope["path_params"]
            rv = await (func(**params) if every else func(**{n: params[n] for n in names}))
            await respond(rv, scope, receive, send)

        direct = None
        if every or not names:
            direct = Direct(
                func,
                bool(names),
                responder.encode,
                responder.encode_head,
                responder.general,
                responder.render,
                responder.status,
            )
        return CompiledEndpoint(endpoint_path, plan, direct)

    if not is_async:
        return CompiledEndpoint(_one_hop_endpoint(plan, responder), plan, None)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Context(scope, receive, send)
        try:
            try:
                kwargs = await plan.resolve(ctx)
                if ctx.errors:
                    raise RequestValidationError(ctx.errors)
                rv = await func(**kwargs)
                if ctx.exits:
                    rv = await responder.finish(rv, scope, receive)
            except BaseException as exc:
                if ctx.exits:
                    await unwind(ctx, exc)
                raise
            if ctx.exits:
                await unwind(ctx, None)
            await respond(rv, scope, receive, send)
        finally:
            # Also on errors (a 422 for a form with uploads must free its files).
            conn = ctx._connection
            if conn is not None:
                await conn.close()

    return CompiledEndpoint(endpoint, plan, None)


def _one_hop_endpoint(plan: Plan, responder: Responder) -> ASGIApp:
    """The endpoint of a ``def`` handler: one thread hop per request.

    On the loop first: the request's values, the body, the async dependencies
    (:meth:`Plan.prepare`). Then, in one worker thread, the ``def`` dependencies
    (a ``Session`` among them), the handler, the body of its response (a
    template renders while the session is open) and the ``def`` generators'
    cleanup (the session's commit), so a request holding a row lock commits in
    the thread it already has. The async generators finish on the loop after.
    """
    func = plan.func

    def in_thread(ctx: Context, ready: dict[int, dict[str, Any]], loop: AbstractEventLoop) -> Any:
        start = len(ctx.exits)
        try:
            kwargs = plan.resolve_sync(ctx, ready)
            if ctx.errors:
                raise RequestValidationError(ctx.errors)
            rv = func(**kwargs)
            if ctx.exits:
                rv = responder.finish_sync(rv, ctx.scope, ctx.receive, loop)
        except BaseException as exc:
            unwind_sync(ctx.exits, start, exc)
            raise
        unwind_sync(ctx.exits, start, None)
        return rv

    respond = responder.send

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Context(scope, receive, send)
        try:
            try:
                ready: dict[int, dict[str, Any]] = {}
                await plan.prepare(ctx, ready)
                if ctx.errors:
                    raise RequestValidationError(ctx.errors)
                rv = await ctx.run_sync(in_thread, ctx, ready, asyncio.get_running_loop())
            except BaseException as exc:
                if ctx.exits:
                    await unwind(ctx, exc)
                raise
            if ctx.exits:
                await unwind(ctx, None)
            await respond(rv, scope, receive, send)
        finally:
            conn = ctx._connection
            if conn is not None:
                await conn.close()

    return endpoint


def compile_websocket_endpoint(
    func: Callable[..., Any],
    *,
    path_params: Mapping[str, Any],
    providers: Mapping[type, Provider],
    dependencies: tuple[Depends, ...],
    where: str,
) -> CompiledEndpoint:
    """Compile a WebSocket handler: same injection; errors close the socket with a code."""
    from carboy.websockets import WebSocket, close_for_exception, finish

    plan = compile_plan(
        func,
        path_params=path_params,
        providers=providers,
        connection_type=WebSocket,
        where=where,
        side_dependencies=dependencies,
    )

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Context(scope, receive, send, make_connection=WebSocket)
        ws = ctx.connection
        try:
            kwargs = await plan.resolve(ctx)
            if ctx.errors:
                raise RequestValidationError(ctx.errors)
            if plan.kind == "async":
                await func(**kwargs)
            else:
                await ctx.run_sync(functools.partial(func, **kwargs))
        except BaseException as exc:
            if ctx.exits:
                try:
                    await unwind(ctx, exc)
                except BaseException as replaced:
                    exc = replaced
            await close_for_exception(ws, exc)
            if isinstance(exc, Exception) and _is_client_error(exc):
                return
            raise exc from None
        if ctx.exits:
            await unwind(ctx, None)
        await finish(ws)

    return CompiledEndpoint(endpoint, plan, None)


def _is_client_error(exc: Exception) -> bool:
    from carboy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException

    return isinstance(exc, WebSocketDisconnect | WebSocketException | HTTPException)


class Direct(NamedTuple):
    """A handler the app's dispatcher may call itself: it needs nothing but the path.

    Read by :meth:`carboy.Carboy.__call__` with one unpacking per request (one
    coroutine frame less than calling the endpoint). The encoders and the
    general path are the route's :class:`Responder`'s. Only an endpoint that no
    route middleware wraps may be bypassed this way: the app decides.

    Example:
        >>> compiled = compile_http_endpoint(hello, path_params={}, ...)
        >>> func, takes_params, encode, _, general, _, _ = compiled.direct
    """

    func: Callable[..., Any]
    #: Whether ``func`` takes the matched path parameters (all of them, by name).
    takes_params: bool
    encode: Encoder
    #: The same encoder with an empty body, for HEAD.
    encode_head: Encoder
    #: Any value the encoder declines -> its Response (``Responder.general``).
    general: Callable[[Any], Response]
    #: The value -> its content-type header and body (``Responder.render``), for RSGI.
    render: Renderer
    #: The status ``encode`` and ``render`` send.
    status: int

    def for_head(self) -> Direct:
        """This handler as served for HEAD: same headers, no body."""
        return self._replace(encode=self.encode_head)


class CompiledEndpoint(NamedTuple):
    """A compiled route handler: what the ``compile_*_endpoint`` functions return.

    Example:
        >>> endpoint, plan, direct = compile_http_endpoint(hello, path_params={}, ...)
        >>> [p.name for p in plan.request_params()]
        []
    """

    #: The ASGI endpoint that serves the route.
    endpoint: ASGIApp
    #: Where each argument comes from (for ``routes_info()``).
    plan: Plan
    #: Set when the dispatcher may call the handler itself (see :class:`Direct`).
    direct: Direct | None
