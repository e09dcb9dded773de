"""Where published messages travel: this process's memory, or Redis pub/sub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from carboy.exceptions import ConfigurationError

logger = logging.getLogger("carboy.channels")

#: Called by a backend with each message that arrives for a group this process listens to.
Deliver = Callable[[str, bytes], None]
Spawn = Callable[..., Any]


class ChannelBackend(Protocol):
    """Carries messages between the processes of a site (or within one)."""

    async def start(self, deliver: Deliver, spawn: Spawn) -> None:
        """Begin delivering: ``deliver(group, payload)`` for every message of a listened group."""
        ...

    async def publish(self, group: str, payload: bytes) -> None:
        """Send ``payload`` to every process listening to ``group``."""
        ...

    def publish_sync(self, group: str, payload: bytes) -> None:
        """:meth:`publish` from sync code (a ``def`` handler, a Celery task)."""
        ...

    async def listen(self, group: str) -> None:
        """This process now has subscribers to ``group``."""
        ...

    async def unlisten(self, group: str) -> None:
        """This process has no subscribers to ``group`` any more."""
        ...

    async def close(self) -> None:
        """Stop delivering and release connections."""
        ...

    async def ping(self) -> None:
        """Return if the transport is reachable, raise if not (``/readyz``)."""
        ...


class MemoryChannels:
    """Messages within this process only: the embedded default (one process, tests, the demo).

    Example:
        >>> from carboy.channels import Channels, MemoryChannels
        >>> channels = Channels(backend=MemoryChannels())
    """

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, deliver: Deliver, spawn: Spawn) -> None:
        """See :meth:`ChannelBackend.start`."""
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()

    async def publish(self, group: str, payload: bytes) -> None:
        """See :meth:`ChannelBackend.publish`."""
        if self._deliver is not None:
            self._deliver(group, payload)

    def publish_sync(self, group: str, payload: bytes) -> None:
        """See :meth:`ChannelBackend.publish_sync`: handed to the app's loop."""
        deliver, loop = self._deliver, self._loop
        if deliver is None or loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            deliver(group, payload)
        else:
            loop.call_soon_threadsafe(deliver, group, payload)

    async def listen(self, group: str) -> None:
        """Nothing to do in one process."""

    async def unlisten(self, group: str) -> None:
        """Nothing to do in one process."""

    async def close(self) -> None:
        """Stop delivering."""
        self._deliver = None

    async def ping(self) -> None:
        """Always reachable: it is this process."""


class RedisChannels:
    """Messages over Redis pub/sub: every process on every machine sees them.

    One connection per process listens to the groups that have subscribers
    here. If Redis goes away the listener logs a warning, retries with
    backoff (up to ``max_backoff`` seconds), subscribes again to every group
    and logs that it is back; messages published while it was away are lost
    (pub/sub keeps nothing), so clients that must not miss any reload state
    on reconnect.

    Args:
        url: ``redis://host:6379/0``.
        prefix: Put in front of each group's Redis channel name.
        max_backoff: Longest wait between two reconnection attempts.

    Example:
        >>> from carboy.channels import Channels, RedisChannels
        >>> channels = Channels(backend=RedisChannels("redis://127.0.0.1:6379/0"))
    """

    def __init__(self, url: str, *, prefix: str = "carboy:ch:", max_backoff: float = 5.0) -> None:
        try:
            import redis  # noqa: F401
        except ImportError:  # pragma: no cover - redis is in carboy[redis]
            raise ConfigurationError(
                "the Redis channel backend needs redis: pip install 'carboy[redis]'"
            ) from None
        self.url = url
        self.prefix = prefix
        self.max_backoff = max_backoff
        self._groups: set[str] = set()
        self._deliver: Deliver | None = None
        self._client: Any = None
        self._pubsub: Any = None
        self._sync: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = False
        #: Times the listener reconnected after losing Redis.
        self.reconnects = 0

    def _channel(self, group: str) -> str:
        return self.prefix + group

    async def start(self, deliver: Deliver, spawn: Spawn) -> None:
        """Connect and start the listener as the app's background work."""
        import redis.asyncio

        self._deliver = deliver
        self._closing = False
        self._client = redis.asyncio.Redis.from_url(self.url, health_check_interval=10)
        self._task = spawn(self._listen(), name="carboy.channels redis listener", daemon=True)

    async def _connect(self) -> None:
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        # A placeholder channel, so the connection is open even with no group yet.
        await self._pubsub.subscribe(self.prefix + "_")
        if self._groups:
            await self._pubsub.subscribe(*(self._channel(g) for g in self._groups))
        self._ready.set()

    async def _listen(self) -> None:
        import redis.exceptions

        delay = 0.1
        lost = False
        while not self._closing:
            try:
                await self._connect()
                if lost:
                    self.reconnects += 1
                    logger.warning("channels: reconnected to Redis at %s", _safe(self.url))
                    lost = False
                delay = 0.1
                while not self._closing:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"]
                    name = channel.decode() if isinstance(channel, bytes) else str(channel)
                    if self._deliver is not None and name.startswith(self.prefix):
                        self._deliver(name[len(self.prefix) :], message["data"])
            except (
                redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError,
                OSError,
            ) as exc:
                self._ready.clear()
                if not lost:
                    logger.warning(
                        "channels: lost Redis at %s (%s); reconnecting", _safe(self.url), exc
                    )
                lost = True
                await self._drop_pubsub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except Exception:  # the connection is already gone
                logger.debug("channels: closing a broken pub/sub connection failed", exc_info=True)

    async def publish(self, group: str, payload: bytes) -> None:
        """``PUBLISH`` to the group's channel."""
        if self._client is None:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(self.url)
        await self._client.publish(self._channel(group), payload)

    def publish_sync(self, group: str, payload: bytes) -> None:
        """``PUBLISH`` with a sync connection."""
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url)
        self._sync.publish(self._channel(group), payload)

    async def listen(self, group: str) -> None:
        """``SUBSCRIBE`` to the group (again after each reconnection)."""
        self._groups.add(group)
        if self._pubsub is not None and self._ready.is_set():
            import redis.exceptions

            try:
                await self._pubsub.subscribe(self._channel(group))
            except (redis.exceptions.ConnectionError, OSError):
                pass  # the listener reconnects and subscribes to every group

    async def unlisten(self, group: str) -> None:
        """``UNSUBSCRIBE`` from the group."""
        self._groups.discard(group)
        if self._pubsub is not None and self._ready.is_set():
            import redis.exceptions

            try:
                await self._pubsub.unsubscribe(self._channel(group))
            except (redis.exceptions.ConnectionError, OSError):
                pass

    async def wait_ready(self) -> None:
        """Wait until the listener is connected (tests, readiness checks)."""
        await self._ready.wait()

    async def close(self) -> None:
        """Stop the listener and close the connections."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._drop_pubsub()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def ping(self) -> None:
        """``PING`` Redis."""
        import redis.asyncio

        client = self._client or redis.asyncio.Redis.from_url(self.url)
        try:
            await client.ping()
        finally:
            if client is not self._client:
                await client.aclose()

    def __repr__(self) -> str:
        return f"RedisChannels({_safe(self.url)!r})"


def _safe(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.partition(':')[0]}:***@{host}"
