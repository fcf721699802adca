"""One sync of one Salesforce object: windows, de-duplication, deletes, Bulk or REST.

Incremental objects read the window ``[watermark - lookback, sync start)`` on their
cursor (SystemModstamp, else LastModifiedDate, else CreatedDate) through
``queryAll``, ordered by ``cursor, Id``. The window end is the sync's start floored
to the second, fixed before the first request. Paging follows ``nextRecordsUrl``;
if a query locator dies, the query restarts after the last row read with a keyset
predicate on ``(cursor, Id)``, so ties at page boundaries, and more rows on one
stamp than a page holds, are neither skipped nor read twice.

Hard deletes come from the deleted-records log (``sobjects/{X}/deleted``) and land
as tombstone rows. When the log no longer reaches back to the last sync (the recycle
bin was emptied, or the last sync is more than 15 days ago) the ids held in the lake
are reconciled with the ids the source still has.
"""

from __future__ import annotations

import logging
import typing

import attrs
import pyarrow as pa

from revops_ingest.exceptions import SchemaError, UnexpectedResponseError
from revops_ingest.sources._salesforce_bulk import (
    BulkOptions,
    BulkQuery,
    BulkUnavailable,
    bulk_supported,
)
from revops_ingest.sources._salesforce_state import (
    STATE_VERSION,
    IncrementalState,
    PendingDeletes,
    Recent,
    latest_alive,
    missing_ids,
)
from revops_ingest.sources._salesforce_types import (
    TOMBSTONE_COLUMN,
    ObjectPlan,
    Page,
    format_ms,
    id_plan,
    soql,
    soql_datetime,
    soql_string,
    tombstones,
)


if typing.TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping, Sequence

    from revops_ingest._source import FetchContext, JSONValue, State
    from revops_ingest.sources._salesforce_api import SalesforceApi


__all__ = ["ObjectSync", "Settings"]

log = logging.getLogger("revops_ingest.sources.salesforce")

_SECOND = 1000
_MINUTE = 60 * _SECOND
# The deleted-records log reaches back 15 days; stay a minute inside that.
_LOG_REACH = 15 * 24 * 60 * _MINUTE - _MINUTE
_MAX_RESUMES = 10  # consecutive dead query locators before giving up
_TOMBSTONE_CHUNK = 10_000
_LOG_GAP_CODES = frozenset({"EXCEEDED_ID_LIMIT", "INVALID_REPLICATION_DATE"})


@attrs.frozen(kw_only=True)
class Settings:
    """The source's options that one object sync needs.

    Attributes:
        lookback_ms: How far before the last watermark each window starts.
        batch_size: ``Sforce-Query-Options: batchSize`` for REST pages.
        bulk_threshold: Rows from which a window is read through Bulk API 2.0, or
            ``None`` for never.
        bulk_blocklist: Objects never read through Bulk.
        bulk: How Bulk jobs are paged and polled.
        recent_limit: The most ``(Id, stamp)`` pairs kept in the state.
    """

    lookback_ms: int
    batch_size: int
    bulk_threshold: int | None
    bulk_blocklist: frozenset[str]
    bulk: BulkOptions
    recent_limit: int


def _floor(ms: int, unit: int) -> int:
    return ms - ms % unit


@attrs.define
class ObjectSync:
    """Reads one object for one sync.

    Attributes:
        api: The REST calls.
        plan: Fields, types and cursor from the object's describe.
        context: The engine's context for this sync.
        settings: The source's options.
        end: The window end (epoch ms): the sync's start, floored to the second.
    """

    api: SalesforceApi
    plan: ObjectPlan
    context: FetchContext
    settings: Settings
    end: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        started = self.context.started_at.timestamp()
        self.end = int(started) * _SECOND

    @property
    def where(self) -> str:
        """``Salesforce <Object>``, for messages."""
        return f"Salesforce {self.plan.name}"

    # ------------------------------------------------------------ full

    def full(self) -> Generator[pa.RecordBatch, None, State]:
        """Read every row (``queryAll``, so deleted rows in the recycle bin too)."""
        yield from self._read(self.plan, [], ["Id"])
        return {
            "version": STATE_VERSION,
            "mode": "full",
            "read_at": format_ms(self.end),
        }

    # ------------------------------------------------------------ incremental

    def incremental(
        self, state: Mapping[str, JSONValue] | None
    ) -> Generator[pa.RecordBatch, None, State]:
        """Read the rows changed since the state, land deletes; return the new state."""
        plan, settings = self.plan, self.settings
        cursor = plan.cursor
        assert cursor is not None
        prior = IncrementalState.load(
            state, where=self.where, limit=settings.recent_limit
        )
        if prior is not None and prior.cursor != cursor:
            self.context.warn(
                f"{self.where}: the watermark followed {prior.cursor}, but the object "
                f"now offers {cursor}; everything is read again"
            )
            prior = None
        lookback = settings.lookback_ms
        recent = (
            prior.recent if prior is not None else Recent(limit=settings.recent_limit)
        )
        conditions = []
        if prior is not None:
            start = min(prior.watermark, self.end) - lookback
            conditions.append(f"{cursor} >= {soql_datetime(start)}")
        conditions.append(f"{cursor} < {soql_datetime(self.end)}")
        log.info("%s: reading %s", self.where, " AND ".join(conditions))

        pending, gap, deletes_through = self._deleted_log(prior)
        # Keep what the next sync re-reads: its window and its deleted-log span.
        keep_from = self.end - lookback
        if deletes_through is not None:
            keep_from = min(keep_from, _floor(deletes_through - lookback, _MINUTE))
        for batch in self._read(plan, conditions, [cursor, "Id"]):
            landed = (
                recent.drop_seen(batch, cursor, prior.watermark) if prior else batch
            )
            pending.cover(landed, cursor)
            recent.note_batch(landed, cursor, keep_from)
            if landed.num_rows:
                yield landed

        ids, stamps = pending.remaining(recent)
        if ids:
            log.info("%s: %d deleted record(s) from the log", self.where, len(ids))
            yield tombstones(plan, ids, stamps)
            recent.note_many(ids, stamps)
        if gap is not None:
            yield from self._reconcile(gap)
        elif prior is None and self.context.full_refresh:
            yield from self._reconcile(
                f"{self.where}: full refresh, so deletes since the last sync are "
                "unknown"
            )
        recent.prune(keep_from)
        return IncrementalState(
            cursor=cursor,
            watermark=self.end,
            deletes_through=deletes_through,
            recent=recent,
        ).dump()

    # ------------------------------------------------------------ reading

    def _read(
        self,
        plan: ObjectPlan,
        conditions: Sequence[str],
        order: Sequence[str],
        *,
        include_deleted: bool = True,
    ) -> Iterator[pa.RecordBatch]:
        """Yield the rows matching *conditions*: through Bulk when big, else REST.

        The first REST page's ``totalSize`` (the whole query's row count) decides:
        from ``bulk_threshold`` rows on, the REST cursor is dropped and a Bulk job
        reads the rows instead. That costs no ``COUNT()`` call on small windows.
        """
        threshold = self.settings.bulk_threshold
        bulk = threshold is not None and bulk_supported(
            plan, self.settings.bulk_blocklist
        )
        if bulk and threshold == 0:
            batches = self._bulk(plan, conditions, include_deleted=include_deleted)
            if batches is not None:
                yield from batches
                return
            bulk = False
        yield from self._rest(
            plan,
            conditions,
            order,
            include_deleted=include_deleted,
            bulk_from=threshold if bulk else None,
        )

    def _bulk(
        self,
        plan: ObjectPlan,
        conditions: Sequence[str],
        *,
        include_deleted: bool,
    ) -> Iterator[pa.RecordBatch] | None:
        """Run a Bulk job; ``None`` (and a warning) if the Bulk API will not."""
        job = BulkQuery(
            self.api,
            plan,
            soql(plan.select(), plan.name, conditions),
            operation="queryAll" if include_deleted else "query",
            options=self.settings.bulk,
        )
        try:
            job.run()
        except BulkUnavailable as exc:
            self.context.warn(f"{self.where}: {exc}; read through the REST API instead")
            return None
        log.info("%s: reading Bulk API job %s", self.where, job.job_id)
        return self._counted(job.batches())

    def _counted(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.context.page(batch.num_rows)
            yield batch

    def _rest(
        self,
        plan: ObjectPlan,
        conditions: Sequence[str],
        order: Sequence[str],
        *,
        include_deleted: bool,
        bulk_from: int | None,
    ) -> Iterator[pa.RecordBatch]:
        """Page a query; after a dead locator, resume after the last row read.

        With *bulk_from*, a query of that many rows or more is handed to Bulk.
        """
        last: tuple[pa.Scalar[typing.Any], ...] | None = None
        next_url: str | None = None
        resumes = 0
        while True:
            where = list(conditions)
            if last is not None:
                where.append(_after(order, last))
            try:
                page = self.api.query_page(
                    plan,
                    soql=soql(plan.select(), plan.name, where, order),
                    next_url=next_url,
                    include_deleted=include_deleted,
                    batch_size=self.settings.batch_size,
                )
            except UnexpectedResponseError as exc:
                resumes += 1
                if not _locator_died(exc, next_url) or resumes > _MAX_RESUMES:
                    raise
                log.info("%s: the query locator died; resuming", self.where)
                next_url = None
                continue
            if bulk_from is not None:
                batches = self._bulk_if_big(
                    page, bulk_from, plan, conditions, include_deleted=include_deleted
                )
                if batches is not None:
                    yield from batches
                    return
                bulk_from = None
            batch = page.batch
            self.context.page(batch.num_rows)
            if batch.num_rows:
                resumes = 0
                tail = batch.slice(batch.num_rows - 1)
                last = tuple(tail.column(name)[0] for name in order)
                yield batch
            if page.done or page.next_url is None:
                return
            next_url = page.next_url

    def _bulk_if_big(
        self,
        page: Page,
        bulk_from: int,
        plan: ObjectPlan,
        conditions: Sequence[str],
        *,
        include_deleted: bool,
    ) -> Iterator[pa.RecordBatch] | None:
        """Hand a query of *bulk_from* rows or more (``totalSize``) to Bulk."""
        rows = page.total_size or 0
        log.info("%s: %d row(s) to read (Bulk from %d)", self.where, rows, bulk_from)
        if rows < bulk_from:
            return None
        return self._bulk(plan, conditions, include_deleted=include_deleted)

    # ------------------------------------------------------------ deletes

    def _deleted_log(
        self, prior: IncrementalState | None
    ) -> tuple[PendingDeletes, str | None, int | None]:
        """Read the deleted-records log since the last sync.

        Returns the deletes waiting for tombstones, why the log has a gap (if it
        has one) and up to when deletions are now known.
        """
        if prior is None:
            # A first read lands every row there is, deleted ones included; only
            # learn where the log stands, in Salesforce's clock.
            return PendingDeletes(), None, self._log_anchor()
        if not self.plan.replicateable:
            self.context.warn(
                f"{self.where}: the object is not replicateable, so records deleted "
                "from the recycle bin (hard deletes) cannot be seen"
            )
            return PendingDeletes(), None, prior.deletes_through
        since = (
            prior.deletes_through
            if prior.deletes_through is not None
            else prior.watermark
        )
        start = _floor(since - self.settings.lookback_ms, _MINUTE)
        stop = _floor(self.end, _MINUTE)
        oldest = _floor(self.end - _LOG_REACH, _MINUTE)
        gap = None
        if start < oldest:
            gap = (
                f"{self.where}: deletions were last read up to {format_ms(since)}, "
                "beyond the 15 days the deleted-records log reaches back"
            )
            start = oldest
        if start >= stop:
            return PendingDeletes(), gap, since
        try:
            answer = self.api.deleted(self.plan.name, start, stop)
        except UnexpectedResponseError as exc:
            if exc.vendor_code not in _LOG_GAP_CODES:
                raise
            why = f"{self.where}: the deleted-records log cannot be read ({exc})"
            return PendingDeletes(), why, stop
        if gap is None and answer.earliest is not None and answer.earliest > since:
            gap = (
                f"{self.where}: the deleted-records log starts at "
                f"{format_ms(answer.earliest)}, after the watermark {format_ms(since)} "
                "(the recycle bin was emptied), so hard deletes in between are unknown"
            )
        through = min(answer.latest if answer.latest is not None else stop, stop)
        return PendingDeletes(dict(answer.deleted)), gap, through

    def _log_anchor(self) -> int | None:
        """Up to when the deleted-records log is complete now, by Salesforce's clock.

        The next sync reads the log from there; asking the server (for the last
        minute) keeps a skew between our clock and Salesforce's from hiding a gap.
        """
        if not self.plan.replicateable:
            return None
        stop = _floor(self.end, _MINUTE)
        try:
            answer = self.api.deleted(self.plan.name, stop - _MINUTE, stop)
        except UnexpectedResponseError as exc:
            if exc.vendor_code not in _LOG_GAP_CODES:
                raise
            return stop
        return min(answer.latest if answer.latest is not None else stop, stop)

    def _reconcile(self, reason: str) -> Iterator[pa.RecordBatch]:
        """Tombstone the ids the lake holds as alive that the source no longer has."""
        read = self.context.read_raw
        if read is None:
            self.context.warn(f"{reason}; nothing landed yet, nothing to reconcile")
            return
        table = _read_lake(read, self.plan)
        alive = latest_alive(table, self.plan.cursor)
        present = [
            batch.column("Id")
            for batch in self._read(
                id_plan(self.plan), [], ["Id"], include_deleted=False
            )
        ]
        gone = missing_ids(alive, present)
        self.context.warn(
            f"{reason}; reconciled the {len(alive)} live id(s) in the lake with the "
            f"source: {len(gone)} tombstone(s)"
        )
        for first in range(0, len(gone), _TOMBSTONE_CHUNK):
            chunk = gone[first : first + _TOMBSTONE_CHUNK]
            yield tombstones(self.plan, chunk, [self.end] * len(chunk))


def _locator_died(error: UnexpectedResponseError, next_url: str | None) -> bool:
    """Whether *error* says the query locator of *next_url* is gone (expired)."""
    return next_url is not None and error.vendor_code == "INVALID_QUERY_LOCATOR"


def _after(order: Sequence[str], last: Sequence[pa.Scalar[typing.Any]]) -> str:
    """The keyset predicate "after *last*" for ``ORDER BY`` *order* (ascending)."""
    literals = [_literal(value) for value in last]
    clauses = []
    for depth, name in enumerate(order):
        equal = [f"{order[i]} = {literals[i]}" for i in range(depth)]
        clauses.append(" AND ".join([*equal, f"{name} > {literals[depth]}"]))
    if len(clauses) == 1:
        return clauses[0]
    return "(" + " OR ".join(f"({c})" if " AND " in c else c for c in clauses) + ")"


def _literal(value: pa.Scalar[typing.Any]) -> str:
    """A SOQL literal for a key value: a datetime (unquoted) or an Id (quoted)."""
    if pa.types.is_timestamp(value.type):
        return soql_datetime(value.cast(pa.int64()).as_py())
    text = value.as_py()
    if not isinstance(text, str):
        msg = f"cannot resume a query after a {value.type} value"
        raise TypeError(msg)
    return soql_string(text)


def _read_lake(
    read: typing.Callable[[Sequence[str]], pa.Table], plan: ObjectPlan
) -> pa.Table:
    """Read the columns the reconciliation needs, without those the lake lacks."""
    wanted = ["Id", plan.cursor, "IsDeleted", TOMBSTONE_COLUMN, "_sync_id"]
    columns = [c for c in wanted if c is not None]
    for _ in wanted:
        try:
            return read(columns)
        except SchemaError as exc:  # noqa: PERF203 - at most a few retries
            if exc.column is None or exc.column == "Id" or exc.column not in columns:
                raise
            columns.remove(exc.column)
    return read(columns)
