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

__all__ = [
    "Auth",
    "AuthBackend",
    "AuthUser",
    "UserStore",
]
