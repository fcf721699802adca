"""The canonical staging schemas, versioned and documented column by column.

Every staging table ends with the same lineage columns (:data:`LINEAGE`): whether
the record is deleted in its source, which system and record it came from, and the
sync that landed the version we kept. Columns a field map adds (custom fields such as
``MyCompetitor__c -> competitor``) come after the lineage columns.
"""

from __future__ import annotations

import types
import typing

import attrs
import pyarrow as pa


if typing.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


__all__ = [
    "ACCOUNTS",
    "ACTIVITIES",
    "CONTACTS",
    "LINEAGE",
    "OPPORTUNITIES",
    "SCHEMAS",
    "VALID_STAGES",
    "Column",
    "Kind",
    "TableSchema",
]

Kind = typing.Literal["string", "float", "int", "bool", "date", "timestamp"]
"""The logical type of a canonical column; :data:`ARROW_TYPES` gives its Arrow type."""

ARROW_TYPES: Mapping[Kind, pa.DataType] = types.MappingProxyType(
    {
        "string": pa.string(),
        "float": pa.float64(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
)

VALID_STAGES: tuple[str, ...] = (
    "Discovery",
    "Solution Design",
    "Proposal",
    "Negotiation",
    "Verbal Commit",
    "Closed Won",
    "Closed Lost",
)
"""The RevOps opportunity stages, in pipeline order; ``stage_name`` is one of them."""


@attrs.frozen(kw_only=True)
class Column:
    """One column of a canonical schema.

    Attributes:
        name: The column name (lower snake case).
        kind: Its logical type; see :data:`ARROW_TYPES` for the Arrow type.
        description: What the column holds and where it comes from.
        nullable: ``False`` for columns that always have a value.
    """

    name: str
    kind: Kind
    description: str
    nullable: bool = True

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the column."""
        return ARROW_TYPES[self.kind]

    def arrow_field(self) -> pa.Field[pa.DataType]:
        """The Arrow field, with the description in its metadata."""
        return pa.field(
            self.name,
            self.arrow_type,
            nullable=self.nullable,
            metadata={"description": self.description},
        )


@attrs.frozen(kw_only=True)
class TableSchema:
    """A canonical staging schema.

    Attributes:
        name: The staging table, such as ``"opportunities"``; its dataset is
            ``/RevOps/Staging/<name>``.
        version: Bumped whenever a column is added, removed, renamed or retyped.
        key: The primary-key column.
        description: What one row is.
        columns: The columns in order, lineage columns last.
    """

    name: str
    version: int
    key: str
    description: str
    columns: tuple[Column, ...]

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    @property
    def names(self) -> tuple[str, ...]:
        """The column names in order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called *name*.

        Raises:
            KeyError: There is no such column.
        """
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema, tagged with the table name and version in its metadata."""
        return pa.schema(
            [c.arrow_field() for c in self.columns],
            metadata={
                "revops.schema": self.name,
                "revops.schema_version": str(self.version),
            },
        )


def _c(name: str, kind: Kind, description: str, *, nullable: bool = True) -> Column:
    return Column(name=name, kind=kind, description=description, nullable=nullable)


LINEAGE: tuple[Column, ...] = (
    _c(
        "is_deleted",
        "bool",
        "The record is deleted in its source (soft delete or tombstone). Always "
        "false unless the table was staged with keep_deleted=True.",
        nullable=False,
    ),
    _c(
        "source_system",
        "string",
        "The system the record came from, such as 'Salesforce'.",
        nullable=False,
    ),
    _c(
        "source_id",
        "string",
        "The record's id in its source system (Salesforce: the 18-character Id).",
        nullable=False,
    ),
    _c(
        "source_sync_id",
        "string",
        "The sync that landed the version kept (the raw row's _sync_id).",
    ),
)
"""The lineage columns every staging table ends with."""

_CREATED = _c("created_at", "timestamp", "When the record was created (UTC).")
_UPDATED = _c("updated_at", "timestamp", "When a user last changed the record (UTC).")
_OWNER = _c("owner_id", "string", "The owning user's id (Salesforce 005...).")

OPPORTUNITIES = TableSchema(
    name="opportunities",
    version=1,
    key="opportunity_id",
    description="One row per opportunity (deal): its latest version.",
    columns=(
        _c(
            "opportunity_id",
            "string",
            "The opportunity's id (Salesforce Opportunity.Id).",
            nullable=False,
        ),
        _c("account_id", "string", "The account the opportunity belongs to."),
        _c("name", "string", "The opportunity's name."),
        _c(
            "stage_name",
            "string",
            "The RevOps stage, one of VALID_STAGES, mapped from source_stage "
            "through the stage map; null when the source stage is not mapped "
            "(reported in unmapped_stages).",
        ),
        _c("source_stage", "string", "The stage as the source names it."),
        _c("amount", "float", "The amount, in currency."),
        _c(
            "currency",
            "string",
            "ISO 4217 code of amount; the default currency when the source "
            "has none (single-currency Salesforce orgs).",
        ),
        _c("close_date", "date", "The expected or actual close date."),
        _c(
            "probability",
            "float",
            "Win probability as a fraction from 0 to 1 (Salesforce's percent / 100).",
        ),
        _c("is_closed", "bool", "The opportunity is closed (won or lost)."),
        _c("is_won", "bool", "The opportunity is closed and won."),
        _OWNER,
        _c("opportunity_type", "string", "New business, renewal, ... (Type)."),
        _c("lead_source", "string", "Where the opportunity came from."),
        _c(
            "forecast_category",
            "string",
            "The forecast category (ForecastCategoryName).",
        ),
        _CREATED,
        _UPDATED,
        *LINEAGE,
    ),
)

ACCOUNTS = TableSchema(
    name="accounts",
    version=1,
    key="account_id",
    description="One row per account (company): its latest version.",
    columns=(
        _c(
            "account_id",
            "string",
            "The account's id (Salesforce Account.Id).",
            nullable=False,
        ),
        _c("name", "string", "The account's name."),
        _c(
            "domain",
            "string",
            "The web domain, from website: lower case, without scheme, "
            "'www.', port, path, query or fragment.",
        ),
        _c("website", "string", "The website as entered in the source."),
        _c("industry", "string", "The industry."),
        _c("employees", "int", "Number of employees."),
        _c("annual_revenue", "float", "Annual revenue, in the org's currency."),
        _OWNER,
        _c("billing_country", "string", "Billing address: country."),
        _c("billing_state", "string", "Billing address: state or province."),
        _c("billing_city", "string", "Billing address: city."),
        _c("account_type", "string", "Customer, prospect, partner, ... (Type)."),
        _c("parent_account_id", "string", "The parent account's id, if any."),
        _CREATED,
        _UPDATED,
        *LINEAGE,
    ),
)

CONTACTS = TableSchema(
    name="contacts",
    version=1,
    key="contact_id",
    description="One row per contact (person at an account): its latest version.",
    columns=(
        _c(
            "contact_id",
            "string",
            "The contact's id (Salesforce Contact.Id).",
            nullable=False,
        ),
        _c("account_id", "string", "The contact's account."),
        _c("email", "string", "Email address, as entered in the source."),
        _c("first_name", "string", "First name."),
        _c("last_name", "string", "Last name."),
        _c("title", "string", "Job title."),
        _c("phone", "string", "Phone number, as entered in the source."),
        _OWNER,
        _c("mailing_country", "string", "Mailing address: country."),
        _CREATED,
        _UPDATED,
        *LINEAGE,
    ),
)

ACTIVITIES = TableSchema(
    name="activities",
    version=1,
    key="activity_id",
    description="One row per activity (task, call, email or meeting).",
    columns=(
        _c(
            "activity_id",
            "string",
            "The activity's id (Salesforce Task.Id or Event.Id).",
            nullable=False,
        ),
        _c(
            "activity_type",
            "string",
            "Lower-case kind: the subtype when the source has one ('call', "
            "'email', 'task', ...), else 'task' for tasks and 'event' for events.",
        ),
        _c("source_object", "string", "The source object: 'Task' or 'Event'."),
        _c(
            "account_id",
            "string",
            "The related account (AccountId, else a WhatId that is an account).",
        ),
        _c("contact_id", "string", "who_id when it is a contact (003...)."),
        _c("lead_id", "string", "who_id when it is a lead (00Q...)."),
        _c(
            "opportunity_id",
            "string",
            "what_id when it is an opportunity (006...).",
        ),
        _c("who_id", "string", "The related person, as the source has it (WhoId)."),
        _c("what_id", "string", "The related record, as the source has it (WhatId)."),
        _OWNER,
        _c("subject", "string", "The subject line."),
        _c("status", "string", "Task status (events have none)."),
        _c("priority", "string", "Task priority (events have none)."),
        _c(
            "occurred_at",
            "timestamp",
            "When it happened (UTC). Events: StartDateTime. Tasks: ActivityDate "
            "at 00:00 UTC, else created_at.",
        ),
        _c("ends_at", "timestamp", "When an event ends (UTC)."),
        _c("activity_date", "date", "The activity's date (ActivityDate)."),
        _c(
            "duration_seconds",
            "int",
            "Call duration (tasks) or event duration, in seconds.",
        ),
        _c("location", "string", "Where an event takes place."),
        _CREATED,
        _UPDATED,
        *LINEAGE,
    ),
)

SCHEMAS: Mapping[str, TableSchema] = types.MappingProxyType(
    {s.name: s for s in (OPPORTUNITIES, ACCOUNTS, CONTACTS, ACTIVITIES)}
)
"""Every canonical schema by table name."""
