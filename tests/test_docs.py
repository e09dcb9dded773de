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
    _run_example(page, line, code, tmp_path, monkeypatch)


LEAKY_EXAMPLE = """
from carboy.db import Model

class DocsMember(Model):
    pass
"""


def test_an_example_takes_its_models_off_the_shared_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: docs/db.md's ``Member`` stayed on ``Model`` for the rest of the process,
    and tests/auth's own ``Member`` then failed ("Table 'member' is already defined")."""
    from carboy.db import Model

    for _ in range(2):  # the second definition of the same table works as the first
        _run_example("leaky.md", 1, LEAKY_EXAMPLE, tmp_path, monkeypatch)
        assert "docs_member" not in Model.metadata.tables
        assert all(m.class_.__name__ != "DocsMember" for m in Model.registry.mappers)


def _run_example(
    page: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CARBOY_DEBUG", "CARBOY_SECRET_KEY", "CARBOY_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    name = f"docs_{page.replace('.', '_').replace('-', '_').replace('/', '_')}_{line}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    try:
        # dont_inherit: the example must not pick up this file's __future__ imports.
        exec(compile(code, f"{DOCS / page}:{line}", "exec", dont_inherit=True), module.__dict__)
        _validate_api_documents(module)
    finally:
        if "carboy.db" in sys.modules:  # the example's models leave the shared Model with it
            from tests.db.forget import forget_models

            forget_models(name)


def _validate_api_documents(module: types.ModuleType) -> None:
    """The OpenAPI document of every carboy.api API an example made is valid OpenAPI 3.1."""
    if "carboy.api" not in sys.modules:
        return
    from openapi_spec_validator import validate

    from carboy.api import API

    for value in vars(module).values():
        if isinstance(value, API) and value.app is not None:
            validate(value.openapi())


def test_every_api_page_example_makes_a_checked_document() -> None:
    api_blocks = [code for page, _, code in BLOCKS if page.startswith("api/")]
    assert len(api_blocks) >= 8
    assert all("API(" in code for code in api_blocks if "carboy.api" in code)


def test_the_documented_deploy_layout_names_real_settings_and_commands() -> None:
    """docs/deploy/docker-compose.yml: every CARBOY_ variable a setting, every command real."""
    import yaml

    from carboy.cli import cli
    from carboy.settings import Settings

    compose = yaml.safe_load((DOCS / "deploy" / "docker-compose.yml").read_text())
    fields = {f"CARBOY_{name.upper()}" for name in Settings.model_fields}
    environment = compose["x-carboy"]["environment"]
    assert set(environment) <= fields, set(environment) - fields
    commands = {
        service["command"][1]
        for service in compose["services"].values()
        if isinstance(service.get("command"), list) and service["command"][0] == "carboy"
    }
    assert commands == {"migrate", "run", "worker", "beat"}
    assert "run" in cli.commands  # the core's own; worker and beat come with carboy.tasks
    from carboy.tasks._module import _commands

    assert {c.name for c in _commands()} == {"worker", "beat"}
    web = compose["services"]["web"]
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    nginx = (DOCS / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
