"""The app tests/test_rsgi.py serves with real granian processes, over ASGI and RSGI.

Production settings (debug off: the Host check, the WebSocket Origin check, the
generic 500 page), small limits so the tests can cross them, and one route per
feature. ``app`` has no app-wide middleware (RSGI serves its direct routes
natively); ``app_with_middleware`` is the same app behind carboy's middleware
and a pure-ASGI one (RSGI runs it through ASGI).

``CARBOY_TEST_EVENTS`` names a file the lifespan hooks and the background task
append lines to, so a test can see they ran in the server process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel

from carboy import (
    Carboy,
    EventSourceResponse,
    FileResponse,
    Form,
    Header,
    HTTPException,
    Middleware,
    PlainTextResponse,
    Query,
    Request,
    ServerSentEvent,
    StreamingResponse,
    UploadFile,
    WebSocket,
    WebSocketException,
)
from carboy.middleware import CORSMiddleware, GZipMiddleware
from carboy.settings import Settings
from carboy.types import ASGIApp, Message, Receive, Scope, Send

#: The bytes of /file: 200 KB, so it is sent in several chunks.
FILE_BYTES = bytes(range(256)) * 800
MAX_BODY = 64 * 1024
MAX_WS_MESSAGE = 1024

_files = Path(tempfile.mkdtemp(prefix="carboy-rsgi-"))
(_files / "data.bin").write_bytes(FILE_BYTES)
(_files / "hello.txt").write_text("hello, file\n")
for _file in _files.iterdir():  # the same validators (ETag, Last-Modified) in every process
    os.utime(_file, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))


def _record(line: str) -> None:
    events = os.environ.get("CARBOY_TEST_EVENTS")
    if events:
        with open(events, "a") as f:
            f.write(line + "\n")


class Item(BaseModel):
    name: str
    price: float


class AddHeader:
    """A pure-ASGI middleware: a header on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-middleware", b"yes")]}
            await send(message)

        await self.app(scope, receive, tagged)


def make_app(*, middleware: bool = False) -> Carboy:
    settings = Settings(
        debug=False,
        secret_key="rsgi-tests-secret-key-that-is-long-enough-0123456789",
        allowed_hosts=["127.0.0.1", "localhost"],
        max_body_size=MAX_BODY,
        form_max_files=2,
        websocket_max_message_size=MAX_WS_MESSAGE,
    )
    stack = (
        [
            Middleware(AddHeader),
            Middleware(
                CORSMiddleware, allow_origins=["https://front.example"], allow_methods=["POST"]
            ),
            Middleware(GZipMiddleware, minimum_size=500),
        ]
        if middleware
        else []
    )
    app = Carboy(settings, middleware=stack, root=Path(__file__).parent)
    jobs: list[str] = []

    @app.on_startup
    async def started() -> None:
        app.state.started = True
        _record("startup")

    @app.on_shutdown
    async def stopped() -> None:
        _record("shutdown")

    # -- served natively over RSGI (direct: path parameters only) -------------------
    @app.get("/plain")
    async def plain() -> str:
        return "Hello, World!"

    @app.get("/long")
    async def long() -> str:
        return "carboy " * 500

    @app.post("/ping")
    async def ping() -> str:
        return "pong"

    @app.get("/json")
    async def json_() -> dict[str, Any]:
        return {"message": "Hello, World!", "n": 1}

    @app.get("/users/{id:int}")
    async def user(id: int) -> dict[str, int]:
        return {"id": id}

    @app.get("/created")
    async def created() -> tuple[str, int, dict[str, str]]:
        return "made", 201, {"x-made": "1"}

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain text")

    @app.get("/nothing")
    async def nothing() -> None:
        return None

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("the handler failed")

    @app.get("/teapot")
    async def teapot() -> str:
        raise HTTPException(418, "I'm a teapot")

    @app.get("/unencodable")
    async def unencodable() -> dict[str, Any]:
        return {"set": object()}

    # -- through the ASGI path --------------------------------------------------------
    @app.get("/items/{name}")
    async def item(name: str, q: Annotated[int, Query()] = 0) -> dict[str, Any]:
        return {"name": name, "q": q}

    @app.post("/items", status_code=201)
    async def create(item: Item) -> dict[str, Any]:
        return {"created": item.model_dump()}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"length": len(body), "type": request.content_type}

    @app.post("/upload")
    async def upload(title: Annotated[str, Form()], doc: UploadFile) -> dict[str, Any]:
        data = await doc.read()
        return {"title": title, "filename": doc.filename, "size": len(data)}

    @app.get("/headers")
    async def headers(x_custom: Annotated[str, Header()] = "") -> PlainTextResponse:
        response = PlainTextResponse(f"custom={x_custom}")
        response.headers["x-echo"] = x_custom
        response.headers["cache-control"] = "no-store"
        return response

    @app.get("/cookies")
    async def cookies(request: Request) -> PlainTextResponse:
        response = PlainTextResponse("seen=" + request.cookies.get("seen", ""))
        response.set_cookie("visit", "1", max_age=60)
        response.set_cookie("theme", "dark mode")
        return response

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def numbers() -> AsyncIterator[str]:
            for i in range(5):
                yield f"line {i}\n"
                await asyncio.sleep(0)

        return StreamingResponse(numbers(), media_type="text/plain")

    @app.get("/events")
    async def events() -> EventSourceResponse:
        async def ticks() -> AsyncIterator[ServerSentEvent]:
            for i in range(3):
                yield ServerSentEvent({"n": i}, event="tick", id=str(i))

        return EventSourceResponse(ticks(), ping=None)

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(_files / "data.bin", media_type="application/octet-stream")

    @app.get("/download")
    async def download() -> FileResponse:
        return FileResponse(_files / "hello.txt", filename="Grüße.txt")

    @app.get("/sync")
    def sync_handler(n: Annotated[int, Query()] = 1) -> dict[str, int]:
        return {"double": 2 * n}

    @app.get("/lifespan")
    async def lifespan() -> dict[str, Any]:
        return {"started": getattr(app.state, "started", False)}

    @app.get("/gc")
    async def gc_state() -> dict[str, bool]:
        # gc_freeze (on by default): a server's start-up froze the heap; a test client's not.
        return {"frozen": gc.get_freeze_count() > 0}

    @app.post("/jobs")
    async def add_job(name: Annotated[str, Query()]) -> dict[str, str]:
        async def work() -> None:
            await asyncio.sleep(0.01)
            jobs.append(name)
            _record(f"job {name}")

        app.background.spawn(work())
        return {"queued": name}

    @app.get("/jobs")
    async def list_jobs() -> dict[str, list[str]]:
        return {"done": list(jobs)}

    @app.get("/slash/")
    async def slash() -> str:
        return "slash"

    # -- WebSockets (always through ASGI) --------------------------------------------
    @app.websocket("/ws")
    async def ws_echo(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                text = message["text"]
                if text == "json":
                    await ws.send_json(await ws.receive_json())
                elif text == "close":
                    await ws.close(4001, "closed by the app")
                    return
                else:
                    await ws.send_text("echo: " + text)
            else:
                await ws.send_bytes(message["bytes"][::-1])

    @app.websocket("/ws/rooms/{room:int}")
    async def ws_room(ws: WebSocket, room: int, token: Annotated[str, Query()] = "") -> None:
        if token != "secret":
            raise WebSocketException(4003, "bad token")  # before accept: HTTP 403
        await ws.accept()
        await ws.send_json({"room": room})
        await ws.close()

    @app.websocket("/ws/fail")
    async def ws_fail(ws: WebSocket) -> None:
        await ws.accept()
        raise RuntimeError("the socket handler failed")

    return app


app = make_app()
app_with_middleware = make_app(middleware=True)
