"""The API-list benchmark's section of ``docs/benchmarks.md``, between its two markers."""

from __future__ import annotations

from typing import Any

BEGIN = "<!-- api-list:begin (written by `python -m bench.api_list`) -->"
END = "<!-- api-list:end -->"
TITLE = "## API list endpoint: carboy.api, FastAPI, Django REST framework"
LABELS = {
    "carboy": "carboy.api (`api.resource`, PageNumberPagination)",
    "fastapi": "FastAPI + async SQLAlchemy (pydantic response model)",
    "drf": "Django REST framework (ModelViewSet + PageNumberPagination)",
}


def render(results: dict[str, Any]) -> str:
    """The section: what was measured, under which settings, and one row per app."""
    meta = results["meta"]
    out = [BEGIN, TITLE, ""]
    out += [
        f"The list endpoint of one resource, {meta['page_size']} rows a page (page "
        f"{meta['page']} of {meta['rows']} rows in `{meta['table']}`) on PostgreSQL, each app "
        "as its docs write it, every one under granian (one worker, one runtime thread, "
        f"{meta['wsgi_threads']} threads for WSGI), pinned to CPU {meta['server_cpu']}, with "
        f"wrk ({meta['connections']} connections, {meta['duration_s']:g} s after a "
        f"{meta['warmup_s']:g} s warm-up) on CPU {meta['client_cpu']}. Before the load, each "
        "app's answer is checked to hold the same 20 rows. Run of "
        f"{meta['started']} (`{meta['command'].strip()}`), {meta['mode']} mode.",
        "",
    ]
    if meta["mode"] != "full":
        out += ["> A smoke run: to show that the benchmark works, not figures to compare.", ""]
    load = meta["machine"].get("load_average_at_start", [0.0])[0]
    if load > 0.5:
        out += [f"> The machine was not quiet (load average {load:.2f} at the start).", ""]
    out += ["| App | Requests/s | p50 ms | p99 ms | Errors |", "|---|---:|---:|---:|---:|"]
    for name, record in results["apps"].items():
        label = LABELS.get(name, name)
        if record["status"] != "ok":
            out.append(f"| {label} | {record['status']}: {record.get('detail', '')[:80]} | | | |")
            continue
        wrk = record["wrk"]
        out.append(
            f"| {label} | {wrk['rps']:,.0f} | {wrk['p50_ms']:.2f} | {wrk['p99_ms']:.2f} | "
            f"{wrk['error_ratio']:.2%} |"
        )
    out += ["", END]
    return "\n".join(out) + "\n"
