"""The admin's list page on a large PostgreSQL table, carboy.admin next to Django's admin.

    python -m bench.admin_list [--rows 1000000] [--repeat 30] [--url postgresql://...]
    python -m bench.admin_list --smoke          # 20,000 rows, 5 repeats: does it work?

Makes a database of its own on the server (dropped at the end), fills a
table of ``--rows`` posts with ``generate_series`` (a few seconds for a
million), runs ``ANALYZE``, then renders carboy.admin's list page, a search, a
filtered page and the next page ``--repeat`` times each through the
in-process test client, signed in as a superuser, recording the median and
90th percentile in milliseconds, the SQL statements each page ran and whether
any counted the table. Then Django's admin on the same table and data, timed
alike, in a process of its own (``bench.admin_list_django``), before the
database is dropped.

A full run writes ``bench/results/admin_list.json`` and rewrites the section
of ``docs/benchmarks.md`` between its markers (``bench.admin_report``);
``--smoke`` writes ``bench/results/admin_list-smoke.{json,md}`` instead. Not a
test: run the full one alone on a quiet machine (issue 15 asks for under
100 ms median at a million rows).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column

from bench import admin_report
from bench.admin_pages import (
    HEADER,
    PAGE_NAMES,
    PER_PAGE,
    POSTS_SQL,
    SEARCH,
    SECTIONS_SQL,
    TABLE,
    describe,
    expected_titles,
    time_page,
)
from bench.process import ROOT, subprocess_env
from bench.run import carboy_revision, machine_info, package_version
from carboy import Carboy
from carboy.admin import Admin, ModelAdmin
from carboy.auth import Auth, PasswordHasher, User
from carboy.db import Database, Model, TimestampMixin
from carboy.db.testing import temporary_database
from carboy.testing import TestClient

PASSWORD = "bench-password-1234"
DEFAULT_URL = os.environ.get("CARBOY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test")
RESULTS_DIR = ROOT / "bench" / "results"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
SMOKE = {"rows": 20_000, "repeat": 5, "warmup": 1}
PACKAGES = ("carboy", "django", "sqlalchemy", "psycopg", "asyncpg", "jinja2", "httpx")
DJANGO_TIMEOUT_S = 1800


class BenchSection(Model):
    __tablename__ = "bench_admin_section"
    __permission_label__ = "bench"
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class BenchPost(TimestampMixin, Model):
    __tablename__ = TABLE
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
    per_page = PER_PAGE  # carboy's default, set so Django's admin can copy it


PAGES = {
    "list": "/admin/bench/benchpost/",
    "search": f"/admin/bench/benchpost/?q={SEARCH}",
    "filtered": "/admin/bench/benchpost/?published=1&section_id=3",
    "next page": None,  # the list's own "Next" link, found at run time
}


def fill(db: Database, rows: int) -> None:
    tables = [
        Model.metadata.tables[name] for name in ("bench_admin_section", TABLE, "admin_log_entry")
    ] + [t for name, t in Model.metadata.tables.items() if name.startswith("auth_")]
    Model.metadata.create_all(db.engine, tables=tables)
    with db.engine.begin() as connection:
        connection.execute(text(SECTIONS_SQL))
        connection.execute(text(POSTS_SQL), {"rows": rows})
        connection.execute(text(f"ANALYZE {TABLE}"))


def indexes(db: Database) -> list[str]:
    """The posts table's indexes, as PostgreSQL defines them."""
    with db.engine.connect() as connection:
        found = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = :t ORDER BY indexname"),
            {"t": TABLE},
        )
        return [row[0] for row in found]


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


def run_carboy(app: Carboy, db: Database, options: argparse.Namespace) -> dict[str, Any]:
    """carboy.admin's pages, each timed by ``time_page``."""
    titles = expected_titles(options.rows)
    with TestClient(app, headers={"Accept": "text/html"}) as client:
        page = client.get("/auth/login").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        token = {"csrf_token": found.group(1)} if found else {}
        client.post("/auth/login", data={"login": "bench", "password": PASSWORD, **token})
        first = client.get(PAGES["list"] or "").text
        marker = 'rel="next"'
        if marker not in first:
            raise RuntimeError("the list page has no Next link: not signed in, or too few rows")
        link = first.split(marker)[0].rsplit('href="', 1)[-1].split('"')[0]
        paths = {**PAGES, "next page": PAGES["list"] + link.replace("&amp;", "&")}

        def get(path: str) -> tuple[int, str]:
            response = client.get(path)
            return response.status_code, response.text

        pages = {
            name: time_page(
                get,
                paths[name] or "",
                repeat=options.repeat,
                warmup=options.warmup,
                capture=lambda: counting(db),
                title=titles[name],
            )
            for name in PAGE_NAMES
        }
    return {"status": "ok", "pages": pages}


def run_django(url: str, options: argparse.Namespace) -> dict[str, Any]:
    """Django's admin on the same database, in a process of its own."""
    with tempfile.TemporaryDirectory(prefix="admin-list-django-") as tmp:
        out = Path(tmp) / "django.json"
        command = [
            sys.executable, "-m", "bench.admin_list_django", "--url", url,
            "--rows", str(options.rows), "--repeat", str(options.repeat),
            "--warmup", str(options.warmup), "--out", str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=subprocess_env(),
                capture_output=True,
                text=True,
                timeout=DJANGO_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"status": "failed", "detail": f"no result in {DJANGO_TIMEOUT_S} s"}
        if done.returncode != 0 or not out.exists():
            return {"status": "failed", "detail": (done.stdout + done.stderr)[-3000:]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few rows and repeats; no docs")
    parser.add_argument("--rows", type=int, help="posts in the table (1,000,000)")
    parser.add_argument("--repeat", type=int, help="timed renderings of each page (30)")
    parser.add_argument("--warmup", type=int, help="untimed renderings of each page first (2)")
    parser.add_argument("--url", default=DEFAULT_URL, help="the PostgreSQL server to use")
    parser.add_argument("--results", type=Path, help="where the JSON goes")
    options = parser.parse_args(argv)
    defaults = SMOKE if options.smoke else {"rows": 1_000_000, "repeat": 30, "warmup": 2}
    for name, value in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    if options.rows < 2 * PER_PAGE:
        parser.error(f"--rows must be at least {2 * PER_PAGE} (two pages)")
    if options.repeat < 2:
        parser.error("--repeat must be at least 2 (a median and a 90th percentile)")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    name = "admin_list-smoke" if options.smoke else "admin_list"
    json_path = options.results or RESULTS_DIR / f"{name}.json"
    started = datetime.now(UTC)
    machine = machine_info()
    print(f"load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    versions = {package: package_version(package) for package in PACKAGES}
    versions["python"] = sys.version.split()[0]
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
        begin = datetime.now(UTC)
        fill(db, options.rows)
        print(f"{options.rows:,} rows in {(datetime.now(UTC) - begin).total_seconds():.1f} s")
        with db.engine.connect() as connection:
            versions["postgresql"] = str(connection.execute(text("SHOW server_version")).scalar())
        table_indexes = indexes(db)
        with db.transaction() as session:
            session.add(
                User(username="bench", password=hasher.hash(PASSWORD), is_staff=True,
                     is_superuser=True)
            )  # fmt: skip
        carboy = run_carboy(app, db, options)
        db.engine.dispose()
        print("carboy.admin")
        print(HEADER)
        for page in PAGE_NAMES:
            print(describe(page, carboy["pages"][page]))
        django = run_django(url, options)
    print("Django's admin")
    if django["status"] == "ok":
        print(HEADER)
        for page in PAGE_NAMES:
            print(describe(page, django["pages"][page]))
    else:
        print(f"failed: {django.get('detail', '')}")

    versions["carboy revision"] = carboy_revision()
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "smoke" if options.smoke else "full",
            "command": "python -m bench.admin_list "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "settings": {
                "rows": options.rows,
                "repeat": options.repeat,
                "warmup": options.warmup,
                "per_page": PER_PAGE,
            },
            "indexes": table_indexes,
            "paths": {
                "carboy": {page: carboy["pages"][page]["path"] for page in PAGE_NAMES},
                "django": {
                    page: record["path"] for page, record in django.get("pages", {}).items()
                },
            },
            "machine": machine,
            "versions": versions,
        },
        "carboy": carboy,
        "django": django,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    section = admin_report.render_section(results)
    print(f"results: {json_path}")
    if options.smoke:
        md_path = json_path.with_suffix(".md")
        md_path.write_text(section)
        print(f"section: {md_path} (a smoke run leaves {DOCS_PAGE.name} alone)")
    else:
        DOCS_PAGE.write_text(admin_report.splice(DOCS_PAGE.read_text(), section))
        print(f"section rewritten in {DOCS_PAGE}")
    print()
    print(section)
    return 0 if django["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
