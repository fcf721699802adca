"""Lazy frames are checked in their engine by one aggregate query (narwhals)."""

from __future__ import annotations

import duckdb
import narwhals as nw
import polars as pl
import pyarrow as pa
import pytest

from revops_ingest.quality import Status, check


VALID = ["Discovery", "Proposal"]


def _table():
    return pa.table(
        {
            "id": pa.array([1, 2, 2, None, 5, 6], pa.int64()),
            "account": ["a", None, "c", "d", "e", "e"],
            "stage": ["Discovery", "Bogus", "Proposal", None, "Unknown", "Proposal"],
            "amount": [1.0, -2.0, 3.0, None, 5.0, 6.0],
        }
    )


def _chain(data):
    return (
        check(data)
        .assert_not_empty()
        .assert_no_nulls("id", "account")
        .assert_unique("id")
        .assert_unique("id", "account")
        .assert_values_in("stage", VALID)
        .assert_matches("account", "[a-d]")
        .assert_null_fraction_below("account", 0.1)
        .assert_row_count_between(1, 10)
        .assert_custom("positive", nw.col("amount") >= 0, columns=["amount"])
        .finalize()
    )


def _figures(result):
    return [(c.name, c.status, c.failed_count, tuple(c.samples)) for c in result]


LAZY = {
    "polars": lambda t: pl.from_arrow(t).lazy(),
    "duckdb": duckdb.from_arrow,
}


class TestLazy:
    @pytest.mark.parametrize("backend", sorted(LAZY))
    def test_agrees_with_the_eager_engine(self, backend):
        """Every check gives the same status, count and samples as on Arrow."""
        eager = _chain(_table())
        lazy = _chain(LAZY[backend](_table()))

        assert f"narwhals:{backend}" == lazy.engine
        assert _figures(eager) == _figures(lazy)

    def test_the_lazy_frame_stays_lazy(self):
        """A polars LazyFrame is aggregated, not collected: the plan runs once."""
        calls = []

        def spy(frame):
            calls.append(len(frame))
            return frame

        lazy = pl.from_arrow(_table()).lazy().map_batches(spy)

        result = check(lazy).assert_not_empty().assert_no_nulls("id").finalize()

        assert 6 == result.row_count
        assert 1 == len(calls)

    def test_arrow_callables_need_eager_input(self):
        """A Python callable on a lazy frame is an ERROR, not a silent collect."""
        result = (
            check(pl.from_arrow(_table()).lazy())
            .assert_custom("py", lambda t: True)
            .finalize()
        )

        assert Status.ERROR == result.checks[0].status
        assert "narwhals expression" in result.checks[0].message

    def test_a_failing_aggregate_errors_only_its_check(self):
        """If one aggregate breaks the query, that check is an ERROR, the rest run."""
        result = (
            check(duckdb.from_arrow(_table()))
            .assert_matches("id", "[0-9]+")  # a pattern on an integer column
            .assert_no_nulls("account")
            .finalize()
        )

        assert [Status.ERROR, Status.FAILED] == [c.status for c in result]

    def test_missing_columns_are_errors(self):
        """A missing column is an ERROR on the lazy path too."""
        result = check(duckdb.from_arrow(_table())).assert_unique("nope").finalize()

        assert Status.ERROR == result.checks[0].status

    @pytest.mark.spark
    @pytest.mark.filterwarnings("ignore::FutureWarning")
    @pytest.mark.filterwarnings("ignore::DeprecationWarning")
    def test_spark_agrees_with_the_eager_engine(self, spark):
        """A PySpark DataFrame is checked in Spark with the same results."""
        frame = spark.createDataFrame(_table().to_pandas())

        lazy = _chain(frame)

        assert "narwhals:pyspark" == lazy.engine
        assert _figures(_chain(_table())) == _figures(lazy)
