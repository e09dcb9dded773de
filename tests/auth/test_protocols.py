"""isinstance(x, AuthUser) and isinstance(x, EmailUser): remembered per class once true.

A runtime-checkable protocol's ``isinstance`` walks every member with
``hasattr`` (tens of microseconds in Python 3.11 for AuthUser's seven); a guard
runs one on every request it lets in, and handlers ask it of ``request.user``.
These tests show the answer is the protocol's, and that the walk happens once
per user class, not per request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pytest

from carboy.auth import AuthUser, EmailUser
from carboy.identity import AnonymousUser
from carboy.testing import TestClient
from tests.auth.test_guards import JSON, USERS, Member, make_app


class NoPerms:
    """Has everything AuthUser asks but ``has_perm``."""

    pk = "x"
    is_authenticated = True
    display_name = "x"
    is_active = True
    is_staff = False
    is_superuser = False
    session_generation = 0


class Mailable(Member):
    email: str | None = "ann@example.com"
    email_verified = False


@pytest.fixture
def protocol_walks(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """The protocols whose full ``isinstance`` walk ran, in order."""
    walks: list[type] = []
    meta = type(Protocol)  # the protocols' own check, which carboy.auth's metaclass calls
    original = meta.__instancecheck__

    def counting(cls: type, instance: Any) -> bool:
        if cls in (AuthUser, EmailUser):
            walks.append(cls)
        return original(cls, instance)

    monkeypatch.setattr(meta, "__instancecheck__", counting)
    return walks


def test_the_answers_are_the_protocols() -> None:
    member = USERS["ann"]
    assert isinstance(member, AuthUser)
    assert not isinstance(AnonymousUser(), AuthUser)
    assert not isinstance(NoPerms(), AuthUser)
    assert not isinstance(member, EmailUser)
    assert isinstance(Mailable("bo"), EmailUser) and isinstance(Mailable("bo"), AuthUser)


def test_a_class_that_conforms_is_walked_once(protocol_walks: list[type]) -> None:
    class Fresh(Member):
        pass

    for _ in range(5):
        assert isinstance(Fresh("a"), AuthUser)
    assert protocol_walks == [AuthUser]


def test_a_class_that_does_not_conform_is_walked_every_time(protocol_walks: list[type]) -> None:
    # Not remembered: another instance may carry the missing attribute.
    for _ in range(3):
        assert not isinstance(NoPerms(), AuthUser)
    assert protocol_walks == [AuthUser] * 3
    late = NoPerms()
    late.has_perm = lambda perm, obj=None: False  # type: ignore[attr-defined]
    assert isinstance(late, AuthUser)


def test_a_guarded_request_walks_the_protocol_once_per_user_class(
    tmp_path: Path, protocol_walks: list[type]
) -> None:
    client = TestClient(make_app(tmp_path), follow_redirects=False)
    for _ in range(3):
        response = client.get("/me", headers={"X-User": "editor", **JSON})
        assert response.status_code == 200, response.text
    assert protocol_walks.count(AuthUser) <= 1  # none if an earlier test remembered Member
