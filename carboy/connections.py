"""What HTTP requests and WebSocket connections have in common: scope, URL, headers."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from carboy.datastructures import URL, Address, Headers, QueryParams, State
from carboy.exceptions import ConfigurationError
from carboy.identity import (
    ANONYMOUS,
    AUTH_KEY,
    NO_CREDENTIALS,
    SESSION_KEY,
    USER_KEY,
    AuthCredentials,
    BaseUser,
    Session,
)
from carboy.types import Scope

if TYPE_CHECKING:
    from carboy.app import Carboy


#: Scope key of the request's Content-Security-Policy nonce (made on first use).
CSP_NONCE_KEY = "carboy.csp_nonce"


def make_csp_nonce() -> str:
    """A new nonce: 128 random bits, base64url (what a CSP ``'nonce-...'`` source takes).

    Example:
        >>> len(make_csp_nonce())
        22
    """
    return secrets.token_urlsafe(16)


def parse_cookies(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header leniently: one bad pair never drops the others.

    Example:
        >>> parse_cookies("a=1; b=%20x")
        {'a': '1', 'b': ' x'}
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(key, unquote(value))
    return cookies


class HTTPConnection:
    """The base of :class:`~carboy.Request` and :class:`~carboy.WebSocket`.

    Everything is parsed lazily from the ASGI scope, on first read.

    Example:
        >>> async def whoami(conn: HTTPConnection) -> str:
        ...     return conn.headers.get("user-agent", "?")
    """

    __slots__ = ("_cookies", "_headers", "_query", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None

    @property
    def app(self) -> Carboy:
        """The :class:`~carboy.Carboy` app serving this connection."""
        app: Carboy = self.scope["app"]
        return app

    @property
    def path(self) -> str:
        """The decoded path, e.g. ``/users/7``."""
        path: str = self.scope["path"]
        return path

    @property
    def url(self) -> URL:
        """The full URL (``http(s)://`` or ``ws(s)://``)."""
        return URL(scope=self.scope)

    @property
    def base_url(self) -> URL:
        """Scheme, host and root path: where the app is mounted."""
        url = self.url
        return url.replace(path=self.scope.get("root_path", "") + "/", query="", fragment="")

    @property
    def headers(self) -> Headers:
        """Case-insensitive, multi-valued headers."""
        if self._headers is None:
            self._headers = Headers(raw=self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query string, as a multi-dict."""
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client."""
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get("cookie", ""))
        return self._cookies

    @property
    def path_params(self) -> dict[str, Any]:
        """Values matched from the route's path, converted (``{id:int}`` gives an int)."""
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def client(self) -> Address | None:
        """The client's address, if the server gives it."""
        client = self.scope.get("client")
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        """Per-connection storage for middleware and dependencies (``request.state.user``)."""
        state = self.scope.get("state")
        if not isinstance(state, State):
            state = State(state if isinstance(state, dict) else None)
            self.scope["state"] = state
        return state

    @property
    def user(self) -> BaseUser:
        """The authenticated user, or :class:`~carboy.identity.AnonymousUser`.

        An auth backend sets it (``request.user = member``, or ``scope["user"]``
        from ASGI middleware); with none installed every request is anonymous.

        Example:
            >>> if not request.user.is_authenticated: ...  # redirect to the login page
        """
        user: BaseUser = self.scope.get(USER_KEY, ANONYMOUS)
        return user

    @user.setter
    def user(self, user: BaseUser) -> None:
        self.scope[USER_KEY] = user

    @property
    def auth(self) -> AuthCredentials:
        """The credentials the request authenticated with; no scopes when anonymous.

        Example:
            >>> if not request.auth.has("articles:write"): ...  # answer 403
        """
        auth: AuthCredentials = self.scope.get(AUTH_KEY, NO_CREDENTIALS)
        return auth

    @auth.setter
    def auth(self, auth: AuthCredentials) -> None:
        self.scope[AUTH_KEY] = auth

    @property
    def session(self) -> Session:
        """The session's data (a mutable mapping), loaded by session middleware.

        Raises:
            ConfigurationError: No session middleware runs for this route.

        Example:
            >>> request.session["cart"] = [3, 7]
        """
        try:
            session: Session = self.scope[SESSION_KEY]
        except KeyError:
            raise ConfigurationError(
                "request.session needs session middleware, and none ran for this route: "
                "install the sessions of carboy.auth (or middleware that sets "
                'scope["session"] from a carboy.identity.SessionStore)'
            ) from None
        return session

    @property
    def csp_nonce(self) -> str:
        """This request's Content-Security-Policy nonce: the same for the whole request.

        An app whose policy has ``'nonce-{nonce}'`` (see
        :class:`~carboy.middleware.SecurityHeaders`) sends it in its header; put it
        on the ``<script>`` and ``<style>`` elements the page means to run
        (``csp_nonce()`` in templates). Each request gets a fresh one, made the
        first time something asks.

        Example:
            >>> f'<script nonce="{request.csp_nonce}">start()</script>'
        """
        nonce = self.scope.get(CSP_NONCE_KEY)
        if not isinstance(nonce, str):
            nonce = self.scope[CSP_NONCE_KEY] = make_csp_nonce()
        return nonce

    @property
    def is_secure(self) -> bool:
        """True over HTTPS or WSS."""
        return self.scope.get("scheme") in ("https", "wss")

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of route ``name`` with ``params``: ``request.url_for("blog.post", id=3)``."""
        return self.app.url_path_for(name, **params)
