"""``build_staging``: the raw lake datasets into the staging datasets, audited."""

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
    HUBSPOT_FIELD_MAP_DATASET,
    STAGE_MAP_DATASET,
    field_map_from_table,
    hubspot_field_map_from_table,
    stage_map_from_table,
)
from revops_ingest.staging._hubspot import (
    HUBSPOT,
    stage_hubspot_companies,
    stage_hubspot_contacts,
    stage_hubspot_deals,
    stage_hubspot_engagements,
)
from revops_ingest.staging._run import run
from revops_ingest.staging._salesforce import PLANS, SALESFORCE, options_for
from revops_ingest.staging._schemas import SCHEMAS
from revops_ingest.staging._unify import (
    DEFAULT_PRIMARY_SOURCE,
    PRIMARY_SOURCE_DATASET,
    UnifiedTable,
    UnifyReport,
    primary_source_from_table,
    unify_accounts,
    unify_opportunities,
    unify_records,
)
from revops_ingest.staging._zendesk import (
    SUPPORT_SUMMARY,
    SUPPORT_TICKETS,
    SupportTicketsReport,
    stage_support_tickets,
    support_summary,
)


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest._lake import Lake
    from revops_ingest.quality import Notifier
    from revops_ingest.staging._result import StagingReport, StagingResult


__all__ = [
    "ACCOUNT_ID_MAP",
    "ACCOUNT_MAPPING",
    "DOMAIN_MAPPING",
    "MATCHING_RULES",
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
    "support_tickets": SUPPORT_TICKETS,
}
"""Staging table -> its dataset path. ``support_tickets`` also writes the
per-account ``/RevOps/Telemetry/support_summary``."""

DOMAIN_MAPPING = "/RevOps/Reference/account_domain_mapping"
"""``domain`` -> ``account_id``: how tickets (and events) find their account."""

_ZENDESK_RAW = {
    "tickets": "/Zendesk/Raw/Tickets",
    "users": "/Zendesk/Raw/Users",
    "organizations": "/Zendesk/Raw/Organizations",
}

_SOURCES: Mapping[str, tuple[str, ...]] = {
    "opportunities": ("Opportunity",),
    "accounts": ("Account",),
    "contacts": ("Contact",),
    "activities": ("Task", "Event"),
}
_HUBSPOT_SOURCES: Mapping[str, str] = {
    "opportunities": "deals",
    "accounts": "companies",
    "contacts": "contacts",
    "activities": "engagements",
}
_HUBSPOT_ASSOCIATIONS: Mapping[str, tuple[str, ...]] = {
    "opportunities": ("deal_company_associations",),
    "accounts": (),
    "contacts": ("contact_company_associations",),
    "activities": ("engagement_associations",),
}

ACCOUNT_ID_MAP = "/RevOps/Staging/account_id_map"
"""``source_system``, ``source_id`` -> ``unified_id``: every source account's
unified account (the crosswalk :func:`build_staging` writes with ``accounts``)."""

MATCHING_RULES = "/RevOps/Config/account_matching_rules"
"""The seed's matching rules config table (see ``docs/matching.md``)."""

ACCOUNT_MAPPING = "/RevOps/Config/account_mapping"
"""Manual account pairs: ``left_id`` (Salesforce), ``right_id`` (HubSpot) and
optionally ``action`` (``map``, ``pin``, ``veto``)."""


def _hubspot_raw(name: str) -> str:
    return f"/{HUBSPOT}/Raw/{name}"


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
    # Added with the support-ticket telemetry: counts a table reports beyond the
    # common ones (linked, ambiguous and unlinked tickets), as a JSON object.
    pa.field("details", pa.string()),
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
        source_system: The system the raw datasets came from.
        details: Counts beyond the common ones, as JSON (the unification of
            Salesforce and HubSpot, the linking of tickets).
    """

    run_id: str
    dataset: str
    staging_table: str
    status: typing.Literal["success", "skipped", "failed"]
    started_at: dt.datetime
    finished_at: dt.datetime
    raw_datasets: tuple[str, ...] = ()
    report: StagingReport | SupportTicketsReport | None = None
    commit_id: str | None = None
    message: str | None = None
    error_type: str | None = None
    source_system: str = SALESFORCE
    details: str | None = None

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
            "source_system": self.source_system,
            "raw_datasets": list(self.raw_datasets),
            "commit_id": self.commit_id,
            "message": self.message,
            "error_type": self.error_type,
            "library_version": _library_version(),
            "details": self.details,
        }
        if isinstance(report, SupportTicketsReport):
            row |= {
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
                "superseded": report.superseded,
                "deleted": report.deleted,
                "missing_id": report.missing_id,
            }
        elif report is not None:
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
    """Stage the raw datasets of *lake* into the staging datasets.

    Reads ``/Salesforce/Raw/{Opportunity,Account,Contact,Task,Event}``, the
    HubSpot raw datasets, and the config datasets ``/RevOps/Config/stage_map``,
    ``/RevOps/Config/salesforce_field_map`` and
    ``/RevOps/Config/hubspot_field_map`` (when they exist), replaces each of
    ``/RevOps/Staging/{opportunities,accounts,contacts,activities}`` atomically
    (readers see the old table or the new one, never a mix), and appends one row
    per staging table to ``/RevOps/Audit/staging_log``. A staging table whose raw
    datasets are all missing is skipped, not an error.

    ``support_tickets`` stages ``/Zendesk/Raw/{Tickets,Users,Organizations}`` into
    ``/RevOps/Telemetry/support_tickets``, linking each ticket to an account
    through ``/RevOps/Reference/account_domain_mapping`` (``domain``,
    ``account_id``), the staged accounts' domains and the organizations' domains,
    and writes the per-account ``/RevOps/Telemetry/support_summary``; the log
    row's ``details`` counts linked, ambiguous and unlinked tickets.

    Args:
        lake: The lake holding the raw, config and staging datasets.
        tables: Stage only these tables (default: all of
            :data:`STAGING_DATASETS`).
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
        crm = _Crm.from_config(
            lake, keep_deleted=keep_deleted, default_currency=default_currency
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
        runs.extend(_stage_one(crm, run_id, name, errors=errors))
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


def _config(lake: Lake, path: str) -> pa.Table | None:
    return lake.read(path) if lake.exists(path) else None


@attrs.define
class _Crm:
    """What the CRM tables of one build share: options, staged sources, accounts.

    Each source object is staged once per build, and the account unification
    (which opportunities, contacts and activities are re-pointed through) is
    computed once, whichever table asks first.
    """

    lake: Lake
    stage_map: Mapping[str, str]
    hubspot_stage_map: Mapping[str, str]
    field_table: pa.Table | None
    hubspot_field_table: pa.Table | None
    keep_deleted: bool
    default_currency: str
    primary: Mapping[str, str]
    staged: dict[tuple[str, str], StagingResult[pa.Table] | None] = attrs.Factory(dict)
    unified_accounts: UnifiedTable | None = None
    hubspot_present: bool | None = None

    @classmethod
    def from_config(
        cls, lake: Lake, *, keep_deleted: bool, default_currency: str
    ) -> _Crm:
        """Read and check the config datasets; a bad row fails the whole build."""
        stage_table = _config(lake, STAGE_MAP_DATASET)
        field_table = _config(lake, FIELD_MAP_DATASET)
        hubspot_field_table = _config(lake, HUBSPOT_FIELD_MAP_DATASET)
        primary = _config(lake, PRIMARY_SOURCE_DATASET)
        if field_table is not None:
            for objects in _SOURCES.values():
                for object_type in objects:
                    field_map_from_table(field_table, object_type=object_type)
        if hubspot_field_table is not None:
            for dataset in _HUBSPOT_SOURCES.values():
                hubspot_field_map_from_table(hubspot_field_table, object_type=dataset)
        stage_map = {} if stage_table is None else stage_map_from_table(stage_table)
        options_for(
            stage_map=stage_map,
            field_map=None,
            keep_deleted=keep_deleted,
            default_currency=default_currency,
        )
        return cls(
            lake=lake,
            stage_map=stage_map,
            hubspot_stage_map=(
                {}
                if stage_table is None
                else stage_map_from_table(stage_table, source_system=HUBSPOT)
            ),
            field_table=field_table,
            hubspot_field_table=hubspot_field_table,
            keep_deleted=keep_deleted,
            default_currency=default_currency,
            primary=(
                dict(DEFAULT_PRIMARY_SOURCE)
                if primary is None
                else primary_source_from_table(primary)
            ),
        )

    def has_hubspot(self) -> bool:
        """Whether any HubSpot raw dataset exists (looked up once per build)."""
        if self.hubspot_present is None:
            self.hubspot_present = any(
                self.lake.exists(_hubspot_raw(o)) for o in _HUBSPOT_SOURCES.values()
            )
        return self.hubspot_present

    def salesforce(self, name: str) -> StagingResult[pa.Table] | None:
        key = (SALESFORCE, name)
        if key not in self.staged:
            present = [o for o in _SOURCES[name] if self.lake.exists(_raw_dataset(o))]
            inputs = []
            for object_type in present:
                raw = self.lake.read(_raw_dataset(object_type))
                field_map = (
                    {}
                    if self.field_table is None
                    else field_map_from_table(
                        self.field_table,
                        object_type=object_type,
                        fields=raw.column_names,
                    )
                )
                options = options_for(
                    stage_map=self.stage_map,
                    field_map=field_map,
                    keep_deleted=self.keep_deleted,
                    default_currency=self.default_currency,
                )
                inputs.append((PLANS[object_type], raw, options))
            self.staged[key] = run(inputs) if inputs else None
        return self.staged[key]

    def hubspot(self, name: str) -> StagingResult[pa.Table] | None:
        key = (HUBSPOT, name)
        if key not in self.staged:
            path = _hubspot_raw(_HUBSPOT_SOURCES[name])
            self.staged[key] = (
                self._stage_hubspot(name, self.lake.read(path))
                if self.lake.exists(path)
                else None
            )
        return self.staged[key]

    def _stage_hubspot(self, name: str, raw: pa.Table) -> StagingResult[pa.Table]:
        associations = [
            self.lake.read(_hubspot_raw(a))
            for a in _HUBSPOT_ASSOCIATIONS[name]
            if self.lake.exists(_hubspot_raw(a))
        ]
        links = pa.concat_tables(associations) if associations else None
        keep = self.keep_deleted
        fields = (
            None
            if self.hubspot_field_table is None
            else hubspot_field_map_from_table(
                self.hubspot_field_table,
                object_type=_HUBSPOT_SOURCES[name],
                fields=raw.column_names,
            )
        )
        if name == "opportunities":
            return stage_hubspot_deals(
                raw,
                associations=links,
                stage_map=self.hubspot_stage_map,
                field_map=fields,
                default_currency=self.default_currency,
                keep_deleted=keep,
            )
        if name == "accounts":
            return stage_hubspot_companies(raw, field_map=fields, keep_deleted=keep)
        if name == "contacts":
            return stage_hubspot_contacts(
                raw, associations=links, field_map=fields, keep_deleted=keep
            )
        return stage_hubspot_engagements(
            raw, associations=links, field_map=fields, keep_deleted=keep
        )

    def accounts(self) -> UnifiedTable:
        if self.unified_accounts is None:
            sf, hs = self.salesforce("accounts"), self.hubspot("accounts")
            lake = self.lake
            self.unified_accounts = unify_accounts(
                sf.table if sf is not None else None,
                hs.table if hs is not None else None,
                primary=self.primary["accounts"],
                rules=lake.read(MATCHING_RULES)
                if lake.exists(MATCHING_RULES)
                else None,
                manual=lake.read(ACCOUNT_MAPPING)
                if lake.exists(ACCOUNT_MAPPING)
                else None,
            )
        return self.unified_accounts

    def account_map(self) -> pa.Table | None:
        """The id map, or ``None`` when every account id is its own (no HubSpot)."""
        if not self.has_hubspot() and self.primary["accounts"] == SALESFORCE:
            return None
        return self.accounts().id_map

    def unify(self, name: str) -> tuple[pa.Table, UnifyReport | None]:
        sf, hs = self.salesforce(name), self.hubspot(name)
        sf_table = sf.table if sf is not None else None
        hs_table = hs.table if hs is not None else None
        if name == "accounts":
            unified = self.accounts()
            return unified.table, unified.report
        if name == "opportunities":
            result = unify_opportunities(
                sf_table,
                hs_table,
                account_map=self.account_map(),
                primary=self.primary["opportunities"],
            )
            return result.table, result.report
        key = SCHEMAS[name].key
        return unify_records(
            [sf_table, hs_table], key=key, account_map=self.account_map()
        ), None


def _stage_one(
    crm: _Crm, run_id: str, name: str, *, errors: list[RevOpsIngestError]
) -> list[StagingRun]:
    started = _now()
    lake = crm.lake
    if name == "support_tickets":
        return [_stage_support(lake, run_id, errors=errors)]
    objects = _SOURCES[name]
    sf_present = [o for o in objects if lake.exists(_raw_dataset(o))]
    hs_path = _hubspot_raw(_HUBSPOT_SOURCES[name])
    hs_present = lake.exists(hs_path)
    absent = [_raw_dataset(o) for o in objects if o not in sf_present]
    sf_paths = tuple(_raw_dataset(o) for o in sf_present)
    dataset = STAGING_DATASETS[name]
    if not sf_present and not hs_present:
        return [
            StagingRun(
                run_id=run_id,
                dataset=dataset,
                staging_table=name,
                status="skipped",
                started_at=started,
                finished_at=_now(),
                message=f"no raw dataset: {', '.join([*absent, hs_path])} not found",
            )
        ]
    systems = [SALESFORCE] * bool(sf_present) + [HUBSPOT] * hs_present
    paths = {SALESFORCE: sf_paths, HUBSPOT: (hs_path,)}
    try:
        reports = {
            SALESFORCE: crm.salesforce(name),
            HUBSPOT: crm.hubspot(name),
        }
        table, unified = crm.unify(name)
        if name == "accounts":
            lake.write(
                ACCOUNT_ID_MAP,
                crm.accounts().id_map,
                properties={"staging_run_id": run_id},
            )
        commit = lake.write(
            dataset,
            table,
            properties={
                "staging_run_id": run_id,
                "schema_version": SCHEMAS[name].version,
                "rows_out": table.num_rows,
                "source_systems": systems,
            },
        )
    except RevOpsIngestError as exc:
        errors.append(exc)
        return [
            attrs.evolve(
                _failed(run_id, name, started=started, raw=paths[system], exc=exc),
                source_system=system,
            )
            for system in systems
        ]
    details = (
        json.dumps(
            {
                "primary": unified.primary,
                "rows_in": dict(unified.rows_in),
                "rows_out": unified.rows_out,
                "merged": unified.merged,
                "by_rule": dict(unified.by_rule),
                "ambiguous": unified.ambiguous,
            },
            sort_keys=True,
        )
        if unified is not None and hs_present
        else None
    )
    runs = []
    for system in systems:
        result = reports[system]
        assert result is not None
        runs.append(
            StagingRun(
                run_id=run_id,
                dataset=dataset,
                staging_table=name,
                status="success",
                started_at=started,
                finished_at=_now(),
                raw_datasets=paths[system],
                report=result.report,
                commit_id=commit.commit_id,
                message=(
                    f"staged without {', '.join(absent)} (not found)"
                    if absent and system == SALESFORCE
                    else None
                ),
                source_system=system,
                details=details,
            )
        )
    return runs


def _stage_support(
    lake: Lake, run_id: str, *, errors: list[RevOpsIngestError]
) -> StagingRun:
    """Zendesk tickets into ``support_tickets`` and the per-account summary.

    Accounts are found through :data:`DOMAIN_MAPPING` first, then the domains of
    ``/RevOps/Staging/accounts`` (staged just before, when present), then the
    organizations' ``domain_names``.
    """
    started = _now()
    dataset = STAGING_DATASETS["support_tickets"]
    if not lake.exists(_ZENDESK_RAW["tickets"]):
        return StagingRun(
            run_id=run_id,
            dataset=dataset,
            staging_table="support_tickets",
            status="skipped",
            started_at=started,
            finished_at=_now(),
            message=f"no raw dataset: {_ZENDESK_RAW['tickets']} not found",
            source_system="Zendesk",
        )
    from revops_ingest.sources.zendesk import raw_schema  # noqa: PLC0415 - lazy

    read = [path for path in _ZENDESK_RAW.values() if lake.exists(path)]
    absent = [path for path in _ZENDESK_RAW.values() if path not in read]
    try:
        raw = {
            name: lake.read(path) if path in read else raw_schema(name).empty_table()
            for name, path in _ZENDESK_RAW.items()
        }
        mapping = lake.read(DOMAIN_MAPPING) if lake.exists(DOMAIN_MAPPING) else None
        accounts_path = STAGING_DATASETS["accounts"]
        accounts = (
            lake.read(accounts_path, columns=["account_id", "domain"])
            if lake.exists(accounts_path)
            else None
        )
        tickets, report = stage_support_tickets(
            raw["tickets"],
            raw["users"],
            raw["organizations"],
            mapping,
            accounts=accounts,
        )
        properties = {
            "staging_run_id": run_id,
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
        }
        commit = lake.write(dataset, tickets, properties=properties)
        lake.write(
            SUPPORT_SUMMARY,
            support_summary(tickets, as_of=started),
            properties={"staging_run_id": run_id, "as_of": started.isoformat()},
        )
    except RevOpsIngestError as exc:
        errors.append(exc)
        failed = _failed(
            run_id, "support_tickets", started=started, raw=tuple(read), exc=exc
        )
        return attrs.evolve(failed, source_system="Zendesk")
    note = (
        f"{report.unlinked} ticket(s) not linked to an account, "
        f"{report.ambiguous} ambiguous"
    )
    if absent:
        note += f"; staged without {', '.join(absent)} (not found)"
    return StagingRun(
        run_id=run_id,
        dataset=dataset,
        staging_table="support_tickets",
        status="success",
        started_at=started,
        finished_at=_now(),
        raw_datasets=tuple(read),
        report=report,
        commit_id=commit.commit_id,
        message=note,
        source_system="Zendesk",
        details=json.dumps(
            {
                "linked": report.linked,
                "ambiguous": report.ambiguous,
                "unlinked": report.unlinked,
                "by_method": dict(report.by_method),
                "unknown_requesters": report.unknown_requesters,
                "unknown_organizations": report.unknown_organizations,
            },
            sort_keys=True,
        ),
    )


def _log(lake: Lake, runs: Sequence[StagingRun]) -> None:
    if runs:
        lake.append(STAGING_LOG, pa.concat_tables([r.to_table() for r in runs]))
