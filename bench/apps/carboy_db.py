"""carboy's TechEmpower database tests, on the ``carboy.db`` battery.

``install_db_routes(app, url)`` adds ``/db``, ``/queries``, ``/fortunes`` and
``/updates`` to a carboy app, reading the ``world`` and ``fortune`` tables that
``bench/db_setup.py`` seeds. It takes the hot path the design asks for:

* the battery's pooled async engine (asyncpg), and its driver fast path
  (``db.driver_connection()``): no ORM, no identity map, no SQLAlchemy per query;
* prepared statements: asyncpg prepares each SQL text once per connection and
  reuses it (``fetchval``/``fetch`` go through its statement cache, so no extra
  ``PREPARE`` round trip per request);
* one connection per request, however many queries it runs;
* the updates in one batched statement: ``UPDATE world ... FROM (SELECT * FROM
  unnest($1, $2))``, the ``UPDATE ... FROM (VALUES ...)`` form with the values
  passed as two arrays, so that the statement text (and its prepared plan) is the
  same for any number of rows;
* ids sorted before the update so that concurrent batches lock rows in the same
  order (no deadlocks).

Example (``bench/apps/carboy_app.py``)::

    from bench.apps.carboy_db import install_db_routes
    install_db_routes(app, DATABASE_URL)
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from jinja2 import Environment, FileSystemLoader

from bench.common import (
    ADDITIONAL_FORTUNE,
    DATABASE_URL,
    FORTUNES_SQL,
    POOL_SIZE,
    READ_NUMBER_SQL,
    TEMPLATES_DIR,
    new_number,
    parse_queries,
    random_id,
    random_ids,
)
from carboy import Carboy, ConfigurationError
from carboy.db import Database

#: One statement for any number of rows: the values come as two arrays.
UPDATE_WORLDS_SQL = (
    "UPDATE world AS w SET randomnumber = v.randomnumber"
    " FROM (SELECT * FROM unnest($1::int[], $2::int[]) AS t(id, randomnumber)) AS v"
    " WHERE w.id = v.id"
)

_by_message = itemgetter(1)


def _database(app: Carboy, url: str) -> Database:
    """The app's Database if it has one, else a new one for ``url``, pooled for the bench."""
    try:
        return app.get_module(Database)
    except ConfigurationError:
        db = Database(url, pool_size=POOL_SIZE, max_overflow=0, pool_timeout=30)
        app.install(db)
        return db


def install_db_routes(app: Carboy, url: str = DATABASE_URL) -> None:
    """Add the TechEmpower database routes to ``app``, on the PostgreSQL at ``url``.

    Example:
        >>> app = Carboy(debug=False, secret_key="bench" * 8, allowed_hosts=["*"])
        >>> install_db_routes(app, "postgresql://postgres@127.0.0.1:5432/carboy_bench")
    """
    db = _database(app, url)
    templates = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    fortunes_template = templates.get_template("fortunes_rows.html")
    connect = db.driver_connection

    @app.get("/db")
    async def single_query() -> dict[str, int]:
        row_id = random_id()
        async with connect() as conn:
            number = await conn.fetchval(READ_NUMBER_SQL, row_id)
        return {"id": row_id, "randomNumber": number}

    @app.get("/queries")
    async def multiple_queries(queries: str | None = None) -> list[dict[str, int]]:
        count = parse_queries(queries)
        worlds = []
        async with connect() as conn:
            fetch = conn.fetchval
            for _ in range(count):
                row_id = random_id()
                worlds.append({"id": row_id, "randomNumber": await fetch(READ_NUMBER_SQL, row_id)})
        return worlds

    @app.get("/fortunes", media_type="text/html; charset=utf-8")
    async def fortunes() -> str:
        async with connect() as conn:
            rows: list[Any] = await conn.fetch(FORTUNES_SQL)
        rows.append((0, ADDITIONAL_FORTUNE))
        rows.sort(key=_by_message)
        return fortunes_template.render(fortunes=rows)

    @app.get("/updates")
    async def updates(queries: str | None = None) -> list[dict[str, int]]:
        ids = random_ids(parse_queries(queries))
        async with connect() as conn:
            fetch = conn.fetchval
            numbers = [new_number(await fetch(READ_NUMBER_SQL, row_id)) for row_id in ids]
            await conn.execute(UPDATE_WORLDS_SQL, ids, numbers)
        return [{"id": row_id, "randomNumber": n} for row_id, n in zip(ids, numbers, strict=True)]
