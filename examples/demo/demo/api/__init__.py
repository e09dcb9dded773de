"""A JSON API for notes with typed validation (kept in memory)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from carboy import HTTPException, Module, Query

api = Module("api", prefix="/api", tags=["notes"])


class NoteIn(BaseModel):
    """What a client sends to create a note."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=10)


class Note(NoteIn):
    """A stored note."""

    id: int
    created: datetime


NOTES: dict[int, Note] = {}


@api.get("/notes")
async def list_notes(
    tag: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[Note]:
    """Notes, newest first, optionally those with ``tag``."""
    notes = [n for n in reversed(NOTES.values()) if tag is None or tag in n.tags]
    return notes[:limit]


@api.post("/notes", status_code=201)
async def create_note(note: NoteIn) -> Note:
    """Create a note from a JSON body."""
    new = Note(id=max(NOTES, default=0) + 1, created=datetime.now(UTC), **note.model_dump())
    NOTES[new.id] = new
    return new


@api.get("/notes/{note_id:int}")
async def get_note(note_id: int) -> Note:
    """One note, or 404."""
    if note_id not in NOTES:
        raise HTTPException(404, f"Note {note_id} does not exist")
    return NOTES[note_id]


@api.delete("/notes/{note_id:int}")
async def delete_note(note_id: int) -> None:
    """Delete a note (204), or 404."""
    if NOTES.pop(note_id, None) is None:
        raise HTTPException(404, f"Note {note_id} does not exist")
