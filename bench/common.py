"""Constants and small helpers shared by the benchmark apps, setup and harness.

Kept free of framework imports so that importing it costs (almost) nothing and
does not skew any framework's cold-start figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from random import randint, sample
from typing import Any
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = BENCH_DIR / "apps" / "templates"

#: One place to point every app and the harness at another database.
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/carboy_bench"
)
#: Connections per server process (asyncpg / psycopg pools, Django's pool).
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "16"))
#: Threads per WSGI worker (gunicorn gthread, granian blocking threads).
WSGI_THREADS = int(os.environ.get("BENCH_WSGI_THREADS", "8"))

WORLD_ROWS = 10_000
MAX_QUERIES = 500

PLAINTEXT = b"Hello, World!"
MESSAGE = "Hello, World!"
ADDITIONAL_FORTUNE = "Additional fortune added at request time."

#: The 12 rows of TechEmpower's ``fortune`` table, by id.
FORTUNES: tuple[str, ...] = (
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
)

#: The user the ``/page`` test logs in as (seeded by ``bench.db_setup``).
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-password"
BENCH_EMAIL = "bench@example.com"

# SQL shared by the raw-driver apps (asyncpg placeholders).
READ_ROW_SQL = "SELECT id, randomnumber FROM world WHERE id = $1"
READ_NUMBER_SQL = "SELECT randomnumber FROM world WHERE id = $1"
WRITE_ROW_SQL = "UPDATE world SET randomnumber = $2 WHERE id = $1"
FORTUNES_SQL = "SELECT id, message FROM fortune"
PAGE_FORTUNES_SQL = "SELECT id, message FROM fortune ORDER BY id"


def parse_queries(raw: str | None) -> int:
    """The TechEmpower rule for ``?queries=``: not an int -> 1, then clamp to 1..500."""
    try:
        value = int(raw) if raw is not None else 1
    except ValueError:
        return 1
    return min(max(value, 1), MAX_QUERIES)


def random_id() -> int:
    return randint(1, WORLD_ROWS)


def random_ids(count: int) -> list[int]:
    """Distinct ids, sorted: distinct so one batched UPDATE touches each row once,
    sorted so concurrent batches lock rows in the same order (no deadlocks)."""
    return sorted(sample(range(1, WORLD_ROWS + 1), count))


def new_number(old: int) -> int:
    """A random number that differs from ``old`` so that every update changes the row."""
    value = randint(1, WORLD_ROWS)
    while value == old:
        value = randint(1, WORLD_ROWS)
    return value


def dsn_parts(url: str = DATABASE_URL) -> dict[str, str | int]:
    """Split the database URL into the pieces Django's settings want."""
    parts = urlsplit(url)
    return {
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": parts.port or 5432,
    }


def extract_section(page: str, begin: str, end: str) -> str | None:
    """The section of ``page`` from ``begin`` to ``end`` (markers included), or None."""
    start = page.find(begin)
    stop = page.find(end, start + 1) if start >= 0 else -1
    if start < 0 or stop < 0:
        return None
    return page[start : stop + len(end)] + "\n"


def splice_section(page: str, section: str, begin: str, end: str) -> str:
    """``page`` with its ``begin``/``end`` section replaced by ``section`` (appended if none)."""
    old = extract_section(page, begin, end)
    if old is not None:
        return page.replace(old, section, 1)
    return page.rstrip("\n") + "\n\n" + section


def machine_and_versions(meta: dict[str, Any]) -> list[str]:
    """The machine, its load average at the start and end, and the versions, as docs lines."""
    machine = meta["machine"]
    versions = ", ".join(
        f"{name} {version}"
        for name, version in meta["versions"].items()
        if version not in ("not installed", "not used")
    )
    return [
        f"Machine: {machine['cpu_model']}, {machine['nproc']} CPUs, "
        f"{machine['memory_gib']} GiB, kernel {machine['kernel']}; load average "
        f"{machine.get('load_average_at_start')} at the start, "
        f"{machine.get('load_average_at_end')} at the end. Versions: {versions}.",
        "",
    ]
