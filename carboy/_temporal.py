"""carboy's one format for dates and times in JSON (docs/responses.md, "Dates and times").

Its own module so that the JSON encoder (:mod:`carboy._json`) and the pydantic
serializers (:mod:`carboy._json_pydantic`) share it without importing each other.
"""

from __future__ import annotations

import datetime

_MINUTE = datetime.timedelta(minutes=1)
_ANY_DATE = datetime.date(2000, 1, 1)


def format_datetime(value: datetime.datetime) -> str:
    """``value`` in carboy's JSON format: ``2024-01-01T09:30:00.000000Z``.

    Six fractional digits always; UTC (any zero offset, and a naive value,
    taken as UTC) as ``Z``; another offset as ``+05:30``. An offset that is no
    whole number of minutes (historical local mean time), which RFC 3339
    cannot write, is converted to UTC.
    """
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat(timespec="microseconds") + "Z"
    if not offset or offset % _MINUTE:
        return (value.replace(tzinfo=None) - offset).isoformat(timespec="microseconds") + "Z"
    return value.isoformat(timespec="microseconds")


def format_time(value: datetime.time) -> str:
    """A time of day: ``09:30:00.000000``, with its offset (``Z``, ``+05:30``) when it has one.

    A naive time stays naive: a wall-clock time ("opens at 09:00") has no date
    to place it in UTC.
    """
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat(timespec="microseconds")
    if not offset or offset % _MINUTE:
        moment = datetime.datetime.combine(_ANY_DATE, value.replace(tzinfo=None)) - offset
        return moment.time().isoformat(timespec="microseconds") + "Z"
    return value.isoformat(timespec="microseconds")
