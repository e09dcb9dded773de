"""carboy's full-stack ``/page`` bench app answers the harness's check, in-process.

Needs the bench database (``python -m bench.db_setup``, run here once): the
tests are skipped when PostgreSQL is not reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from bench import checks
from bench.common import BENCH_PASSWORD, BENCH_USERNAME, DATABASE_URL
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
    from bench.apps.carboy_app import app

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
