"""The signed-in user's lookup on the database driver's own connection (asyncpg).

Every signed-in request asks the user store for its user and their permissions.
Through an ORM session on SQLAlchemy's asyncio bridge that one query cost about
as much as the rest of a page (pool checkout, the greenlet switches, the ORM's
row loading); on PostgreSQL with asyncpg it runs here instead: the same
statement, compiled once for the dialect, through ``Database.driver_connection()``
(its lane, no greenlet), and the user object is built from the row as the ORM
would load it: every column's result processing applied, its values committed
(no pending changes), then detached with its identity key. So it behaves as
one loaded by a session that has since closed: ``session.add(user)`` later
updates it, never inserts it.

A model this cannot load the same way (more than one table, a column not mapped
to an attribute) keeps the session path; so do other databases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from carboy.auth.permissions import _PK, _permissions_of


class UserRows:
    """The compiled lookup of one user model on one dialect; see the module docstring."""

    __slots__ = ("_fields", "_new", "sql")

    def __init__(
        self,
        sql: str,
        fields: Sequence[tuple[str, Callable[[Any], Any] | None]],
        new: Callable[[], Any],
    ) -> None:
        #: The statement in the driver's dialect; its one parameter ``$1`` is the user id.
        self.sql = sql
        self._fields = tuple(fields)
        self._new = new

    def build(self, rows: Sequence[Any]) -> tuple[Any, list[tuple[str, str]]] | None:
        """The detached user from the driver's rows, and their ``(label, codename)`` pairs."""
        if not rows:
            return None
        user = self._new()
        first = rows[0]
        for index, (key, process) in enumerate(self._fields):
            value = first[index]
            set_committed_value(user, key, value if process is None else process(value))
        make_transient_to_detached(user)
        at = len(self._fields)
        perms = [(row[at], row[at + 1]) for row in rows if row[at] is not None]
        return user, perms


def compile_user_rows(model: Any, dialect: Dialect) -> UserRows | None:
    """The driver-level lookup of ``model`` users on ``dialect``, or None where it cannot be."""
    if dialect.name != "postgresql" or dialect.driver != "asyncpg":
        return None
    mapper = sa_inspect(model)
    table = mapper.local_table
    if mapper.persist_selectable is not table or mapper.inherits is not None:
        return None
    fields: list[tuple[str, Callable[[Any], Any] | None]] = []
    for column in table.columns:
        try:
            prop = mapper.get_property_by_column(column)
        except Exception:
            return None
        impl = column.type.dialect_impl(dialect)
        fields.append((prop.key, impl.result_processor(dialect, None)))
    pk = bindparam(_PK, type_=Integer)
    perms = _permissions_of(model, pk)
    statement = (
        select(*table.columns, perms.c.label, perms.c.codename)
        .outerjoin(perms, perms.c.user_id == table.c.id)
        .where(table.c.id == pk)
    )
    compiled = statement.compile(dialect=dialect)
    if list(compiled.positiontup or ()) != [_PK] * len(compiled.positiontup or ()):
        return None
    return UserRows(str(compiled), fields, mapper.class_manager.new_instance)
