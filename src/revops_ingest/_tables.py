"""Small checks on Arrow tables that every pure-function package shares."""

from __future__ import annotations

import typing

from revops_ingest.exceptions import SchemaError


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa


__all__ = ["require_columns"]


def require_columns(table: pa.Table, columns: Sequence[str], *, what: str) -> None:
    """Raise :class:`SchemaError` naming the first of *columns* missing from *table*.

    Raises:
        SchemaError: If a column is missing.
    """
    for name in columns:
        if name not in table.column_names:
            raise SchemaError(
                f"{what} has no column {name!r} (it has {table.column_names})",
                column=name,
            )
