"""carboy.api's list endpoint: a model resource, 20 rows a page, on carboy.db (asyncpg).

granian --interface asgi bench.apps.api_list_carboy_app:app
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bench.apps.api_list_common import API_DATABASE_URL, PAGE_SIZE, POOL_SIZE, SECRET_KEY, TABLE
from carboy import Carboy
from carboy.api import ALLOW_ANY, API, PageNumberPagination
from carboy.db import Database, model_base
from carboy.settings import Settings

Base = model_base()


class Item(Base):
    __tablename__ = TABLE

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published: Mapped[bool]
    views: Mapped[int]


api = API(prefix="/api", docs=False)
api.resource(
    Item,
    path="/items",
    permissions=ALLOW_ANY,
    pagination=PageNumberPagination(size=PAGE_SIZE),
    actions=["list"],
)

app = Carboy(
    Settings(
        debug=False,
        secret_key=SECRET_KEY,
        allowed_hosts=["127.0.0.1", "localhost"],
    )
)
app.install(Database(API_DATABASE_URL, base=Base, pool_size=POOL_SIZE, max_overflow=0))
app.install(api)
