"""What each assertion asks for (frozen data) and how its metrics become a result."""

from __future__ import annotations

import hashlib
import math
import time
import typing

import attrs

from revops_ingest.quality._result import CheckResult, jsonable
from revops_ingest.quality._severity import Severity, Status


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from revops_ingest.quality._history import RunMetrics
    from revops_ingest.quality._kernels import Duplicates, Invalid


__all__ = ["Baseline", "Metrics", "MissingColumnError", "Spec", "evaluate"]

Kind = typing.Literal[
    "not_empty",
    "no_nulls",
    "unique",
    "values_in",
    "row_count_between",
    "null_fraction_below",
    "matches",
    "row_count_change",
    "custom",
]


class MissingColumnError(LookupError):
    """A check names a column the data does not have."""

    def __init__(self, column: str, available: Sequence[str]) -> None:
        shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")  # noqa: PLR2004
        super().__init__(f"column {column!r} not found; the data has: {shown}")
        self.column = column


@attrs.frozen(kw_only=True)
class CustomOutcome:
    """What a custom check measured.

    Attributes:
        failed_count: Failing rows, if the check counts rows.
        passed: The verdict of a check that answers yes or no.
        samples: Failing values (or rows as mappings).
        sample_rows: Positions of failing rows.
    """

    failed_count: int | None = None
    passed: bool | None = None
    samples: tuple[typing.Any, ...] = ()
    sample_rows: tuple[int, ...] = ()


@attrs.frozen(kw_only=True)
class Spec:
    """One declared check: its kind, its columns, its severity and its tolerance.

    Attributes:
        kind: The assertion.
        name: Its unique name in the chain.
        columns: The columns it reads.
        severity: How bad a failure is.
        max_fraction: Fail only if more than this fraction of rows fail.
        max_count: Fail only if more than this many rows fail.
        values: For ``values_in``: the accepted values.
        pattern: For ``matches``: the pattern a value must match in full.
        min_rows: For ``not_empty`` and ``row_count_between``.
        max_rows: For ``row_count_between``.
        fraction: For ``null_fraction_below``.
        max_drop: For ``row_count_change``: the largest allowed relative drop.
        max_growth: For ``row_count_change``: the largest allowed relative growth.
        predicate: For ``custom``: a callable on an Arrow table or a narwhals
            expression.
    """

    kind: Kind
    name: str
    columns: tuple[str, ...] = ()
    severity: Severity = Severity.HIGH
    max_fraction: float | None = None
    max_count: int | None = None
    values: tuple[typing.Any, ...] = ()
    pattern: str = ""
    min_rows: int | None = None
    max_rows: int | None = None
    fraction: float = 0.0
    max_drop: float | None = None
    max_growth: float | None = None
    predicate: object = None

    def allowed(self, rows: int) -> int:
        """The most failing rows this check tolerates in a table of *rows* rows."""
        limits = []
        if self.max_count is not None:
            limits.append(self.max_count)
        if self.max_fraction is not None:
            limits.append(math.floor(self.max_fraction * rows + 1e-9))
        return min(limits) if limits else 0


@attrs.frozen
class Baseline:
    """The previous run of a dataset, for ``row_count_change``.

    Attributes:
        previous: The previous run's metrics; ``None`` if there is none.
        reason: Why there is none (no store, first run, unreadable store).
        error: Whether *reason* is an error rather than a plain first run.
    """

    previous: RunMetrics | None
    reason: str = ""
    error: bool = False


class Metrics(typing.Protocol):
    """What the engines compute for the checks; every method is memoised."""

    def rows(self) -> int:
        """The row count."""
        ...

    def nulls(self, column: str) -> int:
        """Null count of *column*."""
        ...

    def null_rows(self, column: str, limit: int) -> tuple[int, ...]:
        """Positions of the first null rows of *column*, if the engine knows them."""
        ...

    def duplicates(self, columns: tuple[str, ...], *, details: bool) -> Duplicates:
        """Duplicate figures of the key *columns*."""
        ...

    def invalid(self, spec: Spec) -> Invalid:
        """Non-null values outside the set or pattern of *spec*."""
        ...

    def custom(self, spec: Spec) -> CustomOutcome:
        """The outcome of a custom check."""
        ...


def _fraction(count: int, rows: int) -> float:
    return count / rows if rows else 0.0


def redact_value(value: object) -> str:
    """Replace a sample value by a short, stable hash (for redacted samples)."""
    digest = hashlib.sha256(repr(jsonable(value)).encode()).hexdigest()
    return f"sha256:{digest[:12]}"


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def _row_verdict(
    spec: Spec, rows: int, failed: int, what: str, samples: Sequence[typing.Any]
) -> tuple[Status, str, int | float | None]:
    allowed = spec.allowed(rows)
    status = Status.FAILED if failed > allowed else Status.PASSED
    fraction = _fraction(failed, rows)
    if failed == 0:
        message = f"no {what}"
    else:
        message = f"{failed:,} {what} ({_percent(fraction)} of {rows:,} rows)"
        if allowed:
            message += f"; {allowed:,} tolerated"
        if samples and status is Status.FAILED:
            shown = ", ".join(repr(jsonable(s)) for s in samples)
            message += f", e.g. {shown}"
    return status, message, allowed


def evaluate(  # noqa: C901, PLR0911, PLR0912, PLR0915 - one branch per kind
    spec: Spec,
    metrics: Metrics,
    *,
    sample_size: int,
    redact: bool,
    baseline: Callable[[], Baseline],
) -> CheckResult:
    """Compute *spec*'s metrics through *metrics* and judge them.

    A missing column or a failing kernel gives an ``ERROR`` result; nothing raises.
    """
    started = time.perf_counter()

    def present(samples: Sequence[typing.Any]) -> tuple[typing.Any, ...]:
        shown = tuple(samples)[:sample_size]
        return tuple(redact_value(s) for s in shown) if redact else shown

    def done(
        status: Status,
        message: str,
        *,
        observed: float | None = None,
        threshold: typing.Any = None,
        failed_count: int | None = None,
        rows: int | None = None,
        samples: Sequence[typing.Any] = (),
        details: dict[str, typing.Any] | None = None,
    ) -> CheckResult:
        shown = present(samples) if status.failing else ()
        return CheckResult(
            name=spec.name,
            kind=spec.kind,
            columns=spec.columns,
            status=status,
            severity=spec.severity,
            observed=observed,
            threshold=threshold,
            failed_count=failed_count,
            failed_fraction=(
                _fraction(failed_count, rows)
                if failed_count is not None and rows is not None
                else None
            ),
            samples=shown,
            duration_ms=(time.perf_counter() - started) * 1000,
            message=message,
            details=details or {},
        )

    try:
        rows = metrics.rows()
        kind = spec.kind
        if kind == "not_empty":
            minimum = spec.min_rows if spec.min_rows is not None else 1
            ok = rows >= minimum
            message = f"{rows:,} rows" + ("" if ok else f", fewer than {minimum:,}")
            return done(
                Status.PASSED if ok else Status.FAILED,
                message,
                observed=rows,
                threshold=minimum,
            )
        if kind == "row_count_between":
            lo, hi = spec.min_rows, spec.max_rows
            ok = (lo is None or rows >= lo) and (hi is None or rows <= hi)
            low = "" if lo is None else f"{lo:,}"
            high = "" if hi is None else f"{hi:,}"
            bounds = f"[{low}, {high}]"
            message = f"{rows:,} rows" + (
                f", inside {bounds}" if ok else f", outside {bounds}"
            )
            return done(
                Status.PASSED if ok else Status.FAILED,
                message,
                observed=rows,
                threshold=(lo, hi),
            )
        if kind == "no_nulls":
            (column,) = spec.columns
            nulls = metrics.nulls(column)
            status, message, allowed = _row_verdict(
                spec, rows, nulls, "null" if nulls == 1 else "nulls", ()
            )
            details: dict[str, typing.Any] = {}
            if status is Status.FAILED:
                positions = metrics.null_rows(column, sample_size)
                if positions:
                    details["sample_rows"] = list(positions)
            return done(
                status,
                message,
                observed=nulls,
                threshold=allowed,
                failed_count=nulls,
                rows=rows,
                details=details,
            )
        if kind == "null_fraction_below":
            (column,) = spec.columns
            nulls = metrics.nulls(column)
            fraction = _fraction(nulls, rows)
            ok = fraction <= spec.fraction
            message = f"{_percent(fraction)} nulls ({nulls:,} of {rows:,} rows)" + (
                "" if ok else f", more than {_percent(spec.fraction)}"
            )
            return done(
                Status.PASSED if ok else Status.FAILED,
                message,
                observed=fraction,
                threshold=spec.fraction,
                failed_count=nulls,
                rows=rows,
            )
        if kind == "unique":
            cheap = metrics.duplicates(spec.columns, details=False)
            if cheap.extra_rows == 0:
                return done(
                    Status.PASSED,
                    "no duplicate keys",
                    observed=0,
                    threshold=spec.allowed(rows),
                    failed_count=0,
                    rows=rows,
                )
            full = metrics.duplicates(spec.columns, details=True)
            in_groups = full.rows_in_groups or 0
            status, message, allowed = _row_verdict(
                spec,
                rows,
                in_groups,
                "rows with a duplicated key",
                present(full.samples),
            )
            return done(
                status,
                message,
                observed=in_groups,
                threshold=allowed,
                failed_count=in_groups,
                rows=rows,
                samples=full.samples,
                details={"duplicate_keys": full.groups, "extra_rows": full.extra_rows},
            )
        if kind in {"values_in", "matches"}:
            bad = metrics.invalid(spec)
            noun = "value" if bad.count == 1 else "values"
            what = (
                f"{noun} outside the accepted set"
                if kind == "values_in"
                else f"{noun} not matching the pattern"
            )
            status, message, allowed = _row_verdict(
                spec, rows, bad.count, what, present(bad.samples)
            )
            details = (
                {"accepted": len(spec.values)}
                if kind == "values_in"
                else {"pattern": spec.pattern}
            )
            return done(
                status,
                message,
                observed=bad.count,
                threshold=allowed,
                failed_count=bad.count,
                rows=rows,
                samples=bad.samples,
                details=details,
            )
        if kind == "row_count_change":
            return _change(spec, rows, baseline(), done)
        if kind == "custom":
            outcome = metrics.custom(spec)
            if outcome.failed_count is None:
                ok = bool(outcome.passed)
                return done(
                    Status.PASSED if ok else Status.FAILED,
                    "passed" if ok else "the custom check returned False",
                    samples=outcome.samples,
                )
            status, message, allowed = _row_verdict(
                spec,
                rows,
                outcome.failed_count,
                "failing row" if outcome.failed_count == 1 else "failing rows",
                present(outcome.samples),
            )
            extra = (
                {"sample_rows": list(outcome.sample_rows)}
                if outcome.sample_rows and status is Status.FAILED
                else {}
            )
            return done(
                status,
                message,
                observed=outcome.failed_count,
                threshold=allowed,
                failed_count=outcome.failed_count,
                rows=rows,
                samples=outcome.samples,
                details=extra,
            )
    except MissingColumnError as exc:
        return done(Status.ERROR, str(exc))
    except Exception as exc:  # noqa: BLE001 - collect-all: a broken check is a result
        return done(
            Status.ERROR, f"the check could not run: {type(exc).__name__}: {exc}"
        )
    msg = f"unknown check kind {spec.kind!r}"  # pragma: no cover - Kind is closed
    raise AssertionError(msg)  # pragma: no cover


def _change(
    spec: Spec,
    rows: int,
    baseline: Baseline,
    done: Callable[..., CheckResult],
) -> CheckResult:
    previous = baseline.previous
    threshold = -spec.max_drop if spec.max_drop is not None else None
    if previous is None:
        status = Status.ERROR if baseline.error else Status.NO_BASELINE
        return done(
            status, baseline.reason, threshold=threshold, details={"rows": rows}
        )
    before = previous.row_count
    if before is None:  # pragma: no cover - stores only return counted runs
        return done(Status.NO_BASELINE, "no baseline: the previous run has no count")
    details = {
        "rows": rows,
        "baseline_rows": before,
        "baseline_run_id": previous.run_id,
        "baseline_checked_at": previous.checked_at,
    }
    if before == 0:
        change = 0.0 if rows == 0 else math.inf
    else:
        change = (rows - before) / before
    dropped = spec.max_drop is not None and change < -spec.max_drop
    grew = spec.max_growth is not None and change > spec.max_growth
    text = (
        "unchanged"
        if change == 0
        else (
            f"{'down' if change < 0 else 'up'} {_percent(abs(change))}"
            if math.isfinite(change)
            else "up from 0"
        )
    )
    message = f"{rows:,} rows, {text} from {before:,} in run {previous.run_id}"
    if dropped:
        message += f"; a drop of more than {_percent(spec.max_drop or 0.0)}"
    if grew:
        message += f"; growth of more than {_percent(spec.max_growth or 0.0)}"
    return done(
        Status.FAILED if dropped or grew else Status.PASSED,
        message,
        observed=change,
        threshold=threshold,
        details=details,
    )
