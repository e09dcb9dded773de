"""carboy for the fan-out benchmark: one WebSocket group over Redis, and a publish endpoint.

Served by ``bench.scale_out`` as two processes sharing one Redis
(``BENCH_REDIS_URL``). Every WebSocket on ``/ws`` joins the group ``fanout``;
``POST /publish`` with a JSON body sends ``{"group": "fanout", "data": BODY}``
to every subscriber in every process. ``bench.apps.fanout_django`` does the
same with Django Channels; no authentication on either.
"""

from __future__ import annotations

import os

from carboy import Carboy, Request
from carboy.channels import Channels
from carboy.settings import Settings
from carboy.websockets import WebSocket

GROUP = "fanout"

app = Carboy(
    Settings(
        debug=False,
        secret_key="carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        allowed_hosts=["127.0.0.1", "localhost"],
        channels_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )
)
channels = Channels()  # Redis pub/sub, from settings.channels_url
app.install(channels)


@app.websocket("/ws")
async def subscribe(ws: WebSocket) -> None:
    await channels.stream_websocket(ws, GROUP)


@app.post("/publish", status_code=204)
async def publish(request: Request) -> None:
    await channels.apublish(GROUP, await request.json())
