"""What the three API-list apps share: the table, its rows, the page asked for.

Kept free of framework imports (the apps import it, and so does the harness).
"""

from __future__ import annotations

import os

#: The database of the API-list benchmark (the ``test`` database of the shared server).
API_DATABASE_URL = os.environ.get(
    "BENCH_API_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
TABLE = "bench_api_item"
ROWS = 1000
PAGE_SIZE = 20
#: The page every load generator asks for: rows 41-60 in id order.
PAGE = 3
#: The fields each app answers, per row, in this order.
FIELDS = ("id", "title", "body", "published", "views")
SECRET_KEY = "carboy-bench-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "16"))


def row(n: int) -> dict[str, object]:
    """Row ``n`` (1-based) as every app must answer it."""
    return {
        "id": n,
        "title": f"Item {n}",
        "body": f"The body of item {n}, " + "lorem ipsum " * (n % 7 + 1),
        "published": n % 3 != 0,
        "views": (n * 7919) % 10_000,
    }
