"""FastAPI's list endpoint as its docs write one: async SQLAlchemy, a pydantic response model.

    granian --interface asgi bench.apps.api_list_fastapi_app:app

The same page as the others: ``?page=&page_size=`` (20 by default, at most
100), a ``count`` query and the page's rows in id order, each validated into
the response model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.apps.api_list_common import API_DATABASE_URL, PAGE_SIZE, POOL_SIZE, TABLE

engine = create_async_engine(
    API_DATABASE_URL.replace("postgresql://", "postgresql+asyncpg://", 1),
    pool_size=POOL_SIZE,
    max_overflow=0,
)
sessions = async_sessionmaker(engine, expire_on_commit=False)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    published: Mapped[bool]
    views: Mapped[int]


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    published: bool
    views: int


class ItemPage(BaseModel):
    count: int
    page: int
    pages: int
    items: list[ItemOut]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


async def session() -> AsyncIterator[AsyncSession]:
    async with sessions() as db:
        yield db


@app.get("/api/items", response_model=ItemPage)
async def list_items(
    db: Annotated[AsyncSession, Depends(session)],
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> ItemPage:
    count = await db.scalar(sa.select(sa.func.count()).select_from(Item)) or 0
    pages = max(1, -(-count // page_size))
    if page > pages:
        raise HTTPException(404, f"Page {page} does not exist")
    rows = await db.scalars(
        sa.select(Item).order_by(Item.id).limit(page_size).offset((page - 1) * page_size)
    )
    items = [ItemOut.model_validate(item) for item in rows]
    return ItemPage(count=count, page=page, pages=pages, items=items)
