"""Staging: raw source rows into the canonical RevOps tables.

Pure functions, table in and table out, with keyword-only configuration::

    raw = lake.read("/Salesforce/Raw/Opportunity")
    result = stage_opportunities(raw, stage_map={"Contract Sent": "Verbal Commit"})
    lake.write("/RevOps/Staging/opportunities", result.table)

They take pyarrow, pandas and polars frames, DuckDB relations and PySpark
DataFrames, and return the same type (lazy frames stay lazy and run where they are).
:func:`build_staging` does the whole lake: it reads the raw and config datasets,
writes ``/RevOps/Staging/{opportunities,accounts,contacts,activities}`` and logs
what it did to ``/RevOps/Audit/staging_log``. See ``docs/staging.md``.
"""

from __future__ import annotations

from revops_ingest.staging._build import (
    STAGING_DATASETS,
    STAGING_LOG,
    STAGING_LOG_SCHEMA,
    StagingRun,
    build_staging,
)
from revops_ingest.staging._config import (
    FIELD_MAP_DATASET,
    STAGE_MAP_DATASET,
    field_map_from_table,
    stage_map_from_table,
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


__all__ = [  # noqa: RUF022 - plainly sorted, as tests/test_public_api.py checks
    "ACCOUNTS",
    "ACTIVITIES",
    "CONTACTS",
    "Column",
    "DEFAULT_STAGE_MAP",
    "FIELD_MAP_DATASET",
    "LINEAGE",
    "OPPORTUNITIES",
    "SALESFORCE_FIELDS",
    "SCHEMAS",
    "STAGE_MAP_DATASET",
    "STAGING_DATASETS",
    "STAGING_LOG",
    "STAGING_LOG_SCHEMA",
    "StagingReport",
    "StagingResult",
    "StagingRun",
    "TableSchema",
    "VALID_STAGES",
    "build_staging",
    "field_map_from_table",
    "stage_accounts",
    "stage_activities",
    "stage_contacts",
    "stage_map_from_table",
    "stage_opportunities",
]
