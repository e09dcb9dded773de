"""Work that waits for the transaction to commit: :func:`on_commit`."""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("carboy.db")

#: The callbacks of the transaction that is open in this context, or None.
_pending: contextvars.ContextVar[list[Callable[[], Any]] | None] = contextvars.ContextVar(
    "carboy_db_on_commit", default=None
)


def on_commit(func: Callable[[], Any]) -> None:
    """Run ``func`` once the current transaction commits; never if it rolls back.

    The current transaction is the request's session (a handler's ``Session`` or
    ``AsyncSession`` parameter) or a ``db.transaction()`` / ``db.atransaction()``
    block. Outside of one, ``func`` runs at once. ``func`` may be async when the
    transaction is async. An exception from ``func`` is logged; the commit stands.

    This is how a task enqueued inside a transaction is sent only when its rows
    exist: ``carboy.tasks`` uses it for every ``enqueue``.

    Example:
        >>> with db.transaction() as session:
        ...     session.add(order)
        ...     on_commit(lambda: print("order saved"))
    """
    pending = _pending.get()
    if pending is None:
        result = func()
        if inspect.isawaitable(result):
            _discard(result)
            raise TypeError(
                "on_commit() got an async callback outside of a transaction: await it yourself"
            )
        return
    pending.append(func)


def in_transaction() -> bool:
    """True inside a request's session or a ``transaction()`` block.

    Example:
        >>> in_transaction()
        False
    """
    return _pending.get() is not None


def _open() -> tuple[list[Callable[[], Any]], contextvars.Token[list[Callable[[], Any]] | None]]:
    pending: list[Callable[[], Any]] = []
    return pending, _pending.set(pending)


def _close(token: contextvars.Token[list[Callable[[], Any]] | None]) -> None:
    try:
        _pending.reset(token)
    except ValueError:
        # Ended from another context (a request's generator finalized elsewhere).
        _pending.set(None)


def _run(pending: list[Callable[[], Any]]) -> None:
    for func in pending:
        try:
            result = func()
            if inspect.isawaitable(result):
                _discard(result)
                raise TypeError("an async on_commit() callback needs an async session")
        except Exception:
            logger.exception("on_commit callback %r failed after the commit", func)


def _discard(awaitable: Any) -> None:
    """Close a coroutine that cannot be awaited here, so it is not reported as leaked."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


async def _arun(pending: list[Callable[[], Any]]) -> None:
    for func in pending:
        try:
            result = func()
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_commit callback %r failed after the commit", func)
