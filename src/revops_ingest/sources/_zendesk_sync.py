"""One sync of one Zendesk object, and the state it leaves behind.

**Tickets** come from the cursor-based incremental export. The first sync starts at
``start_time``; every page names the ``after_cursor`` of the next, and the last
cursor (once ``end_of_stream`` is true) is the state: the next sync resumes exactly
there. The export matches on ``generated_timestamp``, which every change moves,
system changes included, so a ticket changed by a trigger or an SLA recalculation
(``updated_at`` unchanged) is read again. Deleted tickets stay in the export with
``status: "deleted"`` and land with ``_tombstone`` true.

**Users and organizations** come from the time-based incremental exports. Each page
covers ``updated_at >= start_time``; its ``end_time`` (the newest ``updated_at`` in
it) is the next page's ``start_time``. The bound is inclusive, so the records of the
boundary second come again: they are recognised by ``(id, updated_at)`` and dropped,
within a sync and across syncs (the state keeps the ids landed in the last second).
When more records share one second than a page holds, Zendesk answers that second
again and again (``end_time == start_time``); the sync then reads that second's
records from the ordinary list endpoint (cursor pagination over every record),
lands those it has not seen, and goes on from the next second. A warning in the
audit row says so.

The states, as stored with the raw dataset::

    {"version": 1, "export": "cursor", "cursor": "MTU3NjYxMzUzOS4wfHw0Njd8",
     "generated_through": "2026-05-01T12:00:00Z"}
    {"version": 1, "export": "time", "start_time": 1714564800, "boundary": [12, 15]}
"""

from __future__ import annotations

import datetime as dt
import logging
import typing

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest._source import unreadable_state
from revops_ingest.exceptions import UnexpectedResponseError
from revops_ingest.sources._zendesk_types import TICKETS, RecordSchema, to_batch


if typing.TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping, Sequence

    from revops_ingest._source import FetchContext, JSONValue, State
    from revops_ingest.sources._zendesk_api import Item, ZendeskApi


__all__ = ["STATE_VERSION", "Settings", "TicketSync", "TimeSync"]

log = logging.getLogger("revops_ingest.sources.zendesk")

STATE_VERSION = 1
SYSTEM = "Zendesk"


@attrs.frozen(kw_only=True)
class Settings:
    """The source's options that one object sync needs.

    Attributes:
        start_time: Unix seconds the first sync (and a full refresh) starts at.
        page_size: ``per_page`` of the cursor-based ticket export.
        list_page_size: ``page[size]`` of the list endpoints.
        metric_sets: Sideload ticket metric sets (``include=metric_sets``).
    """

    start_time: int
    page_size: int
    list_page_size: int
    metric_sets: bool


def _iso(seconds: int) -> str:
    value = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_version(state: Mapping[str, JSONValue], export: str, where: str) -> None:
    if state.get("version") != STATE_VERSION:
        raise unreadable_state(where, f"version {state.get('version')!r} is not 1")
    if state.get("export") != export:
        raise unreadable_state(where, f"it is not a {export}-based export state")


def _batch(items: Sequence[Item], record: RecordSchema, *, path: str) -> pa.RecordBatch:
    try:
        return to_batch(items, record)
    except ValueError as exc:
        raise UnexpectedResponseError(
            str(exc),
            source=SYSTEM,
            object_type=record.name,
            method="GET",
            path=path,
            hint="the API may have changed; nothing of this sync is kept",
        ) from None


@attrs.define
class TicketSync:
    """Reads tickets through the cursor-based incremental export.

    Attributes:
        api: The calls.
        context: The engine's context for this sync.
        settings: The source's options.
    """

    api: ZendeskApi
    context: FetchContext
    settings: Settings

    path: typing.ClassVar[str] = "/api/v2/incremental/tickets/cursor.json"
    where: typing.ClassVar[str] = "Zendesk tickets"

    def load(self, state: Mapping[str, JSONValue] | None) -> tuple[str | None, int]:
        """Read *state*: the cursor to resume at, and the newest stamp landed.

        The cursor is ``None`` when the export starts at ``start_time``; the stamp
        (the newest ``generated_timestamp``, Unix seconds) is -1 when unknown.
        """
        if not state:
            return None, -1
        _check_version(state, "cursor", self.where)
        cursor = state.get("cursor")
        if not isinstance(cursor, str) or not cursor:
            raise unreadable_state(self.where, "'cursor' is not a cursor")
        through = state.get("generated_through")
        newest = -1
        if isinstance(through, str):
            try:
                parsed = dt.datetime.fromisoformat(through.replace("Z", "+00:00"))
            except ValueError:
                raise unreadable_state(
                    self.where, "'generated_through' is no time"
                ) from None
            newest = int(parsed.timestamp())
        return cursor, newest

    def run(
        self, state: Mapping[str, JSONValue] | None
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the tickets changed since *state*; return the new state."""
        cursor, newest = self.load(state)
        settings = self.settings
        if cursor is None:
            log.info("%s: exporting from %s", self.where, _iso(settings.start_time))
        while True:
            page = self.api.ticket_page(
                start_time=settings.start_time if cursor is None else None,
                cursor=cursor,
                per_page=settings.page_size,
                metric_sets=settings.metric_sets,
            )
            self.context.page(len(page.items))
            if page.items:
                batch = _batch(page.items, TICKETS, path=self.path)
                stamps = batch.column("generated_timestamp").cast(pa.int64())
                top = pc.max(stamps).as_py()
                if top is not None:
                    newest = max(newest, top // 1000)
                yield batch
            if page.end_of_stream:
                cursor = page.after_cursor
                break
            if page.after_cursor == cursor:
                raise UnexpectedResponseError(
                    "the export returned its own cursor again without reaching "
                    "end_of_stream",
                    source=SYSTEM,
                    object_type="tickets",
                    method="GET",
                    path=self.path,
                    hint="Zendesk's export is not making progress; run the sync "
                    "again later",
                )
            cursor = page.after_cursor
        return {
            "version": STATE_VERSION,
            "export": "cursor",
            "cursor": cursor,
            "generated_through": _iso(newest) if newest >= 0 else None,
        }


@attrs.define
class TimeSync:
    """Reads users or organizations through the time-based incremental export.

    Attributes:
        api: The calls.
        context: The engine's context for this sync.
        settings: The source's options.
        record: The object's raw schema (its name is the API resource).
    """

    api: ZendeskApi
    context: FetchContext
    settings: Settings
    record: RecordSchema
    _seen: set[tuple[int, int]] = attrs.field(factory=set, init=False)

    @property
    def where(self) -> str:
        """``Zendesk users``, for messages."""
        return f"Zendesk {self.record.name}"

    @property
    def path(self) -> str:
        """The export's path."""
        return f"/api/v2/incremental/{self.record.name}.json"

    def load(self, state: Mapping[str, JSONValue] | None) -> int:
        """The ``start_time`` to resume at; fills the boundary from *state*."""
        if not state:
            return self.settings.start_time
        _check_version(state, "time", self.where)
        start = state.get("start_time")
        boundary = state.get("boundary", [])
        if not isinstance(start, int) or isinstance(start, bool):
            raise unreadable_state(self.where, "'start_time' is not a Unix time")
        if not isinstance(boundary, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in boundary
        ):
            raise unreadable_state(self.where, "'boundary' is not a list of ids")
        self._seen = {(typing.cast("int", i), start) for i in boundary}
        return start

    def _fresh(self, batch: pa.RecordBatch, *, second: int | None) -> pa.RecordBatch:
        """Drop the rows landed before (same id and second); note the others.

        With *second*, keep only rows updated in that second.
        """
        ids = typing.cast("list[int]", batch.column("id").to_pylist())
        stamps = batch.column("updated_at").cast(pa.int64()).to_pylist()
        keep: list[bool] = []
        for record_id, stamp in zip(ids, stamps, strict=True):
            if stamp is None:
                raise UnexpectedResponseError(
                    f"record {record_id} has no updated_at",
                    source=SYSTEM,
                    object_type=self.record.name,
                    method="GET",
                    path=self.path,
                    hint="the time-based export needs updated_at on every record",
                )
            key = (record_id, stamp // 1000)
            wanted = second is None or key[1] == second
            keep.append(wanted and key not in self._seen)
            if wanted:
                self._seen.add(key)
        if all(keep):
            return batch
        return batch.filter(pa.array(keep, pa.bool_()))

    def _forget_before(self, start: int) -> None:
        self._seen = {key for key in self._seen if key[1] >= start}

    def run(
        self, state: Mapping[str, JSONValue] | None
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield the records changed since *state*; return the new state."""
        start = self.load(state)
        while True:
            page = self.api.time_page(self.record.name, start)
            self.context.page(len(page.items))
            if page.items:
                batch = self._fresh(
                    _batch(page.items, self.record, path=self.path), second=None
                )
                if batch.num_rows:
                    yield batch
            end = page.end_time if page.end_time is not None else start
            if end < start:
                raise UnexpectedResponseError(
                    f"end_time {end} is before start_time {start}",
                    source=SYSTEM,
                    object_type=self.record.name,
                    method="GET",
                    path=self.path,
                    hint="the export went back in time; run the sync again later",
                )
            if page.end_of_stream:
                start = end
                break
            if end == start:
                if not page.items:
                    raise UnexpectedResponseError(
                        "an empty page that is not the end of the stream",
                        source=SYSTEM,
                        object_type=self.record.name,
                        method="GET",
                        path=self.path,
                        hint="the export is not making progress; run the sync "
                        "again later",
                    )
                yield from self._crowded_second(start)
                start += 1
            else:
                start = end
            self._forget_before(start)
        boundary = sorted(i for i, second in self._seen if second == start)
        return {
            "version": STATE_VERSION,
            "export": "time",
            "start_time": start,
            "boundary": typing.cast("list[JSONValue]", boundary),
        }

    def _crowded_second(self, second: int) -> Iterator[pa.RecordBatch]:
        """Read the records updated in *second* from the list endpoint."""
        self.context.warn(
            f"{self.where}: more records share updated_at {_iso(second)} than an "
            "export page holds, so Zendesk cannot page past them; they were read "
            f"from /api/v2/{self.record.name}.json instead"
        )
        log.info("%s: reading the crowded second %s", self.where, _iso(second))
        after: str | None = None
        while True:
            page = self.api.list_page(
                self.record.name, after=after, size=self.settings.list_page_size
            )
            self.context.page(len(page.items))
            if page.items:
                batch = self._fresh(
                    _batch(
                        page.items,
                        self.record,
                        path=f"/api/v2/{self.record.name}.json",
                    ),
                    second=second,
                )
                if batch.num_rows:
                    yield batch
            if not page.has_more:
                return
            after = page.after_cursor
