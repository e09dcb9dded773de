"""The table of :class:`~carboy.auth.DatabaseStore`: ``auth_session``.

It belongs to the auth battery's migration history (the Alembic branch
``auth``), so ``carboy migrate`` creates it and a project's own
``makemigrations`` leaves it out. Imported when ``Auth`` is installed with a
``Database``, never by ``import carboy.auth`` alone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Model, UTCDateTime


class SessionRecord(Model):
    """One stored session: the SHA-256 of its key, its data as JSON, and when it expires.

    Example:
        >>> SessionRecord.__tablename__
        'auth_session'
    """

    __tablename__ = "auth_session"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


#: The table itself, for SQLAlchemy Core queries (it outlives a disposed mapper registry).
auth_session: Table = SessionRecord.__table__  # type: ignore[assignment]  # a Table
