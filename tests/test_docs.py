"""Every ``python`` code block in docs/ runs, so the docs cannot drift from the code.

A block fenced as ```` ```python ```` is executed in a fresh namespace, in a
temporary working directory; fragments that cannot run alone are fenced as
```` ```python no-run ```` (or another language) and are skipped.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((page.relative_to(DOCS).as_posix(), line, match.group(1)))
    return found


BLOCKS = _blocks()


def test_docs_have_examples() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize(("page", "line", "code"), BLOCKS, ids=[f"{p}:{n}" for p, n, _ in BLOCKS])
def test_doc_example_runs(
    page: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CARBOY_DEBUG", "CARBOY_SECRET_KEY", "CARBOY_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    name = f"docs_{page.replace('.', '_').replace('-', '_').replace('/', '_')}_{line}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    # dont_inherit: the example must not pick up this file's __future__ imports.
    exec(compile(code, f"{DOCS / page}:{line}", "exec", dont_inherit=True), module.__dict__)
