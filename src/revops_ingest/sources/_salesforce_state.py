"""The incremental state of one Salesforce object, and de-duplication of re-reads.

Each sync reads the window ``[watermark - lookback, sync start)``: the look-back
catches rows that committed late with a stamp below the last watermark. Rows the
previous syncs already landed are recognised by their ``(Id, stamp)`` pair, which
the state keeps for the last look-back span only (:class:`Recent`), so the state
stays small however big the object is.

The state, as stored with the raw dataset (and shown in the audit row)::

    {
      "version": 1,
      "cursor": "SystemModstamp",
      "watermark": "2026-05-01T12:00:00.000Z",        # end of the last window
      "deletes_through": "2026-05-01T11:59:00.000Z",  # deleted-records log read to
      "recent": {"2026-05-01T11:58:30.000Z": ["006...", "006..."]}
    }
"""

from __future__ import annotations

import typing

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest._source import unreadable_state
from revops_ingest.sources import _recent
from revops_ingest.sources._salesforce_types import format_ms, parse_datetime_ms


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest._source import JSONValue, State


__all__ = [
    "STATE_VERSION",
    "IncrementalState",
    "PendingDeletes",
    "Recent",
    "latest_alive",
    "missing_ids",
]

STATE_VERSION = 1


@attrs.define
class Recent(_recent.Recent):
    """``Id`` → the newest stamp landed for it, for stamps within the look-back span.

    Stamps are written as Salesforce datetimes in the state. See
    :class:`revops_ingest.sources._recent.Recent`.
    """

    format_stamp = staticmethod(format_ms)
    parse_stamp = staticmethod(parse_datetime_ms)

    def note_batch(self, batch: pa.RecordBatch, cursor: str, floor: int) -> None:
        """Remember the rows of *batch* stamped at or after *floor*."""
        stamps = batch.column(cursor).cast(pa.int64())
        recent = pc.greater_equal(stamps, pa.scalar(floor, pa.int64()))
        if not pc.any(recent).as_py():
            return
        rows = batch.filter(recent)
        self.note_many(
            typing.cast("list[str]", rows.column("Id").to_pylist()),
            typing.cast("list[int]", rows.column(cursor).cast(pa.int64()).to_pylist()),
        )

    def drop_seen(
        self, batch: pa.RecordBatch, cursor: str, below: int
    ) -> pa.RecordBatch:
        """Drop the rows of *batch* that landed before; only rows below *below* can.

        Rows stamped at or after the last watermark (*below*) are new by
        construction, so only the re-read overlap is looked up, in Python.
        """
        if not self.stamps or not batch.num_rows:
            return batch
        stamps = batch.column(cursor).cast(pa.int64())
        overlap = pc.less(stamps, pa.scalar(below, pa.int64()))
        if not pc.any(overlap).as_py():
            return batch
        where = pc.indices_nonzero(overlap.fill_null(fill_value=False))
        ids = batch.column("Id").take(where).to_pylist()
        old = stamps.take(where).to_pylist()
        drop = [
            index
            for index, record_id, stamp in zip(where.to_pylist(), ids, old, strict=True)
            if record_id is not None
            and stamp is not None
            and self.seen(record_id, stamp)
        ]
        if not drop:
            return batch
        keep = pc.invert(
            pc.is_in(pa.array(range(batch.num_rows)), value_set=pa.array(drop))
        )
        return batch.filter(keep)


def _stamp(state: Mapping[str, JSONValue], key: str, *, required: bool) -> int | None:
    value = state.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        msg = f"{key!r} is not a datetime string"
        raise ValueError(msg)  # noqa: TRY004 - reported as a bad state
    return parse_datetime_ms(value)


@attrs.define
class IncrementalState:
    """Where the incremental sync of one object stands.

    Attributes:
        cursor: The field the watermark follows.
        watermark: Epoch ms: the end (exclusive) of the last window read.
        deletes_through: Epoch ms up to which the deleted-records log was read.
        recent: The ``(Id, stamp)`` pairs landed in the last look-back span.
    """

    cursor: str
    watermark: int
    deletes_through: int | None
    recent: Recent

    @classmethod
    def load(
        cls, state: Mapping[str, JSONValue] | None, *, where: str, limit: int
    ) -> IncrementalState | None:
        """Read a stored state; ``None`` for no state (first sync, full refresh).

        Raises:
            ConfigurationError: The state is not one this source wrote.
        """
        if not state:
            return None
        try:
            version = state.get("version")
            if version != STATE_VERSION:
                msg = f"version {version!r} is not {STATE_VERSION}"
                raise ValueError(msg)  # noqa: TRY301 - one report for every problem
            cursor = state.get("cursor")
            if not isinstance(cursor, str):
                msg = "'cursor' is not a field name"
                raise ValueError(msg)  # noqa: TRY301, TRY004
            watermark = _stamp(state, "watermark", required=True)
            assert watermark is not None
            return cls(
                cursor=cursor,
                watermark=watermark,
                deletes_through=_stamp(state, "deletes_through", required=False),
                recent=Recent.load(state.get("recent", {}), limit=limit),
            )
        except ValueError as exc:
            raise unreadable_state(where, exc) from None

    def dump(self) -> State:
        """The JSON form stored with the raw dataset."""
        return {
            "version": STATE_VERSION,
            "cursor": self.cursor,
            "watermark": format_ms(self.watermark),
            "deletes_through": (
                format_ms(self.deletes_through)
                if self.deletes_through is not None
                else None
            ),
            "recent": self.recent.dump(),
        }


@attrs.define
class PendingDeletes:
    """Ids from the deleted-records log still waiting for their tombstone.

    A row landed in this sync for the same Id at or after its deletion time
    already says what became of the record (deleted, or restored since), so such
    ids get no tombstone.

    Attributes:
        deleted: ``Id`` → deletion time (epoch ms).
    """

    deleted: dict[str, int] = attrs.Factory(dict)

    def cover(self, batch: pa.RecordBatch, cursor: str) -> None:
        """Drop the ids that *batch* lands again at or after their deletion."""
        if not self.deleted or not batch.num_rows:
            return
        wanted = pa.array(list(self.deleted), pa.string())
        hit = pc.is_in(batch.column("Id"), value_set=wanted)
        if not pc.any(hit).as_py():
            return
        rows = batch.filter(hit)
        stamps = rows.column(cursor).cast(pa.int64()).to_pylist()
        ids = typing.cast("list[str]", rows.column("Id").to_pylist())
        for record_id, stamp in zip(ids, stamps, strict=True):
            when = self.deleted.get(record_id)
            if when is not None and stamp is not None and stamp >= when:
                del self.deleted[record_id]

    def remaining(self, recent: Recent) -> tuple[list[str], list[int]]:
        """The ids (and deletion times) that need a tombstone, sorted by time."""
        todo = sorted(
            (stamp, record_id)
            for record_id, stamp in self.deleted.items()
            if not recent.seen(record_id, stamp)
        )
        return [i for _, i in todo], [s for s, _ in todo]


def _flags(table: pa.Table, names: Sequence[str]) -> pa.BooleanArray:
    """Row-wise OR of the boolean columns *names* that *table* has (nulls false)."""
    result = pa.array([False] * table.num_rows, pa.bool_())
    for name in names:
        if name in table.column_names:
            column = table.column(name).combine_chunks().cast(pa.bool_())
            flag = typing.cast("pa.BooleanArray", column.fill_null(fill_value=False))
            result = pc.or_(result, flag)
    return result


def latest_alive(table: pa.Table, cursor: str | None) -> pa.StringArray:
    """The ids whose latest landed version is not a deletion.

    *table* holds ``Id``, optionally the cursor, ``IsDeleted``, ``_tombstone`` and
    ``_sync_id``; the latest version is the one with the highest stamp, then the
    latest sync, then the last row.
    """
    columns: dict[str, typing.Any] = {
        "Id": table.column("Id").combine_chunks().cast(pa.string()),
        "_row": pa.array(range(table.num_rows), pa.int64()),
        "_deleted": _flags(table, ("IsDeleted", "_tombstone")),
    }
    keys: list[tuple[str, typing.Literal["ascending", "descending"]]] = [
        ("Id", "ascending")
    ]
    if cursor is not None and cursor in table.column_names:
        columns["_stamp"] = table.column(cursor).combine_chunks().cast(pa.int64())
        keys.append(("_stamp", "ascending"))
    if "_sync_id" in table.column_names:
        columns["_sync"] = table.column("_sync_id").combine_chunks().cast(pa.string())
        keys.append(("_sync", "ascending"))
    keys.append(("_row", "ascending"))
    ordered = pa.table(columns).sort_by(keys)
    ids = typing.cast("pa.StringArray", ordered.column("Id").combine_chunks())
    if len(ids) == 0:
        return ids
    # The last row of each run of equal ids is the id's latest version.
    last = pc.not_equal(ids[:-1], ids[1:])
    last = pa.concat_arrays([last, pa.array([True], pa.bool_())])
    deleted = typing.cast(
        "pa.BooleanArray", ordered.column("_deleted").combine_chunks()
    )
    alive = pc.and_(last, pc.invert(deleted))
    return ids.filter(alive)


def missing_ids(
    alive: pa.StringArray, present: Sequence[pa.Array[typing.Any]]
) -> list[str]:
    """The ids of *alive* that none of the *present* arrays hold."""
    if len(alive) == 0:
        return []
    gone = alive
    if present:
        held = pa.concat_arrays([a.cast(pa.string()) for a in present])
        gone = alive.filter(pc.invert(pc.is_in(alive, value_set=held)))
    return sorted(typing.cast("list[str]", gone.to_pylist()))
