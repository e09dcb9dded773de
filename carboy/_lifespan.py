"""The ASGI lifespan protocol for a :class:`~carboy.Carboy` app: start-up and shutdown hooks."""

from __future__ import annotations

import logging
from typing import Protocol

from carboy.background import Background
from carboy.modules import Module, run_hook
from carboy.types import Receive, Send

logger = logging.getLogger("carboy.error")


class LifespanApp(Protocol):
    """What the lifespan needs of the app (the app module imports this one, not the reverse)."""

    background: Background

    def build(self) -> None: ...

    def walk(self, *, children_first: bool = False) -> list[Module]: ...


async def serve_lifespan(app: LifespanApp, receive: Receive, send: Send) -> None:
    """Build ``app``, run every module's start-up hooks, wait, then the shutdown hooks.

    ``app.background`` accepts tasks from the start-up hooks on; at shutdown
    it waits for them (then cancels them) before any shutdown hook runs.

    Modules start after those they installed, in install order, the app last;
    shutdown runs in the reverse order, and only for modules that started. A
    failing start-up hook shuts down what started and reports the failure; a
    failing shutdown hook is logged and the others still run.
    """
    message = await receive()
    if message["type"] != "lifespan.startup":  # pragma: no cover - protocol guarantee
        return
    started: list[Module] = []
    try:
        app.build()
        app.background._start()
        for module in app.walk(children_first=True):
            for hook in module.startup_hooks:
                await run_hook(hook)
            started.append(module)
    except BaseException as exc:
        logger.error("Startup failed", exc_info=exc)
        await app.background._stop()
        await run_shutdown(started)
        await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    await send({"type": "lifespan.startup.complete"})
    await receive()  # lifespan.shutdown
    # Background tasks stop first: they may use what the shutdown hooks close.
    await app.background._stop()
    failure = await run_shutdown(started)
    if failure is not None:
        await send({"type": "lifespan.shutdown.failed", "message": failure})
    else:
        await send({"type": "lifespan.shutdown.complete"})


async def run_shutdown(started: list[Module]) -> str | None:
    """Run the shutdown hooks of ``started`` in reverse; the first failure, if any."""
    failure: str | None = None
    for module in reversed(started):
        for hook in reversed(module.shutdown_hooks):
            try:
                await run_hook(hook)
            except Exception as exc:
                logger.error("Shutdown hook %r failed", hook, exc_info=exc)
                failure = failure or f"{type(exc).__name__}: {exc}"
    return failure
