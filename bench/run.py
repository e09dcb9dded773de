"""The benchmark harness: every framework, under every server, with wrk.

    python -m bench.run [--quick] [--only NAMES] [--tests NAMES] [--servers NAMES]

For each round, for each test, for each framework (the order rotates every
round, so drift on the machine hits every framework alike) and each server
that can run it: start the server pinned to CPU 0, wait until it answers,
check its answer, warm it up, measure with wrk pinned to CPU 1, read its
memory, check its answer again, stop it. Then the cold start of every app
module, then the JSON results and the report. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.checks import CheckFailed, Client, NotImplementedRoute
from bench.common import DATABASE_URL, POOL_SIZE, WSGI_THREADS
from bench.db_setup import APP_MODULES
from bench.process import (
    ROOT,
    ServerProcess,
    StartFailed,
    free_port,
    last_error,
    subprocess_env,
)
from bench.suite import (
    ALL_TESTS,
    BASELINE_TESTS,
    BASELINES,
    FRAMEWORKS,
    RSGI_BASELINES,
    SERVERS,
    TESTS,
    Framework,
    Server,
    Test,
)
from bench.wrk import MAX_ERROR_RATIO, WrkError, require_wrk, run_wrk, wrk_version

RESULTS_DIR = ROOT / "bench" / "results"
DOCS_DIR = ROOT / "docs"
SERVER_CPU = 0
WRK_CPU = 1


@dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int
    duration: float
    warmup: float
    connections: int
    queries: int
    cold_start_runs: int
    start_timeout: float
    raw_dir: Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    names = ",".join(framework.name for framework in FRAMEWORKS)
    parser.add_argument(
        "--quick", action="store_true", help="1 short round, results under bench/results/quick.*"
    )
    parser.add_argument("--only", help=f"frameworks, comma-separated (of {names})")
    parser.add_argument("--tests", help=f"tests, comma-separated (of {','.join(ALL_TESTS)})")
    parser.add_argument("--servers", help=f"servers, comma-separated (of {','.join(SERVERS)})")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument(
        "--duration", type=float, help="seconds measured per run (default 10, quick 2)"
    )
    parser.add_argument(
        "--warmup", type=float, help="seconds of warm-up per run (default 3, quick 1)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument(
        "--queries", type=int, default=20, help="N for /queries and /updates (default 20)"
    )
    parser.add_argument(
        "--cold-start-runs", type=int, help="imports timed per app (default 7, quick 3)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="do not add the bare ASGI apps to --only"
    )
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start timings")
    parser.add_argument("--skip-setup", action="store_true", help="do not run bench.db_setup first")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write docs/benchmarks.{md,png} and bench/results/latest.json even with --quick",
    )
    return parser.parse_args(argv)


def _pick(raw: str | None, known: list[str], what: str) -> list[str]:
    if not raw:
        return known
    chosen = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return [name for name in known if name in chosen]  # canonical order


# --- what the report needs to say about the machine and the software ----------------------


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        if name == "carboy":
            try:
                data = tomllib.loads((ROOT / "pyproject.toml").read_text())
                return f"{data['project']['version']} (source tree)"
            except (OSError, KeyError, tomllib.TOMLDecodeError):
                pass
        return "not installed"


def _command_output(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def carboy_revision() -> str:
    """The commit the run measured, and whether carboy/ had changes on top of it."""
    revision = _command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _command_output(["git", "-C", str(ROOT), "status", "--porcelain", "carboy"])
    return (revision or "no commit") + (" + local changes" if dirty else "")


def machine_info() -> dict[str, Any]:
    model = ""
    for line in _command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor() or "unknown",
        "nproc": int(_command_output(["nproc"]) or os.cpu_count() or 0),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(DATABASE_URL, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


def software_versions(frameworks: list[Framework], servers: list[Server]) -> dict[str, str]:
    names: set[str] = {"jinja2", "orjson"}
    for framework in frameworks:
        names.update(framework.packages)
    for server in servers:
        names.update(server.packages)
    versions = {name: package_version(name) for name in sorted(names)}
    versions["python"] = platform.python_version() + f" ({platform.python_implementation()})"
    versions["wrk"] = wrk_version()
    versions["postgresql"] = postgres_version()
    versions["carboy revision"] = carboy_revision()
    return versions


# --- cold start -------------------------------------------------------------------------


def time_import(module: str, runs: int) -> dict[str, Any]:
    """Median wall time of ``python -c "import MODULE"`` on the server CPU."""
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            ["taskset", "-c", str(SERVER_CPU), sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            return {"status": "failed", "detail": last_error(done.stderr), "samples_ms": []}
        samples.append(elapsed * 1000)
    return {
        "status": "ok",
        "median_ms": round(statistics.median(samples), 1),
        "samples_ms": [round(x, 1) for x in samples],
    }


def cold_starts(frameworks: list[Framework], runs: int) -> dict[str, Any]:
    print(f"cold start: importing each app module {runs} times")
    result: dict[str, Any] = {"baseline": time_import("bench.common", runs)}
    base = result["baseline"].get("median_ms", 0.0)
    print(f"  interpreter + bench.common: {base:.0f} ms")
    for framework in frameworks:
        timing = time_import(framework.module, runs)
        if timing["status"] == "ok":
            timing["net_ms"] = round(timing["median_ms"] - base, 1)
            print(f"  {framework.name}: {timing['median_ms']:.0f} ms ({timing['net_ms']:+.0f} ms)")
        else:
            print(f"  {framework.name}: FAILED: {timing['detail']}")
        result[framework.name] = timing
        if framework.import_name:
            bare_import = time_import(framework.import_name, runs)
            if bare_import["status"] == "ok":
                bare_import["net_ms"] = round(bare_import["median_ms"] - base, 1)
            timing["framework_import"] = {"module": framework.import_name, **bare_import}
    return result


def time_first_response(
    framework: Framework, server: Server, settings: Settings, runs: int
) -> dict[str, Any]:
    """Median seconds from spawning the server to its first 200 on the framework's first test."""
    test = TESTS[framework.tests[0]]
    path = test.url_path(settings.queries)
    samples: list[float] = []
    for run in range(runs):
        port = free_port()
        log = settings.raw_dir / f"first-response-{framework.name}-{server.name}-{run}.log"
        with ServerProcess(server.command(framework, port), log, cpu=SERVER_CPU) as process:
            try:
                samples.append(process.wait_ready(port, path, settings.start_timeout, status=200))
            except StartFailed as exc:
                return {"status": "failed", "detail": last_error(str(exc)), "samples_s": []}
    return {
        "status": "ok",
        "path": path,
        "median_s": round(statistics.median(samples), 3),
        "samples_s": [round(x, 3) for x in samples],
    }


def first_responses(
    frameworks: list[Framework], servers: list[Server], settings: Settings
) -> dict[str, dict[str, Any]]:
    """``time_first_response`` of every framework under every server that runs it."""
    runs = max(3, settings.cold_start_runs // 2)
    print(f"first response: starting each server {runs} times")
    result: dict[str, dict[str, Any]] = {}
    for framework in frameworks:
        for server in servers:
            if not server.serves(framework):
                continue
            timing = time_first_response(framework, server, settings, runs)
            result.setdefault(framework.name, {})[server.name] = timing
            shown = f"{timing['median_s']:.2f} s" if timing["status"] == "ok" else "FAILED"
            print(f"  {framework.name} {server.name}: {shown}")
    return result


# --- one measurement --------------------------------------------------------------------


def measure(
    framework: Framework, server: Server, test: Test, settings: Settings, round_no: int
) -> dict[str, Any]:
    """Start, check, warm up, measure, check again, stop. Never raises for a framework's fault."""
    record: dict[str, Any] = {
        "round": round_no,
        "test": test.name,
        "framework": framework.name,
        "server": server.name,
    }
    port = free_port()
    stem = f"r{round_no}-{test.name}-{framework.name}-{server.name}"
    path = test.url_path(settings.queries)
    served = framework.for_test(test.name)
    process = ServerProcess(
        server.command(served, port), settings.raw_dir / f"{stem}.log", cpu=SERVER_CPU
    )
    with process:
        try:
            record["ready_s"] = round(process.wait_ready(port, path, settings.start_timeout), 3)
        except StartFailed as exc:
            return {**record, "status": "failed_start", "detail": str(exc)}
        client = Client(port)
        try:
            headers = test.check(client, settings.queries, {})
        except NotImplementedRoute as exc:
            return {**record, "status": "not_implemented", "detail": str(exc)}
        except (CheckFailed, OSError, ValueError) as exc:
            return {**record, "status": "failed_check", "detail": f"{type(exc).__name__}: {exc}"}
        url = f"http://127.0.0.1:{port}{path}"
        try:
            if settings.warmup > 0:
                run_wrk(
                    url,
                    duration=settings.warmup,
                    connections=settings.connections,
                    cpu=WRK_CPU,
                    headers=headers,
                )
            result = run_wrk(
                url,
                duration=settings.duration,
                connections=settings.connections,
                cpu=WRK_CPU,
                headers=headers,
            )
        except (WrkError, subprocess.TimeoutExpired) as exc:
            return {**record, "status": "failed_load", "detail": str(exc)}
        total_kib, largest_kib, processes = process.memory()
        (settings.raw_dir / f"{stem}.wrk.txt").write_text(result.output)
        record.update(result.to_json())
        record.update(rss_kib=total_kib, rss_largest_kib=largest_kib, processes=processes)
        problem = _check_after_run(test, client, settings.queries, headers)
        if problem:
            return {**record, "status": "failed_check", "detail": f"after the run: {problem}"}
        if result.requests == 0 or result.error_ratio > MAX_ERROR_RATIO:
            return {
                **record,
                "status": "errors",
                "detail": f"{result.error_ratio:.1%} of requests failed: {result.errors}",
            }
    return {**record, "status": "ok"}


def _check_after_run(
    test: Test, client: Client, queries: int, headers: dict[str, str]
) -> str | None:
    """Check again after the run; a failure is retried once, 2 s later.

    Requests wrk left in flight can still be running when it stops, and an
    update among them may rewrite a row the check has just read.
    """
    problem = None
    for pause in (0.0, 2.0):
        time.sleep(pause)
        try:
            test.check(client, queries, headers)
        except (CheckFailed, NotImplementedRoute, OSError, ValueError) as exc:
            problem = str(exc)
        else:
            return None
    return problem


def _describe(record: dict[str, Any]) -> str:
    if record["status"] == "ok":
        return (
            f"{record['rps']:>10,.0f} req/s  p99 {record['p99_ms']:7.2f} ms  "
            f"RSS {record['rss_kib'] / 1024:6.1f} MiB"
        )
    detail = str(record.get("detail", "")).strip().splitlines()
    skipped = " (as in an earlier run, skipped)" if record.get("skipped") else ""
    return f"{record['status'].upper()}{skipped}: {detail[0] if detail else ''}"


# --- the whole run ----------------------------------------------------------------------


def plan(
    frameworks: list[Framework], servers: list[Server], tests: list[Test]
) -> list[tuple[Test, list[tuple[Framework, Server]]]]:
    return [
        (test, [(f, s) for f in frameworks if test.name in f.tests for s in servers if s.serves(f)])
        for test in tests
    ]


def run_setup(frameworks: list[Framework]) -> None:
    names = ",".join(f.name for f in frameworks if f.name in APP_MODULES)
    print("database: python -m bench.db_setup" + (f" --only {names}" if names else ""))
    done = subprocess.run(
        [sys.executable, "-m", "bench.db_setup", "--only", names],
        cwd=ROOT,
        env=subprocess_env(),
        check=False,
        capture_output=True,
        text=True,
    )
    for line in done.stdout.splitlines():
        print(f"  {line}")
    if done.returncode != 0:
        print(done.stderr)
        print("  (database setup reported a failure; the affected tests will fail their checks)")


def select(args: argparse.Namespace) -> tuple[list[Framework], list[Server], list[Test]]:
    """The frameworks, servers and tests ``--only``, ``--servers`` and ``--tests`` pick.

    With ``--only`` and a test that has baselines, the bare callables are added (the bare
    RSGI one when granian-rsgi runs) unless ``--no-baseline``.
    """
    framework_names = _pick(args.only, [f.name for f in FRAMEWORKS], "frameworks")
    test_names = _pick(args.tests, list(ALL_TESTS), "tests")
    server_names = _pick(args.servers, list(SERVERS), "servers")
    if args.only and not args.no_baseline and set(BASELINE_TESTS) & set(test_names):
        baselines = [*BASELINES, *(RSGI_BASELINES if "granian-rsgi" in server_names else ())]
        for baseline in reversed(baselines):
            if baseline not in framework_names:
                framework_names.insert(0, baseline)
    frameworks = [f for f in FRAMEWORKS if f.name in framework_names]
    servers = [SERVERS[name] for name in server_names]
    tests = [TESTS[name] for name in test_names]
    return frameworks, servers, tests


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = args.quick
    frameworks, servers, tests = select(args)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    settings = Settings(
        quick=quick,
        rounds=args.rounds or (1 if quick else 3),
        duration=args.duration or (2.0 if quick else 10.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 3.0),
        connections=args.connections,
        queries=args.queries,
        cold_start_runs=args.cold_start_runs or (3 if quick else 7),
        start_timeout=30.0,
        raw_dir=RESULTS_DIR / "raw" / stamp,
    )
    require_wrk()
    publish = args.publish or not quick
    json_path = RESULTS_DIR / ("latest.json" if publish else "quick.json")
    md_path = DOCS_DIR / "benchmarks.md" if publish else RESULTS_DIR / "quick.md"
    png_path = DOCS_DIR / "benchmarks.png" if publish else RESULTS_DIR / "quick.png"

    schedule = plan(frameworks, servers, tests)
    runs_per_round = sum(len(pairs) for _, pairs in schedule)
    if not runs_per_round:
        raise SystemExit("nothing to run: no framework/server pair implements those tests")
    estimate = settings.rounds * runs_per_round * (settings.duration + settings.warmup + 2.5)
    print(
        f"{settings.rounds} round(s) x {runs_per_round} runs, {settings.duration:g}s + "
        f"{settings.warmup:g}s warm-up each: about {estimate / 60:.0f} min. "
        f"Load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if not args.skip_setup and any(test.needs_db for test in tests):
        run_setup(frameworks)

    started = datetime.now(UTC)
    meta: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            "rounds": settings.rounds,
            "duration_s": settings.duration,
            "warmup_s": settings.warmup,
            "connections": settings.connections,
            "wrk_threads": 1,
            "queries": settings.queries,
            "server_cpu": SERVER_CPU,
            "wrk_cpu": WRK_CPU,
            "pool_size": POOL_SIZE,
            "wsgi_threads": WSGI_THREADS,
            "max_error_ratio": MAX_ERROR_RATIO,
        },
        "frameworks": [f.name for f in frameworks],
        "servers": [s.name for s in servers],
        "tests": [t.name for t in tests],
        "machine": machine_info(),
        "versions": software_versions(frameworks, servers),
        "commands": {s.name: _show_command(s) for s in servers},
    }
    runs: list[dict[str, Any]] = []
    sticky: dict[tuple[str, ...], dict[str, Any]] = {}
    try:
        for round_no in range(1, settings.rounds + 1):
            for test, pairs in schedule:
                # Spread each pair's position over the rounds (0, n/3, 2n/3 for 3 rounds).
                shift = ((round_no - 1) * len(pairs)) // settings.rounds if pairs else 0
                for framework, server in pairs[shift:] + pairs[:shift]:
                    record = _run_or_skip(framework, server, test, settings, round_no, sticky)
                    runs.append(record)
                    print(
                        f"[round {round_no}/{settings.rounds}] {test.name:<9} "
                        f"{framework.name:<9} {server.name:<8} {_describe(record)}",
                        flush=True,
                    )
    except KeyboardInterrupt:
        print("interrupted: writing the results so far")
        meta["interrupted"] = True
    cold = {}
    if not args.no_cold_start and not meta.get("interrupted"):
        cold = cold_starts(frameworks, settings.cold_start_runs)
        cold["first_response"] = first_responses(frameworks, servers, settings)
    meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {"meta": meta, "runs": runs, "cold_start": cold}
    results["summary"] = report.summarize(results)
    # Nothing measured (wrk failing, every server refusing): keep the published report.
    nothing_measured = bool(runs) and not any(r["status"] == "ok" for r in runs)
    if nothing_measured:
        json_path, md_path, png_path = (
            RESULTS_DIR / f"failed.{ext}" for ext in ("json", "md", "png")
        )
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    report.write(results, md_path, png_path)
    print(f"results: {_shown(json_path)}")
    print(f"report:  {_shown(md_path)} and {_shown(png_path)}")
    print(f"raw wrk output and server logs: {_shown(settings.raw_dir)}")
    if nothing_measured:
        print(f"no run was measured ({len(runs)} failed): the published report is unchanged")
        return 1
    return 0


def _shown(path: Path) -> Path:
    """``path`` from the repository's root when it is in the repository."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _show_command(server: Server) -> str:
    sample = next(f for f in FRAMEWORKS if server.serves(f))
    parts = server.command(sample, 8000)
    parts[0] = "python"
    return f"taskset -c {SERVER_CPU} " + " ".join(parts)


def _run_or_skip(
    framework: Framework,
    server: Server,
    test: Test,
    settings: Settings,
    round_no: int,
    sticky: dict[tuple[str, ...], dict[str, Any]],
) -> dict[str, Any]:
    """Measure, unless an earlier round showed it cannot work (a start or check failure)."""
    base = {
        "round": round_no,
        "test": test.name,
        "framework": framework.name,
        "server": server.name,
    }
    for key in ((framework.name, server.name), (framework.name, server.name, test.name)):
        if key in sticky:
            return {**base, **sticky[key], "skipped": True}
    record = measure(framework, server, test, settings, round_no)
    status = record["status"]
    if status == "failed_start":
        sticky[(framework.name, server.name)] = {"status": status, "detail": record["detail"]}
    elif status in ("not_implemented", "failed_check"):
        sticky[(framework.name, server.name, test.name)] = {
            "status": status,
            "detail": record["detail"],
        }
    return record


if __name__ == "__main__":
    sys.exit(main())
