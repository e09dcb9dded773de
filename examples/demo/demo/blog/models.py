"""The blog's data: posts and their comments."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
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


class Comment(TimestampMixin, Model):
    """A signed-in member's comment on a post, shown live to everyone reading it."""

    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.author} on post {self.post_id}"
