"""The frozen, typed outcome of ``check(df)....finalize()``."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import math
import types
import typing

import attrs

from revops_ingest.exceptions import QualityCheckError
from revops_ingest.quality._severity import Severity, Status


if typing.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


__all__ = ["SCHEMA_VERSION", "CheckResult", "QualityResult", "Threshold", "jsonable"]

SCHEMA_VERSION = 1
"""Version of the :meth:`QualityResult.to_dict` layout; bumped on breaking changes."""

Threshold: typing.TypeAlias = "int | float | tuple[int | None, int | None] | None"


def jsonable(value: object) -> typing.Any:  # noqa: PLR0911 - one return per type
    """Turn a sample value or a detail into something :func:`json.dumps` accepts.

    Dates and times become ISO 8601 strings, decimals strings, bytes base64,
    non-finite floats strings (``"nan"``, ``"inf"``), tuples and sets lists.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, typing.Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = (
            sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        )
        return [jsonable(v) for v in items]
    return str(value)


def _freeze(value: Mapping[str, typing.Any] | None) -> Mapping[str, typing.Any]:
    return types.MappingProxyType(dict(value or {}))


@attrs.frozen(kw_only=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: The check's name, such as ``"unique(opportunity_id)"``; unique within
            a result.
        kind: The assertion, such as ``"unique"`` or ``"values_in"``.
        columns: The columns it looked at (several for a compound key).
        status: How it ended; see :class:`Status`.
        severity: How bad a failure of this check is.
        observed: What was measured: the row count, the null count, the number of
            rows in duplicate groups, the relative row-count change, ...
        threshold: The limit *observed* was held against (a ``(min, max)`` pair
            for a row-count range); ``None`` when there is none.
        failed_count: Rows that fail the check, if the check is about rows.
        failed_fraction: *failed_count* over all rows (0 for an empty table).
        samples: A few failing values (distinct, at most the sample size), or
            their hashes if samples are redacted; empty when the check passed.
        duration_ms: Time spent on this check, shared metrics counted once (by
            the first check that needed them).
        message: One sentence saying what was found.
        details: Extra figures, such as the baseline of a change check.
    """

    name: str
    kind: str
    columns: tuple[str, ...]
    status: Status
    severity: Severity
    observed: int | float | None = None
    threshold: Threshold = None
    failed_count: int | None = None
    failed_fraction: float | None = None
    samples: tuple[typing.Any, ...] = ()
    duration_ms: float = 0.0
    message: str = ""
    details: Mapping[str, typing.Any] = attrs.field(factory=dict, converter=_freeze)

    @property
    def passed(self) -> bool:
        """Whether the check passed (``NO_BASELINE`` and ``SKIPPED`` did not)."""
        return self.status is Status.PASSED

    @property
    def failed(self) -> bool:
        """Whether the check failed or could not be evaluated (``ERROR``)."""
        return self.status.failing

    def to_dict(self) -> dict[str, typing.Any]:
        """Return the check as a JSON-ready dictionary."""
        return {
            "name": self.name,
            "kind": self.kind,
            "columns": list(self.columns),
            "status": self.status.value,
            "severity": self.severity.value,
            "observed": jsonable(self.observed),
            "threshold": jsonable(self.threshold),
            "failed_count": self.failed_count,
            "failed_fraction": jsonable(self.failed_fraction),
            "samples": [jsonable(v) for v in self.samples],
            "duration_ms": round(self.duration_ms, 3),
            "message": self.message,
            "details": jsonable(dict(self.details)),
        }


@attrs.frozen(kw_only=True)
class QualityResult:
    """Everything ``finalize()`` found: one :class:`CheckResult` per check.

    Attributes:
        checks: The check results, in the order the checks were declared.
        dataset: The dataset checked, if one was named.
        run_id: The id of this run (time-ordered); the key in the metrics store.
        checked_at: When the checks ran (UTC).
        row_count: Rows in the checked data (``None`` only if it could not be
            counted).
        engine: ``"arrow"`` for eager input, ``"narwhals:<backend>"`` for a lazy
            frame checked where it lives.
        duration_ms: Time for the whole ``finalize()``.
        fail_fast: Whether the run stopped at the first failure.
        warnings: Things to know that are not check failures, such as metrics that
            could not be recorded.
    """

    checks: tuple[CheckResult, ...]
    dataset: str | None = None
    run_id: str = ""
    checked_at: dt.datetime = attrs.field(
        factory=lambda: dt.datetime.now(dt.timezone.utc)
    )
    row_count: int | None = None
    engine: str = "arrow"
    duration_ms: float = 0.0
    fail_fast: bool = False
    warnings: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __getitem__(self, name: str) -> CheckResult:
        """Return the check called *name*.

        Raises:
            KeyError: No check has that name.
        """
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    @property
    def passed(self) -> bool:
        """Whether no check failed or errored."""
        return not any(c.failed for c in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that failed or errored, in declaration order."""
        return tuple(c for c in self.checks if c.failed)

    @property
    def worst_severity(self) -> Severity | None:
        """The highest severity among failing checks; ``None`` if none failed."""
        failing = [c.severity for c in self.checks if c.failed]
        return max(failing) if failing else None

    def failures_at(self, min_severity: Severity | str) -> tuple[CheckResult, ...]:
        """The failing checks of *min_severity* or worse."""
        floor = Severity.parse(min_severity)
        return tuple(c for c in self.checks if c.failed and c.severity >= floor)

    def raise_for(self, min_severity: Severity | str = Severity.LOW) -> None:
        """Raise if a check of *min_severity* or worse failed; else do nothing.

        Raises:
            QualityCheckError: Naming every such check, with its message; its
                ``failures`` attribute holds their names.
        """
        failing = self.failures_at(min_severity)
        if not failing:
            return
        where = f" on {self.dataset}" if self.dataset else ""
        lines = "; ".join(
            f"{c.name} [{c.severity.value}]: {c.message}" for c in failing
        )
        noun = "check" if len(failing) == 1 else "checks"
        raise QualityCheckError(
            f"{len(failing)} quality {noun} failed{where}: {lines}",
            failures=[c.name for c in failing],
        )

    def to_dict(self) -> dict[str, typing.Any]:
        """Return the result as a JSON-ready dictionary (with ``schema_version``)."""
        worst = self.worst_severity
        return {
            "schema_version": SCHEMA_VERSION,
            "dataset": self.dataset,
            "run_id": self.run_id,
            "checked_at": self.checked_at.isoformat(),
            "passed": self.passed,
            "worst_severity": worst.value if worst is not None else None,
            "row_count": self.row_count,
            "engine": self.engine,
            "duration_ms": round(self.duration_ms, 3),
            "fail_fast": self.fail_fast,
            "warnings": list(self.warnings),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def summary(self) -> str:
        """Return a few human-readable lines: the verdict and each failing check."""
        where = self.dataset or "data"
        rows = "?" if self.row_count is None else f"{self.row_count:,}"
        if self.passed:
            head = f"{where}: all {len(self.checks)} checks passed ({rows} rows)"
        else:
            worst = self.worst_severity
            label = worst.value if worst is not None else "?"
            head = (
                f"{where}: {len(self.failures)} of {len(self.checks)} checks failed, "
                f"worst {label} ({rows} rows)"
            )
        lines = [head]
        lines.extend(
            f"  {c.status.value.upper():<11} [{c.severity.value}] {c.name}: {c.message}"
            for c in self.checks
            if not c.passed
        )
        return "\n".join(lines)
