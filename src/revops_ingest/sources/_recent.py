"""The records a source landed in its last look-back span, for de-duplication.

Incremental sources re-read a short span before their watermark (late commits,
search indexing delays), so the rows at the boundary come again. Each source keeps
``id -> newest stamp landed`` for that span in its state and drops what it has
landed already. The stamps are epoch milliseconds; how they are written in the
stored state is the source's (its subclass gives :meth:`Recent.format_stamp` and
:meth:`Recent.parse_stamp`).
"""

from __future__ import annotations

import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Iterable

    from typing_extensions import Self

    from revops_ingest._source import JSONValue


__all__ = ["NEVER", "Recent"]

NEVER = -(2**62)
"""A stamp before every real one."""


@attrs.define
class Recent:
    """Id -> the newest stamp landed for it, within the look-back span.

    Bounded by *limit*: past it the oldest stamps are forgotten, which can only
    make a later sync land a record again (a harmless duplicate), never skip one.

    Attributes:
        stamps: Id -> epoch milliseconds.
        limit: The most entries kept.
    """

    stamps: dict[str, int] = attrs.Factory(dict)
    limit: int = 20_000

    @staticmethod
    def format_stamp(ms: int) -> str:
        """How a stamp is written in the stored state."""
        raise NotImplementedError

    @staticmethod
    def parse_stamp(text: str) -> int:
        """Read :meth:`format_stamp`'s form back.

        Raises:
            ValueError: *text* is not of that form.
        """
        raise NotImplementedError

    def seen(self, record_id: str, stamp: int) -> bool:
        """Whether a version of *record_id* stamped *stamp* or later has landed."""
        return self.stamps.get(record_id, NEVER) >= stamp

    def note(self, record_id: str, stamp: int) -> None:
        """Remember that *record_id* landed stamped *stamp*."""
        if stamp > self.stamps.get(record_id, NEVER):
            self.stamps[record_id] = stamp

    def note_many(self, ids: Iterable[str], stamps: Iterable[int]) -> None:
        """Remember that *ids* landed with *stamps*."""
        known = self.stamps
        for record_id, stamp in zip(ids, stamps, strict=True):
            if stamp > known.get(record_id, NEVER):
                known[record_id] = stamp
        if len(known) > 2 * self.limit:
            self._shrink()

    def prune(self, floor: int) -> None:
        """Forget stamps before *floor*, and keep at most *limit* entries."""
        self.stamps = {i: s for i, s in self.stamps.items() if s >= floor}
        if len(self.stamps) > self.limit:
            self._shrink()

    def _shrink(self) -> None:
        newest = sorted(self.stamps.items(), key=lambda item: item[1], reverse=True)
        self.stamps = dict(newest[: self.limit])

    def dump(self) -> dict[str, JSONValue]:
        """The JSON form: ids grouped by stamp, both sorted."""
        grouped: dict[int, list[str]] = {}
        for record_id, stamp in self.stamps.items():
            grouped.setdefault(stamp, []).append(record_id)
        return {
            self.format_stamp(stamp): typing.cast("JSONValue", sorted(grouped[stamp]))
            for stamp in sorted(grouped)
        }

    @classmethod
    def load(cls, value: object, *, limit: int) -> Self:
        """Read :meth:`dump`'s form.

        Raises:
            ValueError: *value* is not of that form.
        """
        if not isinstance(value, dict):
            msg = "'recent' is not an object"
            raise ValueError(msg)  # noqa: TRY004 - reported as a bad state
        recent = cls(limit=limit)
        for stamp, ids in value.items():
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                msg = "'recent' must map stamps to lists of ids"
                raise ValueError(msg)
            ms = cls.parse_stamp(stamp)
            for record_id in ids:
                recent.note(record_id, ms)
        return recent
