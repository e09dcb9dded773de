"""Turn the harness's JSON into the summary table, ``docs/benchmarks.md`` and a bar chart.

python -m bench.report [RESULTS.json]     # re-render from saved results
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import admin_report, api_list_report, scale_report, targets
from bench.common import extract_section, splice_section
from bench.suite import BASELINE_TESTS, FRAMEWORKS_BY_NAME, RSGI_BASELINE, TESTS
from bench.targets import ASGI_TWIN, RSGI_TWIN

STATUS_TEXT = {
    "failed_start": "did not start",
    "failed_check": "wrong answer",
    "failed_load": "load generator failed",
    "not_implemented": "not implemented",
    "errors": "too many errors",
}
PEERS = [name for name, framework in FRAMEWORKS_BY_NAME.items() if framework.peer]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (test, framework, server): medians over the rounds that passed."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in results["runs"]:
        groups[(run["test"], run["framework"], run["server"])].append(run)
    rows: list[dict[str, Any]] = []
    for (test, framework, server), runs in groups.items():
        good = [run for run in runs if run["status"] == "ok"]
        last_bad = next((run for run in reversed(runs) if run["status"] != "ok"), None)
        row: dict[str, Any] = {
            "test": test,
            "framework": framework,
            "server": server,
            "status": "ok" if good else runs[-1]["status"],
            "rounds_ok": len(good),
            "rounds": len(runs),
            "rps": _median([run["rps"] for run in good]),
            "p99_ms": _median([run["p99_ms"] for run in good]),
            "rss_mib": _median([run["rss_kib"] / 1024 for run in good]),
            # The largest process of the tree: the worker, beside a supervisor if any.
            "rss_worker_mib": _median(
                [run.get("rss_largest_kib", run["rss_kib"]) / 1024 for run in good]
            ),
            "processes": max((run.get("processes", 0) for run in good), default=None),
            "ready_s": _median([run["ready_s"] for run in runs if "ready_s" in run]),
        }
        if last_bad is not None:
            row["detail"] = str(last_bad.get("detail", ""))
        rows.append(row)
    index = {(r["test"], r["framework"], r["server"]): r for r in rows}
    for row in rows:
        if row["rps"] is None:
            continue
        if row["test"] in BASELINE_TESTS:
            server = row["server"]
            # Under granian's RSGI interface the ASGI baselines are granian's ASGI runs.
            asgi_server = ASGI_TWIN.get(server, server)
            # *bare + headers* is the same interface's: the RSGI one under granian-rsgi.
            secure = "bare_secure_rsgi" if server in ASGI_TWIN else "bare_secure"
            for baseline, key, base_server in (
                ("bare", "vs_bare", asgi_server),
                (secure, "vs_bare_secure", server),
                (RSGI_BASELINE, "vs_bare_rsgi", RSGI_TWIN.get(server)),
            ):
                base = index.get((row["test"], baseline, base_server or ""))
                if base and base["rps"]:
                    row[key] = row["rps"] / base["rps"]
        peer_server = row["server"]
        if not any(r["server"] == peer_server and r["framework"] in PEERS for r in rows):
            peer_server = ASGI_TWIN.get(peer_server, peer_server)  # no peer speaks RSGI
        peers = [
            r
            for r in rows
            if r["test"] == row["test"]
            and r["server"] == peer_server
            and r["framework"] in PEERS
            and r["rps"]
        ]
        if peers and peers != [row]:  # a lone peer (Flask on gunicorn) has no one to beat
            best = max(peers, key=lambda r: r["rps"])
            row["best_peer"] = best["framework"]
            row["vs_best_peer"] = row["rps"] / best["rps"]
    order = {name: i for i, name in enumerate(TESTS)}
    rows.sort(key=lambda r: (order.get(r["test"], 99), -(r["rps"] or 0), r["framework"]))
    return rows


# --- markdown ---------------------------------------------------------------------------


def _num(value: float | None, fmt: str = ",.0f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{fmt}}{suffix}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _label(name: str) -> str:
    framework = FRAMEWORKS_BY_NAME.get(name)
    label = framework.label if framework else name
    return f"**{label}**" if name == "carboy" else label


def _first_line(text: str, limit: int = 160) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    line = line.replace("|", "\\|")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _warnings(meta: dict[str, Any]) -> list[str]:
    notes = []
    if meta.get("mode") == "quick":
        notes.append(
            "**Quick run**: one short round, for checking that the harness works. "
            "These numbers are not for comparison or publication."
        )
    load = meta.get("machine", {}).get("load_average_at_start", [0.0])
    if load and load[0] > 0.5:
        notes.append(
            f"The machine was not quiet: load average {load[0]:.2f} when the run started. "
            "Treat the figures as rough."
        )
    if meta.get("interrupted"):
        notes.append("The run was interrupted: some tests or rounds are missing.")
    return notes


def render_markdown(
    results: dict[str, Any], chart_name: str | None, readme: str = "../bench/README.md"
) -> str:
    meta = results["meta"]
    summary = results.get("summary") or summarize(results)
    s = meta["settings"]
    out: list[str] = ["# Benchmarks", ""]
    out += [
        "<!-- Generated by `python -m bench.run` (bench/report.py); do not edit by hand. -->",
        "",
        "carboy next to a bare ASGI callable and its peers on the TechEmpower test types, "
        "plus a full-stack page. Regenerate with `make bench` on a quiet machine; how it "
        "works and how to run parts of it: "
        f"[`bench/README.md`]({readme}).",
        "",
        f"Run of {meta['started']} (`{meta['command'].strip()}`), {meta['mode']} mode.",
        "",
    ]
    out += [f"> {note}\n" for note in _warnings(meta)]

    out += ["## carboy against the field", ""]
    out += [
        "Median requests per second. *vs bare ASGI*: share of the ceiling, a raw ASGI "
        "callable under the same server (plaintext, JSON and `/users/{id:int}`; under "
        "granian's RSGI interface, the bare ASGI callable under granian). *vs bare RSGI*: "
        "against a raw RSGI callable under granian's RSGI interface (granian rows only). "
        "*vs bare + headers*: against a raw callable of the same interface under the same "
        "server that sends carboy's exact response headers (its four default security "
        "headers and a charset): the framework's own share, without the price of the "
        "headers. *vs best peer*: against "
        "the fastest of Starlette, FastAPI, Litestar, BlackSheep, Django and Flask under the "
        "same server (granian's ASGI interface for carboy's RSGI rows). Issue 18's targets "
        "are judged in their own table below.",
        "",
        "| test | server | carboy req/s | vs bare ASGI | vs bare + headers | vs bare RSGI "
        "| best peer | vs best peer |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    carboy_rows = [r for r in summary if r["framework"] == "carboy"]
    if carboy_rows and all(r["status"] == "failed_start" for r in carboy_rows):
        detail = _first_line(carboy_rows[0].get("detail", ""))
        out.append(f"| all | all | did not start: {detail} | | | | | |")
        carboy_rows = []
    for row in carboy_rows:
        if row["status"] != "ok":
            status = STATUS_TEXT.get(row["status"], row["status"])
            out.append(f"| {row['test']} | {row['server']} | {status} | | | | | |")
            continue
        best = row.get("best_peer")
        out.append(
            f"| {row['test']} | {row['server']} | {_num(row['rps'])} | "
            f"{_ratio(row.get('vs_bare'))} | {_ratio(row.get('vs_bare_secure'))} | "
            f"{_ratio(row.get('vs_bare_rsgi'))} | {_label(best) if best else '—'} | "
            f"{_ratio(row.get('vs_best_peer'))} |"
        )
    if not any(r["framework"] == "carboy" for r in summary):
        out.append("| — | — | carboy was not part of this run | | | | | |")
    out.append("")
    if chart_name:
        out += [f"![requests per second, per test]({chart_name})", ""]

    out += ["## Results per test", ""]
    for test_name in meta["tests"]:
        test = TESTS[test_name]
        rows = [r for r in summary if r["test"] == test_name]
        if not rows:
            continue
        path = test.url_path(s["queries"])
        out += [f"### {test.title} (`GET {path}`)", ""]
        with_bare = test_name in BASELINE_TESTS
        head = "| framework | server | req/s |"
        head += " vs bare ASGI | vs bare + headers | vs bare RSGI |" if with_bare else ""
        head += " vs best peer | p99 latency | RSS after run | rounds |"
        align = "|---|---|---:|" + ("---:|---:|---:|" if with_bare else "") + "---:|---:|---:|---:|"
        out += [head, align]
        for row in rows:
            if row["status"] == "ok":
                cells = [_label(row["framework"]), row["server"], _num(row["rps"])]
                if with_bare:
                    cells += [
                        _ratio(row.get("vs_bare")),
                        _ratio(row.get("vs_bare_secure")),
                        _ratio(row.get("vs_bare_rsgi")),
                    ]
                cells += [
                    _ratio(row.get("vs_best_peer")),
                    _num(row["p99_ms"], ".2f", " ms"),
                    _num(row["rss_mib"], ".1f", " MiB"),
                    f"{row['rounds_ok']}/{row['rounds']}",
                ]
            else:
                status = STATUS_TEXT.get(row["status"], row["status"])
                cells = [_label(row["framework"]), row["server"], status]
                cells += [""] * (7 if with_bare else 4)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")

    out += targets.render(summary)
    out += _cold_start_section(results, summary)
    out += _failures_section(summary)
    out += _method_section(meta)
    out += _versions_section(meta)
    return "\n".join(out).rstrip() + "\n"


def _cold_start_section(results: dict[str, Any], summary: list[dict[str, Any]]) -> list[str]:
    cold = results.get("cold_start") or {}
    first = cold.get("first_response") or {}
    servers = results["meta"]["servers"]
    base = cold.get("baseline", {}).get("median_ms")
    out = [
        "## Cold start and memory",
        "",
        '*app import*: median wall time of `python -c "import bench.apps.<name>_app"` '
        "(interpreter start, imports, building the app), pinned to the server CPU; "
        '*net*: the same minus `python -c "import bench.common"`'
        + (f" ({base:.0f} ms)" if base else "")
        + '; *framework import*: `python -c "import <framework>"`, net of the same. '
        "*first 200*: median seconds from spawning the server to the first successful "
        "response of the app's first test, over a few fresh starts (the server's own start "
        "and the app's start-up hooks, such as opening the database pool, included); when "
        "those starts were not timed, the median seconds to the first answer of any status "
        "over the measured runs, marked †. *worker RSS*: resident memory of the largest "
        "process of the server's tree (its worker) after the run, the most over the tests.",
        "",
        "| framework | app import | net | framework import | "
        + " | ".join(f"first 200, {s}" for s in servers)
        + " | "
        + " | ".join(f"worker RSS, {s}" for s in servers)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * (2 * len(servers)),
    ]
    for name in results["meta"]["frameworks"]:
        timing = cold.get(name, {})
        if timing.get("status") == "ok":
            cells = [
                _num(timing["median_ms"], ".0f", " ms"),
                _num(timing.get("net_ms"), ".0f", " ms"),
            ]
        elif timing:
            cells = ["import failed", ""]
        else:
            cells = ["—", "—"]
        framework_import = timing.get("framework_import", {})
        if framework_import.get("status") == "ok":
            cells.append(f"{framework_import['net_ms']:.0f} ms (`{framework_import['module']}`)")
        else:
            cells.append("failed" if framework_import else "—")
        rows = [r for r in summary if r["framework"] == name]
        for server in servers:
            started = first.get(name, {}).get(server)
            if started and started.get("status") == "ok":
                cells.append(_num(started["median_s"], ".2f", " s"))
            elif started:
                cells.append("did not start")
            else:
                ready = [r["ready_s"] for r in rows if r["server"] == server and r["ready_s"]]
                cells.append(_num(_median(ready), ".2f", " s †") if ready else "—")
        for server in servers:
            sizes = [
                r["rss_worker_mib"]
                for r in rows
                if r["server"] == server and r.get("rss_worker_mib")
            ]
            cells.append(_num(max(sizes, default=None), ".1f", " MiB"))
        out.append(f"| {_label(name)} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def _failures_section(summary: list[dict[str, Any]]) -> list[str]:
    bad = [r for r in summary if r.get("detail")]
    if not bad:
        return []
    out = [
        "## Failures and skips",
        "",
        "A run that fails its check gets no score; a route answering 404 counts as not "
        "implemented. Full logs are under `bench/results/raw/`.",
        "",
        "| framework | server | test | status | detail |",
        "|---|---|---|---|---|",
    ]
    # One line for the same failure on several tests (a server that never starts).
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for row in bad:
        status = STATUS_TEXT.get(row["status"], row["status"])
        if row["status"] == "ok":
            status = f"ok in {row['rounds_ok']}/{row['rounds']} rounds"
        key = (row["framework"], row["server"], status, _first_line(row["detail"]))
        merged.setdefault(key, []).append(row["test"])
    for (framework, server, status, detail), tests in merged.items():
        out.append(f"| {_label(framework)} | {server} | {', '.join(tests)} | {status} | {detail} |")
    out.append("")
    return out


def _method_section(meta: dict[str, Any]) -> list[str]:
    s = meta["settings"]
    out = [
        "## Method",
        "",
        "- **Tests**: the TechEmpower Framework Benchmarks test types, by their rules: "
        "plaintext, JSON (serialized per request), single query, multiple queries "
        f"(`?queries={s['queries']}`, each row read by its own query), fortunes (all rows plus "
        "one added at request time, sorted, escaped, HTML template) and updates (read each "
        "row, write a new random number, one batched write). Plus a full-stack `/page`: "
        "session cookie → logged-in user → one query → template. And `/users/{id:int}`: a "
        "path parameter parsed as an int, answered as a small JSON object (issue 18).",
        f"- **Load**: `taskset -c {s['wrk_cpu']} wrk -t{s['wrk_threads']} -c{s['connections']} "
        f"-d{s['duration_s']:g}s --latency`, after {s['warmup_s']:g} s of warm-up on the same "
        "server process; no pipelining. Each framework is started fresh for each test.",
        f"- **Server**: one worker process, pinned to CPU {s['server_cpu']} with `taskset`; "
        "PostgreSQL runs on the same machine, unpinned. Server command lines (for a sample app):",
    ]
    out += [f"  - `{command}`" for command in meta["commands"].values()]
    out += [
        f"- **Rounds**: {s['rounds']}. In each round, for each test, every framework runs in "
        "turn, from a different starting place each round, so drift on the machine falls on all "
        "alike. The tables give the median over the rounds that passed.",
        "- **Checks**: before and after measuring, the harness checks the response (body, "
        "content type, row shapes and ranges, `queries` clamping, escaping and sort order of "
        "fortunes, and that updates reached the database). A framework that answers wrongly "
        "gets no score; one where more than "
        f"{s['max_error_ratio']:.0%} of requests fail (socket errors, non-2xx/3xx) neither.",
        "- **p99**: 99th percentile latency from wrk's histogram. **RSS**: resident memory of "
        "the server's whole process tree (`VmRSS` of the process and its children, so "
        "gunicorn's and granian's supervisor processes count too), read right after the run.",
        f"- **Database**: PostgreSQL, TechEmpower's `world` (10 000 rows) and `fortune` tables "
        f"(`python -m bench.db_setup`). The ASGI peers use one asyncpg pool of {s['pool_size']} "
        "connections per process, prepared statements and one `executemany` for updates, as "
        "TechEmpower's own Python entries do; Django uses its ORM with its psycopg pool; Flask "
        f"uses Flask-SQLAlchemy on psycopg with {s['wsgi_threads']} threads per worker "
        "(gunicorn `gthread`, granian `--blocking-threads`).",
        "- **Peers** are written the fast way their own docs recommend (`bench/apps/`): "
        "Starlette with an orjson response class; FastAPI with response models, serialized by "
        "Pydantic; Litestar with typed handlers, serialized by msgspec; BlackSheep with its "
        "default router, `json()` on orjson (set in `json_settings`) and `view()` on Jinja2; "
        "Django with async views "
        "for plaintext and JSON and sync ORM views for the database (one thread hop per request "
        "rather than per query); Flask with its defaults. Django's ASGI handler runs its "
        "synchronous `request_started`/`request_finished` receivers through `sync_to_async`, "
        "in an executor that asgiref creates and joins for every request (two thread starts "
        "per request): that dominates its plaintext and JSON figures.",
        "- **Full-stack page**: each framework as its users write it, its session and auth "
        "layer on the whole app: carboy's `Auth` (signed-cookie sessions, the user and their "
        "permissions in one query) with the `carboy.db` ORM session and `render()` "
        "(`page_sync`: the same from a sync handler); Django's session and auth middleware "
        "(database sessions: one query for the session, one for the user) and its ORM; Flask "
        "with Flask-Login on its signed-cookie session and Flask-SQLAlchemy; FastAPI with "
        "Starlette's signed-cookie sessions, a current-user dependency and async SQLAlchemy; "
        "Litestar with `SessionAuth` on its cookie backend and async SQLAlchemy. All then read "
        "the fortunes through their ORM and render the same template.",
        "- **Caveat**: one machine, two cores, loopback networking and a local database: "
        "absolute numbers are far below TechEmpower's hardware; the ratios are the point.",
        "",
    ]
    return out


def _versions_section(meta: dict[str, Any]) -> list[str]:
    machine = meta["machine"]
    out = [
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {machine['cpu_model']}, {machine['nproc']} CPUs |",
        f"| memory | {machine['memory_gib']} GiB |",
        f"| kernel | {machine['kernel']} |",
        "| load average (1, 5, 15 min) at start / end | "
        f"{machine.get('load_average_at_start')} / {machine.get('load_average_at_end')} |",
    ]
    out += [f"| {name} | {version} |" for name, version in meta["versions"].items()]
    out.append("")
    return out


# --- chart ------------------------------------------------------------------------------


SERVER_COLOURS = {
    "uvicorn": "#4C72B0",
    "granian": "#DD8452",
    "granian-rsgi": "#C44E52",
    "gunicorn": "#55A868",
}


def render_chart(results: dict[str, Any], path: Path) -> bool:
    """A bar chart of median req/s, one panel per test; False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return False
    summary = results.get("summary") or summarize(results)
    tests = [
        t for t in results["meta"]["tests"] if any(r["test"] == t and r["rps"] for r in summary)
    ]
    if not tests:
        return False
    columns = 2 if len(tests) > 1 else 1
    rows_n = (len(tests) + columns - 1) // columns
    fig, axes = plt.subplots(rows_n, columns, figsize=(7 * columns, 3.2 * rows_n), squeeze=False)
    for ax, test in zip(axes.flat, tests, strict=False):
        rows = sorted(
            (r for r in summary if r["test"] == test and r["rps"]), key=lambda r: r["rps"]
        )
        labels = [f"{FRAMEWORKS_BY_NAME[r['framework']].label} · {r['server']}" for r in rows]
        values = [r["rps"] for r in rows]
        colours = [SERVER_COLOURS.get(r["server"], "#8172B3") for r in rows]
        bars = ax.barh(labels, values, color=colours)
        for bar, row in zip(bars, rows, strict=True):
            if row["framework"] == "carboy":
                bar.set_edgecolor("black")
                bar.set_linewidth(2)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=7)
        ax.set_title(TESTS[test].title, fontsize=10)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(0, max(values) * 1.18)
        ax.set_xlabel("requests/s (median)", fontsize=7)
    for ax in list(axes.flat)[len(tests) :]:
        ax.axis("off")
    title = "carboy benchmarks, requests per second (higher is better)"
    if results["meta"].get("mode") == "quick":
        title += " — QUICK RUN, not for comparison"
    fig.suptitle(title, fontsize=11)
    handles = [Patch(color=colour, label=name) for name, colour in SERVER_COLOURS.items()]
    fig.legend(handles=handles, loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], md_path: Path, png_path: Path) -> None:
    chart = render_chart(results, png_path)
    chart_name = os.path.relpath(png_path, md_path.parent) if chart else None
    md_path.parent.mkdir(parents=True, exist_ok=True)
    readme = os.path.relpath(Path(__file__).with_name("README.md"), md_path.parent)
    page = render_markdown(results, chart_name, readme)
    # The scale-out, admin list and API list sections are other runs' (python -m
    # bench.scale_out, bench.admin_list, bench.api_list): keep them.
    old = md_path.read_text() if md_path.exists() else ""
    for other in (scale_report, admin_report, api_list_report):
        kept = extract_section(old, other.BEGIN, other.END)
        if kept:
            page = splice_section(page, kept, other.BEGIN, other.END)
    md_path.write_text(page)


def main(argv: list[str] | None = None) -> int:
    from bench.run import DOCS_DIR, RESULTS_DIR

    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else RESULTS_DIR / "latest.json"
    results = json.loads(source.read_text())
    results["summary"] = summarize(results)
    if source.name == "quick.json":
        write(results, RESULTS_DIR / "quick.md", RESULTS_DIR / "quick.png")
    else:
        write(results, DOCS_DIR / "benchmarks.md", DOCS_DIR / "benchmarks.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
