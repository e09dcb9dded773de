"""The blog: published posts with pagination, a page per post, and live comments.

A signed-in member's comment is saved, then, once its transaction commits,
published to the post's channel group: every browser reading that post gets
it over a WebSocket and shows it without a reload. With ``CARBOY_CHANNELS_URL``
set to Redis the same works across processes and machines.
"""

from __future__ import annotations

from typing import Annotated

from sqlalchemy import select

from carboy import HTTPException, Module, Query, Request
from carboy.auth import AuthUser, login_required
from carboy.channels import Channels
from carboy.db import AsyncSession, aget_or_404, apaginate, on_commit
from carboy.params import Form
from carboy.responses import JSONResponse, RedirectResponse
from carboy.templating import render
from carboy.websockets import WebSocket
from demo.blog.models import Comment, Post

blog = Module("blog", prefix="/blog", templates="templates")

#: Characters a comment may have.
MAX_COMMENT = 1000
#: Comments shown under a post (the newest ones).
SHOWN_COMMENTS = 100


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
    """One post and its latest comments, or 404."""
    post = await aget_or_404(session, Post, post_id)
    query = (
        select(Comment)
        .where(Comment.post_id == post_id)
        .order_by(Comment.id.desc())
        .limit(SHOWN_COMMENTS)
    )
    comments = list(reversed((await session.scalars(query)).all()))
    return render("blog/detail.html", {"post": post, "comments": comments})


def comment_json(comment: Comment) -> dict[str, object]:
    """What the channel and the API say about a comment."""
    return {
        "id": comment.id,
        "author": comment.author,
        "body": comment.body,
        "created_at": comment.created_at,
    }


@blog.post("/{post_id:int}/comments")
async def add_comment(
    request: Request,
    post_id: int,
    session: AsyncSession,
    channels: Channels,
    user: Annotated[AuthUser, login_required],
    body: Annotated[str, Form(min_length=1, max_length=MAX_COMMENT)],
) -> object:
    """Save a comment and publish it to everyone reading the post once it is committed."""
    post = await aget_or_404(session, Post, post_id)
    if not post.published:
        raise HTTPException(404)
    text = body.strip()
    if not text:
        raise HTTPException(422, "Write something first.")
    comment = Comment(post_id=post.id, author=user.display_name, body=text)
    session.add(comment)
    await session.flush()  # gives the comment its id and created_at
    data = comment_json(comment)
    on_commit(lambda: channels.apublish(f"post:{post.id}", data))
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(data, status_code=201)
    return RedirectResponse(f"{request.url_for('blog.post_detail', post_id=post.id)}#comments", 303)


@blog.websocket("/{post_id:int}/live")
async def live_comments(ws: WebSocket, post_id: int, channels: Channels) -> None:
    """The post's new comments, as they are posted: ``{"group": ..., "data": comment}``."""
    await channels.stream_websocket(ws, f"post:{post_id}")
