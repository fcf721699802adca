"""``build_staging``: the raw lake datasets into the four staging datasets, audited."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import secrets
import typing

import attrs
import pyarrow as pa

from revops_ingest.exceptions import ConfigurationError, RevOpsIngestError
from revops_ingest.staging._config import (
    FIELD_MAP_DATASET,
    STAGE_MAP_DATASET,
    field_map_from_table,
    stage_map_from_table,
)
from revops_ingest.staging._run import run
from revops_ingest.staging._salesforce import PLANS, SALESFORCE, options_for


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest._lake import Lake
    from revops_ingest.quality import Notifier
    from revops_ingest.staging._result import StagingReport


__all__ = [
    "STAGING_DATASETS",
    "STAGING_LOG",
    "STAGING_LOG_SCHEMA",
    "StagingRun",
    "build_staging",
]

STAGING_LOG = "/RevOps/Audit/staging_log"
"""The audit dataset :func:`build_staging` appends one row per staging table to."""

log = logging.getLogger("revops_ingest.staging")

STAGING_DATASETS: Mapping[str, str] = {
    "opportunities": "/RevOps/Staging/opportunities",
    "accounts": "/RevOps/Staging/accounts",
    "contacts": "/RevOps/Staging/contacts",
    "activities": "/RevOps/Staging/activities",
}
"""Staging table -> its dataset path."""

_SOURCES: Mapping[str, tuple[str, ...]] = {
    "opportunities": ("Opportunity",),
    "accounts": ("Account",),
    "contacts": ("Contact",),
    "activities": ("Task", "Event"),
}

_TS = pa.timestamp("us", tz="UTC")
_LOG_FIELDS: list[pa.Field[typing.Any]] = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("staging_table", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("started_at", _TS, nullable=False),
    pa.field("finished_at", _TS, nullable=False),
    pa.field("source_system", pa.string(), nullable=False),
    pa.field("raw_datasets", pa.list_(pa.string()), nullable=False),
    pa.field("schema_version", pa.int64()),
    pa.field("rows_in", pa.int64()),
    pa.field("rows_out", pa.int64()),
    pa.field("superseded", pa.int64()),
    pa.field("deleted", pa.int64()),
    pa.field("deleted_kept", pa.bool_()),
    pa.field("missing_id", pa.int64()),
    pa.field("invalid_values", pa.int64()),
    pa.field("invalid_values_by_column", pa.string()),
    pa.field("unmapped_stage_rows", pa.int64()),
    pa.field("unmapped_stages", pa.string()),
    pa.field("missing_columns", pa.list_(pa.string())),
    pa.field("ignored_columns", pa.list_(pa.string())),
    pa.field("commit_id", pa.string()),
    pa.field("message", pa.string()),
    pa.field("error_type", pa.string()),
    pa.field("library_version", pa.string(), nullable=False),
]
STAGING_LOG_SCHEMA = pa.schema(_LOG_FIELDS)
"""The Arrow schema of ``/RevOps/Audit/staging_log``."""


def _library_version() -> str:
    try:
        return importlib.metadata.version("revops-ingest")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree
        return "0+unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@attrs.frozen(kw_only=True)
class StagingRun:
    """What :func:`build_staging` did for one staging table: one audit row.

    Attributes:
        run_id: The id of the build (one per call, time-ordered).
        dataset: The staging dataset, such as ``/RevOps/Staging/opportunities``.
        staging_table: Its table name, such as ``"opportunities"``.
        status: ``"success"``, ``"skipped"`` (no raw dataset) or ``"failed"``.
        started_at: When staging this table started (UTC).
        finished_at: When it ended (UTC).
        raw_datasets: The raw datasets read.
        report: The staging report, for a success.
        commit_id: The lake commit that replaced the staging dataset, if any.
        message: Why it was skipped or failed, or what to know (a raw dataset
            of several that is missing).
        error_type: The exception class of a failure.
    """

    run_id: str
    dataset: str
    staging_table: str
    status: typing.Literal["success", "skipped", "failed"]
    started_at: dt.datetime
    finished_at: dt.datetime
    raw_datasets: tuple[str, ...] = ()
    report: StagingReport | None = None
    commit_id: str | None = None
    message: str | None = None
    error_type: str | None = None

    @property
    def succeeded(self) -> bool:
        """Whether the staging dataset was written."""
        return self.status == "success"

    def to_table(self) -> pa.Table:
        """Return this run as a one-row table in :data:`STAGING_LOG_SCHEMA`."""
        report = self.report
        row: dict[str, typing.Any] = {
            "run_id": self.run_id,
            "dataset": self.dataset,
            "staging_table": self.staging_table,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "source_system": SALESFORCE,
            "raw_datasets": list(self.raw_datasets),
            "commit_id": self.commit_id,
            "message": self.message,
            "error_type": self.error_type,
            "library_version": _library_version(),
        }
        if report is not None:
            row |= {
                "schema_version": report.schema_version,
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
                "superseded": report.superseded,
                "deleted": report.deleted,
                "deleted_kept": report.deleted_kept,
                "missing_id": report.missing_id,
                "invalid_values": report.invalid_value_count,
                "invalid_values_by_column": json.dumps(dict(report.invalid_values)),
                "unmapped_stage_rows": report.unmapped_stage_rows,
                "unmapped_stages": json.dumps(dict(report.unmapped_stages)),
                "missing_columns": list(report.missing_columns),
                "ignored_columns": list(report.ignored_columns),
            }
        return pa.Table.from_pylist([row], schema=STAGING_LOG_SCHEMA)


def _raw_dataset(object_type: str) -> str:
    return f"/{SALESFORCE}/Raw/{object_type}"


def build_staging(
    lake: Lake,
    *,
    tables: Sequence[str] | None = None,
    keep_deleted: bool = False,
    default_currency: str = "USD",
    check: bool = True,
    notifiers: Mapping[str, Notifier] | None = None,
    dry_run: bool = False,
) -> list[StagingRun]:
    """Stage the Salesforce raw datasets of *lake* into the staging datasets.

    Reads ``/Salesforce/Raw/{Opportunity,Account,Contact,Task,Event}`` and the
    config datasets ``/RevOps/Config/stage_map`` and
    ``/RevOps/Config/salesforce_field_map`` (when they exist), replaces each of
    ``/RevOps/Staging/{opportunities,accounts,contacts,activities}`` atomically
    (readers see the old table or the new one, never a mix), and appends one row
    per staging table to ``/RevOps/Audit/staging_log``. A staging table whose raw
    datasets are all missing is skipped, not an error.

    Args:
        lake: The lake holding the raw, config and staging datasets.
        tables: Stage only these tables (default: all four).
        keep_deleted: Keep deleted records, flagged, instead of dropping them.
        default_currency: Currency of opportunity amounts when the org has none.
        check: Then run the seed's quality checks on every staging dataset,
            record their metrics and route alerts
            (:func:`revops_ingest.quality.check_staging`).
        notifiers: Where alerts go, by channel (``"pagerduty"``, ``"slack"``,
            ``"email"``); a channel without one is reported as undelivered.
        dry_run: Print the alerts instead of sending them.

    Returns:
        One :class:`StagingRun` per table, as logged.

    Raises:
        ConfigurationError: A config dataset or argument is invalid (logged as a
            failure of every table first).
        revops_ingest.exceptions.RevOpsIngestError: Staging a table failed (for
            example a raw dataset has no ``Id`` column). The other tables are
            still staged and everything is logged before the first such error is
            raised.
    """
    names = list(STAGING_DATASETS) if tables is None else list(tables)
    unknown = [n for n in names if n not in STAGING_DATASETS]
    if unknown:
        raise ConfigurationError(
            f"unknown staging table(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(STAGING_DATASETS)}"
        )
    run_id = f"{_now():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"
    runs: list[StagingRun] = []
    errors: list[RevOpsIngestError] = []
    started = _now()
    try:
        stage_map = (
            stage_map_from_table(lake.read(STAGE_MAP_DATASET))
            if lake.exists(STAGE_MAP_DATASET)
            else {}
        )
        field_table = (
            lake.read(FIELD_MAP_DATASET) if lake.exists(FIELD_MAP_DATASET) else None
        )
        options_for(
            stage_map=stage_map,
            field_map=None,
            keep_deleted=keep_deleted,
            default_currency=default_currency,
        )
    except RevOpsIngestError as exc:
        runs = [
            _failed(
                run_id,
                name,
                started=started,
                raw=(),
                exc=exc,
                prefix="reading the config failed: ",
            )
            for name in names
        ]
        _log(lake, runs)
        raise
    for name in names:
        runs.append(
            _stage_one(
                lake,
                run_id,
                name,
                stage_map=stage_map,
                field_table=field_table,
                keep_deleted=keep_deleted,
                default_currency=default_currency,
                errors=errors,
            )
        )
    _log(lake, runs)
    if check:
        from revops_ingest.quality import check_staging  # noqa: PLC0415 - a cycle

        quality = check_staging(lake, notifiers=notifiers, dry_run=dry_run)
        log.info(
            "staging %s quality: %s, worst severity %s",
            run_id,
            "passed" if quality.passed else "failed",
            quality.worst_severity,
        )
    if errors:
        first = errors[0]
        if hasattr(first, "add_note"):
            first.add_note(f"staging run {run_id} recorded in {STAGING_LOG}")
        raise first
    return runs


def _failed(
    run_id: str,
    name: str,
    *,
    started: dt.datetime,
    raw: tuple[str, ...],
    exc: Exception,
    prefix: str = "",
) -> StagingRun:
    return StagingRun(
        run_id=run_id,
        dataset=STAGING_DATASETS[name],
        staging_table=name,
        status="failed",
        started_at=started,
        finished_at=_now(),
        raw_datasets=raw,
        message=f"{prefix}{exc}",
        error_type=type(exc).__name__,
    )


def _stage_one(
    lake: Lake,
    run_id: str,
    name: str,
    *,
    stage_map: Mapping[str, str],
    field_table: pa.Table | None,
    keep_deleted: bool,
    default_currency: str,
    errors: list[RevOpsIngestError],
) -> StagingRun:
    started = _now()
    objects = _SOURCES[name]
    present = [o for o in objects if lake.exists(_raw_dataset(o))]
    absent = [_raw_dataset(o) for o in objects if o not in present]
    raw_paths = tuple(_raw_dataset(o) for o in present)
    if not present:
        return StagingRun(
            run_id=run_id,
            dataset=STAGING_DATASETS[name],
            staging_table=name,
            status="skipped",
            started_at=started,
            finished_at=_now(),
            message=f"no raw dataset: {', '.join(absent)} not found",
        )
    try:
        inputs = []
        for object_type in present:
            raw = lake.read(_raw_dataset(object_type))
            field_map = (
                {}
                if field_table is None
                else field_map_from_table(
                    field_table, object_type=object_type, fields=raw.column_names
                )
            )
            options = options_for(
                stage_map=stage_map,
                field_map=field_map,
                keep_deleted=keep_deleted,
                default_currency=default_currency,
            )
            inputs.append((PLANS[object_type], raw, options))
        result = run(inputs)
        report = result.report
        commit = lake.write(
            STAGING_DATASETS[name],
            result.table,
            properties={
                "staging_run_id": run_id,
                "schema_version": report.schema_version,
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
            },
        )
    except RevOpsIngestError as exc:
        errors.append(exc)
        return _failed(run_id, name, started=started, raw=raw_paths, exc=exc)
    return StagingRun(
        run_id=run_id,
        dataset=STAGING_DATASETS[name],
        staging_table=name,
        status="success",
        started_at=started,
        finished_at=_now(),
        raw_datasets=raw_paths,
        report=report,
        commit_id=commit.commit_id,
        message=(f"staged without {', '.join(absent)} (not found)" if absent else None),
    )


def _log(lake: Lake, runs: Sequence[StagingRun]) -> None:
    if runs:
        lake.append(STAGING_LOG, pa.concat_tables([r.to_table() for r in runs]))
