"""The auth battery as one module: ``app.install(Auth(...))``."""

from __future__ import annotations

import functools
import importlib
import inspect
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carboy.auth._authentication import AuthenticationMiddleware, SessionBackend
from carboy.auth._page_config import PagesConfig
from carboy.auth.csrf import CSRFConfig
from carboy.auth.guards import check_guard_order
from carboy.auth.jwt import JWTBackend
from carboy.auth.sessions import (
    RedisStore,
    SessionConfig,
    SessionMiddleware,
    get_flashed,
    store_from_settings,
)
from carboy.auth.tokens import TokenBackend
from carboy.auth.totp import TwoFactor
from carboy.cache import Caching
from carboy.exceptions import ConfigurationError
from carboy.mail import Mail
from carboy.modules import Module
from carboy.requests import Request

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.auth._has_perm import ObjectPermissionHook
    from carboy.auth._protocols import AuthBackend, AuthUser, UserStore
    from carboy.auth.models import UserMixin
    from carboy.auth.passwords import PasswordHasher, PasswordValidator
    from carboy.identity import SessionStore


#: What :meth:`Auth.on_signup` calls: ``hook(request, user)``, sync or async.
SignupHook = Callable[["Request", "AuthUser"], "Awaitable[None] | None"]


class Auth(Module):
    """Sessions, users, sign-in pages, permissions, tokens and CSRF, installed together.

    Args:
        prefix: Where its pages live (``/auth/login``, ``/auth/logout``...).
        users: Where users live; defaults to the SQL store over the app's
            :class:`~carboy.db.Database` and the :class:`~carboy.auth.User` model.
        sessions: The session store, lifetimes and cookie
            (:class:`~carboy.auth.SessionConfig`); by default signed cookies,
            two weeks at most, three days idle.
        user_model: Your own user model (built on
            :class:`~carboy.auth.UserMixin`) for the default SQL store.
        password_hasher: Hashes passwords (argon2id, see
            :class:`~carboy.auth.PasswordHasher`); raise its parameters and old
            hashes are replaced at each user's next sign-in.
        password_validators: The rules new passwords must pass; defaults to
            :func:`~carboy.auth.default_validators` (length 8, not common, not
            like the username or e-mail, not all digits). ``[]`` turns them off.
        object_permissions: ``hook(user, perm, obj)`` deciding
            ``user.has_perm(perm, obj)`` for one object: True, False, or None
            to use the model-level permission.
        tokens: Personal access tokens (:class:`~carboy.auth.TokenBackend`);
            its users and database default to Auth's and the app's.
        jwt: JWT bearer tokens (:class:`~carboy.auth.JWTBackend`); its users
            default to Auth's.
        two_factor: TOTP two-factor sign-in (:class:`~carboy.auth.TwoFactor`);
            its database defaults to the app's.
        pages: The sign-in, sign-out, password and sign-up pages
            (:class:`~carboy.auth.PagesConfig`); None leaves them out. Pages that
            send e-mail install :class:`~carboy.mail.Mail` unless the app has one,
            and their throttles :class:`~carboy.cache.Caching`. With ``two_factor``,
            the pages ask users who turned it on for a code after the password.
        csrf: CSRF protection of every route that takes an unsafe method
            (:class:`~carboy.auth.CSRFConfig`; docs/auth/csrf.md), on by default;
            None turns it off.

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
        sessions: SessionConfig | None = None,
        # -- passwords and users (helper: users) --
        user_model: type[UserMixin] | None = None,
        password_hasher: PasswordHasher | None = None,
        password_validators: Sequence[PasswordValidator] | None = None,
        object_permissions: ObjectPermissionHook | None = None,
        # -- csrf, csp, throttling (helper: csrf) --
        csrf: CSRFConfig | None = CSRFConfig(),
        # -- tokens, jwt, two-factor (helper: tokens) --
        tokens: TokenBackend | None = None,
        jwt: JWTBackend | None = None,
        two_factor: TwoFactor | None = None,
        # -- pages, mail (helper: pages) --
        pages: PagesConfig | None = PagesConfig(),
    ) -> None:
        super().__init__("auth", prefix=prefix, templates="templates", root=Path(__file__).parent)
        self._users = users
        # -- sessions --
        self.session_config = sessions if sessions is not None else SessionConfig()
        self._session_store: SessionStore | None = self.session_config.store
        self._session_backend = SessionBackend()
        #: The apps whose middleware is in place: setup runs once per app (more if called
        #: again), and one Auth may be installed on several apps (an app factory's).
        self._wired: weakref.WeakSet[Carboy] = weakref.WeakSet()
        self._csrf_wired: weakref.WeakSet[Carboy] = weakref.WeakSet()
        self._store_hooked = False
        #: How requests prove who they are, asked in order: the session first;
        #: token backends are appended after it.
        self.backends: list[AuthBackend] = [self._session_backend]
        self.context_processor(_flash_context)
        # -- users --
        from carboy.auth.passwords import PasswordHasher, default_validators

        self.user_model = user_model
        self.hasher = password_hasher if password_hasher is not None else PasswordHasher()
        self.password_validators = list(
            default_validators() if password_validators is None else password_validators
        )
        self.object_permissions = object_permissions
        self.add_commands(_user_commands)
        # -- csrf --
        #: How unsafe requests are checked (:class:`~carboy.auth.CSRFConfig`); None: off.
        self.csrf = csrf
        if csrf is not None:
            self.context_processor(_csrf_context(csrf))
        # -- tokens --
        self.tokens = tokens
        self.jwt = jwt
        self.two_factor = two_factor
        # Asked after the session: personal access tokens, then JWTs.
        self.backends.extend(b for b in (tokens, jwt) if b is not None)
        # Handlers ask for them by type: ``async def page(tokens: TokenBackend)``.
        if tokens is not None:
            self.provide(TokenBackend, tokens)
        if jwt is not None:
            self.provide(JWTBackend, jwt)
        if two_factor is not None:
            self.provide(TwoFactor, two_factor)
        # -- pages --
        #: What the pages do (:class:`~carboy.auth.PagesConfig`); None: no pages.
        self.pages = pages
        self._pages_added = False
        self._signup_hooks: list[SignupHook] = []
        self.context_processor(_user_context)
        self.check(check_guard_order)

    # -- sessions --
    @property
    def session_store(self) -> SessionStore:
        """The store sessions live in (set when the app builds, unless given).

        Raises:
            ConfigurationError: The app is not built yet and no store was given.
        """
        if self._session_store is None:
            raise ConfigurationError(
                "Auth.session_store is made from the app's settings when the app builds; "
                "build the app first, or give Auth(sessions=SessionConfig(store=...))"
            )
        return self._session_store

    def _setup_sessions(self, app: Carboy) -> None:
        from carboy.db import Database

        try:
            database = app.get_module(Database)
        except ConfigurationError:
            database = None
        if database is not None:
            # The auth history creates auth_session whichever store is used, so its
            # model is always known: the project's own migrations leave the table alone.
            from carboy.auth.sessions import models  # noqa: F401  # registers SessionRecord

            database.add_migrations("auth", Path(__file__).parent / "migrations", ["carboy.auth"])
        if app in self._wired:
            return  # setup ran already for this app: its middleware is in place
        self._wired.add(app)
        if self._session_store is None:
            self._session_store = store_from_settings(app.settings, database)
        store = self._session_store
        if isinstance(store, RedisStore) and not self._store_hooked:  # on this module: once
            self._store_hooked = True
            self.on_shutdown(store.aclose)
            # /readyz (carboy.health): a process that cannot reach its sessions is not ready.
            self.add_readiness_check("sessions", store.ping)
        app.add_middleware(SessionMiddleware, replace(self.session_config, store=store))
        app.add_middleware(AuthenticationMiddleware, backends=self.backends)

    # -- users --
    @property
    def users(self) -> UserStore:
        """The user store: ``Auth(users=...)``, or the SQL store made at build.

        Raises:
            ConfigurationError: Before the app is built, with no store given.
        """
        if self._users is None:
            raise ConfigurationError(
                "Auth.users: no user store. The default keeps users in the database: "
                "install carboy.db.Database(...) and build the app (app.build()), or pass "
                "Auth(users=MemoryUserStore()) (or your own store)"
            )
        return self._users

    def validate_password(self, password: str, user: Any = None) -> None:
        """Check a new password with ``password_validators``.

        Raises:
            PasswordInvalid: With every message of the validators that refused it.

        Example:
            >>> auth.validate_password("plum-tree-in-may", {"username": "ann"})
        """
        from carboy.auth.passwords import validate_password

        validate_password(password, user, self.password_validators)

    def _setup_users(self, app: Carboy) -> None:
        from carboy.db import Database

        try:
            database: Database | None = app.get_module(Database)
        except ConfigurationError:
            database = None
        if database is not None:
            database.add_migrations("auth", Path(__file__).parent / "migrations", ["carboy.auth"])
            if _keep_permissions not in database.migrate_hooks:
                database.on_migrate(_keep_permissions)
        if self._users is not None:
            if self.user_model is not None:
                raise ConfigurationError(
                    "Auth(users=..., user_model=...): user_model is for the default SQL "
                    "store; give your model to your store instead"
                )
            return
        if database is None:
            return  # no store: Auth.users says what to install when something asks
        from carboy.auth.models import User
        from carboy.auth.users import SQLUserStore

        self._users = SQLUserStore(
            database,
            model=self.user_model or User,
            hasher=self.hasher,
            object_permissions=self.object_permissions,
        )

    def setup(self, app: Carboy) -> None:
        """Wire sessions, authentication and CSRF into the app (runs at build)."""
        # -- sessions --
        self._setup_sessions(app)
        # -- users --
        self._setup_users(app)
        # -- csrf --
        self._setup_csrf(app)
        # -- tokens --
        self._setup_tokens(app)
        # -- pages --
        if self.pages is not None:
            # What the pages need goes on each app this module is installed on ...
            if self.pages.mail_needed and not any(isinstance(m, Mail) for m in app.walk()):
                app.install(Mail())  # the console in debug mode, SMTP in production
            if self.pages.cache_needed and not any(isinstance(m, Caching) for m in app.walk()):
                app.install(Caching())  # the throttles' counts, on settings.cache_url
        if self.pages is not None and not self._pages_added:
            # ... and the pages themselves on this module, once (setup may run again).
            self._pages_added = True
            # The pages sit above this module, as a user's module would (they sign users
            # in with login(), which looks this module up): imported when an app that
            # has them builds, so an API-only app (pages=None) never loads them.
            importlib.import_module("carboy.auth._pages").add_pages(self, self.pages, app)
        # Last: the users section made the default store.
        self._session_backend.users = self._users

    # -- pages --
    def on_signup(self, hook: SignupHook) -> SignupHook:
        """Call ``hook(request, user)`` each time the sign-up page makes an account ready.

        That is when the account is made, or, with ``PagesConfig(verify_email=True)``,
        when its address is confirmed: the moment to send a welcome e-mail or to
        enqueue a task. ``hook`` may be sync or async; hooks run in the order they
        were added, inside the request (an error in one is the request's error).
        Use it as a decorator; it returns ``hook``.

        Example:
            >>> from carboy.auth import Auth, PagesConfig
            >>> auth = Auth(pages=PagesConfig(signup=True))
            >>> @auth.on_signup
            ... async def welcome(request, user) -> None:
            ...     print("welcome", user.display_name)
        """
        if not callable(hook):
            raise ConfigurationError(f"Auth.on_signup takes a callable, got {hook!r}")
        self._signup_hooks.append(hook)
        return hook

    async def _account_ready(self, request: Request, user: AuthUser) -> None:
        """Run the :meth:`on_signup` hooks for ``user`` (the sign-up page calls this)."""
        for hook in self._signup_hooks:
            result = hook(request, user)
            if inspect.isawaitable(result):
                await result

    # -- csrf --
    def _setup_csrf(self, app: Carboy) -> None:
        """Wrap every route that takes an unsafe method in the CSRF check (at build)."""
        if self.csrf is None or app in self._csrf_wired:
            return
        self._csrf_wired.add(app)
        from carboy.auth.csrf import route_middleware
        from carboy.middleware import TrustedOrigins

        trusted = TrustedOrigins(app.settings.csrf_trusted_origins, where="csrf_trusted_origins")
        app.add_route_middleware(functools.partial(route_middleware, self.csrf, trusted))

    # -- tokens --
    def _setup_tokens(self, app: Carboy) -> None:
        """Give the token backends and two-factor the user store and database they lack."""
        if self.tokens is None and self.jwt is None and self.two_factor is None:
            return
        from carboy.db import Database

        needs_db = [
            name
            for name, part in (("tokens", self.tokens), ("two_factor", self.two_factor))
            if part is not None and part.db is None
        ]
        if needs_db:
            try:
                database = app.get_module(Database)
            except ConfigurationError:
                raise ConfigurationError(
                    f"Auth({', '.join(f'{n}=...' for n in needs_db)}) keeps its data in the "
                    "database: install carboy.db.Database(...), or give the part its own db="
                ) from None
            for part in (self.tokens, self.two_factor):
                if part is not None and part.db is None:
                    part.db = database
        for backend in (self.tokens, self.jwt):
            if backend is not None and backend.users is None:
                backend.users = self.users


def _user_context(request: Request) -> dict[str, Any]:
    """``user`` in every template: the signed-in user, or the anonymous one."""
    return {"user": request.user}


# -- sessions --
def _flash_context(request: Request) -> dict[str, object]:
    """``get_flashed()`` in every template: the flash messages, taken out of the session."""

    def flashed(category: str | None = None) -> list[object]:
        return list(get_flashed(request, category))

    return {"get_flashed": flashed}


# -- csrf --
def _csrf_context(config: CSRFConfig) -> Callable[[Request], dict[str, object]]:
    """``csrf_token()`` and ``csrf_input()`` in every template (a fresh mask each call)."""
    from carboy.auth.csrf import csrf_input, csrf_token

    def context(request: Request) -> dict[str, object]:
        return {
            "csrf_token": lambda: csrf_token(request),
            "csrf_input": lambda: csrf_input(request, config.field_name),
        }

    return context


# -- users --
def _keep_permissions(database: Any, plan: Any) -> None:
    """After each migrate: add the permissions of models that have none yet."""
    from carboy.auth.permissions import update_permissions

    update_permissions(database)


def _user_commands() -> list[Any]:
    from carboy.auth.cli import commands

    return commands()
