"""A one-line progress display for long syncs, quiet unless stderr is a terminal."""

from __future__ import annotations

import sys
import time
import typing


if typing.TYPE_CHECKING:
    from typing import TextIO


__all__ = ["Progress"]


class Progress:
    """Show records, pages and rate on one terminal line while a sync runs.

    Redraws at most every *interval* seconds. When *stream* is not a terminal (a
    scheduler's log, a notebook, CI) nothing is written unless *force* is true.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 0.2,
        clock: typing.Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self._stream, "isatty", lambda: False)())
        self.enabled = enabled
        self._interval = interval
        self._clock = clock
        self._start = clock()
        self._last = -interval
        self.records = 0
        self.pages = 0
        self._drawn = False

    def page(self, rows: int) -> None:
        """Count a page of *rows* records and redraw if it is time."""
        self.pages += 1
        self.records += rows
        if not self.enabled:
            return
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(now)

    def _line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        rate = self.records / elapsed
        return (
            f"{self._label}: {self.records:,} records, {self.pages:,} pages, "
            f"{rate:,.0f} records/s, {elapsed:,.1f} s"
        )

    def _draw(self, now: float) -> None:
        self._stream.write("\r\x1b[2K" + self._line(now))
        self._stream.flush()
        self._drawn = True

    def close(self, outcome: str) -> None:
        """Finish the line with *outcome* (``"done"`` or an error summary)."""
        if not self.enabled:
            return
        now = self._clock()
        self._stream.write("\r\x1b[2K" + self._line(now) + f" - {outcome}\n")
        self._stream.flush()
