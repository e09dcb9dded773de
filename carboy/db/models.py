"""Models: SQLAlchemy 2 declarative classes with carboy's conventions.

Subclass :class:`Model` and declare typed ``Mapped[...]`` columns. carboy adds
what Django users expect and SQLAlchemy leaves to you:

* an integer ``id`` primary key, unless the class declares its own primary key;
* a table name made from the class name (``BlogPost`` -> ``blog_post``), unless
  ``__tablename__`` is set;
* constraint and index names from one naming convention, so that migrations can
  alter and drop them on every database (SQLite's batch mode needs names);
* a ``__str__`` (``Post #3``) that the admin shows, and a ``__repr__``;
* ``datetime`` columns that store UTC and give back timezone-aware values on
  SQLite and PostgreSQL alike.

Every model of a project, from every installed module and battery, lives in one
:class:`~sqlalchemy.MetaData`: ``Model.metadata``. That is what migrations compare
with the database. For a separate set of tables (a test, a second database) build
another base with :func:`model_base`.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from carboy.modules import Module

logger = logging.getLogger("carboy.db")


#: Names of constraints and indexes: ``uq_user_email``, ``fk_post_author_id_author``...
#: Named constraints can be altered and dropped by migrations, and the error
#: messages for violated constraints name the field from them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def table_name_for(class_name: str) -> str:
    """The automatic table name of a model class: snake case of its name.

    Example:
        >>> table_name_for("BlogPost")
        'blog_post'
        >>> table_name_for("HTTPLog")
        'http_log'
    """
    return _WORD_BOUNDARY.sub("_", class_name).lower()


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime`` stored in UTC that always comes back timezone-aware.

    Naive values are taken to be UTC already. SQLite has no time zones, so the
    value is stored without one there and marked UTC again when read.

    Example:
        >>> from sqlalchemy.orm import Mapped, mapped_column
        >>> class Event(Model):
        ...     starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime takes a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - the drivers give datetimes
            value = datetime.fromisoformat(str(value))
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def _declares_primary_key(cls: type) -> bool:
    for klass in cls.__mro__:
        if klass is object or "__table__" in vars(klass) or "__mapper__" in vars(klass):
            continue
        for value in vars(klass).values():
            if isinstance(value, MappedColumn) and value.column.primary_key:
                return True
            if isinstance(value, Column) and value.primary_key:
                return True
        args = vars(klass).get("__table_args__")
        items = args if isinstance(args, tuple) else ()
        if any(isinstance(item, PrimaryKeyConstraint) for item in items):
            return True
    return False


def _mapped_parent(cls: type) -> type | None:
    for klass in cls.__mro__[1:]:
        if "__table__" in vars(klass) or "__mapper__" in vars(klass):
            return klass
    return None


def _declares(cls: type, name: str) -> bool:
    """True when ``cls`` or one of its unmapped mixins sets ``name``."""
    for klass in cls.__mro__:
        if klass is object or klass is DeclarativeBase or "__mapper__" in vars(klass):
            continue
        if DeclarativeBase in klass.__bases__:
            continue
        if name in vars(klass):
            return True
    return False


def _apply_conventions(cls: type) -> None:
    if "__table__" in vars(cls):
        return
    parent = _mapped_parent(cls)
    own_key = _declares_primary_key(cls)
    if not _declares(cls, "__tablename__"):
        if parent is not None and not own_key:
            # Single-table inheritance: the subclass shares its parent's table.
            cls.__tablename__ = None  # type: ignore[attr-defined]
        else:
            cls.__tablename__ = table_name_for(cls.__name__)  # type: ignore[attr-defined]
    if parent is None and not own_key and not _declares(cls, "id"):
        cls.id = mapped_column(Integer, primary_key=True, sort_order=-1000)  # type: ignore[attr-defined]


def _index_foreign_keys(table: Table) -> None:
    """Index every foreign-key column, as Django does: joins and deletes need it.

    A column that says ``index=False``, a primary key, a unique column and one
    that already leads an index or a unique constraint is left alone.
    """
    led = {index.columns[0] for index in table.indexes if len(index.columns)}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns):
            led.add(next(iter(constraint.columns)))
    for column in table.columns:
        if not column.foreign_keys or column.index is not None or column.primary_key:
            continue
        if column.unique or column in led:
            continue
        Index(None, column)  # named by NAMING_CONVENTION["ix"]


class ModelBase:
    """carboy's model conventions, as a mixin for a SQLAlchemy declarative base.

    :class:`Model` is ``ModelBase`` on a ``DeclarativeBase``; use this mixin to
    build your own base with the same behaviour.

    Example:
        >>> from sqlalchemy import MetaData
        >>> from sqlalchemy.orm import DeclarativeBase
        >>> class Base(ModelBase, DeclarativeBase):
        ...     metadata = MetaData(naming_convention=NAMING_CONVENTION)
    """

    if TYPE_CHECKING:
        id: Mapped[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        concrete = DeclarativeBase not in cls.__bases__ and not vars(cls).get("__abstract__", False)
        if concrete:
            _apply_conventions(cls)
        super().__init_subclass__(**kwargs)
        table = vars(cls).get("__table__") if concrete else None
        if isinstance(table, Table):
            _index_foreign_keys(table)

    def _primary_key_text(self) -> str:
        state = inspect(self)
        identity = state.identity
        if identity is None:
            return "(unsaved)"
        if len(identity) == 1:
            return f"#{identity[0]}"
        return "#(" + ", ".join(str(part) for part in identity) + ")"

    def __str__(self) -> str:
        return f"{type(self).__name__} {self._primary_key_text()}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._primary_key_text()}>"


type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class Model(ModelBase, DeclarativeBase):
    """The base class of every carboy model; all share ``Model.metadata``.

    Example:
        >>> from sqlalchemy import ForeignKey, String
        >>> from sqlalchemy.orm import Mapped, mapped_column, relationship
        >>> class Author(Model):
        ...     name: Mapped[str] = mapped_column(String(100))
        >>> class Book(Model):
        ...     title: Mapped[str] = mapped_column(String(200), index=True)
        ...     author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
        ...     author: Mapped[Author] = relationship()
        >>> Book.__tablename__
        'book'
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = type_annotation_map


def model_base(name: str = "Model") -> Any:
    """A new declarative base with carboy's conventions and its own ``MetaData``.

    Use it to keep a set of models apart from ``Model.metadata``: in tests, or for
    a second database. Give the base to :class:`~carboy.db.Database` with ``base=``.

    Example:
        >>> Base = model_base()
        >>> class Note(Base):
        ...     text: Mapped[str]
        >>> Note.__table__.name, "note" in Model.metadata.tables
        ('note', False)
    """
    namespace = {
        "metadata": MetaData(naming_convention=NAMING_CONVENTION),
        "type_annotation_map": dict(type_annotation_map),
        "__module__": __name__,
    }
    return type(name, (ModelBase, DeclarativeBase), namespace)


class TimestampMixin:
    """Adds ``created_at`` and ``updated_at`` (timezone-aware UTC) to a model.

    Example:
        >>> class Article(TimestampMixin, Model):
        ...     title: Mapped[str]
        >>> sorted(c.name for c in Article.__table__.columns)
        ['created_at', 'id', 'title', 'updated_at']
    """

    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=lambda: datetime.now(UTC), sort_order=900
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=lambda: datetime.now(UTC),
        onupdate=lambda: datetime.now(UTC),
        sort_order=901,
    )


# -- finding the models of installed modules ----------------------------------------
def _import_sibling_models(module: Module) -> None:
    """Import the ``models.py`` next to the file that created ``module``, if any."""
    root = Path(module.root)
    if not (root / "models.py").is_file():
        return
    package = _package_of(root)
    if package is None:
        return
    name = f"{package}.models" if package else "models"
    if name in sys.modules:
        return
    found = _import_models(name, f"the models of module {module.name!r} ({root / 'models.py'})")
    if found is None:
        # The folder is not importable under that name (its package was loaded
        # from elsewhere): nothing to import. An error raised by the code of
        # models.py itself is never swallowed, see _import_models.
        logger.debug("Not importing %s: no such module", name)
        return
    file = getattr(found, "__file__", None)
    if file is None or Path(file).resolve() != (root / "models.py").resolve():
        logger.debug("%s is not %s; models not imported from it", name, root / "models.py")


def _import_models(name: str, what: str) -> ModuleType | None:
    """Import the models module ``name``; an error of its code propagates, noted.

    A models module that fails to import must stop start-up and every database
    command: if it were skipped, the app would build with its tables missing
    and ``makemigrations`` would write a migration that drops them. The
    exception keeps its type and traceback (the line of ``models.py`` that
    raised); a note names what was being imported.

    Returns ``None`` when ``name`` itself (or its package) does not exist.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            return None
        exc.add_note(f"(raised while importing {what})")
        raise
    except Exception as exc:
        exc.add_note(f"(raised while importing {what})")
        raise


def _package_of(folder: Path) -> str | None:
    """The import name of the package whose files are in ``folder``."""
    folder = folder.resolve()
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None)
        if not file or name == "__main__":
            continue
        path = Path(file)
        if path.parent != folder:
            continue
        if path.name == "__init__.py":
            return name
        return name.rpartition(".")[0]
    return None
