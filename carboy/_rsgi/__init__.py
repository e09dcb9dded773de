"""granian's RSGI interface for a :class:`~carboy.Carboy` app: the one place that knows RSGI.

The app is an ASGI app; this adapter serves the same object over RSGI
(``Carboy.__rsgi__``, ``__rsgi_init__`` and ``__rsgi_del__`` hand over to it).
A request takes one of two paths:

- **native**: an app with no app-wide middleware, a route whose handler the
  dispatcher calls itself (it takes only its path parameters: see
  ``carboy.params.Direct``) and a ``str``, ``dict`` or ``list`` value. The
  handler's value is rendered once (``Direct.render``) and sent with one
  ``protocol.response_bytes(status, headers, body)`` call; the headers (its
  content type, then the app's default headers, as text) are built once per
  content type and scheme, and the server counts the body's length itself.
- **through ASGI**: everything else. The RSGI scope becomes an ASGI scope, and
  the app runs as it does under any ASGI server, with ``receive`` and ``send``
  made of the RSGI protocol (:class:`HTTPBridge`, :class:`WebSocketBridge`):
  streaming becomes ``response_stream``, a whole file ``response_file``. App-wide
  middleware (carboy's or any pure-ASGI middleware) therefore always runs.

What RSGI cannot carry (granian 2.x, RSGI 1.6) is listed in docs/deployment.md:
a WebSocket's close code and reason, its subprotocol and accept headers, an
HTTP denial response's body; request header values that are not visible ASCII
(granian drops them); and a response that fails half-way ends as if complete.
"""

from carboy._rsgi._adapter import RSGIAdapter as RSGIAdapter
from carboy._rsgi._bridges import DRAIN_LIMIT as DRAIN_LIMIT
from carboy._rsgi._bridges import WHOLE_BODY_LIMIT as WHOLE_BODY_LIMIT
from carboy._rsgi._bridges import HTTPBridge as HTTPBridge
from carboy._rsgi._bridges import WebSocketBridge as WebSocketBridge
from carboy._rsgi._bridges import asgi_scope as asgi_scope
from carboy._rsgi._protocol import ClientDisconnected as ClientDisconnected
from carboy._rsgi._protocol import HTTPProtocol as HTTPProtocol
from carboy._rsgi._protocol import RSGIHeaders as RSGIHeaders
from carboy._rsgi._protocol import RSGIScope as RSGIScope
from carboy._rsgi._protocol import RSGIServedApp as RSGIServedApp
from carboy._rsgi._protocol import WebSocketProtocol as WebSocketProtocol
