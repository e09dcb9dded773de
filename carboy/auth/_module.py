"""The auth battery as one module: ``app.install(Auth(...))``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from carboy.auth.guards import check_guard_order
from carboy.modules import Module
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.auth._protocols import UserStore


class Auth(Module):
    """Sessions, users, sign-in pages, permissions, tokens and CSRF, installed together.

    Args:
        prefix: Where its pages live (``/auth/login``, ``/auth/logout``...).
        users: Where users live; defaults to the SQL store over the app's
            :class:`~carboy.db.Database` and the :class:`~carboy.auth.User` model.

    Example:
        >>> from carboy import Carboy
        >>> from carboy.auth import Auth
        >>> app = Carboy()
        >>> app.install(Auth())
    """

    def __init__(
        self,
        *,
        prefix: str = "/auth",
        users: UserStore | None = None,
        # -- sessions (helper: sessions) --
        # -- passwords and users (helper: users) --
        # -- csrf, csp, throttling (helper: csrf) --
        # -- tokens, jwt, two-factor (helper: tokens) --
        # -- pages, mail (helper: pages) --
    ) -> None:
        super().__init__("auth", prefix=prefix, templates="templates", root=Path(__file__).parent)
        self._users = users
        # -- sessions --
        # -- users --
        # -- csrf --
        # -- tokens --
        # -- pages --
        self.context_processor(_user_context)
        self.check(check_guard_order)

    def setup(self, app: Carboy) -> None:
        """Wire sessions, authentication and CSRF into the app (runs at build)."""
        # -- sessions --
        # -- users --
        # -- csrf --
        # -- tokens --
        # -- pages --


def _user_context(request: Request) -> dict[str, Any]:
    """``user`` in every template: the signed-in user, or the anonymous one."""
    return {"user": request.user}
