"""Session keys of the server-side stores: random, and stored only as their hash."""

from __future__ import annotations

import hashlib
import re
import secrets

#: What a key made by :func:`new_key` looks like; anything else is not looked up.
_KEY = re.compile(r"[A-Za-z0-9_-]{43}")


def new_key() -> str:
    """A new session key: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str | None:
    """What a store keeps for ``key`` (SHA-256, hex), or None for a key it never made.

    A copy of the store (a backup, a leaked dump) then holds no key that
    signs anyone in.
    """
    if _KEY.fullmatch(key) is None:
        return None
    return digest(key)


def digest(key: str) -> str:
    """The SHA-256 of a key known to be well-formed (one :func:`new_key` made)."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()
