"""What ``check()`` accepts: eager Arrow producers and lazy frames, told apart."""

from __future__ import annotations

import pyarrow as pa


__all__ = ["is_narwhals_expr", "lazy_backend", "to_table"]

_LAZY_MODULES = ("polars", "duckdb", "pyspark", "sqlframe", "ibis", "dask")


def lazy_backend(data: object) -> str | None:
    """Name the lazy engine of *data* (``"polars"``, ``"duckdb"``, ...), or ``None``.

    Decided from the type's module, without importing anything.
    """
    cls = type(data)
    module = cls.__module__
    name = cls.__name__
    if module.startswith("narwhals") and name == "LazyFrame":
        return "narwhals"
    root = module.split(".")[0]
    if root == "polars":
        return "polars" if name == "LazyFrame" else None
    if root == "duckdb":
        return "duckdb" if "Relation" in name else None
    if root in _LAZY_MODULES:
        return root
    return None


def to_table(data: object) -> pa.Table:
    """Return *data* as an Arrow table, zero-copy where the producer allows.

    Accepts a ``pyarrow`` Table, RecordBatch or RecordBatchReader and anything
    exporting the Arrow C stream (pandas, polars, DuckDB results, ...).

    Raises:
        TypeError: *data* is none of these.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data).read_all()
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    msg = (
        "check() takes a pyarrow Table or RecordBatch, anything exporting the Arrow "
        "C stream (pandas, polars, DuckDB) or a lazy frame (polars LazyFrame, DuckDB "
        f"relation, PySpark DataFrame), not {type(data).__name__}"
    )
    raise TypeError(msg)


def is_narwhals_expr(value: object) -> bool:
    """Whether *value* is a narwhals expression (without importing narwhals)."""
    return type(value).__module__.startswith("narwhals") and type(
        value
    ).__name__.endswith("Expr")
