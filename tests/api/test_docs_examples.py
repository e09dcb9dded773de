"""Every API made in docs/api/*.md has a valid OpenAPI 3.1 document (openapi-spec-validator)."""

import sys
import types
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from carboy.api import API
from tests.test_docs import BLOCKS, DOCS

API_BLOCKS = [block for block in BLOCKS if block[0].startswith("api/")]


def test_the_api_pages_have_examples() -> None:
    assert len(API_BLOCKS) >= 5


@pytest.mark.parametrize(
    ("page", "line", "code"), API_BLOCKS, ids=[f"{p}:{n}" for p, n, _ in API_BLOCKS]
)
def test_the_documents_of_the_docs_examples_validate(
    page: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CARBOY_DEBUG", "CARBOY_SECRET_KEY", "CARBOY_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    name = f"docs_api_{page.replace('.', '_').replace('/', '_')}_{line}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(code, f"{DOCS / page}:{line}", "exec", dont_inherit=True), module.__dict__)
    apis = [value for value in vars(module).values() if isinstance(value, API)]
    for api in apis:
        validate(api.openapi())
