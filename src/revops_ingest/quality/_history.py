"""The metrics store: one row per checked run, so the next run has a baseline.

The lake's store is ``/RevOps/Quality/metrics``, keyed by dataset and run id. The
row-count-change check compares with the latest earlier run of the same dataset and
reports ``no_baseline`` when there is none (instead of passing silently).
"""

from __future__ import annotations

import threading
import typing

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest.exceptions import DatasetNotFoundError


if typing.TYPE_CHECKING:
    import datetime as dt

    from revops_ingest._lake import Lake
    from revops_ingest.quality._result import QualityResult


__all__ = [
    "METRICS_DATASET",
    "METRICS_SCHEMA",
    "LakeMetricsStore",
    "MemoryMetricsStore",
    "MetricsStore",
    "RunMetrics",
]

METRICS_DATASET = "/RevOps/Quality/metrics"
"""Where :class:`LakeMetricsStore` keeps its rows by default."""

_TS = pa.timestamp("us", tz="UTC")
_FIELDS: list[pa.Field[typing.Any]] = [
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("checked_at", _TS, nullable=False),
    pa.field("row_count", pa.int64()),
    pa.field("passed", pa.bool_(), nullable=False),
    pa.field("worst_severity", pa.string()),
    pa.field("checks", pa.int64(), nullable=False),
    pa.field("failed", pa.int64(), nullable=False),
    pa.field("engine", pa.string(), nullable=False),
    pa.field("result_json", pa.string(), nullable=False),
]
METRICS_SCHEMA = pa.schema(_FIELDS)
"""The Arrow schema of ``/RevOps/Quality/metrics``."""


@attrs.frozen(kw_only=True)
class RunMetrics:
    """One checked run of one dataset, as the metrics store keeps it.

    Attributes:
        dataset: The dataset checked.
        run_id: The run's id (time-ordered).
        checked_at: When it ran (UTC).
        row_count: Rows checked.
        passed: Whether every check passed.
        worst_severity: The worst severity among failed checks, if any.
        checks: Checks run.
        failed: Checks that failed or errored.
        engine: Which engine computed the metrics.
        result_json: The whole result, :meth:`QualityResult.to_json`.
    """

    dataset: str
    run_id: str
    checked_at: dt.datetime
    row_count: int | None
    passed: bool
    worst_severity: str | None = None
    checks: int = 0
    failed: int = 0
    engine: str = "arrow"
    result_json: str = "{}"

    @classmethod
    def from_result(cls, result: QualityResult) -> RunMetrics:
        """Summarise *result* (which must name its dataset) for the store."""
        if result.dataset is None:
            msg = "only a result with a dataset can be stored"
            raise ValueError(msg)
        worst = result.worst_severity
        return cls(
            dataset=result.dataset,
            run_id=result.run_id,
            checked_at=result.checked_at,
            row_count=result.row_count,
            passed=result.passed,
            worst_severity=worst.value if worst is not None else None,
            checks=len(result.checks),
            failed=len(result.failures),
            engine=result.engine,
            result_json=result.to_json(),
        )

    def to_table(self) -> pa.Table:
        """This run as a one-row table in :data:`METRICS_SCHEMA`."""
        return pa.Table.from_pylist([attrs.asdict(self)], schema=METRICS_SCHEMA)


class MetricsStore(typing.Protocol):
    """Where run metrics are kept between runs."""

    def previous(self, dataset: str) -> RunMetrics | None:
        """The latest stored run of *dataset* with a row count, or ``None``."""
        ...

    def record(self, metrics: RunMetrics) -> None:
        """Keep *metrics*."""
        ...


def _latest(runs: typing.Iterable[RunMetrics]) -> RunMetrics | None:
    candidates = [r for r in runs if r.row_count is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.checked_at, r.run_id))


class MemoryMetricsStore:
    """A metrics store in memory: for tests, notebooks and one-process pipelines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[RunMetrics] = []

    @property
    def runs(self) -> list[RunMetrics]:
        """Every recorded run, oldest first."""
        with self._lock:
            return list(self._runs)

    def previous(self, dataset: str) -> RunMetrics | None:
        """The latest recorded run of *dataset*."""
        return _latest(r for r in self.runs if r.dataset == dataset)

    def record(self, metrics: RunMetrics) -> None:
        """Keep *metrics*."""
        with self._lock:
            self._runs.append(metrics)


@attrs.frozen
class LakeMetricsStore:
    """The metrics store in a lake dataset, ``/RevOps/Quality/metrics`` by default.

    Each run appends one row; concurrent runs never conflict. Other engines can
    read the dataset like any other (for dashboards of row counts and failures).

    Attributes:
        lake: The lake.
        path: The dataset path.
    """

    lake: Lake
    path: str = METRICS_DATASET

    def previous(self, dataset: str) -> RunMetrics | None:
        """The latest stored run of *dataset*, or ``None`` if there is none."""
        try:
            table = self.lake.read(
                self.path, filter=pc.field("dataset") == pa.scalar(dataset)
            )
        except DatasetNotFoundError:
            return None
        names = [f.name for f in METRICS_SCHEMA]
        table = table.select([n for n in names if n in table.column_names])
        runs = [RunMetrics(**row) for row in table.to_pylist()]
        return _latest(runs)

    def history(self, dataset: str) -> list[RunMetrics]:
        """Every stored run of *dataset*, oldest first."""
        try:
            table = self.lake.read(
                self.path, filter=pc.field("dataset") == pa.scalar(dataset)
            )
        except DatasetNotFoundError:
            return []
        runs = [
            RunMetrics(**row) for row in table.select(METRICS_SCHEMA.names).to_pylist()
        ]
        return sorted(runs, key=lambda r: (r.checked_at, r.run_id))

    def record(self, metrics: RunMetrics) -> None:
        """Append *metrics* as one row."""
        self.lake.append(
            self.path, metrics.to_table(), properties={"dataset": metrics.dataset}
        )
