"""The ``carboy`` group: lazy app loading, module commands, pass_app, hints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import carboy
from carboy import Carboy, Module
from carboy.cli import cli, pass_app

from .conftest import Invoke, WriteFile

APP_WITH_COMMANDS = """
import click

from carboy import Carboy, Module
from carboy.cli import pass_app

app = Carboy(debug=True, name="cmds")
reports = Module("reports")
app.install(reports)


@reports.command("greet")
@click.option("--shout", is_flag=True)
@pass_app
def greet(app: Carboy, shout: bool) -> None:
    '''Greet from the app.'''
    text = f"hello from {app.app_name}"
    click.echo(text.upper() if shout else text)


@app.command("run")
def not_the_real_run() -> None:
    '''A module command may not replace a built-in one.'''
    click.echo("module run")
"""


def test_help_works_without_an_app(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("new", "run", "routes", "shell", "check"):
        assert f"\n  {name} " in result.output
    assert "Commands of the app's modules" not in result.output
    assert result.stderr == ""


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith(f"carboy {carboy.__version__} (Python 3.")


def test_module_commands_are_added_and_get_the_app(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP_WITH_COMMANDS)
    result = invoke("greet", "--shout")
    assert result.exit_code == 0, result.output
    assert result.output == "HELLO FROM CMDS\n"


def test_help_lists_module_commands_apart(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP_WITH_COMMANDS)
    result = invoke("--help")
    assert result.exit_code == 0
    builtin, _, from_modules = result.output.partition("Commands of the app's modules:")
    assert "  greet  Greet from the app." in from_modules
    assert "greet" not in builtin


def test_built_in_commands_win_over_module_commands(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP_WITH_COMMANDS)
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "Serve the app" in result.output


def test_app_option_and_environment_variable(
    invoke: Invoke, write: WriteFile, project: Path
) -> None:
    write("deploy/server.py", APP_WITH_COMMANDS)
    assert invoke("--app", "deploy/server.py:app", "greet").output == "hello from cmds\n"
    result = invoke("greet", env={"CARBOY_APP": "deploy/server.py"})
    assert result.output == "hello from cmds\n"


def test_unknown_command_without_an_app_hints_why(invoke: Invoke, project: Path) -> None:
    result = invoke("makemigrations")
    assert result.exit_code == 2
    assert "Error: No such command 'makemigrations'." in result.output
    assert "Commands of the app's modules (carboy.db's makemigrations" in result.output
    assert f"No carboy app found in {project}" in result.output


def test_unknown_command_with_an_app_has_no_hint(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", APP_WITH_COMMANDS)
    result = invoke("nonsense")
    assert result.exit_code == 2
    assert "Error: No such command 'nonsense'." in result.output
    assert "are available once the app is found" not in result.output


def test_a_module_command_with_a_broken_app_shows_the_traceback(
    invoke: Invoke, write: WriteFile
) -> None:
    write("app.py", "from carboy import Carboy\n\napp = Carboy(debug=undefined_name)\n")
    result = invoke("greet")
    assert result.exit_code == 1
    assert 'app.py", line 3, in <module>' in result.stderr
    assert "Error: Importing 'app' failed: NameError: name 'undefined_name' is not defined" in (
        result.stderr
    )


def test_help_with_a_broken_app_warns_and_lists_built_in_commands(
    invoke: Invoke, write: WriteFile
) -> None:
    write("app.py", "raise RuntimeError('boom')\n")
    result = invoke("--help")
    assert result.exit_code == 0
    assert "\n  routes " in result.stdout
    assert result.stderr == (
        "Warning: the app could not be loaded, so its modules' commands are not listed: "
        "Importing 'app' failed: RuntimeError: boom\n"
    )


def test_new_never_imports_the_app(invoke: Invoke, write: WriteFile, project: Path) -> None:
    write("app.py", "raise RuntimeError('must not be imported')\n")
    result = invoke("new", "other")
    assert result.exit_code == 0, result.output
    assert (project / "other" / "other" / "app.py").is_file()


def test_an_app_object_can_be_handed_to_the_group(project: Path) -> None:
    app = Carboy(debug=True, name="given")

    @app.get("/given")
    async def given() -> str:
        return ""

    result = CliRunner().invoke(cli, ["routes"], obj=app, catch_exceptions=False)
    assert result.exit_code == 0
    assert "/given" in result.output


def test_pass_app_outside_the_group(project: Path, write: WriteFile) -> None:
    @click.command()
    @click.argument("word")
    @pass_app
    def standalone(app: Carboy, word: str) -> None:
        click.echo(f"{app.app_name} {word}")

    given = Carboy(debug=True, name="given")
    result = CliRunner().invoke(standalone, ["x"], obj=given, catch_exceptions=False)
    assert result.output == "given x\n"

    write("app.py", "from carboy import Carboy\n\napp = Carboy(name='found')\n")
    result = CliRunner().invoke(standalone, ["y"], catch_exceptions=False)
    assert result.output == "found y\n"


def test_pass_app_keeps_the_commands_name_and_help() -> None:
    module = Module("m")

    @module.command("tidy")
    @pass_app
    def tidy(app: Carboy) -> None:
        """Tidy up."""

    assert module.commands[0].name == "tidy"
    assert module.commands[0].help == "Tidy up."
    assert tidy.__name__ == "tidy"


def test_python_dash_m_carboy(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "carboy", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"carboy {carboy.__version__} (Python ")
