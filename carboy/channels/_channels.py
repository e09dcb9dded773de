"""The channels hub: named groups, publish from anywhere, subscribe from WebSockets and SSE."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from carboy import encode_json
from carboy.channels._backends import ChannelBackend, MemoryChannels, RedisChannels
from carboy.exceptions import ConfigurationError
from carboy.modules import Module
from carboy.responses import EventSourceResponse, ServerSentEvent

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.websockets import WebSocket

logger = logging.getLogger("carboy.channels")

#: Close code sent to a WebSocket subscriber that fell too far behind (policy violation).
SLOW_CONSUMER = 1008
_GROUP = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Message:
    """One message received from a group: the group's name and the published data."""

    group: str
    data: Any


class SlowSubscriber(Exception):
    """A subscriber that let more than ``max_pending`` messages pile up was dropped."""


def backend_from_url(url: str) -> ChannelBackend:
    """The backend a ``channels_url`` names: ``memory://`` or ``redis://host:6379/0``.

    Example:
        >>> backend_from_url("memory://")
        <carboy.channels._backends.MemoryChannels object at ...>
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryChannels()
    if scheme in ("redis", "rediss", "unix"):
        return RedisChannels(url)
    raise ConfigurationError(
        f"channels URL {url!r}: unknown scheme; use 'memory://' or 'redis://host:6379/0'"
    )


def check_group(group: str) -> str:
    """``group`` if it is a valid group name (letters, digits, ``_.:-``; at most 200).

    Raises:
        ValueError: It is not.
    """
    if not isinstance(group, str) or not _GROUP.match(group):
        raise ValueError(
            f"channel group {group!r}: use 1-200 letters, digits and '_.:-' (e.g. 'post:12')"
        )
    return group


class Subscription:
    """Messages of some groups, for one subscriber, at most ``max_pending`` waiting.

    Iterate it (``async for message in sub``). When the subscriber falls more
    than ``max_pending`` messages behind, it is dropped: iteration raises
    :class:`SlowSubscriber`, and memory never grows without bound.
    """

    def __init__(self, hub: Channels, groups: tuple[str, ...], max_pending: int) -> None:
        self.hub = hub
        self.groups = groups
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(max_pending + 1)
        self.max_pending = max_pending
        self.dropped = False

    def offer(self, message: Message) -> None:
        """Queue ``message`` without waiting; past ``max_pending``, drop this subscriber."""
        if self.dropped:
            return
        if self.queue.qsize() >= self.max_pending:
            self.dropped = True
            self.queue.put_nowait(None)  # the one free slot: wakes the reader to fail
            self.hub._remove(self)
            logger.warning(
                "channels: dropped a subscriber of %s: %d messages behind",
                ", ".join(self.groups),
                self.max_pending,
            )
            return
        self.queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is None:
                raise SlowSubscriber(f"more than {self.max_pending} messages behind")
            yield message

    async def get(self) -> Message:
        """The next message.

        Raises:
            SlowSubscriber: This subscriber was dropped for falling behind.
        """
        message = await self.queue.get()
        if message is None:
            raise SlowSubscriber(f"more than {self.max_pending} messages behind")
        return message


class Channels(Module):
    """Named groups of subscribers, across the processes of the site.

    Publish from any handler or task (``await channels.apublish("post:12", data)``,
    or ``channels.publish(...)`` from sync code); subscribe from a WebSocket
    (:meth:`stream_websocket`) or server-sent events (:meth:`event_stream`), or
    iterate :meth:`subscribe` yourself. Data is anything JSON-able.

    Args:
        backend: How messages travel: ``MemoryChannels()`` (one process) or
            ``RedisChannels(url)``; from ``settings.channels_url`` if omitted.
        max_pending: Messages a subscriber may fall behind before it is dropped.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.channels import Channels
        >>> app = Carboy()
        >>> channels = Channels()
        >>> app.install(channels)
        >>> @app.websocket("/posts/{id:int}/live")
        ... async def live(ws: WebSocket, id: int) -> None:
        ...     await channels.stream_websocket(ws, f"post:{id}")
    """

    def __init__(self, backend: ChannelBackend | None = None, *, max_pending: int = 100) -> None:
        super().__init__("channels")
        if max_pending < 1:
            raise ConfigurationError("Channels(max_pending=...) must be at least 1")
        self._backend = backend
        self.max_pending = max_pending
        self._subscribers: dict[str, set[Subscription]] = {}
        self._started = False
        self._app: Carboy | None = None
        self.provide(Channels, self)
        self.on_startup(self._start)
        self.on_shutdown(self._stop)
        self.add_readiness_check("channels", lambda: self.backend.ping())

    @property
    def backend(self) -> ChannelBackend:
        """The backend messages travel on."""
        if self._backend is None:
            self._backend = MemoryChannels()
        return self._backend

    def setup(self, app: Carboy) -> None:
        """Make the backend from ``settings.channels_url`` unless one was given."""
        self._app = app
        if self._backend is None:
            self._backend = backend_from_url(app.settings.channels_url)

    async def _start(self) -> None:
        if self._app is None:
            raise ConfigurationError("Channels started before the app built it (setup)")
        await self.backend.start(self._deliver, self._app.background.spawn)
        self._started = True

    async def _stop(self) -> None:
        self._started = False
        await self.backend.close()

    # -- publishing ----------------------------------------------------------------
    def _encode(self, group: str, data: Any) -> bytes:
        check_group(group)
        return encode_json(data)  # as responses write it (datetimes, pydantic models)

    async def apublish(self, group: str, data: Any) -> None:
        """Send ``data`` (JSON-able) to every subscriber of ``group``, in every process."""
        await self.backend.publish(group, self._encode(group, data))

    def publish(self, group: str, data: Any) -> None:
        """:meth:`apublish` from sync code: a ``def`` handler or a Celery task."""
        self.backend.publish_sync(group, self._encode(group, data))

    def _deliver(self, group: str, payload: bytes) -> None:
        subs = self._subscribers.get(group)
        if not subs:
            return
        try:
            data = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            logger.warning("channels: a message for %s is not JSON; dropped", group)
            return
        message = Message(group, data)
        for sub in list(subs):
            sub.offer(message)

    # -- subscribing ---------------------------------------------------------------
    async def _add(self, sub: Subscription) -> None:
        for group in sub.groups:
            subs = self._subscribers.setdefault(group, set())
            first = not subs
            subs.add(sub)
            if first:
                await self.backend.listen(group)

    def _remove(self, sub: Subscription) -> list[str]:
        emptied = []
        for group in sub.groups:
            subs = self._subscribers.get(group)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._subscribers[group]
                emptied.append(group)
        for group in emptied:
            if self._app is not None and self._started:
                self._app.background.spawn(self.backend.unlisten(group))
        return emptied

    def subscribers(self, group: str) -> int:
        """How many subscribers ``group`` has in this process."""
        return len(self._subscribers.get(group, ()))

    def subscribe(self, *groups: str, max_pending: int | None = None) -> _Subscribing:
        """``async with channels.subscribe("post:12") as sub: async for message in sub: ...``.

        Example:
            >>> async with channels.subscribe("post:12") as sub:
            ...     message = await sub.get()
        """
        if not groups:
            raise ValueError("subscribe() needs at least one group")
        for group in groups:
            check_group(group)
        return _Subscribing(self, tuple(groups), max_pending or self.max_pending)

    async def stream_websocket(
        self, websocket: WebSocket, *groups: str, require_login: bool = False
    ) -> None:
        """Accept ``websocket`` and send it each message of ``groups`` as JSON, until it leaves.

        Messages the client sends are read and discarded (so its close is seen).
        A client that falls ``max_pending`` messages behind is closed with code
        1008 (policy violation) and its queue freed. With ``require_login``, a
        handshake whose ``websocket.user`` is not authenticated (set by the auth
        battery from the session cookie or a token) is refused before it is
        accepted: the client gets HTTP 403.
        """
        from carboy.exceptions import WebSocketDisconnect
        from carboy.websockets import WebSocketState

        if require_login and not websocket.user.is_authenticated:
            await websocket.close(SLOW_CONSUMER, "sign in first")
            return
        async with self.subscribe(*groups) as sub:
            if websocket.application_state is WebSocketState.CONNECTING:
                await websocket.accept()

            async def drain_client() -> None:
                try:
                    while True:
                        await websocket.receive_text()
                except WebSocketDisconnect:
                    return

            reader = asyncio.ensure_future(drain_client())
            try:
                while True:
                    getter = asyncio.ensure_future(sub.get())
                    done, _ = await asyncio.wait(
                        {getter, reader}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if reader in done:
                        getter.cancel()
                        return
                    try:
                        message = getter.result()
                    except SlowSubscriber:
                        await websocket.close(SLOW_CONSUMER, "too slow: messages were dropped")
                        return
                    await websocket.send_json({"group": message.group, "data": message.data})
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    def event_stream(self, *groups: str, ping: float | None = 15.0) -> EventSourceResponse:
        """A server-sent events response with each message of ``groups`` (``event`` = group).

        A client that falls behind is dropped: its stream ends, and the browser's
        ``EventSource`` reconnects by itself.
        """
        subscribing = self.subscribe(*groups)

        async def events() -> AsyncIterator[ServerSentEvent]:
            async with subscribing as sub:
                try:
                    async for message in sub:
                        yield ServerSentEvent(message.data, event=message.group)
                except SlowSubscriber:
                    return

        return EventSourceResponse(events(), ping=ping)

    def __repr__(self) -> str:
        return f"Channels({self.backend!r})"


class _Subscribing:
    def __init__(self, hub: Channels, groups: tuple[str, ...], max_pending: int) -> None:
        self.sub = Subscription(hub, groups, max_pending)

    async def __aenter__(self) -> Subscription:
        await self.sub.hub._add(self.sub)
        return self.sub

    async def __aexit__(self, *exc: object) -> None:
        if not self.sub.dropped:
            self.sub.hub._remove(self.sub)
