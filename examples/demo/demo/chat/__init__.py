"""A WebSocket chat room: every message is sent to everyone connected."""

from __future__ import annotations

from carboy import Module, WebSocketDisconnect
from carboy.templating import render
from carboy.websockets import WebSocket

chat = Module("chat", prefix="/chat")

ROOM: set[WebSocket] = set()


@chat.get("/")
async def room() -> object:
    """The chat page."""
    return render("chat/index.html")


@chat.websocket("/ws")
async def chat_socket(ws: WebSocket, name: str = "guest") -> None:
    """Join the room: send ``{"text": ...}``; everyone gets ``{"from": ..., "text": ...}``."""
    await ws.accept()
    ROOM.add(ws)
    try:
        while True:
            data = await ws.receive_json()
            text = str(data.get("text", ""))[:500] if isinstance(data, dict) else ""
            if not text:
                await ws.send_json({"error": "send an object with a non-empty 'text'"})
                continue
            for peer in list(ROOM):
                try:
                    await peer.send_json({"from": name[:40], "text": text})
                except Exception:
                    ROOM.discard(peer)
    except WebSocketDisconnect:
        pass
    finally:
        ROOM.discard(ws)
