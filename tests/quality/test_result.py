"""The frozen result: serialisation, raise_for, summary and JSON conversion."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import attrs
import pyarrow as pa
import pytest

from revops_ingest.exceptions import QualityCheckError
from revops_ingest.quality import Severity, check
from revops_ingest.quality._result import jsonable


def _table():
    return pa.table(
        {
            "opportunity_id": [1, 2, 2, None, 5],
            "account_id": ["a", None, "c", "d", "e"],
        }
    )


class TestResult:
    def test_to_dict_and_to_json(self):
        """The result serialises with schema_version and every field."""
        result = (
            check(_table(), dataset="/d").assert_unique("opportunity_id").finalize()
        )

        data = json.loads(result.to_json())
        assert 1 == data["schema_version"]
        assert (False, "high", "/d") == (
            data["passed"],
            data["worst_severity"],
            data["dataset"],
        )
        check_data = data["checks"][0]
        assert {
            "name",
            "kind",
            "columns",
            "status",
            "severity",
            "observed",
            "threshold",
            "failed_count",
            "failed_fraction",
            "samples",
            "duration_ms",
            "message",
            "details",
        } == set(check_data)
        assert result.to_dict() == data

    def test_raise_for_respects_min_severity(self):
        """raise_for raises for failures at or above the severity, naming them."""
        result = (
            check(_table())
            .assert_unique("opportunity_id", severity="medium")
            .assert_no_nulls("account_id", severity="low")
            .finalize()
        )

        result.raise_for("high")
        with pytest.raises(QualityCheckError) as info:
            result.raise_for(Severity.MEDIUM)
        assert ("unique(opportunity_id)",) == info.value.failures
        with pytest.raises(QualityCheckError):
            result.raise_for()

    def test_result_is_frozen(self):
        """Results cannot be changed after the fact."""
        result = check(_table()).assert_not_empty().finalize()

        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            result.row_count = 0
        with pytest.raises(TypeError):
            result.checks[0].details["x"] = 1

    def test_summary_lists_what_did_not_pass(self):
        """summary() gives the verdict and one line per check that did not pass."""
        result = (
            check(_table(), dataset="/d").assert_unique("opportunity_id").finalize()
        )

        lines = result.summary().splitlines()
        assert "/d: 1 of 1 checks failed, worst high (5 rows)" == lines[0]
        assert "unique(opportunity_id)" in lines[1]

    def test_lookup_by_name(self):
        """A result is indexed by check name; unknown names raise KeyError."""
        result = check(_table()).assert_not_empty().finalize()

        assert "not_empty" == result["not_empty"].name
        with pytest.raises(KeyError):
            result["nope"]


class TestJsonable:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (dt.date(2026, 1, 2), "2026-01-02"),
            (decimal.Decimal("1.50"), "1.50"),
            (b"\x00\x01", "AAE="),
            (float("nan"), "nan"),
            ((1, {"a": Severity.HIGH}), [1, {"a": "high"}]),
        ],
    )
    def test_values_become_json(self, value, expected):
        """Samples of any Arrow type serialise."""
        assert expected == jsonable(value)
        json.dumps(jsonable(value))
