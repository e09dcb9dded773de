"""Shared fixtures for carboy's own test suite, and the rule that CI cannot skip.

Under ``CI=true`` (any of ``1``, ``true``, ``yes``), a test that would be
skipped fails instead: a CI run without Chromium, PostgreSQL, MariaDB or an
installed extra must go red, not green with fewer tests. The skips a platform
makes legitimately (the reasons in ``CI_ALLOWED_SKIPS``) stay skips.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

#: Skip reasons that stay skips under CI: what the platform cannot do, not what CI forgot.
CI_ALLOWED_SKIPS = (
    "a backslash cannot be part of a Windows file name",
    "needs FIFOs",
)


def under_ci() -> bool:
    """Whether this run is a CI run (``CI`` set to ``1``, ``true`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (report.skipped and under_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if reason in CI_ALLOWED_SKIPS:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true, which fails the run: {reason}\n"
        "(CI must provide what this test needs; a platform-legit skip goes in "
        "CI_ALLOWED_SKIPS in tests/conftest.py)"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fuzz``: the long run of the fuzz suite (tests/fuzz/)."""
    group = parser.getgroup("carboy")
    group.addoption(
        "--fuzz",
        action="store_true",
        help="run the fuzz suite long (thousands of examples per test, not a few dozen)",
    )
    group.addoption(
        "--fuzz-examples",
        type=int,
        default=None,
        metavar="N",
        help="examples per fuzz test under --fuzz (default 5000)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Turn a test's skip (marker, fixture or body) into a failure under CI."""
    report = yield
    _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Turn a module-level skip (``importorskip``) into a failure under CI."""
    report = yield
    _fail_skip(report)
    return report


@pytest.fixture
def anyio_backend() -> str:
    """carboy targets asyncio (uvicorn, granian, hypercorn all run it)."""
    return "asyncio"
