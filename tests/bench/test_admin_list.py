"""The admin list benchmark still runs end to end for both admins (tiny numbers), and its
docs section survives.

No figure is asserted: a smoke run on a busy machine proves that the harness
works (both admins render every page, with the rows expected first), not how
fast either is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench import admin_report, report
from bench.admin_list import DOCS_PAGE
from bench.admin_pages import PAGE_NAMES, expected_titles, time_page
from bench.process import ROOT
from tests.bench.conftest import run_smoke
from tests.db.conftest import POSTGRES_URL, require_postgres

RESULTS = ROOT / "bench" / "results" / "latest.json"
#: Over carboy.admin's default ``count_limit`` (10,000), so its list pages are not
#: counted and its next page is by key, as on a large table.
ROWS, REPEAT = 12_000, 2


def test_smoke_run_gives_both_admins_figures_for_every_page(tmp_path: Path) -> None:
    require_postgres()
    docs_before = DOCS_PAGE.read_text()
    results_path = tmp_path / "admin_list.json"
    options = ["--rows", str(ROWS), "--repeat", str(REPEAT), "--warmup", "1"]
    results = run_smoke("bench.admin_list", [*options, "--url", POSTGRES_URL], results_path)
    assert results["meta"]["settings"]["rows"] == ROWS
    for framework in ("carboy", "django"):
        record = results[framework]
        assert record["status"] == "ok", record
        assert list(record["pages"]) == list(PAGE_NAMES)
        for page in record["pages"].values():
            assert len(page["times_ms"]) == REPEAT
            assert 0 < page["median_ms"] <= page["p90_ms"]
            assert page["statements"] == len(page["sql"]) > 0
    assert results["django"]["pages"]["next page"]["path"].endswith("?p=2")
    # Django counts the table on every page (its paginator and show_full_result_count);
    # carboy never counts a table over its count_limit, and pages by key.
    assert all(page["counted"] for page in results["django"]["pages"].values())
    assert not any(page["counted"] for page in results["carboy"]["pages"].values())
    assert "?p=" not in results["carboy"]["pages"]["next page"]["path"]

    section = results_path.with_suffix(".md").read_text()
    assert admin_report.extract(section) == section
    assert "A smoke run" in section
    for name in PAGE_NAMES:
        row = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
        assert "—" not in row, row  # both admins' figures, and the ratio
    assert DOCS_PAGE.read_text() == docs_before  # a smoke run publishes nothing


def test_each_page_has_the_row_expected_first() -> None:
    assert expected_titles(200) == {
        "list": "post-200",
        "search": "post-77",  # the only title with "post-77" in it
        "filtered": "post-162",  # published (a multiple of 3) and in section 3 (i % 20 == 2)
        "next page": "post-150",  # the 51st, newest first
    }


@contextmanager
def _no_statements() -> Iterator[list[str]]:
    yield ["SELECT count(*) FROM bench_admin_post"]


def test_a_page_without_its_first_row_or_with_an_error_gets_no_figure() -> None:
    def page(status: int, body: str) -> dict[str, object]:
        return time_page(
            lambda path: (status, body),
            "/admin/",
            repeat=2,
            warmup=0,
            capture=_no_statements,
            title="post-9",
        )

    record = page(200, "<td>x</td><a>post-9</a>")
    assert record["statements"] == 1
    assert record["counted"] is True
    with pytest.raises(RuntimeError, match="is not on the page"):
        page(200, "<a>post-99</a>")
    with pytest.raises(RuntimeError, match="status 500"):
        page(500, "<a>post-9</a>")


def test_a_failed_django_run_is_said_in_the_section() -> None:
    record = {"path": "/admin/", "median_ms": 5.0, "p90_ms": 6.0, "statements": 3}
    results = {
        "meta": {
            "started": "2026-01-01T00:00:00+00:00",
            "command": "python -m bench.admin_list",
            "mode": "full",
            "settings": {"rows": 1_000_000, "repeat": 30, "warmup": 2},
            "paths": {},
            "machine": {"cpu_model": "cpu", "nproc": 2, "memory_gib": 1, "kernel": "k"},
            "versions": {},
        },
        "carboy": {"status": "ok", "pages": {n: {**record, "counted": False} for n in PAGE_NAMES}},
        "django": {"status": "failed", "detail": "Traceback...\nImportError: no django"},
    }
    section = admin_report.render_section(results)
    assert "| list | 5.0 | 6.0 | 3 | no | — | — | — | — | — |" in section
    assert "> Django produced no figures: ImportError: no django." in section
    assert "every page's median is under 100 ms" in section


def test_the_docs_page_has_one_section_to_rewrite() -> None:
    page = DOCS_PAGE.read_text()
    assert page.count(admin_report.BEGIN) == 1
    assert page.count(admin_report.END) == 1
    section = admin_report.extract(page)
    assert section is not None
    assert section.splitlines()[1] == admin_report.TITLE
    assert "python -m bench.admin_list" in section
    admin_page = (ROOT / "docs" / "admin.md").read_text()
    assert "benchmarks.md#admin-list-page-on-a-million-rows" in admin_page


def test_the_main_report_keeps_the_admin_list_section(tmp_path: Path) -> None:
    results = json.loads(RESULTS.read_text())
    md = tmp_path / "benchmarks.md"
    section = admin_report.render_section(None)
    md.write_text("# Benchmarks\n\nold figures\n\n" + section)
    report.write(results, md, tmp_path / "benchmarks.png")
    page = md.read_text()
    assert "old figures" not in page
    assert admin_report.extract(page) == section
    assert page.endswith(section)
