"""The admin battery as one module: ``app.install(Admin())``, then ``admin.register(Model)``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from carboy.admin._options import Inline, ModelAdmin
from carboy.exceptions import ConfigurationError
from carboy.modules import Module

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.db import Database

A = TypeVar("A", bound=type[ModelAdmin])


class Registration(Generic[A]):
    """What :meth:`Admin.register` returns: the model's admin, and a class decorator.

    ``admin.register(Post)`` alone registers the defaults; used as a decorator
    on a :class:`ModelAdmin` subclass it registers that class instead.
    """

    def __init__(self, admin: Admin, model: type) -> None:
        self._admin = admin
        self.model = model

    def __call__(self, cls: A) -> A:
        """Register ``cls`` as the model's admin class (the decorator form)."""
        if not (isinstance(cls, type) and issubclass(cls, ModelAdmin)):
            raise ConfigurationError(
                f"@admin.register({self.model.__name__}) decorates a ModelAdmin subclass, "
                f"got {cls!r}"
            )
        self._admin._classes[self.model] = cls
        return cls


class Admin(Module):
    """The admin site: lists, forms, history and bulk actions for registered models.

    Needs :class:`~carboy.db.Database` and :class:`~carboy.auth.Auth` (its
    users, permissions, sessions and sign-in page). Only active staff users
    get in; each page and action checks the user's ``view``, ``add``,
    ``change`` or ``delete`` permission on the model.

    Args:
        prefix: Where the admin lives.
        title: The site's name in the header and the page titles.
        site_url: The "View site" link (None: no link).
        count_limit: Tables with more rows than this are never counted: their
            lists page by "previous" / "next" and the dashboard shows estimates.
        login_url: Where browsers sign in (the Auth module's page by default).
        auth_models: Administer carboy.auth's ``User`` and ``Group`` (with
            :class:`UserAdmin` and :class:`GroupAdmin`) when the auth battery
            keeps its users in the database with its default model, unless you
            registered them yourself.

    Example:
        >>> from carboy.admin import Admin
        >>> admin = Admin()
        >>> admin.register(Post)  # doctest: +SKIP
        >>> app.install(admin)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        prefix: str = "/admin",
        title: str = "Administration",
        site_url: str | None = "/",
        count_limit: int = 10_000,
        login_url: str | None = None,
        auth_models: bool = True,
    ) -> None:
        from carboy.auth import Guard

        guard = Guard(_is_staff, name="admin_required", login_url=login_url, message="Staff only")
        super().__init__(
            "admin",
            prefix=prefix,
            templates="templates",
            static="static",
            root=Path(__file__).parent,
            dependencies=[guard],
        )
        if count_limit < 1:
            raise ConfigurationError(f"Admin(count_limit={count_limit}): give at least 1")
        self.title = title
        self.site_url = site_url
        self.count_limit = count_limit
        self.auth_models = auth_models
        self._classes: dict[type, type[ModelAdmin]] = {}
        #: The registered models' admins by ``(label, model_name)``, made when the app builds.
        self.registry: dict[tuple[str, str], ModelAdmin] = {}
        self._routes_added = False
        self._database: Database | None = None
        from carboy.admin.checks import check_admin

        self.check(lambda app: check_admin(self.registry))

    # -- registration ------------------------------------------------------------------
    @overload
    def register(self, model: type) -> Registration[type[ModelAdmin]]: ...
    @overload
    def register(self, model: type, admin_class: A) -> A: ...

    def register(self, model: type, admin_class: type[ModelAdmin] | None = None) -> Any:
        """Administer ``model``: with the defaults, with ``admin_class``, or as a decorator.

        Example:
            >>> admin.register(Category)  # the defaults
            >>> admin.register(Tag, TagAdmin)
            >>> @admin.register(Post)
            ... class PostAdmin(ModelAdmin):
            ...     list_display = ["title", "published"]
        """
        self._check_open(f"register {getattr(model, '__name__', model)!r}")
        if not isinstance(model, type):
            raise ConfigurationError(f"admin.register() takes a model class, got {model!r}")
        if admin_class is not None and not (
            isinstance(admin_class, type) and issubclass(admin_class, ModelAdmin)
        ):
            raise ConfigurationError(
                f"admin.register({model.__name__}, ...) takes a ModelAdmin subclass, "
                f"got {admin_class!r}"
            )
        if issubclass(admin_class or ModelAdmin, Inline):
            raise ConfigurationError(
                f"{admin_class!r} is an Inline: list it in a ModelAdmin's inlines instead"
            )
        self._classes[model] = admin_class or ModelAdmin
        if admin_class is not None:
            return admin_class
        return Registration(self, model)

    @property
    def database(self) -> Database:
        """The app's :class:`~carboy.db.Database` (found when the app builds)."""
        if self._database is None:
            raise ConfigurationError("Admin.database is found when the app builds: build it first")
        return self._database

    def admin_for(self, model: type) -> ModelAdmin | None:
        """The :class:`ModelAdmin` of ``model`` (after the app is built), or None."""
        for model_admin in self.registry.values():
            if model_admin.model is model:
                return model_admin
        return None

    # -- wiring -------------------------------------------------------------------------
    def setup(self, app: Carboy) -> None:
        """Find the database and auth, declare the migrations, build each model's admin."""
        from carboy.auth import Auth
        from carboy.auth.permissions import permission_label
        from carboy.db import Database

        try:
            database = app.get_module(Database)
        except ConfigurationError:
            raise ConfigurationError(
                "Admin keeps its history in the database: install carboy.db.Database(...) "
                "before building the app"
            ) from None
        try:
            app.get_module(Auth)
        except ConfigurationError:
            raise ConfigurationError(
                "Admin signs staff in with carboy.auth: install carboy.auth.Auth() too"
            ) from None
        from carboy.admin import models  # noqa: F401  # registers LogEntry

        if any(cls.file_fields for cls in self._classes.values()):
            from carboy.forms import Forms

            if not any(isinstance(m, Forms) for m in app.walk()):
                app.install(Forms())  # uploads go to its Storage (the media_dir setting)

        database.add_migrations("admin", Path(__file__).parent / "migrations", ["carboy.admin"])
        self._database = database
        self.registry = {}
        classes = dict(self._classes)
        if self.auth_models:
            from carboy.admin._auth_models import auth_models_to_register

            for model, cls in auth_models_to_register(app).items():
                classes.setdefault(model, cls)
        for model, cls in classes.items():
            try:
                model_admin = cls(model, label=permission_label(model))
            except ValueError as exc:
                raise ConfigurationError(f"admin.register({model.__name__}): {exc}") from None
            key = (model_admin.label, model_admin.model_name)
            if key in self.registry:
                raise ConfigurationError(
                    f"admin: two registered models are called {'.'.join(key)}; set "
                    "__permission_label__ on one of them"
                )
            self.registry[key] = model_admin
        for model_admin in self.registry.values():
            try:
                model_admin.inline_admins = [
                    inline(model_admin, label=permission_label(inline.model))
                    for inline in model_admin.inlines
                ]
            except ValueError as exc:
                raise ConfigurationError(f"admin: {exc}") from None
        if not self._routes_added:
            self._routes_added = True
            from carboy.admin._views import add_routes

            add_routes(self, self)


def _is_staff(user: Any) -> bool:
    return bool(user.is_active and user.is_staff)
