"""ISO 8601 date-times to epoch milliseconds, shared by the sources' type modules.

Each vendor writes date-times a little differently (Salesforce ``+0000``, HubSpot
``Z`` or a bare date); each source matches its own form with a regular expression
whose groups are year, month, day, hour, minute, second, fraction and zone, and
hands the groups to :func:`groups_to_ms`.
"""

from __future__ import annotations

import datetime as dt
import typing


if typing.TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = ["EPOCH", "groups_to_ms"]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def groups_to_ms(groups: Sequence[str | None]) -> int:
    """Epoch ms of matched date-time parts; a missing time is midnight, zone UTC.

    The fraction is cut to milliseconds; a zone is ``Z``, ``+HHMM`` or ``+HH:MM``.
    """
    year, month, day, hour, minute, second, fraction, zone = groups
    assert year is not None
    assert month is not None
    assert day is not None
    value = dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=dt.timezone.utc,
    )
    ms = (value - EPOCH) // dt.timedelta(milliseconds=1)
    ms += int((fraction or "0")[:3].ljust(3, "0"))
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
        ms += -offset if zone[0] == "+" else offset
    return ms
