"""Signing in and out: what the sign-in page does once the password checked out."""

from __future__ import annotations

from datetime import UTC, datetime

from carboy.auth._authentication import GENERATION_KEY, SESSION_CREDENTIALS, USER_ID_KEY
from carboy.auth._module import Auth
from carboy.auth._protocols import AuthUser
from carboy.auth.csrf import rotate_csrf_token
from carboy.auth.sessions import Session
from carboy.connections import HTTPConnection
from carboy.exceptions import ConfigurationError
from carboy.identity import ANONYMOUS, NO_CREDENTIALS


def _session(conn: HTTPConnection) -> Session:
    session = conn.session
    if not isinstance(session, Session):
        raise ConfigurationError(
            "login() and logout() need the sessions of carboy.auth: install carboy.auth.Auth"
        )
    return session


async def login(conn: HTTPConnection, user: AuthUser) -> None:
    """Sign ``user`` in to this request's session; call it once their password checked out.

    The session gets a new id and a new CSRF secret (an id or a token planted
    or seen before sign-in is worth nothing after), keeps its data unless
    another user was signed in to it, and records the user's id and session
    generation. ``request.user`` is
    the user from here on, and their ``last_login`` is saved.

    Raises:
        ValueError: The user is inactive.

    Example:
        >>> @app.post("/login")
        ... async def sign_in(request: Request, form: LoginForm) -> RedirectResponse:
        ...     user = await users.get_by_login(form.username)
        ...     if user and await users.check_password(user, form.password):
        ...         await login(request, user)
        ...         return RedirectResponse("/", 303)
        ...     ...
    """
    if not user.is_active:
        raise ValueError(f"User {user.pk!r} is inactive and cannot sign in")
    session = _session(conn)
    if session.get(USER_ID_KEY) not in (None, user.pk):
        session.clear()  # someone else's data never carries over to a new user
    session.rotate()
    rotate_csrf_token(conn)
    session[USER_ID_KEY] = user.pk
    session[GENERATION_KEY] = user.session_generation
    conn.user = user
    conn.auth = SESSION_CREDENTIALS
    await conn.app.get_module(Auth).users.update(user, last_login=datetime.now(UTC))


async def logout(conn: HTTPConnection, *, everywhere: bool = False) -> None:
    """Sign the request's user out: their session ends, here and in the store.

    Under a server-side store (database, Redis, memory) the stored session is
    destroyed, so a copy of the old cookie is refused. The cookie store has
    nothing on the server to destroy, so it ends the user's session
    generation instead: every session of the user ends, on every device.
    ``everywhere=True`` does that under every store ("sign out everywhere").

    Example:
        >>> @app.post("/logout")
        ... async def sign_out(request: Request) -> RedirectResponse:
        ...     await logout(request)
        ...     return RedirectResponse("/", 303)
    """
    session = _session(conn)
    user = conn.user
    signed_in = session.get(USER_ID_KEY)
    auth = conn.app.get_module(Auth)
    session.invalidate()
    conn.user = ANONYMOUS
    conn.auth = NO_CREDENTIALS
    if signed_in is None or not isinstance(user, AuthUser) or user.pk != signed_in:
        return  # no one was signed in to this session
    if everywhere or not auth.session_store.server_side:
        await auth.users.bump_generation(user)
