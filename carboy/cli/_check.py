"""``carboy check``: build the app, run every module's checks and report the findings."""

from __future__ import annotations

import click
from rich.console import Console
from rich.text import Text

from carboy.app import Carboy
from carboy.cli._console import make_console
from carboy.cli._group import current_loader, pass_app
from carboy.exceptions import ConfigurationError
from carboy.modules import CheckMessage

#: Settings refused at start-up (no secret key in production...).
SETTINGS_REFUSED = "carboy.E001"
#: The app failed to build for a reason other than a check (a bad route...).
BUILD_FAILED = "carboy.E002"

_LEVELS = {"ERROR": 3, "WARNING": 2, "INFO": 1}


def severity(message: CheckMessage) -> str:
    """``"ERROR"``, ``"WARNING"`` or ``"INFO"`` from the id (``db.E001``, ``security.W003``).

    Example:
        >>> severity(CheckMessage("security.W001", "debug is on"))
        'WARNING'
    """
    if message.is_error:
        return "ERROR"
    return "WARNING" if ".W" in message.id else "INFO"


@click.command("check")
@click.option("--deploy", is_flag=True, help="Also check the settings for production.")
@click.option(
    "--fail-level",
    type=click.Choice(["ERROR", "WARNING"], case_sensitive=False),
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
    threshold = _LEVELS[fail_level.upper()]
    if not messages:
        console.print("System check identified no issues.")
        return
    console.print("System check identified some issues:")
    for level, style in (("ERROR", "bold red"), ("WARNING", "bold yellow"), ("INFO", "bold")):
        found = [m for m in messages if severity(m) == level]
        if found:
            _print_section(console, f"{level}S", style, found)
    count = len(messages)
    console.print()
    console.print(f"System check identified {count} issue{'s' * (count != 1)}.")
    if any(_LEVELS[severity(m)] >= threshold for m in messages):
        click.get_current_context().exit(1)


def collect_messages(app: Carboy, *, deploy: bool = False) -> list[CheckMessage]:
    """Every finding: refused settings, build errors, the modules' checks, deploy warnings.

    Example:
        >>> [m.id for m in collect_messages(app, deploy=True)]
        ['security.W001', 'security.W004']
    """
    messages: list[CheckMessage] = []
    try:
        app.settings.validate_for_startup()
    except ConfigurationError as exc:
        messages.append(CheckMessage(SETTINGS_REFUSED, str(exc), obj="settings"))
    else:
        messages.extend(_build_and_check(app))
    if deploy:
        messages.extend(
            CheckMessage(check_id, text, obj="settings")
            for check_id, text in app.settings.deploy_warnings()
        )
    return messages


def _build_and_check(app: Carboy) -> list[CheckMessage]:
    try:
        current_loader().build(app)
    except click.ClickException as exc:
        # build() refuses to finish when a check finds an error: list them all
        # (with the warnings); a failure before the checks ran is reported as is.
        findings = _checks_or_none(app)
        if findings and any(m.is_error for m in findings):
            return findings
        return [CheckMessage(BUILD_FAILED, exc.format_message(), obj="app")]
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
