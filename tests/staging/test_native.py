"""The engine-specific parsers agree with each other on every spelling."""

from __future__ import annotations

import datetime as dt

import duckdb
import narwhals as nw
import polars as pl
import pyarrow as pa
import pytest

from revops_ingest.staging._native import PATTERNS, Op, add_columns, engine_of


TEXT = [
    "2024-05-01T12:34:56.000+0000",
    "2024-05-01T12:34:56Z",
    "2024-05-01T12:34:56.500-01:30",
    "2024-02-30T00:00:00Z",
    "2024-05-01",
    "1.5",
    "-2e3",
    "12",
    "99999999999999999999",
    "1.5d",
    "NaN",
    " 1",
    None,
]


def _run(kind: str, make, spark=None):
    table = pa.table(
        {
            "s": pa.array(TEXT, pa.string()),
            "d": pa.array([dt.date(2024, 5, 1)] * len(TEXT)),
        }
    )
    frame = nw.from_native(make(table))
    valid = nw.col("s").str.contains(PATTERNS[kind])
    out = add_columns(
        frame, {"p": Op("parse", ("s",), kind), "m": Op("midnight_utc", ("d",))}
    )
    out = out.select(nw.when(valid).then(nw.col("p")).alias("p"), nw.col("m"))
    native = out.to_native()
    if hasattr(native, "toArrow"):
        arrow = native.toArrow()
    elif hasattr(native, "collect"):
        arrow = native.collect().to_arrow()
    else:
        arrow = native.to_arrow_table()
    values = arrow.column("p").to_pylist()
    return [
        v.astimezone(dt.timezone.utc) if isinstance(v, dt.datetime) else v
        for v in values
    ], arrow.column("m").to_pylist()[0]


ENGINES = {
    "duckdb": lambda t: duckdb.connect().from_arrow(t),
    "polars": lambda t: pl.from_arrow(t).lazy(),
}
EXPECTED = {
    "timestamp": [
        dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 5, 1, 12, 34, 56, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 5, 1, 14, 4, 56, 500_000, tzinfo=dt.timezone.utc),
        *[None] * 10,
    ],
    "date": [None] * 4 + [dt.date(2024, 5, 1)] + [None] * 8,
    "float": [None] * 5 + [1.5, -2000.0, 12.0, 1e20] + [None] * 4,
    "int": [None] * 7 + [12] + [None] * 5,
}


class TestParsers:
    @pytest.mark.parametrize("engine", sorted(ENGINES))
    @pytest.mark.parametrize("kind", sorted(EXPECTED))
    def test_parse(self, engine, kind):
        """Each engine accepts exactly the documented spellings, nulls the rest."""
        values, midnight = _run(kind, ENGINES[engine])

        assert EXPECTED[kind] == values
        assert dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc) == midnight

    @pytest.mark.spark
    @pytest.mark.parametrize("kind", sorted(EXPECTED))
    def test_parse_spark(self, kind, spark):
        """Spark's parsers agree with DuckDB's and polars'."""
        values, midnight = _run(kind, spark.createDataFrame, spark)

        assert EXPECTED[kind] == values
        assert dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc) == midnight.astimezone(
            dt.timezone.utc
        )

    def test_unsupported_engine(self):
        """Narwhals backends staging does not run on are refused."""
        with pytest.raises(TypeError, match="staging runs on"):
            engine_of(nw.from_native(pa.table({"a": [1]})).lazy())
