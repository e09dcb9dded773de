"""What a delete takes with it: the rows that cascade, are emptied, or stop it.

Before anything is deleted the confirmation page shows, per model, how many
rows go with the objects (foreign keys ``ON DELETE CASCADE`` and ORM
relationships with ``cascade="all, delete"``, followed a few levels down),
how many get an empty key (``SET NULL``), how many many-to-many links go, and
the rows that reference the objects with no rule: those block the delete.
Every count is bounded, and a few examples of each are named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from carboy.admin._counts import bounded_count
from carboy.admin._meta import ChildRelation, ModelInfo, humanize, read_model

#: How many levels of cascades are followed.
MAX_DEPTH = 4
#: Examples named per model.
EXAMPLES = 10
#: Rows counted per model before "more than" is said.
COUNT_LIMIT = 10_000
#: Keys of one level carried to the next.
MAX_KEYS = 1_000


@dataclass(slots=True)
class Example:
    """One named row: its text and the admin page it has (None: not registered)."""

    text: str
    url: str | None = None


@dataclass(slots=True)
class Group:
    """Rows of one model (or table) that a delete reaches."""

    title: str
    count: int = 0
    more: bool = False
    examples: list[Example] = field(default_factory=list)

    def add(self, count: int, examples: list[Example]) -> None:
        if count > COUNT_LIMIT:
            self.more = True
            count = COUNT_LIMIT
        self.count += count
        room = EXAMPLES - len(self.examples)
        self.examples.extend(examples[: max(room, 0)])

    @property
    def count_text(self) -> str:
        return f"more than {self.count:,}" if self.more else f"{self.count:,}"


@dataclass(slots=True)
class DeletePlan:
    """What deleting some objects does, grouped by model."""

    deleted: dict[str, Group] = field(default_factory=dict)
    emptied: dict[str, Group] = field(default_factory=dict)
    links: dict[str, Group] = field(default_factory=dict)
    protected: dict[str, Group] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """Something references the objects and would stop the delete."""
        return bool(self.protected)

    @staticmethod
    def _group(groups: dict[str, Group], title: str) -> Group:
        if title not in groups:
            groups[title] = Group(title)
        return groups[title]


def _title(child: ChildRelation) -> str:
    if child.model is not None:
        return humanize(child.model.__name__)
    return humanize(child.table.name)


def collect(
    session: Session,
    info: ModelInfo,
    pks: list[Any],
    url_of: Callable[[Any], str | None],
) -> DeletePlan:
    """What deleting the objects of ``info``'s model with keys ``pks`` reaches.

    ``url_of(obj)`` gives an object's admin page (None when it has none the
    user may see), for the examples' links.

    Example:
        >>> plan = collect(session, read_model(Post), [1], lambda obj: None)
        >>> {title: g.count for title, g in plan.deleted.items()}
        {'Comment': 3}
    """
    plan = DeletePlan()
    frontier: list[tuple[ModelInfo, list[Any]]] = [(info, list(pks))]
    for _ in range(MAX_DEPTH):
        following: list[tuple[ModelInfo, list[Any]]] = []
        for parent, keys in frontier:
            if not keys:
                continue
            for link in parent.links:
                where = link.column.in_(_referenced(parent, link.column, keys))
                count = bounded_count(session, select(link.table).where(where), COUNT_LIMIT)
                if count:
                    title = f"{humanize(parent.model.__name__)} {humanize(link.name).lower()} links"
                    plan._group(plan.links, title).add(count, [])
            for child in parent.children:
                step = _reach(session, parent, child, keys, url_of)
                if step is None:
                    continue
                count, examples, child_keys = step
                if child.deletes:
                    plan._group(plan.deleted, _title(child)).add(count, examples)
                    if child.model is not None and child_keys:
                        following.append((read_model(child.model), child_keys))
                elif child.nulls:
                    plan._group(plan.emptied, _title(child)).add(count, examples)
                else:
                    plan._group(plan.protected, _title(child)).add(count, examples)
        frontier = following
        if not frontier:
            break
    return plan


def _referenced(parent: ModelInfo, column: Any, keys: list[Any]) -> Select[Any]:
    """The values ``column`` (a foreign key to ``parent``) holds for the rows ``keys``."""
    target = next(iter(column.foreign_keys)).column
    return select(target).where(parent.pk.in_(keys))


def _reach(
    session: Session,
    parent: ModelInfo,
    child: ChildRelation,
    keys: list[Any],
    url_of: Callable[[Any], str | None],
) -> tuple[int, list[Example], list[Any]] | None:
    where = child.column.in_(_referenced(parent, child.column, keys))
    count = bounded_count(session, select(child.table).where(where), COUNT_LIMIT)
    if not count:
        return None
    if child.model is None:
        return count, [], []
    child_info = read_model(child.model)
    rows: Sequence[Any] = session.scalars(
        select(child.model).where(where).order_by(child_info.pk).limit(EXAMPLES)
    ).all()
    examples = [Example(str(row), url_of(row)) for row in rows]
    child_keys: list[Any] = []
    if child.deletes:
        child_keys = list(
            session.scalars(
                select(child_info.pk).where(where).order_by(child_info.pk).limit(MAX_KEYS)
            ).all()
        )
    return count, examples, child_keys
