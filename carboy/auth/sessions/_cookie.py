"""The default store: the session's data in the cookie itself, signed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from carboy.auth.signing import BadSignature, Signer
from carboy.exceptions import ConfigurationError
from carboy.settings import Settings

#: The salt of session cookies: a value signed for another purpose is no session.
SESSION_SALT = "carboy.auth.session"
#: Browsers drop a cookie whose name and value pass 4096 bytes; this leaves room for the name.
DEFAULT_MAX_SIZE = 4000


class SessionTooLarge(ValueError):
    """The session's data does not fit in a cookie (browsers drop cookies over 4 KB).

    Raised when the response starts, rather than let the browser drop the
    cookie without a word (and the visitor be signed out).
    """


class CookieStore:
    """Keep the session in its cookie, signed (and compressed when that is shorter).

    Nothing is stored on the server, so it needs no database and scales
    anywhere; but the data travels with every request, must stay small
    (``max_size``), and is readable by the visitor (signed, not encrypted:
    keep no secrets in it). Deleting a session cannot reach a copy of the
    cookie, so sign-out ends the user's session generation instead (every
    session of that user).

    Args:
        signer: Signs and verifies the cookie; make it with
            :meth:`from_settings` to use the app's secret key and its fallbacks.
        max_size: The longest cookie value it makes, in bytes;
            :class:`SessionTooLarge` past it.
        clock: The time source (UNIX seconds), for tests.

    Example:
        >>> from carboy import Settings
        >>> store = CookieStore.from_settings(Settings(secret_key="k" * 40), max_size=2000)
    """

    server_side = False

    def __init__(
        self,
        signer: Signer,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(signer, Signer):
            raise ConfigurationError(
                f"CookieStore(signer) takes a carboy.auth.Signer, got {signer!r}; "
                "CookieStore.from_settings(settings) makes one from the secret key"
            )
        if max_size < 100:
            raise ConfigurationError(
                f"CookieStore(max_size=...) must be at least 100 bytes, got {max_size}"
            )
        self.signer = signer
        self.max_size = max_size
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> CookieStore:
        """A store signing with ``settings.secret_key`` (``secret_key_fallbacks`` verify too).

        Raises:
            ConfigurationError: No secret key is set.
        """
        return cls(Signer.from_settings(settings, salt=SESSION_SALT), **options)

    async def load(self, key: str) -> dict[str, Any] | None:
        """The data signed into ``key``; None when forged, malformed or expired."""
        if len(key) > self.max_size:
            return None
        try:
            payload = self.signer.loads(key)
        except BadSignature:
            return None
        if not isinstance(payload, dict):
            return None
        expires, data = payload.get("e"), payload.get("d")
        if not isinstance(expires, int | float) or not isinstance(data, dict):
            return None
        if expires <= self._clock():
            return None
        return data

    async def save(self, key: str | None, data: Mapping[str, Any], max_age: int) -> str:
        """``data`` signed, with its expiry; the cookie value.

        Raises:
            SessionTooLarge: The value would pass ``max_size``.
        """
        value = self.signer.dumps({"e": int(self._clock()) + max_age, "d": dict(data)})
        if len(value) > self.max_size:
            # The middleware's envelope holds the session's own data under "d".
            inner = data.get("d")
            keys = sorted(inner if isinstance(inner, dict) else data)
            raise SessionTooLarge(
                f"The session is {len(value)} bytes as a signed cookie, more than the "
                f"{self.max_size} a cookie may hold (browsers drop bigger ones). Keep less in "
                f"the session (keys: {', '.join(keys) or 'none'}), or keep it on the "
                "server: SessionConfig(store=DatabaseStore(db)) or RedisStore(url)."
            )
        return value

    async def delete(self, key: str) -> None:
        """Nothing to do: the data lives in the cookie, which the middleware deletes."""

    async def clear_expired(self) -> int:
        """Nothing to do: expired cookies are refused when they come back."""
        return 0

    def __repr__(self) -> str:
        return f"CookieStore(max_size={self.max_size})"
