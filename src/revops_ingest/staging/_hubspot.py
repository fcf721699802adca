"""HubSpot raw datasets into the canonical staging tables.

The raw datasets ``/HubSpot/Raw/<dataset>`` hold every version of every record the
HubSpot source landed: ``id`` (text), one column per property as HubSpot spells it
(typed from the declared property type), ``createdAt``, ``updatedAt``,
``archived``, ``archivedAt``, the ``_tombstone`` flag of archived records and the
``_sync_id`` of the sync that landed the row. The functions here turn them into
the canonical tables, on every engine staging runs on, like the Salesforce ones:

- ``deals`` -> ``opportunities`` (:func:`stage_hubspot_deals`),
- ``companies`` -> ``accounts`` (:func:`stage_hubspot_companies`),
- ``contacts`` -> ``contacts`` (:func:`stage_hubspot_contacts`),
- ``engagements`` -> ``activities`` (:func:`stage_hubspot_engagements`).

The latest version of a record has the greatest last-modified property
(``hs_lastmodifieddate``; ``lastmodifieddate`` for contacts), then the greatest
``_sync_id``. A record is deleted when that version is ``archived`` or a
``_tombstone``.

**Associations.** Deals have no company property: their account comes from
``deal_company_associations``; contacts fall back on
``contact_company_associations`` when ``associatedcompanyid`` is empty; engagements
take their company, contact and deal from ``engagement_associations``. The
association datasets are full snapshots, one per sync, so only the rows of the
newest sync are current (:func:`current_associations`). Associations are joined in
Arrow before staging (:func:`with_associations`): a call with ``associations=``
needs an eager *raw* (a table or an eager frame, handed back in its own type); a
lazy frame is refused then. Without associations lazy frames stay lazy.
"""

from __future__ import annotations

import types
import typing

import attrs
import narwhals as nw
import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest._tables import require_columns
from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging._frames import _is_lazy, _to_arrow
from revops_ingest.staging._pipeline import (
    SYNC_ID,
    ObjectPlan,
    Options,
    validated_options,
)
from revops_ingest.staging._result import StagingResult
from revops_ingest.staging._run import run
from revops_ingest.staging._salesforce import domain_expr, stage_expr
from revops_ingest.staging._schemas import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    OPPORTUNITIES,
    VALID_STAGES,
)


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from revops_ingest.staging._result import StagingReport
    from revops_ingest.staging._schemas import TableSchema


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them.
pc: typing.Any = _compute

__all__ = [
    "ASSOCIATED_COMPANY_ID",
    "ASSOCIATED_CONTACT_ID",
    "ASSOCIATED_DEAL_ID",
    "DEFAULT_HUBSPOT_STAGE_MAP",
    "HUBSPOT",
    "HUBSPOT_EXTRA_FIELDS",
    "HUBSPOT_FIELDS",
    "PRIMARY_COMPANY_TYPE_IDS",
    "SALESFORCE_ACCOUNT_ID_PROPERTY",
    "SALESFORCE_OPPORTUNITY_ID_PROPERTY",
    "current_associations",
    "hubspot_options_for",
    "stage_hubspot_companies",
    "stage_hubspot_contacts",
    "stage_hubspot_deals",
    "stage_hubspot_engagements",
    "with_associations",
]

T = typing.TypeVar("T")

HUBSPOT = "HubSpot"

DEFAULT_HUBSPOT_STAGE_MAP: Mapping[str, str] = types.MappingProxyType(
    {
        # The stage ids of HubSpot's default "Sales Pipeline", in order.
        "appointmentscheduled": "Discovery",
        "qualifiedtobuy": "Solution Design",
        "presentationscheduled": "Proposal",
        "decisionmakerboughtin": "Negotiation",
        "contractsent": "Verbal Commit",
        "closedwon": "Closed Won",
        "closedlost": "Closed Lost",
        # Portals whose custom stage ids already are the RevOps names.
        **{stage: stage for stage in VALID_STAGES},
    }
)
"""HubSpot deal stage id -> RevOps stage, for the default pipeline's stages.

Stages of other pipelines have numeric ids (``"1001"``): map them with
``stage_map=`` or ``/RevOps/Config/stage_map`` rows whose ``source_system`` is
``HubSpot`` (see :func:`~revops_ingest.staging.stage_map_from_table`). Unmapped
stages get a null ``stage_name`` and are counted in the report.
"""

SALESFORCE_OPPORTUNITY_ID_PROPERTY = "hs_salesforceopportunityid"
"""The deal property the HubSpot-Salesforce integration writes the Opportunity Id to.

Not confirmed against a connected portal; if yours differs, map it with
``field_map={"<property>": "salesforce_opportunity_id"}``.
"""

SALESFORCE_ACCOUNT_ID_PROPERTY = "salesforceaccountid"
"""The company property the HubSpot-Salesforce integration writes the Account Id to."""

ASSOCIATED_COMPANY_ID = "associated_company_id"
"""The raw column :func:`with_associations` adds for the associated company."""

ASSOCIATED_CONTACT_ID = "associated_contact_id"
"""The raw column :func:`with_associations` adds for an engagement's contact."""

ASSOCIATED_DEAL_ID = "associated_deal_id"
"""The raw column :func:`with_associations` adds for an engagement's deal."""

PRIMARY_COMPANY_TYPE_IDS: tuple[int, ...] = (5, 1)
"""Association type ids of a primary company: deal -> company (5), contact ->
company (1). Each pair of object types has its own ids, so one tuple serves both."""

_ENGAGEMENT_TYPE = "engagement_type"
_ARCHIVED = "archived"
_CONTACT_COMPANY = "associatedcompanyid"
_PARENT_COMPANY = "hs_parent_company_id"

_DEAL_FIELDS: Mapping[str, str | None] = {
    "opportunity_id": "id",
    "account_id": ASSOCIATED_COMPANY_ID,
    "name": "dealname",
    "source_stage": "dealstage",
    "amount": "amount",
    "currency": "deal_currency_code",
    "close_date": "closedate",
    "probability": "hs_deal_stage_probability",
    "is_closed": "hs_is_closed",
    "is_won": "hs_is_closed_won",
    "owner_id": "hubspot_owner_id",
    "opportunity_type": "dealtype",
    "lead_source": "hs_analytics_source",
    "forecast_category": "hs_manual_forecast_category",
    "created_at": "createdate",
    "updated_at": "hs_lastmodifieddate",
}
_COMPANY_FIELDS: Mapping[str, str | None] = {
    "account_id": "id",
    "name": "name",
    "website": "domain",
    "industry": "industry",
    "employees": "numberofemployees",
    "annual_revenue": "annualrevenue",
    "owner_id": "hubspot_owner_id",
    "billing_country": "country",
    "billing_state": "state",
    "billing_city": "city",
    "account_type": "type",
    "parent_account_id": _PARENT_COMPANY,
    "created_at": "createdate",
    "updated_at": "hs_lastmodifieddate",
}
_CONTACT_FIELDS: Mapping[str, str | None] = {
    "contact_id": "id",
    "account_id": _CONTACT_COMPANY,
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "title": "jobtitle",
    "phone": "phone",
    "owner_id": "hubspot_owner_id",
    "mailing_country": "country",
    "created_at": "createdate",
    "updated_at": "lastmodifieddate",
}
_ENGAGEMENT_COMMON: Mapping[str, str | None] = {
    "activity_id": "id",
    "source_object": _ENGAGEMENT_TYPE,
    "account_id": ASSOCIATED_COMPANY_ID,
    "contact_id": ASSOCIATED_CONTACT_ID,
    "opportunity_id": ASSOCIATED_DEAL_ID,
    "owner_id": "hubspot_owner_id",
    "occurred_at": "hs_timestamp",
    "activity_date": "hs_timestamp",
    # createdAt rather than hs_createdate: the legacy engagements have only it.
    "created_at": "createdAt",
    "updated_at": "hs_lastmodifieddate",
}


def _engagement_fields(**fields: str | None) -> Mapping[str, str | None]:
    base: dict[str, str | None] = {
        **_ENGAGEMENT_COMMON,
        "subject": None,
        "status": None,
        "priority": None,
        "ends_at": None,
        "duration_seconds": None,
        "location": None,
    }
    base.update(fields)
    return types.MappingProxyType(base)


HUBSPOT_FIELDS: Mapping[str, Mapping[str, str | None]] = types.MappingProxyType(
    {
        "deals": types.MappingProxyType(_DEAL_FIELDS),
        "companies": types.MappingProxyType(_COMPANY_FIELDS),
        "contacts": types.MappingProxyType(_CONTACT_FIELDS),
        "calls": _engagement_fields(
            subject="hs_call_title",
            status="hs_call_status",
            duration_seconds="hs_call_duration",
        ),
        "emails": _engagement_fields(
            subject="hs_email_subject", status="hs_email_status"
        ),
        "meetings": _engagement_fields(
            subject="hs_meeting_title",
            status="hs_meeting_outcome",
            ends_at="hs_meeting_end_time",
            location="hs_meeting_location",
        ),
        "notes": _engagement_fields(),
        "tasks": _engagement_fields(
            subject="hs_task_subject",
            status="hs_task_status",
            priority="hs_task_priority",
        ),
    }
)
"""The default mapping per HubSpot object: staging column -> property.

``associated_*_id`` are not HubSpot properties: :func:`with_associations` adds them
from the association datasets. ``None`` means the object has no property for the
column (null unless a field map provides one). Columns not listed are derived.
Engagements are staged per type (``calls``, ``emails``, ``meetings``, ``tasks``);
``notes`` also takes engagements of any other (or no) type.
"""

HUBSPOT_EXTRA_FIELDS: Mapping[str, Mapping[str, str]] = types.MappingProxyType(
    {
        "deals": types.MappingProxyType(
            {SALESFORCE_OPPORTUNITY_ID_PROPERTY: "salesforce_opportunity_id"}
        ),
        "companies": types.MappingProxyType(
            {SALESFORCE_ACCOUNT_ID_PROPERTY: "salesforce_account_id"}
        ),
        "contacts": types.MappingProxyType({}),
        "engagements": types.MappingProxyType({}),
    }
)
"""Default field-map entries per dataset (property -> extra column).

The Salesforce ids the HubSpot-Salesforce integration writes, as text columns after
the lineage columns (null when the portal has no such property). A field map that
maps another property to the same column replaces the default.
"""

_ENGAGEMENT_KINDS: tuple[tuple[str, str], ...] = (
    ("calls", "call"),
    ("emails", "email"),
    ("meetings", "meeting"),
    ("notes", "note"),
    ("tasks", "task"),
)
_TYPED_ENGAGEMENTS = ("calls", "emails", "meetings", "tasks")
_CATCH_ALL = "notes"
_CLOSED = ["Closed Lost", "Closed Won"]
_ASSOCIATION_COLUMNS = ("fromId", "toObjectType", "toId", "associationTypeId")


# ------------------------------------------------------------------ derivations


def _deal_derive(options: Options) -> Mapping[str, nw.Expr]:
    stage = stage_expr(options.stage_map, nw.col("source_stage"))
    return {
        "stage_name": stage,
        "currency": nw.coalesce(nw.col("currency"), nw.lit(options.default_currency)),
        # Portals without hs_is_closed / hs_is_closed_won: from the mapped stage.
        "is_closed": nw.coalesce(nw.col("is_closed"), stage.is_in(_CLOSED)),
        "is_won": nw.coalesce(nw.col("is_won"), stage == "Closed Won"),
    }


def _company_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {"domain": domain_expr(nw.col("website"))}


def _no_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {}


def _engagement_derive(
    default_type: str, *, duration_ms: bool
) -> Callable[[Options], Mapping[str, nw.Expr]]:
    def derive(options: Options) -> Mapping[str, nw.Expr]:
        del options
        source = nw.col("source_object")
        kind = source.str.to_lowercase()
        for plural, singular in reversed(_ENGAGEMENT_KINDS):
            kind = nw.when(source == plural).then(nw.lit(singular)).otherwise(kind)
        derived = {
            "activity_type": nw.coalesce(kind, nw.lit(default_type)),
            "lead_id": nw.lit(None, dtype=nw.String),
            "who_id": nw.col("contact_id"),
            "what_id": nw.coalesce(nw.col("opportunity_id"), nw.col("account_id")),
            "occurred_at": nw.coalesce(nw.col("occurred_at"), nw.col("created_at")),
        }
        if duration_ms:  # hs_call_duration is in milliseconds
            derived["duration_seconds"] = nw.col("duration_seconds") // 1000
        return derived

    return derive


def _plan(
    object_type: str,
    schema: TableSchema,
    modstamp: str,
    derive: Callable[[Options], Mapping[str, nw.Expr]],
) -> ObjectPlan:
    return ObjectPlan(
        source_system=HUBSPOT,
        object_type=object_type,
        schema=schema,
        id_field="id",
        modstamp_field=modstamp,
        deleted_field=_ARCHIVED,
        fields=HUBSPOT_FIELDS[object_type],
        derive=derive,
    )


PLANS: Mapping[str, ObjectPlan] = types.MappingProxyType(
    {
        "deals": _plan("deals", OPPORTUNITIES, "hs_lastmodifieddate", _deal_derive),
        "companies": _plan(
            "companies", ACCOUNTS, "hs_lastmodifieddate", _company_derive
        ),
        "contacts": _plan("contacts", CONTACTS, "lastmodifieddate", _no_derive),
        **{
            plural: _plan(
                plural,
                ACTIVITIES,
                "hs_lastmodifieddate",
                _engagement_derive(singular, duration_ms=plural == "calls"),
            )
            for plural, singular in _ENGAGEMENT_KINDS
        },
    }
)


# ------------------------------------------------------------------ options


def hubspot_options_for(
    *,
    dataset: str,
    stage_map: Mapping[str, str] | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
    default_currency: str = "USD",
) -> Options:
    """Validated staging options for one HubSpot dataset.

    The stage map is :data:`DEFAULT_HUBSPOT_STAGE_MAP` with *stage_map* on top; the
    field map is the dataset's :data:`HUBSPOT_EXTRA_FIELDS` with *field_map* on top
    (a default whose column *field_map* fills from another property is dropped).

    Args:
        dataset: ``deals``, ``companies``, ``contacts`` or ``engagements``.
        stage_map: HubSpot stage id -> RevOps stage.
        field_map: HubSpot property -> staging column.
        keep_deleted: Keep (and flag) deleted records instead of dropping them.
        default_currency: The currency of deals without ``deal_currency_code``.

    Raises:
        ConfigurationError: An unknown dataset, or an invalid map or option.
    """
    if dataset not in HUBSPOT_EXTRA_FIELDS:
        raise ConfigurationError(
            f"dataset must be one of {', '.join(HUBSPOT_EXTRA_FIELDS)}, got {dataset!r}"
        )
    options = validated_options(
        fields_of="HubSpot property names",
        default_stages=DEFAULT_HUBSPOT_STAGE_MAP,
        stage_map=stage_map,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency=default_currency,
    )
    given = dict(options.field_map)
    targets = set(given.values())
    fields = {
        field: column
        for field, column in HUBSPOT_EXTRA_FIELDS[dataset].items()
        if column not in targets
    }
    fields.update(given)
    return attrs.evolve(options, field_map=fields)


# ------------------------------------------------------------------ associations


def _text(column: typing.Any) -> typing.Any:
    """A (chunked) array as plain strings (dictionaries decoded)."""
    return column.cast(pa.string())


def current_associations(
    associations: pa.Table, *, sync_id: str | None = None
) -> pa.Table:
    """The rows of the newest sync of an association dataset.

    The association datasets are full snapshots: every sync lands every current
    association again, so only the rows of the newest sync are current. Sync ids
    (``20240501T120000123456Z-1a2b3c4d``) start with the sync's start time and sort
    in time order, so the newest sync is the greatest ``_sync_id``. Failed syncs
    commit nothing, so every sync id in the dataset is a successful sync's.

    A sync that found no association at all lands no row, and then the greatest
    sync id in the table is an older sync's: pass *sync_id* (the latest successful
    sync of the dataset, from ``/RevOps/Audit/sync_log``) to be exact in that case.

    Args:
        associations: An association dataset, such as
            ``/HubSpot/Raw/deal_company_associations``.
        sync_id: The sync whose rows are current; the greatest ``_sync_id`` if
            omitted.

    Returns:
        The current rows, in their order; the whole table when it has no
        ``_sync_id`` column or no sync id at all.
    """
    if SYNC_ID not in associations.column_names:
        return associations
    syncs = _text(associations.column(SYNC_ID))
    latest = sync_id if sync_id is not None else pc.max(syncs).as_py()
    if latest is None:
        return associations
    keep = pc.fill_null(
        pc.equal(syncs, pa.scalar(latest, pa.string())), fill_value=False
    )
    return associations.filter(keep)


def with_associations(
    raw: pa.Table,
    associations: pa.Table,
    *,
    to_type: str,
    column: str,
    primary_type_ids: Sequence[int] = PRIMARY_COMPANY_TYPE_IDS,
    sync_id: str | None = None,
) -> pa.Table:
    """Add to *raw* the id of the record of type *to_type* each row is associated with.

    Only the current associations count (:func:`current_associations`, applied
    here). Of several associated records, a primary one (association type id in
    *primary_type_ids*) comes first, then the smallest id (numerically: HubSpot ids
    are decimal); the choice depends on the associations only, not on row order.

    Args:
        raw: A raw HubSpot table with an ``id`` column.
        associations: An association dataset (``fromId``, ``toObjectType``,
            ``toId``, ``associationTypeId``, ``_sync_id``) whose ``fromId`` are
            *raw*'s ids.
        to_type: The associated object type, such as ``"companies"``.
        column: The text column to add (replaced if *raw* has it already).
        primary_type_ids: Association types that mark the primary record.
        sync_id: See :func:`current_associations`.

    Returns:
        *raw* with *column*; null where a row has no association of *to_type*.

    Raises:
        SchemaError: *raw* has no ``id`` or *associations* lacks a column.
    """
    require_columns(raw, ("id",), what="the HubSpot raw table")
    require_columns(
        associations, _ASSOCIATION_COLUMNS, what="the HubSpot association table"
    )
    current = current_associations(associations, sync_id=sync_id)
    from_ids = _text(current.column("fromId"))
    to_ids = _text(current.column("toId"))
    keep = pc.and_(
        pc.and_(pc.is_valid(from_ids), pc.is_valid(to_ids)),
        pc.fill_null(
            pc.equal(_text(current.column("toObjectType")), to_type), fill_value=False
        ),
    )
    type_ids = current.column("associationTypeId").cast(pa.int64())
    primary = pc.fill_null(
        pc.is_in(type_ids, value_set=pa.array(list(primary_type_ids), pa.int64())),
        fill_value=False,
    )
    candidates = pa.table(
        {
            "from": from_ids,
            "rank": pc.if_else(primary, 0, 1),
            "length": pc.utf8_length(to_ids),
            "to": to_ids,
        }
    ).filter(keep)
    ordered = candidates.sort_by(
        [(name, "ascending") for name in ("from", "rank", "length", "to")]
    )
    chosen_from = ordered.column("from").combine_chunks()
    chosen_to = ordered.column("to").combine_chunks()
    if len(chosen_from) > 1:
        first = pc.not_equal(chosen_from[1:], chosen_from[:-1])
        first = pa.concat_arrays([pa.array([True]), first])
        chosen_from = chosen_from.filter(first)
        chosen_to = chosen_to.filter(first)
    position = pc.index_in(_text(raw.column("id")), value_set=chosen_from)
    values = pc.take(chosen_to, position)
    if column in raw.column_names:
        index = raw.schema.get_field_index(column)
        return raw.set_column(index, pa.field(column, pa.string()), values)
    return raw.append_column(pa.field(column, pa.string()), values)


# ------------------------------------------------------------------ frames


def _eager(raw: object, what: str) -> tuple[pa.Table, Callable[[pa.Table], typing.Any]]:
    """*raw* as Arrow, and the way back to its type; lazy frames are refused."""
    if _is_lazy(raw):
        msg = (
            f"{what}: associations= needs an eager raw table (a pyarrow Table, a "
            "pandas or polars DataFrame, ...), got a lazy "
            f"{type(raw).__module__}.{type(raw).__qualname__}; collect it first, "
            f"or add the {ASSOCIATED_COMPANY_ID!r}-style columns yourself and "
            "stage without associations="
        )
        raise TypeError(msg)
    return _to_arrow(raw)


def _id_text_arrow(table: pa.Table, name: str) -> pa.Table:
    """Numeric id property *name* (HubSpot ``number``) as decimal text, in place."""
    if name not in table.column_names:
        return table
    column = table.column(name)
    kind = column.type
    if pa.types.is_floating(kind):
        column = pc.cast(column, pa.int64(), safe=False)
    elif not pa.types.is_integer(kind):
        return table
    index = table.schema.get_field_index(name)
    return table.set_column(index, pa.field(name, pa.string()), _text(column))


def _id_text_lazy(raw: typing.Any, name: str) -> typing.Any:
    """:func:`_id_text_arrow` for a lazy frame, in narwhals (stays lazy)."""
    frame = nw.from_native(raw)
    schema = frame.collect_schema()
    if name not in schema:
        return raw
    dtype = schema[name]
    if dtype.is_float():
        expr = nw.col(name).cast(nw.Int64).cast(nw.String)
    elif dtype.is_integer():
        expr = nw.col(name).cast(nw.String)
    else:
        return raw
    return frame.with_columns(expr.alias(name)).to_native()


def _microseconds(frame: nw.LazyFrame[typing.Any]) -> nw.LazyFrame[typing.Any]:
    """Polars: zoned timestamps in microseconds, the unit of staging's null columns.

    The engagement types are staged apart and stacked; polars refuses to stack
    ``ends_at`` of meetings (HubSpot's milliseconds) on the other types' nulls.
    """
    if frame.implementation is not nw.Implementation.POLARS:
        return frame
    schema = frame.collect_schema()
    casts = [
        nw.col(name).cast(nw.Datetime("us", dtype.time_zone))
        for name, dtype in schema.items()
        if isinstance(dtype, nw.Datetime)
        and dtype.time_zone is not None
        and dtype.time_unit != "us"
    ]
    return frame.with_columns(*casts) if casts else frame


def _finish(
    result: StagingResult[typing.Any], back: Callable[[pa.Table], typing.Any]
) -> StagingResult[typing.Any]:
    return StagingResult(back(result.table), result.report)


def _tidy_engagement_report(report: StagingReport) -> StagingReport:
    """The per-type column lists of an engagements report, without repeats.

    Staged per type, each type would list the other types' properties as ignored:
    a column is reported ignored only when no type uses it, without the type. A
    column every type misses is reported once, without the type; one that some
    types miss keeps the ``type.column`` form.
    """
    objects = set(report.source_objects)

    def kinds(entries: Sequence[str]) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}
        for entry in entries:
            kind, _, column = entry.partition(".")
            seen.setdefault(column, set()).add(kind)
        return seen

    ignored = tuple(c for c, k in kinds(report.ignored_columns).items() if k >= objects)
    missing_by = kinds(report.missing_columns)
    missing = tuple(
        entry
        for entry in report.missing_columns
        if missing_by[entry.partition(".")[2]] < objects
    )
    missing += tuple(c for c, k in missing_by.items() if k >= objects)
    return attrs.evolve(report, ignored_columns=ignored, missing_columns=missing)


def _run_engagements(
    parts: Sequence[tuple[str, typing.Any]], options: Options, *, lazy: bool
) -> StagingResult[typing.Any]:
    result = run([(PLANS[name], part, options) for name, part in parts])
    if len(parts) == 1:
        return result
    if lazy:  # the report stays a query until it is looked at
        return StagingResult(
            result.table, lambda: _tidy_engagement_report(result.report)
        )
    return StagingResult(result.table, _tidy_engagement_report(result.report))


def _staged_with_ids(
    raw: object, plan: ObjectPlan, options: Options, id_columns: Sequence[str]
) -> StagingResult[typing.Any]:
    """Stage *raw* after turning its numeric id properties into text."""
    if _is_lazy(raw):
        for name in id_columns:
            raw = _id_text_lazy(raw, name)
        return run([(plan, raw, options)])
    table, back = _to_arrow(raw)
    for name in id_columns:
        table = _id_text_arrow(table, name)
    return _finish(run([(plan, table, options)]), back)


# ------------------------------------------------------------------ public


def stage_hubspot_deals(
    raw: T,
    *,
    associations: pa.Table | None = None,
    stage_map: Mapping[str, str] | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
    default_currency: str = "USD",
) -> StagingResult[T]:
    """Stage raw HubSpot deals (``/HubSpot/Raw/deals``) into ``opportunities``.

    Keeps the latest version of every deal, drops archived ones (or keeps and
    flags them), maps stage ids to RevOps stages and converts every property to its
    canonical type: ``closedate`` (a datetime) becomes its UTC date;
    ``hs_deal_stage_probability`` is a fraction already and is kept as it is. Where
    the portal has no ``hs_is_closed`` / ``hs_is_closed_won``, they follow the
    mapped stage. ``salesforce_opportunity_id`` (text, after the lineage columns)
    holds the integration's :data:`SALESFORCE_OPPORTUNITY_ID_PROPERTY`.

    Args:
        raw: The raw deals: a pyarrow Table, pandas or polars frame, polars
            LazyFrame, DuckDB relation, PySpark DataFrame or anything exporting the
            Arrow C stream (eager only with *associations*).
        associations: ``/HubSpot/Raw/deal_company_associations`` (pyarrow): the
            deal's ``account_id`` is its primary company, else the smallest
            associated company id. Without it ``account_id`` is null (unless *raw*
            has an ``associated_company_id`` column already).
        stage_map: Stage id -> RevOps stage, on top of
            :data:`DEFAULT_HUBSPOT_STAGE_MAP`; unmapped stages get a null
            ``stage_name`` and are counted in the report's ``unmapped_stages``.
        field_map: HubSpot property -> staging column, on top of the defaults.
        keep_deleted: Keep archived deals, with ``is_deleted`` true.
        default_currency: The currency of deals without ``deal_currency_code``
            (single-currency portals).

    Returns:
        The staged table, in the input's type, and its report.

    Raises:
        SchemaError: ``id`` or ``hs_lastmodifieddate`` is missing, or an
            association column.
        ConfigurationError: A stage map, field map or option is invalid.
        TypeError: *raw* is not a frame staging accepts, or is lazy with
            *associations*.
    """
    options = hubspot_options_for(
        dataset="deals",
        stage_map=stage_map,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency=default_currency,
    )
    plan = PLANS["deals"]
    if associations is None:
        return run([(plan, raw, options)])
    table, back = _eager(raw, "stage_hubspot_deals")
    table = with_associations(
        table, associations, to_type="companies", column=ASSOCIATED_COMPANY_ID
    )
    return _finish(run([(plan, table, options)]), back)


def stage_hubspot_companies(
    raw: T,
    *,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw HubSpot companies (``/HubSpot/Raw/companies``) into ``accounts``.

    HubSpot's ``domain`` (a bare domain) fills ``website`` as entered, and
    ``domain`` normalised (lower case, no ``www.``); map ``{"website":
    "website"}`` to take ``website`` from HubSpot's URL property instead (the domain
    is then its host). ``hs_parent_company_id`` becomes the parent's id as text.
    ``salesforce_account_id`` (text, after the lineage columns) holds the
    integration's :data:`SALESFORCE_ACCOUNT_ID_PROPERTY`. See
    :func:`stage_hubspot_deals` for the arguments.

    Raises:
        SchemaError: ``id`` or ``hs_lastmodifieddate`` is missing.
        ConfigurationError: The field map is invalid.
    """
    options = hubspot_options_for(
        dataset="companies", field_map=field_map, keep_deleted=keep_deleted
    )
    return _staged_with_ids(raw, PLANS["companies"], options, [_PARENT_COMPANY])


def stage_hubspot_contacts(
    raw: T,
    *,
    associations: pa.Table | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw HubSpot contacts (``/HubSpot/Raw/contacts``) into ``contacts``.

    ``account_id`` is ``associatedcompanyid`` (HubSpot's primary company, a number,
    as text), else, with *associations*
    (``/HubSpot/Raw/contact_company_associations``), the primary associated
    company, else the smallest associated company id. See
    :func:`stage_hubspot_deals` for the other arguments.

    Raises:
        SchemaError: ``id`` or ``lastmodifieddate`` is missing, or an association
            column.
        ConfigurationError: The field map is invalid.
        TypeError: *raw* is lazy and *associations* are given.
    """
    options = hubspot_options_for(
        dataset="contacts", field_map=field_map, keep_deleted=keep_deleted
    )
    plan = PLANS["contacts"]
    company = _CONTACT_COMPANY
    if associations is None:
        return _staged_with_ids(raw, plan, options, [company])
    table, back = _eager(raw, "stage_hubspot_contacts")
    table = _id_text_arrow(table, company)
    joined = with_associations(
        table, associations, to_type="companies", column=ASSOCIATED_COMPANY_ID
    ).column(ASSOCIATED_COMPANY_ID)
    if company in table.column_names:
        index = table.schema.get_field_index(company)
        merged = pc.coalesce(_text(table.column(company)), joined)
        table = table.set_column(index, pa.field(company, pa.string()), merged)
    else:
        table = table.append_column(pa.field(company, pa.string()), joined)
    return _finish(run([(plan, table, options)]), back)


def stage_hubspot_engagements(
    raw: T,
    *,
    associations: pa.Table | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw HubSpot engagements (``/HubSpot/Raw/engagements``) into ``activities``.

    Each engagement type is staged with its own properties (the report's
    ``source_objects`` are ``calls``, ``emails``, ``meetings``, ``tasks`` and
    ``notes``, which also takes engagements of any other or no type):

    - ``activity_type``: ``call``, ``email``, ``meeting``, ``note``, ``task`` (an
      unknown type in lower case); ``source_object``: ``engagement_type``;
    - ``subject``: ``hs_call_title``, ``hs_email_subject``, ``hs_meeting_title``,
      ``hs_task_subject`` (notes have none); ``status``: ``hs_call_status``,
      ``hs_email_status``, ``hs_meeting_outcome``, ``hs_task_status``;
      ``priority``: ``hs_task_priority``;
    - ``occurred_at``: ``hs_timestamp`` (else ``createdAt``); ``activity_date``
      its UTC date; ``ends_at``: ``hs_meeting_end_time``; ``duration_seconds``:
      ``hs_call_duration`` (milliseconds) / 1000; ``location``:
      ``hs_meeting_location``;
    - with *associations* (``/HubSpot/Raw/engagement_associations``), the first
      associated company, contact and deal (smallest id) fill ``account_id``,
      ``contact_id`` and ``opportunity_id``; ``who_id`` is the contact,
      ``what_id`` the deal, else the company; ``lead_id`` is null.

    See :func:`stage_hubspot_deals` for the other arguments.

    Raises:
        SchemaError: ``id`` or ``hs_lastmodifieddate`` is missing, or an
            association column.
        ConfigurationError: The field map is invalid.
        TypeError: *raw* is lazy and *associations* are given.
    """
    options = hubspot_options_for(
        dataset="engagements", field_map=field_map, keep_deleted=keep_deleted
    )
    if associations is None and _is_lazy(raw):
        frame = _microseconds(nw.from_native(typing.cast("typing.Any", raw)))
        has_type = _ENGAGEMENT_TYPE in frame.collect_schema()
        kind = nw.col(_ENGAGEMENT_TYPE).cast(nw.String)
        parts = [
            (name, frame.filter((kind == name).fill_null(value=False)).to_native())
            for name in (_TYPED_ENGAGEMENTS if has_type else ())
        ]
        rest = ~kind.is_in(_TYPED_ENGAGEMENTS).fill_null(value=False)
        parts.append((_CATCH_ALL, frame.filter(rest).to_native() if has_type else raw))
        return _run_engagements(parts, options, lazy=True)
    table, back = _eager(raw, "stage_hubspot_engagements")
    if associations is not None:
        for to_type, column in (
            ("companies", ASSOCIATED_COMPANY_ID),
            ("contacts", ASSOCIATED_CONTACT_ID),
            ("deals", ASSOCIATED_DEAL_ID),
        ):
            table = with_associations(
                table, associations, to_type=to_type, column=column, primary_type_ids=()
            )
    tables: list[tuple[str, pa.Table]] = []
    if _ENGAGEMENT_TYPE in table.column_names:
        kinds = _text(table.column(_ENGAGEMENT_TYPE))
        for name in _TYPED_ENGAGEMENTS:
            match = pc.fill_null(pc.equal(kinds, name), fill_value=False)
            tables.append((name, table.filter(match)))
        typed = pc.fill_null(
            pc.is_in(kinds, value_set=pa.array(_TYPED_ENGAGEMENTS)), fill_value=False
        )
        tables.append((_CATCH_ALL, table.filter(pc.invert(typed))))
    else:
        tables.append((_CATCH_ALL, table))
    return _finish(_run_engagements(tables, options, lazy=False), back)
