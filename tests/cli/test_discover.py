"""Finding the app: --app / CARBOY_APP, then app.py, main.py, asgi.py, packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from carboy import Carboy
from carboy.cli import AppConfigError, AppImportError, NoAppFoundError, discover_app

from .conftest import WriteFile

APP = """
from carboy import Carboy

app = Carboy(debug=True, name={name!r})
"""


def test_app_py_with_an_app_attribute(write: WriteFile, project: Path) -> None:
    write("app.py", APP.format(name="from-app-py"))
    found = discover_app()
    assert isinstance(found.app, Carboy)
    assert found.app.app_name == "from-app-py"
    assert found.import_string == "app:app"
    assert found.factory is False
    assert found.directory == project


@pytest.mark.parametrize("filename", ["main.py", "asgi.py"])
def test_main_py_and_asgi_py(write: WriteFile, filename: str) -> None:
    write(filename, APP.format(name=filename[:-3]))
    found = discover_app()
    assert found.app.app_name == filename[:-3]
    assert found.import_string == f"{filename[:-3]}:app"


def test_app_py_comes_before_main_py(write: WriteFile) -> None:
    write("main.py", APP.format(name="main"))
    write("app.py", APP.format(name="app"))
    assert discover_app().app.app_name == "app"


def test_a_create_app_factory(write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy

        calls = []


        def create_app() -> Carboy:
            calls.append(1)
            return Carboy(debug=True, name="made")
        """,
    )
    found = discover_app()
    assert found.app.app_name == "made"
    assert found.factory is True
    assert found.import_string == "app:create_app"
    import app  # type: ignore[import-not-found]

    assert app.calls == [1]


def test_the_only_carboy_instance_under_another_name(write: WriteFile) -> None:
    write("app.py", "from carboy import Carboy\n\napplication = Carboy(debug=True)\n")
    assert discover_app().import_string == "app:application"


def test_several_instances_without_app_is_ambiguous(write: WriteFile) -> None:
    write("app.py", "from carboy import Carboy\n\none = Carboy()\ntwo = Carboy()\n")
    with pytest.raises(NoAppFoundError) as info:
        discover_app()
    assert "several Carboy apps (app:one, app:two)" in info.value.message
    assert "--app app:one" in info.value.message


def test_the_layout_carboy_new_makes(write: WriteFile) -> None:
    write("mysite/__init__.py", "")
    write("mysite/app.py", APP.format(name="mysite"))
    write("tests/conftest.py", "raise RuntimeError('tests must not be imported')\n")
    found = discover_app()
    assert found.app.app_name == "mysite"
    assert found.import_string == "mysite.app:app"


def test_the_package_named_like_the_folder_comes_first(write: WriteFile) -> None:
    write("aaa/__init__.py", "")
    write("aaa/app.py", APP.format(name="aaa"))
    write("proj/__init__.py", "")  # the project folder is called "proj"
    write("proj/app.py", APP.format(name="proj"))
    assert discover_app().app.app_name == "proj"


def test_other_packages_alphabetically(write: WriteFile) -> None:
    write("bbb/__init__.py", "")
    write("bbb/app.py", APP.format(name="bbb"))
    write("aaa/__init__.py", "")
    write("aaa/app.py", APP.format(name="aaa"))
    assert discover_app().app.app_name == "aaa"


def test_a_package_init_that_creates_the_app(write: WriteFile) -> None:
    write("web/__init__.py", APP.format(name="init"))
    found = discover_app()
    assert found.app.app_name == "init"
    assert found.import_string == "web:app"


def test_a_package_hidden_by_a_module_of_the_same_name(write: WriteFile) -> None:
    write("site/__init__.py", APP.format(name="hidden"))
    with pytest.raises(NoAppFoundError) as info:
        discover_app()
    assert info.value.message.startswith(
        "site/__init__.py cannot be imported as 'site': that name is taken by "
    )
    assert "Rename your module or package." in info.value.message


def test_packages_that_do_not_mention_an_app_are_not_imported(write: WriteFile) -> None:
    write("scripts/__init__.py", "raise RuntimeError('imported by discovery')\n")
    with pytest.raises(NoAppFoundError) as info:
        discover_app()
    assert "looked for app.py, main.py, asgi.py, <package>/app.py" in info.value.message


def test_a_folder_inside_a_package_imports_with_the_package_name(
    write: WriteFile, project: Path
) -> None:
    write("inner/__init__.py", "")
    write("inner/views.py", "TITLE = 'from views'\n")
    write(
        "inner/app.py",
        """
        from carboy import Carboy

        from .views import TITLE

        app = Carboy(debug=True, name=TITLE)
        """,
    )
    found = discover_app(directory=project / "inner")
    assert found.app.app_name == "from views"
    assert found.import_string == "inner.app:app"
    assert found.directory == project


def test_nothing_found_says_what_was_tried_and_what_to_do(project: Path) -> None:
    with pytest.raises(NoAppFoundError) as info:
        discover_app()
    message = info.value.message
    assert message.startswith(f"No carboy app found in {project}: looked for app.py, main.py,")
    assert "--app module:attr" in message
    assert "CARBOY_APP" in message
    assert "carboy new" in message


def test_a_file_without_an_app_is_named_in_the_message(write: WriteFile) -> None:
    write("app.py", "x = 1\n")
    with pytest.raises(NoAppFoundError) as info:
        discover_app()
    assert "app.py (it has no `app` or `create_app`)" in info.value.message


# -- an explicit location ----------------------------------------------------------
def test_spec_module_and_attribute(write: WriteFile) -> None:
    write("web/__init__.py", "")
    write("web/server.py", APP.format(name="server").replace("app =", "web_app ="))
    found = discover_app("web.server:web_app")
    assert found.app.app_name == "server"
    assert found.import_string == "web.server:web_app"


def test_spec_module_only_finds_the_app_in_it(write: WriteFile) -> None:
    write("server.py", APP.format(name="server"))
    assert discover_app("server").import_string == "server:app"


def test_spec_a_factory_is_called(write: WriteFile) -> None:
    write(
        "factory.py",
        "from carboy import Carboy\n\ndef make(debug: bool = True) -> Carboy:\n"
        "    return Carboy(debug=debug, name='made')\n",
    )
    found = discover_app("factory:make")
    assert (found.app.app_name, found.factory) == ("made", True)


def test_spec_a_file_path(write: WriteFile, project: Path) -> None:
    write("deploy/serve.py", APP.format(name="by-path"))
    found = discover_app("deploy/serve.py:app")
    assert found.app.app_name == "by-path"
    assert found.import_string == "serve:app"
    assert found.directory == project / "deploy"


def test_spec_a_missing_file(project: Path) -> None:
    with pytest.raises(NoAppFoundError, match=r"there is no file .*nowhere\.py"):
        discover_app("nowhere.py:app")


@pytest.mark.parametrize("spec", ["mysite.app:", "my-site:app", "a:b:c", "app:1x", "a..b:app"])
def test_spec_malformed(spec: str, project: Path) -> None:
    with pytest.raises(NoAppFoundError) as info:
        discover_app(spec)
    assert "is not a module:attr location" in info.value.message


def test_spec_missing_module(project: Path) -> None:
    with pytest.raises(NoAppFoundError) as info:
        discover_app("missing_module_xyz:app")
    assert "no module named 'missing_module_xyz' can be imported" in info.value.message


def test_spec_missing_attribute(write: WriteFile) -> None:
    write("server.py", APP.format(name="server"))
    with pytest.raises(NoAppFoundError, match="module 'server' has no attribute 'nope'"):
        discover_app("server:nope")


def test_spec_an_attribute_that_is_no_app(write: WriteFile) -> None:
    write("server.py", "number = 3\n")
    with pytest.raises(NoAppFoundError, match="server:number is a int, not a Carboy app"):
        discover_app("server:number")


def test_spec_a_module_without_an_app(write: WriteFile) -> None:
    write("server.py", "number = 3\n")
    with pytest.raises(NoAppFoundError, match="name the attribute: --app server:<name>"):
        discover_app("server")


def test_a_factory_that_needs_arguments(write: WriteFile) -> None:
    write("app.py", "def create_app(config):\n    raise AssertionError\n")
    with pytest.raises(NoAppFoundError, match=r"takes arguments \(config\)"):
        discover_app()


def test_a_factory_that_returns_something_else(write: WriteFile) -> None:
    write("app.py", "def create_app():\n    return 42\n")
    with pytest.raises(NoAppFoundError, match=r"app:create_app\(\) returned 42, not a Carboy"):
        discover_app()


def test_a_factory_that_raises_keeps_its_traceback(write: WriteFile) -> None:
    write("app.py", "def create_app():\n    return {}['missing']\n")
    with pytest.raises(AppImportError) as info:
        discover_app()
    assert info.value.message == "Calling app:create_app() failed: KeyError: 'missing'"
    assert 'app.py", line 2, in create_app' in info.value.details


# -- the user's own errors ---------------------------------------------------------
def test_an_error_in_the_users_module_shows_its_traceback(write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy


        def settings_from_file():
            return 1 / 0


        app = Carboy(debug=settings_from_file())
        """,
    )
    with pytest.raises(AppImportError) as info:
        discover_app()
    assert info.value.message == "Importing 'app' failed: ZeroDivisionError: division by zero"
    details = info.value.details
    assert details.startswith("Traceback (most recent call last):\n  File ")
    assert 'app.py", line 8, in <module>' in details
    assert 'app.py", line 5, in settings_from_file' in details
    assert "importlib" not in details
    assert "_discover.py" not in details


def test_a_syntax_error_points_at_the_line(write: WriteFile) -> None:
    write("app.py", "def broken(:\n    pass\n")
    with pytest.raises(AppImportError) as info:
        discover_app()
    assert info.value.message.startswith("Importing 'app' failed: SyntaxError")
    assert 'app.py", line 1' in info.value.details
    assert "importlib" not in info.value.details


def test_a_missing_dependency_is_the_users_error_not_a_missing_app(write: WriteFile) -> None:
    write("app.py", "import not_installed_library_xyz\n")
    with pytest.raises(AppImportError) as info:
        discover_app()
    assert "No module named 'not_installed_library_xyz'" in info.value.message


def test_a_configuration_error_at_import_is_reported_without_traceback(
    write: WriteFile,
) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy
        from carboy.settings import Settings

        app = Carboy(Settings(max_body_size=0))
        """,
    )
    with pytest.raises(AppConfigError) as info:
        discover_app()
    assert info.value.message.startswith("While importing 'app': 1 setting is invalid")
    assert "max_body_size (environment variable CARBOY_MAX_BODY_SIZE)" in info.value.message
    assert info.value.details == ""
    assert 'app.py", line 4, in <module>' in info.value.full_traceback
