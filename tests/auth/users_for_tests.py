"""Users for the token, JWT and two-factor tests: a MemoryUserStore, and users outside any store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carboy.auth import MemoryUserStore
from tests.auth.conftest import fast_hasher


@dataclass
class Member:
    """A user that satisfies :class:`carboy.auth.AuthUser` and lives in no store.

    What a token can be issued for, or name, after its user is gone.
    """

    id: int
    username: str
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    session_generation: int = 0

    @property
    def pk(self) -> str:
        return str(self.id)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_superuser


async def ann_and_bob(*, bob_active: bool = True) -> MemoryUserStore:
    """A store holding ann (pk "1") and bob (pk "2"), who may be inactive."""
    store = MemoryUserStore(hasher=fast_hasher())
    await store.create(username="ann", password=None)
    await store.create(username="bob", password=None, is_active=bob_active)
    return store
