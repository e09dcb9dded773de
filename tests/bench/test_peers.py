"""The new peers and baselines answer every check, served the way bench.run serves them.

Each app runs as a real server process (granian, one worker) for as long as its checks
take; the database tests need PostgreSQL with the bench tables (``bench.db_setup``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.checks import Client, NotImplementedRoute, check_users
from bench.process import ROOT, ServerProcess, free_port, subprocess_env
from bench.suite import FRAMEWORKS, FRAMEWORKS_BY_NAME, SERVERS, TESTS, Framework, Server


@pytest.fixture(scope="module", autouse=True)
def bench_database() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.db_setup", "--only", "blacksheep"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def serve(framework: Framework, server: Server, tmp_path: Path) -> Iterator[Client]:
    port = free_port()
    log = tmp_path / f"{framework.name}-{server.name}.log"
    with ServerProcess(server.command(framework, port), log, cpu=None) as process:
        process.wait_ready(port, "/plaintext", timeout=30, status=200)
        yield Client(port)


@pytest.mark.parametrize(
    ("name", "server"),
    [
        ("blacksheep", "granian"),
        ("blacksheep", "uvicorn"),
        ("bare_rsgi", "granian-rsgi"),
        ("bare_secure_rsgi", "granian-rsgi"),
        ("bare_scope_rsgi", "granian-rsgi"),
    ],
)
def test_new_app_passes_every_check_of_its_tests(name: str, server: str, tmp_path: Path) -> None:
    framework = FRAMEWORKS_BY_NAME[name]
    assert SERVERS[server].serves(framework)
    for client in serve(framework, SERVERS[server], tmp_path):
        for test_name in framework.tests:
            TESTS[test_name].check(client, 20, {})
        with pytest.raises(NotImplementedRoute):  # the check tells "not there" from "wrong"
            TESTS["page"].check(client, 20, {})


USERS_FRAMEWORKS = [f.name for f in FRAMEWORKS if "users" in f.tests]


def test_every_framework_but_the_header_baseline_has_the_users_test() -> None:
    assert set(USERS_FRAMEWORKS) == set(FRAMEWORKS_BY_NAME) - {"bare_secure"}


@pytest.mark.parametrize("name", USERS_FRAMEWORKS)
def test_users_route_parses_an_int_path_parameter(name: str, tmp_path: Path) -> None:
    framework = FRAMEWORKS_BY_NAME[name]
    server = SERVERS["granian-rsgi" if framework.interface == "rsgi" else "granian"]
    for client in serve(framework, server, tmp_path):
        check_users(client, 20, {})
        assert client.get("/users/forty-two").status in (404, 422)


def test_carboy_runs_under_granian_rsgi_through_its_rsgi_entry(tmp_path: Path) -> None:
    carboy = FRAMEWORKS_BY_NAME["carboy"]
    server = SERVERS["granian-rsgi"]
    command = server.command(carboy, 8000)
    assert command[command.index("--interface") + 1] == "rsgi"
    # The same worker and loop options as the granian ASGI server, nothing else differs.
    asgi = SERVERS["granian"].command(carboy, 8000)
    assert [x for x in command if x != "rsgi"] == [x for x in asgi if x != "asgi"]
    for client in serve(carboy, server, tmp_path):
        for test_name in ("plaintext", "json", "users", "db"):
            TESTS[test_name].check(client, 20, {})


def test_granian_rsgi_serves_only_rsgi_capable_apps() -> None:
    served = {f.name for f in FRAMEWORKS if SERVERS["granian-rsgi"].serves(f)}
    assert served == {"carboy", "bare_rsgi", "bare_secure_rsgi", "bare_scope_rsgi"}
    assert not SERVERS["granian"].serves(FRAMEWORKS_BY_NAME["bare_rsgi"])
    assert not SERVERS["uvicorn"].serves(FRAMEWORKS_BY_NAME["bare_rsgi"])
