"""bench.inprocess drives apps with no server, over ASGI and over RSGI, and checks their answers.

The timings are not asserted: only that every app answered each test right, was
timed, and (over RSGI) that carboy ran its start-up the way granian runs it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import db_setup
from bench.apps import bare_rsgi_app, bare_secure_rsgi_app
from bench.inprocess import RSGIHeaders, RSGIProtocol, RSGIScope, time_rsgi
from bench.process import ROOT, subprocess_env
from tests.db.conftest import require_postgres

TESTS = "plaintext,json,/users/42"


def run(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "inprocess.json"
    command = [sys.executable, "-m", "bench.inprocess", *args]
    command += ["--tests", TESTS, "-n", "200", "--repeat", "2", "--warmup", "20", "--cpu", "-1"]
    done = subprocess.run(
        [*command, "--json", str(out)],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def assert_timed(result: dict[str, Any]) -> None:
    assert result["status"] == "ok", result
    for test in TESTS.split(","):
        figure = result["tests"][test]
        assert figure["status"] == "ok", (test, figure)
        assert figure["ns_best"] > 0 and len(figure["samples_ns"]) == 2


@pytest.fixture(scope="module")
def bench_database() -> None:
    """carboy's TechEmpower app opens its pool at start-up: its database must exist."""
    require_postgres()
    db_setup.ensure_database()


def test_over_rsgi_carboy_starts_as_under_granian_and_every_baseline_answers(
    bench_database: None, tmp_path: Path
) -> None:
    results = run(tmp_path, "--interface", "rsgi", "--only", "carboy,bare_secure_rsgi")
    assert results["settings"]["interface"] == "rsgi"
    frameworks = results["results"]
    assert set(frameworks) == {"bare_rsgi", "bare_secure_rsgi", "carboy"}
    for result in frameworks.values():
        assert result["interface"] == "rsgi"
        assert_timed(result)
    assert frameworks["carboy"]["lifespan"] == "ok"
    assert frameworks["bare_rsgi"]["lifespan"] == "n/a (RSGI callable)"


def test_over_asgi_the_bare_callable_is_the_baseline(bench_database: None, tmp_path: Path) -> None:
    results = run(tmp_path, "--only", "carboy")
    frameworks = results["results"]
    assert set(frameworks) == {"bare", "carboy"}
    for result in frameworks.values():
        assert result["interface"] == "asgi"
        assert_timed(result)
    assert frameworks["carboy"]["lifespan"] == "ok"


def test_carboy_over_rsgi_without_a_start_up_builds_itself(tmp_path: Path) -> None:
    results = run(tmp_path, "--interface", "rsgi", "--only", "carboy", "--no-lifespan")
    assert results["results"]["carboy"]["lifespan"] == "skipped"
    assert_timed(results["results"]["carboy"])


def test_the_fake_rsgi_headers_behave_as_granians() -> None:
    headers = RSGIHeaders(((b"host", b"a"), (b"x-many", b"1"), (b"x-many", b"2")))
    assert "host" in headers and "nope" not in headers
    assert headers.get("x-many") == "1" and headers.get("nope", "d") == "d"
    assert headers.get_all("x-many") == ["1", "2"] and headers.get_all("nope") == []
    assert headers.items() == [("host", "a"), ("x-many", "1"), ("x-many", "2")]


@pytest.mark.parametrize("app", [bare_rsgi_app.app, bare_secure_rsgi_app.app])
def test_a_bare_rsgi_callable_is_timed(app: Any) -> None:
    result = asyncio.run(time_rsgi(app, ["plaintext", "json"], 50, 1, 5, "n/a"))
    assert result["tests"]["plaintext"]["status"] == "ok"
    assert result["tests"]["json"]["status"] == "ok"


def test_a_wrong_answer_over_rsgi_is_reported_not_timed() -> None:
    async def wrong(scope: RSGIScope, protocol: RSGIProtocol) -> None:
        protocol.response_bytes(200, [], b"Hello, moon!")

    async def missing(scope: RSGIScope, protocol: RSGIProtocol) -> None:
        protocol.response_bytes(404, [], b"Not Found")

    result = asyncio.run(time_rsgi(wrong, ["plaintext"], 50, 1, 5, "n/a"))
    assert result["tests"]["plaintext"]["status"] == "wrong answer"
    result = asyncio.run(time_rsgi(missing, ["plaintext"], 50, 1, 5, "n/a"))
    assert result["tests"]["plaintext"]["status"] == "not implemented"
