"""check(df)...finalize(): assertions, tolerances, null semantics, inputs, fusion."""

from __future__ import annotations

import collections
import re

import hypothesis.strategies as st
import narwhals as nw
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.quality import Severity, Status, check
from revops_ingest.quality._checker import Checker


VALID = ["Discovery", "Proposal", "Closed Won"]


def _table():
    return pa.table(
        {
            "opportunity_id": [1, 2, 2, None, 5],
            "account_id": ["a", None, "c", "d", "e"],
            "stage_name": pa.array(
                ["Discovery", "Bogus", "Proposal", None, "Unknown"]
            ).dictionary_encode(),
        }
    )


class TestCheck:
    def test_the_seed_chain_on_clean_data_passes(self):
        """The seed's four checks pass on clean data, worst severity None."""
        table = pa.table(
            {
                "opportunity_id": [1, 2, 3],
                "account_id": ["a", "b", "c"],
                "stage_name": ["Discovery", "Proposal", "Closed Won"],
            }
        )

        result = (
            check(table)
            .assert_not_empty(min_rows=1)
            .assert_no_nulls("opportunity_id", "account_id")
            .assert_unique("opportunity_id")
            .assert_values_in("stage_name", VALID)
            .finalize()
        )

        assert (True, None) == (result.passed, result.worst_severity)
        assert [
            "not_empty",
            "no_nulls(opportunity_id)",
            "no_nulls(account_id)",
            "unique(opportunity_id)",
            "values_in(stage_name)",
        ] == [c.name for c in result]
        assert 3 == result.row_count

    def test_failures_carry_counts_fractions_and_samples(self):
        """Each failing check reports its count, fraction and sample values."""
        result = (
            check(_table())
            .assert_no_nulls("account_id")
            .assert_unique("opportunity_id")
            .assert_values_in("stage_name", VALID)
            .finalize()
        )

        nulls, unique, values = result.checks
        assert (1, 0.2, ()) == (
            nulls.failed_count,
            nulls.failed_fraction,
            nulls.samples,
        )
        assert [1] == nulls.details["sample_rows"]
        assert (2, 0.4, (2,)) == (
            unique.failed_count,
            unique.failed_fraction,
            unique.samples,
        )
        assert {"duplicate_keys": 1, "extra_rows": 1} == dict(unique.details)
        assert (2, ("Bogus", "Unknown")) == (values.failed_count, values.samples)
        assert Severity.HIGH == result.worst_severity

    def test_severity_and_worst_severity(self):
        """The worst severity is the highest among failing checks only."""
        result = (
            check(_table())
            .assert_no_nulls("account_id", severity="low")
            .assert_unique("opportunity_id", severity=Severity.CRITICAL)
            .assert_not_empty(severity="medium")
            .finalize()
        )

        assert Severity.CRITICAL == result.worst_severity
        assert ["no_nulls(account_id)", "unique(opportunity_id)"] == [
            c.name for c in result.failures
        ]

    @pytest.mark.parametrize(
        ("tolerance", "status"),
        [
            ({}, Status.FAILED),
            ({"max_count": 1}, Status.PASSED),
            ({"max_count": 0}, Status.FAILED),
            ({"max_fraction": 0.2}, Status.PASSED),
            ({"max_fraction": 0.19}, Status.FAILED),
            ({"max_fraction": 0.5, "max_count": 0}, Status.FAILED),
        ],
    )
    def test_tolerance(self, tolerance, status):
        """A check fails when more rows fail than max_count or max_fraction allow."""
        result = check(_table()).assert_no_nulls("account_id", **tolerance).finalize()

        assert status == result.checks[0].status

    def test_null_fraction_below_is_the_seed_condition(self):
        """More than the fraction of nulls fails; exactly the fraction passes."""
        result = (
            check(_table())
            .assert_null_fraction_below("account_id", 0.2, name="at")
            .assert_null_fraction_below("account_id", 0.1, name="above")
            .finalize()
        )

        assert [Status.PASSED, Status.FAILED] == [c.status for c in result]
        assert 0.2 == result["above"].observed

    def test_row_count_between(self):
        """The row count must lie inside the inclusive bounds."""
        result = (
            check(_table())
            .assert_row_count_between(5, 5, name="exact")
            .assert_row_count_between(max_rows=4, name="too many")
            .finalize()
        )

        assert [Status.PASSED, Status.FAILED] == [c.status for c in result]
        assert (5, 5) == result["exact"].threshold

    def test_matches_is_a_full_match_ignoring_nulls(self):
        """A pattern must match the whole value; nulls are not counted."""
        table = pa.table({"id": ["006A", "006AB", "x006A", None]})

        result = check(table).assert_matches("id", r"006[A-Z]").finalize()

        assert (2, ("006AB", "x006A")) == (
            result.checks[0].failed_count,
            result.checks[0].samples,
        )

    def test_not_empty(self):
        """An empty table fails assert_not_empty; fractions are 0 on it."""
        empty = pa.table({"id": pa.array([], pa.int64())})

        result = check(empty).assert_not_empty().assert_no_nulls("id").finalize()

        assert [Status.FAILED, Status.PASSED] == [c.status for c in result]
        assert 0.0 == result.checks[1].failed_fraction

    def test_compound_keys(self):
        """assert_unique of several columns is about the combination."""
        table = pa.table({"a": [1, 1, 2, 2], "b": ["x", "y", "x", "x"]})

        result = check(table).assert_unique("a").assert_unique("a", "b").finalize()

        assert [4, 2] == [c.failed_count for c in result]
        assert ((2, "x"),) == result.checks[1].samples

    def test_custom_checks_join_the_plan(self):
        """A callable and a narwhals expression both count failing rows."""
        table = pa.table({"amount": [10.0, -1.0, None, -5.0]})

        result = (
            check(table)
            .assert_custom(
                "arrow",
                lambda t: pc.greater_equal(t["amount"], 0),
                columns=["amount"],
            )
            .assert_custom("narwhals", nw.col("amount") >= 0, columns=["amount"])
            .assert_custom("verdict", lambda t: t.num_rows > 10)
            .assert_custom("count", lambda t: 1, max_count=1)
            .finalize()
        )

        assert [2, 2, None, 1] == [c.failed_count for c in result]
        assert [Status.FAILED, Status.FAILED, Status.FAILED, Status.PASSED] == [
            c.status for c in result
        ]
        assert (-1.0, -5.0) == result["arrow"].samples
        assert [1, 3] == result["arrow"].details["sample_rows"]

    def test_a_broken_custom_check_is_an_error_result(self):
        """A custom check that raises is an ERROR result; the others still run."""

        def boom(table):
            raise RuntimeError("nope")

        result = (
            check(_table()).assert_custom("boom", boom).assert_not_empty().finalize()
        )

        assert [Status.ERROR, Status.PASSED] == [c.status for c in result]
        assert "RuntimeError: nope" in result["boom"].message

    def test_missing_column_is_an_error_not_an_exception(self):
        """Collect-all: a missing column is an ERROR that names the columns there."""
        result = check(_table()).assert_no_nulls("nope").assert_not_empty().finalize()

        assert [Status.ERROR, Status.PASSED] == [c.status for c in result]
        assert "column 'nope' not found" in result.checks[0].message
        assert not result.passed

    def test_fail_fast_skips_the_rest(self):
        """With fail_fast the first failure stops the run; the rest are SKIPPED."""
        result = (
            check(_table(), fail_fast=True)
            .assert_not_empty()
            .assert_unique("opportunity_id")
            .assert_no_nulls("account_id")
            .finalize()
        )

        assert [Status.PASSED, Status.FAILED, Status.SKIPPED] == [
            c.status for c in result
        ]
        assert result.fail_fast

    def test_redacted_samples_are_stable_hashes(self):
        """Redacted samples are short hashes, the same for the same value."""
        result = (
            check(_table(), redact_samples=True)
            .assert_values_in("stage_name", VALID)
            .finalize()
        )

        samples = result.checks[0].samples
        assert 2 == len(samples)
        assert all(re.fullmatch(r"sha256:[0-9a-f]{12}", s) for s in samples)
        assert "Bogus" not in result.to_json()

    def test_sample_size(self):
        """sample_size bounds the samples; 0 keeps none."""
        table = pa.table({"s": [f"bad{i}" for i in range(20)]})

        three = check(table, sample_size=3).assert_values_in("s", ["ok"]).finalize()
        none = check(table, sample_size=0).assert_values_in("s", ["ok"]).finalize()

        assert (3, 0) == (len(three.checks[0].samples), len(none.checks[0].samples))

    def test_duplicate_names_are_numbered(self):
        """Two checks of the same kind and columns get distinct names."""
        result = (
            check(_table())
            .assert_unique("opportunity_id")
            .assert_unique("opportunity_id", max_count=5)
            .finalize()
        )

        assert ["unique(opportunity_id)", "unique(opportunity_id)#2"] == [
            c.name for c in result
        ]

    @pytest.mark.parametrize(
        "declare",
        [
            lambda c: c.assert_no_nulls(),
            lambda c: c.assert_no_nulls("a", max_fraction=2),
            lambda c: c.assert_unique("a", max_count=-1),
            lambda c: c.assert_values_in("a", "abc"),
            lambda c: c.assert_matches("a", "("),
            lambda c: c.assert_row_count_between(),
            lambda c: c.assert_row_count_between(5, 1),
            lambda c: c.assert_row_count_change(max_drop=None),
            lambda c: c.assert_custom("x", 42),
            lambda c: c.assert_not_empty(severity="urgent"),
        ],
    )
    def test_bad_declarations_raise_configuration_error(self, declare):
        """Mistakes in the chain are reported when declared, not at finalize()."""
        with pytest.raises(ConfigurationError):
            declare(check(_table()))

    def test_a_store_needs_a_dataset(self, lake):
        """History without a dataset name cannot be keyed: refused."""
        with pytest.raises(ConfigurationError, match="dataset="):
            check(_table(), lake=lake)

    def test_unknown_input_is_a_type_error(self):
        """A list of dicts is not a table."""
        with pytest.raises(TypeError, match="check\\(\\) takes"):
            check([{"a": 1}]).assert_not_empty().finalize()

    def test_repr_names_the_checks(self):
        """The checker's repr lists its checks."""
        checker = check(_table(), dataset="/x").assert_not_empty()

        assert isinstance(checker, Checker)
        assert "<Checker /x: not_empty>" == repr(checker)


class TestInputs:
    @pytest.mark.parametrize(
        "convert",
        [
            pytest.param(lambda t: t, id="pyarrow"),
            pytest.param(lambda t: t.to_batches()[0], id="recordbatch"),
            pytest.param(lambda t: t.to_reader(), id="reader"),
            pytest.param(lambda t: t.to_pandas(types_mapper=pd_types()), id="pandas"),
            pytest.param(lambda t: __import__("polars").from_arrow(t), id="polars"),
            pytest.param(
                lambda t: __import__("duckdb").from_arrow(t).arrow(), id="duckdb-result"
            ),
        ],
    )
    def test_eager_inputs_agree(self, convert):
        """pyarrow, pandas, polars and DuckDB results give the same result."""
        table = pa.table(
            {
                "id": pa.array([1, 2, 2, None], pa.int64()),
                "stage": ["Discovery", "Bogus", None, "Proposal"],
            }
        )

        result = (
            check(convert(table))
            .assert_no_nulls("id")
            .assert_unique("id")
            .assert_values_in("stage", VALID)
            .finalize()
        )

        assert "arrow" == result.engine
        assert [1, 2, 1] == [c.failed_count for c in result]


def pd_types():
    """Map to pandas Arrow dtypes (nullable integers, Arrow strings)."""
    return pd.ArrowDtype


# ---------------------------------------------------------------- properties

_VALUES = st.one_of(st.none(), st.integers(-3, 3))
_TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "Discovery", "Proposal", "zz"]))


@st.composite
def _tables(draw):
    n = draw(st.integers(0, 30))
    ints = draw(st.lists(_VALUES, min_size=n, max_size=n))
    texts = draw(st.lists(_TEXT, min_size=n, max_size=n))
    encode = draw(st.booleans())
    stage = pa.array(texts, pa.string())
    if encode:
        stage = stage.dictionary_encode()
    table = pa.table({"k": pa.array(ints, pa.int64()), "s": stage})
    if n > 2 and draw(st.booleans()):  # several chunks
        cut = draw(st.integers(1, n - 1))
        table = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    return table


def _naive(table):
    """The reference: each check computed on its own in plain Python."""
    k = table.column("k").to_pylist()
    s = [None if v is None else str(v) for v in table.column("s").to_pylist()]
    rows = len(k)
    keys = collections.Counter(v for v in k if v is not None)
    pairs = collections.Counter(
        (a, b) for a, b in zip(k, s, strict=True) if a is not None and b is not None
    )
    return {
        "not_empty": rows >= 1,
        "no_nulls(k)": k.count(None),
        "unique(k)": sum(c for c in keys.values() if c > 1),
        "unique(k, s)": sum(c for c in pairs.values() if c > 1),
        "values_in(s)": sum(1 for v in s if v is not None and v not in VALID),
        "matches(s)": sum(
            1 for v in s if v is not None and not re.fullmatch("[a-z]+", v)
        ),
    }


def _fused(table, order):
    steps = {
        "not_empty": lambda c: c.assert_not_empty(),
        "no_nulls(k)": lambda c: c.assert_no_nulls("k"),
        "unique(k)": lambda c: c.assert_unique("k"),
        "unique(k, s)": lambda c: c.assert_unique("k", "s"),
        "values_in(s)": lambda c: c.assert_values_in("s", VALID),
        "matches(s)": lambda c: c.assert_matches("s", "[a-z]+"),
    }
    checker = check(table)
    for name in order:
        steps[name](checker)
    result = checker.finalize()
    return {
        c.name: (c.status is Status.PASSED if c.kind == "not_empty" else c.failed_count)
        for c in result
    }


class TestFusedPass:
    @settings(max_examples=150, deadline=None)
    @given(
        table=_tables(),
        order=st.permutations(list(_naive(pa.table({"k": [1], "s": ["a"]})))),
    )
    def test_agrees_with_the_naive_reference_in_any_order(self, table, order):
        """The fused pass equals per-check Python, whatever the order of the chain."""
        assert _naive(table) == _fused(table, order)

    @settings(max_examples=60, deadline=None)
    @given(table=_tables())
    def test_fail_fast_agrees_with_collect_all_up_to_the_stop(self, table):
        """Fail-fast gives the same results as collect-all until it stops."""

        def chain(checker):
            return (
                checker.assert_not_empty()
                .assert_unique("k")
                .assert_values_in("s", VALID)
                .assert_no_nulls("k")
            )

        full = chain(check(table)).finalize()
        fast = chain(check(table, fail_fast=True)).finalize()

        for a, b in zip(full, fast, strict=True):
            if b.status is Status.SKIPPED:
                break
            assert (a.status, a.failed_count) == (b.status, b.failed_count)
