"""Sessions in the process's memory: for tests and single-process development."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from carboy.auth.sessions._keys import digest, key_hash, new_key

#: How many saves between two sweeps of expired sessions.
_SWEEP_EVERY = 1000


class MemoryStore:
    """Keep sessions in a dict of this process: gone at restart, not shared between workers.

    Data is copied as JSON both ways, so it behaves as the other stores do
    (a value changed after saving does not change the stored one).

    Args:
        clock: The time source (UNIX seconds), for tests.

    Example:
        >>> store = MemoryStore()
        >>> import asyncio
        >>> key = asyncio.run(store.save(None, {"n": 1}, 60))
        >>> asyncio.run(store.load(key))
        {'n': 1}
    """

    server_side = True

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, tuple[float, str]] = {}
        self._saves = 0

    def __len__(self) -> int:
        return len(self._sessions)

    async def load(self, key: str) -> dict[str, Any] | None:
        """The data under ``key``; None when unknown or expired."""
        stored = key_hash(key)
        entry = self._sessions.get(stored) if stored is not None else None
        if stored is None or entry is None:
            return None
        expires, text = entry
        if expires <= self._clock():
            self._sessions.pop(stored, None)
            return None
        data: dict[str, Any] = json.loads(text)
        return data

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        """Store ``data`` for ``max_age`` seconds; a new key unless ``key`` is still held."""
        stored = key_hash(key) if key is not None else None
        if key is None or stored is None or stored not in self._sessions:
            key = new_key()
            stored = digest(key)
        self._sessions[stored] = (self._clock() + max_age, json.dumps(dict(data)))
        self._saves += 1
        if self._saves % _SWEEP_EVERY == 0:
            await self.clear_expired()
        return key

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        stored = key_hash(key)
        if stored is not None:
            self._sessions.pop(stored, None)

    async def clear_expired(self) -> int:
        """Drop expired sessions (also done every 1000 saves); how many."""
        now = self._clock()
        expired = [stored for stored, (expires, _) in self._sessions.items() if expires <= now]
        for stored in expired:
            del self._sessions[stored]
        return len(expired)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._sessions)} sessions)"
