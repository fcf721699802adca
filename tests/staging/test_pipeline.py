"""Properties of the staging pipeline, on random raw rows (hypothesis).

Staging must be idempotent under re-delivered versions, blind to row order, and
agree with a plain row-by-row reference implementation.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from staging_helpers import (
    STAGES,
    SYNCS,
    at,
    normalise,
    raw_table,
    reference_opportunities,
    sf_id,
    tombstone,
)

from revops_ingest.staging import DEFAULT_STAGE_MAP, stage_opportunities
from revops_ingest.staging._pipeline import ObjectPlan, resolve_fields
from revops_ingest.staging._salesforce import PLANS


SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def opportunity_rows(draw):
    """Raw Opportunity rows with few ids, few stamps and few syncs, so ties happen."""
    count = draw(st.integers(min_value=0, max_value=25))
    rows = []
    for _ in range(count):
        number = draw(st.integers(min_value=1, max_value=6))
        minutes = draw(st.integers(min_value=0, max_value=4))
        sync = draw(st.sampled_from(SYNCS[:3]))
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            rows.append(tombstone("Opportunity", number, minutes, sync))
            continue
        rows.append(
            {
                "Id": sf_id("006", number),
                "Name": draw(st.sampled_from(["a", "b", None])),
                "StageName": draw(
                    st.sampled_from([*STAGES[:4], "Contract Sent", None])
                ),
                "Amount": draw(
                    st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False))
                ),
                "Probability": draw(st.sampled_from([None, 0.0, 10.0, 55.5, 100.0])),
                "CurrencyIsoCode": draw(st.sampled_from(["USD", "EUR", None])),
                "CloseDate": draw(st.sampled_from([None, dt.date(2024, 6, 30)])),
                "IsClosed": draw(st.booleans()),
                "SystemModstamp": draw(st.sampled_from([at(minutes), None])),
                "LastModifiedDate": at(minutes),
                "IsDeleted": draw(st.booleans()) and draw(st.booleans()),
                "_sync_id": sync,
            }
        )
    return rows


def _staged(rows):
    return normalise(
        stage_opportunities(raw_table("Opportunity", rows)).table, "opportunity_id"
    )


class TestProperties:
    @SETTINGS
    @given(rows=opportunity_rows(), data=st.data())
    def test_idempotent_under_redelivered_versions(self, rows, data):
        """Staging raw rows plus duplicated versions equals staging the raw rows."""
        extra = data.draw(st.lists(st.sampled_from(rows), max_size=10)) if rows else []

        assert _staged(rows) == _staged(rows + extra)

    @SETTINGS
    @given(rows=opportunity_rows(), data=st.data())
    def test_order_independent(self, rows, data):
        """Any permutation of the raw rows stages to the same table."""
        shuffled = data.draw(st.permutations(rows))

        assert _staged(rows) == _staged(shuffled)

    @SETTINGS
    @given(rows=opportunity_rows())
    def test_agrees_with_row_by_row_reference(self, rows):
        """Every staged row is an acceptable winner of the reference, none missing."""
        expected = reference_opportunities(rows, stage_map=dict(DEFAULT_STAGE_MAP))

        actual = _staged(rows)

        assert sorted(k for k, v in expected.items() if v) == [
            r["opportunity_id"] for r in actual
        ]
        for row in actual:
            assert row in normalise(
                pa.Table.from_pylist(expected[row["opportunity_id"]]), "opportunity_id"
            )

    @SETTINGS
    @given(rows=opportunity_rows())
    def test_report_adds_up(self, rows):
        """rows_in is rows_out plus superseded, deleted and missing-id rows."""
        report = stage_opportunities(raw_table("Opportunity", rows)).report

        assert report.rows_in == (
            report.rows_out + report.superseded + report.deleted + report.missing_id
        )
        assert len(rows) == report.rows_in


class TestResolveFields:
    def test_defaults_without_a_map(self):
        """Without a field map, the defaults apply and nothing is extra."""
        plan: ObjectPlan = PLANS["Opportunity"]

        inputs, extras = resolve_fields(plan, {})

        assert dict(plan.fields) == inputs
        assert {} == extras

    def test_map_overrides_and_adds(self):
        """A map entry re-targets a canonical column or adds an extra one."""
        inputs, extras = resolve_fields(
            PLANS["Opportunity"], {"Amount_USD__c": "amount", "X__c": "x"}
        )

        assert "Amount_USD__c" == inputs["amount"]
        assert {"x": "X__c"} == extras
