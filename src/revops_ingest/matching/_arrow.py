"""Small Arrow helpers shared by the matching modules."""

from __future__ import annotations

import typing

import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest._tables import require_columns
from revops_ingest.exceptions import SchemaError


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    #: An Arrow array of any type (annotations only).
    AnyArray: typing.TypeAlias = pa.Array[typing.Any]


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = [
    "as_table",
    "column_or_null",
    "require_columns",
    "text",
    "unique_ids",
]


def as_table(data: object, *, what: str) -> pa.Table:
    """Turn a table-like object into a ``pyarrow.Table``.

    Args:
        data: A ``pyarrow.Table`` or ``RecordBatch``, or anything that exports the
            Arrow C stream interface (``__arrow_c_stream__``: polars, pandas 3,
            DuckDB relations, ...).
        what: The argument's name, for the error message.

    Returns:
        The data as a ``pyarrow.Table``.

    Raises:
        SchemaError: If *data* is not table-like.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise SchemaError(
        f"{what} must be a pyarrow.Table or expose __arrow_c_stream__, "
        f"not {type(data).__name__}",
        column=None,
    )


def text(table: pa.Table, name: str) -> AnyArray:
    """Return column *name* as one ``large_string`` array (nulls kept).

    Raises:
        SchemaError: If the column cannot be read as text.
    """
    column = table.column(name)
    try:
        cast = pc.cast(column, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise SchemaError(
            f"column {name!r} ({column.type}) cannot be read as text: {error}",
            column=name,
        ) from error
    if isinstance(cast, pa.ChunkedArray):
        return cast.combine_chunks() if cast.num_chunks else pa.array([], cast.type)
    return typing.cast("AnyArray", cast)


def column_or_null(table: pa.Table, names: Sequence[str]) -> AnyArray:
    """Return the first of *names* present in *table* as text, else all nulls."""
    for name in names:
        if name in table.column_names:
            return text(table, name)
    return pa.nulls(table.num_rows, pa.large_string())


def unique_ids(table: pa.Table, column: str, *, what: str) -> AnyArray:
    """Return *column* as text after checking it has no nulls and no repeats.

    Raises:
        SchemaError: If an id is null or appears twice.
    """
    ids = text(table, column)
    if ids.null_count:
        raise SchemaError(
            f"{what}.{column} has {ids.null_count} null ids", column=column
        )
    counts = pc.value_counts(ids)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        sample = sorted(repeated.field("values").to_pylist())[:5]
        raise SchemaError(
            f"{what}.{column} repeats {len(repeated)} ids, such as {sample}; "
            "each account must appear once per side",
            column=column,
        )
    return ids
