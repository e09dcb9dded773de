"""The admin's own table: ``admin_log_entry``, the history of every change made in it.

It belongs to the admin battery's migration history (the Alembic branch
``admin``): ``carboy migrate`` creates it, a project's ``makemigrations``
leaves it out. The user is kept by key and name, with no foreign key, so any
user store works and a deleted user's entries stay readable.
"""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Model, UTCDateTime


class ChangeKind(enum.Enum):
    """What an entry records."""

    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


def _now() -> datetime:
    return datetime.now(UTC)


class LogEntry(Model):
    """One change made in the admin: who, when, which object, which fields from what to what.

    ``changes`` is a JSON list of ``{"field", "label", "old", "new"}`` (the
    values as text), empty for an addition or a deletion.

    Example:
        >>> entry = LogEntry(model="blog.post", object_id="3", object_repr="Hello",
        ...                  kind=ChangeKind.CHANGE, user_id="1", user_name="ann")
        >>> entry.kind.value
        'change'
    """

    __tablename__ = "admin_log_entry"
    __table_args__ = (Index("ix_admin_log_entry_model_object_id", "model", "object_id"),)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(254))
    model: Mapped[str] = mapped_column(String(200))
    object_id: Mapped[str] = mapped_column(String(255))
    object_repr: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ChangeKind] = mapped_column(
        Enum(
            ChangeKind, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]
        )
    )
    changes_json: Mapped[str] = mapped_column("changes", Text, default="[]")
    message: Mapped[str] = mapped_column(String(500), default="")

    @property
    def changes(self) -> list[dict[str, Any]]:
        """The changed fields: ``[{"field", "label", "old", "new"}, ...]``."""
        found = json.loads(self.changes_json or "[]")
        return found if isinstance(found, list) else []

    def __str__(self) -> str:
        return f"{self.kind.value} {self.model} {self.object_repr}"
