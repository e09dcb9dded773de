"""Run wrk pinned to its own CPU and read its figures (JSON from a Lua ``done`` hook)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")
#: Above this share of failed requests (errors or non-2xx/3xx) a run gets no score.
MAX_ERROR_RATIO = 0.01


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int]
    error_ratio: float
    output: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("output")
        return data


class WrkError(RuntimeError):
    pass


def require_wrk() -> None:
    """Stop a benchmark before it starts anything when wrk is not there to load it."""
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed (or not on PATH): apt-get install -y wrk (see bench/README.md)"
        )


def wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "not installed"
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split("Copyright")[0].strip() if first else "unknown"


def run_wrk(
    url: str,
    *,
    duration: float,
    connections: int = 64,
    threads: int = 1,
    cpu: int | None = 1,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> WrkResult:
    """One wrk run: ``taskset -c CPU wrk -tT -cC -dDs --latency URL``."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "-s",
        str(REPORT_SCRIPT),
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    return parse(done.stdout)


def parse(output: str) -> WrkResult:
    line = next((x for x in output.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise WrkError(f"no summary in wrk output:\n{output}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    requests = int(data["requests"])
    duration_s = data["duration_us"] / 1e6
    latency = data["latency_us"]
    errors = {key: int(value) for key, value in data["errors"].items()}
    return WrkResult(
        requests=requests,
        duration_s=duration_s,
        rps=requests / duration_s if duration_s else 0.0,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        mean_ms=latency["mean"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=errors,
        error_ratio=sum(errors.values()) / max(requests, 1),
        output=output,
    )
