"""The session of one request: a dict the handlers change, and what the middleware saves."""

from __future__ import annotations

import asyncio
import json
import threading
from _thread import RLock as _RLock
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, NamedTuple

from carboy.connections import HTTPConnection

#: The session key flash messages wait under until they are read.
FLASHES_KEY = "_flashes"

_PLAIN = (str, int, bool, type(None))  # (a float may be NaN, which JSON cannot hold)
_MISSING: Any = object()


class Flash(NamedTuple):
    """A flash message: what to show once, on the next page, and its category.

    Example:
        >>> Flash("Saved.", "success").category
        'success'
    """

    message: str
    category: str


class Session(MutableMapping[str, Any]):
    """The data of one visitor's session: ``request.session``.

    A mutable mapping of JSON values (str, numbers, booleans, None, lists and
    dicts of them); a value JSON cannot hold is refused when it is set, not
    when the response is sent. Changes are saved when the response starts,
    and only when there are any (``modified``), so pages that never write to
    the session never set a cookie.

    Changing a list or dict *inside* the session is not seen: assign it back
    (``session["cart"] = cart``) or set ``session.modified = True``.

    One request may run several coroutines (or a thread) at once: every
    single operation is atomic, and ``async with session.lock:`` makes a
    read-modify-write that awaits in between atomic too.

    Example:
        >>> session = Session()
        >>> session["cart"] = [3, 7]
        >>> (session["cart"], session.modified)
        ([3, 7], True)
        >>> session.rotate()  # a new id at the next save: after login, after sudo
    """

    __slots__ = (
        "_alock",
        "_closed",
        "_data",
        "_lock",
        "accessed",
        "created",
        "invalidated",
        "key",
        "modified",
        "rotated",
        "seen",
    )

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        created: float | None = None,
        seen: float | None = None,
    ) -> None:
        self._data: dict[str, Any] = dict(data) if data else {}
        # The C lock itself: threading.RLock() is a Python call around it, on every request.
        self._lock: threading.RLock = _RLock()
        self._alock: asyncio.Lock | None = None
        self._closed: str | None = None
        #: The store's key of the loaded session; None for a new one.
        self.key = key
        #: When the session began (UNIX time): the absolute expiry counts from it.
        self.created = created
        #: When the session was last renewed: the idle expiry counts from it.
        self.seen = seen
        #: True once something changed: the session is saved when the response starts.
        self.modified = False
        #: True once something read or wrote it: the response then varies on ``Cookie``.
        self.accessed = False
        #: True when the next save must use a new key (:meth:`rotate`).
        self.rotated = False
        #: True when the stored session must be destroyed (:meth:`invalidate`).
        self.invalidated = False

    # -- reading ---------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return iter(list(self._data))

    def __len__(self) -> int:
        self.accessed = True
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default``."""
        self.accessed = True
        return self._data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A copy of the data (what the store saves)."""
        with self._lock:
            return dict(self._data)

    @property
    def is_new(self) -> bool:
        """True when no stored session was loaded for this request."""
        return self.key is None

    @property
    def is_empty(self) -> bool:
        """True when the session holds nothing (it is then not stored, and its cookie goes)."""
        return not self._data

    # -- writing ---------------------------------------------------------------
    def __setitem__(self, key: str, value: Any) -> None:
        self._check_open()
        _check_value(key, value)
        with self._lock:
            self._data[key] = value
            self.accessed = self.modified = True

    def __delitem__(self, key: str) -> None:
        self._check_open()
        with self._lock:
            del self._data[key]
            self.accessed = self.modified = True

    def setdefault(self, key: str, default: Any = None) -> Any:
        """``session[key]``, set to ``default`` first when missing (atomically)."""
        self._check_open()
        with self._lock:
            self.accessed = True
            if key in self._data:
                return self._data[key]
            self[key] = default
            return default

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (or ``default``; KeyError without one)."""
        self._check_open()
        with self._lock:
            self.accessed = True
            if key not in self._data:
                if default is _MISSING:
                    raise KeyError(key)
                return default
            self.modified = True
            return self._data.pop(key)

    def update(self, other: Any = (), /, **values: Any) -> None:
        """Set several keys at once (atomically)."""
        self._check_open()
        items = dict(other, **values)
        for key, value in items.items():
            _check_value(key, value)
        with self._lock:
            self._data.update(items)
            self.accessed = self.modified = True

    def clear(self) -> None:
        """Remove everything; an empty session is not stored and its cookie is deleted."""
        self._check_open()
        with self._lock:
            self._data.clear()
            self.accessed = self.modified = True

    def rotate(self) -> None:
        """Keep the data under a new key from the next save, and forget the old key.

        Call it whenever the privileges of the session change (``login`` does),
        so an id an attacker planted or saw before is worth nothing after
        ("session fixation"). It also restarts the session's absolute lifetime.
        """
        self._check_open()
        with self._lock:
            self.rotated = self.modified = True

    def invalidate(self) -> None:
        """End the session: destroy it in the store and start an empty one (``logout`` does)."""
        self._check_open()
        with self._lock:
            self._data.clear()
            self.invalidated = self.rotated = self.accessed = self.modified = True

    @property
    def lock(self) -> asyncio.Lock:
        """A lock for a read-modify-write that awaits in between.

        Example:
            >>> async with request.session.lock:
            ...     request.session["n"] = await next_number(request.session.get("n", 0))
        """
        with self._lock:
            if self._alock is None:
                self._alock = asyncio.Lock()
            return self._alock

    # -- flash messages -------------------------------------------------------
    def flash(self, message: str, category: str = "info") -> None:
        """Keep ``message`` for the next page that shows flash messages."""
        if not isinstance(message, str) or not isinstance(category, str):
            raise TypeError(
                f"flash() takes a str message and category, got {type(message).__name__} "
                f"and {type(category).__name__}"
            )
        with self._lock:
            waiting = list(self._data.get(FLASHES_KEY) or [])
            waiting.append([category, message])
            self[FLASHES_KEY] = waiting

    def get_flashed(self, category: str | None = None) -> list[Flash]:
        """The waiting flash messages (of ``category`` only, if given), removed as they are read."""
        with self._lock:
            self.accessed = True
            waiting = self._data.get(FLASHES_KEY)
            if not waiting:
                return []
            messages = [Flash(str(m), str(c)) for c, m in _valid_flashes(waiting)]
            if category is None:
                taken, kept = messages, []
            else:
                taken = [m for m in messages if m.category == category]
                kept = [m for m in messages if m.category != category]
            if kept:
                self[FLASHES_KEY] = [[m.category, m.message] for m in kept]
            else:
                self.pop(FLASHES_KEY, None)
            return taken

    # -- the middleware's side ---------------------------------------------------
    def close(self, reason: str) -> None:
        """Refuse changes from now on, with ``reason`` as the error (the session was saved)."""
        self._closed = reason

    def _check_open(self) -> None:
        if self._closed is not None:
            raise RuntimeError(self._closed)

    def __repr__(self) -> str:
        flags = [name for name in ("modified", "rotated", "invalidated") if getattr(self, name)]
        return f"Session(keys={sorted(self._data)!r}{', ' if flags else ''}{', '.join(flags)})"


def _check_value(key: str, value: Any) -> None:
    if not isinstance(key, str):
        raise TypeError(f"Session keys are strings, got {key!r}")
    if isinstance(value, _PLAIN):
        return
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"session[{key!r}]: the session holds JSON values only (str, int, float, bool, "
            f"None, and lists and dicts of them); {exc}"
        ) from None


def _valid_flashes(waiting: Any) -> list[tuple[Any, Any]]:
    if not isinstance(waiting, list):
        return []
    return [
        (item[0], item[1])
        for item in waiting
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
    ]


def flash(conn: HTTPConnection, message: str, category: str = "info") -> None:
    """Keep ``message`` in the session for the next page that shows flash messages.

    Example:
        >>> @app.post("/posts")
        ... async def create(request: Request) -> RedirectResponse:
        ...     flash(request, "Post saved.", "success")
        ...     return RedirectResponse("/posts", 303)
    """
    session = conn.session
    if not isinstance(session, Session):
        raise TypeError("flash() needs the session of carboy.auth (SessionMiddleware)")
    session.flash(message, category)


def get_flashed(conn: HTTPConnection, category: str | None = None) -> list[Flash]:
    """The flash messages waiting in the session (of ``category`` only, if given), taken out.

    In templates the same is ``get_flashed()``, and ``get_flashed("error")``.

    Example:
        >>> [f.message for f in get_flashed(request)]
        ['Post saved.']
    """
    session = conn.session
    if not isinstance(session, Session):
        raise TypeError("get_flashed() needs the session of carboy.auth (SessionMiddleware)")
    return session.get_flashed(category)
