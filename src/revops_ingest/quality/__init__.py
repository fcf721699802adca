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

import importlib
import typing


if typing.TYPE_CHECKING:
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

# Names are imported on first use: ``import revops_ingest.quality`` costs next to
# nothing, and ``check`` loads the checker (and pyarrow, which a caller holding a
# dataframe has loaded already) without the alert and notifier machinery.
_WHERE = {
    "ALERT_LOG_DATASET": "revops_ingest.quality._alerts",
    "ALERT_LOG_SCHEMA": "revops_ingest.quality._alerts",
    "Alert": "revops_ingest.quality._alerts",
    "AlertItem": "revops_ingest.quality._alerts",
    "AlertRouter": "revops_ingest.quality._alerts",
    "AlertRule": "revops_ingest.quality._rules",
    "Channel": "revops_ingest.quality._rules",
    "CheckResult": "revops_ingest.quality._result",
    "Checker": "revops_ingest.quality._checker",
    "Condition": "revops_ingest.quality._rules",
    "DEFAULT_RULES": "revops_ingest.quality._rules",
    "Delivery": "revops_ingest.quality._alerts",
    "EmailNotifier": "revops_ingest.quality._notifiers",
    "LakeMetricsStore": "revops_ingest.quality._history",
    "METRICS_DATASET": "revops_ingest.quality._history",
    "METRICS_SCHEMA": "revops_ingest.quality._history",
    "MemoryMetricsStore": "revops_ingest.quality._history",
    "MetricsStore": "revops_ingest.quality._history",
    "Notifier": "revops_ingest.quality._notifiers",
    "PagerDutyNotifier": "revops_ingest.quality._notifiers",
    "QualityResult": "revops_ingest.quality._result",
    "RULES_DATASET": "revops_ingest.quality._rules",
    "RULES_SCHEMA": "revops_ingest.quality._rules",
    "RoutingReport": "revops_ingest.quality._alerts",
    "RunMetrics": "revops_ingest.quality._history",
    "STAGING_CHECKS": "revops_ingest.quality._staging",
    "Severity": "revops_ingest.quality._severity",
    "SlackNotifier": "revops_ingest.quality._notifiers",
    "StagingQualityReport": "revops_ingest.quality._staging",
    "Status": "revops_ingest.quality._severity",
    "alert_for_result": "revops_ingest.quality._alerts",
    "alert_for_sync": "revops_ingest.quality._alerts",
    "alerts_for_syncs": "revops_ingest.quality._alerts",
    "check": "revops_ingest.quality._checker",
    "check_staging": "revops_ingest.quality._staging",
    "check_syncs": "revops_ingest.quality._staging",
    "load_rules": "revops_ingest.quality._rules",
    "rules_table": "revops_ingest.quality._rules",
}


def __getattr__(name: str) -> typing.Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # once resolved, a plain module attribute
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
