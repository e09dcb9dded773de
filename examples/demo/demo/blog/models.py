"""The blog's data: posts."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carboy.db import Model, TimestampMixin


class Post(TimestampMixin, Model):
    """A blog post; only published posts are listed."""

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False, index=True)

    def __str__(self) -> str:
        return self.title
