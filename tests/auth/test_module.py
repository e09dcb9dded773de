"""Auth(...)'s user options: the store, the hasher, the validators, the user model, the hook."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carboy import ConfigurationError
from carboy.auth import (
    Auth,
    MemoryUserStore,
    MinimumLength,
    PasswordInvalid,
    SQLUserStore,
    User,
)
from carboy.db import Database, Model
from tests.auth.conftest import drop_auth_tables, fast_hasher, make_auth_database
from tests.db.conftest import new_app
from tests.db.forget import forget_models

pytestmark = pytest.mark.anyio


def test_the_default_store_is_sql_over_the_apps_database(tmp_path: Path) -> None:
    app = new_app()
    app.install(Database(f"sqlite:///{tmp_path / 'a.db'}"))
    hasher = fast_hasher()

    def hook(user: Any, perm: str, obj: Any) -> bool | None:
        return None

    auth = Auth(password_hasher=hasher, object_permissions=hook)
    app.install(auth)
    with pytest.raises(ConfigurationError, match=r"build the app \(app.build\(\)\)"):
        auth.users  # noqa: B018
    app.build()
    store = auth.users
    assert isinstance(store, SQLUserStore)
    assert (store.model, store.hasher, store.object_permissions) == (User, hasher, hook)
    assert store.database is app.get_module(Database)


def test_auth_without_database_needs_a_store() -> None:
    app = new_app()
    auth = Auth()
    app.install(auth)
    app.build()  # an app with its own auth backend needs no store
    with pytest.raises(
        ConfigurationError, match=r"install carboy.db.Database\(...\).*MemoryUserStore"
    ):
        auth.users  # noqa: B018


def test_a_store_of_your_own() -> None:
    store = MemoryUserStore(hasher=fast_hasher())
    app = new_app()
    app.install(Auth(users=store))
    app.build()
    assert app.get_module(Auth).users is store


def test_user_model_is_for_the_default_store() -> None:
    app = new_app()
    app.install(Auth(users=MemoryUserStore(), user_model=User))
    with pytest.raises(ConfigurationError, match="user_model is for the default SQL store"):
        app.build()


def test_password_validators_option() -> None:
    assert len(Auth().password_validators) == 4
    Auth().validate_password("plum-tree-in-may", {"username": "ann"})
    with pytest.raises(PasswordInvalid, match="too common"):
        Auth().validate_password("password1")
    Auth(password_validators=[]).validate_password("1")
    with pytest.raises(PasswordInvalid, match="at least 20"):
        Auth(password_validators=[MinimumLength(20)]).validate_password("plum-tree-in-may")


def test_the_default_hasher() -> None:
    assert Auth().hasher.parameters.memory_cost == 65536
    hasher = fast_hasher()
    assert Auth(password_hasher=hasher).hasher is hasher


def test_the_hook_is_registered_once(tmp_path: Path) -> None:
    app = new_app()
    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    app.install(db)
    app.install(Auth())
    app.build()
    assert len(db.migrate_hooks) == 1
    app.get_module(Auth).setup(app)
    assert len(db.migrate_hooks) == 1


# -- your own user model ------------------------------------------------------------------------
MEMBER = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from carboy.auth import UserMixin
from carboy.db import Model

class Member(UserMixin, Model):
    nickname: Mapped[str | None] = mapped_column(String(50), default=None)
"""


@pytest.fixture
def member_model(tmp_path: Path) -> Iterator[Any]:
    name = "carboy_auth_member_models"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(MEMBER), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module.Member
    sys.modules.pop(name, None)
    forget_models(name)


async def test_your_own_user_model(member_model: Any, database_url: str) -> None:
    db = make_auth_database(database_url)
    member_tables = [t for t in Model.metadata.sorted_tables if t.name.startswith("member")]
    assert sorted(t.name for t in member_tables) == [
        "member",
        "member_groups",
        "member_permissions",
    ]
    Model.metadata.create_all(db.engine, tables=member_tables)
    try:
        app = new_app()
        app.install(db)
        app.install(Auth(user_model=member_model, password_hasher=fast_hasher()))
        app.build()
        store = app.get_module(Auth).users
        ann = await store.create(username="ann", password="plum-tree-9")
        assert type(ann) is member_model
        found = await store.get_by_login("ANN")
        assert found is not None and found.pk == ann.pk and found.nickname is None
        assert await store.check_password(found, "plum-tree-9")
        assert found.has_perm("member_models.view_member") is False
        await db.dispose()
    finally:
        Model.metadata.drop_all(db.engine, tables=member_tables)
        drop_auth_tables(db)
