"""What a staging function returns: the staged table and a report of what it did."""

from __future__ import annotations

import types
import typing

import attrs


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping


__all__ = ["StagingReport", "StagingResult"]

T = typing.TypeVar("T")


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class StagingReport:
    """What staging one table did, so that nothing is dropped or nulled silently.

    The counts add up: ``rows_in == rows_out + superseded + missing_id + deleted``
    when deleted records are dropped, and ``rows_in == rows_out + superseded +
    missing_id`` when they are kept (``deleted_kept``).

    Attributes:
        table: The staging table, such as ``"opportunities"``.
        schema_version: The version of its canonical schema.
        source_system: Where the rows came from, such as ``"Salesforce"``.
        source_objects: The source objects read, such as ``("Task", "Event")``.
        rows_in: Raw rows read (every version of every record).
        rows_out: Rows in the staged table.
        superseded: Older versions replaced by a newer version of the same record.
        deleted: Records whose latest version is deleted (soft delete or
            tombstone).
        deleted_kept: Whether those records were kept (and flagged in
            ``is_deleted``) rather than dropped.
        missing_id: Raw rows without an id; they cannot be staged and are dropped.
        invalid_values: Per column, values that could not be converted to the
            column's type (a date that is not a date, an amount that is not a
            number) and became nulls; counted over the rows staged.
        unmapped_stages: Per source stage that the stage map does not cover, the
            number of staged rows with it; their ``stage_name`` is null.
        missing_columns: Optional source columns that were absent, so their
            staging columns are all null.
        ignored_columns: Source columns that are neither standard nor mapped.
    """

    table: str
    schema_version: int
    source_system: str
    source_objects: tuple[str, ...]
    rows_in: int
    rows_out: int
    superseded: int
    deleted: int
    deleted_kept: bool
    missing_id: int
    invalid_values: Mapping[str, int] = attrs.field(
        factory=dict, converter=_frozen_counts
    )
    unmapped_stages: Mapping[str, int] = attrs.field(
        factory=dict, converter=_frozen_counts
    )
    missing_columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()

    @property
    def dropped(self) -> int:
        """Raw rows that did not become a staged row."""
        return self.rows_in - self.rows_out

    @property
    def invalid_value_count(self) -> int:
        """Values nulled because they could not be converted, over all columns."""
        return sum(self.invalid_values.values())

    @property
    def unmapped_stage_rows(self) -> int:
        """Staged rows whose source stage the stage map does not cover."""
        return sum(self.unmapped_stages.values())

    @property
    def clean(self) -> bool:
        """No invalid values, no unmapped stages and no missing ids."""
        return not (self.invalid_values or self.unmapped_stages or self.missing_id)


class StagingResult(typing.Generic[T]):
    """A staged table and its :class:`StagingReport`.

    ``table`` has the type of the input: a ``pyarrow.Table`` for a table, a pandas
    or polars frame for those, and a lazy frame (PySpark ``DataFrame``, polars
    ``LazyFrame``, DuckDB relation) for a lazy input, not yet computed. For eager
    input the report is computed with the table. For lazy input it is computed on
    first access, by its own queries (three aggregations, nothing collected but
    counts), so a Spark job that does not look at it pays nothing for it.
    """

    __slots__ = ("_make_report", "_report", "table")

    def __init__(
        self,
        table: T,
        report: StagingReport | Callable[[], StagingReport],
    ) -> None:
        self.table = table
        self._report: StagingReport | None = None
        self._make_report: Callable[[], StagingReport] | None = None
        if isinstance(report, StagingReport):
            self._report = report
        else:
            self._make_report = report

    def __repr__(self) -> str:
        kind = type(self.table).__name__
        report = "pending" if self._report is None else repr(self._report)
        return f"StagingResult(table=<{kind}>, report={report})"

    @property
    def report(self) -> StagingReport:
        """The report; for lazy input computed (once) on first access."""
        if self._report is None:
            assert self._make_report is not None
            self._report = self._make_report()
            self._make_report = None
        return self._report
