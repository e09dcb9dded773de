"""Hypothesis settings of the fuzz suite: a quick run by default, a long one with ``--fuzz``.

Failing cases hypothesis finds are kept in ``tests/fuzz/examples/`` (committed):
every run, CI included, replays them first. Hypothesis's own CI profile would
turn that database off, so the suite always loads one of its own profiles.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

from tests.conftest import under_ci
from tests.fuzz.app import build
from tests.fuzz.rsgi import over_rsgi

#: The committed database of the cases hypothesis found.
EXAMPLES = Path(__file__).with_name("examples")
#: Examples per test in a plain run (several tests: a few hundred in all, seconds).
QUICK_EXAMPLES = 60
#: Examples per test under ``--fuzz`` (``--fuzz-examples`` to change).
LONG_EXAMPLES = 5000


def pytest_configure(config: pytest.Config) -> None:
    database = DirectoryBasedExampleDatabase(EXAMPLES)
    common = {
        # CI replays the committed cases but writes nothing into its checkout.
        "database": ReadOnlyDatabase(database) if under_ci() else database,
        "deadline": None,  # a shared CI machine: slowness is not a finding
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        "print_blob": True,
    }
    settings.register_profile("carboy-quick", max_examples=QUICK_EXAMPLES, **common)
    examples = config.getoption("--fuzz-examples") or LONG_EXAMPLES
    settings.register_profile("carboy-fuzz", max_examples=examples, **common)
    long_run = config.getoption("--fuzz") or os.environ.get("CARBOY_FUZZ") == "1"
    settings.load_profile("carboy-fuzz" if long_run else "carboy-quick")


@pytest.fixture(
    scope="module",
    params=[("asgi", False), ("asgi", True), ("rsgi", False), ("rsgi", True)],
    ids=["asgi-production", "asgi-debug", "rsgi-production", "rsgi-debug"],
)
def app(request: pytest.FixtureRequest) -> Any:
    """The fuzz app, production and debug, over ASGI and over its native RSGI entry."""
    interface, debug = request.param
    target = build(debug=debug)
    target.build()
    return target if interface == "asgi" else over_rsgi(target)


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a module's fuzzed calls."""
    with asyncio.Runner() as loop:
        yield loop
