"""carboy.auth: sessions, users, sign-in pages, permissions, tokens and CSRF.

Example:
    >>> from carboy import Carboy
    >>> from carboy.auth import Auth
    >>> app = Carboy()
    >>> app.install(Auth())
"""

from carboy.auth._module import Auth as Auth
from carboy.auth._protocols import AuthBackend as AuthBackend
from carboy.auth._protocols import AuthUser as AuthUser
from carboy.auth._protocols import UserStore as UserStore
from carboy.auth.guards import Guard as Guard
from carboy.auth.guards import login_required as login_required
from carboy.auth.guards import permission_required as permission_required
from carboy.auth.guards import safe_next as safe_next
from carboy.auth.guards import staff_required as staff_required

__all__ = [
    "Auth",
    "AuthBackend",
    "AuthUser",
    "Guard",
    "UserStore",
    "login_required",
    "permission_required",
    "safe_next",
    "staff_required",
]
