"""The canonical schemas: versioned, documented, and the column lists promised."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from revops_ingest.staging import (
    ACCOUNTS,
    ACTIVITIES,
    CONTACTS,
    LINEAGE,
    OPPORTUNITIES,
    SCHEMAS,
    VALID_STAGES,
)


PROMISED = {
    "opportunities": [
        "opportunity_id",
        "account_id",
        "name",
        "stage_name",
        "amount",
        "currency",
        "close_date",
        "probability",
        "is_closed",
        "is_won",
        "owner_id",
        "created_at",
        "updated_at",
    ],
    "accounts": [
        "account_id",
        "name",
        "domain",
        "industry",
        "employees",
        "annual_revenue",
        "owner_id",
        "billing_country",
    ],
    "contacts": [
        "contact_id",
        "account_id",
        "email",
        "first_name",
        "last_name",
        "title",
    ],
    "activities": [
        "activity_id",
        "activity_type",
        "account_id",
        "contact_id",
        "opportunity_id",
        "owner_id",
        "subject",
        "occurred_at",
    ],
}


class TestSchemas:
    @pytest.mark.parametrize("name", sorted(PROMISED))
    def test_promised_columns_and_lineage(self, name):
        """Every table has the issue's columns and ends with the lineage columns."""
        schema = SCHEMAS[name]

        assert set(PROMISED[name]) <= set(schema.names)
        assert tuple(c.name for c in LINEAGE) == schema.names[-len(LINEAGE) :]
        assert schema.names[0] == schema.key

    @pytest.mark.parametrize("schema", [OPPORTUNITIES, ACCOUNTS, CONTACTS, ACTIVITIES])
    def test_documented_and_versioned(self, schema):
        """Every column has a description; the Arrow schema carries name and version."""
        arrow = schema.arrow_schema()

        assert all(c.description for c in schema)
        assert {
            b"revops.schema": schema.name.encode(),
            b"revops.schema_version": b"1",
        } == arrow.metadata
        assert all(b"description" in (f.metadata or {}) for f in arrow)
        assert not arrow.field(schema.key).nullable

    def test_types(self):
        """Money is float64, dates date32, times microsecond UTC."""
        arrow = OPPORTUNITIES.arrow_schema()

        assert pa.float64() == arrow.field("amount").type
        assert pa.date32() == arrow.field("close_date").type
        assert pa.timestamp("us", tz="UTC") == arrow.field("created_at").type

    def test_column_lookup(self):
        """column() finds a column by name and raises KeyError otherwise."""
        assert "float" == OPPORTUNITIES.column("probability").kind
        with pytest.raises(KeyError):
            OPPORTUNITIES.column("nope")

    def test_valid_stages(self):
        """The RevOps stages, in pipeline order."""
        assert (
            "Discovery",
            "Solution Design",
            "Proposal",
            "Negotiation",
            "Verbal Commit",
            "Closed Won",
            "Closed Lost",
        ) == VALID_STAGES


class TestDocs:
    @pytest.mark.parametrize("schema", [OPPORTUNITIES, ACCOUNTS, CONTACTS, ACTIVITIES])
    def test_every_column_is_documented(self, schema):
        """docs/staging.md has a row for every column of every schema."""
        docs = (Path(__file__).parents[2] / "docs" / "staging.md").read_text()
        section = docs.split(f"### {schema.name}\n", 1)[1].split("\n### ", 1)[0]

        documented = {
            line.split("|")[1].strip().strip("`")
            for line in section.splitlines()
            if line.startswith("| `")
        }

        assert set(schema.names) - {c.name for c in LINEAGE} == documented
