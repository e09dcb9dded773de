"""Autogenerate, rewritten: renames instead of drop-and-add, warnings, revision titles.

Alembic compares the models with the database and proposes operations; these
functions adjust them before the revision file is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from alembic.operations import ops
from sqlalchemy.types import TypeDecorator, TypeEngine

#: ``confirm(table, old_column, new_column) -> bool``: was this a rename?
RenameConfirm = Callable[[str, str, str], bool]


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic's ``render_item`` hook: carboy's column types are written as their impl.

    They only change Python-side values; the DDL is their impl's, so revision files
    need no carboy import.
    """
    if (
        type_ == "type"
        and isinstance(obj, TypeDecorator)
        and type(obj).__module__.startswith("carboy.")
    ):
        impl = obj.impl_instance
        return f"sa.{impl!r}"
    return False


def _same_column(new: Any, old: Any) -> bool:
    """Whether two columns differ by their name only (a rename candidate)."""
    return (
        _generic(new.type) is _generic(old.type)
        and getattr(new.type, "length", None) == getattr(old.type, "length", None)
        and bool(new.nullable) == bool(old.nullable)
    )


def _generic(type_: TypeEngine[Any]) -> type:
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    try:
        return type(type_.as_generic())
    except NotImplementedError:
        return type(type_)


def _columns_ops(upgrade: ops.UpgradeOps | ops.DowngradeOps) -> Iterable[ops.ModifyTableOps]:
    for op in upgrade.ops:
        if isinstance(op, ops.ModifyTableOps):
            yield op


def find_renames(
    upgrade: ops.UpgradeOps,
    downgrade: ops.DowngradeOps,
    confirm: RenameConfirm | None,
    notes: list[str],
) -> None:
    """Turn a dropped + added column pair into a rename, when ``confirm`` says so."""
    renamed: list[ops.ModifyTableOps] = []
    for table_ops in list(_columns_ops(upgrade)):
        adds = [op for op in table_ops.ops if isinstance(op, ops.AddColumnOp)]
        drops = [op for op in table_ops.ops if isinstance(op, ops.DropColumnOp)]
        for drop in drops:
            old = drop.to_column()
            table = table_ops.table_name
            candidates = [a for a in adds if _same_column(a.column, old)]
            add = next(
                (
                    a
                    for a in candidates
                    if confirm is not None and confirm(table, drop.column_name, a.column.name)
                ),
                None,
            )
            if add is None:
                notes.extend(
                    f"{table}.{drop.column_name} is dropped and {table}.{a.column.name} added: "
                    "if that is a rename, answer yes when asked (the data would be lost)"
                    for a in candidates
                )
                continue
            new_name = add.column.name
            alter = ops.AlterColumnOp(
                table,
                drop.column_name,
                schema=table_ops.schema,
                modify_name=new_name,
                existing_type=add.column.type,
                existing_nullable=old.nullable,
            )
            table_ops.ops[table_ops.ops.index(add)] = alter
            table_ops.ops.remove(drop)
            adds.remove(add)
            renamed.append(table_ops)
            _reverse_rename(downgrade, table, drop.column_name, new_name, add.column)

    for table_ops in renamed:
        _indexes_after(upgrade, table_ops)
    for table_ops in list(_columns_ops(downgrade)):
        if any(isinstance(op, ops.AlterColumnOp) and op.modify_name for op in table_ops.ops):
            _indexes_after(downgrade, table_ops)


def _indexes_after(
    container: ops.UpgradeOps | ops.DowngradeOps, table_ops: ops.ModifyTableOps
) -> None:
    """Create a renamed table's indexes in a second step: a SQLite batch that renames a
    column cannot index it under its new name at the same time."""
    drops = [op for op in table_ops.ops if isinstance(op, ops.DropIndexOp)]
    creates = [op for op in table_ops.ops if isinstance(op, ops.CreateIndexOp)]
    if not creates:
        return
    others = [op for op in table_ops.ops if op not in drops and op not in creates]
    table_ops.ops = [*drops, *others]
    later = ops.ModifyTableOps(table_ops.table_name, list(creates), schema=table_ops.schema)
    container.ops.insert(container.ops.index(table_ops) + 1, later)


def _reverse_rename(
    downgrade: ops.DowngradeOps, table: str, old: str, new: str, column: Any
) -> None:
    """The downgrade of a rename: rename back, instead of dropping and adding."""
    for table_ops in _columns_ops(downgrade):
        if table_ops.table_name != table:
            continue
        drop = next(
            (
                op
                for op in table_ops.ops
                if isinstance(op, ops.DropColumnOp) and op.column_name == new
            ),
            None,
        )
        add = next(
            (
                op
                for op in table_ops.ops
                if isinstance(op, ops.AddColumnOp) and op.column.name == old
            ),
            None,
        )
        if drop is None or add is None:
            continue
        alter = ops.AlterColumnOp(
            table,
            new,
            schema=table_ops.schema,
            modify_name=old,
            existing_type=column.type,
            existing_nullable=column.nullable,
        )
        table_ops.ops[table_ops.ops.index(add)] = alter
        table_ops.ops.remove(drop)
        return


def warn_not_null(upgrade: ops.UpgradeOps, notes: list[str]) -> None:
    """Note each NOT NULL column added without a server default (fails on filled tables)."""
    for table_ops in _columns_ops(upgrade):
        for op in table_ops.ops:
            if isinstance(op, ops.AddColumnOp):
                column = op.column
                if not column.nullable and column.server_default is None:
                    notes.append(
                        f"{table_ops.table_name}.{column.name} is NOT NULL without a server "
                        "default: migrating a table that has rows fails. Give it a "
                        "server_default, or add it nullable, fill it, then make it NOT NULL."
                    )


def summarize(upgrade: ops.UpgradeOps) -> str:
    """A revision title from its operations: ``create post, add post.body``."""
    parts: list[str] = []
    for op in upgrade.ops:
        if isinstance(op, ops.CreateTableOp):
            parts.append(f"create {op.table_name}")
        elif isinstance(op, ops.DropTableOp):
            parts.append(f"drop {op.table_name}")
        elif isinstance(op, ops.ModifyTableOps):
            for sub in op.ops:
                if isinstance(sub, ops.AddColumnOp):
                    parts.append(f"add {op.table_name}.{sub.column.name}")
                elif isinstance(sub, ops.DropColumnOp):
                    parts.append(f"drop {op.table_name}.{sub.column_name}")
                elif isinstance(sub, ops.AlterColumnOp) and sub.modify_name:
                    parts.append(f"rename {op.table_name}.{sub.column_name} to {sub.modify_name}")
                elif isinstance(sub, ops.AlterColumnOp):
                    parts.append(f"alter {op.table_name}.{sub.column_name}")
                elif isinstance(sub, ops.CreateForeignKeyOp):
                    parts.append(f"link {op.table_name} to {sub.referent_table}")
    if not parts:
        return "alter schema"
    text_ = ", ".join(parts)
    return text_ if len(text_) <= 60 else ", ".join(parts[:2]) + f" and {len(parts) - 2} more"
