"""One sync of one HubSpot dataset: windows, ties, de-duplication, archived records.

**CRM records** (deals, companies, contacts and the engagement types). A first sync
(or a full refresh) pages the list endpoint, ``GET /crm/v3/objects/{type}`` by
``after`` cursor, which reads the live database. Later syncs read the window
``[watermark - lookback, sync start)`` on the last-modified property through the
search API, sorted ascending on it, and *keyset-paged*: every page is a new search
from the last page's highest stamp ``t`` (``GTE t``), dropping the records at
``t`` that were read already. So no search ever pages by offset, the 10,000-result
cap is never reached, and a record that leaves the window while the sync pages
(it was modified) cannot shift later records past a page boundary. When a whole
page holds one stamp (more records share it than a page holds), the records at
that stamp are swept by ``hs_object_id`` (``EQ t`` and ``hs_object_id GT <last>``,
sorted by ``hs_object_id``), then the window goes on after ``t``; neither loops
nor skips, whatever the number of ties.

The look-back catches records that reached the search index late (HubSpot indexes
changes after a short delay) with a stamp below the last watermark; records the
previous syncs landed are recognised by their ``(id, stamp)`` pair, kept in the
state for the last look-back span only.

Archived records (HubSpot's deletes, restorable for 90 days) never show up in
search: each sync pages ``archived=true`` and lands a tombstone for each record
archived within the window. A full refresh also reconciles: ids the lake holds as
alive that HubSpot no longer lists at all get a tombstone.

**Owners, pipelines, associations and the legacy engagements** are read in full on
every sync.
"""

from __future__ import annotations

import json
import logging
import typing

import attrs
import pyarrow as pa

from revops_ingest._source import unreadable_state
from revops_ingest.exceptions import UnexpectedResponseError
from revops_ingest.sources import _recent
from revops_ingest.sources._hubspot_types import (
    ENGAGEMENT_TYPE_COLUMN,
    TIMESTAMP,
    TOMBSTONE_COLUMN,
    Gone,
    Plan,
    format_ms,
    parse_instant_ms,
    records_to_batch,
    tombstones,
)


if typing.TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping, Sequence

    from revops_ingest._source import FetchContext, JSONValue, State
    from revops_ingest.sources._hubspot_api import HubSpotApi


__all__ = [
    "ASSOCIATION_SCHEMA",
    "LEGACY_SCHEMA",
    "OWNER_SCHEMA",
    "PIPELINE_SCHEMA",
    "STATE_VERSION",
    "IncrementalState",
    "Recent",
    "RecordSync",
    "Settings",
    "read_associations",
    "read_legacy_engagements",
    "read_owners",
    "read_pipelines",
]

log = logging.getLogger("revops_ingest.sources.hubspot")

STATE_VERSION = 1
_BATCH_READ = 100
_ASSOCIATION_BATCH = 100
_LEGACY_LIMIT = 250
_OWNERS_LIMIT = 100
_TOMBSTONE_CHUNK = 10_000
_LEGACY_TYPES = {
    "CALL": "calls",
    "EMAIL": "emails",
    "INCOMING_EMAIL": "emails",
    "FORWARDED_EMAIL": "emails",
    "MEETING": "meetings",
    "NOTE": "notes",
    "TASK": "tasks",
}

Record: typing.TypeAlias = "dict[str, typing.Any]"


@attrs.frozen(kw_only=True)
class Settings:
    """The source's options that one sync needs.

    Attributes:
        lookback_ms: How far before the last watermark each window starts.
        page_size: Records per list page (at most 100).
        search_page_size: Records per search page (at most 200).
        max_properties_chars: When the comma-joined property names are longer,
            pages carry ids only and the records are read through ``batch/read``
            (the search body is capped at 3,000 characters).
        archived: Whether to read archived records (tombstones).
        recent_limit: The most ``(id, stamp)`` pairs kept in the state.
    """

    lookback_ms: int
    page_size: int
    search_page_size: int
    max_properties_chars: int
    archived: bool
    recent_limit: int


# ---------------------------------------------------------------- state


@attrs.define
class Recent(_recent.Recent):
    """Id -> the newest stamp landed for it, within the look-back span.

    Stamps are written as ISO instants in the state. See
    :class:`revops_ingest.sources._recent.Recent`.
    """

    format_stamp = staticmethod(format_ms)
    parse_stamp = staticmethod(parse_instant_ms)


@attrs.define
class IncrementalState:
    """Where the incremental sync of one dataset stands.

    The JSON form, as stored with the raw dataset::

        {"version": 1, "cursor": "hs_lastmodifieddate",
         "watermark": "2026-05-01T12:00:00.000Z",
         "recent": {"2026-05-01T11:58:30.123Z": ["512", "513"]}}

    Attributes:
        cursor: The property the watermark follows.
        watermark: Epoch ms: the end (exclusive) of the last window read.
        recent: The ``(id, stamp)`` pairs landed in the last look-back span.
    """

    cursor: str
    watermark: int
    recent: Recent

    @classmethod
    def load(
        cls, state: Mapping[str, JSONValue] | None, *, where: str, limit: int
    ) -> IncrementalState | None:
        """Read a stored state; ``None`` for none (first sync, full refresh).

        Raises:
            ConfigurationError: The state is not one this source wrote.
        """
        if not state:
            return None
        try:
            if state.get("version") != STATE_VERSION:
                msg = f"version {state.get('version')!r} is not {STATE_VERSION}"
                raise ValueError(msg)  # noqa: TRY301 - one report for every problem
            cursor, watermark = state.get("cursor"), state.get("watermark")
            if not isinstance(cursor, str) or not isinstance(watermark, str):
                msg = "'cursor' and 'watermark' must be strings"
                raise ValueError(msg)  # noqa: TRY301, TRY004
            return cls(
                cursor=cursor,
                watermark=parse_instant_ms(watermark),
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
            "recent": self.recent.dump(),
        }


def full_state(end: int) -> State:
    """The state of a dataset read in full."""
    return {"version": STATE_VERSION, "mode": "full", "read_at": format_ms(end)}


# ---------------------------------------------------------------- CRM records


@attrs.define
class RecordSync:
    """Reads one CRM dataset (one object type, or the engagement types) for one sync.

    Attributes:
        api: The calls.
        plan: Properties and types from the properties API.
        context: The engine's context.
        settings: The source's options.
        end: The window end (epoch ms): the sync's start.
    """

    api: HubSpotApi
    plan: Plan
    context: FetchContext
    settings: Settings
    end: int

    @property
    def where(self) -> str:
        """``HubSpot <dataset>``, for messages."""
        return f"HubSpot {self.plan.name}"

    def stamp(self, record: Mapping[str, typing.Any]) -> int | None:
        """The record's last-modified time (epoch ms), if it has one."""
        props = record.get("properties")
        value = props.get(self.plan.cursor) if isinstance(props, dict) else None
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            return parse_instant_ms(value)
        except ValueError:
            return None

    # ------------------------------------------------------------ the sync

    def incremental(
        self, state: Mapping[str, JSONValue] | None
    ) -> Generator[pa.RecordBatch, None, State]:
        """Land the records changed since *state*, and the archived ones."""
        plan, settings = self.plan, self.settings
        prior = IncrementalState.load(
            state, where=self.where, limit=settings.recent_limit
        )
        if prior is not None and prior.cursor != plan.cursor:
            self.context.warn(
                f"{self.where}: the watermark followed {prior.cursor}, now "
                f"{plan.cursor}; everything is read again"
            )
            prior = None
        recent = (
            prior.recent if prior is not None else Recent(limit=settings.recent_limit)
        )
        keep_from = self.end - settings.lookback_ms
        start = None
        if prior is not None:
            start = min(prior.watermark, self.end) - settings.lookback_ms
            log.info(
                "%s: searching %s in [%s, %s)",
                self.where,
                plan.cursor,
                format_ms(start),
                format_ms(self.end),
            )
        listed: set[str] | None = (
            set() if prior is None and self.context.full_refresh else None
        )
        for object_type in plan.object_types:
            pages = (
                self._list(object_type, archived=False)
                if start is None
                else self._search(object_type, start)
            )
            for records in pages:
                fresh = self._unseen(records, recent, listed, keep_from)
                if fresh:
                    yield self._batch(object_type, fresh)
        if settings.archived:
            yield from self._archived(start, recent, listed)
        if listed is not None:
            yield from self._reconcile(listed)
        recent.prune(keep_from)
        return IncrementalState(
            cursor=plan.cursor, watermark=self.end, recent=recent
        ).dump()

    def _unseen(
        self,
        records: Sequence[Record],
        recent: Recent,
        listed: set[str] | None,
        keep_from: int,
    ) -> list[Record]:
        """Drop the records whose version landed before; remember the new ones."""
        fresh = []
        for record in records:
            record_id = str(record.get("id"))
            if listed is not None:
                listed.add(record_id)
            stamp = self.stamp(record)
            if stamp is not None and recent.seen(record_id, stamp):
                continue
            fresh.append(record)
            if stamp is not None and stamp >= keep_from:
                recent.note(record_id, stamp)
        return fresh

    def full(self) -> Generator[pa.RecordBatch, None, State]:
        """Land every live record (and archived ones as tombstones)."""
        for object_type in self.plan.object_types:
            for records in self._list(object_type, archived=False):
                yield self._batch(object_type, records)
        if self.settings.archived:
            yield from self._archived(None, Recent(), None)
        return full_state(self.end)

    def _batch(self, object_type: str, records: Sequence[Record]) -> pa.RecordBatch:
        try:
            batch = records_to_batch(self.plan, [(object_type, r) for r in records])
        except ValueError as exc:
            raise self.api.http.error(
                UnexpectedResponseError,
                f"a {object_type} record cannot be read: {exc}",
                object_type=self.plan.name,
                hint="the property's declared type and its values disagree; nothing "
                "of this sync is kept",
            ) from None
        self.context.page(batch.num_rows)
        return batch

    # ------------------------------------------------------------ reading

    def _names(self, object_type: str) -> tuple[list[str], bool]:
        """The properties to ask for inline, and whether to batch-read them instead."""
        names = list(self.plan.by_type[object_type])
        if len(",".join(names)) <= self.settings.max_properties_chars:
            return names, False
        return [self.plan.cursor, "hs_object_id"], True

    def _hydrate(self, object_type: str, records: list[Record]) -> list[Record]:
        """Read the full records of *records* (ids) through ``batch/read``."""
        names = list(self.plan.by_type[object_type])
        out: list[Record] = []
        for first in range(0, len(records), _BATCH_READ):
            chunk = [str(r.get("id")) for r in records[first : first + _BATCH_READ]]
            found = {
                str(r.get("id")): r
                for r in self.api.batch_read(object_type, chunk, names)
            }
            # Records archived in between are left out; their tombstones follow.
            out.extend(found[i] for i in chunk if i in found)
        return out

    def _list(self, object_type: str, *, archived: bool) -> Iterator[list[Record]]:
        """Page the list endpoint (live records, or only archived ones)."""
        names, hydrate = self._names(object_type)
        if archived:
            names, hydrate = [self.plan.cursor], False
        after: str | None = None
        seen_cursors: set[str] = set()
        while True:
            page = self.api.list_page(
                object_type,
                properties=names,
                after=after,
                archived=archived,
                limit=self.settings.page_size,
            )
            records = page.results
            if hydrate and records:
                records = self._hydrate(object_type, records)
            yield records
            if page.after is None:
                return
            if page.after in seen_cursors:
                raise self.api.http.error(
                    UnexpectedResponseError,
                    f"the list of {object_type} returned the 'after' cursor "
                    f"{page.after!r} twice",
                    object_type=self.plan.name,
                    hint="HubSpot's paging is broken for this object; try again later",
                )
            seen_cursors.add(page.after)
            after = page.after

    def _search_body(
        self,
        filters: Sequence[Mapping[str, str]],
        sort: str,
        names: Sequence[str],
    ) -> dict[str, typing.Any]:
        return {
            "filterGroups": [{"filters": list(filters)}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": list(names),
            "limit": self.settings.search_page_size,
        }

    def _search(self, object_type: str, start: int) -> Iterator[list[Record]]:
        """Keyset-page the window ``[start, end)`` on the cursor; see the module."""
        cursor = self.plan.cursor
        names, hydrate = self._names(object_type)
        lower = start
        done_at_lower: set[str] = set()  # ids at stamp `lower` read already
        upper = {"propertyName": cursor, "operator": "LT", "value": str(self.end)}
        while True:
            body = self._search_body(
                [
                    {"propertyName": cursor, "operator": "GTE", "value": str(lower)},
                    upper,
                ],
                cursor,
                names,
            )
            page = self.api.search_page(object_type, body)
            records = page.results
            stamps = [self.stamp(r) for r in records]
            if any(s is None or s < lower or s >= self.end for s in stamps):
                raise self.api.http.error(
                    UnexpectedResponseError,
                    f"the search for {object_type} returned records outside the "
                    f"window, or without {cursor}",
                    object_type=self.plan.name,
                )
            fresh = [
                r
                for r, s in zip(records, stamps, strict=True)
                if not (s == lower and str(r.get("id")) in done_at_lower)
            ]
            if fresh:
                yield self._hydrate(object_type, fresh) if hydrate else fresh
            if page.after is None or not records:
                return
            last = typing.cast("int", stamps[-1])
            if last == lower:
                # One stamp fills the page: sweep it by id, then go on after it.
                yield from self._sweep(
                    object_type, lower, done_at_lower, names, hydrate
                )
                lower, done_at_lower = lower + 1, set()
            else:
                lower = last
                done_at_lower = {
                    str(r.get("id"))
                    for r, s in zip(records, stamps, strict=True)
                    if s == last
                }

    def _sweep(
        self,
        object_type: str,
        stamp: int,
        done: set[str],
        names: Sequence[str],
        hydrate: bool,  # noqa: FBT001
    ) -> Iterator[list[Record]]:
        """Every record at *stamp* but *done*, keyset-paged by ``hs_object_id``."""
        cursor = self.plan.cursor
        last_id: str | None = None
        log.info(
            "%s: more %s than a page hold %s %s; reading them by id",
            self.where,
            object_type,
            cursor,
            format_ms(stamp),
        )
        while True:
            filters = [{"propertyName": cursor, "operator": "EQ", "value": str(stamp)}]
            if last_id is not None:
                filters.append(
                    {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
                )
            page = self.api.search_page(
                object_type, self._search_body(filters, "hs_object_id", names)
            )
            records = page.results
            fresh = [r for r in records if str(r.get("id")) not in done]
            if fresh:
                yield self._hydrate(object_type, fresh) if hydrate else fresh
            if page.after is None or not records:
                return
            new_last = str(records[-1].get("id"))
            if last_id is not None and _id_key(new_last) <= _id_key(last_id):
                raise self.api.http.error(
                    UnexpectedResponseError,
                    f"the search for {object_type} by hs_object_id did not move on "
                    f"past {last_id}",
                    object_type=self.plan.name,
                )
            last_id = new_last

    # ------------------------------------------------------------ deletes

    def _archived(
        self, start: int | None, recent: Recent, listed: set[str] | None
    ) -> Iterator[pa.RecordBatch]:
        """Tombstones for the records archived in ``[start, end)``."""
        gone: list[Gone] = []
        for object_type in self.plan.object_types:
            for records in self._list(object_type, archived=True):
                for record in records:
                    record_id = str(record.get("id"))
                    if listed is not None:
                        listed.add(record_id)
                    when = _when(record, "archivedAt") or _when(record, "updatedAt")
                    if when is None:
                        raise self.api.http.error(
                            UnexpectedResponseError,
                            f"archived {object_type} {record_id} has no archivedAt",
                            object_type=self.plan.name,
                        )
                    if (start is not None and when < start) or when >= self.end:
                        continue
                    if recent.seen(record_id, when):
                        continue
                    recent.note(record_id, when)
                    gone.append(
                        Gone(object_type, record_id, _when(record, "createdAt"), when)
                    )
        if gone:
            log.info("%s: %d archived record(s)", self.where, len(gone))
        for first in range(0, len(gone), _TOMBSTONE_CHUNK):
            yield tombstones(self.plan, gone[first : first + _TOMBSTONE_CHUNK])

    def _reconcile(self, listed: set[str]) -> Iterator[pa.RecordBatch]:
        """On a full refresh: tombstone the ids the lake holds that HubSpot lacks."""
        read = self.context.read_raw
        if read is None:
            return
        columns = ["id", TOMBSTONE_COLUMN, "_sync_id", self.plan.cursor]
        if self.plan.engagement:
            columns.append(ENGAGEMENT_TYPE_COLUMN)
        table = read(columns)
        latest: dict[str, tuple[tuple[int, str, int], Record]] = {}
        for index, row in enumerate(table.to_pylist()):
            stamp = row.get(self.plan.cursor)
            ms = int(stamp.timestamp() * 1000) if stamp is not None else _recent.NEVER
            key = (ms, str(row.get("_sync_id") or ""), index)
            known = latest.get(row["id"])
            if known is None or key >= known[0]:
                latest[row["id"]] = (key, row)
        gone = [
            Gone(
                str(row.get(ENGAGEMENT_TYPE_COLUMN) or self.plan.object_types[0]),
                record_id,
                None,
                self.end,
            )
            for record_id, (_, row) in sorted(latest.items())
            if not row.get(TOMBSTONE_COLUMN) and record_id not in listed
        ]
        self.context.warn(
            f"{self.where}: full refresh; reconciled the {len(latest)} id(s) in the "
            f"lake with HubSpot: {len(gone)} tombstone(s) for ids HubSpot no longer has"
        )
        for first in range(0, len(gone), _TOMBSTONE_CHUNK):
            yield tombstones(self.plan, gone[first : first + _TOMBSTONE_CHUNK])


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (-1, value)


def _when(record: Mapping[str, typing.Any], key: str) -> int | None:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_instant_ms(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- full datasets


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, type_) for name, type_ in fields])


OWNER_SCHEMA = _schema(
    ("id", pa.string()),
    ("email", pa.string()),
    ("type", pa.string()),
    ("firstName", pa.string()),
    ("lastName", pa.string()),
    ("userId", pa.int64()),
    ("userIdIncludingInactive", pa.int64()),
    ("createdAt", TIMESTAMP),
    ("updatedAt", TIMESTAMP),
    ("archived", pa.bool_()),
    ("teams", pa.string()),
    (TOMBSTONE_COLUMN, pa.bool_()),
)
"""``owners``: one row per owner, active and archived (deactivated) ones."""

PIPELINE_SCHEMA = _schema(
    ("pipelineId", pa.string()),
    ("pipelineLabel", pa.string()),
    ("pipelineDisplayOrder", pa.int64()),
    ("pipelineArchived", pa.bool_()),
    ("stageId", pa.string()),
    ("stageLabel", pa.string()),
    ("displayOrder", pa.int64()),
    ("probability", pa.float64()),
    ("isClosed", pa.bool_()),
    ("archived", pa.bool_()),
    ("createdAt", TIMESTAMP),
    ("updatedAt", TIMESTAMP),
    ("metadata", pa.string()),
)
"""``pipelines``: one row per stage of each deal pipeline."""

ASSOCIATION_SCHEMA = _schema(
    ("fromObjectType", pa.string()),
    ("fromId", pa.string()),
    ("toObjectType", pa.string()),
    ("toId", pa.string()),
    ("associationTypeId", pa.int64()),
    ("associationCategory", pa.string()),
    ("associationLabel", pa.string()),
)
"""``*_associations``: one row per association type between two records."""

LEGACY_SCHEMA = _schema(
    ("id", pa.string()),
    (ENGAGEMENT_TYPE_COLUMN, pa.string()),
    ("hs_timestamp", TIMESTAMP),
    ("hubspot_owner_id", pa.string()),
    ("hs_lastmodifieddate", TIMESTAMP),
    ("createdAt", TIMESTAMP),
    ("updatedAt", TIMESTAMP),
    ("archived", pa.bool_()),
    ("metadata", pa.string()),
    ("associations", pa.string()),
    (TOMBSTONE_COLUMN, pa.bool_()),
)
"""``engagements`` from the legacy v1 endpoint."""


class _Rows:
    """Collects row values column by column, then builds a batch."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: dict[str, list[typing.Any]] = {n: [] for n in schema.names}

    def add(self, **values: typing.Any) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def batch(self) -> pa.RecordBatch:
        arrays = []
        for field in self.schema:
            values = self.columns[field.name]
            if field.type == TIMESTAMP:
                arrays.append(pa.array(values, pa.int64()).cast(TIMESTAMP))
            else:
                arrays.append(pa.array(values, field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _int_or_none(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        msg = f"not an integer: {value!r}"
        raise ValueError(msg)  # noqa: TRY004 - reported as a bad answer
    return int(str(value))


def _float_or_none(value: object) -> float | None:
    if value is None or value == "":
        return None
    return float(str(value))


def _bool_or_none(value: object) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text not in {"true", "false"}:
        msg = f"not a boolean: {value!r}"
        raise ValueError(msg)
    return text == "true"


def _ms_or_none(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return parse_instant_ms(str(value))


def _bad(api: HubSpotApi, dataset: str, exc: Exception) -> Exception:
    return api.http.error(
        UnexpectedResponseError,
        f"an answer cannot be read: {exc}",
        object_type=dataset,
        hint="the API may have changed; nothing of this sync is kept",
    )


def read_owners(
    api: HubSpotApi, context: FetchContext, end: int
) -> Generator[pa.RecordBatch, None, State]:
    """Every owner: active ones, then archived (deactivated) ones."""
    for archived in (False, True):
        after: str | None = None
        while True:
            page = api.owners_page(after=after, archived=archived, limit=_OWNERS_LIMIT)
            rows = _Rows(OWNER_SCHEMA)
            try:
                for owner in page.results:
                    rows.add(
                        id=str(owner["id"]),
                        email=owner.get("email"),
                        type=owner.get("type"),
                        firstName=owner.get("firstName"),
                        lastName=owner.get("lastName"),
                        userId=_int_or_none(owner.get("userId")),
                        userIdIncludingInactive=_int_or_none(
                            owner.get("userIdIncludingInactive")
                        ),
                        createdAt=_ms_or_none(owner.get("createdAt")),
                        updatedAt=_ms_or_none(owner.get("updatedAt")),
                        archived=bool(owner.get("archived", archived)),
                        teams=_text(owner.get("teams")),
                        _tombstone=False,
                    )
                batch = rows.batch()
            except (KeyError, ValueError, TypeError, pa.ArrowException) as exc:
                raise _bad(api, "owners", exc) from None
            context.page(batch.num_rows)
            yield batch
            if page.after is None:
                break
            after = page.after
    return full_state(end)


def read_pipelines(
    api: HubSpotApi, context: FetchContext, end: int
) -> Generator[pa.RecordBatch, None, State]:
    """One row per stage of every deal pipeline."""
    rows = _Rows(PIPELINE_SCHEMA)
    try:
        for pipeline in api.pipelines("deals"):
            stages = pipeline.get("stages") or []
            if not isinstance(stages, list):
                msg = f"pipeline {pipeline.get('id')!r} has no 'stages' list"
                raise ValueError(msg)  # noqa: TRY301, TRY004
            for stage in stages:
                metadata = stage.get("metadata") or {}
                rows.add(
                    pipelineId=str(pipeline["id"]),
                    pipelineLabel=pipeline.get("label"),
                    pipelineDisplayOrder=_int_or_none(pipeline.get("displayOrder")),
                    pipelineArchived=_bool_or_none(pipeline.get("archived")),
                    stageId=str(stage["id"]),
                    stageLabel=stage.get("label"),
                    displayOrder=_int_or_none(stage.get("displayOrder")),
                    probability=_float_or_none(metadata.get("probability")),
                    isClosed=_bool_or_none(metadata.get("isClosed")),
                    archived=_bool_or_none(stage.get("archived")),
                    createdAt=_ms_or_none(stage.get("createdAt")),
                    updatedAt=_ms_or_none(stage.get("updatedAt")),
                    metadata=_text(metadata),
                )
        batch = rows.batch()
    except (KeyError, ValueError, TypeError, AttributeError, pa.ArrowException) as exc:
        raise _bad(api, "pipelines", exc) from None
    context.page(batch.num_rows)
    yield batch
    return full_state(end)


def _association_rows(
    rows: _Rows, from_type: str, to_type: str, result: Mapping[str, typing.Any]
) -> str | None:
    """Add the rows of one batch-read result; return its next ``after``, if any."""
    from_id = str(result["from"]["id"])
    for target in result["to"]:
        for kind in target.get("associationTypes") or []:
            rows.add(
                fromObjectType=from_type,
                fromId=from_id,
                toObjectType=to_type,
                toId=str(target["toObjectId"]),
                associationTypeId=_int_or_none(kind.get("typeId")),
                associationCategory=kind.get("category"),
                associationLabel=kind.get("label"),
            )
    paging = result.get("paging")
    nxt = paging.get("next") if isinstance(paging, dict) else None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    return str(after) if after is not None else None


def _associations_of(
    api: HubSpotApi, dataset: str, from_type: str, to_type: str, ids: Sequence[str]
) -> pa.RecordBatch:
    """The associations of the records *ids* to *to_type*, following their paging."""
    rows = _Rows(ASSOCIATION_SCHEMA)
    pending: list[dict[str, str]] = [{"id": i} for i in ids]
    while pending:
        chunk = pending[:_ASSOCIATION_BATCH]
        pending = pending[_ASSOCIATION_BATCH:]
        results = api.associations(from_type, to_type, chunk, object_type=dataset)
        try:
            for result in results:
                more = _association_rows(rows, from_type, to_type, result)
                if more is not None:
                    pending.append({"id": str(result["from"]["id"]), "after": more})
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise _bad(api, dataset, exc) from None
    try:
        return rows.batch()
    except (ValueError, TypeError, pa.ArrowException) as exc:
        raise _bad(api, dataset, exc) from None


def read_associations(
    api: HubSpotApi,
    context: FetchContext,
    end: int,
    *,
    dataset: str,
    pairs: Sequence[tuple[str, str]],
    page_size: int,
) -> Generator[pa.RecordBatch, None, State]:
    """Every association of *pairs* ``(from, to)``: list the from-ids, batch-read."""
    targets: dict[str, list[str]] = {}
    for from_type, to_type in pairs:
        targets.setdefault(from_type, []).append(to_type)
    for from_type, to_types in targets.items():
        after: str | None = None
        while True:
            page = api.list_page(
                from_type,
                properties=["hs_object_id"],
                after=after,
                archived=False,
                limit=page_size,
            )
            ids = [str(r.get("id")) for r in page.results]
            for to_type in to_types:
                batch = _associations_of(api, dataset, from_type, to_type, ids)
                if batch.num_rows:
                    context.page(batch.num_rows)
                    yield batch
            if page.after is None:
                break
            after = page.after
    return full_state(end)


def read_legacy_engagements(
    api: HubSpotApi, context: FetchContext, end: int
) -> Generator[pa.RecordBatch, None, State]:
    """Every engagement through ``/engagements/v1/engagements/paged``."""
    offset: int | None = None
    while True:
        results, more, nxt = api.legacy_page(offset=offset, limit=_LEGACY_LIMIT)
        rows = _Rows(LEGACY_SCHEMA)
        try:
            for item in results:
                engagement = item["engagement"]
                kind = str(engagement.get("type") or "")
                owner = engagement.get("ownerId")
                updated = _ms_or_none(engagement.get("lastUpdated"))
                rows.add(
                    id=str(engagement["id"]),
                    engagement_type=_LEGACY_TYPES.get(kind, kind.lower() or None),
                    hs_timestamp=_ms_or_none(engagement.get("timestamp")),
                    hubspot_owner_id=str(owner) if owner is not None else None,
                    hs_lastmodifieddate=updated,
                    createdAt=_ms_or_none(engagement.get("createdAt")),
                    updatedAt=updated,
                    archived=False,
                    metadata=_text(item.get("metadata")),
                    associations=_text(item.get("associations")),
                    _tombstone=False,
                )
            batch = rows.batch()
        except (KeyError, ValueError, TypeError, pa.ArrowException) as exc:
            raise _bad(api, "engagements", exc) from None
        context.page(batch.num_rows)
        yield batch
        if not more:
            break
        if nxt is None or (offset is not None and nxt <= offset):
            raise api.http.error(
                UnexpectedResponseError,
                "the legacy engagements endpoint did not move its offset on",
                object_type="engagements",
            )
        offset = nxt
    return full_state(end)
