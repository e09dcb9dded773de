"""The ASGI lifespan protocol for a :class:`~carboy.Carboy` app: start-up and shutdown hooks."""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING, Protocol

from carboy.background import Background
from carboy.modules import Module, run_hook
from carboy.types import Receive, Send

if TYPE_CHECKING:
    from carboy.settings import Settings

logger = logging.getLogger("carboy.error")

#: Lifespan scope key: True when an in-process client (``carboy.testing``) runs the
#: lifespan, not a server; the start-up then leaves the heap alone (``gc_freeze``).
IN_PROCESS_KEY = "carboy.in_process"


class LifespanApp(Protocol):
    """What the lifespan needs of the app (the app module imports this one, not the reverse)."""

    background: Background
    settings: Settings

    def build(self) -> None: ...

    def walk(self, *, children_first: bool = False) -> list[Module]: ...


async def serve_lifespan(
    app: LifespanApp, receive: Receive, send: Send, *, in_process: bool = False
) -> None:
    """Build ``app``, run every module's start-up hooks, wait, then the shutdown hooks.

    ``app.background`` accepts tasks from the start-up hooks on; at shutdown
    it waits for them (then cancels them) before any shutdown hook runs.

    Modules start after those they installed, in install order, the app last;
    shutdown runs in the reverse order, and only for modules that started. A
    failing start-up hook shuts down what started and reports the failure; a
    failing shutdown hook is logged and the others still run.

    With the ``gc_freeze`` setting on (the default), a server's start-up ends
    with :func:`freeze_heap`; ``in_process`` (a test client's) does not.
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
        if app.settings.gc_freeze and not in_process:
            freeze_heap()
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


#: Set once :func:`freeze_heap` has run in this process.
_heap_frozen = False


def freeze_heap() -> bool:
    """Collect garbage, then freeze what is alive (``gc.freeze()``); once per process.

    What start-up leaves alive (modules, the app and its routes, the ORM's
    mappers, pools) stays alive until the process ends. Left to the cyclic
    collector, each of its full passes walks all of it, and with SQLAlchemy
    and pydantic loaded that is a pause of tens of milliseconds in the middle
    of some response. Frozen, those objects are out of its reach (reference
    counting still frees them) and a full pass walks only what serving made.

    Only the first call in a process freezes (a later app's start-up leaves
    the heap alone); returns whether this call did. A test client's start-up
    never calls it: a test process has nothing to gain, and a test may count
    on the collector freeing what it made earlier.
    """
    global _heap_frozen
    if _heap_frozen:
        return False
    _heap_frozen = True
    gc.collect()  # no garbage is frozen: cycles left by start-up are freed first
    gc.freeze()
    return True


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
