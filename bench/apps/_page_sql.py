"""The ``/page`` data layer of the ASGI peers without an ORM of their own (FastAPI, Litestar).

What their docs show: SQLAlchemy's async engine (asyncpg), one ``AsyncSession``
per request, declarative models, ``select()``. The user is the ``bench_user``
row that Flask's ``bench_setup()`` seeds (run by ``bench.db_setup``), with its
Werkzeug password hash, so every peer signs the same user in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash

from bench.common import DATABASE_URL, POOL_SIZE

#: A secret for the peers' session signing; public, fine for a benchmark.
SESSION_SECRET = "bench-peers-not-a-secret-0123456789abcdef"


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "bench_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(256))


class Fortune(Base):
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


engine = create_async_engine(
    DATABASE_URL.replace("postgresql://", "postgresql+asyncpg://", 1),
    pool_size=POOL_SIZE,
    max_overflow=0,
)
sessions = async_sessionmaker(engine, expire_on_commit=False)


async def db_session() -> AsyncIterator[AsyncSession]:
    """One ORM session per request (the dependency both peers' docs show)."""
    async with sessions() as session:
        yield session


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The user whose password this is, or None."""
    user = await session.scalar(select(User).where(User.username == username))
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return user


async def fortunes(session: AsyncSession) -> Sequence[Fortune]:
    return (await session.scalars(select(Fortune).order_by(Fortune.id))).all()


def bench_setup() -> None:
    """The ``bench_user`` table and user, Flask's: this layer signs them in (``bench.db_setup``)."""
    from bench.apps.flask_app import bench_setup as flask_setup

    flask_setup()
