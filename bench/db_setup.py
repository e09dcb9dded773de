"""Create and seed the ``carboy_bench`` PostgreSQL database, idempotently.

    python -m bench.db_setup [--only flask,django,...]

1. creates the database named in ``BENCH_DATABASE_URL`` if it is missing;
2. creates TechEmpower's ``world`` (10 000 rows) and ``fortune`` (the 12
   standard rows) tables, re-seeding them only when they are not as expected;
3. calls ``bench_setup()`` in every app module that defines one (Django's
   migrations and user, Flask's user table and user). An app that fails to
   import is reported and skipped: the rest of the setup still happens.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.common import DATABASE_URL, FORTUNES, WORLD_ROWS

#: App modules whose ``bench_setup()`` seeds what the ``/page`` test needs.
APP_MODULES = {
    "flask": "flask_app",
    "django": "django_app",
    "carboy": "carboy_page_app",
    "fastapi": "fastapi_app",
    "litestar": "litestar_app",
}


def ensure_database(url: str = DATABASE_URL) -> bool:
    """Create the database if needed; True if it was created."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def seed_tables(url: str = DATABASE_URL) -> list[str]:
    """Create and fill ``world`` and ``fortune``; returns what was (re)done."""
    done: list[str] = []
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS world ("
            " id integer PRIMARY KEY,"
            " randomnumber integer NOT NULL DEFAULT 0)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS fortune ("
            " id integer PRIMARY KEY,"
            " message varchar(2048) NOT NULL)"
        )
        shape = conn.execute("SELECT count(*), min(id), max(id) FROM world").fetchone()
        if shape != (WORLD_ROWS, 1, WORLD_ROWS):
            conn.execute("TRUNCATE world")
            conn.execute(
                "INSERT INTO world (id, randomnumber)"
                " SELECT i, 1 + floor(random() * %s)::int FROM generate_series(1, %s) AS i",
                (WORLD_ROWS, WORLD_ROWS),
            )
            done.append(f"world: {WORLD_ROWS} rows")
        expected = list(enumerate(FORTUNES, start=1))
        current = conn.execute("SELECT id, message FROM fortune ORDER BY id").fetchall()
        if current != expected:
            conn.execute("TRUNCATE fortune")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO fortune (id, message) VALUES (%s, %s)", expected)
            done.append(f"fortune: {len(expected)} rows")
        conn.commit()
        if done:
            conn.execute("ANALYZE world")
            conn.execute("ANALYZE fortune")
            conn.commit()
    return done


def setup_apps(names: tuple[str, ...] = tuple(APP_MODULES)) -> dict[str, str]:
    """Run each app's ``bench_setup()``; returns name -> "ok" / "no hook" / error."""
    outcome: dict[str, str] = {}
    for name in names:
        try:
            module = importlib.import_module(f"bench.apps.{APP_MODULES[name]}")
        except Exception as exc:
            outcome[name] = f"import failed: {type(exc).__name__}: {exc}"
            continue
        hook = getattr(module, "bench_setup", None)
        if hook is None:
            outcome[name] = "no hook"
            continue
        try:
            hook()
        except Exception as exc:
            traceback.print_exc()
            outcome[name] = f"bench_setup failed: {type(exc).__name__}: {exc}"
        else:
            outcome[name] = "ok"
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(APP_MODULES), help="apps whose bench_setup() to run"
    )
    args = parser.parse_args(argv)
    if ensure_database():
        print(f"created database {urlsplit(DATABASE_URL).path.lstrip('/')}")
    for line in seed_tables() or ["world and fortune already seeded"]:
        print(line)
    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    failed = False
    for name, outcome in setup_apps(names).items():
        print(f"{name}: {outcome}")
        failed |= outcome.startswith("bench_setup failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
