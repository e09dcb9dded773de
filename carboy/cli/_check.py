"""``carboy check``: build the app, run every module's checks and report the findings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from carboy.app import Carboy
from carboy.cli._console import make_console
from carboy.cli._group import current_loader, pass_app
from carboy.exceptions import ConfigurationError
from carboy.modules import CheckLevel, CheckMessage

#: Settings refused at start-up (no secret key in production...).
SETTINGS_REFUSED = "carboy.E001"
#: The secret key is in a file the project's git repository tracks.
COMMITTED_SECRET = "security.E005"
#: The app failed to build for a reason other than a check (a bad route...).
BUILD_FAILED = "carboy.E002"

#: The sections of the report, most serious first (CRITICAL is listed with the errors).
_SECTIONS = (
    (CheckLevel.ERROR, "ERRORS", "bold red"),
    (CheckLevel.WARNING, "WARNINGS", "bold yellow"),
    (CheckLevel.INFO, "INFOS", "bold"),
    (CheckLevel.DEBUG, "DEBUGS", "dim"),
)


def _section(message: CheckMessage) -> CheckLevel:
    return min(message.level, CheckLevel.ERROR)


@click.command("check")
@click.option("--deploy", is_flag=True, help="Also check the settings for production.")
@click.option(
    "--fail-level",
    type=click.Choice([level.name for level in CheckLevel], case_sensitive=False),
    default="ERROR",
    show_default=True,
    help="Exit with status 1 when a finding is at least this serious.",
)
@pass_app
def check(app: Carboy, deploy: bool, fail_level: str) -> None:
    """Build the app and report what its start-up checks find.

    Exits with status 1 if anything is at FAIL_LEVEL or above (errors by
    default), so it can gate a deployment.

    \b
      carboy check
      carboy check --deploy --fail-level WARNING
    """
    messages = collect_messages(app, deploy=deploy)
    console = make_console()
    threshold = CheckLevel[fail_level.upper()]
    if not messages:
        console.print("System check identified no issues.")
        return
    console.print("System check identified some issues:")
    for level, title, style in _SECTIONS:
        found = [m for m in messages if _section(m) == level]
        if found:
            _print_section(console, title, style, found)
    count = len(messages)
    console.print()
    console.print(f"System check identified {count} issue{'s' * (count != 1)}.")
    if any(m.level >= threshold for m in messages):
        click.get_current_context().exit(1)


def collect_messages(app: Carboy, *, deploy: bool = False) -> list[CheckMessage]:
    """Every finding: refused settings, build errors, the modules' checks, deploy warnings.

    Findings marked ``deploy=True`` are only included with ``deploy``.

    Example:
        >>> [m.id for m in collect_messages(app, deploy=True)]
        ['security.E001', 'security.E004']
    """
    messages: list[CheckMessage] = []
    try:
        app.settings.validate_for_startup()
    except ConfigurationError as exc:
        messages.append(
            CheckMessage(SETTINGS_REFUSED, str(exc), obj="settings", level=CheckLevel.ERROR)
        )
    else:
        messages.extend(_build_and_check(app))
    messages.extend(
        CheckMessage(
            check_id,
            text,
            obj="settings",
            level=CheckLevel.ERROR if ".E" in check_id else CheckLevel.WARNING,
            deploy=True,
        )
        for check_id, text in app.settings.deploy_warnings()
    )
    if deploy:
        messages.extend(_committed_secret(app))
    return [m for m in messages if deploy or not m.deploy]


def _committed_secret(app: Carboy) -> list[CheckMessage]:
    """``security.E005`` if the secret key is in a file the project's git repository tracks."""
    secret = app.settings.secret_key
    key = secret.get_secret_value() if secret is not None else ""
    if not key:
        return []
    files = committed_files_containing(Path(app.root), key)
    if not files:
        return []
    listed = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
    return [
        CheckMessage(
            COMMITTED_SECRET,
            f"the secret key is in {listed}, tracked by git: anyone with the repository "
            "can sign sessions and tokens. Generate a new key, keep it in the environment "
            "or an untracked .env (add .env to .gitignore, then git rm --cached .env).",
            obj="settings",
            level=CheckLevel.ERROR,
            deploy=True,
        )
    ]


def committed_files_containing(root: Path, text: str) -> list[str]:
    """The git-tracked files under ``root`` whose content contains ``text``.

    Uses ``git grep`` (the text goes through stdin, never the command line);
    an empty list when ``root`` is not in a git repository or git is missing.

    Example:
        >>> committed_files_containing(Path("."), "CARBOY_SECRET_KEY=k3J9...")
        ['.env']
    """
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "grep", "-l", "-z", "-I", "-F", "-f", "-"],
            input=text + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if found.returncode != 0:  # 1: no match; 128: not a repository
        return []
    return [name for name in found.stdout.split("\0") if name]


def _build_and_check(app: Carboy) -> list[CheckMessage]:
    try:
        current_loader().build(app)
    except click.ClickException as exc:
        # build() refuses to finish when a check finds an error: list them all
        # (with the warnings); a failure before the checks ran is reported as is.
        findings = _checks_or_none(app)
        if findings and any(m.is_error and not m.deploy for m in findings):
            return findings
        return [CheckMessage(BUILD_FAILED, exc.format_message(), obj="app", level=CheckLevel.ERROR)]
    return app.run_checks()


def _checks_or_none(app: Carboy) -> list[CheckMessage] | None:
    try:
        return app.run_checks()
    except Exception:
        return None


def _print_section(console: Console, title: str, style: str, messages: list[CheckMessage]) -> None:
    console.print()
    console.print(title + ":", style=style)
    for message in sorted(messages, key=lambda m: m.id):
        where = f"{message.obj}: " if message.obj else ""
        line = Text.assemble("  ", (message.id, style), " ", where, message.message)
        console.print(line, soft_wrap=True)
        if message.hint:
            console.print(Text(f"      HINT: {message.hint}", style="dim"), soft_wrap=True)
