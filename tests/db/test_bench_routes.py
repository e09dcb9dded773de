"""bench/apps/carboy_db.py: the TechEmpower database routes answer what the harness checks.

The routes run under a real uvicorn server (in a thread) on a database of their
own, seeded by the bench's own ``seed_tables``; the bench's own check functions
judge the answers, as they do before every measurement.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bench import checks
from bench.apps.carboy_db import install_db_routes
from bench.checks import Client
from bench.db_setup import seed_tables
from bench.process import free_port
from carboy.db import Database
from carboy.db.testing import temporary_database
from tests.db.conftest import POSTGRES_URL, new_app, require_postgres


@pytest.fixture(scope="module")
def bench_client() -> Iterator[Client]:
    require_postgres()
    with temporary_database(POSTGRES_URL, prefix="carboy_bench_test") as url:
        seed_tables(url)
        app = new_app()
        install_db_routes(app, url)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        previous = checks.DATABASE_URL
        checks.DATABASE_URL = url  # check_updates reads the rows back from it
        try:
            yield Client(port)
        finally:
            checks.DATABASE_URL = previous
            server.should_exit = True
            thread.join(20)


@pytest.mark.parametrize(
    "check", [checks.check_db, checks.check_queries, checks.check_fortunes, checks.check_updates]
)
@pytest.mark.parametrize("queries", [1, 20])
def test_the_bench_checks_pass(bench_client: Client, check: object, queries: int) -> None:
    check(bench_client, queries, {})  # type: ignore[operator]


def test_updates_change_every_row_they_answer(bench_client: Client) -> None:
    answered = bench_client.get("/updates?queries=20").json()
    assert len(answered) == 20
    assert len({world["id"] for world in answered}) == 20


def test_an_installed_database_is_reused() -> None:
    app = new_app()
    db = Database("postgresql://postgres@127.0.0.1:5432/carboy_bench")
    app.install(db)
    install_db_routes(app, "postgresql://elsewhere/ignored")
    assert [m for m in app.walk() if isinstance(m, Database)] == [db]
