"""Fixtures of the auth battery's tests: a fast password hasher, user stores, databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table

from carboy.auth import MemoryUserStore, PasswordHasher, SQLUserStore
from carboy.db import Database, Model
from tests.db.conftest import (  # noqa: F401  (fixtures)
    backend,
    database_url,
    fresh_database_url,
    postgres_url,
)


def fast_hasher(**options: Any) -> PasswordHasher:
    """argon2id with the smallest parameters: the same code path, in microseconds."""
    options.setdefault("time_cost", 1)
    options.setdefault("memory_cost", 8)
    options.setdefault("parallelism", 1)
    return PasswordHasher(**options)


@pytest.fixture
def hasher() -> PasswordHasher:
    return fast_hasher()


def auth_tables() -> list[Table]:
    """The tables of the auth battery on the shared metadata."""
    return [table for name, table in Model.metadata.tables.items() if name.startswith("auth_")]


@pytest.fixture
def auth_database(database_url: str) -> Iterator[Database]:  # noqa: F811  (the fixture)
    """A ``Database`` (SQLite or PostgreSQL) with empty auth tables, dropped after."""
    db = make_auth_database(database_url)
    yield db
    drop_auth_tables(db)


def make_auth_database(url: str) -> Database:
    db = Database(url)
    Model.metadata.drop_all(db.engine, tables=auth_tables())
    Model.metadata.create_all(db.engine, tables=auth_tables())
    return db


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    store_kind: str, hasher: PasswordHasher, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """Each user store: in memory, and SQL on SQLite and PostgreSQL."""
    if store_kind == "memory":
        yield MemoryUserStore(hasher=hasher)
        return
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'users.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    db = make_auth_database(url)
    yield SQLUserStore(db, hasher=hasher)
    await db.dispose()
    drop_auth_tables(db)


def drop_auth_tables(db: Database) -> None:
    Model.metadata.drop_all(db.engine, tables=auth_tables())
    db.engine.dispose()


def forget_models(module: str) -> None:
    """Take the models of ``module`` off the shared ``Model`` (tables and mappers)."""
    for mapper in list(Model.registry.mappers):
        if mapper.class_.__module__ == module:
            for table in [
                t
                for t in Model.metadata.sorted_tables
                if t.name.startswith(
                    str(mapper.local_table.name)  # type: ignore[attr-defined]
                )
            ]:
                Model.metadata.remove(table)
            Model.registry._dispose_manager_and_mapper(mapper.class_manager)
            del Model.registry._managers[mapper.class_manager]
