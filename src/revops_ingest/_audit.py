"""The audit log of every sync and the sync status view built from it.

``/RevOps/Audit/sync_log`` gets one row per sync, successful or not, with the seed's
fields (``sync_id`` ... ``error_message``) followed by what helps an operator: the
status, the dataset and commit, the watermark before and after, requests, retries,
bytes, time spent waiting, token refreshes and API quota used.
"""

from __future__ import annotations

import json
import typing

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest.exceptions import DatasetNotFoundError


if typing.TYPE_CHECKING:
    import datetime as dt

    from revops_ingest._lake import Lake


__all__ = [
    "AUDIT_SCHEMA",
    "SYNC_LOG",
    "SYNC_STATUS",
    "SyncRun",
    "sync_status",
]

SYNC_LOG = "/RevOps/Audit/sync_log"
SYNC_STATUS = "/RevOps/Monitoring/sync_status"

_TS = pa.timestamp("us", tz="UTC")
_AUDIT_FIELDS: list[pa.Field[typing.Any]] = [
    # The seed's fields, in the seed's order.
    pa.field("sync_id", pa.string(), nullable=False),
    pa.field("source_system", pa.string(), nullable=False),
    pa.field("object_type", pa.string(), nullable=False),
    pa.field("start_time", _TS, nullable=False),
    pa.field("end_time", _TS, nullable=False),
    pa.field("records_processed", pa.int64(), nullable=False),
    pa.field("records_failed", pa.int64(), nullable=False),
    pa.field("error_message", pa.string()),
    # What helps an operator.
    pa.field("status", pa.string(), nullable=False),
    pa.field("error_type", pa.string()),
    pa.field("mode", pa.string(), nullable=False),
    pa.field("full_refresh", pa.bool_(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("commit_id", pa.string()),
    pa.field("watermark_before", pa.string()),
    pa.field("watermark_after", pa.string()),
    pa.field("requests", pa.int64(), nullable=False),
    pa.field("retries", pa.int64(), nullable=False),
    pa.field("bytes_received", pa.int64(), nullable=False),
    pa.field("wait_seconds", pa.float64(), nullable=False),
    pa.field("token_refreshes", pa.int64(), nullable=False),
    pa.field("api_quota_used", pa.int64()),
    pa.field("api_quota_limit", pa.int64()),
    pa.field("warnings", pa.list_(pa.string()), nullable=False),
    pa.field("library_version", pa.string(), nullable=False),
]
AUDIT_SCHEMA = pa.schema(_AUDIT_FIELDS)
"""The Arrow schema of ``/RevOps/Audit/sync_log``."""


def _watermark(state: typing.Mapping[str, typing.Any] | None) -> str | None:
    return None if state is None else json.dumps(state, sort_keys=True, default=str)


@attrs.frozen(kw_only=True)
class SyncRun:
    """What one sync did: the audit row, as an object.

    Attributes:
        sync_id: Unique, time-ordered id of the sync; also on every raw row it landed.
        source_system: The source system, such as ``"Salesforce"``.
        object_type: The object, such as ``"Opportunity"``.
        start_time: When the sync started (UTC).
        end_time: When it ended (UTC).
        records_processed: Rows landed in the raw dataset.
        records_failed: Records the source received but could not land.
        error_message: Why the sync failed, or ``None``.
        status: ``"success"`` or ``"failed"``.
        error_type: The exception class of a failure, or ``None``.
        mode: ``"incremental"`` or ``"full"``.
        full_refresh: Whether the stored watermark was ignored.
        dataset: The raw dataset written to.
        commit_id: The lake commit holding the rows and the new watermark, if any.
        watermark_before: The state the sync started from, as JSON.
        watermark_after: The state committed with the rows, as JSON (unchanged on
            failure).
        requests: HTTP requests sent, retries included.
        retries: Requests repeated after a retryable failure.
        bytes_received: Response bytes received.
        wait_seconds: Seconds spent waiting for backoff, ``Retry-After`` or pacing.
        token_refreshes: Access tokens fetched or refreshed.
        api_quota_used: Calls used of the vendor's allocation, if it says.
        api_quota_limit: The vendor's allocation, if it says.
        warnings: Things an operator should know.
        library_version: The ``revops_ingest`` version that ran the sync.
    """

    sync_id: str
    source_system: str
    object_type: str
    start_time: dt.datetime
    end_time: dt.datetime
    records_processed: int
    records_failed: int
    error_message: str | None
    status: typing.Literal["success", "failed"]
    error_type: str | None
    mode: str
    full_refresh: bool
    dataset: str
    commit_id: str | None
    watermark_before: str | None
    watermark_after: str | None
    requests: int
    retries: int
    bytes_received: int
    wait_seconds: float
    token_refreshes: int
    api_quota_used: int | None
    api_quota_limit: int | None
    warnings: tuple[str, ...]
    library_version: str

    @property
    def succeeded(self) -> bool:
        """Whether the sync committed its rows and watermark."""
        return self.status == "success"

    @property
    def duration_seconds(self) -> float:
        """Wall-clock duration of the sync."""
        return (self.end_time - self.start_time).total_seconds()

    def to_table(self) -> pa.Table:
        """Return this run as a one-row table in :data:`AUDIT_SCHEMA`."""
        row = attrs.asdict(self, recurse=False)
        row["warnings"] = list(self.warnings)
        return pa.Table.from_pylist([row], schema=AUDIT_SCHEMA)


_STATUS_FIELDS: list[pa.Field[typing.Any]] = [
    pa.field("last_success_time", _TS),
    pa.field("consecutive_failures", pa.int64(), nullable=False),
    pa.field("total_syncs", pa.int64(), nullable=False),
]
_STATUS_EXTRA = pa.schema(_STATUS_FIELDS)


def _status_schema() -> pa.Schema:
    return pa.schema([*AUDIT_SCHEMA, *_STATUS_EXTRA])


def sync_status(lake: Lake) -> pa.Table:
    """Return the latest sync of every source system and object.

    This is the seed's ``/RevOps/Monitoring/sync_status``: one row per
    ``(source_system, object_type)`` with the columns of the audit log for the most
    recent sync, plus ``last_success_time`` (end of the latest successful sync),
    ``consecutive_failures`` (failed syncs since then) and ``total_syncs``. Sorted by
    source system and object. An empty table if nothing has been synced yet.
    """
    try:
        log = lake.read(SYNC_LOG)
    except DatasetNotFoundError:
        return _status_schema().empty_table()
    return _summarise(log)


def _summarise(log: pa.Table) -> pa.Table:
    log = log.select(AUDIT_SCHEMA.names)
    if log.num_rows == 0:
        return _status_schema().empty_table()
    # Order by key, then start time and sync id (sync ids sort by time too).
    order = log.sort_by(
        [
            ("source_system", "ascending"),
            ("object_type", "ascending"),
            ("start_time", "ascending"),
            ("sync_id", "ascending"),
        ]
    )
    systems = order.column("source_system").to_pylist()
    objects = order.column("object_type").to_pylist()
    statuses = order.column("status").to_pylist()
    ends = order.column("end_time").to_pylist()
    latest: list[int] = []
    last_success: list[dt.datetime | None] = []
    failures: list[int] = []
    totals: list[int] = []
    n = order.num_rows
    i = 0
    while i < n:
        j = i
        success: dt.datetime | None = None
        streak = 0
        while j < n and systems[j] == systems[i] and objects[j] == objects[i]:
            if statuses[j] == "success":
                success = ends[j]
                streak = 0
            else:
                streak += 1
            j += 1
        latest.append(j - 1)
        last_success.append(success)
        failures.append(streak)
        totals.append(j - i)
        i = j
    rows = order.take(pa.array(latest, pa.int64()))
    rows = rows.append_column(
        _STATUS_EXTRA.field("last_success_time"), pa.array(last_success, _TS)
    )
    rows = rows.append_column(
        _STATUS_EXTRA.field("consecutive_failures"), pa.array(failures, pa.int64())
    )
    rows = rows.append_column(
        _STATUS_EXTRA.field("total_syncs"), pa.array(totals, pa.int64())
    )
    return rows.cast(_status_schema())


def failed_syncs(lake: Lake, *, since: dt.datetime | None = None) -> pa.Table:
    """Return the audit rows of failed syncs, newest first (optionally since a time)."""
    try:
        log = lake.read(SYNC_LOG)
    except DatasetNotFoundError:
        return AUDIT_SCHEMA.empty_table()
    mask = pc.equal(log.column("status"), pa.scalar("failed"))
    if since is not None:
        mask = pc.and_(
            mask, pc.greater_equal(log.column("start_time"), pa.scalar(since, _TS))
        )
    return log.filter(mask).sort_by([("start_time", "descending")])
