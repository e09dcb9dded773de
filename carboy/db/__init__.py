"""carboy.db: models, per-request sessions and migrations on SQLAlchemy 2 and Alembic.

Example:
    >>> from sqlalchemy.orm import Mapped
    >>> from carboy import Carboy
    >>> from carboy.db import AsyncSession, Database, Model, aget_or_404
    >>> class Post(Model):
    ...     title: Mapped[str]
    >>> app = Carboy()
    >>> app.install(Database("sqlite:///blog.db"))
    >>> @app.get("/posts/{id:int}")
    ... async def show(id: int, session: AsyncSession) -> dict[str, str]:
    ...     return {"title": (await aget_or_404(session, Post, id)).title}
"""

from carboy.db._commit import in_transaction as in_transaction
from carboy.db._commit import on_commit as on_commit
from carboy.db._database import DEFAULT_URL as DEFAULT_URL
from carboy.db._database import Database as Database
from carboy.db._database import MigrationSource as MigrationSource
from carboy.db._engines import parse_url as parse_url
from carboy.db.errors import ConstraintViolation as ConstraintViolation
from carboy.db.errors import DatabaseUnavailable as DatabaseUnavailable
from carboy.db.errors import IntegrityViolation as IntegrityViolation
from carboy.db.errors import MigrationError as MigrationError
from carboy.db.models import NAMING_CONVENTION as NAMING_CONVENTION
from carboy.db.models import Model as Model
from carboy.db.models import ModelBase as ModelBase
from carboy.db.models import TimestampMixin as TimestampMixin
from carboy.db.models import UTCDateTime as UTCDateTime
from carboy.db.models import model_base as model_base
from carboy.db.pagination import Page as Page
from carboy.db.pagination import apaginate as apaginate
from carboy.db.pagination import paginate as paginate
from carboy.db.sessions import AsyncSession as AsyncSession
from carboy.db.sessions import Session as Session
from carboy.db.sessions import acount as acount
from carboy.db.sessions import aexists as aexists
from carboy.db.sessions import aget_or_404 as aget_or_404
from carboy.db.sessions import count as count
from carboy.db.sessions import exists as exists
from carboy.db.sessions import get_or_404 as get_or_404

__all__ = [
    "DEFAULT_URL",
    "NAMING_CONVENTION",
    "AsyncSession",
    "ConstraintViolation",
    "Database",
    "DatabaseUnavailable",
    "IntegrityViolation",
    "MigrationError",
    "MigrationSource",
    "Model",
    "ModelBase",
    "Page",
    "Session",
    "TimestampMixin",
    "UTCDateTime",
    "acount",
    "aexists",
    "aget_or_404",
    "apaginate",
    "count",
    "exists",
    "get_or_404",
    "in_transaction",
    "model_base",
    "on_commit",
    "paginate",
    "parse_url",
]
