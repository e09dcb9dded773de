"""The synchronous client: the app runs on an event loop in a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
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


# -- the sync driver: an event loop in a thread ------------------------------
class _LoopThread:
    """An event loop in a daemon thread; the test's thread hands it coroutines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def submit(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def call_soon(self, func: Callable[..., object], *args: Any) -> None:
        loop = self._loop  # never start a loop just to deliver a message
        if loop is not None:
            loop.call_soon_threadsafe(func, *args)

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._main, args=(ready,), name="carboy-testclient", daemon=True
                )
                self._thread.start()
                ready.wait(10)
            if self._loop is None:  # pragma: no cover - the loop failed to start
                raise RuntimeError("The test client's event loop did not start")
            return self._loop

    def _main(self, ready: threading.Event) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready.set()
            await self._stop.wait()

        # asyncio.run cancels what is left and closes async generators and the loop.
        asyncio.run(serve())

    def stop(self) -> None:
        with self._lock:
            loop, stop, thread = self._loop, self._stop, self._thread
            self._loop = self._stop = self._thread = None
        if loop is None or stop is None or thread is None:
            return
        loop.call_soon_threadsafe(stop.set)
        if threading.current_thread() is not thread:
            thread.join()


class _SyncCall:
    """Drives one :class:`AppCall` from the test's thread."""

    def __init__(self, loop: _LoopThread, call: AppCall) -> None:
        self._loop = loop
        self._call = call
        self._events: queue.Queue[Message] = queue.Queue()
        call.emit = self._events.put_nowait
        self._future = loop.submit(call.run())

    def next_event(self, timeout: float | None) -> Message:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"The app sent nothing for {timeout} seconds") from None

    def put(self, message: Message) -> None:
        self._loop.call_soon(self._call.inbox.put_nowait, message)

    def disconnect(self, message: Message) -> None:
        self._loop.call_soon(self._call.disconnect, message)

    def cancel(self) -> None:
        self._future.cancel()

    def wait_finished(
        self, feed: Callable[[Message], object], finished: Callable[[], bool]
    ) -> None:
        """Feed events until the app ends; cancel it if it lingers past CLOSE_GRACE."""
        cancelled = False
        while not finished():
            try:
                event = self.next_event(CLOSE_GRACE)
            except TimeoutError:
                if cancelled:
                    return  # it ignores cancellation; the loop's shutdown will end it
                self.cancel()
                cancelled = True
                continue
            feed(event)


class _Transport(httpx.BaseTransport):
    """Hands each request to the app on the loop thread and streams back the response."""

    def __init__(self, server: Server, loop: _LoopThread) -> None:
        self._server = server
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        stream = request.stream
        if not isinstance(stream, httpx.SyncByteStream):
            raise TypeError("TestClient needs a sync request body; use AsyncTestClient")
        call = new_call(self._server, self._server.http_scope(request), request_messages(stream))
        driver = _SyncCall(self._loop, call)
        protocol = ResponseProtocol(self._server.raise_server_exceptions)
        timeout = read_timeout(request)
        early: list[bytes] = []
        while protocol.status is None:
            try:
                early.append(protocol.feed(driver.next_event(timeout)))
            except TimeoutError:
                driver.cancel()
                raise timed_out(request, timeout) from None
        return httpx.Response(
            protocol.status,
            headers=protocol.headers,
            stream=_ResponseStream(request, protocol, driver, early),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def close(self) -> None:
        self._loop.stop()


class _ResponseStream(httpx.SyncByteStream):
    def __init__(
        self,
        request: httpx.Request,
        protocol: ResponseProtocol,
        driver: _SyncCall,
        early: list[bytes],
    ) -> None:
        self._request = request
        self._protocol = protocol
        self._driver = driver
        self._early = early

    def __iter__(self) -> Iterator[bytes]:
        yield from filter(None, self._early)
        timeout = read_timeout(self._request)
        while not self._protocol.finished:
            try:
                chunk = self._protocol.feed(self._driver.next_event(timeout))
            except TimeoutError:
                self._driver.cancel()
                raise timed_out(self._request, timeout) from None
            if chunk:
                yield chunk

    def close(self) -> None:
        # Closed before the app finished (``client.stream`` left early): disconnect.
        if not self._protocol.finished:
            self._protocol.client_gone = True
            self._driver.disconnect({"type": "http.disconnect"})
            self._driver.wait_finished(self._protocol.feed, lambda: self._protocol.finished)


class TestClient(httpx.Client):
    """A synchronous httpx client that calls an ASGI app in-process.

    The app runs on an event loop in a background thread, one per client,
    started by the first request and stopped by :meth:`close` (or the end of
    a ``with`` block). ``with TestClient(app) as client:`` also runs the app's
    lifespan (startup before the block, shutdown after it); without ``with``
    there is no lifespan.

    An exception raised by the app is raised in the test, unless the app
    already sent a complete 5xx response for it; ``raise_server_exceptions=False``
    turns unhandled errors into a bare 500 response instead.

    ``interface="rsgi"`` calls the app's ``__rsgi__`` (granian's RSGI) instead,
    with a scope and protocol that behave as granian's, so a test sees what a
    client of ``carboy run --server granian`` sees; the lifespan still runs
    over ASGI (the same hooks).

    Example:
        >>> with TestClient(app) as client:
        ...     response = client.get("/")
        ...     assert response.status_code == 200
        >>> with TestClient(app, interface="rsgi") as client:
        ...     assert client.get("/").status_code == 200
    """

    __test__ = False  # not a pytest test class, whatever its name says

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
        self._loop = _LoopThread()
        self._lifespan: tuple[LifespanProtocol, _SyncCall] | None = None
        super().__init__(
            base_url=base_url,
            transport=_Transport(self._server, self._loop),
            follow_redirects=follow_redirects,
            headers={"user-agent": "testclient", **(headers or {})},
            cookies=cookies,
            timeout=timeout,
        )
        # A client that is never closed still stops its thread when collected.
        weakref.finalize(self, self._loop.stop)

    @property
    def app(self) -> ASGIApp:
        """The app under test.

        Example:
            >>> TestClient(app).app is app
            True
        """
        return self._server.app

    def __enter__(self) -> Self:
        super().__enter__()
        try:
            self._startup()
        except BaseException:
            super().__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            self._shutdown()
        finally:
            super().__exit__(exc_type, exc_value, traceback)

    def _startup(self) -> None:
        protocol = LifespanProtocol()
        call = AppCall(self.app, protocol.scope, [{"type": "lifespan.startup"}])
        driver = _SyncCall(self._loop, call)
        try:
            while not protocol.startup(_lifespan_event(driver)):
                pass
        except BaseException:
            driver.wait_finished(protocol.ended, lambda: protocol.finished)
            raise
        if protocol.supported:
            self._server.state = protocol.state
            self._lifespan = (protocol, driver)

    def _shutdown(self) -> None:
        if self._lifespan is None:
            return
        protocol, driver = self._lifespan
        self._lifespan = None
        self._server.state = None
        driver.put({"type": "lifespan.shutdown"})
        while not protocol.shutdown(_lifespan_event(driver)):
            pass
        driver.wait_finished(protocol.feed, lambda: protocol.finished)

    def websocket_connect(
        self,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = WEBSOCKET_TIMEOUT,
    ) -> WebSocketTestSession:
        """Open a WebSocket to ``url``; raises :class:`WebSocketDenied` if refused.

        The client's cookies and default headers are sent with the handshake.
        ``timeout`` bounds the handshake and each ``receive_*`` call.

        Example:
            >>> with client.websocket_connect("/ws", subprotocols=["chat"]) as ws:
            ...     ws.send_text("hi")
            ...     assert ws.receive_text() == "hi"
        """
        request = self.build_request("GET", url, headers=headers)
        scope = self._server.websocket_scope(request, subprotocols or [])
        return WebSocketTestSession(self._loop, new_call(self._server, scope, CONNECT), timeout)


def _lifespan_event(driver: _SyncCall) -> Message:
    try:
        return driver.next_event(LIFESPAN_TIMEOUT)
    except TimeoutError:
        driver.cancel()
        raise TimeoutError(f"Lifespan did not finish within {LIFESPAN_TIMEOUT} seconds") from None


class WebSocketTestSession(SessionBase):
    """An open WebSocket to the app, from :meth:`TestClient.websocket_connect`.

    ``receive_*`` wait at most ``timeout`` seconds, then raise ``TimeoutError``,
    so a test never hangs; once the app closes, they raise
    :class:`~carboy.exceptions.WebSocketDisconnect` with its code. Leaving
    the ``with`` block closes the socket (code 1000) and waits for the app to
    return; an exception the app raised is raised in the test.

    Example:
        >>> with client.websocket_connect("/ws") as ws:
        ...     ws.send_json({"op": "ping"})
        ...     assert ws.receive_json() == {"op": "pong"}
    """

    def __init__(self, loop: _LoopThread, call: AppCall, timeout: float | None) -> None:
        self.timeout = timeout
        self._protocol = WebSocketProtocol()
        self._driver = _SyncCall(loop, call)
        try:
            while not self._protocol.handshake(self._driver.next_event(timeout)):
                pass
        except WebSocketDenied:
            self._driver.wait_finished(self._protocol.after_close, self._finished)
            raise
        except TimeoutError:
            self._driver.cancel()
            raise TimeoutError(f"The app did not accept the WebSocket in {timeout}s") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _finished(self) -> bool:
        return self._protocol.finished

    def send(self, message: Message) -> None:
        """Send a raw ASGI message to the app.

        Example:
            >>> ws.send({"type": "websocket.receive", "text": "hi"})
        """
        self._driver.put(message)

    def send_text(self, data: str) -> None:
        """Send a text message.

        Example:
            >>> ws.send_text("hello")
        """
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message.

        Example:
            >>> ws.send_bytes(b"\\x01")
        """
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON in a text (or binary) message.

        Example:
            >>> ws.send_json({"op": "join", "room": "lobby"})
        """
        self.send(self._json_frame(data, mode))

    def receive(self, timeout: float | None = None) -> Message:
        """The next raw ``websocket.send`` message from the app.

        Raises:
            WebSocketDisconnect: the app closed the connection.
            TimeoutError: nothing came within ``timeout`` (default: the session's).

        Example:
            >>> ws.receive()
            {'type': 'websocket.send', 'text': 'hi'}
        """
        protocol = self._protocol
        if protocol.close_code is not None:
            raise protocol.disconnect_error()
        wait = self.timeout if timeout is None else timeout
        try:
            return protocol.message(self._driver.next_event(wait))
        except WebSocketDisconnect:
            # The app closed; if it then crashes, that is the news the test wants.
            self._driver.wait_finished(protocol.after_close, self._finished)
            raise

    def receive_text(self, timeout: float | None = None) -> str:
        """The next text message.

        Example:
            >>> assert ws.receive_text() == "hello"
        """
        return self._as_text(self.receive(timeout))

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next binary message.

        Example:
            >>> assert ws.receive_bytes() == b"\\x01"
        """
        return self._as_bytes(self.receive(timeout))

    def receive_json(self, timeout: float | None = None) -> Any:
        """The next message decoded as JSON.

        Example:
            >>> assert ws.receive_json() == {"op": "pong"}
        """
        return self._as_json(self.receive(timeout))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection and wait for the app to return.

        Raises the app's exception if it failed (other than by noticing the
        disconnect). Closing twice does nothing.

        Example:
            >>> ws.close(4000, "bye")
        """
        protocol = self._protocol
        if not protocol.client_closed:
            protocol.client_closed = True
            if protocol.close_code is None:
                protocol.close_code, protocol.close_reason = code, reason or ""
            self._driver.disconnect(
                {"type": "websocket.disconnect", "code": code, "reason": reason or ""}
            )
        self._driver.wait_finished(protocol.after_close, self._finished)
