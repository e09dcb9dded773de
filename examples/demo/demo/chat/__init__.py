"""A WebSocket chat room: every message is sent to everyone connected.

Each member has an outbox of at most ``OUTBOX_SIZE`` messages, drained by a
task of its own, so a broadcast never waits on a client: one that stops
reading fills its outbox and is disconnected (close code 1008), while
everyone else keeps chatting.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from carboy import Module, Query, WebSocketDisconnect
from carboy.templating import render
from carboy.websockets import WebSocket

chat = Module("chat", prefix="/chat")

#: Messages waiting for one member before it counts as too slow and is dropped.
OUTBOX_SIZE = 32
#: Members in the room at most; a newcomer beyond it is turned away (close 1013).
MAX_MEMBERS = 200
#: Characters of a message kept (the rest is cut off).
MAX_TEXT = 500
#: Seconds given to a dropped member's close frame before giving up on it.
CLOSE_TIMEOUT = 1.0


class Member:
    """One connection in the room: its name and its bounded outbox."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTBOX_SIZE)
        self.dropped = False
        self.delivery: asyncio.Task[None] | None = None

    def offer(self, message: dict[str, Any]) -> None:
        """Queue ``message`` without waiting; a full outbox drops this member."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True
            ROOM.discard(self)
            if self.delivery is not None:
                self.delivery.cancel()


ROOM: set[Member] = set()


def broadcast(message: dict[str, Any]) -> None:
    """Offer ``message`` to every member (never waits on any of them)."""
    for member in list(ROOM):
        member.offer(message)


@chat.get("/")
async def room() -> object:
    """The chat page."""
    return render("chat/index.html")


async def _deliver(ws: WebSocket, member: Member) -> None:
    while True:
        await ws.send_json(await member.outbox.get())


async def _listen(ws: WebSocket, member: Member) -> None:
    try:
        while True:
            data = await ws.receive_json()
            text = str(data.get("text", ""))[:MAX_TEXT] if isinstance(data, dict) else ""
            if not text:
                member.offer({"error": "send an object with a non-empty 'text'"})
                continue
            broadcast({"from": member.name, "text": text})
    except WebSocketDisconnect:
        pass


@chat.websocket("/ws")
async def chat_socket(
    ws: WebSocket, name: Annotated[str, Query(min_length=1, max_length=40)] = "guest"
) -> None:
    """Join the room: send ``{"text": ...}``; everyone gets ``{"from": ..., "text": ...}``."""
    if len(ROOM) >= MAX_MEMBERS:
        await ws.accept()
        await ws.close(1013, "The room is full, try again later")
        return
    await ws.accept()
    member = Member(name)
    delivery = member.delivery = asyncio.create_task(_deliver(ws, member))
    listening = asyncio.create_task(_listen(ws, member))
    ROOM.add(member)
    try:
        await asyncio.wait({delivery, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ROOM.discard(member)
        for task in (delivery, listening):
            task.cancel()
        await asyncio.gather(delivery, listening, return_exceptions=True)
    if member.dropped:
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError):
            await asyncio.wait_for(
                ws.close(1008, "Too slow: messages were not read"), CLOSE_TIMEOUT
            )
        return
    # A failed delivery means the client is gone; a failed listen is the client's
    # fault (invalid JSON: carboy closes with 1007), so it goes to carboy.
    error = None if listening.cancelled() else listening.exception()
    if error is not None:
        raise error
