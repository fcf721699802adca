"""``check(df)``: declare assertions in a chain, then ``finalize()`` runs them all."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import typing

from revops_ingest.exceptions import ConfigurationError, RevOpsIngestError
from revops_ingest.quality._history import (
    LakeMetricsStore,
    MetricsStore,
    RunMetrics,
)
from revops_ingest.quality._result import QualityResult
from revops_ingest.quality._severity import Severity, Status
from revops_ingest.quality._specs import Baseline, Spec, evaluate


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from typing_extensions import Self

    from revops_ingest._lake import Lake
    from revops_ingest.quality._result import CheckResult
    from revops_ingest.quality._specs import Kind, Metrics


__all__ = ["Checker", "check"]

_RUN_TS = "%Y%m%dT%H%M%S%fZ"


def _now() -> dt.datetime:
    """The current time in UTC (a seam for tests)."""
    return dt.datetime.now(dt.timezone.utc)


def new_run_id(now: dt.datetime) -> str:
    """A time-ordered run id such as ``20260101T120000000000Z-3f2a9c1b7d4e``."""
    return f"{now.strftime(_RUN_TS)}-{secrets.token_hex(6)}"


def _column_names(what: str, columns: Iterable[object]) -> tuple[str, ...]:
    names: list[str] = []
    for name in columns:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"{what}: column names must be non-empty strings, got {name!r}"
            )
        names.append(name)
    if not names:
        raise ConfigurationError(f"{what} needs at least one column")
    return tuple(names)


def _tolerance(
    what: str, max_fraction: float | None, max_count: int | None
) -> tuple[float | None, int | None]:
    if max_fraction is not None and not 0 <= max_fraction <= 1:
        raise ConfigurationError(
            f"{what}: max_fraction must be between 0 and 1, got {max_fraction!r}"
        )
    if max_count is not None and (isinstance(max_count, bool) or max_count < 0):
        raise ConfigurationError(
            f"{what}: max_count must be a non-negative integer, got {max_count!r}"
        )
    return max_fraction, max_count


class Checker:
    """A chain of assertions about one table, run together by :meth:`finalize`.

    Build one with :func:`check`. Every ``assert_*`` method adds a check and returns
    the checker, so calls chain; nothing is computed until :meth:`finalize`.

    Every assertion takes ``severity`` (default ``HIGH``; ``MEDIUM`` for
    :meth:`assert_row_count_change`) and ``name`` (a default is derived from the
    kind and columns). Row-level assertions also take a tolerance:
    ``max_fraction`` (of all rows) and/or ``max_count``; the check fails when more
    rows fail than either allows. Without a tolerance, one failing row fails it.
    """

    def __init__(
        self,
        data: object,
        *,
        dataset: str | None = None,
        store: MetricsStore | None = None,
        fail_fast: bool = False,
        sample_size: int = 5,
        redact_samples: bool = False,
        record: bool = True,
        run_id: str | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        if isinstance(sample_size, bool) or sample_size < 0:
            raise ConfigurationError(
                f"sample_size must be a non-negative integer, got {sample_size!r}"
            )
        self._data = data
        self._dataset = dataset
        self._store = store
        self._fail_fast = fail_fast
        self._sample_size = sample_size
        self._redact = redact_samples
        self._record = record
        self._run_id = run_id
        self._clock = clock
        self._specs: list[Spec] = []

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self._specs)
        return f"<Checker {self._dataset or type(self._data).__name__}: {names}>"

    @property
    def specs(self) -> tuple[Spec, ...]:
        """The declared checks, in order."""
        return tuple(self._specs)

    # -- declaring

    def _add(
        self, kind: Kind, default_name: str, name: str | None, **kw: typing.Any
    ) -> Self:
        label = name or default_name
        taken = {s.name for s in self._specs}
        if label in taken:
            if name is not None:
                raise ConfigurationError(f"a check named {name!r} was declared already")
            n = 2
            while f"{label}#{n}" in taken:
                n += 1
            label = f"{label}#{n}"
        severity = Severity.parse(kw.pop("severity"))
        self._specs.append(Spec(kind=kind, name=label, severity=severity, **kw))
        return self

    def with_history(self, store: Lake | MetricsStore, dataset: str) -> Self:
        """Compare with, and record into, *store* (a lake or a metrics store).

        A :class:`~revops_ingest.Lake` means its ``/RevOps/Quality/metrics``.
        """
        self._store = _as_store(store)
        self._dataset = dataset
        return self

    def assert_not_empty(
        self,
        min_rows: int = 1,
        *,
        severity: Severity | str = Severity.HIGH,
        name: str | None = None,
    ) -> Self:
        """The table has at least *min_rows* rows."""
        if isinstance(min_rows, bool) or min_rows < 0:
            raise ConfigurationError(
                f"assert_not_empty: min_rows must be a non-negative integer, "
                f"got {min_rows!r}"
            )
        return self._add(
            "not_empty", "not_empty", name, min_rows=min_rows, severity=severity
        )

    def assert_no_nulls(
        self,
        *columns: str,
        severity: Severity | str = Severity.HIGH,
        max_fraction: float | None = None,
        max_count: int | None = None,
    ) -> Self:
        """No column of *columns* has a null: one check per column.

        This is the one assertion about nulls; the others ignore them.
        """
        names = _column_names("assert_no_nulls", columns)
        tolerance = _tolerance("assert_no_nulls", max_fraction, max_count)
        for column in names:
            self._add(
                "no_nulls",
                f"no_nulls({column})",
                None,
                columns=(column,),
                severity=severity,
                max_fraction=tolerance[0],
                max_count=tolerance[1],
            )
        return self

    def assert_unique(
        self,
        *columns: str,
        severity: Severity | str = Severity.HIGH,
        max_fraction: float | None = None,
        max_count: int | None = None,
        name: str | None = None,
    ) -> Self:
        """No two rows share a value of *columns* (a compound key if several).

        Rows with a null in any key column are ignored (SQL ``UNIQUE`` semantics;
        use :meth:`assert_no_nulls` for those). The failed count is the number of
        rows whose key appears more than once, every occurrence counted.
        """
        names = _column_names("assert_unique", columns)
        max_fraction, max_count = _tolerance("assert_unique", max_fraction, max_count)
        return self._add(
            "unique",
            f"unique({', '.join(names)})",
            name,
            columns=names,
            severity=severity,
            max_fraction=max_fraction,
            max_count=max_count,
        )

    def assert_values_in(
        self,
        column: str,
        values: Iterable[object],
        *,
        severity: Severity | str = Severity.HIGH,
        max_fraction: float | None = None,
        max_count: int | None = None,
        name: str | None = None,
    ) -> Self:
        """Every non-null value of *column* is one of *values*; nulls are ignored."""
        (col,) = _column_names("assert_values_in", [column])
        if isinstance(values, (str, bytes)):
            raise ConfigurationError(
                "assert_values_in: values must be a collection of values, not a "
                f"single {type(values).__name__}"
            )
        accepted = tuple(dict.fromkeys(values))
        max_fraction, max_count = _tolerance(
            "assert_values_in", max_fraction, max_count
        )
        return self._add(
            "values_in",
            f"values_in({col})",
            name,
            columns=(col,),
            values=accepted,
            severity=severity,
            max_fraction=max_fraction,
            max_count=max_count,
        )

    def assert_row_count_between(
        self,
        min_rows: int | None = None,
        max_rows: int | None = None,
        *,
        severity: Severity | str = Severity.HIGH,
        name: str | None = None,
    ) -> Self:
        """The row count is at least *min_rows* and at most *max_rows* (inclusive)."""
        if min_rows is None and max_rows is None:
            raise ConfigurationError(
                "assert_row_count_between needs min_rows, max_rows or both"
            )
        if min_rows is not None and max_rows is not None and min_rows > max_rows:
            raise ConfigurationError(
                f"assert_row_count_between: min_rows {min_rows} > max_rows {max_rows}"
            )
        return self._add(
            "row_count_between",
            "row_count_between",
            name,
            min_rows=min_rows,
            max_rows=max_rows,
            severity=severity,
        )

    def assert_null_fraction_below(
        self,
        column: str,
        fraction: float,
        *,
        severity: Severity | str = Severity.HIGH,
        name: str | None = None,
    ) -> Self:
        """At most *fraction* of the rows of *column* are null (fails above it).

        ``assert_null_fraction_below("account_id", 0.05)`` is the seed's
        "more than 5 % nulls" condition.
        """
        (col,) = _column_names("assert_null_fraction_below", [column])
        if not 0 <= fraction <= 1:
            raise ConfigurationError(
                "assert_null_fraction_below: fraction must be between 0 and 1, "
                f"got {fraction!r}"
            )
        return self._add(
            "null_fraction_below",
            f"null_fraction_below({col})",
            name,
            columns=(col,),
            fraction=float(fraction),
            severity=severity,
        )

    def assert_matches(
        self,
        column: str,
        pattern: str,
        *,
        severity: Severity | str = Severity.HIGH,
        max_fraction: float | None = None,
        max_count: int | None = None,
        name: str | None = None,
    ) -> Self:
        """Every non-null string of *column* matches *pattern* in full.

        The pattern is anchored at both ends. Eager input uses RE2 (pyarrow);
        lazy frames use their engine's regex dialect, so keep to the common
        subset (no look-arounds or back-references).
        """
        (col,) = _column_names("assert_matches", [column])
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigurationError(
                f"assert_matches: {pattern!r} is not a valid pattern: {exc}"
            ) from exc
        max_fraction, max_count = _tolerance("assert_matches", max_fraction, max_count)
        return self._add(
            "matches",
            f"matches({col})",
            name,
            columns=(col,),
            pattern=pattern,
            severity=severity,
            max_fraction=max_fraction,
            max_count=max_count,
        )

    def assert_row_count_change(
        self,
        max_drop: float | None = 0.2,
        *,
        max_growth: float | None = None,
        severity: Severity | str = Severity.MEDIUM,
        name: str | None = None,
    ) -> Self:
        """The row count moved at most so much since the previous run of the dataset.

        *max_drop* and *max_growth* are relative (0.2 is 20 %). The previous run
        comes from the metrics store (``check(df, dataset=..., lake=...)`` or
        :meth:`with_history`); without one, or on the first run, the check reports
        ``no_baseline`` rather than passing.
        """
        for label, value in (("max_drop", max_drop), ("max_growth", max_growth)):
            if value is not None and value < 0:
                raise ConfigurationError(
                    f"assert_row_count_change: {label} must not be negative, "
                    f"got {value!r}"
                )
        if max_drop is None and max_growth is None:
            raise ConfigurationError(
                "assert_row_count_change needs max_drop, max_growth or both"
            )
        return self._add(
            "row_count_change",
            "row_count_change",
            name,
            max_drop=max_drop,
            max_growth=max_growth,
            severity=severity,
        )

    def assert_custom(
        self,
        name: str,
        predicate: object,
        *,
        columns: Iterable[str] = (),
        severity: Severity | str = Severity.HIGH,
        max_fraction: float | None = None,
        max_count: int | None = None,
    ) -> Self:
        """A check of your own that runs in the same plan as the others.

        *predicate* is either

        - a narwhals expression that is true for good rows, such as
          ``nw.col("amount") >= 0``: it runs on eager and lazy input alike, and on
          a lazy frame it joins the single aggregate query; or
        - a callable taking the Arrow table (only *columns*, if given) and
          returning a boolean array (true = good row), a failed-row count, or a
          bool for the whole table (eager input only).

        Null verdicts count as good rows. *columns* name what samples show.
        """
        if not name:
            raise ConfigurationError("assert_custom needs a non-empty name")
        cols = tuple(columns)
        if cols:
            _column_names("assert_custom", cols)
        from revops_ingest.quality._inputs import is_narwhals_expr  # noqa: PLC0415

        if not (callable(predicate) or is_narwhals_expr(predicate)):
            raise ConfigurationError(
                "assert_custom: predicate must be a callable or a narwhals expression"
            )
        max_fraction, max_count = _tolerance("assert_custom", max_fraction, max_count)
        return self._add(
            "custom",
            name,
            name,
            columns=cols,
            predicate=predicate,
            severity=severity,
            max_fraction=max_fraction,
            max_count=max_count,
        )

    # -- running

    def _metrics(self) -> tuple[Metrics, str]:
        from revops_ingest.quality._inputs import lazy_backend  # noqa: PLC0415

        backend = lazy_backend(self._data)
        if backend is not None:
            from revops_ingest.quality._lazy import NarwhalsMetrics  # noqa: PLC0415

            lazy = NarwhalsMetrics(
                self._data, self._specs, sample_size=self._sample_size
            )
            return lazy, f"narwhals:{lazy.backend}"
        from revops_ingest.quality._eager import ArrowMetrics  # noqa: PLC0415
        from revops_ingest.quality._inputs import to_table  # noqa: PLC0415

        return ArrowMetrics(
            to_table(self._data), sample_size=self._sample_size
        ), "arrow"

    def _baseline(self) -> Baseline:
        if self._store is None or self._dataset is None:
            return Baseline(
                None,
                "no baseline: no metrics store (pass lake= and dataset= to check(), "
                "or call with_history())",
            )
        try:
            previous = self._store.previous(self._dataset)
        except (RevOpsIngestError, OSError, ValueError, KeyError) as exc:
            return Baseline(
                None,
                f"the metrics store could not be read: {type(exc).__name__}: {exc}",
                error=True,
            )
        if previous is None:
            return Baseline(None, f"no baseline: first run for {self._dataset}")
        return Baseline(previous)

    def finalize(self) -> QualityResult:
        """Compute every metric once and judge every check; return the result.

        Collect-all by default: every check runs, and a check that cannot run (a
        missing column) is an ``ERROR`` result, not an exception. With
        ``fail_fast=True`` the first failing check stops the run and the rest are
        ``SKIPPED``. With a metrics store and a dataset, the run is recorded so
        the next one has a baseline.

        Raises:
            TypeError: The data is of a kind :func:`check` does not take.
        """
        started = time.perf_counter()
        checked_at = self._clock()
        run_id = self._run_id or new_run_id(checked_at)
        metrics, engine = self._metrics()
        baseline_memo: list[Baseline] = []

        def baseline() -> Baseline:
            if not baseline_memo:
                baseline_memo.append(self._baseline())
            return baseline_memo[0]

        results: list[CheckResult] = []
        stopped = False
        for spec in self._specs:
            if stopped:
                results.append(_skipped(spec))
                continue
            outcome = evaluate(
                spec,
                metrics,
                sample_size=self._sample_size,
                redact=self._redact,
                baseline=baseline,
            )
            results.append(outcome)
            stopped = self._fail_fast and outcome.failed
        try:
            row_count: int | None = metrics.rows()
        except Exception:  # noqa: BLE001 - reported through the checks already
            row_count = None
        result = QualityResult(
            checks=tuple(results),
            dataset=self._dataset,
            run_id=run_id,
            checked_at=checked_at,
            row_count=row_count,
            engine=engine,
            duration_ms=(time.perf_counter() - started) * 1000,
            fail_fast=self._fail_fast,
        )
        return self._recorded(result)

    def _recorded(self, result: QualityResult) -> QualityResult:
        if not self._record or self._store is None or self._dataset is None:
            return result
        try:
            self._store.record(RunMetrics.from_result(result))
        except (RevOpsIngestError, OSError, ValueError) as exc:
            note = f"metrics not recorded: {type(exc).__name__}: {exc}"
            return _with_warning(result, note)
        return result


def _with_warning(result: QualityResult, note: str) -> QualityResult:
    import attrs  # noqa: PLC0415

    return attrs.evolve(result, warnings=(*result.warnings, note))


def _skipped(spec: Spec) -> CheckResult:
    from revops_ingest.quality._result import CheckResult  # noqa: PLC0415

    return CheckResult(
        name=spec.name,
        kind=spec.kind,
        columns=spec.columns,
        status=Status.SKIPPED,
        severity=spec.severity,
        message="not run: an earlier check failed and fail_fast is on",
    )


def _as_store(store: Lake | MetricsStore) -> MetricsStore:
    from revops_ingest._lake import Lake  # noqa: PLC0415

    if isinstance(store, Lake):
        return LakeMetricsStore(store)
    return store


def check(
    data: object,
    *,
    dataset: str | None = None,
    lake: Lake | None = None,
    store: MetricsStore | None = None,
    fail_fast: bool = False,
    sample_size: int = 5,
    redact_samples: bool = False,
    record: bool = True,
    run_id: str | None = None,
) -> Checker:
    """Start a chain of quality assertions about *data*.

    Args:
        data: A ``pyarrow`` Table or RecordBatch, anything exporting the Arrow C
            stream (pandas, polars, DuckDB results), or a lazy frame (polars
            LazyFrame, DuckDB relation, PySpark DataFrame), which is checked in
            its own engine by one aggregate query.
        dataset: The dataset's name, such as ``"/RevOps/Staging/opportunities"``;
            the key of its history.
        lake: Keep history in this lake's ``/RevOps/Quality/metrics``.
        store: Keep history in this metrics store instead.
        fail_fast: Stop at the first failing check; the rest are ``SKIPPED``.
        sample_size: Failing values kept per check (0 for none).
        redact_samples: Replace sample values by short hashes (for alerts that
            leave the building).
        record: Record this run in the store (with *dataset*).
        run_id: The run's id; a time-ordered one by default.

    Raises:
        ConfigurationError: A store without a dataset, or bad arguments.

    Example::

        result = (
            check(df, dataset="/RevOps/Staging/opportunities", lake=lake)
            .assert_not_empty(min_rows=1)
            .assert_no_nulls("opportunity_id", "account_id")
            .assert_unique("opportunity_id")
            .assert_values_in("stage_name", VALID_STAGES)
            .finalize()
        )
    """
    if store is None and lake is not None:
        store = LakeMetricsStore(lake)
    if store is not None and dataset is None:
        raise ConfigurationError(
            "a metrics store (lake= or store=) needs dataset= to key the history"
        )
    return Checker(
        data,
        dataset=dataset,
        store=store,
        fail_fast=fail_fast,
        sample_size=sample_size,
        redact_samples=redact_samples,
        record=record,
        run_id=run_id,
    )
