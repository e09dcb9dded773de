"""AccessLogMiddleware and the ``access_log`` setting."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from carboy import Carboy, Settings
from carboy.middleware import RequestIdMiddleware
from carboy.testing import TestClient

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"


def make_app(**settings: Any) -> Carboy:
    app = Carboy(Settings(secret_key=KEY, allowed_hosts=["testserver"], **settings))

    @app.get("/items")
    async def items() -> list[int]:
        return [1]

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("boom")

    return app


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "carboy.request"]


def test_off_by_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="carboy.request"):
        TestClient(make_app()).get("/items")
    assert records(caplog) == []


def test_one_line_per_request_with_timing(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app(access_log=True), raise_server_exceptions=False)
    with caplog.at_level(logging.INFO, logger="carboy.request"):
        client.get("/items?page=2")
        client.get("/missing")
        client.get("/boom")
        client.get("/items", headers={"host": "evil.com"})  # refused by the Host check
    found = records(caplog)
    assert [(r.method, r.path, r.status) for r in found] == [  # type: ignore[attr-defined]
        ("GET", "/items?page=2", 200),
        ("GET", "/missing", 404),
        ("GET", "/boom", 500),
        ("GET", "/items", 400),
    ]
    first = found[0]
    assert first.duration_ms >= 0  # type: ignore[attr-defined]
    assert first.client == "testclient:50000"  # type: ignore[attr-defined]
    assert first.getMessage().startswith("GET /items?page=2 200 ")
    assert first.getMessage().endswith("ms")


def test_with_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(access_log=True)
    app.add_middleware(RequestIdMiddleware)
    with caplog.at_level(logging.INFO, logger="carboy.request"):
        response = TestClient(app).get("/items")
    (record,) = records(caplog)
    request_id = response.headers["x-request-id"]
    assert record.request_id == request_id  # type: ignore[attr-defined]
    assert record.getMessage().endswith(f" id={request_id}")
