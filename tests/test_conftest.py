"""tests/conftest.py: under CI=true a skip fails the run, except a platform-legit one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CI_ALLOWED_SKIPS

CONFTEST = Path(__file__).with_name("conftest.py")

SKIPPING_TESTS = """
import os
import pytest

@pytest.fixture
def service():
    pytest.skip("PostgreSQL cannot be reached")

def test_skips_in_body():
    pytest.skip("no Chromium")

@pytest.mark.skipif(True, reason="no Redis")
def test_skipif_marker():
    pass

@pytest.mark.skip(reason="later")
def test_skip_marker():
    pass

def test_skips_in_fixture(service):
    pass

@pytest.mark.skipif(True, reason="needs FIFOs")
def test_platform_skip():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False

def test_passes():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_skips=SKIPPING_TESTS)
    return pytester


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_under_ci_every_skip_fails_but_the_allowlisted(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    result = suite.runpytest("-rA")
    # body skip -> failed; marker and fixture skips happen in setup -> errors.
    result.assert_outcomes(passed=1, failed=1, errors=3, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skipped under CI=true, which fails the run: no Chromium*"])
    result.stdout.fnmatch_lines(["*skipped under CI=true*: PostgreSQL cannot be reached*"])
    result.stdout.fnmatch_lines(["*skipped under CI=true*: no Redis*"])
    result.stdout.fnmatch_lines(["SKIPPED *needs FIFOs"])


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_skips_stay_skips(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=5, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_under_ci_a_module_level_skip_fails_collection(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_extra="import pytest\npytest.importorskip('no_such_extra')\n")
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*skipped under CI=true*no_such_extra*"])
    monkeypatch.delenv("CI")
    assert pytester.runpytest().ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_every_allowed_skip_is_a_reason_the_suite_gives() -> None:
    sources = "\n".join(
        p.read_text() for p in CONFTEST.parent.rglob("test_*.py") if p != Path(__file__)
    )
    for reason in CI_ALLOWED_SKIPS:
        assert f'reason="{reason}"' in sources, reason
