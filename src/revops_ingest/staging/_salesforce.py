"""Salesforce raw objects into the canonical staging tables.

The raw datasets ``/Salesforce/Raw/<Object>`` hold every version of every record the
Salesforce source landed, with API field names, the types Salesforce describes, the
``_sync_id`` of the sync that landed each row and a ``_tombstone`` flag for hard
deletes. The functions here turn them into the canonical tables.
"""

from __future__ import annotations

import types
import typing

import narwhals as nw

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging._native import Op
from revops_ingest.staging._pipeline import (
    WORK_PREFIX,
    ObjectPlan,
    Options,
    validated_options,
)
from revops_ingest.staging._run import run
from revops_ingest.staging._schemas import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    OPPORTUNITIES,
    VALID_STAGES,
)


if typing.TYPE_CHECKING:
    from collections.abc import Mapping

    from revops_ingest.staging._result import StagingResult


__all__ = [
    "DEFAULT_STAGE_MAP",
    "SALESFORCE",
    "SALESFORCE_FIELDS",
    "options_for",
    "stage_accounts",
    "stage_activities",
    "stage_contacts",
    "stage_opportunities",
]

T = typing.TypeVar("T")

SALESFORCE = "Salesforce"

DEFAULT_STAGE_MAP: Mapping[str, str] = types.MappingProxyType(
    {
        # Salesforce's standard sales process, in order.
        "Prospecting": "Discovery",
        "Qualification": "Discovery",
        "Needs Analysis": "Solution Design",
        "Value Proposition": "Solution Design",
        "Id. Decision Makers": "Solution Design",
        "Perception Analysis": "Solution Design",
        "Proposal/Price Quote": "Proposal",
        "Negotiation/Review": "Negotiation",
        "Closed Won": "Closed Won",
        "Closed Lost": "Closed Lost",
        # Orgs that already use the RevOps names.
        **{stage: stage for stage in VALID_STAGES},
    }
)
"""Salesforce stage -> RevOps stage for every standard stage (and the RevOps names).

Nothing maps to ``Verbal Commit`` by default: standard Salesforce has no such stage.
Override or extend it with ``stage_map=`` or ``/RevOps/Config/stage_map``.
"""

_OPPORTUNITY_FIELDS: Mapping[str, str | None] = {
    "opportunity_id": "Id",
    "account_id": "AccountId",
    "name": "Name",
    "source_stage": "StageName",
    "amount": "Amount",
    "currency": "CurrencyIsoCode",
    "close_date": "CloseDate",
    "probability": "Probability",
    "is_closed": "IsClosed",
    "is_won": "IsWon",
    "owner_id": "OwnerId",
    "opportunity_type": "Type",
    "lead_source": "LeadSource",
    "forecast_category": "ForecastCategoryName",
    "created_at": "CreatedDate",
    "updated_at": "LastModifiedDate",
}
_ACCOUNT_FIELDS: Mapping[str, str | None] = {
    "account_id": "Id",
    "name": "Name",
    "website": "Website",
    "industry": "Industry",
    "employees": "NumberOfEmployees",
    "annual_revenue": "AnnualRevenue",
    "owner_id": "OwnerId",
    "billing_country": "BillingCountry",
    "billing_state": "BillingState",
    "billing_city": "BillingCity",
    "account_type": "Type",
    "parent_account_id": "ParentId",
    "created_at": "CreatedDate",
    "updated_at": "LastModifiedDate",
}
_CONTACT_FIELDS: Mapping[str, str | None] = {
    "contact_id": "Id",
    "account_id": "AccountId",
    "email": "Email",
    "first_name": "FirstName",
    "last_name": "LastName",
    "title": "Title",
    "phone": "Phone",
    "owner_id": "OwnerId",
    "mailing_country": "MailingCountry",
    "created_at": "CreatedDate",
    "updated_at": "LastModifiedDate",
}
_ACTIVITY_COMMON: Mapping[str, str | None] = {
    "activity_id": "Id",
    "account_id": "AccountId",
    "who_id": "WhoId",
    "what_id": "WhatId",
    "owner_id": "OwnerId",
    "subject": "Subject",
    "activity_date": "ActivityDate",
    "created_at": "CreatedDate",
    "updated_at": "LastModifiedDate",
}
_TASK_FIELDS: Mapping[str, str | None] = {
    **_ACTIVITY_COMMON,
    "activity_type": "TaskSubtype",
    "status": "Status",
    "priority": "Priority",
    "duration_seconds": "CallDurationInSeconds",
    "ends_at": None,
    "location": None,
}
_EVENT_FIELDS: Mapping[str, str | None] = {
    **_ACTIVITY_COMMON,
    "activity_type": "EventSubtype",
    "status": None,
    "priority": None,
    "occurred_at": "StartDateTime",
    "ends_at": "EndDateTime",
    "duration_seconds": "DurationInMinutes",
    "location": "Location",
}

SALESFORCE_FIELDS: Mapping[str, Mapping[str, str | None]] = types.MappingProxyType(
    {
        "Opportunity": types.MappingProxyType(_OPPORTUNITY_FIELDS),
        "Account": types.MappingProxyType(_ACCOUNT_FIELDS),
        "Contact": types.MappingProxyType(_CONTACT_FIELDS),
        "Task": types.MappingProxyType(_TASK_FIELDS),
        "Event": types.MappingProxyType(_EVENT_FIELDS),
    }
)
"""The default mapping per Salesforce object: staging column -> API field name.

``None`` means the object has no standard field for the column (null unless a field
map provides one). Columns not listed are derived; see ``docs/staging.md``.
"""

_MIDNIGHT = f"{WORK_PREFIX}midnight"


# ------------------------------------------------------------------ derivations


def stage_expr(stage_map: Mapping[str, str], source: nw.Expr) -> nw.Expr:
    """Map source stages to RevOps stages; null where *stage_map* has no entry."""
    by_target: dict[str, list[str]] = {}
    for stage, target in stage_map.items():
        by_target.setdefault(target, []).append(stage)
    expr: nw.Expr | None = None
    for target in reversed(VALID_STAGES):
        if target not in by_target:
            continue
        branch = nw.when(source.is_in(sorted(by_target[target]))).then(nw.lit(target))
        expr = branch if expr is None else branch.otherwise(expr)
    return expr if expr is not None else nw.lit(None, dtype=nw.String)


def domain_expr(website: nw.Expr) -> nw.Expr:
    """The host of a website: lower case, no scheme, ``www.``, port or path."""
    host = (
        website.str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace_all(r"^www\.", "")
        .str.replace_all(r"[/?#:].*$", "")
    )
    return nw.when(host != "").then(host)


def _prefixed(expr: nw.Expr, prefix: str) -> nw.Expr:
    return nw.when(expr.str.starts_with(prefix)).then(expr)


def _opportunity_derive(options: Options) -> Mapping[str, nw.Expr]:
    return {
        "stage_name": stage_expr(options.stage_map, nw.col("source_stage")),
        "probability": nw.col("probability") / 100,
        "currency": nw.coalesce(nw.col("currency"), nw.lit(options.default_currency)),
    }


def _account_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {"domain": domain_expr(nw.col("website"))}


def _no_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {}


def _activity_common(subtype_default: str, source_object: str) -> dict[str, nw.Expr]:
    who = nw.col("who_id")
    what = nw.col("what_id")
    return {
        "activity_type": nw.coalesce(
            nw.col("activity_type").str.to_lowercase(), nw.lit(subtype_default)
        ),
        "source_object": nw.lit(source_object),
        "account_id": nw.coalesce(nw.col("account_id"), _prefixed(what, "001")),
        "contact_id": _prefixed(who, "003"),
        "lead_id": _prefixed(who, "00Q"),
        "opportunity_id": _prefixed(what, "006"),
    }


def _task_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {
        **_activity_common("task", "Task"),
        "occurred_at": nw.coalesce(nw.col(_MIDNIGHT), nw.col("created_at")),
    }


def _event_derive(options: Options) -> Mapping[str, nw.Expr]:
    del options
    return {
        **_activity_common("event", "Event"),
        "duration_seconds": nw.col("duration_seconds") * 60,
    }


def _plan(
    object_type: str,
    schema: typing.Any,
    derive: typing.Any,
    native_after: Mapping[str, Op] | None = None,
) -> ObjectPlan:
    return ObjectPlan(
        source_system=SALESFORCE,
        object_type=object_type,
        schema=schema,
        id_field="Id",
        modstamp_field="SystemModstamp",
        deleted_field="IsDeleted",
        fields=SALESFORCE_FIELDS[object_type],
        derive=derive,
        native_after=native_after or {},
    )


PLANS: Mapping[str, ObjectPlan] = types.MappingProxyType(
    {
        "Opportunity": _plan("Opportunity", OPPORTUNITIES, _opportunity_derive),
        "Account": _plan("Account", ACCOUNTS, _account_derive),
        "Contact": _plan("Contact", CONTACTS, _no_derive),
        "Task": _plan(
            "Task",
            ACTIVITIES,
            _task_derive,
            {_MIDNIGHT: Op("midnight_utc", ("activity_date",))},
        ),
        "Event": _plan("Event", ACTIVITIES, _event_derive),
    }
)


# ------------------------------------------------------------------ options


def options_for(
    *,
    stage_map: Mapping[str, str] | None,
    field_map: Mapping[str, str] | None,
    keep_deleted: bool,
    default_currency: str,
) -> Options:
    return validated_options(
        fields_of="Salesforce field names",
        default_stages=DEFAULT_STAGE_MAP,
        stage_map=stage_map,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency=default_currency,
    )


# ------------------------------------------------------------------ public


def stage_opportunities(
    raw: T,
    *,
    stage_map: Mapping[str, str] | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
    default_currency: str = "USD",
) -> StagingResult[T]:
    """Stage raw Salesforce Opportunity rows into the ``opportunities`` table.

    Keeps the latest version of every Id, drops deleted records (or keeps and
    flags them), maps stages to RevOps stages and converts every field to its
    canonical type; see :data:`~revops_ingest.staging.OPPORTUNITIES`.

    Args:
        raw: The raw rows (``/Salesforce/Raw/Opportunity``): a pyarrow Table,
            pandas or polars frame, polars LazyFrame, DuckDB relation, PySpark
            DataFrame or anything exporting the Arrow C stream.
        stage_map: Salesforce stage -> RevOps stage, on top of
            :data:`DEFAULT_STAGE_MAP`. Stages it does not cover get a null
            ``stage_name`` and are counted in the report's ``unmapped_stages``.
        field_map: Salesforce field -> staging column, on top of the defaults
            (``{"MyCompetitor__c": "competitor"}`` adds a column;
            ``{"Amount_USD__c": "amount"}`` feeds ``amount`` from another field).
        keep_deleted: Keep records whose latest version is deleted, with
            ``is_deleted`` true, instead of dropping them.
        default_currency: The currency of amounts when the org has no
            ``CurrencyIsoCode`` (single-currency orgs) or a row has none.

    Returns:
        The staged table, in the input's type, and its report.

    Raises:
        SchemaError: ``Id`` or ``SystemModstamp`` is missing.
        ConfigurationError: A stage map, field map or option is invalid.
        TypeError: *raw* is not a frame staging accepts.
    """
    options = options_for(
        stage_map=stage_map,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency=default_currency,
    )
    return run([(PLANS["Opportunity"], raw, options)])


def stage_accounts(
    raw: T,
    *,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw Salesforce Account rows into the ``accounts`` table.

    ``domain`` is derived from ``Website`` (lower case, without scheme, ``www.``,
    port or path). See :func:`stage_opportunities` for the arguments.

    Raises:
        SchemaError: ``Id`` or ``SystemModstamp`` is missing.
        ConfigurationError: The field map is invalid.
    """
    options = options_for(
        stage_map=None,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency="USD",
    )
    return run([(PLANS["Account"], raw, options)])


def stage_contacts(
    raw: T,
    *,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw Salesforce Contact rows into the ``contacts`` table.

    See :func:`stage_opportunities` for the arguments.

    Raises:
        SchemaError: ``Id`` or ``SystemModstamp`` is missing.
        ConfigurationError: The field map is invalid.
    """
    options = options_for(
        stage_map=None,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency="USD",
    )
    return run([(PLANS["Contact"], raw, options)])


def stage_activities(
    *,
    tasks: T | None = None,
    events: T | None = None,
    field_map: Mapping[str, str] | None = None,
    keep_deleted: bool = False,
) -> StagingResult[T]:
    """Stage raw Salesforce Task and Event rows into the ``activities`` table.

    Either may be left out. Both must be of the same kind (eager tables, or lazy
    frames of one library); the result has the type of the first given. A
    field map applies to both objects.

    Raises:
        SchemaError: ``Id`` or ``SystemModstamp`` is missing from one of them.
        ConfigurationError: Neither is given, or the field map is invalid.
    """
    options = options_for(
        stage_map=None,
        field_map=field_map,
        keep_deleted=keep_deleted,
        default_currency="USD",
    )
    inputs = [
        (PLANS[name], raw, options)
        for name, raw in (("Task", tasks), ("Event", events))
        if raw is not None
    ]
    if not inputs:
        raise ConfigurationError("stage_activities needs tasks=, events= or both")
    return run(inputs)
