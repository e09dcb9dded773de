"""Per-model permissions, groups, has_perm, and the object-permission hook."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Mapped

from carboy.auth import (
    Group,
    MemoryUserStore,
    Permission,
    SQLUserStore,
    User,
    aget_permission,
    aload_permissions,
    aupdate_permissions,
    get_permission,
    load_permissions,
    update_permissions,
)
from carboy.auth.permissions import all_model_permissions, model_permissions, permission_label
from carboy.db import Database, Model, model_base
from tests.auth.conftest import fast_hasher

pytestmark = pytest.mark.anyio


def test_labels() -> None:
    assert permission_label(User) == "auth"

    class Shipment:
        __module__ = "shop.orders.models"

    class Invoice:
        __module__ = "shop.billing.models.invoices"

    class Note:
        __module__ = "app"

    class Script:
        __module__ = "__main__"

    class Labelled:
        __module__ = "x.models"
        __permission_label__ = "accounts"

    assert permission_label(Shipment) == "orders"
    assert permission_label(Invoice) == "billing"
    assert permission_label(Note) == "app"
    assert permission_label(Script) == "main"
    assert permission_label(Labelled) == "accounts"


def test_model_permissions_and_custom_ones() -> None:
    class Post:
        __module__ = "blog.models"
        __permissions__ = [("publish_post", "Can publish posts")]

    assert model_permissions(Post) == [
        ("blog", "view_post", "Can view post"),
        ("blog", "add_post", "Can add post"),
        ("blog", "change_post", "Can change post"),
        ("blog", "delete_post", "Can delete post"),
        ("blog", "publish_post", "Can publish posts"),
    ]


def test_every_mapped_model_of_a_base() -> None:
    base = model_base()

    class Recipe(base):  # type: ignore[misc, valid-type]
        name: Mapped[str]

    found = all_model_permissions(base)
    assert [codename for _, codename, _ in found] == [
        "view_recipe",
        "add_recipe",
        "change_recipe",
        "delete_recipe",
    ]
    assert {label for label, _, _ in found} == {"test_permissions"}
    shared = all_model_permissions(Model)
    assert ("auth", "change_user", "Can change user") in shared
    assert ("auth", "view_permission", "Can view permission") in shared


async def test_update_permissions_adds_only_what_is_missing(auth_database: Database) -> None:
    added = update_permissions(auth_database)
    assert added == len(all_model_permissions(Model))
    assert update_permissions(auth_database) == 0
    assert await aupdate_permissions(auth_database) == 0
    with auth_database.session() as session:
        session.execute(Permission.__table__.delete().where(Permission.codename == "view_user"))
        session.commit()
    assert await aupdate_permissions(auth_database) == 1
    await auth_database.dispose()


def test_update_permissions_before_the_tables_exist(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert update_permissions(db) == 0


def _grants(db: Database) -> tuple[int, int]:
    """ann: blog.add_post directly; in editors (blog.change_post); bob: nothing."""
    update_permissions(db)
    with db.session() as session:
        # update_permissions made them already if a blog Post model is imported (the
        # demo's, once tests/examples ran in this process); else they are made here.
        for codename in ("add_post", "change_post"):
            if get_permission(session, f"blog.{codename}") is None:
                session.add(Permission(label="blog", codename=codename))
        session.flush()
        editors = Group(name="editors")
        editors.permissions.append(get_permission(session, "blog.change_post"))  # type: ignore[arg-type]
        ann = User(username="ann", password="!")
        ann.groups.append(editors)
        ann.user_permissions.append(get_permission(session, "blog.add_post"))  # type: ignore[arg-type]
        bob = User(username="bob", password="!")
        session.add_all([ann, bob])
        session.commit()
        return ann.id, bob.id


async def test_the_store_loads_permissions_own_and_from_groups(auth_database: Database) -> None:
    ann_id, _ = _grants(auth_database)
    store = SQLUserStore(auth_database, hasher=fast_hasher())
    ann = await store.get(str(ann_id))
    assert ann is not None
    assert ann.permissions == {"blog.add_post", "blog.change_post"}  # type: ignore[attr-defined]
    assert ann.has_perm("blog.add_post") and ann.has_perm("blog.change_post")
    assert not ann.has_perm("blog.delete_post")
    assert ann.has_perms(["blog.add_post", "blog.change_post"])  # type: ignore[attr-defined]
    assert not ann.has_perms(["blog.add_post", "blog.delete_post"])  # type: ignore[attr-defined]
    bob = await store.get_by_login("bob")
    assert bob is not None and bob.permissions == frozenset()  # type: ignore[attr-defined]
    await auth_database.dispose()


async def test_the_store_gets_a_user_and_their_permissions_in_one_query(
    auth_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``get`` runs on every signed-in request: one round trip, not the user then the grants."""
    from sqlalchemy import event

    ann_id, bob_id = _grants(auth_database)
    store = SQLUserStore(auth_database, hasher=fast_hasher())
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    # On asyncpg the lookup runs on the driver's connection (carboy/auth/_user_rows.py),
    # below SQLAlchemy's events: its queries are counted there.
    import asyncpg

    fetch = asyncpg.Connection.fetch

    async def counted(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        statements.append(query)
        return await fetch(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "fetch", counted)
    event.listen(auth_database.async_engine.sync_engine, "before_cursor_execute", seen)
    try:
        ann, bob, nobody = [await store.get(str(pk)) for pk in (ann_id, bob_id, 10**6)]
    finally:
        event.remove(auth_database.async_engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 3
    assert ann is not None and ann.username == "ann"  # type: ignore[attr-defined]
    assert ann.permissions == {"blog.add_post", "blog.change_post"}  # type: ignore[attr-defined]
    assert bob is not None and bob.permissions == frozenset()  # type: ignore[attr-defined]
    assert nobody is None
    await auth_database.dispose()


async def test_load_permissions_sync_and_async(auth_database: Database) -> None:
    ann_id, _ = _grants(auth_database)
    with auth_database.session() as session:
        ann = session.get(User, ann_id)
        assert ann is not None
        with pytest.raises(RuntimeError, match=r"permissions of .* are not loaded"):
            ann.has_perm("blog.add_post")
        load_permissions(session, ann)
        assert ann.has_perm("blog.change_post")
    async with auth_database.async_session() as asession:
        user = (await asession.execute(select(User).where(User.id == ann_id))).scalar_one()
        await aload_permissions(asession, user)
        assert user.has_perm("blog.add_post")
        assert (await aget_permission(asession, "blog.add_post")) is not None
        assert (await aget_permission(asession, "blog.nothing")) is None
    await auth_database.dispose()


@pytest.mark.parametrize("perm", ["nodot", ".x", "x.", ""])
def test_get_permission_wants_label_dot_codename(auth_database: Database, perm: str) -> None:
    with auth_database.session() as session, pytest.raises(ValueError, match=r"label\.codename"):
        get_permission(session, perm)


async def test_superusers_hold_everything_and_inactive_nothing(store: Any) -> None:
    root = await store.create(username="root", password=None, is_superuser=True)
    assert root.has_perm("blog.delete_post") and root.has_perm("x.y", obj=object())
    await store.update(root, is_active=False)
    assert not (await store.get(root.pk)).has_perm("blog.delete_post")


async def test_memory_store_permissions_and_groups() -> None:
    store = MemoryUserStore(hasher=fast_hasher())
    ann = await store.create(username="ann", password=None)
    await store.grant(ann, "blog.add_post")
    assert ann.has_perm("blog.add_post")
    await store.set_group("editors", {"blog.change_post"})
    await store.add_to_group(ann, "editors")
    assert ann.has_perm("blog.change_post")
    fresh = await store.get(ann.pk)
    assert fresh is not None
    assert fresh.permissions == {"blog.add_post", "blog.change_post"}
    await store.set_group("editors", [])
    assert not (await store.get(ann.pk)).has_perm("blog.change_post")  # type: ignore[union-attr]
    assert ann.has_perms(["blog.add_post"])


# -- object permissions -----------------------------------------------------------------------
class Post:
    def __init__(self, author: str) -> None:
        self.author = author


def own_posts(user: Any, perm: str, obj: Any) -> bool | None:
    if isinstance(obj, Post) and perm == "blog.change_post":
        return obj.author == user.username
    return None


async def test_object_permission_hook(store_kind: str, store: Any) -> None:
    store.object_permissions = own_posts
    ann = await store.create(username="ann", password=None)
    ann = await store.get(ann.pk)
    assert ann.has_perm("blog.change_post", Post("ann"))  # the hook grants
    assert not ann.has_perm("blog.change_post", Post("bob"))
    assert not ann.has_perm("blog.change_post")  # no model-level permission
    assert not ann.has_perm("blog.delete_post", Post("ann"))  # the hook defers: no grant


async def test_without_a_hook_objects_use_the_model_permission() -> None:
    store = MemoryUserStore(hasher=fast_hasher())
    ann = await store.create(username="ann", password=None)
    await store.grant(ann, "blog.change_post")
    assert ann.has_perm("blog.change_post", Post("bob"))
    store.object_permissions = own_posts
    fresh = await store.get(ann.pk)
    assert fresh is not None
    assert not fresh.has_perm("blog.change_post", Post("bob"))  # the hook refuses
