"""The async client: the app runs as tasks on the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from carboy.exceptions import WebSocketDisconnect
from carboy.testing._protocol import (
    CLOSE_GRACE,
    CONNECT,
    DEFAULT_TIMEOUT,
    LIFESPAN_TIMEOUT,
    WEBSOCKET_TIMEOUT,
    AppCall,
    Interface,
    LifespanProtocol,
    ResponseProtocol,
    Server,
    SessionBase,
    WebSocketDenied,
    WebSocketProtocol,
    read_timeout,
    request_messages,
    timed_out,
)
from carboy.testing._rsgi import new_call
from carboy.types import ASGIApp, Message


# -- the async driver: the test's own event loop -----------------------------
class _AsyncCall:
    """Drives one :class:`AppCall` as a task on the running loop."""

    def __init__(self, call: AppCall) -> None:
        self._call = call
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        call.emit = self._events.put_nowait
        self._task = asyncio.get_running_loop().create_task(call.run())

    async def next_event(self, seconds: float | None) -> Message:
        try:
            return await asyncio.wait_for(self._events.get(), seconds)
        except TimeoutError:
            raise TimeoutError(f"The app sent nothing for {seconds} seconds") from None

    def put(self, message: Message) -> None:
        self._call.inbox.put_nowait(message)

    def disconnect(self, message: Message) -> None:
        self._call.disconnect(message)

    def cancel(self) -> None:
        self._task.cancel()

    async def wait_finished(
        self, feed: Callable[[Message], object], finished: Callable[[], bool]
    ) -> None:
        """Feed events until the app ends; cancel it if it lingers past CLOSE_GRACE."""
        while not finished():
            try:
                event = await self.next_event(CLOSE_GRACE)
            except TimeoutError:
                self.cancel()
                await asyncio.wait([self._task])
                while not self._events.empty():
                    feed(self._events.get_nowait())
                return
            feed(event)


class _AsyncTransport(httpx.AsyncBaseTransport):
    """Runs the app as a task on the test's loop for each request."""

    def __init__(self, server: Server) -> None:
        self._server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("AsyncTestClient needs an async request body; use TestClient")
        chunks = [chunk async for chunk in stream]
        call = new_call(self._server, self._server.http_scope(request), request_messages(chunks))
        driver = _AsyncCall(call)
        protocol = ResponseProtocol(self._server.raise_server_exceptions)
        timeout = read_timeout(request)
        early: list[bytes] = []
        while protocol.status is None:
            try:
                early.append(protocol.feed(await driver.next_event(timeout)))
            except TimeoutError:
                driver.cancel()
                raise timed_out(request, timeout) from None
        return httpx.Response(
            protocol.status,
            headers=protocol.headers,
            stream=_AsyncResponseStream(request, protocol, driver, early),
            extensions={"http_version": b"HTTP/1.1"},
        )


class _AsyncResponseStream(httpx.AsyncByteStream):
    def __init__(
        self,
        request: httpx.Request,
        protocol: ResponseProtocol,
        driver: _AsyncCall,
        early: list[bytes],
    ) -> None:
        self._request = request
        self._protocol = protocol
        self._driver = driver
        self._early = early

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._early:
            if chunk:
                yield chunk
        timeout = read_timeout(self._request)
        while not self._protocol.finished:
            try:
                chunk = self._protocol.feed(await self._driver.next_event(timeout))
            except TimeoutError:
                self._driver.cancel()
                raise timed_out(self._request, timeout) from None
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        if not self._protocol.finished:
            self._protocol.client_gone = True
            self._driver.disconnect({"type": "http.disconnect"})
            await self._driver.wait_finished(self._protocol.feed, lambda: self._protocol.finished)


class AsyncTestClient(httpx.AsyncClient):
    """An async httpx client that calls an ASGI app in-process, on the test's loop.

    Works like :class:`TestClient`; ``async with`` runs the lifespan. Needs
    asyncio (``@pytest.mark.anyio`` with the asyncio backend). ``interface="rsgi"``
    calls the app's ``__rsgi__`` as granian would.

    Example:
        >>> async with AsyncTestClient(app) as client:
        ...     response = await client.get("/")
    """

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = True,
        follow_redirects: bool = True,
        headers: Mapping[str, str] | None = None,
        cookies: httpx.Cookies | dict[str, str] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        interface: Interface = "asgi",
    ) -> None:
        self._server = Server(app, raise_server_exceptions, interface)
        self._lifespan: tuple[LifespanProtocol, _AsyncCall] | None = None
        super().__init__(
            base_url=base_url,
            transport=_AsyncTransport(self._server),
            follow_redirects=follow_redirects,
            headers={"user-agent": "testclient", **(headers or {})},
            cookies=cookies,
            timeout=timeout,
        )

    @property
    def app(self) -> ASGIApp:
        """The app under test.

        Example:
            >>> AsyncTestClient(app).app is app
            True
        """
        return self._server.app

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        try:
            await self._startup()
        except BaseException:
            await super().__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            await self._shutdown()
        finally:
            await super().__aexit__(exc_type, exc_value, traceback)

    async def _startup(self) -> None:
        protocol = LifespanProtocol()
        driver = _AsyncCall(AppCall(self.app, protocol.scope, [{"type": "lifespan.startup"}]))
        try:
            while not protocol.startup(await driver.next_event(LIFESPAN_TIMEOUT)):
                pass
        except BaseException:
            await driver.wait_finished(protocol.ended, lambda: protocol.finished)
            raise
        if protocol.supported:
            self._server.state = protocol.state
            self._lifespan = (protocol, driver)

    async def _shutdown(self) -> None:
        if self._lifespan is None:
            return
        protocol, driver = self._lifespan
        self._lifespan = None
        self._server.state = None
        driver.put({"type": "lifespan.shutdown"})
        while not protocol.shutdown(await driver.next_event(LIFESPAN_TIMEOUT)):
            pass
        await driver.wait_finished(protocol.feed, lambda: protocol.finished)

    def websocket_connect(
        self,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = WEBSOCKET_TIMEOUT,
    ) -> AsyncWebSocketTestSession:
        """A WebSocket to ``url``, opened by ``async with``.

        Example:
            >>> async with client.websocket_connect("/ws") as ws:
            ...     await ws.send_text("hi")
            ...     assert await ws.receive_text() == "hi"
        """
        request = self.build_request("GET", url, headers=headers)
        scope = self._server.websocket_scope(request, subprotocols or [])
        return AsyncWebSocketTestSession(new_call(self._server, scope, CONNECT), timeout)


class AsyncWebSocketTestSession(SessionBase):
    """A WebSocket to the app for async tests; see :class:`WebSocketTestSession`.

    Example:
        >>> async with client.websocket_connect("/ws") as ws:
        ...     await ws.send_json({"op": "ping"})
        ...     assert await ws.receive_json() == {"op": "pong"}
    """

    def __init__(self, call: AppCall, timeout: float | None) -> None:
        self.timeout = timeout
        self._call = call
        self._protocol = WebSocketProtocol()
        self._driver: _AsyncCall | None = None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _finished(self) -> bool:
        return self._protocol.finished

    def _open(self) -> _AsyncCall:
        if self._driver is None:
            raise RuntimeError(
                "Open the WebSocket first: `async with client.websocket_connect(...)`"
            )
        return self._driver

    async def connect(self) -> None:
        """Do the handshake; raises :class:`WebSocketDenied` if the app refuses.

        Example:
            >>> ws = client.websocket_connect("/ws")
            >>> await ws.connect()
        """
        driver = self._driver = _AsyncCall(self._call)
        try:
            while not self._protocol.handshake(await driver.next_event(self.timeout)):
                pass
        except WebSocketDenied:
            await driver.wait_finished(self._protocol.after_close, self._finished)
            raise
        except TimeoutError:
            driver.cancel()
            await driver.wait_finished(self._protocol.after_close, self._finished)
            raise TimeoutError(f"The app did not accept the WebSocket in {self.timeout}s") from None

    async def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app.

        Example:
            >>> await ws.send({"type": "websocket.receive", "text": "hi"})
        """
        self._open().put(message)

    async def send_text(self, data: str) -> None:
        """Send a text message.

        Example:
            >>> await ws.send_text("hello")
        """
        await self.send({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message.

        Example:
            >>> await ws.send_bytes(b"\\x01")
        """
        await self.send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON in a text (or binary) message.

        Example:
            >>> await ws.send_json({"op": "join"})
        """
        await self.send(self._json_frame(data, mode))

    async def receive(self) -> Message:
        """The next raw ``websocket.send`` message; see :meth:`WebSocketTestSession.receive`.

        Waits at most the session's ``timeout``; wrap the call in
        ``asyncio.timeout()`` for another limit.

        Example:
            >>> async with asyncio.timeout(0.5):
            ...     message = await ws.receive()
        """
        driver, protocol = self._open(), self._protocol
        if protocol.close_code is not None:
            raise protocol.disconnect_error()
        try:
            return protocol.message(await driver.next_event(self.timeout))
        except WebSocketDisconnect:
            await driver.wait_finished(protocol.after_close, self._finished)
            raise

    async def receive_text(self) -> str:
        """The next text message.

        Example:
            >>> assert await ws.receive_text() == "hello"
        """
        return self._as_text(await self.receive())

    async def receive_bytes(self) -> bytes:
        """The next binary message.

        Example:
            >>> assert await ws.receive_bytes() == b"\\x01"
        """
        return self._as_bytes(await self.receive())

    async def receive_json(self) -> Any:
        """The next message decoded as JSON.

        Example:
            >>> assert await ws.receive_json() == {"op": "pong"}
        """
        return self._as_json(await self.receive())

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection and wait for the app to return (its errors are raised).

        Example:
            >>> await ws.close(4000, "bye")
        """
        if self._driver is None:
            return
        protocol = self._protocol
        if not protocol.client_closed:
            protocol.client_closed = True
            if protocol.close_code is None:
                protocol.close_code, protocol.close_reason = code, reason or ""
            self._driver.disconnect(
                {"type": "websocket.disconnect", "code": code, "reason": reason or ""}
            )
        await self._driver.wait_finished(protocol.after_close, self._finished)
