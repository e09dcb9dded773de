"""Shared fixtures for carboy's own test suite, and the rule that CI cannot skip.

Under ``CI=true`` (any of ``1``, ``true``, ``yes``), a test that would be
skipped fails instead: a CI run without Chromium, PostgreSQL, MariaDB or an
installed extra must go red, not green with fewer tests. The skips a platform
makes legitimately (the reasons in ``CI_ALLOWED_SKIPS``) stay skips.

``make test`` runs the suite on every core (pytest-xdist, ``--dist loadfile``).
Each test file runs whole on one worker, so its module fixtures (servers,
browsers) start once. Files that share one external resource (``SHARED_RESOURCES``)
take that resource's lock, a file lock that every worker and every other run of the
suite on the machine honours, for as long as their tests run: they run one after
the other, whichever workers they land on.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import IO

import pytest

#: Skip reasons that stay skips under CI: what the platform cannot do, not what CI forgot.
CI_ALLOWED_SKIPS = (
    "a backslash cannot be part of a Windows file name",
    "needs FIFOs",
)


#: Test files that must not run beside each other (on two workers, or in two runs), because
#: they share one external resource: a path prefix (from the repository root) -> the lock
#: their tests hold while they run.
SHARED_RESOURCES = {
    "tests/cache/": "redis-db-15",  # tests/cache/conftest.py flushes Redis db 15 after each test
    "tests/bench/test_peers.py": "bench-database",  # these set up carboy_bench (bench.db_setup)
    "tests/bench/test_page.py": "bench-database",
    "tests/bench/test_inprocess.py": "bench-database",  # creates it when missing
}


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


#: Where the locks of ``SHARED_RESOURCES`` live: one directory for every run on the machine.
LOCK_DIR = Path(tempfile.gettempdir()) / "carboy-test-locks"


def shared_resource_of(path: str) -> str | None:
    """The resource a test file (POSIX path from the root) shares with others, if any."""
    for prefix, resource in SHARED_RESOURCES.items():
        if path.startswith(prefix):
            return resource
    return None


def _resource_of(item: pytest.Item) -> str | None:
    return shared_resource_of(item.path.relative_to(item.config.rootpath).as_posix())


class _ResourceLock:
    """The one shared-resource lock this process holds, if any (``fcntl.flock``)."""

    def __init__(self) -> None:
        self.resource: str | None = None
        self._file: IO[bytes] | None = None

    def hold(self, resource: str | None) -> None:
        """Hold the lock of ``resource`` (waiting for it), or none; a different one goes."""
        if resource == self.resource:
            return
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        self.resource = resource
        if resource is not None:
            LOCK_DIR.mkdir(exist_ok=True)
            self._file = open(LOCK_DIR / f"{resource}.lock", "wb")  # noqa: SIM115 (held across tests)
            fcntl.flock(self._file, fcntl.LOCK_EX)


_resource_lock = _ResourceLock()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Run a test of ``SHARED_RESOURCES`` under its resource's lock.

    The lock is taken before the test's setup (its file's fixtures included) and kept while
    the next test shares it, so a file's module fixtures and their teardown are inside it.
    """
    resource = _resource_of(item)
    _resource_lock.hold(resource)
    try:
        return (yield)
    finally:
        if nextitem is None or _resource_of(nextitem) != resource:
            _resource_lock.hold(None)


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
