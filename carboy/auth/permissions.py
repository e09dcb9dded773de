"""Permissions: one ``view``/``add``/``change``/``delete`` set per model, and loading them.

Every model gets four permissions, named ``<label>.<action>_<model>``:
``blog.view_post``, ``blog.add_post``, ``blog.change_post``, ``blog.delete_post``.
The label is the model's ``__permission_label__`` if it sets one, else the
package its models module is in (``blog.models`` -> ``blog``; a top-level
``app.py`` -> ``app``). A model adds its own with ``__permissions__ =
[("publish_post", "Can publish posts")]``.

The auth battery writes the missing rows into ``auth_permission`` after every
``carboy migrate`` (through :meth:`Database.on_migrate
<carboy.db.Database.on_migrate>`); :func:`update_permissions` does it by hand,
for databases made with ``create_all``. Rows of models that are gone are kept:
the grants made with them survive a model's rename until you delete them.

``user.has_perm`` is sync, so a user's permissions are loaded with the user:
the user store does it; for a user you queried yourself call
:func:`load_permissions` (or :func:`aload_permissions`).

Example:
    >>> permission_label(Post)
    'blog'
    >>> [codename for _, codename, _ in model_permissions(Post)]
    ['view_post', 'add_post', 'change_post', 'delete_post']
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Subquery,
    Table,
    bindparam,
    insert,
    inspect,
    select,
    union,
)
from sqlalchemy.orm import DeclarativeBase, Session

from carboy.auth._has_perm import ObjectPermissionHook as ObjectPermissionHook
from carboy.auth.models import Permission, group_permissions

if TYPE_CHECKING:
    from carboy.db import AsyncSession, Database, Session

#: The permissions every model gets, as Django names them.
DEFAULT_ACTIONS = ("view", "add", "change", "delete")


def permission_label(model: type) -> str:
    """The first part of a model's permission names (``"blog"`` in ``blog.change_post``).

    Example:
        >>> permission_label(User)
        'auth'
    """
    label = getattr(model, "__permission_label__", None)
    if isinstance(label, str) and label:
        return label
    parts = model.__module__.split(".")
    if "models" in parts[1:]:
        parts = parts[: parts.index("models", 1)]
    return parts[-1].strip("_") or parts[-1]


def model_permissions(model: type) -> list[tuple[str, str, str]]:
    """``(label, codename, name)`` of each permission of ``model``, in order.

    Example:
        >>> model_permissions(Post)[2]
        ('blog', 'change_post', 'Can change post')
    """
    label = permission_label(model)
    name = model.__name__.lower()
    found = [(label, f"{action}_{name}", f"Can {action} {name}") for action in DEFAULT_ACTIONS]
    for codename, title in getattr(model, "__permissions__", ()):
        found.append((label, str(codename), str(title)))
    return found


def all_model_permissions(base: type[DeclarativeBase]) -> list[tuple[str, str, str]]:
    """The permissions of every model mapped on ``base`` (a database's models).

    Example:
        >>> ("auth", "view_user", "Can view user") in all_model_permissions(Model)
        True
    """
    found: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for mapper in sorted(base.registry.mappers, key=lambda m: m.class_.__qualname__):
        if not isinstance(mapper.local_table, Table):
            continue
        for label, codename, name in model_permissions(mapper.class_):
            if (label, codename) not in seen:
                seen.add((label, codename))
                found.append((label, codename, name))
    return found


def _update(connection: Connection, wanted: list[tuple[str, str, str]]) -> int:
    table: Table = Permission.__table__  # type: ignore[assignment]  # a model's table is a Table
    if not inspect(connection).has_table(table.name):
        return 0
    existing = {
        tuple(row) for row in connection.execute(select(table.c.label, table.c.codename)).all()
    }
    rows = [
        {"label": label, "codename": codename, "name": name}
        for label, codename, name in wanted
        if (label, codename) not in existing
    ]
    if rows:
        connection.execute(insert(table), rows)
    return len(rows)


def update_permissions(database: Database) -> int:
    """Add the missing permission rows of every model of ``database``; how many were added.

    Runs after every ``carboy migrate``. Nothing happens (0) while the
    ``auth_permission`` table does not exist.

    Example:
        >>> db.create_all()
        >>> update_permissions(db)
        12
    """
    wanted = all_model_permissions(database.base)
    with database.engine.begin() as connection:
        return _update(connection, wanted)


async def aupdate_permissions(database: Database) -> int:
    """Async :func:`update_permissions`.

    Example:
        >>> await aupdate_permissions(db)
        0
    """
    wanted = all_model_permissions(database.base)
    async with database.async_engine.begin() as connection:
        return await connection.run_sync(_update, wanted)


def _permissions_of(model: Any, pk: Any) -> Subquery:
    """The permissions of user ``pk``, own and through groups: ``(user_id, label, codename)``."""
    links: Table = model.user_permissions.property.secondary
    memberships: Table = model.groups.property.secondary
    p = Permission.__table__
    direct = (
        select(links.c.user_id, p.c.label, p.c.codename)
        .join(links, links.c.permission_id == p.c.id)
        .where(links.c.user_id == pk)
    )
    via_groups = (
        select(memberships.c.user_id, p.c.label, p.c.codename)
        .join(group_permissions, group_permissions.c.permission_id == p.c.id)
        .join(memberships, memberships.c.group_id == group_permissions.c.group_id)
        .where(memberships.c.user_id == pk)
    )
    return union(direct, via_groups).subquery()


#: The user id in the cached permission statements below.
_PK = "carboy_user_pk"


@functools.cache
def _statement(model: Any) -> Select[Any]:
    """A user's permissions, ``(label, codename)``, for ``{_PK: user.id}``; built once per model."""
    perms = _permissions_of(model, bindparam(_PK, type_=Integer))
    return select(perms.c.label, perms.c.codename)


@functools.cache
def _user_statement(model: Any) -> Select[Any]:
    """The user and their permissions in one query: a row per permission (or one, null).

    Built once per model, with the id as a parameter (``{_PK: pk}``): it runs on
    every signed-in request, and building it cost more than running it.
    """
    pk = bindparam(_PK, type_=Integer)
    perms = _permissions_of(model, pk)
    return (
        select(model, perms.c.label, perms.c.codename)
        .outerjoin(perms, perms.c.user_id == model.id)
        .where(model.id == pk)
    )


def _get_user(
    session: Session, model: Any, pk: int, object_permissions: ObjectPermissionHook | None
) -> Any:
    """The user ``pk`` with their permissions loaded, in one round trip; None when missing."""
    rows = session.execute(_user_statement(model), {_PK: pk}).all()
    if not rows:
        return None
    user = rows[0][0]
    _attach(
        user,
        [(label, codename) for _, label, codename in rows if label is not None],
        object_permissions,
    )
    return user


def _attach(user: Any, rows: Iterable[Any], hook: ObjectPermissionHook | None) -> None:
    user._carboy_permissions = frozenset(f"{label}.{codename}" for label, codename in rows)
    user._carboy_object_permissions = hook


def load_permissions(
    session: Session, user: Any, object_permissions: ObjectPermissionHook | None = None
) -> None:
    """Load ``user``'s permissions (own and from groups) so ``has_perm`` can answer.

    Args:
        session: A session of the user's database.
        user: A :class:`~carboy.auth.models.User` (or your own model on ``UserMixin``).
        object_permissions: The object-permission hook ``has_perm(perm, obj)`` asks.

    Example:
        >>> user = session.get(User, 1)
        >>> load_permissions(session, user)
        >>> user.has_perm("blog.change_post")
        True
    """
    rows = session.execute(_statement(user.__class__), {_PK: user.id}).all()
    _attach(user, rows, object_permissions)


async def aload_permissions(
    session: AsyncSession, user: Any, object_permissions: ObjectPermissionHook | None = None
) -> None:
    """Async :func:`load_permissions`.

    Example:
        >>> await aload_permissions(session, user)
    """
    result = await session.execute(_statement(user.__class__), {_PK: user.id})
    _attach(user, result.all(), object_permissions)


def get_permission(session: Session, perm: str) -> Permission | None:
    """The :class:`Permission` row of ``"label.codename"``, or None.

    Example:
        >>> user.user_permissions.append(get_permission(session, "blog.change_post"))
    """
    found: Permission | None = session.execute(_permission_query(perm)).scalar_one_or_none()
    return found


async def aget_permission(session: AsyncSession, perm: str) -> Permission | None:
    """Async :func:`get_permission`.

    Example:
        >>> group.permissions.append(await aget_permission(session, "blog.change_post"))
    """
    found: Permission | None = (await session.execute(_permission_query(perm))).scalar_one_or_none()
    return found


def _permission_query(perm: str) -> Select[Permission]:
    label, dot, codename = perm.partition(".")
    if not dot or not label or not codename:
        raise ValueError(f"A permission is 'label.codename' (blog.change_post), got {perm!r}")
    return select(Permission).where(Permission.label == label, Permission.codename == codename)
