"""carboy's full-stack ``/page`` bench app answers the harness's check, in-process.

In-process through carboy's test client, and for every framework with a
``/page`` as ``bench.run`` serves it (a server process). Needs PostgreSQL: the
bench database is set up here (``bench.db_setup``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench import checks
from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DATABASE_URL
from bench.process import ROOT, ServerProcess, free_port, subprocess_env
from bench.suite import FRAMEWORKS, FRAMEWORKS_BY_NAME, SERVERS, TESTS, Framework
from carboy.testing import TestClient


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    try:
        psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL for the bench database: {exc}")
    from bench import db_setup

    db_setup.ensure_database()
    db_setup.seed_tables()
    assert db_setup.setup_apps(("carboy",)) == {"carboy": "ok"}
    from bench.apps.carboy_page_app import app

    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


class _Through:
    """``checks.Client`` over the in-process test client (same checks, no server)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Any = None
    ) -> checks.Response:
        self.client.cookies.clear()  # only what the check sends counts
        answer = self.client.request(method, path, content=body, headers=headers or {})
        message = checks.Message()
        for name, value in answer.headers.multi_items():
            message[name] = value
        return checks.Response(answer.status_code, message, answer.content)

    def get(self, path: str, headers: Any = None) -> checks.Response:
        return self.request("GET", path, headers=headers)


@pytest.mark.parametrize("check", [checks.check_page, checks.check_page_sync])
def test_page_passes_the_harness_check(client: TestClient, check: checks.Check) -> None:
    headers = check(_Through(client), 1, {})  # type: ignore[arg-type]
    assert headers["Cookie"].startswith("session=")
    # The cookie the check returns is what wrk sends: it still signs in.
    assert check(_Through(client), 1, headers) == headers  # type: ignore[arg-type]


def test_page_without_a_session_is_not_served(client: TestClient) -> None:
    client.cookies.clear()
    answer = client.get("/page", headers={"accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/login")
    assert client.get("/page-sync", headers={"accept": "application/json"}).status_code == 401


def test_a_forged_session_cookie_is_refused(client: TestClient) -> None:
    headers = checks.check_page(_Through(client), 1, {})  # type: ignore[arg-type]
    forged = headers["Cookie"][:-2] + ("AA" if not headers["Cookie"].endswith("AA") else "BB")
    client.cookies.clear()
    answer = client.get("/page", headers={"cookie": forged, "accept": "application/json"})
    assert answer.status_code == 401


def test_login_refuses_a_wrong_password(client: TestClient) -> None:
    client.cookies.clear()
    answer = client.post("/login", data={"username": BENCH_USERNAME, "password": "no"})
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    assert BENCH_PASSWORD != "no"


PAGE_FRAMEWORKS = [f for f in FRAMEWORKS if "page" in f.tests]


@pytest.mark.slow
@pytest.mark.parametrize("framework", PAGE_FRAMEWORKS, ids=[f.name for f in PAGE_FRAMEWORKS])
def test_every_page_passes_its_check_served(framework: Framework, tmp_path: Path) -> None:
    """Each framework's /page (and carboy's /page-sync) as bench.run serves and checks it."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.db_setup", "--only", framework.name],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    server = SERVERS["uvicorn" if framework.interface == "asgi" else "granian"]
    port = free_port()
    command = server.command(framework.for_test("page"), port)
    with ServerProcess(command, tmp_path / f"{framework.name}.log", cpu=None) as process:
        process.wait_ready(port, "/login", timeout=30)
        for name in ("page", "page_sync"):
            if name in framework.tests:
                headers = TESTS[name].check(checks.Client(port), 1, {})
                assert headers["Cookie"]
                assert TESTS[name].check(checks.Client(port), 1, headers) == headers


def _in_fresh_interpreter(code: str, **env: str) -> str:
    """``code``'s output in a new interpreter; an empty value unsets that variable."""
    merged = {**subprocess_env(), **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={name: value for name, value in merged.items() if value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("url", "store"), [("", "CookieStore"), ("database://", "DatabaseStore")])
def test_bench_sessions_url_picks_carboys_session_store(url: str, store: str) -> None:
    code = (
        "from bench.apps.carboy_page_app import app, auth; app.build(); "
        "print(type(auth.session_store).__name__)"
    )
    assert _in_fresh_interpreter(code, BENCH_SESSIONS_URL=url) == store


@pytest.mark.parametrize(("engine", "expected"), [("", "db"), ("signed_cookies", "signed_cookies")])
def test_bench_django_sessions_picks_djangos_session_engine(engine: str, expected: str) -> None:
    code = (
        "from django.conf import settings; import bench.apps.django_app; "
        "print(settings.SESSION_ENGINE)"
    )
    assert (
        _in_fresh_interpreter(code, BENCH_DJANGO_SESSIONS=engine)
        == f"django.contrib.sessions.backends.{expected}"
    )


def test_the_harness_serves_carboys_page_tests_from_its_page_app() -> None:
    carboy = FRAMEWORKS_BY_NAME["carboy"]
    assert carboy.for_test("page").target == "bench.apps.carboy_page_app:app"
    assert carboy.for_test("page_sync").target == "bench.apps.carboy_page_app:app"
    assert carboy.for_test("plaintext").target == "bench.apps.carboy_app:app"
    assert FRAMEWORKS_BY_NAME["django"].for_test("page").target == "bench.apps.django_app:app"
