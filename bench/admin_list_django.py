"""Django's side of ``bench.admin_list``: its admin's pages on the same table, timed alike.

    python -m bench.admin_list_django --url postgresql://.../db --rows N --out result.json

Run by ``bench.admin_list`` in a process of its own (Django takes its
settings at import), against the database it filled and before it drops it.
Creates Django's tables in their own schema (``migrate``), a superuser
signed in with the test ``Client`` (``force_login``), then renders the list,
a search, a filtered page and the second page (``?p=2``) as
``bench.admin_pages.time_page`` does for carboy, with every statement
recorded through ``connection.execute_wrapper``. Writes one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.admin_pages import expected_titles, time_page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args(argv)
    os.environ["BENCH_ADMIN_DATABASE_URL"] = options.url

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from bench.apps import admin_django

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {admin_django.SCHEMA}")
    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", None)
    client = Client()
    client.force_login(user)

    def get(path: str) -> tuple[int, str]:
        response = client.get(path)
        return response.status_code, response.content.decode()

    @contextmanager
    def capture() -> Iterator[list[str]]:
        statements: list[str] = []

        def record(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            statements.append(sql)
            return execute(sql, *args)

        with connection.execute_wrapper(record):
            yield statements

    titles = expected_titles(options.rows)
    pages = {
        name: time_page(
            get,
            path,
            repeat=options.repeat,
            warmup=options.warmup,
            capture=capture,
            title=titles[name],
        )
        for name, path in admin_django.PAGES.items()
    }
    connection.close()
    options.out.write_text(json.dumps({"status": "ok", "pages": pages}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
