"""The public API: one sorted, complete ``__all__`` per public package."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

PACKAGES = [
    "carboy",
    "carboy.admin",
    "carboy.api",
    "carboy.auth",
    "carboy.auth.sessions",
    "carboy.cache",
    "carboy.cli",
    "carboy.db",
    "carboy.forms",
    "carboy.mail",
    "carboy.middleware",
    "carboy.params",
    "carboy.responses",
    "carboy.routing",
    "carboy.testing",
]


def _sort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_complete(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_sort_key)
    assert len(exported) == len(set(exported))
    for name in exported:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but missing"
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").startswith(package)
    }
    unlisted = public - set(exported)
    assert not unlisted, f"{package} exposes names not in __all__: {unlisted}"


def test_core_names_from_the_issue() -> None:
    from carboy import Carboy, Depends, HTTPException, Request, Response, Router  # noqa: F401
    from carboy.testing import TestClient  # noqa: F401


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_have_docstrings(package: str) -> None:
    module = importlib.import_module(package)
    missing = [
        name
        for name in module.__all__
        if (inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name)))
        and not inspect.getdoc(getattr(module, name))
    ]
    assert not missing, f"{package}: no docstring on {missing}"


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("carboy.params", "compile_plan"),
        ("carboy.params", "Context"),
        ("carboy.routing", "RouteTable"),
        ("carboy.routing", "Endpoints"),
    ],
)
def test_internals_are_off_the_public_surface(package: str, name: str) -> None:
    module = importlib.import_module(package)
    assert name not in module.__all__
    assert not hasattr(module, name)


def _fresh_python(code: str) -> list[str]:
    """The lines ``code`` prints in a new interpreter: nothing imported yet."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_import_carboy_leaves_settings_and_templates_until_first_use() -> None:
    # pydantic-settings and Jinja2 cost about 60 ms of `import carboy`: they load
    # when carboy.Settings or the templates are first used, not before.
    heavy = ["jinja2", "pydantic_settings", "carboy.settings", "carboy.templating"]
    out = _fresh_python(
        f"import sys, carboy\nheavy = {heavy!r}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from carboy import Settings, render\n"
        "assert Settings.__module__ == 'carboy.settings' and carboy.render is render\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert out == ["[]", str(sorted(heavy))]


def test_import_carboy_leaves_pydantic_until_first_use() -> None:
    # pydantic costs about a third of `import carboy`: the JSON encoder and the
    # parameter validators load it when they first meet a model or build an adapter.
    heavy = ["pydantic", "pydantic_core", "carboy._json_pydantic"]
    out = _fresh_python(
        f"import sys, carboy\nheavy = {heavy!r}\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "import datetime, pydantic\n"
        "class M(pydantic.BaseModel):\n"
        "    at: datetime.datetime\n"
        "print(carboy.encode_json(M(at=datetime.datetime(2024, 1, 1))).decode())\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert out == ["[]", '{"at":"2024-01-01T00:00:00.000000Z"}', str(sorted(heavy))]


def test_an_unknown_name_of_carboy_is_an_attribute_error() -> None:
    import carboy

    with pytest.raises(AttributeError, match="no attribute 'Setings'"):
        carboy.Setings  # noqa: B018
