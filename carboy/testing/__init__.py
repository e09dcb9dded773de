"""Test an app in-process over httpx: HTTP, lifespan and WebSockets, no network.

:class:`TestClient` is a synchronous ``httpx.Client`` whose transport hands
each request to the app, running on an event loop in a background thread.
:class:`AsyncTestClient` does the same on the test's own event loop.

Example:
    >>> from carboy.testing import TestClient
    >>> with TestClient(app) as client:
    ...     assert client.get("/").status_code == 200
"""

from carboy.testing._async import AsyncTestClient, AsyncWebSocketTestSession
from carboy.testing._protocol import WebSocketDenied
from carboy.testing._sync import TestClient, WebSocketTestSession

__all__ = [
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "TestClient",
    "WebSocketDenied",
    "WebSocketTestSession",
]
