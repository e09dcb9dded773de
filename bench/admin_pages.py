"""What both sides of the admin list benchmark share: the pages, the data, the timing.

``bench.admin_list`` (carboy.admin) and ``bench.admin_list_django`` (Django's
admin, in a process of its own) import this; it imports no framework, so the
Django process does not load carboy or SQLAlchemy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

TABLE = "bench_admin_post"
SECTION_TABLE = "bench_admin_section"
SECTIONS = 20
PER_PAGE = 50
SEARCH = "post-77"
PAGE_NAMES = ("list", "search", "filtered", "next page")

#: The rows: post ``i`` is published when ``i % 3 == 0`` and in section ``1 + i % 20``.
SECTIONS_SQL = (
    f"INSERT INTO {SECTION_TABLE} (name) "
    f"SELECT 'section ' || i FROM generate_series(1, {SECTIONS}) AS i"
)
POSTS_SQL = (
    f"INSERT INTO {TABLE} (title, body, published, section_id, created_at, updated_at) "
    f"SELECT 'post-' || i, 'body of post ' || i, i % 3 = 0, 1 + i % {SECTIONS}, "
    "now() - (i || ' seconds')::interval, now() "
    "FROM generate_series(1, :rows) AS i"
)


def expected_titles(rows: int) -> dict[str, str]:
    """The title of each page's first row (newest first, ``-id``), for ``rows`` posts.

    Both admins must show it: the check that they render the same rows.
    """

    def first(keep: Callable[[int], bool], skip: int = 0) -> str:
        for i in range(rows, 0, -1):
            if keep(i):
                if skip == 0:
                    return f"post-{i}"
                skip -= 1
        raise ValueError(f"no row for a page with {rows} rows")

    return {
        "list": first(lambda i: True),
        "search": first(lambda i: SEARCH in f"post-{i}"),
        "filtered": first(lambda i: i % 3 == 0 and 1 + i % SECTIONS == 3),
        "next page": first(lambda i: True, skip=PER_PAGE),
    }


def shows_title(html: str, title: str) -> bool:
    """Whether ``title`` is the whole text of an element of ``html``."""
    return f">{title}<" in html


def time_page(
    get: Callable[[str], tuple[int, str]],
    path: str,
    *,
    repeat: int,
    warmup: int,
    capture: Callable[[], AbstractContextManager[list[str]]],
    title: str,
) -> dict[str, Any]:
    """Render ``path`` ``warmup`` times untimed, then ``repeat`` times timed.

    ``get(path)`` returns the status and the body; ``capture()`` is a context
    collecting the SQL statements run inside it. The record holds every time
    (ms), their median and 90th percentile, and the last rendering's
    statements, how many, and whether any counted the table.
    """
    for _ in range(warmup):
        get(path)
    times: list[float] = []
    statements: list[str] = []
    status, body = 0, ""
    for _ in range(repeat):
        with capture() as captured:
            begin = time.perf_counter()
            status, body = get(path)
            times.append((time.perf_counter() - begin) * 1000)
        statements = captured
        if status != 200:
            raise RuntimeError(f"{path}: status {status}")
    if not shows_title(body, title):
        raise RuntimeError(f"{path}: the first row, {title!r}, is not on the page")
    return {
        "path": path,
        "times_ms": [round(t, 3) for t in times],
        "median_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0],
        "statements": len(statements),
        "counted": any(counts_table(s) for s in statements),
        "sql": statements,
    }


def counts_table(statement: str) -> bool:
    """Whether ``statement`` counts rows of the posts table."""
    return "count(" in statement.lower() and TABLE in statement


def describe(name: str, record: dict[str, Any]) -> str:
    """One console line for one page."""
    return (
        f"{name:<12} {record['median_ms']:>10.1f} {record['p90_ms']:>8.1f} "
        f"{record['statements']:>8}  {'yes' if record['counted'] else 'no'}"
    )


HEADER = f"{'page':<12} {'median ms':>10} {'p90 ms':>8} {'queries':>8}  counted"
