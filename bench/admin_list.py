"""The admin's list page on a large PostgreSQL table: the plain list, a search, a filter.

    python -m bench.admin_list [--rows 1000000] [--repeat 30] [--url postgresql://...]

Makes a database of its own on the server (dropped at the end), fills a
table of ``--rows`` posts with ``generate_series`` (a few seconds for a
million), runs ``ANALYZE``, then renders each page ``--repeat`` times through
the in-process test client, signed in as a superuser, and prints the median
and 90th percentile in milliseconds, with the number of SQL statements each
page ran and whether any counted the table. Not a test: run it alone on a
quiet machine (issue 15 asks for under 100 ms median at a million rows).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ForeignKey, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column

from carboy import Carboy
from carboy.admin import Admin, ModelAdmin
from carboy.auth import Auth, PasswordHasher, User
from carboy.db import Database, Model, TimestampMixin
from carboy.db.testing import temporary_database
from carboy.testing import TestClient

PASSWORD = "bench-password-1234"
DEFAULT_URL = os.environ.get("CARBOY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")


class BenchSection(Model):
    __tablename__ = "bench_admin_section"
    __permission_label__ = "bench"
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class BenchPost(TimestampMixin, Model):
    __tablename__ = "bench_admin_post"
    __permission_label__ = "bench"
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False, index=True)
    section_id: Mapped[int | None] = mapped_column(
        ForeignKey("bench_admin_section.id"), default=None
    )

    def __str__(self) -> str:
        return self.title


class BenchPostAdmin(ModelAdmin):
    list_display = ["title", "published", "section_id", "created_at"]
    search_fields = ["title"]
    list_filter = ["published", "section_id"]


PAGES = {
    "list": "/admin/bench/benchpost/",
    "search": "/admin/bench/benchpost/?q=post-77",
    "filtered": "/admin/bench/benchpost/?published=1&section_id=3",
    "next page": None,  # the list's own "Next" link, found at run time
}


def fill(db: Database, rows: int) -> None:
    tables = [
        Model.metadata.tables[name]
        for name in ("bench_admin_section", "bench_admin_post", "admin_log_entry")
    ] + [t for name, t in Model.metadata.tables.items() if name.startswith("auth_")]
    Model.metadata.create_all(db.engine, tables=tables)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bench_admin_section (name) "
                "SELECT 'section ' || i FROM generate_series(1, 20) AS i"
            )
        )
        connection.execute(
            text(
                "INSERT INTO bench_admin_post (title, body, published, section_id, "
                "created_at, updated_at) "
                "SELECT 'post-' || i, 'body of post ' || i, i % 3 = 0, 1 + i % 20, "
                "now() - (i || ' seconds')::interval, now() "
                "FROM generate_series(1, :rows) AS i"
            ),
            {"rows": rows},
        )
        connection.execute(text("ANALYZE bench_admin_post"))


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.async_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", default=DEFAULT_URL)
    options = parser.parse_args()
    with temporary_database(options.url, prefix="carboy_bench_admin") as url:
        app = Carboy(secret_key="bench-admin-secret-key-" * 3, allowed_hosts=["*"])
        db = Database(url)
        app.install(db)
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        app.install(Auth(password_hasher=hasher))
        admin = Admin()
        admin.register(BenchPost, BenchPostAdmin)
        admin.register(BenchSection)
        app.install(admin)
        app.build()
        started = time.perf_counter()
        fill(db, options.rows)
        print(f"{options.rows:,} rows in {time.perf_counter() - started:.1f} s")
        with db.transaction() as session:
            session.add(
                User(
                    username="bench",
                    password=hasher.hash(PASSWORD),
                    is_staff=True,
                    is_superuser=True,
                )
            )
        with TestClient(app, headers={"Accept": "text/html"}) as client:
            page = client.get("/auth/login").text
            found = re.search(r'name="csrf_token" value="([^"]+)"', page)
            token = {"csrf_token": found.group(1)} if found else {}
            client.post("/auth/login", data={"login": "bench", "password": PASSWORD, **token})
            first = client.get(PAGES["list"] or "").text
            marker = 'rel="next"'
            link = first.split(marker)[0].rsplit('href="', 1)[-1].split('"')[0]
            pages = {**PAGES, "next page": PAGES["list"] + link.replace("&amp;", "&")}
            print(f"{'page':<12} {'median ms':>10} {'p90 ms':>8} {'queries':>8}  counted")
            for name, path in pages.items():
                times = []
                for _ in range(options.repeat):
                    with counting(db) as statements:
                        begin = time.perf_counter()
                        response = client.get(path or "")
                        times.append((time.perf_counter() - begin) * 1000)
                    if response.status_code != 200:
                        raise SystemExit(f"{path}: {response.status_code}")
                counted = any("count(" in s.lower() and "bench_admin_post" in s for s in statements)
                p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
                print(
                    f"{name:<12} {statistics.median(times):>10.1f} {p90:>8.1f} "
                    f"{len(statements):>8}  {'yes' if counted else 'no'}"
                )
        db.engine.dispose()


if __name__ == "__main__":
    main()
