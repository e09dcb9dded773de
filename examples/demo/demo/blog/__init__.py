"""The blog: a list of published posts with pagination, and a page per post."""

from __future__ import annotations

from typing import Annotated

from sqlalchemy import select

from carboy import Module, Query, Request
from carboy.db import AsyncSession, aget_or_404, apaginate
from carboy.templating import render
from demo.blog.models import Post

blog = Module("blog", prefix="/blog", templates="templates")


@blog.get("/")
async def post_list(
    request: Request, session: AsyncSession, page: Annotated[int, Query(ge=1)] = 1
) -> object:
    """Published posts, newest first, ten a page."""
    query = select(Post).where(Post.published).order_by(Post.created_at.desc(), Post.id.desc())
    posts = await apaginate(session, query, page, 10, url=request.url)
    return render("blog/list.html", {"page": posts})


@blog.get("/{post_id:int}")
async def post_detail(post_id: int, session: AsyncSession) -> object:
    """One post, or 404."""
    post = await aget_or_404(session, Post, post_id)
    return render("blog/detail.html", {"post": post})
