"""The report's ratios, issue 18's target verdicts and the run's selection, from fixed data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import report, run, targets
from bench.checks import CheckFailed, check_users


def _run(test: str, framework: str, server: str, rps: float) -> dict[str, Any]:
    return {
        "round": 1,
        "test": test,
        "framework": framework,
        "server": server,
        "status": "ok",
        "rps": rps,
        "p99_ms": 1.0,
        "rss_kib": 3072,
        "rss_largest_kib": 2048,
        "processes": 2,
        "ready_s": 0.5,
    }


RUNS = [
    _run("json", "bare", "uvicorn", 1000.0),
    _run("json", "carboy", "uvicorn", 910.0),  # 0.91x: met (0.90)
    _run("json", "blacksheep", "uvicorn", 850.0),  # 910 / 850 = 1.07x: not met (1.10)
    _run("json", "bare", "granian", 2000.0),
    _run("json", "bare_rsgi", "granian-rsgi", 2400.0),
    _run("json", "carboy", "granian", 1800.0),  # 0.90x bare ASGI: not met (0.95)
    _run("json", "carboy", "granian-rsgi", 2200.0),  # 1.10x ASGI, 0.917x RSGI
    _run("json", "blacksheep", "granian", 1600.0),
    _run("db", "carboy", "granian", 600.0),
    _run("db", "starlette", "granian", 400.0),
    _run("db", "blacksheep", "granian", 500.0),  # the fastest peer: 600 / 500 = 1.2x, met
]


def results() -> dict[str, Any]:
    meta = {
        "started": "2026-12-02T17:00:00+00:00",
        "mode": "full",
        "command": "python -m bench.run",
        "settings": {
            "rounds": 1,
            "duration_s": 10,
            "warmup_s": 3,
            "connections": 64,
            "wrk_threads": 1,
            "queries": 20,
            "server_cpu": 0,
            "wrk_cpu": 1,
            "pool_size": 16,
            "wsgi_threads": 8,
            "max_error_ratio": 0.01,
        },
        "frameworks": ["bare", "bare_rsgi", "carboy", "starlette", "blacksheep"],
        "servers": ["uvicorn", "granian", "granian-rsgi"],
        "tests": ["json", "db"],
        "machine": {
            "cpu_model": "test",
            "nproc": 2,
            "memory_gib": 1.0,
            "kernel": "test",
            "load_average_at_start": [0.0],
        },
        "versions": {},
        "commands": {},
    }
    cold = {
        "baseline": {"status": "ok", "median_ms": 40.0},
        "carboy": {
            "status": "ok",
            "median_ms": 300.0,
            "net_ms": 260.0,
            "framework_import": {"module": "carboy", "status": "ok", "median_ms": 140.0,
                                 "net_ms": 100.0},
        },
        "first_response": {"carboy": {"granian-rsgi": {"status": "ok", "median_s": 0.777}}},
    }  # fmt: skip
    # Through JSON, as bench.report reads a saved results file.
    loaded: dict[str, Any] = json.loads(
        json.dumps({"meta": meta, "runs": RUNS, "cold_start": cold})
    )
    return loaded


def rows() -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["test"], r["framework"], r["server"]): r for r in report.summarize(results())}


def test_ratios_against_bare_asgi_and_bare_rsgi_under_the_same_server() -> None:
    index = rows()
    rsgi = index[("json", "carboy", "granian-rsgi")]
    assert rsgi["vs_bare"] == pytest.approx(2200 / 2000)  # granian's ASGI run of bare
    assert rsgi["vs_bare_rsgi"] == pytest.approx(2200 / 2400)
    asgi = index[("json", "carboy", "granian")]
    assert asgi["vs_bare"] == pytest.approx(0.9)
    assert asgi["vs_bare_rsgi"] == pytest.approx(1800 / 2400)
    uvicorn = index[("json", "blacksheep", "uvicorn")]
    assert uvicorn["vs_bare"] == pytest.approx(0.85)
    assert "vs_bare_rsgi" not in uvicorn  # no bare RSGI under uvicorn
    # No peer speaks RSGI: carboy's RSGI run is compared with the peers under granian.
    assert rsgi["best_peer"] == "blacksheep"
    assert rsgi["vs_best_peer"] == pytest.approx(2200 / 1600)
    assert index[("json", "carboy", "granian")]["rss_worker_mib"] == pytest.approx(2.0)


def verdicts() -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["target"], v["test"]): v for v in targets.evaluate(report.summarize(results()))}


@pytest.mark.parametrize(
    ("target", "test", "ratio", "verdict"),
    [
        ("granian: carboy RSGI ≥ 1.05x bare ASGI", "json", 1.10, "met"),
        ("granian: carboy RSGI ≥ 0.95x bare RSGI", "json", 2200 / 2400, "not met"),
        ("granian: carboy ASGI ≥ 0.95x bare ASGI", "json", 0.90, "not met"),
        ("uvicorn: carboy ≥ 0.90x bare ASGI", "json", 0.91, "met"),
        ("uvicorn: carboy ≥ 1.10x BlackSheep (uvicorn)", "json", 910 / 850, "not met"),
        ("granian: carboy ≥ 1.10x BlackSheep (granian)", "json", 1800 / 1600, "met"),
        ("granian-rsgi: carboy ≥ 1.10x BlackSheep (granian)", "json", 2200 / 1600, "met"),
        ("granian: carboy ≥ 1.15x the fastest peer (granian)", "db", 1.2, "met"),
    ],
)
def test_target_verdicts(target: str, test: str, ratio: float, verdict: str) -> None:
    found = verdicts()[(target, test)]
    assert found["ratio"] == pytest.approx(ratio)
    assert found["verdict"] == verdict


def test_missing_figures_are_not_measured_not_failed() -> None:
    found = verdicts()
    assert found[("granian: carboy RSGI ≥ 1.05x bare ASGI", "plaintext")]["verdict"] == (
        "not measured"
    )
    db_uvicorn = found[("uvicorn: carboy ≥ 1.15x the fastest peer (uvicorn)", "db")]
    assert (db_uvicorn["verdict"], db_uvicorn["ratio"]) == ("not measured", None)


def test_markdown_has_the_targets_the_ratios_and_cold_start() -> None:
    page = report.render_markdown(results(), None)
    assert (
        "| granian: carboy RSGI ≥ 1.05x bare ASGI | json | 2,200 | bare ASGI | 2,000 "
        "| 1.10x | **met** |"
    ) in page
    assert "| granian: carboy ASGI ≥ 0.95x bare ASGI | json | 1,800 | bare ASGI | 2,000 " in page
    assert "vs bare RSGI" in page
    # Results per test: vs bare ASGI, vs bare + headers (not in this run), vs bare RSGI.
    assert "| **carboy** | granian-rsgi | 2,200 | 1.10x | — | 0.92x | 1.38x |" in page
    assert "0.78 s" in page  # carboy's first 200 under granian-rsgi
    assert "100 ms (`carboy`)" in page  # its framework import, net
    assert "2.0 MiB" in page  # worker RSS: the largest process, not the tree's 3 MiB


def test_users_check_rejects_a_wrong_id() -> None:
    class Fixed:
        def get(self, path: str) -> Any:
            from email.message import Message

            from bench.checks import Response

            headers = Message()
            headers["content-type"] = "application/json"
            return Response(200, headers, b'{"id": 4217}')

    with pytest.raises(CheckFailed, match="/users/1"):
        check_users(Fixed(), 20, {})  # type: ignore[arg-type]


def names(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    frameworks, servers, tests = run.select(run.parse_args(argv))
    return [f.name for f in frameworks], [s.name for s in servers], [t.name for t in tests]


def test_only_adds_the_bare_rsgi_baseline_when_granian_rsgi_runs() -> None:
    frameworks, servers, tests = names(
        ["--only", "blacksheep,carboy", "--servers", "granian-rsgi,granian", "--tests", "users"]
    )
    assert frameworks == [
        "bare",
        "bare_rsgi",
        "bare_secure",
        "bare_secure_rsgi",
        "bare_scope_rsgi",
        "carboy",
        "blacksheep",
    ]
    assert servers == ["granian", "granian-rsgi"]
    assert tests == ["users"]
    frameworks, _, _ = names(["--only", "blacksheep", "--servers", "uvicorn"])
    assert frameworks == ["bare", "bare_secure", "blacksheep"]
    frameworks, _, _ = names(["--only", "bare_rsgi", "--no-baseline"])
    assert frameworks == ["bare_rsgi"]
    frameworks, _, _ = names(["--only", "blacksheep", "--tests", "db"])
    assert frameworks == ["blacksheep"]  # no baseline for database tests


def test_plan_puts_carboy_and_bare_rsgi_under_granian_rsgi() -> None:
    frameworks, servers, tests = run.select(
        run.parse_args(["--only", "carboy,blacksheep", "--tests", "users,db"])
    )
    schedule = {test.name: pairs for test, pairs in run.plan(frameworks, servers, tests)}
    users = {(f.name, s.name) for f, s in schedule["users"]}
    assert ("carboy", "granian-rsgi") in users and ("bare_rsgi", "granian-rsgi") in users
    assert ("blacksheep", "granian-rsgi") not in users
    assert ("blacksheep", "uvicorn") in users and ("bare", "granian") in users
    assert {(f.name, s.name) for f, s in schedule["db"]} >= {
        ("carboy", "granian-rsgi"),
        ("blacksheep", "granian"),
    }


def test_unknown_names_are_refused() -> None:
    with pytest.raises(SystemExit, match="blacksheeep"):
        names(["--only", "blacksheeep"])
    with pytest.raises(SystemExit, match="granian-wsgi"):
        names(["--servers", "granian-wsgi"])
