"""bench.run's own guards: no wrk, or nothing measured, never replaces the published report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import run


def test_a_run_without_wrk_stops_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no wrk on it
    started: list[Any] = []
    monkeypatch.setattr(run, "measure", lambda *args: started.append(args))
    with pytest.raises(SystemExit, match="wrk is not installed"):
        run.main(["--only", "bare", "--no-baseline", "--tests", "plaintext", "--rounds", "1"])
    assert started == []


def test_a_run_that_measured_nothing_keeps_the_published_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrk = tmp_path / "bin" / "wrk"
    wrk.parent.mkdir()
    wrk.write_text("#!/bin/sh\nexit 127\n")
    wrk.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrk.parent}:/usr/bin:/bin")
    results, docs = tmp_path / "results", tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("the published run")
    monkeypatch.setattr(run, "RESULTS_DIR", results)
    monkeypatch.setattr(run, "DOCS_DIR", docs)

    def failed_load(framework: Any, server: Any, test: Any, settings: Any, round_no: int) -> Any:
        return {
            "round": round_no,
            "test": test.name,
            "framework": framework.name,
            "server": server.name,
            "status": "failed_load",
            "detail": "wrk exited 127",
        }

    monkeypatch.setattr(run, "measure", failed_load)
    argv = ["--only", "bare", "--no-baseline", "--tests", "plaintext", "--servers", "uvicorn"]
    assert run.main([*argv, "--rounds", "1", "--no-cold-start", "--skip-setup"]) == 1
    assert (docs / "benchmarks.md").read_text() == "the published run"
    assert not (results / "latest.json").exists()
    assert (results / "failed.json").exists()
