"""The app the fuzz suite attacks: a route for every kind of parameter carboy injects."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from pydantic import BaseModel, Field

from carboy import (
    Body,
    Carboy,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    Query,
    Request,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
)

HOST = "testserver"


class Item(BaseModel):
    """A pydantic JSON body with constraints and a nested list."""

    name: str = Field(min_length=1, max_length=50)
    price: float = Field(ge=0)
    tags: list[str] = Field(default_factory=list, max_length=5)


class Point(msgspec.Struct):
    """A msgspec JSON body."""

    x: int
    y: int
    label: str | None = None


def pagination(
    page: Annotated[int, Query(ge=1)] = 1, size: Annotated[int, Query(le=100)] = 10
) -> dict[str, int]:
    """A dependency with query parameters of its own."""
    return {"page": page, "size": size}


async def token(x_token: Annotated[str | None, Header()] = None) -> str | None:
    """An async dependency reading a header."""
    return x_token


def build(*, debug: bool = False) -> Carboy:
    """The fuzz target (``debug`` picks the error pages it renders)."""
    app = Carboy(
        debug=debug, secret_key="carboy-fuzz-secret-key-" * 3, allowed_hosts=[HOST], name="fuzz"
    )

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/int/{n:int}")
    async def by_int(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/str/{s}")
    async def by_str(s: str) -> dict[str, str]:
        return {"s": s}

    @app.get("/uuid/{u:uuid}")
    async def by_uuid(u: uuid.UUID) -> dict[str, str]:
        return {"u": str(u)}

    @app.get("/files/{rest:path}")
    async def by_path(rest: str) -> dict[str, str]:
        return {"rest": rest}

    @app.get("/query")
    async def query(
        q: str,
        n: int = 0,
        f: float | None = None,
        flag: bool = False,
        ids: Annotated[list[int], Query()] = [],  # noqa: B006 - carboy copies defaults
        short: Annotated[str | None, Query(max_length=10, pattern=r"^[a-z]*$")] = None,
    ) -> dict[str, object]:
        return {"q": q, "n": n, "f": f, "flag": flag, "ids": ids, "short": short}

    @app.get("/headers")
    async def headers(
        user_agent: Annotated[str | None, Header()] = None,
        x_count: Annotated[int | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
        tok: str | None = Depends(token),
    ) -> dict[str, object]:
        return {"ua": user_agent, "count": x_count, "session": session, "token": tok}

    @app.post("/items")
    async def create_item(
        item: Item, page: dict[str, int] = Depends(pagination)
    ) -> dict[str, object]:
        return {"item": item.model_dump(), "page": page}

    @app.put("/points/{n:int}")
    async def put_point(n: int, point: Point) -> dict[str, object]:
        return {"n": n, "x": point.x, "y": point.y, "label": point.label}

    @app.post("/embed")
    async def embed(
        a: Annotated[int, Body(embed=True)], b: Annotated[str, Body(embed=True)] = ""
    ) -> dict[str, object]:
        return {"a": a, "b": b}

    @app.post("/form")
    async def form(
        name: Annotated[str, Form(max_length=100)],
        age: Annotated[int, Form()] = 0,
        tags: Annotated[list[str], Form()] = [],  # noqa: B006
    ) -> dict[str, object]:
        return {"name": name, "age": age, "tags": tags}

    @app.post("/upload")
    async def upload(
        doc: Annotated[UploadFile, File()], note: Annotated[str, Form()] = ""
    ) -> dict[str, object]:
        data = await doc.read()
        return {"filename": doc.filename, "size": len(data), "note": note}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.websocket("/ws/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") is not None:
                    await ws.send_text(message["text"])
                else:
                    await ws.send_bytes(message.get("bytes") or b"")
        except WebSocketDisconnect:
            pass

    @app.websocket("/ws/json")
    async def json_socket(
        ws: WebSocket, room: Annotated[str, Query(max_length=20)] = "lobby"
    ) -> None:
        await ws.accept()
        try:
            while True:
                data = await ws.receive_json()
                await ws.send_json({"room": room, "echo": data})
        except WebSocketDisconnect:
            pass

    return app
