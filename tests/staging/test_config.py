"""Reading the stage map and field map config tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging import (
    field_map_from_table,
    hubspot_field_map_from_table,
    stage_map_from_table,
)


class TestStageMap:
    def test_reads_rows_for_this_system(self):
        """Rows for another source system are skipped; unscoped rows apply."""
        table = pa.table(
            {
                "source_stage": ["Contract Sent", "closedwon", "Demo"],
                "revops_stage": ["Verbal Commit", "Closed Won", "Discovery"],
                "source_system": ["Salesforce", "HubSpot", None],
            }
        )

        assert {"Contract Sent": "Verbal Commit", "Demo": "Discovery"} == (
            stage_map_from_table(table)
        )

    @pytest.mark.parametrize(
        ("columns", "match"),
        [
            ({"stage": ["a"], "revops_stage": ["Proposal"]}, "source_stage"),
            ({"source_stage": ["a"], "revops_stage": ["Signed"]}, "Signed"),
            ({"source_stage": [None], "revops_stage": ["Proposal"]}, "non-empty"),
            (
                {
                    "source_stage": ["a", "a"],
                    "revops_stage": ["Proposal", "Negotiation"],
                },
                "both",
            ),
        ],
    )
    def test_invalid(self, columns, match):
        """Bad stage map tables are configuration errors that say what is wrong."""
        with pytest.raises(ConfigurationError, match=match):
            stage_map_from_table(pa.table(columns))


class TestFieldMap:
    def test_scoping(self):
        """Scoped rows apply to their object; unscoped ones where the field exists."""
        table = pa.table(
            {
                "sf_field": ["MyCompetitor__c", "Tier__c", "Region__c"],
                "revops_field": ["competitor", "tier", "region"],
                "sf_object": [None, "Account", None],
            }
        )

        assert {"MyCompetitor__c": "competitor"} == field_map_from_table(
            table, object_type="Opportunity", fields=["Id", "MyCompetitor__c"]
        )
        assert {"Tier__c": "tier", "Region__c": "region"} == field_map_from_table(
            table, object_type="Account", fields=["Id", "Region__c"]
        )
        assert 3 == len(field_map_from_table(table))

    def test_missing_column(self):
        """A field map without revops_field is a configuration error naming it."""
        with pytest.raises(ConfigurationError, match="revops_field"):
            field_map_from_table(pa.table({"sf_field": ["X"]}))

    def test_not_a_table(self):
        """Something that is not a table is a configuration error."""
        with pytest.raises(ConfigurationError, match="expected a table"):
            field_map_from_table(42)


class TestHubSpotFieldMap:
    def test_scoping(self):
        """Scoped rows apply to their dataset; unscoped ones where the property is."""
        table = pa.table(
            {
                "hs_property": ["competitor_name", "tier", "region"],
                "revops_field": ["competitor", "tier", "region"],
                "hs_object": ["deals", "companies", None],
            }
        )

        assert {"competitor_name": "competitor"} == hubspot_field_map_from_table(
            table, object_type="deals", fields=["id", "competitor_name"]
        )
        assert {"tier": "tier", "region": "region"} == hubspot_field_map_from_table(
            table, object_type="companies", fields=["id", "region"]
        )
        assert {} == hubspot_field_map_from_table(
            table, object_type="contacts", fields=["id"]
        )

    @pytest.mark.parametrize(
        ("columns", "match"),
        [
            ({"hs_property": ["x"]}, "revops_field"),
            ({"sf_field": ["x"], "revops_field": ["y"]}, "hs_property"),
            (
                {"hs_property": ["x"], "revops_field": ["y"], "hs_object": ["tickets"]},
                "row 1 has hs_object='tickets'",
            ),
            ({"hs_property": ["x", "x"], "revops_field": ["y", "z"]}, "both"),
            ({"hs_property": [""], "revops_field": ["y"]}, "non-empty"),
        ],
    )
    def test_invalid(self, columns, match):
        """A bad HubSpot field map names the dataset and what is wrong with it."""
        with pytest.raises(ConfigurationError, match=match) as info:
            hubspot_field_map_from_table(pa.table(columns))
        assert "/RevOps/Config/hubspot_field_map" in str(info.value)
