"""Guards: ``login_required``, ``permission_required(...)``, ``staff_required``.

A guard is a dependency (``dependencies=[login_required]``, or
``user: Annotated[User, login_required]`` to also get the user) and a
decorator (``@login_required`` under the route decorator). It lets a
request through, or refuses it the way the client understands:

* a browser (``Accept: text/html``) that is not signed in is redirected to the
  sign-in page with ``?next=`` the page it wanted (a same-site path only);
  an htmx request gets a 401 with ``HX-Redirect`` to that page;
* an API client (JSON, or anything that does not ask for HTML) gets a JSON 401;
* a signed-in user who lacks what the guard asks gets a 403 (page or JSON).
"""

from __future__ import annotations

import functools
import inspect
import unicodedata
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import quote, unquote, urlencode, urlsplit

from carboy.auth._protocols import AuthUser
from carboy.errors import wants_html
from carboy.exceptions import ConfigurationError, HTTPException
from carboy.modules import CheckLevel, CheckMessage
from carboy.params import Depends
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.app import Carboy

F = TypeVar("F", bound=Callable[..., Any])

#: The route a guard sends browsers to when no ``login_url`` is given (the Auth module's page).
LOGIN_ROUTE = "auth.login"
#: The longest ``next`` accepted; a longer one is dropped (the default page is used).
MAX_NEXT_LENGTH = 2048

# Originals that a guard wrapped: a route that serves one of these was registered
# before the guard was applied (the decorators in the wrong order).
_guarded_originals: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default``.

    Only a path that starts with one ``/`` passes: no scheme, no host, no
    ``//`` or ``/\\`` (which browsers read as another host), no backslash,
    space or control character; and the same holds once it is percent-decoded
    (repeatedly) and Unicode look-alikes (a fullwidth solidus, U+FF0F) are
    normalized, where a control character is refused too: so
    ``/%2F%2Fevil.example`` and ``/%09/evil.example`` are refused. This is
    what the sign-in page does with ``?next=``, so it cannot send a user
    elsewhere.

    Example:
        >>> safe_next("/account?tab=2")
        '/account?tab=2'
        >>> [safe_next(v) for v in ("//evil.example", "https://evil.example", "/\\evil.example")]
        ['/', '/', '/']
        >>> safe_next("/%2F%2Fevil.example", default="/home")
        '/home'
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.isascii():
        return default
    if "\\" in value or any(ch.isspace() or not ch.isprintable() for ch in value):
        return default
    seen = value
    for _ in range(4):  # a path encoded three times over is still checked
        if any(unicodedata.category(ch) == "Cc" for ch in seen):
            return default  # %09, %0A...: browsers drop tabs and newlines, "/\t/x" is "//x"
        if not (_looks_local(seen) and _looks_local(unicodedata.normalize("NFKC", seen))):
            return default
        decoded = unquote(seen)
        if decoded == seen:
            return value
        seen = decoded
    return default  # still changing after four rounds: nothing a real link needs


def _looks_local(path: str) -> bool:
    if not path.startswith("/") or path.startswith(("//", "/\\")):
        return False
    parts = urlsplit(path)
    return not (parts.scheme or parts.netloc)


def _next_path(request: Request) -> str:
    """The path and query of ``request``, percent-encoded: what ``?next=`` carries."""
    path = quote(request.scope.get("root_path", "") + request.path, safe="/:@!$&'()*+,;=-._~")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


class Guard(Depends):
    """A dependency that lets a request through or refuses it; also a decorator.

    Use the ready ones (:data:`login_required`, :data:`staff_required`,
    :func:`permission_required`) or make your own with a test of the user.

    Args:
        test: ``test(user) -> bool`` for a signed-in user; None lets every
            signed-in user through.
        name: Shown in messages and reprs.
        login_url: Where browsers sign in; defaults to the route ``auth.login``
            (the :class:`~carboy.auth.Auth` module's page).
        message: The 403's detail when ``test`` fails.

    As a dependency its value is the signed-in user. As a decorator, put it
    *under* the route decorator (``@app.get`` runs last, on the guarded
    function); the Auth module's check ``auth.E010`` catches the other order.

    Example:
        >>> beta = Guard(lambda user: user.has_perm("beta.use"), name="beta_required")
        >>> @app.get("/beta")
        ... @beta
        ... async def beta_page() -> str:
        ...     return "welcome"
    """

    def __init__(
        self,
        test: Callable[[AuthUser], bool] | None = None,
        *,
        name: str = "login_required",
        login_url: str | None = None,
        message: str = "You do not have permission to do this",
    ) -> None:
        super().__init__(self.check)
        self.test = test
        self.name = name
        self.login_url = login_url
        self.message = message

    async def check(self, request: Request) -> AuthUser:
        """Run the guard on ``request``: the user, or an ``HTTPException`` (302/401/403)."""
        user = request.user
        if not user.is_authenticated or not isinstance(user, AuthUser):
            raise self._unauthenticated(request)
        if self.test is not None and not self.test(user):
            raise HTTPException(403, self.message)
        return user

    def _unauthenticated(self, request: Request) -> HTTPException:
        detail = "Sign in to see this page"
        if request.htmx:
            # htmx swaps a redirect's page into the target; HX-Redirect makes it navigate.
            current = urlsplit(request.htmx.current_url or "")
            here = current.path + (f"?{current.query}" if current.query else "")
            target = self._login_location(request, safe_next(here, default=""))
            return HTTPException(401, detail, headers={"HX-Redirect": target})
        if wants_html(request.scope):
            target = self._login_location(request, _next_path(request))
            return HTTPException(302, detail, headers={"Location": target})
        return HTTPException(401, "Authentication required")

    def _login_location(self, request: Request, next_value: str) -> str:
        url = self.login_url
        if url is None:
            try:
                url = request.url_for(LOGIN_ROUTE)
            except Exception as exc:  # the route table says why (unknown name)
                raise ConfigurationError(
                    f"{self.name} sends browsers to the sign-in page, route "
                    f"{LOGIN_ROUTE!r}, which this app does not have ({exc}): install "
                    "carboy.auth.Auth(), or give Guard(login_url=...)"
                ) from None
        if not next_value or safe_next(next_value, default="") != next_value:
            return url
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}{urlencode({'next': next_value})}"

    def __call__(self, func: F) -> F:
        """Decorate a handler (sync or async): the guard runs before it, every request."""
        if not callable(func) or isinstance(func, Request):
            raise TypeError(f"{self.name} decorates a handler function, got {func!r}")
        signature = inspect.signature(func)
        param = _free_name(signature.parameters)
        marker = Annotated[Any, self]

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                kwargs.pop(param, None)
                return await func(*args, **kwargs)

            guarded: Callable[..., Any] = guarded_async
        else:

            @functools.wraps(func)
            def guarded_sync(*args: Any, **kwargs: Any) -> Any:
                kwargs.pop(param, None)
                return func(*args, **kwargs)

            guarded = guarded_sync
        params = list(signature.parameters.values())
        extra = inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY, annotation=marker)
        at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
        params.insert(at, extra)
        # The plan reads the signature and the annotations: both gain the guard's parameter
        # (a new dict: functools.wraps shares the original's).
        guarded.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        guarded.__annotations__ = {**getattr(func, "__annotations__", {}), param: marker}
        _guarded_originals.add(func)
        return guarded  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<Guard {self.name}>"


def _free_name(taken: Iterable[str]) -> str:
    names = set(taken)
    index = 0
    while f"_carboy_guard_{index}" in names:
        index += 1
    return f"_carboy_guard_{index}"


def permission_required(*perms: str, login_url: str | None = None) -> Guard:
    """A guard for users who hold every one of ``perms`` (``"blog.change_post"``).

    Superusers hold every permission. A user without one gets a 403; a
    visitor who is not signed in is sent to sign in first.

    Example:
        >>> @app.post("/posts/{id:int}/publish")
        ... @permission_required("blog.change_post")
        ... async def publish(id: int) -> dict: ...
    """
    if not perms or not all(isinstance(p, str) and p for p in perms):
        raise ConfigurationError(
            f"permission_required() takes one or more permission names like "
            f"'blog.change_post', got {perms!r}"
        )
    needed = tuple(perms)

    def holds(user: AuthUser) -> bool:
        return all(user.has_perm(perm) for perm in needed)

    return Guard(
        holds,
        name=f"permission_required({', '.join(map(repr, needed))})",
        login_url=login_url,
    )


def _is_staff(user: AuthUser) -> bool:
    return bool(user.is_active and user.is_staff)


#: Signed-in users only. ``dependencies=[login_required]``, ``@login_required``, or
#: ``user: Annotated[User, login_required]``.
login_required = Guard(name="login_required")

#: Signed-in staff users only (``is_staff``), as for the admin.
staff_required = Guard(_is_staff, name="staff_required", message="Staff only")


def check_guard_order(app: Carboy) -> list[CheckMessage]:
    """``auth.E010`` for a route that serves a function a guard wrapped after the route.

    ``@login_required`` above ``@app.get(...)`` guards a copy that no route
    serves: the route is open. Run by the Auth module at start-up.

    Example:
        >>> check_guard_order(app)
        []
    """
    found: list[CheckMessage] = []
    for resolved in app.iter_routes():
        endpoint = getattr(resolved.route, "endpoint", None)
        if endpoint is not None and endpoint in _guarded_originals:
            source = getattr(resolved.route, "source", "")
            found.append(
                CheckMessage(
                    "auth.E010",
                    f"Route {resolved.path!r} ({source}) serves its handler unguarded: a "
                    "guard decorator was applied above the route decorator",
                    "Put @login_required (or another guard) below @app.get(...) / "
                    "@router.post(...), next to the function.",
                    obj=getattr(endpoint, "__qualname__", repr(endpoint)),
                    level=CheckLevel.ERROR,
                )
            )
    return found
