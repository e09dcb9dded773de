"""Fixtures for the ``carboy`` command's tests: a project folder and a runner."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from carboy.cli import cli

WriteFile = Callable[[str, str], Path]
Invoke = Callable[..., Result]


def _is_under(module: object, folder: str) -> bool:
    places = [getattr(module, "__file__", None) or ""]
    places.extend(getattr(module, "__path__", None) or [])
    return any(str(place).startswith(folder) for place in places)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder, made the working directory, with no CARBOY_* settings.

    Modules imported from it are dropped afterwards, so every test can have
    its own ``app.py``; ``sys.path`` is restored.
    """
    folder = tmp_path / "proj"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in list(os.environ):
        if name.startswith("CARBOY_") or name in ("COLUMNS", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield folder
    for name, module in list(sys.modules.items()):
        if _is_under(module, str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def write(project: Path) -> WriteFile:
    """``write("pkg/app.py", source)``: a file in the project, source dedented."""

    def write_file(relative: str, source: str) -> Path:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
        return path

    return write_file


@pytest.fixture
def invoke(project: Path) -> Invoke:
    """Run ``carboy ARGS...`` in-process; keyword arguments go to ``CliRunner.invoke``."""

    def run(*args: str, **kwargs: object) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture
def hello_app(write: WriteFile) -> Path:
    """``app.py`` with a debug app named "hello" and one route."""
    return write(
        "app.py",
        """
        from carboy import Carboy

        app = Carboy(debug=True, name="hello")


        @app.get("/")
        async def home() -> str:
            return "<h1>hi</h1>"
        """,
    )
