"""Who is asking: the backends that recognise a request, and the middleware that asks them."""

from __future__ import annotations

from collections.abc import Sequence

from carboy.auth._protocols import AuthBackend, AuthUser, UserStore
from carboy.auth.sessions import Session
from carboy.connections import HTTPConnection
from carboy.errors import response_for_http_exception
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.identity import AUTH_KEY, SESSION_KEY, USER_KEY, AuthCredentials
from carboy.types import ASGIApp, Receive, Scope, Send

#: Session keys of the signed-in user: their id, and their session generation at sign-in.
USER_ID_KEY = "_auth_user_id"
GENERATION_KEY = "_auth_generation"

#: The credentials of a session sign-in: no scopes (permissions come from the user), and
#: not explicit (a browser sends the cookie by itself, so CSRF checks apply).
SESSION_CREDENTIALS = AuthCredentials(method="session")


class SessionBackend:
    """Recognise the user signed in to the request's session (by :func:`~carboy.auth.login`).

    The session holds the user's id and their session generation at sign-in.
    The user is looked up in the :class:`~carboy.auth.UserStore` on every
    request; one who is gone, inactive, or whose generation moved since (a
    password change, "sign out everywhere", a sign-out under the cookie
    store) is anonymous, and the session is emptied so the cookie is dropped.

    Args:
        users: Where users live; :class:`~carboy.auth.Auth` sets it when the app builds.

    Example:
        >>> backend = SessionBackend(users)
        >>> app.add_middleware(AuthenticationMiddleware, backends=[backend])
    """

    __slots__ = ("users",)

    def __init__(self, users: UserStore | None = None) -> None:
        self.users = users

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthUser, AuthCredentials] | None:
        """The session's user, or None when no one is signed in to it."""
        session = conn.scope.get(SESSION_KEY)
        if not isinstance(session, Session):
            return None
        pk = session.get(USER_ID_KEY)
        if pk is None:
            return None
        users = self.users
        if users is None:
            raise ConfigurationError(
                "SessionBackend has no user store: install carboy.auth.Auth(users=...), "
                "or give SessionBackend(users)"
            )
        user = await users.get(str(pk)) if isinstance(pk, str) else None
        if (
            user is None
            or not user.is_active
            or session.get(GENERATION_KEY) != user.session_generation
        ):
            if session.key is not None and not session.invalidated:
                session.invalidate()  # a stale sign-in is worth nothing: drop it all
            return None
        return user, SESSION_CREDENTIALS


class AuthenticationMiddleware:
    """Set ``request.user`` and ``request.auth`` from the first backend that recognises the request.

    Backends are asked in order; the first to return a user wins, and a
    request none recognises keeps the user it had (anonymous, unless
    middleware further out set one). A backend that raises an
    :class:`~carboy.HTTPException` (a malformed or revoked token: 401) answers
    the request with that error; for a WebSocket, the handshake is refused.

    Args:
        app: The ASGI app to wrap.
        backends: The backends, asked in order. The list is read at each
            request, so backends appended before the app starts count.

    Example:
        >>> app.add_middleware(AuthenticationMiddleware, backends=[SessionBackend(users)])
    """

    __slots__ = ("app", "backends")

    def __init__(self, app: ASGIApp, backends: Sequence[AuthBackend]) -> None:
        self.app = app
        self.backends = backends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, then run the app."""
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        for backend in self.backends:
            try:
                found = await backend.authenticate(conn)
            except HTTPException as exc:
                if kind == "websocket":
                    reason = str(exc.detail)[:120]  # a close reason is at most 123 bytes
                    await send({"type": "websocket.close", "code": 1008, "reason": reason})
                    return
                await response_for_http_exception(scope, exc)(scope, receive, send)
                return
            if found is not None:
                scope[USER_KEY], scope[AUTH_KEY] = found
                break
        await self.app(scope, receive, send)
