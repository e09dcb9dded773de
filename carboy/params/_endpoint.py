"""Turning a route's handler into the ASGI endpoint the router calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from carboy.concurrency import run_sync
from carboy.exceptions import ConfigurationError, RequestValidationError
from carboy.params._markers import Depends
from carboy.params._plan import Context, Plan, Provider, compile_plan, unwind
from carboy.params._respond import (
    Encoder,
    make_encoder,
    make_responder,
    make_shaper,
    to_response,
)
from carboy.requests import Request
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
) -> tuple[ASGIApp, Plan]:
    """Compile ``func`` into an ASGI endpoint; also return its plan (for docs and tools).

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
    respond = make_responder(media_type, status_code, shape)
    is_async = plan.kind == "async"
    if plan.kind in ("gen", "async_gen"):
        raise ConfigurationError(
            f"{where}: a handler cannot be a generator; return a StreamingResponse instead"
        )

    # The fast paths: nothing to resolve but the matched path (or nothing at all).
    # Without router middleware the app's dispatcher calls these handlers itself
    # (see DIRECT_ATTR); the endpoints below serve them when middleware wraps them.
    if plan.path_only and is_async:
        names = tuple(plan.params)
        every = set(names) == set(path_params)

        async def endpoint_path(scope: Scope, receive: Receive, send: Send) -> None:
            params = scope["path_params"]
            rv = await (func(**params) if every else func(**{n: params[n] for n in names}))
            await respond(rv, scope, receive, send)

        # A shaped route is not dispatched directly: the direct path's fallback
        # (to_response) would skip the shape for tuples.
        if (every or not names) and shape is None:
            direct = Direct(
                func,
                bool(names),
                make_encoder(media_type, status_code),
                make_encoder(media_type, status_code, head=True),
                media_type,
                status_code,
            )
            setattr(endpoint_path, DIRECT_ATTR, direct)
        return endpoint_path, plan

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        ctx = Context(scope, receive, send)
        try:
            try:
                kwargs = await plan.resolve(ctx)
                if ctx.errors:
                    raise RequestValidationError(ctx.errors)
                if is_async:
                    rv = await func(**kwargs)
                else:
                    rv = await run_sync(func, **kwargs)
                if ctx.exits:
                    # Render before cleanup, so a value that cannot be sent rolls back too.
                    rv = to_response(rv, media_type, status_code, shape)
                    # A template body renders while the session is open (lazy loads work).
                    prerender = getattr(rv, "render_now", None)
                    if prerender is not None:
                        await prerender(scope, receive, in_thread=not is_async)
            except BaseException as exc:
                if ctx.exits:
                    await unwind(ctx.exits, exc)
                raise
            if ctx.exits:
                await unwind(ctx.exits, None)
            await respond(rv, scope, receive, send)
        finally:
            # Also on errors (a 422 for a form with uploads must free its files).
            conn = ctx._connection
            if conn is not None:
                await conn.close()

    return endpoint, plan


def compile_websocket_endpoint(
    func: Callable[..., Any],
    *,
    path_params: Mapping[str, Any],
    providers: Mapping[type, Provider],
    dependencies: tuple[Depends, ...],
    where: str,
) -> tuple[ASGIApp, Plan]:
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
                await run_sync(func, **kwargs)
        except BaseException as exc:
            if ctx.exits:
                try:
                    await unwind(ctx.exits, exc)
                except BaseException as replaced:
                    exc = replaced
            await close_for_exception(ws, exc)
            if isinstance(exc, Exception) and _is_client_error(exc):
                return
            raise exc from None
        if ctx.exits:
            await unwind(ctx.exits, None)
        await finish(ws)

    return endpoint, plan


def _is_client_error(exc: Exception) -> bool:
    from carboy.exceptions import HTTPException, WebSocketDisconnect, WebSocketException

    return isinstance(exc, WebSocketDisconnect | WebSocketException | HTTPException)


class Direct(NamedTuple):
    """A handler the app's dispatcher may call itself: it needs nothing but the path.

    Read by :meth:`carboy.Carboy.__call__` with one unpacking per request (one
    coroutine frame less than calling the endpoint). Middleware-wrapped endpoints
    do not carry it.
    """

    func: Callable[..., Any]
    #: Whether ``func`` takes the matched path parameters (all of them, by name).
    takes_params: bool
    encode: Encoder
    #: The same encoder with an empty body, for HEAD.
    encode_head: Encoder
    media_type: str | None
    status_code: int | None

    def for_head(self) -> Direct:
        """This handler as served for HEAD: same headers, no body."""
        return self._replace(encode=self.encode_head)


#: Attribute on a fast-path endpoint holding its :class:`Direct`.
DIRECT_ATTR = "__carboy_direct__"
