"""How every session of carboy.db ends, in one place.

Committed if nothing failed, else rolled back; closed always; a database error
raised as the HTTP error it means (409, 422, 503); after a commit, the
transaction's ``on_commit`` callbacks run. The request providers of ``Session``
and ``AsyncSession`` and ``Database.transaction()`` / ``atransaction()`` all end
their sessions here: :func:`end` for sync sessions, :func:`aend` for async ones,
the same steps (an async session's as one pass on its sync session). A
rollback or close that fails is logged, not raised: the connection is gone and
closing discards it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carboy.db import _commit
from carboy.exceptions import HTTPException

logger = logging.getLogger("carboy.db")

#: A database error -> the HTTP error it means, or None for any other exception.
Translate = Callable[[BaseException], HTTPException | None]


def raise_translated(exc: BaseException, translate: Translate) -> NoReturn:
    """Raise ``exc`` as the HTTP error it means (chained), or as it is."""
    translated = translate(exc)
    if translated is not None:
        raise translated from exc
    raise exc


def _finish(session: Session, exc: BaseException | None) -> BaseException | None:
    """Commit (if ``exc`` is None), roll back on any error, close; the error, if any."""
    if exc is None:
        try:
            session.commit()
        except BaseException as error:
            exc = error
    if exc is not None:
        try:
            session.rollback()
        except Exception as failed:
            logger.warning("Rollback failed: %s", failed)
    try:
        session.close()
    except Exception as failed:
        logger.warning("Closing a session failed: %s", failed)
    return exc


def end(
    session: Session,
    exc: BaseException | None,
    translate: Translate,
    pending: list[Callable[[], Any]] | None = None,
) -> None:
    """End a sync session; ``exc`` is what the block using it raised, if anything.

    ``pending``: the ``on_commit`` callbacks, run once the commit succeeded.
    """
    exc = _finish(session, exc)
    if exc is not None:
        raise_translated(exc, translate)
    if pending:
        _commit._run(pending)


async def aend(
    session: AsyncSession,
    exc: BaseException | None,
    translate: Translate,
    pending: list[Callable[[], Any]] | None = None,
) -> None:
    """Async :func:`end` (async ``on_commit`` callbacks are awaited).

    The commit (or rollback) and the close run as one step on the sync session
    (``run_sync``): one trip through SQLAlchemy's greenlet bridge, not two.
    """
    exc = await session.run_sync(_finish, exc)
    if exc is not None:
        raise_translated(exc, translate)
    if pending:
        await _commit._arun(pending)
