"""Accepting any frame, and handing back the caller's type.

Lazy frames (PySpark ``DataFrame``, polars ``LazyFrame``, DuckDB relation) are
staged where they are: the result is a lazy frame of the same library, and nothing
is collected. Eager input (a ``pyarrow.Table``, ``RecordBatch`` or
``RecordBatchReader``, pandas or polars ``DataFrame``, or anything exporting the
Arrow C stream) is handed to a private in-memory DuckDB connection as Arrow,
without copying; the staged result comes back as Arrow and is converted to the
caller's type. narwhals' own pyarrow and pandas backends are never used: their
window operations give wrong answers on large input (see ``docs/staging.md``).
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
import threading
import typing

import attrs
import narwhals as nw
import narwhals.dependencies as nwdeps
import pyarrow as pa


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Sequence


__all__ = ["Routed", "route"]


@attrs.define
class Routed:
    """Input frames as narwhals LazyFrames, and how to give results back.

    Attributes:
        frames: One lazy frame per input, all on the same engine.
        arrow: For eager input, the input tables as Arrow (``None`` when lazy).
        back: For eager input, converts an Arrow result to the caller's type.
    """

    frames: list[nw.LazyFrame[typing.Any]]
    arrow: list[pa.Table] | None
    back: Callable[[pa.Table], typing.Any] | None
    _connection: typing.Any = None

    @property
    def eager(self) -> bool:
        """Whether the input was eager (and so is staged through DuckDB)."""
        return self.arrow is not None

    def close(self) -> None:
        """Close the private DuckDB connection, if any."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _is_lazy(obj: object) -> bool:
    return bool(
        nwdeps.is_pyspark_dataframe(obj)
        or nwdeps.is_pyspark_connect_dataframe(obj)
        or nwdeps.is_polars_lazyframe(obj)
        or nwdeps.is_duckdb_relation(obj)
    )


def _to_arrow(obj: object) -> tuple[pa.Table, Callable[[pa.Table], typing.Any]]:
    """Return *obj* as an Arrow table, and the way back to its type."""
    if isinstance(obj, pa.Table):
        return obj, _identity
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj]), _to_batch
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all(), _to_reader
    if nwdeps.is_pandas_dataframe(obj):
        return pa.Table.from_pandas(obj, preserve_index=False), _to_pandas
    if nwdeps.is_polars_dataframe(obj):
        return obj.to_arrow(), _to_polars
    if hasattr(obj, "__arrow_c_stream__"):
        return pa.table(obj), _identity
    msg = (
        "staging takes a pyarrow Table, RecordBatch or RecordBatchReader, a pandas "
        "or polars DataFrame, a polars LazyFrame, a DuckDB relation, a PySpark "
        "DataFrame, or anything exporting the Arrow C stream; got "
        f"{type(obj).__module__}.{type(obj).__qualname__}"
    )
    raise TypeError(msg)


def _identity(table: pa.Table) -> pa.Table:
    return table


def _to_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_arrays(
        [pa.array([], type=field.type) for field in table.schema],
        schema=table.schema,
    )


def _to_reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def _to_pandas(table: pa.Table) -> typing.Any:
    pd = importlib.import_module("pandas")  # loaded already: the input was pandas
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _to_polars(table: pa.Table) -> typing.Any:
    pl = importlib.import_module("polars")  # loaded already: the input was polars
    return pl.from_arrow(table)


def route(inputs: Sequence[object]) -> Routed:
    """Turn the inputs of one staging call into lazy frames on one engine.

    Raises:
        TypeError: An input is not a frame staging accepts, or lazy and eager
            inputs (or lazy inputs of different libraries) are mixed.
    """
    lazy = [_is_lazy(obj) for obj in inputs]
    if all(lazy):
        frames = [nw.from_native(obj) for obj in inputs]
        kinds = {frame.implementation for frame in frames}
        if len(kinds) > 1:
            names = ", ".join(sorted(map(str, kinds)))
            msg = f"stage inputs from one library at a time, got {names}"
            raise TypeError(msg)
        return Routed(frames=frames, arrow=None, back=None)
    if any(lazy):
        msg = "stage lazy frames with lazy frames and eager tables with eager tables"
        raise TypeError(msg)
    converted = [_to_arrow(obj) for obj in inputs]
    tables = [table for table, _ in converted]
    connection = _connect()
    frames = [nw.from_native(connection.from_arrow(table)) for table in tables]
    return Routed(
        frames=frames, arrow=tables, back=converted[0][1], connection=connection
    )


_DATABASE: dict[int, typing.Any] = {}
_LOCK = threading.Lock()


def _database() -> typing.Any:
    """This process's private in-memory DuckDB database, created on first use.

    It spills to a temporary folder (removed at exit) and keeps no row order,
    which lets DuckDB use less memory. Created per process, so a fork gets its own.
    """
    pid = os.getpid()
    with _LOCK:
        database = _DATABASE.get(pid)
        if database is None:
            import duckdb  # noqa: PLC0415 - a runtime dependency, loaded when used

            spill = tempfile.mkdtemp(prefix="revops-staging-")
            atexit.register(shutil.rmtree, spill, ignore_errors=True)
            database = duckdb.connect(
                config={"temp_directory": spill, "preserve_insertion_order": False}
            )
            _DATABASE.clear()
            _DATABASE[pid] = database
    return database


def _connect() -> typing.Any:
    """A new connection (cursor) to the private database, in UTC."""
    connection = _database().cursor()
    # ICU (built into the wheel) loads on first use, so set the zone per cursor.
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def collect_arrow(frame: nw.LazyFrame[typing.Any]) -> pa.Table:
    """Run a DuckDB-backed lazy frame into one Arrow table."""
    native = frame.to_native()
    # duckdb >= 1.4 has to_arrow_table; before, fetch_arrow_table did the same.
    fetch = getattr(native, "to_arrow_table", None) or native.fetch_arrow_table
    table = fetch()
    assert isinstance(table, pa.Table)
    return table
