"""The lazy engine: every metric of a lazy frame in one aggregate query, via narwhals.

A polars LazyFrame, a DuckDB relation or a PySpark DataFrame is checked where it
lives: all checks' metrics become aggregate expressions of **one** ``select``
(one Spark job), and only a one-row answer comes back. Failing checks then ask one
small query each for their samples (and a compound or duplicated key for its exact
group figures). narwhals is imported here only, so eager users never pay for it.
"""

from __future__ import annotations

import decimal
import typing

import narwhals as nw

from revops_ingest.quality._inputs import is_narwhals_expr
from revops_ingest.quality._kernels import Duplicates, Invalid
from revops_ingest.quality._specs import CustomOutcome, MissingColumnError


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    from revops_ingest.quality._specs import Spec


__all__ = ["NarwhalsMetrics"]


def _number(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float, decimal.Decimal)):
        return int(value)
    return int(str(value))


def _key(columns: Sequence[str]) -> nw.Expr:
    """One string per row that is injective in the key, null if any part is null."""
    if len(columns) == 1:
        return nw.col(columns[0])
    parts: list[nw.Expr] = []
    for i, name in enumerate(columns):
        text = nw.col(name).cast(nw.String())
        if i:
            parts.append(nw.lit("|"))
        parts.extend([text.str.len_chars().cast(nw.String()), nw.lit(":"), text])
    return nw.concat_str(parts)


def _not_null(columns: Sequence[str]) -> nw.Expr:
    expr = ~nw.col(columns[0]).is_null()
    for name in columns[1:]:
        expr = expr & ~nw.col(name).is_null()
    return expr


class NarwhalsMetrics:
    """Metrics of a lazy frame, all computed by one aggregate query up front."""

    def __init__(
        self, native: object, specs: Sequence[Spec], *, sample_size: int
    ) -> None:
        self.frame: nw.LazyFrame[typing.Any] = nw.from_native(
            typing.cast("typing.Any", native)
        ).lazy()
        self.sample_size = sample_size
        self.names = list(self.frame.collect_schema().names())
        self.backend = str(self.frame.implementation).split(".")[-1].lower()
        self._memo: dict[tuple[typing.Any, ...], typing.Any] = {}
        self._errors: dict[str, Exception] = {}
        self._aggregates = self._prefetch(specs)

    # -- the one query

    def _prefetch(self, specs: Sequence[Spec]) -> dict[str, int]:
        exprs: dict[str, nw.Expr] = {"__rows": nw.len().alias("__rows")}
        for spec in specs:
            if any(c not in self.names for c in spec.columns):
                continue
            for alias, expr in self._requests(spec):
                exprs.setdefault(alias, expr.alias(alias))
        try:
            row = self.frame.select(list(exprs.values())).collect().rows(named=True)[0]
        except Exception:  # noqa: BLE001 - find the culprit below, one by one
            return self._one_by_one(exprs)
        return {alias: _number(value) for alias, value in row.items()}

    def _one_by_one(self, exprs: dict[str, nw.Expr]) -> dict[str, int]:
        """The fallback when the one query fails: each aggregate on its own.

        The aggregates that fail make their checks ``ERROR`` results; the row count
        failing means the frame cannot be read at all, and that is raised.
        """
        values: dict[str, int] = {}
        for alias, expr in exprs.items():
            try:
                row = self.frame.select(expr).collect().rows()[0]
            except Exception as exc:
                if alias == "__rows":
                    raise
                self._errors[alias] = exc
                continue
            values[alias] = _number(row[0])
        return values

    def _get(self, alias: str) -> int:
        error = self._errors.get(alias)
        if error is not None:
            raise error
        return self._aggregates[alias]

    def _requests(self, spec: Spec) -> list[tuple[str, nw.Expr]]:
        cols = spec.columns
        kind = spec.kind
        if kind in {"no_nulls", "null_fraction_below"}:
            return [(f"nulls:{cols[0]}", nw.col(cols[0]).null_count())]
        if kind == "unique":
            key = _key(cols)
            tag = "\x1f".join(cols)
            return [
                (f"distinct:{tag}", key.n_unique()),
                (f"keyed:{tag}", key.count()),
            ]
        if kind in {"values_in", "matches"}:
            return [(self._invalid_alias(spec), self._bad(spec).cast(nw.Int64()).sum())]
        if kind == "custom" and is_narwhals_expr(spec.predicate):
            ok = typing.cast("nw.Expr", spec.predicate)
            failing = ~ok.fill_null(value=True)
            return [(f"custom:{spec.name}", failing.cast(nw.Int64()).sum())]
        return []

    @staticmethod
    def _invalid_alias(spec: Spec) -> str:
        return f"{spec.kind}:{spec.columns[0]}:{spec.name}"

    @staticmethod
    def _bad(spec: Spec) -> nw.Expr:
        column = nw.col(spec.columns[0])
        if spec.kind == "values_in":
            accepted = [v for v in spec.values if v is not None]
            good = column.is_in(accepted)
        else:
            good = column.str.contains(f"^(?:{spec.pattern})$")
        return ~column.is_null() & ~good

    def _need(self, column: str) -> None:
        if column not in self.names:
            raise MissingColumnError(column, self.names)

    # -- the Metrics protocol

    def rows(self) -> int:
        """Row count (from the aggregate query)."""
        return self._get("__rows")

    def nulls(self, column: str) -> int:
        """Null count (from the aggregate query)."""
        self._need(column)
        return self._get(f"nulls:{column}")

    def null_rows(self, column: str, limit: int) -> tuple[int, ...]:  # noqa: ARG002
        """Lazy frames have no row positions: none."""
        return ()

    def duplicates(self, columns: tuple[str, ...], *, details: bool) -> Duplicates:
        """Duplicates from ``n_unique`` and ``count`` of the key; details on demand."""
        for column in columns:
            self._need(column)
        tag = "\x1f".join(columns)
        keyed = self._get(f"keyed:{tag}")
        distinct = self._get(f"distinct:{tag}")
        if keyed < self.rows():  # n_unique counts the null key as one value
            distinct -= 1
        extra = keyed - distinct
        if not details or extra == 0:
            return Duplicates(
                extra, 0 if extra == 0 else None, 0 if extra == 0 else None
            )
        memo_key = ("dup", columns)
        if memo_key not in self._memo:
            groups = (
                self.frame.filter(_not_null(columns))
                .group_by(list(columns))
                .agg(nw.len().alias("__n"))
                .filter(nw.col("__n") > 1)
            )
            figures = (
                groups.select(
                    nw.col("__n").sum().alias("rows"), nw.len().alias("groups")
                )
                .collect()
                .rows(named=True)[0]
            )
            shown = (
                groups.select(list(columns)).head(self.sample_size).collect().rows()
                if self.sample_size
                else []
            )
            samples = tuple(
                row[0] if len(columns) == 1 else tuple(row) for row in shown
            )
            self._memo[memo_key] = Duplicates(
                extra,
                _number(figures["rows"]),
                _number(figures["groups"]),
                tuple(sorted(samples, key=repr)),
            )
        result: Duplicates = self._memo[memo_key]
        return result

    def invalid(self, spec: Spec) -> Invalid:
        """Invalid count from the aggregate; distinct samples by one more query."""
        self._need(spec.columns[0])
        count = self._get(self._invalid_alias(spec))
        if not count or not self.sample_size:
            return Invalid(count)
        column = spec.columns[0]
        shown = (
            self.frame.filter(self._bad(spec))
            .select(nw.col(column))
            .unique()
            .head(self.sample_size)
            .collect()
            .rows()
        )
        return Invalid(count, tuple(sorted((row[0] for row in shown), key=repr)))

    def custom(self, spec: Spec) -> CustomOutcome:
        """A narwhals-expression check: its failing rows, counted in the one query."""
        if not is_narwhals_expr(spec.predicate):
            msg = (
                "a custom check on a lazy frame must be a narwhals expression "
                "(a Python callable would need the data collected)"
            )
            raise TypeError(msg)
        for column in spec.columns:
            self._need(column)
        failed = self._get(f"custom:{spec.name}")
        if not failed or not spec.columns or not self.sample_size:
            return CustomOutcome(failed_count=failed)
        ok = typing.cast("nw.Expr", spec.predicate)
        shown = (
            self.frame.filter(~ok.fill_null(value=True))
            .select(list(spec.columns))
            .head(self.sample_size)
            .collect()
            .rows(named=True)
        )
        samples = tuple(
            row[spec.columns[0]] if len(spec.columns) == 1 else row for row in shown
        )
        return CustomOutcome(failed_count=failed, samples=samples)
