"""The eager engine: metrics of an Arrow table, memoised, each computed once.

Checks ask for metrics (row count, null count of a column, duplicates of a key,
invalid values of a column); the engine computes each distinct request once, however
many checks share it, from metadata where Arrow has it and with the kernels of
:mod:`revops_ingest.quality._kernels` otherwise.
"""

from __future__ import annotations

import typing

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest.quality import _kernels
from revops_ingest.quality._inputs import is_narwhals_expr
from revops_ingest.quality._specs import CustomOutcome, MissingColumnError


if typing.TYPE_CHECKING:
    from revops_ingest.quality._kernels import AnyArray, AnyChunked
    from revops_ingest.quality._specs import Spec


__all__ = ["ArrowMetrics"]


def _as_mask(value: object, rows: int) -> AnyArray | None:
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, np.ndarray):
        value = pa.array(value)
    if isinstance(value, pa.Array):
        if not pa.types.is_boolean(value.type):
            msg = f"a custom check returned an array of {value.type}, not booleans"
            raise TypeError(msg)
        if len(value) != rows:
            msg = f"a custom check returned {len(value)} booleans for {rows} rows"
            raise ValueError(msg)
        return value
    return None


class ArrowMetrics:
    """Memoised metrics of one Arrow table (see :class:`~._specs.Metrics`)."""

    def __init__(self, table: pa.Table, *, sample_size: int) -> None:
        self.table = table
        self.sample_size = sample_size
        self._names = table.column_names
        self._memo: dict[tuple[typing.Any, ...], typing.Any] = {}

    def _column(self, name: str) -> AnyChunked:
        if name not in self._names:
            raise MissingColumnError(name, self._names)
        return self.table.column(name)

    def _cached(
        self, key: tuple[typing.Any, ...], compute: typing.Callable[[], typing.Any]
    ) -> typing.Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def rows(self) -> int:
        """Row count: table metadata."""
        return int(self.table.num_rows)

    def nulls(self, column: str) -> int:
        """Null count: Arrow validity metadata, O(chunks)."""
        return int(self._column(column).null_count)

    def null_rows(self, column: str, limit: int) -> tuple[int, ...]:
        """The first *limit* null positions (only asked for on failure)."""
        if limit <= 0:
            return ()
        found: list[int] = []
        base = 0
        for chunk in self._column(column).chunks:
            if chunk.null_count:
                where = pc.indices_nonzero(pc.is_null(chunk))
                found.extend(base + int(i) for i in where.slice(0, limit).to_pylist())
                if len(found) >= limit:
                    break
            base += len(chunk)
        return tuple(found[:limit])

    def duplicates(
        self, columns: tuple[str, ...], *, details: bool
    ) -> _kernels.Duplicates:
        """Duplicates of the key *columns*, hashed once per key and detail level."""
        arrays = [self._column(c) for c in columns]
        cheap = self._memo.get(("dup", columns, False))
        if details and cheap is not None and cheap.rows_in_groups is not None:
            return typing.cast("_kernels.Duplicates", cheap)  # already detailed
        result: _kernels.Duplicates = self._cached(
            ("dup", columns, details),
            lambda: _kernels.duplicates(
                arrays, details=details, samples=self.sample_size
            ),
        )
        return result

    def invalid(self, spec: Spec) -> _kernels.Invalid:
        """Values outside a set (checked on the dictionary first) or a pattern."""
        (name,) = spec.columns
        column = self._column(name)
        if spec.kind == "values_in":
            key: tuple[typing.Any, ...] = ("in", name, spec.values)
            result: _kernels.Invalid = self._cached(
                key,
                lambda: _kernels.invalid_values(
                    column, spec.values, samples=self.sample_size
                ),
            )
            return result
        return typing.cast(
            "_kernels.Invalid",
            self._cached(
                ("re", name, spec.pattern),
                lambda: _kernels.nonmatching(
                    column, spec.pattern, samples=self.sample_size
                ),
            ),
        )

    def custom(self, spec: Spec) -> CustomOutcome:
        """Run a custom check on the table (only the columns it names, if any)."""
        for name in spec.columns:
            self._column(name)
        table = self.table.select(list(spec.columns)) if spec.columns else self.table
        predicate = spec.predicate
        if is_narwhals_expr(predicate):
            import narwhals as nw  # noqa: PLC0415 - only for narwhals expressions

            frame = nw.from_native(self.table, eager_only=True)
            outcome: object = frame.select(
                typing.cast("nw.Expr", predicate).alias("__ok")
            ).to_native()["__ok"]
        elif callable(predicate):
            outcome = predicate(table)
        else:  # pragma: no cover - validated when declared
            msg = "a custom check needs a callable or a narwhals expression"
            raise TypeError(msg)
        if isinstance(outcome, (bool, np.bool_)):
            return CustomOutcome(passed=bool(outcome))
        if isinstance(outcome, (int, np.integer)):
            return CustomOutcome(failed_count=int(outcome))
        mask = _as_mask(outcome, self.table.num_rows)
        if mask is None:
            msg = (
                "a custom check must return a bool, a failed-row count or a boolean "
                f"array, not {type(outcome).__name__}"
            )
            raise TypeError(msg)
        failing = pc.invert(mask.fill_null(_kernels._TRUE))  # noqa: SLF001 - our kernel's constant
        failed = int(pc.sum(failing).as_py() or 0)
        if not failed or not self.sample_size:
            return CustomOutcome(failed_count=failed)
        positions = pc.indices_nonzero(failing).slice(0, self.sample_size)
        samples: tuple[typing.Any, ...] = ()
        if spec.columns:
            picked = table.take(positions).to_pylist()
            samples = tuple(
                row[spec.columns[0]] if len(spec.columns) == 1 else row
                for row in picked
            )
        return CustomOutcome(
            failed_count=failed,
            samples=samples,
            sample_rows=tuple(int(p) for p in positions.to_pylist()),
        )
