"""The demo's JSON API: the blog's posts as a model resource, and notes kept in memory.

``carboy.api`` documents all of it: the OpenAPI document at ``/api/openapi.json``
and Swagger UI at ``/api/docs`` (linked from the site's navigation). Reading
posts is open (published ones only, unless you may change posts); writing
needs the blog's permissions, with the session cookie or a personal access
token. Every input has a bound (the model's and the query's ``max_length``),
and so has the notes store: at most ``MAX_NOTES`` notes, the oldest let go first.

Every client has a quota (``API_RATE`` over the whole API, ``NOTE_WRITES`` for
new notes), counted in the app's cache: a client is its personal access token,
else its signed-in user, else its address. Each answer says what is left
(``RateLimit``); past the quota it is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import Select, select

from carboy import HTTPException, Query, Request
from carboy.api import API, OpenAPIConfig, api_client
from carboy.auth import AuthUser
from carboy.cache import Throttle
from demo.blog.models import Post

#: Requests a client may make per minute, over every route of the API.
API_RATE = "600/minute"
#: Notes a client may create per minute (each one is kept in this process's memory).
NOTE_WRITES = Throttle("60/minute", key=api_client, scope="notes")

api = API(
    prefix="/api",
    throttle=API_RATE,
    title="carboy demo API",
    version="1.0.0",
    description="The blog's posts and a notepad. Sign in on the site to try the writes.",
    # The demo shows its docs in any mode; a real project leaves them to the api_docs setting.
    docs=True,
    openapi=OpenAPIConfig(
        only_api=True,
        home_url="/",
        tags=[
            {"name": "posts", "description": "The blog's posts (a model resource)"},
            {"name": "notes", "description": "Notes kept in memory"},
        ],
    ),
)


def visible_posts(request: Request) -> Select[tuple[Post]]:
    """Everyone sees the published posts; editors (blog.change_post) see drafts too."""
    user = request.user
    if isinstance(user, AuthUser) and user.has_perm("blog.change_post"):
        return select(Post)
    return select(Post).where(Post.published)


posts = api.resource(
    Post,
    path="/posts",
    filters={"published": ["exact"], "created_at": ["gte", "lte"]},
    ordering=["created_at", "title"],
    default_ordering=["-created_at"],
    search=["title", "body"],
    lookup="slug",
    queryset=visible_posts,
    tags=["posts"],
)


#: A tag: 1 to 30 characters.
Tag = Annotated[str, Field(min_length=1, max_length=30)]
#: Notes kept at most; creating one more lets the oldest go.
MAX_NOTES = 1000


class NoteIn(BaseModel):
    """What a client sends to create a note."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class Note(NoteIn):
    """A stored note."""

    id: int
    created: datetime


NOTES: dict[int, Note] = {}  # in creation order, oldest first
_ids = itertools.count(1)


@api.get("/notes", tags=["notes"])
async def list_notes(
    tag: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Note]:
    """Notes, newest first, optionally those with ``tag``."""
    notes = [n for n in reversed(NOTES.values()) if tag is None or tag in n.tags]
    return notes[:limit]


@api.post("/notes", status_code=201, tags=["notes"], extra={"throttle": NOTE_WRITES})
async def create_note(note: NoteIn) -> Note:
    """Create a note from a JSON body."""
    new = Note(id=next(_ids), created=datetime.now(UTC), **note.model_dump())
    NOTES[new.id] = new
    while len(NOTES) > MAX_NOTES:
        del NOTES[next(iter(NOTES))]
    return new


@api.get("/notes/{note_id:int}", tags=["notes"])
async def get_note(note_id: int) -> Note:
    """One note, or 404."""
    if note_id not in NOTES:
        raise HTTPException(404, f"Note {note_id} does not exist")
    return NOTES[note_id]


@api.delete("/notes/{note_id:int}", tags=["notes"])
async def delete_note(note_id: int) -> None:
    """Delete a note (204), or 404."""
    if NOTES.pop(note_id, None) is None:
        raise HTTPException(404, f"Note {note_id} does not exist")
