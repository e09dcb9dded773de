"""The scale-out benchmark still runs end to end (tiny numbers), and its docs section survives.

No figure is asserted here: a smoke run on a busy machine proves that the
harness works (servers start, subscribers get the exact message, every task
reaches the queue), not how fast anything is.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from bench import enqueue, report, scale_report
from bench.process import ROOT
from bench.scale_out import (
    DOCS_PAGE,
    FANOUT_TARGETS,
    command_lines,
    expected_message,
    summarize_fanout,
)
from tests.bench.conftest import run_smoke

RESULTS = ROOT / "bench" / "results" / "latest.json"


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_smoke_run_end_to_end(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None or not _reachable(5672):
        pytest.skip("the scale-out benchmark needs a redis-server binary and RabbitMQ (5672)")
    docs_before = DOCS_PAGE.read_text()
    results_path = tmp_path / "scale_out.json"
    options = ["--subscribers", "6", "--repeats", "2", "--warmup", "1", "--tasks", "20"]
    options += ["--task-rounds", "1", "--concurrency", "4"]
    results = run_smoke("bench.scale_out", options, results_path)

    fanout = {row["name"]: row for row in results["fanout"]}
    assert list(fanout) == [target.name for target in FANOUT_TARGETS]
    assert fanout["carboy"]["status"] == "ok", fanout["carboy"]
    for row in fanout.values():
        assert row["status"] in ("ok", "not_installed"), row
        if row["status"] == "ok":
            assert row["subscribers"] == 6
            assert row["rounds"] == 2
            assert len(row["fanout_ms"]) == 2
            assert all(kib > 0 for kib in row["rss_kib"])

    queued = {row["variant"]: row for row in results["enqueue"]}
    assert list(queued) == list(enqueue.VARIANTS)
    for variant in ("carboy_enqueue", "carboy_aenqueue", "carboy_aenqueue_concurrent"):
        assert queued[variant]["status"] == "ok", queued[variant]
    for variant in ("celery_send_task", "celery_delay"):
        assert queued[variant]["status"] == "ok", queued[variant]
    for row in queued.values():
        assert row["status"] in ("ok", "not_installed"), row
        if row["status"] == "ok":
            assert row["sent"] == 20 + 20  # the smoke warm-up, then one round
            assert row["queued"] == row["sent"]  # nothing dropped

    section = results_path.with_suffix(".md").read_text()
    assert scale_report.extract(section) == section
    assert "| carboy | `RedisChannels` | uvicorn |" in section
    assert "| carboy.tasks | `task.enqueue(n)` |" in section
    assert "A smoke run" in section
    assert DOCS_PAGE.read_text() == docs_before  # a smoke run publishes nothing


def test_subscribers_must_get_these_exact_bytes() -> None:
    assert expected_message(3) == '{"group":"fanout","data":{"seq":3,"text":"Hello, subscribers!"}}'


def test_splice_replaces_the_marked_section_only() -> None:
    old = scale_report.render_section(None)
    page = f"# Page\n\nbefore\n\n{old}\nafter\n"
    new = f"{scale_report.BEGIN}\nnew text\n{scale_report.END}\n"
    assert scale_report.splice(page, new) == f"# Page\n\nbefore\n\n{new}\nafter\n"
    assert scale_report.splice("# Page\n", new) == f"# Page\n\n{new}"


def test_the_docs_page_has_one_section_to_rewrite() -> None:
    page = DOCS_PAGE.read_text()
    assert page.count(scale_report.BEGIN) == 1
    assert page.count(scale_report.END) == 1
    section = scale_report.extract(page)
    assert section is not None
    assert section.splitlines()[1] == scale_report.TITLE
    assert "python -m bench.scale_out" in section


def test_the_main_report_keeps_the_scale_out_section(tmp_path: Path) -> None:
    results = json.loads(RESULTS.read_text())
    md = tmp_path / "benchmarks.md"
    section = scale_report.render_section(None, command_lines())
    md.write_text("# Benchmarks\n\nold figures\n\n" + section)
    report.write(results, md, tmp_path / "benchmarks.png")
    page = md.read_text()
    assert "old figures" not in page
    assert scale_report.extract(page) == section
    assert page.startswith("# Benchmarks\n")
    assert page.endswith(section)


def test_every_enqueue_variant_is_driven_and_labelled() -> None:
    assert set(enqueue.VARIANTS) == set(enqueue.SYNC) | set(enqueue.ASYNC)
    assert set(enqueue.VARIANTS) == set(scale_report.ENQUEUE_LABELS)


def _client_output(missing: int = 0, sample: str | None = None) -> dict[str, object]:
    rounds = [
        {"fanout_ms": None if missing else 4.0, "publish_ms": 1.0, "missing": missing},
        {"fanout_ms": 6.0, "publish_ms": 1.0, "missing": 0},
    ]
    return {
        "rounds": rounds,
        "deliveries_ms": [1.0, 2.0, 4.0, 6.0],
        "sample": expected_message(9) if sample is None else sample,
        "sample_seq": 9,
    }


def test_a_complete_fanout_is_summarized() -> None:
    summary = summarize_fanout(_client_output(), subscribers=2)
    assert summary["status"] == "ok"
    assert summary["rounds"] == 2
    assert summary["fanout_ms_median"] == 5.0


def test_a_lost_delivery_gets_no_score() -> None:
    summary = summarize_fanout(_client_output(missing=1), subscribers=2)
    assert summary == {"status": "lost_messages", "detail": "1 deliveries missing over 2 rounds"}


def test_a_different_message_gets_no_score() -> None:
    summary = summarize_fanout(_client_output(sample='{"data":{"seq":9}}'), subscribers=2)
    assert summary["status"] == "failed_check"
    assert '\'{"data":{"seq":9}}\'' in summary["detail"]


def test_a_client_error_gets_no_score() -> None:
    summary = summarize_fanout({"error": "OSError: refused", "rounds": []}, subscribers=2)
    assert summary == {"status": "failed", "detail": "OSError: refused"}
