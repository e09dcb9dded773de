"""The API list benchmark: one resource's list endpoint, 20 rows a page, on PostgreSQL.

    python -m bench.api_list [--smoke] [--only carboy,fastapi,drf]

carboy.api (``api.resource`` with PageNumberPagination), FastAPI with async
SQLAlchemy and a pydantic response model, and Django REST framework (a
ModelViewSet with PageNumberPagination), each as its docs write it, in one
run on one table (``bench_api_item`` in the ``test`` database, seeded here;
``BENCH_API_DATABASE_URL`` points elsewhere). Every app runs under granian
with the same settings (one worker, one runtime thread; WSGI with
``BENCH_WSGI_THREADS`` threads), pinned to CPU 0; wrk runs on CPU 1. Before
the load each app's page is checked to hold the same 20 rows.

A full run writes ``bench/results/api_list.json`` and rewrites the section of
``docs/benchmarks.md`` between its markers; ``--smoke`` (a second of load, to
prove that it works) writes ``bench/results/api_list-smoke.{json,md}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import api_list_report
from bench.apps.api_list_common import (
    API_DATABASE_URL,
    FIELDS,
    PAGE,
    PAGE_SIZE,
    ROWS,
    TABLE,
    row,
)
from bench.common import WSGI_THREADS, splice_section
from bench.process import ROOT, ServerProcess, StartFailed, free_port
from bench.run import machine_info, package_version
from bench.suite import SERVERS, Framework
from bench.wrk import MAX_ERROR_RATIO, WrkError, require_wrk, run_wrk

RESULTS_DIR = ROOT / "bench" / "results"
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
SERVER_CPU = 0
CLIENT_CPU = 1
PATH = f"/api/items?page={PAGE}"
#: The apps, as bench.suite's frameworks (``bench.apps.api_list_<name>_app:app``).
APPS: dict[str, Framework] = {
    "carboy": Framework(
        "api_list_carboy", "carboy.api", "asgi", (), ("carboy", "sqlalchemy", "asyncpg")
    ),
    "fastapi": Framework(
        "api_list_fastapi", "FastAPI", "asgi", (), ("fastapi", "pydantic", "sqlalchemy")
    ),
    "drf": Framework(
        "api_list_drf", "DRF", "wsgi", (), ("django", "djangorestframework", "psycopg")
    ),
}
FULL = {"duration": 20.0, "warmup": 5.0, "connections": 64}
SMOKE = {"duration": 1.0, "warmup": 1.0, "connections": 8}


def seed(url: str = API_DATABASE_URL) -> None:
    """Make ``bench_api_item`` hold exactly rows 1..ROWS (as :func:`row` gives them)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY, "
            "title varchar(200) NOT NULL, body text NOT NULL, published boolean NOT NULL, "
            "views integer NOT NULL)"
        )
        rows = [tuple(row(n)[f] for f in FIELDS) for n in range(1, ROWS + 1)]
        found = conn.execute(f"SELECT {', '.join(FIELDS)} FROM {TABLE} ORDER BY id").fetchall()
        if [tuple(r) for r in found] == rows:
            return
        with conn.transaction():
            conn.execute(f"TRUNCATE {TABLE}")
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s)", rows)
        conn.execute(f"ANALYZE {TABLE}")


def expected_rows() -> list[dict[str, Any]]:
    """The rows of page ``PAGE``: what every app must answer."""
    start = (PAGE - 1) * PAGE_SIZE + 1
    return [row(n) for n in range(start, start + PAGE_SIZE)]


def page_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one app's page: ``items`` (carboy, FastAPI) or ``results`` (DRF)."""
    found = body.get("items", body.get("results"))
    if not isinstance(found, list):
        raise ValueError(f"no rows in the page: keys {sorted(body)}")
    return [{field: item.get(field) for field in FIELDS} for item in found]


def fetch(port: int, path: str = PATH) -> tuple[int, dict[str, Any]]:
    """One GET of ``path``: its status and JSON body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def check_page(port: int, path: str = PATH) -> str | None:
    """None when the app answers the expected 20 rows at ``path``, else what is wrong."""
    status, body = fetch(port, path)
    if status != 200:
        return f"status {status}: {str(body)[:200]}"
    rows = page_rows(body)
    if rows != expected_rows():
        return f"other rows: ids {[r['id'] for r in rows]}"
    return None


def run_app(name: str, app: Framework, settings: dict[str, float], logs: Path) -> dict[str, Any]:
    """Start one app, check its page, load it; its record."""
    port = free_port()
    command = SERVERS["granian"].command(app, port)
    server = ServerProcess(command, logs / f"api_list_{name}.log", cpu=SERVER_CPU)
    record: dict[str, Any] = {"command": " ".join(command)}
    record["versions"] = {package: package_version(package) for package in app.packages}
    with server:
        try:
            record["ready_s"] = server.wait_ready(port, PATH)
        except StartFailed as exc:
            return {**record, "status": "failed_start", "detail": str(exc)[:2000]}
        problem = check_page(port)
        if problem is not None:
            return {**record, "status": "failed_check", "detail": problem}
        url = f"http://127.0.0.1:{port}{PATH}"
        connections = int(settings["connections"])
        try:
            run_wrk(url, duration=settings["warmup"], connections=connections, cpu=CLIENT_CPU)
            result = run_wrk(
                url, duration=settings["duration"], connections=connections, cpu=CLIENT_CPU
            )
        except WrkError as exc:
            return {**record, "status": "failed", "detail": str(exc)[:2000]}
        total, largest, count = server.memory()
        record.update(rss_kib=total, largest_rss_kib=largest, processes=count)
        # The page after the load: still the same rows (no app served something else).
        problem = check_page(port)
    if problem is not None:
        return {**record, "status": "failed_check", "detail": f"after the load: {problem}"}
    status = "ok" if result.error_ratio <= MAX_ERROR_RATIO else "errors"
    return {**record, "status": status, "wrk": result.to_json()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_list", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, to prove it works")
    parser.add_argument("--only", help=f"apps, comma-separated (of {','.join(APPS)})")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(APPS)
    unknown = sorted(set(names) - set(APPS))
    if unknown:
        parser.error(f"unknown app(s) {unknown}; the apps are {list(APPS)}")
    require_wrk()
    settings = SMOKE if args.smoke else FULL
    mode = "smoke" if args.smoke else "full"
    seed()
    logs = RESULTS_DIR / "raw"
    results: dict[str, Any] = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m bench.api_list", *(argv or sys.argv[1:])]),
            "mode": mode,
            "machine": machine_info(),
            "table": TABLE,
            "rows": ROWS,
            "page": PAGE,
            "page_size": PAGE_SIZE,
            "server_cpu": SERVER_CPU,
            "client_cpu": CLIENT_CPU,
            "wsgi_threads": WSGI_THREADS,
            "pool_size": int(os.environ.get("BENCH_POOL_SIZE", "16")),
            "duration_s": settings["duration"],
            "warmup_s": settings["warmup"],
            "connections": int(settings["connections"]),
        },
        "apps": {},
    }
    for name in names:
        record = run_app(name, APPS[name], settings, logs)
        results["apps"][name] = record
        wrk = record.get("wrk")
        summary = f"{wrk['rps']:,.0f} req/s, p99 {wrk['p99_ms']:.2f} ms" if wrk else ""
        print(f"{name:8} {record['status']:12} {summary or record.get('detail', '')[:200]}")
    section = api_list_report.render(results)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = "api_list-smoke" if args.smoke else "api_list"
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    if args.smoke:
        (RESULTS_DIR / f"{stem}.md").write_text(section)
    else:
        page = DOCS_PAGE.read_text() if DOCS_PAGE.exists() else ""
        DOCS_PAGE.write_text(
            splice_section(page, section, api_list_report.BEGIN, api_list_report.END)
        )
    return 0 if all(r["status"] == "ok" for r in results["apps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
