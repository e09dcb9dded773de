"""``carboy shell``: the names it loads, -c, and the plain interactive shell."""

from __future__ import annotations

from pathlib import Path

import carboy

from .conftest import Invoke, WriteFile


def test_command_sees_app_and_settings(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("shell", "-c", "print(app.app_name, settings.debug, app.url_path_for('home'))")
    assert result.exit_code == 0, result.output
    assert result.output == "hello True /\n"


def test_modules_add_names(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy, Module


        class Reports(Module):
            def shell_context(self) -> dict[str, object]:
                return {"answer": 42}


        class Plain(Module):
            pass  # the default shell_context() adds nothing


        app = Carboy(debug=True, name="shelled")
        app.install(Reports("reports"))
        app.install(Plain("plain"))
        """,
    )
    result = invoke("shell", "-c", "print(sorted(n for n in dir() if not n.startswith('_')))")
    assert result.output == "['answer', 'app', 'settings']\n"


def test_a_shell_context_that_is_not_a_mapping(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy, Module


        class Bad(Module):
            def shell_context(self) -> list[str]:
                return ["x"]


        app = Carboy(debug=True)
        app.install(Bad("bad"))
        """,
    )
    result = invoke("shell", "-c", "pass")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Module 'bad': shell_context() must return a dict of names, got list\n"
    )


def test_the_app_is_built(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("shell", "-c", "print([r.path for r in app.resolved_routes])")
    assert result.output == "['/']\n"


def test_interactive_plain_shell_reads_stdin(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("shell", "--plain", input="x = 6 * 7\nprint(app.app_name, x)\n")
    assert result.exit_code == 0, result.output
    assert f"carboy {carboy.__version__} shell on Python 3." in result.stderr
    assert "Loaded: app, settings" in result.stderr
    assert "hello 42\n" in result.stdout


def test_production_without_a_secret_key(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", "from carboy import Carboy\n\napp = Carboy()\n")
    result = invoke("shell", "-c", "print('never')")
    assert result.exit_code == 1
    assert "never" not in result.output
    assert "CARBOY_SECRET_KEY" in result.stderr
