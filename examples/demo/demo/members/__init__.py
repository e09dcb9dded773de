"""A members-only page: signed-in users see it, everyone else is sent to sign in."""

from __future__ import annotations

from typing import Annotated

from carboy import Module
from carboy.auth import AuthUser, login_required
from carboy.templating import render

members = Module("members", prefix="/members")


@members.get("/")
async def lounge(user: Annotated[AuthUser, login_required]) -> object:
    """The members' lounge; ``login_required`` redirects visitors to the sign-in page."""
    return render("members/lounge.html", {"member": user})
