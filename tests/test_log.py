"""carboy.log: configure_logging, text and JSON lines, the rate-limited logger."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from carboy import Carboy, Settings, configure_logging
from carboy.log import RUN_LOG_LEVEL_ENV, TEXT_FORMAT, JSONFormatter, RateLimitedLogger
from carboy.testing import TestClient

KEY = "k3J9xQ2mV7pL0aZr8TtY5uWc1bN4sD6fG-hE_iO2qR9yU3vX7zA0"


@pytest.fixture(autouse=True)
def restore_carboy_logger() -> Iterator[None]:
    logger = logging.getLogger("carboy")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_text_format_is_the_default() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    logging.getLogger("carboy.security").warning("Rejected %s", "x")
    line = out.getvalue().strip()
    assert line.endswith(" WARNING carboy.security: Rejected x")
    assert TEXT_FORMAT == "%(asctime)s %(levelname)s %(name)s: %(message)s"


def test_json_lines_carry_the_extra_fields() -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=out)
    logging.getLogger("carboy.request").info("GET / 200", extra={"status": 200, "path": "/"})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("carboy.error").exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["logger"] == "carboy.request"
    assert (first["level"], first["message"], first["status"], first["path"]) == (
        "INFO",
        "GET / 200",
        200,
        "/",
    )
    assert first["time"].endswith("Z")
    assert "ValueError: boom" in second["exception"]


def test_calling_it_again_replaces_its_handler() -> None:
    first = configure_logging(stream=io.StringIO())
    second = configure_logging(stream=io.StringIO())
    handlers = logging.getLogger("carboy").handlers
    assert second in handlers
    assert first not in handlers


def test_level() -> None:
    out = io.StringIO()
    configure_logging(level="WARNING", stream=out)
    logging.getLogger("carboy.request").info("hidden")
    assert out.getvalue() == ""


def test_carboy_run_marker_configures_every_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_LOG_LEVEL_ENV, "warning")
    Carboy(Settings(secret_key=KEY, log_format="json")).build()
    (handler,) = [h for h in logging.getLogger("carboy").handlers if getattr(h, "_carboy", 0)]
    assert isinstance(handler.formatter, JSONFormatter)
    assert logging.getLogger("carboy").level == logging.WARNING


def test_without_the_marker_building_touches_no_logger() -> None:
    before = list(logging.getLogger("carboy").handlers)
    Carboy(Settings(secret_key=KEY)).build()
    assert logging.getLogger("carboy").handlers == before


def test_rate_limited_logger(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLogger(logging.getLogger("carboy.db"), interval=60)
    with caplog.at_level(logging.WARNING, logger="carboy.db"):
        assert log.warning("down: %s", 1) is True
        assert [log.warning("down: %s", n) for n in range(3)] == [False] * 3
        log._next = 0.0
        assert log.warning("down: %s", 9) is True
    assert [r.getMessage() for r in caplog.records] == [
        "down: 1",
        "down: 9 (3 more like it in the last 60s not logged)",
    ]


def test_refused_hosts_go_to_carboy_security(caplog: pytest.LogCaptureFixture) -> None:
    app = Carboy(Settings(secret_key=KEY, allowed_hosts=["example.com"]))

    @app.get("/")
    async def home() -> str:
        return "hi"

    with caplog.at_level(logging.WARNING, logger="carboy.security"):
        assert TestClient(app, "http://evil.com").get("/").status_code == 400
    assert [r.name for r in caplog.records] == ["carboy.security"]
    assert "evil.com" in caplog.records[0].getMessage()


def test_loggers_disabled_by_file_config_are_enabled_again() -> None:
    logger = logging.getLogger("carboy.request")
    logger.disabled = True  # what logging.config.fileConfig does to existing loggers
    try:
        out = io.StringIO()
        configure_logging(stream=out)
        logger.info("back")
        assert "back" in out.getvalue()
    finally:
        logger.disabled = False
