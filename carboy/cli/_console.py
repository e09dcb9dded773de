"""Terminal output for the ``carboy`` command, and its error type.

Colour only on a terminal (rich turns it off for pipes, files and
``NO_COLOR``); text that comes from users (paths, messages, tracebacks) is
printed as :class:`rich.text.Text`, never as markup, so ``[brackets]`` in it
stay as they are.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click
from rich.console import Console
from rich.text import Text

# Piped output is read by tools and people's scrollback, not a terminal of a known
# size: rich's default of 80 columns would fold table cells mid-word.
_PIPE_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on the current ``sys.stdout`` (or ``sys.stderr``).

    Made per use, so output goes where the stream points now (click's test
    runner swaps the streams).

    Example:
        >>> make_console().print("[bold]ready[/]")
        ready
    """
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not _isatty(stream) and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class CliError(click.ClickException):
    """An error the ``carboy`` command reports without a traceback (exit status 1).

    Args:
        message: What went wrong and what to do about it.
        details: Printed before the message, e.g. the traceback of the user's code.

    Example:
        >>> raise CliError("No carboy app found in /srv. Pass --app module:attr")
    """

    def __init__(self, message: str, *, details: str = "") -> None:
        super().__init__(message)
        self.details = details

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the details (dimmed), then the message after a red ``Error:`` (to stderr)."""
        console = make_console(stderr=True) if file is None else Console(file=file)
        if self.details:
            console.print(Text(self.details.rstrip("\n")), style="dim", soft_wrap=True)
        console.print(Text.assemble(("Error: ", "bold red"), self.format_message()), soft_wrap=True)
