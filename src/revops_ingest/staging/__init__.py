"""Staging: raw source rows into the canonical RevOps tables.

Pure functions, table in and table out, with keyword-only configuration::

    raw = lake.read("/Salesforce/Raw/Opportunity")
    result = stage_opportunities(raw, stage_map={"Contract Sent": "Verbal Commit"})
    lake.write("/RevOps/Staging/opportunities", result.table)

They take pyarrow, pandas and polars frames, DuckDB relations and PySpark
DataFrames, and return the same type (lazy frames stay lazy and run where they are).
:func:`build_staging` does the whole lake: it reads the raw and config datasets,
writes ``/RevOps/Staging/{opportunities,accounts,contacts,activities}`` and the
support-ticket telemetry ``/RevOps/Telemetry/support_{tickets,summary}``, and logs
what it did to ``/RevOps/Audit/staging_log``. See ``docs/staging.md``.
"""

from __future__ import annotations

from revops_ingest.staging._build import (
    ACCOUNT_ID_MAP,
    ACCOUNT_MAPPING,
    DOMAIN_MAPPING,
    MATCHING_RULES,
    STAGING_DATASETS,
    STAGING_LOG,
    STAGING_LOG_SCHEMA,
    StagingRun,
    build_staging,
)
from revops_ingest.staging._config import (
    FIELD_MAP_DATASET,
    HUBSPOT_FIELD_MAP_DATASET,
    STAGE_MAP_DATASET,
    field_map_from_table,
    hubspot_field_map_from_table,
    stage_map_from_table,
)
from revops_ingest.staging._hubspot import (
    DEFAULT_HUBSPOT_STAGE_MAP,
    HUBSPOT_FIELDS,
    current_associations,
    stage_hubspot_companies,
    stage_hubspot_contacts,
    stage_hubspot_deals,
    stage_hubspot_engagements,
    with_associations,
)
from revops_ingest.staging._result import StagingReport, StagingResult
from revops_ingest.staging._salesforce import (
    DEFAULT_STAGE_MAP,
    SALESFORCE_FIELDS,
    stage_accounts,
    stage_activities,
    stage_contacts,
    stage_opportunities,
)
from revops_ingest.staging._schemas import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    LINEAGE,
    OPPORTUNITIES,
    SCHEMAS,
    VALID_STAGES,
    Column,
    TableSchema,
)
from revops_ingest.staging._unify import (
    ACCOUNT_LINK_COLUMNS,
    DEFAULT_PRIMARY_SOURCE,
    OPPORTUNITY_LINK_COLUMNS,
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
    SUPPORT_SUMMARY_SCHEMA,
    SUPPORT_TICKETS,
    SUPPORT_TICKETS_SCHEMA,
    SupportTicketsReport,
    stage_support_tickets,
    support_summary,
)


__all__ = [  # noqa: RUF022 - plainly sorted, as tests/test_public_api.py checks
    "ACCOUNTS",
    "ACCOUNT_ID_MAP",
    "ACCOUNT_LINK_COLUMNS",
    "ACCOUNT_MAPPING",
    "ACTIVITIES",
    "CONTACTS",
    "Column",
    "DEFAULT_HUBSPOT_STAGE_MAP",
    "DEFAULT_PRIMARY_SOURCE",
    "DEFAULT_STAGE_MAP",
    "DOMAIN_MAPPING",
    "FIELD_MAP_DATASET",
    "HUBSPOT_FIELDS",
    "HUBSPOT_FIELD_MAP_DATASET",
    "LINEAGE",
    "MATCHING_RULES",
    "OPPORTUNITIES",
    "OPPORTUNITY_LINK_COLUMNS",
    "PRIMARY_SOURCE_DATASET",
    "SALESFORCE_FIELDS",
    "SCHEMAS",
    "STAGE_MAP_DATASET",
    "STAGING_DATASETS",
    "STAGING_LOG",
    "STAGING_LOG_SCHEMA",
    "SUPPORT_SUMMARY",
    "SUPPORT_SUMMARY_SCHEMA",
    "SUPPORT_TICKETS",
    "SUPPORT_TICKETS_SCHEMA",
    "StagingReport",
    "StagingResult",
    "StagingRun",
    "SupportTicketsReport",
    "TableSchema",
    "UnifiedTable",
    "UnifyReport",
    "VALID_STAGES",
    "build_staging",
    "current_associations",
    "field_map_from_table",
    "hubspot_field_map_from_table",
    "primary_source_from_table",
    "stage_accounts",
    "stage_activities",
    "stage_contacts",
    "stage_hubspot_companies",
    "stage_hubspot_contacts",
    "stage_hubspot_deals",
    "stage_hubspot_engagements",
    "stage_map_from_table",
    "stage_opportunities",
    "stage_support_tickets",
    "support_summary",
    "unify_accounts",
    "unify_opportunities",
    "unify_records",
    "with_associations",
]
