"""The scale-out benchmark's section of ``docs/benchmarks.md``, between its two markers.

    python -m bench.scale_report [RESULTS.json]     # re-render from saved results

``bench.scale_out`` rewrites the section after a full run; ``bench.report``
(the main harness) carries it over when it rewrites the rest of the page.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.common import extract_section, machine_and_versions, splice_section

BEGIN = "<!-- scale-out:begin (written by `python -m bench.scale_out`) -->"
END = "<!-- scale-out:end -->"
TITLE = "## Scale-out: fan-out and enqueue"

FRAMEWORK_LABELS = {"carboy": "carboy", "django": "Django Channels"}
ENQUEUE_LABELS = {
    "carboy_enqueue": ("carboy.tasks", "`task.enqueue(n)`"),
    "carboy_aenqueue": ("carboy.tasks", "`await task.aenqueue(n)`"),
    "carboy_aenqueue_concurrent": ("carboy.tasks", "`await task.aenqueue(n)`, {c} at once"),
    "celery_send_task": ("Celery", "`app.send_task(name, [n])`"),
    "celery_delay": ("Celery", "`task.delay(n)`"),
    "django_enqueue": ("Django tasks on Celery", "`task.enqueue(n)`"),
    "django_aenqueue": ("Django tasks on Celery", "`await task.aenqueue(n)`"),
}
STATUS_TEXT = {
    "not_installed": "not installed",
    "failed_start": "did not start",
    "failed": "failed",
    "failed_check": "wrong message",
    "lost_messages": "lost messages",
}


# --- the page -------------------------------------------------------------------------


def extract(page: str) -> str | None:
    """The marked section of ``page`` (markers included), or None if it has none."""
    return extract_section(page, BEGIN, END)


def splice(page: str, section: str) -> str:
    """``page`` with its marked section replaced by ``section`` (appended if it has none)."""
    return splice_section(page, section, BEGIN, END)


# --- one line per result, for the console -----------------------------------------------


def describe_fanout(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return f"{STATUS_TEXT.get(record['status'], record['status'])}: {record.get('detail', '')}"
    return (
        f"{record['subscribers']} subscribers: fan-out {record['fanout_ms_median']:.1f} ms "
        f"(p99 {record['fanout_ms_p99']:.1f}), delivery p50 {record['delivery_ms_p50']:.1f} / "
        f"p99 {record['delivery_ms_p99']:.1f} ms, {record['messages_per_s']:,.0f} messages/s"
    )


def describe_enqueue(record: dict[str, Any]) -> str:
    if record["status"] != "ok":
        return f"{STATUS_TEXT.get(record['status'], record['status'])}: {record.get('detail', '')}"
    return f"{record['rate_median']:,.0f} tasks/s ({record['queued']}/{record['sent']} queued)"


# --- the section --------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def render_section(results: dict[str, Any] | None, commands: dict[str, str] | None = None) -> str:
    """The whole marked section: what is measured, how to run it, and the tables of ``results``.

    With no results (no run recorded yet), the method alone, with ``commands``
    (name -> server command line) if given.
    """
    out = [BEGIN, TITLE, ""]
    out += [
        "Two things a site spread over several processes leans on (issue 17): one message "
        "fanned out over Redis to the WebSockets of every process, and background tasks "
        "sent to Celery on RabbitMQ. carboy next to Django Channels and Celery's own API, "
        "on the same machine, in one run of `python -m bench.scale_out`, which writes this "
        "section (how it works: [`bench/README.md`](../bench/README.md), *Scale-out "
        "benchmark*).",
        "",
    ]
    if results is None:
        out += [
            "No full run has been recorded yet, so there are no figures here: run "
            "`python -m bench.scale_out` on a quiet machine to write them.",
            "",
        ]
        out += _method(None, commands)
        out.append(END)
        return "\n".join(out) + "\n"
    meta = results["meta"]
    out += [f"Run of {meta['started']} (`{meta['command'].strip()}`), {meta['mode']} mode.", ""]
    load = meta["machine"].get("load_average_at_start", [0.0])[0]
    if meta["mode"] != "full":
        out += [
            "> A smoke run: tiny numbers, to show that the benchmark works. These are not "
            "figures to compare.",
            "",
        ]
    if load > 0.5:
        out += [
            f"> The load average was {load:.2f} at the start: the machine was not quiet, "
            "and the figures are noisy.",
            "",
        ]
    out += _fanout_table(results)
    out += _enqueue_table(results)
    out += _method(meta, meta.get("commands"))
    out += machine_and_versions(meta)
    out.append(END)
    return "\n".join(out) + "\n"


def _fanout_table(results: dict[str, Any]) -> list[str]:
    rows = results.get("fanout") or []
    if not rows:
        return []
    s = results["meta"]["settings"]
    carboy = next((r for r in rows if r["name"] == "carboy" and r["status"] == "ok"), None)
    out = [
        "### WebSocket fan-out over Redis",
        "",
        f"One message to {s['subscribers']:,} WebSocket subscribers, half on each of two "
        "server processes, published through an HTTP endpoint of the first. *Fan-out*: from "
        "the publish request to the moment the last subscriber has the message, median and "
        f"p99 of {s['repeats']} publishes. *Delivery*: the same for each subscriber, over "
        "all of them and all publishes. *Messages/s*: subscribers ÷ median fan-out. "
        "*vs carboy*: messages/s as a share of carboy's. *Peak RSS*: both server processes.",
        "",
        "| framework | channel layer | server | fan-out median | fan-out p99 | delivery p50 "
        "| delivery p99 | messages/s | vs carboy | peak RSS |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        label = FRAMEWORK_LABELS.get(row["framework"], row["framework"])
        head = f"| {label} | `{row['layer']}` | {row['server']} |"
        if row["status"] != "ok":
            status = STATUS_TEXT.get(row["status"], row["status"])
            detail = str(row.get("detail", "")).splitlines()[0][:120] if row.get("detail") else ""
            out.append(f"{head} {status}{': ' + detail if detail else ''} | | | | | | |")
            continue
        share = row["messages_per_s"] / carboy["messages_per_s"] if carboy else None
        out.append(
            f"{head} {_ms(row['fanout_ms_median'])} | {_ms(row['fanout_ms_p99'])} | "
            f"{_ms(row['delivery_ms_p50'])} | {_ms(row['delivery_ms_p99'])} | "
            f"{row['messages_per_s']:,.0f} | {_ratio(share)} | "
            f"{sum(row['rss_kib']) / 1024:,.0f} MiB |"
        )
    out.append("")
    return out


def _enqueue_table(results: dict[str, Any]) -> list[str]:
    rows = results.get("enqueue") or []
    if not rows:
        return []
    s = results["meta"]["settings"]
    ceiling = next(
        (r for r in rows if r["variant"] == "celery_send_task" and r["status"] == "ok"), None
    )
    out = [
        "### Enqueue rate to Celery on RabbitMQ",
        "",
        f"Tasks sent per second, one after the other ({s['tasks']:,} per round, median of "
        f"{s['task_rounds']} rounds after {s['task_warmup']} not counted), each a no-op task "
        "with one integer argument; no worker runs. *vs send_task*: the rate as a share of "
        "Celery's own `send_task`, which every API here calls in the end: the ceiling. "
        "*Queued*: the "
        "messages the queue held afterwards, out of those sent: nothing may be dropped.",
        "",
        "| API | call | tasks/s | vs send_task | queued / sent |",
        "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        api, call = ENQUEUE_LABELS.get(row["variant"], (row["framework"], row["variant"]))
        call = call.format(c=row.get("concurrency", s["concurrency"]))
        if row["status"] != "ok":
            status = STATUS_TEXT.get(row["status"], row["status"])
            detail = str(row.get("detail", "")).splitlines()[0][:120] if row.get("detail") else ""
            out.append(f"| {api} | {call} | {status}{': ' + detail if detail else ''} | | |")
            continue
        share = row["rate_median"] / ceiling["rate_median"] if ceiling else None
        out.append(
            f"| {api} | {call} | {row['rate_median']:,.0f} | {_ratio(share)} | "
            f"{row['queued']:,} / {row['sent']:,} |"
        )
    out.append("")
    return out


def _method(meta: dict[str, Any] | None, commands: dict[str, str] | None) -> list[str]:
    s = meta["settings"] if meta else {"server_cpu": 0, "client_cpu": 1}
    out = [
        "### How it is measured",
        "",
        "- **Fan-out apps** (`bench/apps/fanout_carboy.py`, `bench/apps/fanout_django.py`): "
        "the same two endpoints, no authentication. A WebSocket on `/ws` joins the group "
        "`fanout`; `POST /publish` sends its JSON body to the group, and every subscriber "
        'gets `{"group":"fanout","data":BODY}`, the same bytes from both. carboy: '
        "`carboy.channels` with `channels_url=redis://...` (`channels.stream_websocket`, "
        "`channels.apublish`). Django: an `AsyncWebsocketConsumer` that calls `group_add` "
        "before it accepts, and an async view calling `channel_layer.group_send`, on "
        "channels_redis's `RedisPubSubChannelLayer` (Redis pub/sub, as carboy) and its "
        "default `RedisChannelLayer` (a Redis list per consumer).",
        f"- **Processes**: two servers of the app (one worker each, pinned to CPU "
        f"{s['server_cpu']} with `taskset`) share a redis-server of the run's own on a free "
        f"port; the client (`bench/fanout_client.py`, asyncio and `websockets`, uvloop, no "
        f"compression) and that Redis are pinned to CPU {s['client_cpu']}. The client opens "
        "the sockets alternately to each server, publishes until one message reaches them "
        "all (the subscriptions have reached Redis), publishes a few more as warm-up, then "
        "the counted ones, one at a time, each after the last has fully arrived. The "
        "client's own cost of reading every message is in every row alike.",
        "- **Enqueue** (`bench/enqueue.py`): each variant in its own interpreter pinned to "
        f"CPU {s['server_cpu']}, to a RabbitMQ queue of its own (deleted afterwards); "
        "RabbitMQ runs unpinned. Every variant gets Celery's settings as carboy's "
        "`CeleryBackend` sets them (JSON, no result store). carboy: `@task` and "
        "`enqueue()` / `aenqueue()` with `tasks_url=celery+amqp://...`. Django's tasks "
        "API: Django 6.0's `django.tasks` needs Python 3.12, so on Django 5.2 it is the "
        "`django-tasks` package (the same API, by its author) with the Celery backend of "
        "`django-tasks-fennel` (a young third-party package; Django has no Celery backend of "
        "its own).",
        "- **Server command lines** (for port 8000):",
    ]
    out += [f"  - {name}: `{command}`" for name, command in (commands or {}).items()]
    out += [
        "- **Reproduce**: `pip install -e '.[bench]'`; a `redis-server` binary and RabbitMQ "
        "on `127.0.0.1:5672` (guest/guest); a quiet machine; then "
        "`python -m bench.scale_out` (a few minutes; `--smoke` for a quick check that "
        "writes `bench/results/scale_out-smoke.*` and leaves this page alone). Raw results: "
        "`bench/results/scale_out.json`.",
        "",
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.scale_out import DOCS_PAGE, RESULTS_DIR

    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else RESULTS_DIR / "scale_out.json"
    section = render_section(json.loads(source.read_text()))
    DOCS_PAGE.write_text(splice(DOCS_PAGE.read_text(), section))
    print(f"section of {DOCS_PAGE.name} rewritten from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
