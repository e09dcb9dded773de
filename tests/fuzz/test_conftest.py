"""tests/fuzz/conftest.py: ``--fuzz`` runs long, and every run replays the committed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.conftest import LONG_EXAMPLES, QUICK_EXAMPLES

HERE = Path(__file__).parent

PRINT_SETTINGS = """
from hypothesis import settings

def test_settings():
    current = settings.default
    print("EXAMPLES", current.max_examples)
    print("DATABASE", type(current.database).__name__, current.database)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest((HERE.parent / "conftest.py").read_text())
    fuzz = pytester.mkpydir("fuzzdir")
    (fuzz / "conftest.py").write_text((HERE / "conftest.py").read_text())
    (fuzz / "test_print.py").write_text(PRINT_SETTINGS)
    return pytester


@pytest.mark.parametrize(
    ("args", "ci", "examples", "database"),
    [
        ((), "", QUICK_EXAMPLES, "DirectoryBasedExampleDatabase"),
        (("--fuzz", "--fuzz-examples", "7"), "true", 7, "ReadOnlyDatabase"),
    ],
)
def test_profile(
    suite: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    ci: str,
    examples: int,
    database: str,
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(HERE.parents[1]))
    result = suite.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"*EXAMPLES {examples}", f"DATABASE {database}*"])
    # CI too reads the committed database (hypothesis's own CI profile has none).
    result.stdout.fnmatch_lines(["*fuzzdir/examples')*"])


def test_the_long_run_is_long() -> None:
    assert LONG_EXAMPLES >= 10 * QUICK_EXAMPLES
