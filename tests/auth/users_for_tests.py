"""An in-memory UserStore for the token tests, until the users slice's MemoryUserStore lands.

It implements the whole :class:`carboy.auth.UserStore` protocol over a dict;
passwords are compared in constant time but not hashed (no test here signs in
with one).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Member:
    """A user satisfying :class:`carboy.auth.AuthUser`."""

    id: int
    username: str
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    session_generation: int = 0
    password: str | None = None
    perms: set[str] = field(default_factory=set)

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
        return self.is_superuser or perm in self.perms


class MemoryUsers:
    """The users of one test."""

    def __init__(self) -> None:
        self.users: dict[str, Member] = {}

    async def get(self, pk: str) -> Member | None:
        return self.users.get(pk)

    async def get_by_login(self, login: str) -> Member | None:
        return next((u for u in self.users.values() if u.username == login.lower()), None)

    async def create(self, *, password: str | None, **fields: Any) -> Member:
        user = Member(id=len(self.users) + 1, password=password, **fields)
        self.users[user.pk] = user
        return user

    async def check_password(self, user: Any, password: str) -> bool:
        stored = self.users[user.pk].password
        return stored is not None and hmac.compare_digest(stored, password)

    async def set_password(self, user: Any, password: str) -> None:
        self.users[user.pk].password = password
        await self.bump_generation(user)

    async def update(self, user: Any, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self.users[user.pk], name, value)

    async def bump_generation(self, user: Any) -> None:
        self.users[user.pk].session_generation += 1
