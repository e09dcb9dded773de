"""``carboy check``: findings with their ids, --deploy, --fail-level, exit status."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Invoke, WriteFile

WITH_CHECKS = """
from carboy import Carboy, CheckLevel, CheckMessage, Module

app = Carboy(debug=True)
shop = Module("shop")
app.install(shop)


@shop.check
def shop_checks(app: Carboy) -> list[CheckMessage]:
    return [
        CheckMessage(
            "shop.W001", "no currency set", hint="Set CARBOY_CURRENCY.", obj="shop",
            level=CheckLevel.WARNING,
        ),
        {error}
    ]
"""


def test_no_issues(invoke: Invoke, hello_app: Path) -> None:
    result = invoke("check")
    assert result.exit_code == 0
    assert result.output == "System check identified no issues.\n"


def test_warnings_are_listed_and_pass_by_default(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", WITH_CHECKS.format(error=""))
    result = invoke("check")
    assert result.exit_code == 0
    assert result.output == (
        "System check identified some issues:\n"
        "\n"
        "WARNINGS:\n"
        "  shop.W001 shop: no currency set\n"
        "      HINT: Set CARBOY_CURRENCY.\n"
        "\n"
        "System check identified 1 issue.\n"
    )


@pytest.mark.parametrize("level", ["WARNING", "warning"])
def test_fail_level_warning(invoke: Invoke, write: WriteFile, level: str) -> None:
    write("app.py", WITH_CHECKS.format(error=""))
    result = invoke("check", "--fail-level", level)
    assert result.exit_code == 1
    assert "shop.W001" in result.output


def test_errors_fail_and_are_listed_with_the_warnings(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        WITH_CHECKS.format(
            error='CheckMessage("shop.E001", "no products table", level=CheckLevel.ERROR),'
        ),
    )
    result = invoke("check")
    assert result.exit_code == 1
    assert result.output == (
        "System check identified some issues:\n"
        "\n"
        "ERRORS:\n"
        "  shop.E001 no products table\n"
        "\n"
        "WARNINGS:\n"
        "  shop.W001 shop: no currency set\n"
        "      HINT: Set CARBOY_CURRENCY.\n"
        "\n"
        "System check identified 2 issues.\n"
    )


def test_deploy_adds_the_settings_findings_and_fails(invoke: Invoke, hello_app: Path) -> None:
    assert invoke("check").exit_code == 0
    result = invoke("check", "--deploy")
    assert result.exit_code == 1  # debug on and no HTTPS redirect are errors
    lines = result.output.splitlines()
    ids = [line.split()[0] for line in lines if line.startswith("  security.")]
    assert ids == ["security.E001", "security.E004", "security.W003", "security.W006"]
    assert "  security.E001 settings: debug is on." in result.output
    assert lines[-1] == "System check identified 4 issues."


PRODUCTION = "from carboy import Carboy\n\napp = Carboy()\n"
GOOD_KEY = "k3y-" + "aZ9_" * 20


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, write: WriteFile) -> None:
    monkeypatch.setenv("CARBOY_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", "example.com")
    monkeypatch.setenv("CARBOY_HTTPS_REDIRECT", "1")
    write("app.py", PRODUCTION)


def deploy_errors(invoke: Invoke) -> list[str]:
    result = invoke("check", "--deploy")
    errors = result.output.partition("ERRORS:\n")[2].partition("\n\n")[0]
    ids = [line.split()[0] for line in errors.splitlines() if line.startswith("  ")]
    assert (result.exit_code == 1) == bool(ids), result.output
    return ids


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("CARBOY_DEBUG", "1", "security.E001"),
        ("CARBOY_ALLOWED_HOSTS", "example.com,*", "security.E002"),
        ("CARBOY_HTTPS_REDIRECT", "0", "security.E004"),
    ],
)
def test_deploy_fails_on(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, error: str
) -> None:
    # (test_deploy_with_production_settings_finds_nothing: no error without the change)
    monkeypatch.setenv(variable, value)
    assert deploy_errors(invoke) == [error]


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("word", ["insecure", "DEV", "Demo", "example", "changeme"])
def test_deploy_fails_on_a_key_with_a_development_word(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    monkeypatch.setenv("CARBOY_SECRET_KEY", GOOD_KEY[:30] + word + GOOD_KEY[30:])
    result = invoke("check", "--deploy")
    assert result.exit_code == 1
    assert f"security.E003 settings: secret_key contains {word.lower()!r}" in result.output
    assert GOOD_KEY[:30] not in result.output  # the key itself is never printed


@pytest.mark.usefixtures("production")
def test_https_redirect_off_behind_a_trusted_proxy_is_a_warning(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBOY_HTTPS_REDIRECT", "0")
    monkeypatch.setenv("CARBOY_TRUSTED_PROXIES", "10.0.0.0/8")
    result = invoke("check", "--deploy")
    assert result.exit_code == 0
    assert "security.W004" in result.output


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


@pytest.mark.usefixtures("production")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("where", [".env", "mysite/settings.py"])
def test_deploy_fails_on_a_committed_secret_key(
    invoke: Invoke, project: Path, write: WriteFile, where: str
) -> None:
    write(where, f"CARBOY_SECRET_KEY={GOOD_KEY}\n")
    assert deploy_errors(invoke) == []  # not a git repository: nothing to check
    _git(project, "init", "-q")
    assert deploy_errors(invoke) == []  # in the folder, but not tracked
    _git(project, "add", "app.py")
    assert deploy_errors(invoke) == []
    _git(project, "add", where)
    result = invoke("check", "--deploy")
    assert result.exit_code == 1
    assert f"security.E005 settings: the secret key is in {where}, tracked by git" in (
        result.output
    )
    assert GOOD_KEY not in result.output


def test_deploy_with_production_settings_finds_nothing(
    invoke: Invoke, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBOY_SECRET_KEY", "k3y-" + "aZ9_" * 20)
    monkeypatch.setenv("CARBOY_ALLOWED_HOSTS", "example.com")
    monkeypatch.setenv("CARBOY_HTTPS_REDIRECT", "1")
    write("app.py", "from carboy import Carboy\n\napp = Carboy()\n")
    result = invoke("check", "--deploy", "--fail-level", "WARNING")
    assert result.exit_code == 0, result.output
    assert result.output == "System check identified no issues.\n"


def test_production_without_a_secret_key(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", "from carboy import Carboy\n\napp = Carboy()\n")
    result = invoke("check")
    assert result.exit_code == 1
    assert "ERRORS:\n  carboy.E001 settings: carboy refuses to start in production" in (
        result.output
    )
    assert "CARBOY_SECRET_KEY" in result.output


def test_the_env_file_in_the_working_directory_is_read(invoke: Invoke, write: WriteFile) -> None:
    write("app.py", "from carboy import Carboy\n\napp = Carboy()\n")
    write(".env", "CARBOY_DEBUG=true\n")
    result = invoke("check")
    assert result.exit_code == 0
    assert result.output == "System check identified no issues.\n"


def test_a_build_error_is_carboy_e002(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        """
        from carboy import Carboy

        app = Carboy(debug=True)


        @app.get("/")
        async def one() -> str:
            return ""


        @app.get("/")
        async def two() -> str:
            return ""
        """,
    )
    result = invoke("check")
    assert result.exit_code == 1
    assert (
        "  carboy.E002 app: Route GET '/' is declared twice (app.py:6 and app.py:11)"
        in result.output
    )


LEVELS_AND_DEPLOY = """
from carboy import Carboy, CheckLevel, CheckMessage

app = Carboy(debug=True)


@app.check
def checks(app: Carboy) -> list[CheckMessage]:
    return [
        CheckMessage("shop.I001", "3 products", level=CheckLevel.INFO),
        CheckMessage("shop.C001", "no storage", level=CheckLevel.CRITICAL),
        CheckMessage("shop.E009", "no payments in production", level=CheckLevel.ERROR,
                     deploy=True),
    ]
"""


def test_levels_are_sections_and_deploy_only_findings_need_deploy(
    invoke: Invoke, write: WriteFile
) -> None:
    write("app.py", LEVELS_AND_DEPLOY)
    result = invoke("check")
    assert result.exit_code == 1  # CRITICAL counts as an error
    assert result.output == (
        "System check identified some issues:\n"
        "\n"
        "ERRORS:\n"
        "  shop.C001 no storage\n"
        "\n"
        "INFOS:\n"
        "  shop.I001 3 products\n"
        "\n"
        "System check identified 2 issues.\n"
    )
    deployed = invoke("check", "--deploy")
    assert "  shop.E009 no payments in production\n" in deployed.output


def test_fail_level_info(invoke: Invoke, write: WriteFile) -> None:
    write(
        "app.py",
        LEVELS_AND_DEPLOY.replace(
            '"no storage", level=CheckLevel.CRITICAL', '"x", level=CheckLevel.DEBUG'
        ),
    )
    assert invoke("check").exit_code == 0
    assert invoke("check", "--fail-level", "INFO").exit_code == 1
