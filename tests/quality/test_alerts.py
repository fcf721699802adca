"""Alerts from results and syncs, routed by severity, deduplicated, resolved."""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pytest
from quality_helpers import sync_run

from revops_ingest import Secret
from revops_ingest._audit import SYNC_LOG
from revops_ingest.http import RetryPolicy
from revops_ingest.quality import (
    ALERT_LOG_DATASET,
    AlertRouter,
    AlertRule,
    PagerDutyNotifier,
    Severity,
    SlackNotifier,
    alert_for_result,
    alert_for_sync,
    check,
)
from revops_ingest.testing import Fault
from revops_ingest.testing._notifiers import PagerDutyEmulator, SlackWebhookEmulator


def _result(nulls=0, dupes=0, severity="high", dataset="/RevOps/Staging/opportunities"):
    ids = list(range(100 - dupes)) + [0] * dupes
    accounts = [None] * nulls + ["a"] * (100 - nulls)
    table = pa.table({"opportunity_id": ids, "account_id": accounts})
    return (
        check(table, dataset=dataset)
        .assert_no_nulls("account_id", severity=severity)
        .assert_unique("opportunity_id", severity=severity)
        .finalize()
    )


class _Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now


class _Recorder:
    """A notifier that records, and fails on request."""

    def __init__(self, kind, fail=False):
        self.kind = kind
        self.fail = fail
        self.sent = []

    def send(self, alert, *, target=None):
        if self.fail:
            raise ConnectionError("token=SECRET-123 refused")
        self.sent.append(("trigger", alert.key, alert.severity, target))

    def resolve(self, alert, *, target=None):
        self.sent.append(("resolve", alert.key, None, target))

    def preview(self, alert, *, action="trigger", target=None):
        return f"{self.kind} {action} {alert.summary}"

    def secrets(self):
        return (Secret("SECRET-123"),)


@pytest.fixture(name="channels")
def _channels():
    return {k: _Recorder(k) for k in ("pagerduty", "slack", "email")}


class TestAlertForResult:
    def test_null_rule_raises_high_above_five_percent(self):
        """8 % nulls match '>5% null values' and the failed check: High."""
        alert = alert_for_result(_result(nulls=8, severity="low"))

        (item,) = alert.items
        assert (Severity.HIGH, "no_nulls(account_id)") == (item.severity, item.name)
        assert (">5% null values",) == item.conditions

    def test_failed_checks_keep_their_own_severity(self):
        """A failed critical check is a critical item under 'Check failed'."""
        alert = alert_for_result(_result(dupes=2, severity="critical"))

        assert Severity.CRITICAL == alert.severity
        assert "quality:/RevOps/Staging/opportunities" == alert.key

    def test_low_failures_below_every_rule_raise_nothing(self):
        """A failed Low check with few nulls matches no default rule."""
        assert alert_for_result(_result(nulls=1, severity="low")) is None

    def test_passing_results_raise_nothing(self):
        """No failure, no alert."""
        assert alert_for_result(_result()) is None


class TestRouting:
    def test_routes_by_this_severity_or_worse(self, channels):
        """High goes to Slack and e-mail; Critical to PagerDuty too."""
        router = AlertRouter(notifiers=channels)

        router.route_result(_result(dupes=2, severity="high"))
        router.route_result(_result(dupes=2, severity="critical", dataset="/other"))

        assert [("trigger", "quality:/other", Severity.CRITICAL, None)] == channels[
            "pagerduty"
        ].sent
        assert 2 == len(channels["slack"].sent)
        assert "#data-quality" == channels["slack"].sent[0][3]
        assert 2 == len(channels["email"].sent)

    def test_repeats_are_suppressed_until_renotify_after(self, channels, lake):
        """The same alert is sent once, then again only after renotify_after."""
        clock = _Clock()
        router = AlertRouter(notifiers=channels, lake=lake, clock=clock)

        first = router.route_result(_result(dupes=2))
        clock.now += dt.timedelta(hours=1)
        again = router.route_result(_result(dupes=2))
        clock.now += dt.timedelta(hours=24)
        later = router.route_result(_result(dupes=2))

        assert ["sent", "sent"] == [d.status for d in first.deliveries]
        assert ["suppressed", "suppressed"] == [d.status for d in again.deliveries]
        assert ["sent", "sent"] == [d.status for d in later.deliveries]
        assert lake.exists(ALERT_LOG_DATASET)

    def test_dedup_state_survives_a_new_router(self, channels, lake):
        """The state is in the lake: another process does not page again."""
        AlertRouter(notifiers=channels, lake=lake).route_result(_result(dupes=2))

        report = AlertRouter(notifiers=channels, lake=lake).route_result(
            _result(dupes=2)
        )

        assert {"suppressed"} == {d.status for d in report.deliveries}

    def test_escalation_and_new_failures_are_sent(self, channels):
        """Worse severity, or a newly failing check, is sent despite dedup."""
        router = AlertRouter(notifiers=channels)
        router.route_result(_result(dupes=2))

        worse = router.route_result(_result(dupes=2, severity="critical"))
        more = router.route_result(_result(dupes=2, nulls=1, severity="critical"))

        reasons = {d.channel: d.reason for d in worse.deliveries}
        assert {
            "pagerduty": "new",
            "slack:#data-quality": "severity increased",
            "email": "severity increased",
        } == reasons
        assert {"new failing checks"} == {
            d.reason for d in more.deliveries if d.status == "sent"
        }

    def test_healthy_again_resolves_every_told_channel(self, channels):
        """When the dataset passes, channels that were told get a resolve."""
        router = AlertRouter(notifiers=channels)
        router.route_result(_result(dupes=2, severity="critical"))

        report = router.route_result(_result())

        assert {
            ("pagerduty", "resolve"),
            ("slack:#data-quality", "resolve"),
            (
                "email",
                "resolve",
            ),
        } == {(d.channel, d.action) for d in report.deliveries}
        assert ("resolve", "quality:/RevOps/Staging/opportunities", None, None) == (
            channels["pagerduty"].sent[-1]
        )

    def test_less_severe_resolves_the_channels_it_no_longer_reaches(self, channels):
        """Critical then Medium: PagerDuty and Slack are resolved, e-mail is not."""
        router = AlertRouter(notifiers=channels)
        router.route_result(_result(dupes=2, severity="critical"))

        report = router.route_result(_result(dupes=2, severity="medium"))

        assert {("pagerduty", "resolve"), ("slack:#data-quality", "resolve")} == {
            (d.channel, d.action) for d in report.deliveries if d.action == "resolve"
        }

    def test_a_failing_notifier_is_reported_and_retried_next_time(self, channels):
        """The failure is in the report with secrets masked; the next run retries."""
        channels["slack"].fail = True
        router = AlertRouter(notifiers=channels)

        report = router.route_result(_result(dupes=2))
        channels["slack"].fail = False
        retry = router.route_result(_result(dupes=2))

        (failed,) = report.failed
        assert "slack:#data-quality" == failed.channel
        assert "SECRET-123" not in failed.error
        assert not report.ok
        assert ["sent", "suppressed"] == [d.status for d in retry.deliveries]

    def test_missing_notifier_is_reported(self):
        """A channel without a notifier is a no_notifier delivery, not a crash."""
        report = AlertRouter().route_result(_result(dupes=2))

        assert {"no_notifier"} == {d.status for d in report.deliveries}

    def test_dry_run_prints_and_sends_nothing(self, channels, lake):
        """A dry run prints each would-be message and writes no state."""
        out = io.StringIO()
        router = AlertRouter(notifiers=channels, lake=lake, dry_run=True, out=out)

        report = router.route_result(_result(dupes=2, severity="critical"))

        assert {"dry_run"} == {d.status for d in report.deliveries}
        assert [] == channels["pagerduty"].sent
        assert "[dry-run] would trigger pagerduty" in out.getvalue()
        assert not lake.exists(ALERT_LOG_DATASET)

    def test_notifier_per_channel_wins_over_per_kind(self):
        """'slack:#data-quality' is used before 'slack'."""
        specific, general = _Recorder("slack"), _Recorder("slack")
        rules = [AlertRule("Check failed", "Low", "Slack #data-quality")]
        router = AlertRouter(
            rules=rules, notifiers={"slack": general, "slack:#data-quality": specific}
        )

        router.route_result(_result(dupes=2))

        assert (1, 0) == (len(specific.sent), len(general.sent))


class TestSyncFailures:
    def test_a_failed_sync_is_a_critical_page(self, channels, lake):
        """The latest failed sync pages (no DataFrame); a success resolves it."""
        lake.append(SYNC_LOG, sync_run("success", minute=0).to_table())
        lake.append(SYNC_LOG, sync_run("failed", minute=1).to_table())
        lake.append(SYNC_LOG, sync_run("success", obj="Account").to_table())
        router = AlertRouter(notifiers=channels, lake=lake)

        first = router.route_syncs()
        repeat = router.route_syncs()
        lake.append(SYNC_LOG, sync_run("success", minute=2).to_table())
        healed = router.route_syncs()

        (alert,) = first.alerts
        assert ("sync:Salesforce:Opportunity", Severity.CRITICAL) == (
            alert.key,
            alert.severity,
        )
        assert "503 from Salesforce" in alert.summary
        assert 1 == alert.details["consecutive_failures"]
        assert {"sent"} == {d.status for d in first.deliveries}
        assert {"suppressed"} == {d.status for d in repeat.deliveries}
        assert ("resolve", "sync:Salesforce:Opportunity", None, None) == (
            channels["pagerduty"].sent[-1]
        )
        assert {"resolve"} == {d.action for d in healed.deliveries}

    def test_alert_for_a_sync_run(self):
        """alert_for_sync turns one failed SyncRun into a Critical alert."""
        assert alert_for_sync(sync_run("success")) is None
        assert Severity.CRITICAL == alert_for_sync(sync_run("failed")).severity


class TestEndToEnd:
    def test_router_with_the_emulators(self, lake):
        """Real notifiers against the emulators: one page, one Slack message."""
        fast = RetryPolicy(max_tries=3, initial_wait=0.0, jitter=False)
        with PagerDutyEmulator() as pd, SlackWebhookEmulator() as slack:
            pd.inject(Fault.status(502))
            router = AlertRouter(
                lake=lake,
                notifiers={
                    "pagerduty": PagerDutyNotifier(
                        "k" * 32, base_url=pd.url, retry=fast
                    ),
                    "slack": SlackNotifier(slack.webhook_url(), retry=fast),
                },
            )

            report = router.route_result(_result(dupes=2, severity="critical"))
            router.route_result(_result(dupes=2, severity="critical"))

            assert 1 == pd.pages
            assert 1 == len(slack.messages)
            assert "unique(opportunity_id)" in slack.texts()[0]
            assert {"sent", "no_notifier"} == {d.status for d in report.deliveries}
