"""Alerts from quality results and failed syncs, routed to notifiers with dedup.

An :class:`Alert` is one problem with one thing: a dataset whose checks failed (its
items list each failing check), or an object whose latest sync failed. Its ``key``
(``quality:<dataset>`` or ``sync:<system>:<object>``) is the dedup key: the router
keeps what it sent in ``/RevOps/Quality/alert_log`` and does not send the same alert
to the same channel again until it gets worse, gains a failing check, or
``renotify_after`` has passed. When the thing is healthy again, every channel that
was told is sent a *resolve* (PagerDuty closes the incident).

A notifier that fails is retried by the notifier (HTTP retries; SMTP a few tries),
then reported as a failed :class:`Delivery`; the router never raises for it, and the
quality result is unaffected.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import typing

import attrs
import pyarrow as pa

from revops_ingest._secrets import redact
from revops_ingest.exceptions import DatasetNotFoundError
from revops_ingest.quality._result import jsonable
from revops_ingest.quality._rules import (
    DEFAULT_RULES,
    AlertRule,
    Channel,
    channel_thresholds,
)
from revops_ingest.quality._severity import Severity


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from revops_ingest._audit import SyncRun
    from revops_ingest._lake import Lake
    from revops_ingest.quality._notifiers import Notifier
    from revops_ingest.quality._result import QualityResult


__all__ = [
    "ALERT_LOG_DATASET",
    "ALERT_LOG_SCHEMA",
    "Action",
    "Alert",
    "AlertItem",
    "AlertRouter",
    "Delivery",
    "RoutingReport",
    "alert_for_result",
    "alert_for_sync",
    "alerts_for_syncs",
]

ALERT_LOG_DATASET = "/RevOps/Quality/alert_log"
"""Where :class:`AlertRouter` keeps what it sent (the dedup state)."""

_TS = pa.timestamp("us", tz="UTC")
_LOG_FIELDS: list[pa.Field[typing.Any]] = [
    pa.field("alert_key", pa.string(), nullable=False),
    pa.field("channel", pa.string(), nullable=False),
    pa.field("action", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("severity", pa.string()),
    pa.field("fingerprint", pa.string()),
    pa.field("summary", pa.string()),
    pa.field("run_id", pa.string()),
    pa.field("sent_at", _TS, nullable=False),
    pa.field("error", pa.string()),
]
ALERT_LOG_SCHEMA = pa.schema(_LOG_FIELDS)
"""The Arrow schema of ``/RevOps/Quality/alert_log``."""

Action = typing.Literal["trigger", "resolve"]
DeliveryStatus = typing.Literal[
    "sent", "failed", "suppressed", "dry_run", "no_notifier"
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@attrs.frozen(kw_only=True)
class AlertItem:
    """One thing wrong inside an alert: a failing check or a failed sync.

    Attributes:
        name: The check's name (``"unique(opportunity_id)"``) or ``"sync"``.
        severity: Its severity after the rules (the worst of the rules that
            matched and, for a failed check, the check's own).
        message: What was found.
        conditions: The rule conditions that matched it.
        observed: The measured value.
        threshold: The limit.
        failed_count: Failing rows, if any.
        failed_fraction: Their share of all rows.
        samples: Failing values (redacted if the check said so).
    """

    name: str
    severity: Severity
    message: str
    conditions: tuple[str, ...] = ()
    observed: typing.Any = None
    threshold: typing.Any = None
    failed_count: int | None = None
    failed_fraction: float | None = None
    samples: tuple[typing.Any, ...] = ()

    def to_dict(self) -> dict[str, typing.Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "conditions": list(self.conditions),
            "observed": jsonable(self.observed),
            "threshold": jsonable(self.threshold),
            "failed_count": self.failed_count,
            "failed_fraction": jsonable(self.failed_fraction),
            "samples": [jsonable(s) for s in self.samples],
        }


@attrs.frozen(kw_only=True)
class Alert:
    """A problem to tell people about.

    Attributes:
        key: The dedup key: ``quality:<dataset>`` or ``sync:<system>:<object>``.
        kind: ``"quality"`` or ``"sync"``.
        source: The dataset, or ``"<system> <object>"`` for a sync.
        severity: The worst severity among its items.
        summary: One line for a page title or an e-mail subject.
        items: What is wrong, worst first.
        run_id: The quality run or sync that found it.
        created_at: When the alert was made (UTC).
        details: Extra context (sync id, error type, ...).
    """

    key: str
    kind: typing.Literal["quality", "sync"]
    source: str
    severity: Severity
    summary: str
    items: tuple[AlertItem, ...]
    run_id: str = ""
    created_at: dt.datetime = attrs.field(factory=_now)
    details: Mapping[str, typing.Any] = attrs.field(factory=dict)

    @property
    def fingerprint(self) -> str:
        """Item names, sorted and joined (a new name means a new problem)."""
        return "\n".join(sorted(i.name for i in self.items))

    def to_dict(self) -> dict[str, typing.Any]:
        """A JSON-ready dictionary."""
        return {
            "key": self.key,
            "kind": self.kind,
            "source": self.source,
            "severity": self.severity.value,
            "summary": self.summary,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "items": [i.to_dict() for i in self.items],
            "details": jsonable(dict(self.details)),
        }


def quality_key(dataset: str | None) -> str:
    """The dedup key of a dataset's quality alert."""
    return f"quality:{dataset or 'unnamed'}"


def sync_key(source_system: str, object_type: str) -> str:
    """The dedup key of an object's sync-failure alert."""
    return f"sync:{source_system}:{object_type}"


def alert_for_result(
    result: QualityResult, rules: Sequence[AlertRule] = DEFAULT_RULES
) -> Alert | None:
    """The alert *result* raises under *rules*, or ``None`` if no rule matches."""
    items: list[AlertItem] = []
    for check in result.checks:
        matched: list[AlertRule] = []
        severities: list[Severity] = []
        for rule in rules:
            if not rule.condition.matches(check):
                continue
            if rule.condition.kind == "check_failed":
                if check.severity < rule.severity:
                    continue  # below this rule's floor
                severities.append(check.severity)
            else:
                severities.append(rule.severity)
            matched.append(rule)
        if not matched:
            continue
        severity = max(severities)
        items.append(
            AlertItem(
                name=check.name,
                severity=severity,
                message=check.message,
                conditions=tuple(dict.fromkeys(str(r.condition) for r in matched)),
                observed=check.observed,
                threshold=check.threshold,
                failed_count=check.failed_count,
                failed_fraction=check.failed_fraction,
                samples=check.samples,
            )
        )
    if not items:
        return None
    items.sort(key=lambda i: i.severity, reverse=True)
    worst = items[0].severity
    source = result.dataset or "unnamed data"
    noun = "problem" if len(items) == 1 else "problems"
    return Alert(
        key=quality_key(result.dataset),
        kind="quality",
        source=source,
        severity=worst,
        summary=f"[{worst.value.upper()}] {len(items)} data-quality {noun} in {source}"
        f": {', '.join(i.name for i in items[:3])}"
        + (", ..." if len(items) > 3 else ""),  # noqa: PLR2004
        items=tuple(items),
        run_id=result.run_id,
        created_at=result.checked_at,
        details={"row_count": result.row_count, "engine": result.engine},
    )


def _sync_severity(rules: Sequence[AlertRule]) -> Severity | None:
    matched = [r.severity for r in rules if r.condition.kind == "sync_failed"]
    return max(matched) if matched else None


def _sync_alert(
    *,
    severity: Severity,
    source_system: str,
    object_type: str,
    sync_id: str,
    error_type: str | None,
    error_message: str | None,
    started: dt.datetime | None,
    extra: Mapping[str, typing.Any],
) -> Alert:
    what = f"{source_system} {object_type}"
    error = error_message or "no error message"
    return Alert(
        key=sync_key(source_system, object_type),
        kind="sync",
        source=what,
        severity=severity,
        summary=f"[{severity.value.upper()}] {what} sync failed: {error}"[:1000],
        items=(
            AlertItem(
                name="sync",
                severity=severity,
                message=f"{error_type or 'error'}: {error}",
                conditions=("sync failed",),
            ),
        ),
        run_id=sync_id,
        created_at=started or _now(),
        details={"sync_id": sync_id, "error_type": error_type, **extra},
    )


def alert_for_sync(
    run: SyncRun, rules: Sequence[AlertRule] = DEFAULT_RULES
) -> Alert | None:
    """The alert a failed sync raises (``None`` if it succeeded or no rule says)."""
    severity = _sync_severity(rules)
    if run.succeeded or severity is None:
        return None
    return _sync_alert(
        severity=severity,
        source_system=run.source_system,
        object_type=run.object_type,
        sync_id=run.sync_id,
        error_type=run.error_type,
        error_message=run.error_message,
        started=run.start_time,
        extra={"dataset": run.dataset},
    )


def alerts_for_syncs(
    lake: Lake, rules: Sequence[AlertRule] = DEFAULT_RULES
) -> tuple[list[Alert], list[str]]:
    """Alerts for every object whose latest sync failed, from the audit log.

    Returns:
        The alerts, and the dedup keys of objects whose latest sync succeeded
        (those alerts, if open, are resolved).
    """
    from revops_ingest._audit import sync_status  # noqa: PLC0415

    severity = _sync_severity(rules)
    alerts: list[Alert] = []
    healthy: list[str] = []
    for row in sync_status(lake).to_pylist():
        key = sync_key(row["source_system"], row["object_type"])
        if row["status"] != "failed":
            healthy.append(key)
            continue
        if severity is None:
            continue
        alerts.append(
            _sync_alert(
                severity=severity,
                source_system=row["source_system"],
                object_type=row["object_type"],
                sync_id=row["sync_id"],
                error_type=row["error_type"],
                error_message=row["error_message"],
                started=row["start_time"],
                extra={
                    "dataset": row["dataset"],
                    "consecutive_failures": row["consecutive_failures"],
                    "last_success_time": row["last_success_time"],
                },
            )
        )
    return alerts, healthy


# ---------------------------------------------------------------- routing


@attrs.frozen(kw_only=True)
class Delivery:
    """What happened to one alert on one channel.

    Attributes:
        alert_key: The alert's dedup key.
        channel: The channel (``"slack:#data-quality"``).
        action: ``"trigger"`` or ``"resolve"``.
        status: ``sent``; ``failed`` (after the notifier's retries; see *error*);
            ``suppressed`` (already sent, see *reason*); ``dry_run``; or
            ``no_notifier`` (no notifier configured for the channel).
        reason: Why it was sent or suppressed.
        error: The failure, secrets masked.
    """

    alert_key: str
    channel: str
    action: Action
    status: DeliveryStatus
    reason: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, typing.Any]:
        """A JSON-ready dictionary."""
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class RoutingReport:
    """What the router did.

    Attributes:
        alerts: The alerts considered.
        deliveries: One entry per alert and channel (and per resolve).
        warnings: Problems with the dedup log (reading or writing it).
    """

    alerts: tuple[Alert, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no delivery failed and no notifier was missing."""
        return not any(d.status in {"failed", "no_notifier"} for d in self.deliveries)

    @property
    def failed(self) -> tuple[Delivery, ...]:
        """The deliveries that failed."""
        return tuple(d for d in self.deliveries if d.status == "failed")

    @property
    def sent(self) -> tuple[Delivery, ...]:
        """The deliveries that went out."""
        return tuple(d for d in self.deliveries if d.status == "sent")

    def __add__(self, other: RoutingReport) -> RoutingReport:
        return RoutingReport(
            alerts=self.alerts + other.alerts,
            deliveries=self.deliveries + other.deliveries,
            warnings=self.warnings + other.warnings,
        )

    def to_dict(self) -> dict[str, typing.Any]:
        """A JSON-ready dictionary."""
        return {
            "ok": self.ok,
            "alerts": [a.to_dict() for a in self.alerts],
            "deliveries": [d.to_dict() for d in self.deliveries],
            "warnings": list(self.warnings),
        }


@attrs.frozen
class _Sent:
    action: str
    severity: Severity | None
    fingerprint: str
    sent_at: dt.datetime


class AlertRouter:
    """Sends alerts to the channels their severity reaches, once.

    Args:
        rules: The rules (see :func:`load_rules`); the defaults if not given.
        notifiers: Notifiers by channel: a key is a channel kind (``"pagerduty"``,
            ``"slack"``, ``"email"``) or a kind with its target
            (``"slack:#data-quality"``), which wins.
        lake: Keep the dedup state in this lake's *log_path*. Without a lake the
            state lives in this router only.
        log_path: The dedup log dataset.
        dry_run: Print what would be sent, send nothing and write nothing.
        renotify_after: Send an unchanged open alert again after this long;
            ``None`` for never.
        out: Where a dry run prints (standard output by default).
        clock: The current time (a seam for tests).
    """

    def __init__(
        self,
        *,
        rules: Sequence[AlertRule] = DEFAULT_RULES,
        notifiers: Mapping[str, Notifier] | None = None,
        lake: Lake | None = None,
        log_path: str = ALERT_LOG_DATASET,
        dry_run: bool = False,
        renotify_after: dt.timedelta | None = dt.timedelta(hours=24),
        out: typing.TextIO | None = None,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.rules = tuple(rules)
        self.notifiers = dict(notifiers or {})
        self.lake = lake
        self.log_path = log_path
        self.dry_run = dry_run
        self.renotify_after = renotify_after
        self.out = out
        self.clock = clock
        self._memory: list[dict[str, typing.Any]] = []
        self._thresholds = channel_thresholds(self.rules)

    def __repr__(self) -> str:
        mode = " dry-run" if self.dry_run else ""
        return f"<AlertRouter{mode} {len(self.rules)} rules, {sorted(self.notifiers)}>"

    # -- entry points

    def route_result(self, result: QualityResult) -> RoutingReport:
        """Route the alert of one quality result, and resolve it if it passed."""
        alert = alert_for_result(result, self.rules)
        return self.route(
            [alert] if alert is not None else [],
            healthy=[] if alert is not None else [quality_key(result.dataset)],
        )

    def route_syncs(self, lake: Lake | None = None) -> RoutingReport:
        """Alert on every object whose latest sync failed; resolve recovered ones."""
        source = lake if lake is not None else self.lake
        if source is None:
            msg = "route_syncs needs a lake (here or on the router)"
            raise ValueError(msg)
        alerts, healthy = alerts_for_syncs(source, self.rules)
        return self.route(alerts, healthy=healthy)

    def route(
        self, alerts: Sequence[Alert], *, healthy: Iterable[str] = ()
    ) -> RoutingReport:
        """Send *alerts* where they belong; resolve the *healthy* keys' open alerts.

        Never raises for a notifier: failures are in the report.
        """
        warnings: list[str] = []
        state = self._state(warnings)
        now = self.clock()
        deliveries: list[Delivery] = []
        log: list[dict[str, typing.Any]] = []
        for alert in alerts:
            channels = self._channels(alert.severity)
            for channel in channels:
                last = state.get((alert.key, channel.key))
                reason = self._reason(alert, last, now)
                if reason is None:
                    assert last is not None
                    deliveries.append(
                        Delivery(
                            alert_key=alert.key,
                            channel=channel.key,
                            action="trigger",
                            status="suppressed",
                            reason=f"already sent at {last.sent_at.isoformat()}",
                        )
                    )
                    continue
                deliveries.append(
                    self._deliver(alert, channel, "trigger", reason, now, log)
                )
            # Channels told earlier that this alert no longer reaches (it got less
            # severe) are told it is over for them.
            reached = {c.key for c in channels}
            deliveries.extend(
                self._resolve(alert.key, state, now, log, keep=reached, why="below")
            )
        alerting = {a.key for a in alerts}
        for key in dict.fromkeys(healthy):
            if key not in alerting:
                deliveries.extend(self._resolve(key, state, now, log))
        if log and not self.dry_run:
            self._write(log, warnings)
        return RoutingReport(
            alerts=tuple(alerts), deliveries=tuple(deliveries), warnings=tuple(warnings)
        )

    def _resolve(
        self,
        key: str,
        state: Mapping[tuple[str, str], _Sent],
        now: dt.datetime,
        log: list[dict[str, typing.Any]],
        *,
        keep: set[str] | frozenset[str] = frozenset(),
        why: str = "healthy",
    ) -> list[Delivery]:
        done: list[Delivery] = []
        for (alert_key, channel_key), last in sorted(state.items()):
            if alert_key != key or last.action != "trigger" or channel_key in keep:
                continue
            channel = Channel.parse(channel_key.replace(":", " ", 1))
            resolved = _resolved_alert(key, last, now)
            reason = (
                "healthy again"
                if why == "healthy"
                else "no longer severe enough for this channel"
            )
            done.append(self._deliver(resolved, channel, "resolve", reason, now, log))
        return done

    # -- decisions

    def _channels(self, severity: Severity) -> list[Channel]:
        return [c for c, floor in self._thresholds.items() if severity >= floor]

    def _reason(self, alert: Alert, last: _Sent | None, now: dt.datetime) -> str | None:
        if last is None or last.action != "trigger":
            return "new"
        if last.severity is None or alert.severity > last.severity:
            return "severity increased"
        if not set(alert.fingerprint.split("\n")) <= set(last.fingerprint.split("\n")):
            return "new failing checks"
        if (
            self.renotify_after is not None
            and now - last.sent_at >= self.renotify_after
        ):
            return f"still failing after {self.renotify_after}"
        return None

    def _notifier(self, channel: Channel) -> Notifier | None:
        return self.notifiers.get(channel.key) or self.notifiers.get(channel.kind)

    def _deliver(  # noqa: PLR0917 - private, called from two places
        self,
        alert: Alert,
        channel: Channel,
        action: Action,
        reason: str,
        now: dt.datetime,
        log: list[dict[str, typing.Any]],
    ) -> Delivery:
        notifier = self._notifier(channel)
        if self.dry_run:
            if notifier is not None:
                preview = notifier.preview(alert, action=action, target=channel.target)
            else:
                preview = json.dumps(alert.to_dict(), indent=2)
            out = self.out if self.out is not None else sys.stdout
            print(
                f"[dry-run] would {action} {channel.key} for {alert.key} "
                f"({alert.severity.value}; {reason}):\n{preview}",
                file=out,
            )
            return Delivery(
                alert_key=alert.key,
                channel=channel.key,
                action=action,
                status="dry_run",
                reason=reason,
            )
        if notifier is None:
            return Delivery(
                alert_key=alert.key,
                channel=channel.key,
                action=action,
                status="no_notifier",
                reason=reason,
                error=f"no notifier configured for {channel.key!r}",
            )
        try:
            if action == "trigger":
                notifier.send(alert, target=channel.target)
            else:
                notifier.resolve(alert, target=channel.target)
        except Exception as exc:  # noqa: BLE001 - reported, never hides the result
            error = redact(f"{type(exc).__name__}: {exc}", notifier.secrets())
            log.append(self._row(alert, channel, action, "failed", now, error))
            return Delivery(
                alert_key=alert.key,
                channel=channel.key,
                action=action,
                status="failed",
                reason=reason,
                error=error,
            )
        log.append(self._row(alert, channel, action, "sent", now, None))
        return Delivery(
            alert_key=alert.key,
            channel=channel.key,
            action=action,
            status="sent",
            reason=reason,
        )

    # -- the dedup log

    @staticmethod
    def _row(  # noqa: PLR0917 - private, a row's fields in order
        alert: Alert,
        channel: Channel,
        action: Action,
        status: str,
        now: dt.datetime,
        error: str | None,
    ) -> dict[str, typing.Any]:
        return {
            "alert_key": alert.key,
            "channel": channel.key,
            "action": action,
            "status": status,
            "severity": alert.severity.value,
            "fingerprint": alert.fingerprint,
            "summary": alert.summary,
            "run_id": alert.run_id,
            "sent_at": now,
            "error": error,
        }

    def _rows(self, warnings: list[str]) -> list[dict[str, typing.Any]]:
        if self.lake is None:
            return list(self._memory)
        try:
            table = self.lake.read(self.log_path)
        except DatasetNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001 - alerting must go on without it
            warnings.append(f"the alert log could not be read: {exc}")
            return []
        rows: list[dict[str, typing.Any]] = table.select(
            ALERT_LOG_SCHEMA.names
        ).to_pylist()
        return rows

    def _state(self, warnings: list[str]) -> dict[tuple[str, str], _Sent]:
        state: dict[tuple[str, str], _Sent] = {}
        rows = sorted(self._rows(warnings), key=lambda r: r["sent_at"])
        for row in rows:
            if row["status"] != "sent":
                continue
            severity = row["severity"]
            state[(row["alert_key"], row["channel"])] = _Sent(
                action=row["action"],
                severity=Severity.parse(severity) if severity else None,
                fingerprint=row["fingerprint"] or "",
                sent_at=row["sent_at"],
            )
        return state

    def _write(self, log: list[dict[str, typing.Any]], warnings: list[str]) -> None:
        if self.lake is None:
            self._memory.extend(log)
            return
        try:
            self.lake.append(
                self.log_path, pa.Table.from_pylist(log, schema=ALERT_LOG_SCHEMA)
            )
        except Exception as exc:  # noqa: BLE001 - the alerts went out; say so
            warnings.append(f"the alert log could not be written: {exc}")


def _resolved_alert(key: str, last: _Sent, now: dt.datetime) -> Alert:
    kind: typing.Literal["quality", "sync"] = (
        "sync" if key.startswith("sync:") else "quality"
    )
    source = key.split(":", 1)[1].replace(":", " ")
    return Alert(
        key=key,
        kind=kind,
        source=source,
        severity=last.severity or Severity.LOW,
        summary=f"[RESOLVED] {source} is healthy again",
        items=(),
        created_at=now,
    )
