"""The auth models: ``User``, ``Group``, ``Permission`` and their association tables.

Their tables (``auth_user``, ``auth_group``, ``auth_permission``,
``auth_user_groups``, ``auth_user_permissions``, ``auth_group_permissions``)
belong to the auth battery's own migration history, the Alembic branch
``auth``: ``carboy migrate`` creates them, and your project's
``makemigrations`` leaves them out (a project table may still reference
``auth_user.id``).

To use your own user model, build it on :class:`UserMixin` and give it to
``Auth(user_model=...)`` (see docs/auth/users.md).

Example:
    >>> from carboy.auth.models import User
    >>> User(username="ann").display_name
    'ann'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship, validates

from carboy.auth._has_perm import ObjectPermissionHook, check_permission
from carboy.auth.passwords import make_unusable_password
from carboy.db import Model, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


def fold(value: str) -> str:
    """How usernames and e-mails compare: case-folded (``"Ann"`` and ``"ANN"`` are one).

    Example:
        >>> fold("Straße")
        'strasse'
    """
    return value.casefold()


#: Which group holds which permission.
group_permissions = Table(
    "auth_group_permissions",
    Model.metadata,
    Column("group_id", ForeignKey("auth_group.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("auth_permission.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(Model):
    """A permission: ``<label>.<codename>``, such as ``blog.change_post``.

    carboy makes ``view``, ``add``, ``change`` and ``delete`` permissions for
    every model after each ``carboy migrate``; add your own rows for anything else.

    Example:
        >>> Permission(label="blog", codename="publish_post").perm
        'blog.publish_post'
    """

    __tablename__ = "auth_permission"
    __table_args__ = (UniqueConstraint("label", "codename"),)

    label: Mapped[str] = mapped_column(String(100))
    codename: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255), default="")

    @property
    def perm(self) -> str:
        """The permission as ``has_perm`` takes it: ``"blog.change_post"``."""
        return f"{self.label}.{self.codename}"

    def __str__(self) -> str:
        return self.perm


class Group(Model):
    """A named set of permissions given to users together (``editors``).

    Example:
        >>> Group(name="editors").name
        'editors'
    """

    __tablename__ = "auth_group"

    name: Mapped[str] = mapped_column(String(150), unique=True)
    permissions: Mapped[list[Permission]] = relationship(secondary=group_permissions)

    def __str__(self) -> str:
        return self.name


class UserMixin:
    """The columns and behaviour of a user model; :class:`User` is this on ``auth_user``.

    Build your own user model on it to add fields; its group and permission
    links get tables of their own (``<table>_groups``, ``<table>_permissions``).
    The model needs an integer ``id`` primary key (carboy's default).

    Example:
        >>> from sqlalchemy.orm import Mapped
        >>> class Member(UserMixin, Model):
        ...     nickname: Mapped[str | None]
    """

    username: Mapped[str] = mapped_column(String(150))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # The case-folded username and e-mail, unique: "Ann" and "ann" are one account,
    # and sign-in looks them up by index. Kept in step when either is assigned;
    # three times as long, as case folding may lengthen text ("ß" -> "ss").
    username_key: Mapped[str] = mapped_column(String(450), unique=True)
    email_key: Mapped[str | None] = mapped_column(String(762), unique=True, default=None)
    #: A user made without a password (in the admin, say) cannot sign in with one.
    password: Mapped[str] = mapped_column(String(255), default=make_unusable_password)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_staff: Mapped[bool] = mapped_column(default=False)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    email_verified: Mapped[bool] = mapped_column(default=False)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    date_joined: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    session_generation: Mapped[int] = mapped_column(default=0)

    if TYPE_CHECKING:
        id: Mapped[int]
        __tablename__: str
        _carboy_permissions: frozenset[str] | None
        _carboy_object_permissions: ObjectPermissionHook | None

    @declared_attr
    def groups(cls) -> Mapped[list[Group]]:
        """The user's groups (their permissions are the user's too)."""
        table = _link_table(cls, "groups", "group_id", "auth_group.id")
        return relationship(Group, secondary=table)

    @declared_attr
    def user_permissions(cls) -> Mapped[list[Permission]]:
        """Permissions given to the user directly."""
        table = _link_table(cls, "permissions", "permission_id", "auth_permission.id")
        return relationship(Permission, secondary=table)

    @validates("username", "email")
    def _keep_key(self, name: str, value: str | None) -> str | None:
        setattr(self, f"{name}_key", fold(value) if value is not None else None)
        return value

    # -- AuthUser ----------------------------------------------------------------------
    @property
    def pk(self) -> str:
        """The id as a string (what sessions and tokens store)."""
        return str(self.id)

    @property
    def is_authenticated(self) -> bool:
        """Always True: a user object is someone who signed in (or could)."""
        return True

    @property
    def display_name(self) -> str:
        """The username, or the e-mail when there is none."""
        return self.username or self.email or ""

    @property
    def permissions(self) -> frozenset[str]:
        """The user's permissions, own and from groups (``{"blog.change_post"}``).

        Raises:
            RuntimeError: They were not loaded: users from the user store have
                them; for a user you queried yourself, call
                :func:`~carboy.auth.load_permissions` first.
        """
        loaded = self.__dict__.get("_carboy_permissions")
        if loaded is None:
            raise RuntimeError(
                f"The permissions of {self!r} are not loaded: get the user from the user "
                "store (await auth.users.get(pk)), or call load_permissions(session, user) "
                "/ await aload_permissions(session, user) first"
            )
        return frozenset(loaded)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """True when the user holds ``perm`` (``"blog.change_post"``), for ``obj`` if given.

        A superuser holds every permission; an inactive user none. With ``obj``,
        the object-permission hook of ``Auth(object_permissions=...)`` decides
        (returning None defers to the model-level permission).

        Example:
            >>> user.has_perm("blog.change_post")
            True
        """
        return check_permission(
            self,
            perm,
            obj,
            lambda: self.permissions,
            self.__dict__.get("_carboy_object_permissions"),
        )

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        """True when the user holds every permission of ``perms``.

        Example:
            >>> user.has_perms(["blog.add_post", "blog.change_post"])
            True
        """
        return all(self.has_perm(perm, obj) for perm in perms)

    def __str__(self) -> str:
        return self.display_name or super().__str__()


def _link_table(cls: Any, suffix: str, column: str, target: str) -> Table:
    name = f"{cls.__tablename__}_{suffix}"
    metadata = cls.metadata
    if name in metadata.tables:
        return metadata.tables[name]  # type: ignore[no-any-return]  # MetaData.tables is typed
    return Table(
        name,
        metadata,
        Column(
            "user_id",
            ForeignKey(f"{cls.__tablename__}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(column, ForeignKey(target, ondelete="CASCADE"), primary_key=True),
    )


class User(UserMixin, Model):
    """The default user model (table ``auth_user``).

    Usernames and e-mails are unique, ignoring case; the e-mail may be empty
    (None). ``password`` holds an argon2id hash (see
    :class:`~carboy.auth.PasswordHasher`), never the password. Create users with
    the user store (``await auth.users.create(...)``) or ``carboy createuser``.

    Example:
        >>> user = User(username="ann", email="ann@example.com", password="!")
        >>> (user.is_authenticated, user.display_name)
        (True, 'ann')
    """

    __tablename__ = "auth_user"
