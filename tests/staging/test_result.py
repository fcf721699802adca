"""StagingReport and StagingResult."""

from __future__ import annotations

import pytest

from revops_ingest.staging import StagingReport, StagingResult


def _report(**changes):
    fields = {
        "table": "opportunities",
        "schema_version": 1,
        "source_system": "Salesforce",
        "source_objects": ("Opportunity",),
        "rows_in": 10,
        "rows_out": 6,
        "superseded": 3,
        "deleted": 1,
        "deleted_kept": False,
        "missing_id": 0,
    }
    return StagingReport(**{**fields, **changes})


class TestStagingReport:
    def test_derived_counts(self):
        """dropped, invalid_value_count and unmapped_stage_rows add up the details."""
        report = _report(
            invalid_values={"amount": 2, "close_date": 1}, unmapped_stages={"X": 4}
        )

        assert (4, 3, 4, False) == (
            report.dropped,
            report.invalid_value_count,
            report.unmapped_stage_rows,
            report.clean,
        )

    def test_counts_are_read_only(self):
        """The per-column counts cannot be changed after the fact."""
        report = _report(invalid_values={"amount": 2})

        with pytest.raises(TypeError):
            report.invalid_values["amount"] = 0  # type: ignore[index]

    def test_clean(self):
        """A report without problems is clean."""
        assert _report().clean


class TestStagingResult:
    def test_lazy_report_is_computed_once(self):
        """A report given as a function is computed on first access only."""
        calls = []

        def make():
            calls.append(1)
            return _report()

        result = StagingResult("table", make)

        assert "pending" in repr(result)
        assert result.report is result.report
        assert [1] == calls
        assert "rows_in=10" in repr(result)
