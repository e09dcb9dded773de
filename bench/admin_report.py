"""The admin list benchmark's section of ``docs/benchmarks.md``, between its two markers.

    python -m bench.admin_report [RESULTS.json]     # re-render from saved results

``bench.admin_list`` rewrites the section after a full run; ``bench.report``
(the main harness) carries it over when it rewrites the rest of the page.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.admin_pages import PAGE_NAMES
from bench.common import extract_section, machine_and_versions, splice_section

BEGIN = "<!-- admin-list:begin (written by `python -m bench.admin_list`) -->"
END = "<!-- admin-list:end -->"
TITLE = "## Admin list page on a million rows"
TARGET_MS = 100.0
FRAMEWORKS = ("carboy", "django")


def extract(page: str) -> str | None:
    """The marked section of ``page`` (markers included), or None if it has none."""
    return extract_section(page, BEGIN, END)


def splice(page: str, section: str) -> str:
    """``page`` with its marked section replaced by ``section`` (appended if it has none)."""
    return splice_section(page, section, BEGIN, END)


def render_section(results: dict[str, Any] | None) -> str:
    """The whole marked section: what is measured, how to run it, and the figures of ``results``.

    With no results (no run recorded yet), the method alone.
    """
    out = [BEGIN, TITLE, ""]
    out += [
        "The admin's list page on a large PostgreSQL table (issue 15 asks for under "
        f"{TARGET_MS:.0f} ms median at a million rows): the plain list, a search, a filtered "
        "page and the next page, carboy.admin next to Django's admin on the same table, "
        "data and machine, in one run of `python -m bench.admin_list`, which writes this "
        "section ([`docs/admin.md`](admin.md), *Measuring it*, says what the admin does "
        "to stay fast).",
        "",
    ]
    if results is None:
        out += [
            "No full run has been recorded yet, so there are no figures here: run "
            "`python -m bench.admin_list` on a quiet machine to write them.",
            "",
        ]
        out += _method(None)
        out.append(END)
        return "\n".join(out) + "\n"
    meta = results["meta"]
    out += [f"Run of {meta['started']} (`{meta['command'].strip()}`), {meta['mode']} mode.", ""]
    if meta["mode"] != "full":
        out += [
            "> A smoke run: tiny numbers, to show that the benchmark works. These are not "
            "figures to compare.",
            "",
        ]
    load = meta["machine"].get("load_average_at_start", [0.0])[0]
    if load > 0.5:
        out += [
            f"> The load average was {load:.2f} at the start: the machine was not quiet, "
            "and the figures are noisy.",
            "",
        ]
    out += _table(results)
    out += _method(meta)
    out += machine_and_versions(meta)
    out.append(END)
    return "\n".join(out) + "\n"


def _cells(record: dict[str, Any] | None) -> list[str]:
    if record is None:
        return ["—", "—", "—", "—"]
    return [
        f"{record['median_ms']:,.1f}",
        f"{record['p90_ms']:,.1f}",
        str(record["statements"]),
        "yes" if record["counted"] else "no",
    ]


def _table(results: dict[str, Any]) -> list[str]:
    rows = results["meta"]["settings"]["rows"]
    carboy = results["carboy"].get("pages", {})
    django = results["django"].get("pages", {})
    out = [
        f"{rows:,} rows. Milliseconds per page (median and 90th percentile of "
        f"{results['meta']['settings']['repeat']} renderings), the SQL statements one "
        "rendering ran, and whether any of them counted the table.",
        "",
        "| page | carboy median | carboy p90 | carboy SQL | carboy counts | "
        "Django median | Django p90 | Django SQL | Django counts | Django ÷ carboy |",
        "|---|--:|--:|--:|:-:|--:|--:|--:|:-:|--:|",
    ]
    for name in PAGE_NAMES:
        mine, theirs = carboy.get(name), django.get(name)
        ratio = f"{theirs['median_ms'] / mine['median_ms']:.2f}" if mine and theirs else "—"
        out.append(f"| {name} | " + " | ".join(_cells(mine) + _cells(theirs)) + f" | {ratio} |")
    out.append("")
    for framework, label in (("carboy", "carboy"), ("django", "Django")):
        record = results[framework]
        if record["status"] != "ok":
            detail = str(record.get("detail", "")).strip().splitlines()
            out += [f"> {label} produced no figures: {detail[-1] if detail else 'failed'}.", ""]
    slow = [name for name, record in carboy.items() if record["median_ms"] >= TARGET_MS]
    if carboy:
        verdict = (
            f"every page's median is under {TARGET_MS:.0f} ms"
            if not slow
            else f"over {TARGET_MS:.0f} ms median: {', '.join(slow)}"
        )
        out += [f"carboy at {rows:,} rows: {verdict}.", ""]
    return out


def _method(meta: dict[str, Any] | None) -> list[str]:
    s = meta["settings"] if meta else {"repeat": 30, "warmup": 2}
    paths = meta["paths"] if meta else None
    out = [
        "### How it is measured",
        "",
        "- **Data**: a PostgreSQL database of the run's own (dropped at the end) with "
        "carboy's tables for `bench.admin_list.BenchPost` and `BenchSection`: 20 sections, "
        "and posts filled by `generate_series` (post *i* is `post-i`, published when "
        "*i* is a multiple of 3, in section 1 + *i* mod 20, created *i* seconds ago), then "
        "`ANALYZE`. The indexes are those the carboy models declare"
        + (f" ({_index_names(meta['indexes'])})" if meta and meta.get("indexes") else "")
        + "; no trigram index, so the search (`ILIKE '%post-77%'`, Django's "
        "`UPPER(...) LIKE`) reads the whole table.",
        "- **The admins**: carboy's `BenchPostAdmin` (`bench/admin_list.py`) and Django's "
        "(`bench/apps/admin_django.py`) have the same columns (`title`, `published`, "
        "`section_id`, `created_at`), search field (`title`), filters (`published`, the "
        "section), order (`-id`) and 50 rows a page. Django maps the same tables "
        "(`managed = False`); its own tables (users, sessions, content types) live in a "
        "schema of their own. Django runs with `startproject`'s middleware and a "
        "persistent connection; every other option of both is its default: carboy counts "
        "the matching rows only when the table is small (its `count_limit`) and on a large "
        "one pages by key (the next page starts after the last row's sort key), while "
        "Django counts the matching rows, and the whole table once more (its "
        "`show_full_result_count`), and pages by `OFFSET`.",
        "- **Pages**: the list, a search for `post-77`, the published posts of section 3, "
        "and the second page (carboy: the list's own *Next* link; Django: `?p=2`). Each "
        "page must show the row expected first, so both render the same rows.",
        f"- **Timing**: in process, signed in as a superuser: carboy through its "
        f"`TestClient` (the app on an event loop in a thread of the client), Django through "
        f"its test `Client` (its request handler called directly), Django in a process of "
        f"its own after carboy's part, on the same database. Each page gets "
        f"{s['warmup']} untimed renderings, then {s['repeat']} timed ones, one at a time; the "
        "figures are the median and 90th percentile. Statements are recorded by "
        "SQLAlchemy's `before_cursor_execute` event (carboy) and "
        "`connection.execute_wrapper` (Django); *counts* means a statement with `count(` "
        "on the posts table.",
    ]
    if paths:
        for framework, label in (("carboy", "carboy"), ("django", "Django")):
            urls = ", ".join(f"`{path}`" for path in paths.get(framework, {}).values())
            out.append(f"  - {label}: {urls}")
    out += [
        "- **Reproduce**: `pip install -e '.[bench]'`; PostgreSQL (`--url`, default "
        "`$CARBOY_BENCH_POSTGRES_URL` or `postgresql://postgres@127.0.0.1/test`); a quiet "
        "machine; then `python -m bench.admin_list` (a million rows, a minute or two; "
        "`--smoke` for a quick check that writes `bench/results/admin_list-smoke.*` and "
        "leaves this page alone). Raw results, with every time and statement: "
        "`bench/results/admin_list.json`.",
        "",
    ]
    return out


def _index_names(definitions: list[str]) -> str:
    """``CREATE INDEX name ON ... (column)`` definitions as ``name (column)``."""
    names = []
    for definition in definitions:
        name = definition.split(" ON ", 1)[0].split()[-1]
        columns = definition.rsplit("(", 1)[-1].rstrip(")")
        names.append(f"`{name}` ({columns})")
    return ", ".join(names)


def main(argv: list[str] | None = None) -> int:
    from bench.admin_list import DOCS_PAGE, RESULTS_DIR

    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else RESULTS_DIR / "admin_list.json"
    section = render_section(json.loads(source.read_text()))
    DOCS_PAGE.write_text(splice(DOCS_PAGE.read_text(), section))
    print(f"section of {DOCS_PAGE.name} rewritten from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
