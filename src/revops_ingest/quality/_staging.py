"""The seed's checks on every staging dataset, with metrics recorded and alerts routed.

``build_staging`` calls :func:`check_staging` after writing the staging datasets;
an operator can call it (or :func:`check_syncs`) from anywhere with a lake.
"""

from __future__ import annotations

import datetime as dt
import typing

import attrs

from revops_ingest.quality._alerts import AlertRouter, RoutingReport
from revops_ingest.quality._checker import Checker, check
from revops_ingest.quality._history import LakeMetricsStore
from revops_ingest.quality._rules import load_rules


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from revops_ingest._lake import Lake
    from revops_ingest.quality._notifiers import Notifier
    from revops_ingest.quality._result import QualityResult
    from revops_ingest.quality._rules import AlertRule
    from revops_ingest.quality._severity import Severity


__all__ = ["STAGING_CHECKS", "StagingQualityReport", "check_staging", "check_syncs"]


def _opportunities(checker: Checker) -> Checker:
    # Imported here: staging is developed alongside and may not import yet.
    from revops_ingest.staging import VALID_STAGES  # noqa: PLC0415

    return (
        checker.assert_not_empty(min_rows=1)
        .assert_no_nulls("opportunity_id", "account_id")
        .assert_unique("opportunity_id")
        .assert_values_in("stage_name", VALID_STAGES)
        .assert_row_count_change(max_drop=0.2)
    )


def _keyed(key: str) -> Callable[[Checker], Checker]:
    def build(checker: Checker) -> Checker:
        return (
            checker.assert_not_empty(min_rows=1)
            .assert_no_nulls(key)
            .assert_unique(key)
            .assert_row_count_change(max_drop=0.2)
        )

    return build


STAGING_CHECKS: Mapping[str, tuple[tuple[str, ...], Callable[[Checker], Checker]]] = {
    "/RevOps/Staging/opportunities": (
        ("opportunity_id", "account_id", "stage_name"),
        _opportunities,
    ),
    "/RevOps/Staging/accounts": (("account_id",), _keyed("account_id")),
    "/RevOps/Staging/contacts": (("contact_id",), _keyed("contact_id")),
    "/RevOps/Staging/activities": (("activity_id",), _keyed("activity_id")),
    "/RevOps/Telemetry/support_tickets": (("ticket_id",), _keyed("ticket_id")),
}
"""Each staging dataset: the columns its checks read, and the checks (the seed's:
not empty, ids non-null and unique, stages valid; plus a row-count drop of at most
20 % since the previous run, the seed's Medium alert)."""


@attrs.frozen(kw_only=True)
class StagingQualityReport:
    """What :func:`check_staging` found and sent.

    Attributes:
        results: The quality result of each staging dataset that exists.
        missing: Staging datasets that do not exist (yet); not checked.
        routing: What the alert router did.
    """

    results: Mapping[str, QualityResult]
    missing: tuple[str, ...] = ()
    routing: RoutingReport = attrs.field(factory=RoutingReport)

    @property
    def passed(self) -> bool:
        """Whether every checked dataset passed."""
        return all(r.passed for r in self.results.values())

    @property
    def worst_severity(self) -> Severity | None:
        """The worst severity among failed checks of all datasets."""
        found = [r.worst_severity for r in self.results.values()]
        present = [s for s in found if s is not None]
        return max(present) if present else None

    def to_dict(self) -> dict[str, typing.Any]:
        """A JSON-ready dictionary."""
        worst = self.worst_severity
        return {
            "passed": self.passed,
            "worst_severity": worst.value if worst is not None else None,
            "results": {k: v.to_dict() for k, v in self.results.items()},
            "missing": list(self.missing),
            "routing": self.routing.to_dict(),
        }


def _router(
    lake: Lake,
    *,
    router: AlertRouter | None,
    rules: Sequence[AlertRule] | None,
    notifiers: Mapping[str, Notifier] | None,
    dry_run: bool,
    renotify_after: dt.timedelta | None,
    out: typing.TextIO | None,
) -> AlertRouter:
    if router is not None:
        return router
    return AlertRouter(
        rules=load_rules(lake) if rules is None else rules,
        notifiers=notifiers,
        lake=lake,
        dry_run=dry_run,
        renotify_after=renotify_after,
        out=out,
    )


def check_staging(
    lake: Lake,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    rules: Sequence[AlertRule] | None = None,
    dry_run: bool = False,
    router: AlertRouter | None = None,
    include_syncs: bool = True,
    renotify_after: dt.timedelta | None = dt.timedelta(hours=24),
    sample_size: int = 5,
    redact_samples: bool = False,
    out: typing.TextIO | None = None,
) -> StagingQualityReport:
    """Run the seed's checks on each staging dataset, record metrics, route alerts.

    Checks ``/RevOps/Staging/{opportunities,accounts,contacts,activities}`` (those
    that exist; see :data:`STAGING_CHECKS`), reading only the columns the checks
    need, records each run in ``/RevOps/Quality/metrics``, and routes alerts under
    the rules in ``/RevOps/Config/quality_alerts`` (the defaults if absent). With
    *include_syncs*, objects whose latest sync failed alert too (Critical).

    Never raises for a failed check or a failed notifier: both are in the report.

    Args:
        lake: The lake.
        notifiers: Notifiers by channel (``{"pagerduty": ..., "slack": ...}``).
        rules: Rules to use instead of the lake's.
        dry_run: Print what would be sent; send and log nothing (metrics are
            still recorded).
        router: A ready router (its rules, notifiers and mode win).
        include_syncs: Also alert on failed syncs from the audit log.
        renotify_after: Repeat an unchanged open alert after this long.
        sample_size: Failing values kept per check.
        redact_samples: Hash sample values (they go to Slack and e-mail).
        out: Where a dry run prints.
    """
    route = _router(
        lake,
        router=router,
        rules=rules,
        notifiers=notifiers,
        dry_run=dry_run,
        renotify_after=renotify_after,
        out=out,
    )
    store = LakeMetricsStore(lake)
    results: dict[str, QualityResult] = {}
    missing: list[str] = []
    report = RoutingReport()
    for path, (columns, build) in STAGING_CHECKS.items():
        if not lake.exists(path):
            missing.append(path)
            continue
        available = set(lake.schema(path).names)
        table = lake.read(path, columns=[c for c in columns if c in available])
        checker = check(
            table,
            dataset=path,
            store=store,
            sample_size=sample_size,
            redact_samples=redact_samples,
        )
        result = build(checker).finalize()
        results[path] = result
        report += route.route_result(result)
    if include_syncs:
        report += route.route_syncs(lake)
    return StagingQualityReport(results=results, missing=tuple(missing), routing=report)


def check_syncs(
    lake: Lake,
    *,
    notifiers: Mapping[str, Notifier] | None = None,
    rules: Sequence[AlertRule] | None = None,
    dry_run: bool = False,
    router: AlertRouter | None = None,
    renotify_after: dt.timedelta | None = dt.timedelta(hours=24),
    out: typing.TextIO | None = None,
) -> RoutingReport:
    """Alert on every object whose latest sync failed (no DataFrame involved).

    Reads ``/RevOps/Audit/sync_log``; a failed sync is a Critical alert under the
    default rules (PagerDuty), deduplicated per source system and object, and
    resolved once a later sync of the object succeeds.
    """
    route = _router(
        lake,
        router=router,
        rules=rules,
        notifiers=notifiers,
        dry_run=dry_run,
        renotify_after=renotify_after,
        out=out,
    )
    return route.route_syncs(lake)
