"""Django Channels for the fan-out benchmark: the same endpoints as ``bench.apps.fanout_carboy``.

Every WebSocket on ``/ws`` is an ``AsyncWebsocketConsumer`` that joins the group
``fanout`` (``group_add``) before it accepts; ``POST /publish`` is an async view
that sends its JSON body to the group (``group_send``), and each consumer writes
``{"group": "fanout", "data": BODY}``, the bytes carboy writes. The channel
layer is channels_redis's, on ``BENCH_REDIS_URL``: ``BENCH_CHANNEL_LAYER=pubsub``
(``RedisPubSubChannelLayer``: one Redis PUBLISH per message) or ``core``
(``RedisChannelLayer``, the default layer of the docs: a Redis list per channel).
No middleware, no authentication, as on the carboy side.
"""

from __future__ import annotations

import json
import os
from typing import Any

import django
from django.conf import settings

GROUP = "fanout"
LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        USE_TZ=True,
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": LAYERS[os.environ.get("BENCH_CHANNEL_LAYER", "pubsub")],
                "CONFIG": {
                    "hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")]
                },
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed  # noqa: E402
from django.urls import path  # noqa: E402


class Subscriber(AsyncWebsocketConsumer):  # type: ignore[misc]  # no django-stubs
    """One WebSocket subscriber of the group."""

    async def connect(self) -> None:
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def fanout_message(self, event: dict[str, Any]) -> None:
        text = json.dumps({"group": GROUP, "data": event["data"]}, separators=(",", ":"))
        await self.send(text_data=text)


async def publish(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    layer = get_channel_layer()
    await layer.group_send(GROUP, {"type": "fanout.message", "data": json.loads(request.body)})
    return HttpResponse(status=204)


urlpatterns = [path("publish", publish)]

application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": URLRouter([path("ws", Subscriber.as_asgi())]),
    }
)
