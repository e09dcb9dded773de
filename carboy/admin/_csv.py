"""CSV export of the list page's rows, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by Excel, LibreOffice and Google Sheets as a formula, which can run
commands or send data away (CSV injection). Such text cells get a leading
``'``, which spreadsheets show as text and do not evaluate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

#: What makes a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """``text`` made inert in a spreadsheet: a ``'`` before a formula's first character.

    Example:
        >>> neutralize("=HYPERLINK(\\"http://evil\\")")
        '\\'=HYPERLINK("http://evil")'
        >>> neutralize("plain")
        'plain'
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str:
    """A value as CSV text: empty for None, true/false, numbers as they are, text neutralized."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    from carboy.admin._form import value_text

    return neutralize(value_text(value) if not isinstance(value, str) else value)


def _line(values: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue().encode()


def header_line(header: Sequence[str]) -> bytes:
    """The first line: a UTF-8 byte-order mark (so Excel reads UTF-8) and the column names."""
    return "\ufeff".encode() + _line([neutralize(h) for h in header])


def row_line(row: Sequence[Any]) -> bytes:
    """One row's line, each value through :func:`cell`."""
    return _line([cell(v) for v in row])
