"""The blog's data: posts in categories, with tags, an optional image, and comments."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import Model, TimestampMixin

#: Which post has which tag (a many-to-many link; rows go with either side).
post_tags = Table(
    "post_tags",
    Model.metadata,
    Column("post_id", ForeignKey("post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
)


class Category(Model):
    """A section of the blog; a post is in one category, or none."""

    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100), unique=True)

    def __str__(self) -> str:
        return self.name


class Tag(Model):
    """A keyword; posts have any number of them."""

    name: Mapped[str] = mapped_column(String(50), unique=True)

    def __str__(self) -> str:
        return self.name


class Post(TimestampMixin, Model):
    """A blog post; only published posts are listed."""

    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False, index=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("category.id", ondelete="SET NULL"), default=None
    )
    #: The stored name of the post's picture (in the media storage), if it has one.
    image: Mapped[str | None] = mapped_column(String(255), default=None)
    # The classes themselves, not their names: a name is looked up in the registry every
    # model of the process shares, where another module may have a Tag too.
    category: Mapped[Category | None] = relationship(Category)
    tags: Mapped[list[Tag]] = relationship(Tag, secondary=post_tags, order_by=Tag.name)

    def __str__(self) -> str:
        return self.title


class Comment(TimestampMixin, Model):
    """A signed-in member's comment on a post, shown live to everyone reading it."""

    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.author} on post {self.post_id}"
