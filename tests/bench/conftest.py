"""Helpers shared by the benchmark runners' tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.process import ROOT, subprocess_env


def run_smoke(module: str, args: list[str], results_path: Path) -> dict[str, Any]:
    """Run ``python -m <module> --smoke <args> --results <path>`` from the repository; its JSON.

    The run must succeed (its output's tail is the assertion's message) and be a smoke run.
    """
    command = [sys.executable, "-m", module, "--smoke", *args, "--results", str(results_path)]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads(results_path.read_text())
    assert results["meta"]["mode"] == "smoke"
    return results
