"""build_staging: raw lake datasets into the staging datasets, with an audit log."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from staging_helpers import at, raw_table, sf_id

from revops_ingest import Lake
from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.staging import (
    LINEAGE,
    OPPORTUNITIES,
    OPPORTUNITY_LINK_COLUMNS,
    STAGING_LOG,
    STAGING_LOG_SCHEMA,
    build_staging,
)


@pytest.fixture(name="lake")
def _lake(tmp_path):
    return Lake(str(tmp_path / "lake"))


def _opportunities():
    return raw_table(
        "Opportunity",
        [
            {
                "Id": sf_id("006", 1),
                "StageName": "Contract Sent",
                "SystemModstamp": at(1),
                "MyCompetitor__c": "Globex",
            },
            {
                "Id": sf_id("006", 1),
                "StageName": "Prospecting",
                "SystemModstamp": at(0),
            },
            {
                "Id": sf_id("006", 2),
                "StageName": "Qualification",
                "SystemModstamp": at(1),
                "IsDeleted": True,
            },
        ],
    )


class TestBuildStaging:
    def test_stages_what_exists_and_skips_the_rest(self, lake):
        """Present raw datasets are staged; missing ones are skipped and logged."""
        lake.write("/Salesforce/Raw/Opportunity", _opportunities())
        lake.write(
            "/Salesforce/Raw/Task",
            raw_table("Task", [{"Id": sf_id("00T", 1), "SystemModstamp": at(1)}]),
        )

        runs = build_staging(lake)

        assert ["success", "skipped", "skipped", "success", "skipped"] == [
            r.status for r in runs
        ]
        assert lake.exists("/RevOps/Staging/opportunities")
        assert not lake.exists("/RevOps/Staging/accounts")
        assert "staged without /Salesforce/Raw/Event (not found)" == runs[3].message
        log = lake.read(STAGING_LOG)
        assert STAGING_LOG_SCHEMA == log.schema
        assert [
            "opportunities",
            "accounts",
            "contacts",
            "activities",
            "support_tickets",
        ] == log.column("staging_table").to_pylist()
        row = log.slice(0, 1).to_pylist()[0]
        assert (3, 1, 1, 1, 1) == (
            row["rows_in"],
            row["rows_out"],
            row["superseded"],
            row["deleted"],
            row["unmapped_stage_rows"],
        )
        assert {"Contract Sent": 1} == json.loads(row["unmapped_stages"])
        assert ["MyCompetitor__c"] == row["ignored_columns"]
        assert (
            "no raw dataset: /Salesforce/Raw/Account, /HubSpot/Raw/companies not found"
            == log.column("message")[1].as_py()
        )

    def test_config_datasets_are_honoured(self, lake):
        """The stage map and field map config datasets reach staging."""
        lake.write("/Salesforce/Raw/Opportunity", _opportunities())
        lake.write(
            "/RevOps/Config/stage_map",
            pa.table(
                {"source_stage": ["Contract Sent"], "revops_stage": ["Verbal Commit"]}
            ),
        )
        lake.write(
            "/RevOps/Config/salesforce_field_map",
            pa.table(
                {
                    "sf_field": ["MyCompetitor__c", "Mood__c"],
                    "revops_field": ["competitor", "mood"],
                }
            ),
        )

        build_staging(lake, tables=["opportunities"])

        staged = lake.read("/RevOps/Staging/opportunities")
        links = [c.name for c in OPPORTUNITY_LINK_COLUMNS]
        lineage = [c.name for c in LINEAGE]
        canonical = [n for n in OPPORTUNITIES.names if n not in lineage]
        assert [*canonical, *links, *lineage, "competitor"] == staged.column_names
        assert [("Verbal Commit", "Globex")] == [
            (r["stage_name"], r["competitor"]) for r in staged.to_pylist()
        ]

    def test_rebuild_replaces_atomically(self, lake):
        """A second build replaces the staging dataset instead of appending to it."""
        lake.write("/Salesforce/Raw/Opportunity", _opportunities())

        build_staging(lake, tables=["opportunities"])
        build_staging(lake, tables=["opportunities"])

        assert 1 == lake.read("/RevOps/Staging/opportunities").num_rows
        assert ["replace", "replace"] == [
            c.operation for c in lake.history("/RevOps/Staging/opportunities")
        ]
        assert 2 == lake.read(STAGING_LOG).num_rows

    def test_failure_is_logged_then_raised(self, lake):
        """A raw dataset without Id fails its table; the others still stage."""
        lake.write(
            "/Salesforce/Raw/Account",
            raw_table("Account", [{"Id": "x", "SystemModstamp": at(1)}], drop=["Id"]),
        )
        lake.write("/Salesforce/Raw/Opportunity", _opportunities())

        with pytest.raises(SchemaError, match="'Id'"):
            build_staging(lake, tables=["accounts", "opportunities"])

        log = lake.read(STAGING_LOG).to_pylist()
        assert [("failed", "SchemaError"), ("success", None)] == [
            (r["status"], r["error_type"]) for r in log
        ]
        assert lake.exists("/RevOps/Staging/opportunities")

    def test_bad_config_fails_every_table(self, lake):
        """An invalid stage map is logged for every table, then raised."""
        lake.write(
            "/RevOps/Config/stage_map",
            pa.table({"source_stage": ["X"], "revops_stage": ["Nope"]}),
        )

        with pytest.raises(ConfigurationError, match="Nope"):
            build_staging(lake)

        assert ["failed"] * 5 == lake.read(STAGING_LOG).column("status").to_pylist()

    def test_unknown_table(self, lake):
        """Asking for a table that does not exist is a configuration error."""
        with pytest.raises(ConfigurationError, match="deals"):
            build_staging(lake, tables=["deals"])
