"""The few steps narwhals cannot express portably, written once per engine.

narwhals' own parsers (``str.to_date``, ``str.to_datetime``, ``cast``) raise on a
value that does not parse, on every backend, and none of them reads Salesforce's
``2024-05-01T12:34:56.000+0000`` everywhere. Staging must turn such a value into a
null and count it instead. So the *try*-parsers, the row hash used to break ties
and "a date at midnight UTC" are written here for the three engines staging runs
on: DuckDB (also for every eager input), polars (lazy) and Spark. Each op adds a
column to the frame; everything else stays in narwhals.

Before a string reaches a parser, staging checks it against a strict pattern with
narwhals' ``str.contains`` (:data:`PATTERNS`), so that all engines accept exactly
the same spellings (Spark would take ``"1.5d"``, polars ``"NaN"``, ...).
"""

from __future__ import annotations

import importlib
import types
import typing

import attrs
import narwhals as nw


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest.staging._schemas import Kind


__all__ = ["PATTERNS", "Engine", "Op", "add_columns", "engine_of"]

Engine = typing.Literal["duckdb", "polars", "spark"]

OpName = typing.Literal["parse", "cast", "null", "midnight_utc", "row_hash"]

PATTERNS: Mapping[Kind, str] = types.MappingProxyType(
    {
        "float": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
        "int": r"^[+-]?[0-9]+$",
        "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "timestamp": (
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
            r"(\.[0-9]{3})?(Z|[+-][0-9]{2}:?[0-9]{2})$"
        ),
    }
)
"""The spellings a string must have to be parsed as a number, date or timestamp.

Timestamps are ISO 8601 with seconds, optional milliseconds and a zone: Salesforce's
``2024-05-01T12:34:56.000+0000``, ``...Z`` or ``...+00:00``.
"""


@attrs.frozen
class Op:
    """One engine-specific column: ``op`` applied to ``columns``.

    * ``parse``: a string column, already checked against :data:`PATTERNS`, to
      ``kind``; null where it does not parse (February 30th, an overflow).
    * ``cast``: any column to ``kind``; null where the cast fails.
    * ``midnight_utc``: a date column to the timestamp of its midnight in UTC.
    * ``null``: a column of nulls of ``kind`` (no input columns).
    * ``row_hash``: a 64-bit hash of the columns (order matters), to break ties.
    """

    op: OpName
    columns: tuple[str, ...]
    kind: Kind | None = None


def engine_of(frame: nw.LazyFrame[typing.Any]) -> Engine:
    """Return the engine a narwhals LazyFrame runs on.

    Raises:
        TypeError: An engine staging does not support.
    """
    impl = frame.implementation
    if impl is nw.Implementation.DUCKDB:
        return "duckdb"
    if impl is nw.Implementation.POLARS:
        return "polars"
    if impl in {nw.Implementation.PYSPARK, nw.Implementation.PYSPARK_CONNECT}:
        return "spark"
    msg = (
        f"staging runs on DuckDB, polars and PySpark frames (and eager tables); "
        f"got a {impl} frame"
    )
    raise TypeError(msg)


def add_columns(
    frame: nw.LazyFrame[typing.Any], ops: Mapping[str, Op]
) -> nw.LazyFrame[typing.Any]:
    """Return *frame* with one new column per item of *ops* (name -> op)."""
    if not ops:
        return frame
    engine = engine_of(frame)
    native = frame.to_native()
    if engine == "duckdb":
        native = _duckdb_add(native, ops, frame)
    elif engine == "polars":
        native = _polars_add(native, ops, frame)
    else:
        native = _spark_add(native, ops)
    result: nw.LazyFrame[typing.Any] = nw.from_native(native)
    return result


# ------------------------------------------------------------------ SQL engines


def _quote_duckdb(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_spark(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


_DUCKDB_TYPES: Mapping[Kind, str] = {
    "string": "VARCHAR",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
_SPARK_TYPES: Mapping[Kind, str] = {
    "string": "STRING",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _duckdb_sql(op: Op) -> str:
    cols = [_quote_duckdb(c) for c in op.columns]
    if op.op == "row_hash":
        return f"hash({', '.join(cols)})"
    if op.op == "null":
        assert op.kind is not None
        return f"CAST(NULL AS {_DUCKDB_TYPES[op.kind]})"
    (col,) = cols
    if op.op == "midnight_utc":
        return f"to_timestamp(epoch({col}))"
    assert op.kind is not None
    if op.op == "parse" and op.kind == "date":
        return f"CAST(try_strptime({col}, '%Y-%m-%d') AS DATE)"
    if op.op == "parse" and op.kind == "timestamp":
        # With %z DuckDB rolls 2024-02-30 over into March: check the date first.
        return (
            f"CASE WHEN try_strptime(left({col}, 10), '%Y-%m-%d') IS NOT NULL "
            f"THEN try_strptime(regexp_replace({col}, 'Z$', '+0000'), "
            "['%Y-%m-%dT%H:%M:%S.%g%z', '%Y-%m-%dT%H:%M:%S%z']) END"
        )
    return f"TRY_CAST({col} AS {_DUCKDB_TYPES[op.kind]})"


def _duckdb_add(
    native: typing.Any, ops: Mapping[str, Op], frame: nw.LazyFrame[typing.Any]
) -> typing.Any:
    import duckdb  # noqa: PLC0415 - loaded already: the frame is a DuckDB relation

    exprs = [
        duckdb.SQLExpression(_duckdb_sql(op)).alias(name) for name, op in ops.items()
    ]
    keep = [duckdb.SQLExpression(_quote_duckdb(c)) for c in frame.columns]
    return native.select(*keep, *exprs)


_SPARK_TS_FORMATS = (
    "yyyy-MM-dd'T'HH:mm:ss.SSSXX",
    "yyyy-MM-dd'T'HH:mm:ssXX",
    "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "yyyy-MM-dd'T'HH:mm:ssXXX",
)


def _spark_sql(op: Op) -> str:
    cols = [_quote_spark(c) for c in op.columns]
    if op.op == "row_hash":
        return f"xxhash64({', '.join(cols)})"
    if op.op == "null":
        assert op.kind is not None
        return f"CAST(NULL AS {_SPARK_TYPES[op.kind]})"
    (col,) = cols
    if op.op == "midnight_utc":
        return f"timestamp_seconds(CAST(unix_date({col}) AS BIGINT) * 86400)"
    assert op.kind is not None
    if op.op == "parse" and op.kind == "date":
        return f"try_to_date({col}, 'yyyy-MM-dd')"
    if op.op == "parse" and op.kind == "timestamp":
        tries = ", ".join(f'try_to_timestamp({col}, "{f}")' for f in _SPARK_TS_FORMATS)
        return f"coalesce({tries})"
    return f"try_cast({col} AS {_SPARK_TYPES[op.kind]})"


def _spark_add(native: typing.Any, ops: Mapping[str, Op]) -> typing.Any:
    # Loaded already: the frame is a Spark DataFrame.
    functions = importlib.import_module("pyspark.sql.functions")
    return native.withColumns(
        {name: functions.expr(_spark_sql(op)) for name, op in ops.items()}
    )


# ------------------------------------------------------------------ polars


def _polars_add(
    native: typing.Any, ops: Mapping[str, Op], frame: nw.LazyFrame[typing.Any]
) -> typing.Any:
    pl = importlib.import_module("polars")  # loaded already: the frame is polars
    schema = frame.collect_schema()
    exprs = [_polars_expr(pl, op, schema).alias(name) for name, op in ops.items()]
    return native.with_columns(exprs)


def _polars_expr(pl: typing.Any, op: Op, schema: nw.Schema) -> typing.Any:
    if op.op == "row_hash":
        return pl.struct(list(op.columns)).hash(seed=0)
    if op.op == "null":
        assert op.kind is not None
        return pl.lit(None, dtype=_polars_type(pl, op.kind))
    (name,) = op.columns
    col = pl.col(name)
    if op.op == "midnight_utc":
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    assert op.kind is not None
    if op.op == "parse":
        return _polars_parse(pl, col, op.kind)
    if op.kind == "timestamp":
        return _polars_to_utc(pl, col, schema[name])
    return col.cast(_polars_type(pl, op.kind), strict=False)


def _polars_parse(pl: typing.Any, col: typing.Any, kind: Kind) -> typing.Any:
    if kind == "date":
        return col.str.to_date("%Y-%m-%d", strict=False)
    if kind == "timestamp":
        return col.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", strict=False
        ).dt.cast_time_unit("us")
    return col.cast(_polars_type(pl, kind), strict=False)


def _polars_type(pl: typing.Any, kind: Kind) -> typing.Any:
    return {
        "string": pl.String,
        "float": pl.Float64,
        "int": pl.Int64,
        "bool": pl.Boolean,
        "date": pl.Date,
        "timestamp": pl.Datetime("us", "UTC"),
    }[kind]


def _polars_to_utc(pl: typing.Any, col: typing.Any, dtype: typing.Any) -> typing.Any:
    if isinstance(dtype, nw.Datetime):
        col = col.dt.cast_time_unit("us")
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC")
        return col.dt.convert_time_zone("UTC")
    if dtype == nw.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return col.cast(pl.Datetime("us", "UTC"), strict=False)


def kinds_match(dtype: typing.Any, kind: Kind) -> bool:
    """Whether a narwhals dtype already is the canonical *kind* (no conversion)."""
    checks: Mapping[Kind, Sequence[typing.Any]] = {
        "string": (nw.String,),
        "float": (nw.Float64,),
        "int": (nw.Int64,),
        "bool": (nw.Boolean,),
        "date": (nw.Date,),
    }
    if kind == "timestamp":
        return isinstance(dtype, nw.Datetime) and dtype.time_zone is not None
    return any(dtype == candidate for candidate in checks[kind])


def is_string(dtype: typing.Any) -> bool:
    """Whether a narwhals dtype holds text (strings or categoricals)."""
    return any(dtype == text for text in (nw.String, nw.Categorical, nw.Enum))
