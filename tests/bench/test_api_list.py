"""The API-list benchmark's three apps answer the same page, and its docs section survives.

The apps run as the benchmark runs them (granian processes) on the ``test``
database; no figure is asserted.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import api_list, api_list_report
from bench.common import extract_section, splice_section
from bench.process import ServerProcess, StartFailed, free_port
from bench.suite import SERVERS
from tests.db.conftest import require_postgres


@pytest.fixture(scope="module")
def seeded() -> None:
    require_postgres()
    api_list.seed()


@pytest.mark.parametrize("name", list(api_list.APPS))
def test_each_app_answers_the_same_twenty_rows(seeded: None, name: str, tmp_path: Any) -> None:
    port = free_port()
    command = SERVERS["granian"].command(api_list.APPS[name], port)
    with ServerProcess(command, tmp_path / f"{name}.log", cpu=None) as server:
        try:
            server.wait_ready(port, api_list.PATH, timeout=60)
        except StartFailed as exc:
            pytest.fail(f"{name} did not start: {exc}")
        status, body = api_list.fetch(port)
        assert status == 200, body
        rows = api_list.page_rows(body)
        assert rows == api_list.expected_rows()
        assert [r["id"] for r in rows] == list(range(41, 61))
        assert api_list.check_page(port) is None
        # The check can fail: another page is not the expected rows.
        assert "other rows" in (api_list.check_page(port, "/api/items?page=4") or "")


def test_the_section_is_rewritten_between_its_markers() -> None:
    record = {"status": "ok", "wrk": {"rps": 1234.0, "p50_ms": 1.5, "p99_ms": 9.25,
                                      "error_ratio": 0.0}}  # fmt: skip
    results = {
        "meta": {
            "started": "2026-01-01T00:00:00+00:00", "command": "python -m bench.api_list",
            "mode": "full", "machine": {"load_average_at_start": [0.1]}, "table": "t",
            "rows": 1000, "page": 3, "page_size": 20, "server_cpu": 0, "client_cpu": 1,
            "wsgi_threads": 8, "duration_s": 20.0, "warmup_s": 5.0, "connections": 64,
        },
        "apps": {"carboy": record, "drf": {"status": "failed_check", "detail": "other rows"}},
    }  # fmt: skip
    section = api_list_report.render(results)
    assert "| 1,234 | 1.50 | 9.25 | 0.00% |" in section
    assert "failed_check: other rows" in section and "smoke" not in section
    page = "# Benchmarks\n\nintro\n"
    once = splice_section(page, section, api_list_report.BEGIN, api_list_report.END)
    again = splice_section(once, section, api_list_report.BEGIN, api_list_report.END)
    assert once == again and once.startswith(page)
    assert extract_section(once, api_list_report.BEGIN, api_list_report.END) == section
