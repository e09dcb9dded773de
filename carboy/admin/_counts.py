"""Row counts that stay cheap on large tables.

A ``COUNT(*)`` reads every row: on a table of millions it is the slowest part
of a list page. The admin never runs one unbounded. It asks the database for
its own estimate first (PostgreSQL's ``pg_class.reltuples``, MySQL's
``information_schema``, SQLite's key range); only when that says the table is
small does it count, and then with a ``LIMIT`` so a wrong estimate still costs
at most ``limit`` rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from carboy.admin._meta import ModelInfo


def bounded_count(session: Session, stmt: Select[Any], limit: int) -> int:
    """How many rows ``stmt`` gives, reading at most ``limit + 1`` of them.

    A result above ``limit`` means "more than ``limit``".

    Example:
        >>> bounded_count(session, select(Post), 10_000)
        42
    """
    inner: Select[Any] = (
        stmt.with_only_columns(literal_column("1"), maintain_column_froms=True)
        .order_by(None)
        .limit(limit + 1)
    )
    return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


def estimate_rows(session: Session, info: ModelInfo) -> int | None:
    """The database's estimate of the table's rows, without reading them; None if it has none.

    Example:
        >>> estimate_rows(session, read_model(Post))
        1000000
    """
    bind = session.get_bind()
    dialect = bind.dialect.name
    table = info.table
    if dialect == "postgresql":
        name = f"{table.schema}.{table.name}" if table.schema else table.name
        found = session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"),
            {"name": f'"{name}"' if not table.schema else name},
        )
        if found is None or float(found) < 0:  # -1: never vacuumed or analysed
            return None
        return int(float(found))
    if dialect in ("mysql", "mariadb"):
        found = session.scalar(
            text(
                "SELECT table_rows FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = :name"
            ),
            {"name": table.name},
        )
        return int(found) if found is not None else None
    if dialect == "sqlite" and isinstance(info.pk.type, Integer):
        # An integer key is the rowid: its range is read from the b-tree's two ends.
        row = session.execute(select(func.min(info.pk), func.max(info.pk))).one()
        if row[0] is None:
            return 0
        return int(row[1]) - int(row[0]) + 1
    return None


def table_size(session: Session, info: ModelInfo, limit: int) -> tuple[int, bool]:
    """``(rows, exact)``: an exact count when the table has at most ``limit`` rows,
    else the database's estimate (or ``limit + 1``) and False.

    Example:
        >>> table_size(session, read_model(Post), 10_000)
        (42, True)
    """
    estimate = estimate_rows(session, info)
    if estimate is not None and estimate > limit:
        return estimate, False
    counted = bounded_count(session, select(info.table), limit)
    if counted > limit:
        return (estimate if estimate is not None and estimate > limit else counted), False
    return counted, True
