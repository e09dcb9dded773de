"""tests/conftest.py: under CI=true a skip fails the run, except a platform-legit one; files
that share a resource (``SHARED_RESOURCES``) never run at once, on any worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CI_ALLOWED_SKIPS, SHARED_RESOURCES, shared_resource_of

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


# Each test records its file, its worker and when it ran.
RECORDING_TESTS = """
import os
import time
import pytest

@pytest.mark.parametrize("n", range(3))
def test_records(n, request):
    start = time.monotonic()
    time.sleep(0.3)
    with open(os.environ["RUNS_LOG"], "a") as log:
        name, worker = request.node.path.name, os.environ["PYTEST_XDIST_WORKER"]
        log.write(f"{name} {worker} {start} {time.monotonic()}\\n")
"""


def _runs_by_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, conftest: str
) -> dict[str, list[tuple[str, float, float]]]:
    """Run two recording files on two workers as ``make test`` does: file -> its runs."""
    log = pytester.path / "runs.log"
    pytester.makeconftest(conftest)
    pytester.makepyfile(**dict.fromkeys(("test_shared_a", "test_shared_b"), RECORDING_TESTS))
    monkeypatch.setenv("RUNS_LOG", str(log))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=6)
    runs: dict[str, list[tuple[str, float, float]]] = {}
    for line in log.read_text().splitlines():
        name, worker, start, end = line.split()
        runs.setdefault(name, []).append((worker, float(start), float(end)))
    return runs


def _span(runs: list[tuple[str, float, float]]) -> tuple[float, float]:
    return min(start for _, start, _ in runs), max(end for _, _, end in runs)


def test_files_sharing_a_resource_run_one_after_the_other(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = f"together-{pytester.path.name}"
    conftest = CONFTEST.read_text() + f'\nSHARED_RESOURCES["test_shared_"] = "{resource}"\n'
    runs = _runs_by_file(pytester, monkeypatch, conftest)
    assert all(len({worker for worker, _, _ in r}) == 1 for r in runs.values()), runs
    (a_start, a_end), (b_start, b_end) = (
        _span(runs["test_shared_a.py"]),
        _span(runs["test_shared_b.py"]),
    )
    assert a_end <= b_start or b_end <= a_start, runs


def test_without_a_shared_resource_two_files_run_at_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the test above: the same files, no resource, overlap in time."""
    runs = _runs_by_file(pytester, monkeypatch, CONFTEST.read_text())
    (a_start, a_end), (b_start, b_end) = (
        _span(runs["test_shared_a.py"]),
        _span(runs["test_shared_b.py"]),
    )
    assert a_start < b_end and b_start < a_end, runs


def test_under_ci_a_skip_fails_on_an_xdist_worker_too(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=1, failed=1, errors=3, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_every_shared_resource_names_files_that_exist() -> None:
    root = CONFTEST.parents[1]
    for prefix, resource in SHARED_RESOURCES.items():
        assert (root / prefix).exists(), prefix
        path = prefix + "test_x.py" if prefix.endswith("/") else prefix
        assert shared_resource_of(path) == resource
    assert shared_resource_of("tests/test_app.py") is None
