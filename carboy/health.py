"""Liveness and readiness endpoints for load balancers and orchestrators: ``/healthz``, ``/readyz``.

``/healthz`` answers 200 while the process serves requests (liveness: restart
me if this fails). ``/readyz`` runs every installed module's readiness checks
(the database answers ``SELECT 1``, Redis answers ``PING``, the broker accepts
a connection) and answers 200 only when all pass, else 503 with what failed
(readiness: send me traffic only if this passes).

Example:
    >>> from carboy import Carboy
    >>> from carboy.health import Health
    >>> app = Carboy()
    >>> app.install(Health())
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

from carboy.concurrency import run_sync
from carboy.modules import Module, ReadinessCheck
from carboy.responses import JSONResponse

if TYPE_CHECKING:
    from carboy.app import Carboy

logger = logging.getLogger("carboy.health")

_NO_STORE = {"cache-control": "no-store"}


class Health(Module):
    """The ``/healthz`` and ``/readyz`` endpoints.

    Args:
        live: Path of the liveness endpoint.
        ready: Path of the readiness endpoint.
        timeout: Seconds each readiness check may take before it counts as failed.

    Example:
        >>> app.install(Health(timeout=1.0))
    """

    def __init__(
        self, *, live: str = "/healthz", ready: str = "/readyz", timeout: float = 2.0
    ) -> None:
        super().__init__("health")
        self.timeout = timeout
        self._app: Carboy | None = None
        hidden = {"include_in_schema": False}
        self.add_route(live, self._live, methods=("GET",), name="live", extra=hidden)
        self.add_route(ready, self._ready, methods=("GET",), name="ready", extra=hidden)

    def setup(self, app: Carboy) -> None:
        """Remember the app whose modules' checks ``/readyz`` runs."""
        self._app = app

    def all_checks(self) -> dict[str, ReadinessCheck]:
        """Every installed module's readiness checks, by ``module.name`` (``db.database``)."""
        found: dict[str, ReadinessCheck] = {}
        if self._app is not None:
            for module in self._app.walk():
                for name, func in module.readiness_checks.items():
                    found[f"{module.name or 'app'}.{name}"] = func
        return found

    async def _run(self, name: str, func: ReadinessCheck) -> tuple[str, str]:
        async def call() -> Any:
            if inspect.iscoroutinefunction(func):
                return await func()
            result = await run_sync(func)
            if inspect.isawaitable(result):
                return await result
            return result

        try:
            await asyncio.wait_for(call(), self.timeout)
        except TimeoutError:
            logger.warning("readiness check %s timed out after %.1fs", name, self.timeout)
            return name, f"timed out after {self.timeout:g}s"
        except Exception as exc:
            logger.warning("readiness check %s failed: %r", name, exc)
            return name, f"failed: {type(exc).__name__}"
        return name, "ok"

    async def readiness(self) -> dict[str, str]:
        """Run every check at once: ``{"db.database": "ok", "cache.cache": "failed: ..."}``."""
        results = await asyncio.gather(*(self._run(n, f) for n, f in self.all_checks().items()))
        return dict(results)

    async def _live(self) -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=_NO_STORE)

    async def _ready(self) -> JSONResponse:
        checks = await self.readiness()
        ok = all(result == "ok" for result in checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)
