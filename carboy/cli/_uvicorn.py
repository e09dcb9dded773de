"""uvicorn's h11 protocol with the two limits it lacks: a header timeout and count.

Imported only when ``carboy run`` starts uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def _refusal(message: bytes) -> bytes:
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(message), message)
    )


class LimitedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection slow to send a request head, and
    answers 431 to a head with more than ``max_headers`` headers or more than
    ``max_header_size`` bytes.

    h11's own ``max_incomplete_event_size`` only bounds a head that arrives in
    pieces: one that comes in a single read is parsed whatever its size, so
    the size is counted here too. The timer runs from the connection's start
    and from the first byte of each later request; an idle keep-alive
    connection is uvicorn's ``timeout_keep_alive`` business.
    """

    def __init__(
        self,
        *args: Any,
        header_timeout: float,
        max_headers: int,
        max_header_size: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._max_headers = max_headers
        self._max_header_size = max_header_size
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_lines = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # reading a request head
            self._arm()
            end = data.find(b"\r\n\r\n")
            head = data if end < 0 else data[:end]
            # Lines before the blank one: the request line and all but the last header.
            self._head_lines += head.count(b"\n")
            self._head_bytes += len(head)
            if self._head_lines > self._max_headers:
                self._refuse(b"Too many headers")
                return
            if self._head_bytes > self._max_header_size:
                self._refuse(b"Request head too large")
                return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def _refuse(self, message: bytes) -> None:
        self._disarm()
        self.logger.warning(
            "Refused a request: %s (limits: %d headers, %d bytes)",
            message.decode(),
            self._max_headers,
            self._max_header_size,
        )
        self.transport.write(_refusal(message))
        self.transport.close()

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_lines = 0
        self._head_bytes = 0

    def _timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.warning(
                "Closed a connection that sent no complete request head in %ss",
                self._header_timeout,
            )
            self.transport.close()
