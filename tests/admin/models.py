"""The models the admin's tests administer (tables ``adm_*``, permission label ``shop``).

They live on a base of their own (``AdminTestBase``), not on ``Model``: the shared
registry is what every other test's project makes its migrations from.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Enum, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carboy.db import TimestampMixin, model_base


class Status(enum.Enum):
    DRAFT = "draft"
    REVIEW = "review"
    LIVE = "live"


AdminTestBase = model_base("AdminTestBase")

post_tags = Table(
    "adm_post_tags",
    AdminTestBase.metadata,
    Column("post_id", ForeignKey("adm_post.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("adm_tag.id", ondelete="CASCADE"), primary_key=True),
)


class Category(AdminTestBase):
    __tablename__ = "adm_category"
    __permission_label__ = "shop"

    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class Tag(AdminTestBase):
    __tablename__ = "adm_tag"
    __permission_label__ = "shop"

    name: Mapped[str] = mapped_column(String(50), unique=True)

    def __str__(self) -> str:
        return self.name


class Post(TimestampMixin, AdminTestBase):
    __tablename__ = "adm_post"
    __permission_label__ = "shop"

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False)
    status: Mapped[Status] = mapped_column(Enum(Status), default=Status.DRAFT)
    rating: Mapped[int | None] = mapped_column(default=None)
    image: Mapped[str | None] = mapped_column(String(255), default=None)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("adm_category.id", ondelete="SET NULL"), default=None
    )
    category: Mapped[Category | None] = relationship(Category)
    tags: Mapped[list[Tag]] = relationship(Tag, secondary=post_tags)

    def __str__(self) -> str:
        return self.title


class Comment(TimestampMixin, AdminTestBase):
    __tablename__ = "adm_comment"
    __permission_label__ = "shop"

    post_id: Mapped[int] = mapped_column(ForeignKey("adm_post.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:20]}"


class Pin(AdminTestBase):
    """A row that stops its post from being deleted (a foreign key with no ON DELETE)."""

    __tablename__ = "adm_pin"
    __permission_label__ = "shop"

    post_id: Mapped[int] = mapped_column(ForeignKey("adm_post.id"))
    note: Mapped[str] = mapped_column(String(50), default="")
    pinned_at: Mapped[datetime | None] = mapped_column(default=None)
