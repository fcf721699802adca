"""Data-quality checks, their history, and alerts: ``check(df)....finalize()``.

:func:`check` takes a table (pyarrow, pandas, polars, DuckDB) or a lazy frame
(polars LazyFrame, DuckDB relation, PySpark DataFrame), a chain of assertions, and
``finalize()`` computes every metric in one pass and returns a frozen
:class:`QualityResult`. Runs are kept in ``/RevOps/Quality/metrics``
(:class:`LakeMetricsStore`) so a row-count change has a baseline. Alert rules
(:class:`AlertRule`, ``/RevOps/Config/quality_alerts``) route problems to
PagerDuty, Slack and e-mail (:class:`AlertRouter`), deduplicated in
``/RevOps/Quality/alert_log``. :func:`check_staging` does all of it for the staging
datasets. See ``docs/quality.md``.
"""

from __future__ import annotations

from revops_ingest.quality._alerts import (
    ALERT_LOG_DATASET,
    ALERT_LOG_SCHEMA,
    Alert,
    AlertItem,
    AlertRouter,
    Delivery,
    RoutingReport,
    alert_for_result,
    alert_for_sync,
    alerts_for_syncs,
)
from revops_ingest.quality._checker import Checker, check
from revops_ingest.quality._history import (
    METRICS_DATASET,
    METRICS_SCHEMA,
    LakeMetricsStore,
    MemoryMetricsStore,
    MetricsStore,
    RunMetrics,
)
from revops_ingest.quality._notifiers import (
    EmailNotifier,
    Notifier,
    PagerDutyNotifier,
    SlackNotifier,
)
from revops_ingest.quality._result import CheckResult, QualityResult
from revops_ingest.quality._rules import (
    DEFAULT_RULES,
    RULES_DATASET,
    RULES_SCHEMA,
    AlertRule,
    Channel,
    Condition,
    load_rules,
    rules_table,
)
from revops_ingest.quality._severity import Severity, Status
from revops_ingest.quality._staging import (
    STAGING_CHECKS,
    StagingQualityReport,
    check_staging,
    check_syncs,
)


__all__ = [  # noqa: RUF022 - plainly sorted, as tests/test_public_api.py checks
    "ALERT_LOG_DATASET",
    "ALERT_LOG_SCHEMA",
    "Alert",
    "AlertItem",
    "AlertRouter",
    "AlertRule",
    "Channel",
    "CheckResult",
    "Checker",
    "Condition",
    "DEFAULT_RULES",
    "Delivery",
    "EmailNotifier",
    "LakeMetricsStore",
    "METRICS_DATASET",
    "METRICS_SCHEMA",
    "MemoryMetricsStore",
    "MetricsStore",
    "Notifier",
    "PagerDutyNotifier",
    "QualityResult",
    "RULES_DATASET",
    "RULES_SCHEMA",
    "RoutingReport",
    "RunMetrics",
    "STAGING_CHECKS",
    "Severity",
    "SlackNotifier",
    "StagingQualityReport",
    "Status",
    "alert_for_result",
    "alert_for_sync",
    "alerts_for_syncs",
    "check",
    "check_staging",
    "check_syncs",
    "load_rules",
    "rules_table",
]
