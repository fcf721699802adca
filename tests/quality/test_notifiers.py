"""Notifiers against local emulators (PagerDuty, Slack) and a real SMTP server."""

from __future__ import annotations

import email
import email.policy

import pytest
from quality_helpers import free_port

from revops_ingest.exceptions import (
    AuthenticationError,
    RateLimitError,
    TransportError,
    UnexpectedResponseError,
)
from revops_ingest.http import RetryPolicy
from revops_ingest.quality import (
    Alert,
    AlertItem,
    EmailNotifier,
    PagerDutyNotifier,
    Severity,
    SlackNotifier,
)
from revops_ingest.testing import Fault
from revops_ingest.testing._notifiers import PagerDutyEmulator, SlackWebhookEmulator


ROUTING_KEY = "R0UTINGKEY0123456789abcdefABCDEF"
FAST = RetryPolicy(max_tries=3, initial_wait=0.01, max_wait=0.01, jitter=False)


def _alert(severity=Severity.HIGH, items=2):
    return Alert(
        key="quality:/RevOps/Staging/opportunities",
        kind="quality",
        source="/RevOps/Staging/opportunities",
        severity=severity,
        summary=f"[{severity.value.upper()}] {items} problems in opportunities",
        items=tuple(
            AlertItem(
                name=f"unique(col{i})",
                severity=severity,
                message=f"{i + 1} rows with a duplicated key",
                samples=(f"006{i:015d}",),
            )
            for i in range(items)
        ),
        run_id="run-1",
    )


@pytest.fixture(name="pagerduty")
def _pagerduty():
    with PagerDutyEmulator(routing_keys=[ROUTING_KEY]) as emulator:
        yield emulator


@pytest.fixture(name="slack")
def _slack():
    with SlackWebhookEmulator() as emulator:
        yield emulator


class TestPagerDutyNotifier:
    def test_trigger_sends_an_events_v2_event(self, pagerduty):
        """A trigger carries the routing key, dedup key and a mapped severity."""
        notifier = PagerDutyNotifier(ROUTING_KEY, base_url=pagerduty.url, retry=FAST)

        notifier.send(_alert(Severity.CRITICAL))

        (event,) = pagerduty.events
        assert ROUTING_KEY == event["routing_key"]
        assert "trigger" == event["event_action"]
        assert "quality:/RevOps/Staging/opportunities" == event["dedup_key"]
        assert "critical" == event["payload"]["severity"]
        assert "/RevOps/Staging/opportunities" == event["payload"]["component"]
        assert {"summary", "source", "severity", "component", "group", "class"} <= set(
            event["payload"]
        )
        assert 2 == len(event["payload"]["custom_details"]["problems"])

    @pytest.mark.parametrize(
        ("severity", "expected"),
        [
            (Severity.CRITICAL, "critical"),
            (Severity.HIGH, "error"),
            (Severity.MEDIUM, "warning"),
            (Severity.LOW, "info"),
        ],
    )
    def test_severity_is_mapped(self, severity, expected):
        """Our four severities map onto PagerDuty's four."""
        notifier = PagerDutyNotifier(ROUTING_KEY)

        assert expected == notifier.event(_alert(severity))["payload"]["severity"]

    def test_repeated_trigger_is_one_incident_and_resolve_closes_it(self, pagerduty):
        """Triggers with one dedup key page once; a resolve closes the incident."""
        notifier = PagerDutyNotifier(ROUTING_KEY, base_url=pagerduty.url, retry=FAST)

        notifier.send(_alert())
        notifier.send(_alert())
        notifier.resolve(_alert())

        incident = pagerduty.incidents["quality:/RevOps/Staging/opportunities"]
        assert (1, 2, "resolved") == (
            pagerduty.pages,
            incident.triggers,
            incident.status,
        )
        assert {"routing_key", "event_action", "dedup_key"} == set(pagerduty.events[-1])

    def test_outage_is_retried(self, pagerduty):
        """A 503 and a dropped connection are retried; the event arrives once."""
        pagerduty.inject(Fault.status(503))
        pagerduty.inject(Fault.drop(skip=1))
        notifier = PagerDutyNotifier(ROUTING_KEY, base_url=pagerduty.url, retry=FAST)

        notifier.send(_alert())

        assert 3 == len(pagerduty.requests)
        assert 1 == len(pagerduty.events)

    def test_rejected_event_is_not_retried_and_hides_the_key(self, pagerduty):
        """A 400 fails at once, and the message never shows the routing key."""
        notifier = PagerDutyNotifier("wrong-key-0123", base_url=pagerduty.url)

        with pytest.raises(UnexpectedResponseError) as info:
            notifier.send(_alert())

        assert 1 == len(pagerduty.requests)
        assert "wrong-key-0123" not in str(info.value)

    def test_throttling_that_persists_fails(self, pagerduty):
        """429s until the retries run out raise RateLimitError."""
        pagerduty.inject(Fault.status(429, times=None))
        notifier = PagerDutyNotifier(ROUTING_KEY, base_url=pagerduty.url, retry=FAST)

        with pytest.raises(RateLimitError):
            notifier.send(_alert())
        assert 3 == len(pagerduty.requests)

    def test_preview_masks_the_routing_key(self):
        """A dry-run preview shows the event without the routing key."""
        preview = PagerDutyNotifier(ROUTING_KEY).preview(_alert())

        assert ROUTING_KEY not in preview
        assert '"event_action": "trigger"' in preview


class TestSlackNotifier:
    def test_message_lists_the_failing_checks(self, slack):
        """The posted message names the dataset, every failing check and samples."""
        notifier = SlackNotifier(slack.webhook_url(), retry=FAST)

        notifier.send(_alert(items=3), target="#data-quality")

        (message,) = slack.messages
        assert "#data-quality" == message.channel
        for i in range(3):
            assert f"unique(col{i})" in message.text
        assert "006000000000000002" in message.text
        assert "header" == message.payload["blocks"][0]["type"]

    def test_resolve_posts_a_short_message(self, slack):
        """A resolve says the dataset is healthy again."""
        SlackNotifier(slack.webhook_url()).resolve(_alert())

        assert "healthy again" in slack.texts()[0]

    def test_throttled_post_is_retried_after_retry_after(self, slack):
        """A 429 with Retry-After is waited out, then the post succeeds."""
        slack.inject(Fault.status(429, "rate_limited", headers={"Retry-After": "0"}))
        notifier = SlackNotifier(slack.webhook_url(), retry=FAST)

        notifier.send(_alert())

        assert 1 == len(slack.messages)

    def test_server_error_is_not_retried(self, slack):
        """A 500 is not retried (Slack may have posted) and the URL stays secret."""
        slack.inject(Fault.status(500, "rollup_error"))
        url = slack.webhook_url()
        notifier = SlackNotifier(url, retry=FAST)

        with pytest.raises(UnexpectedResponseError) as info:
            notifier.send(_alert())

        assert 1 == len(slack.requests)
        assert url.rsplit("/", 1)[-1] not in str(info.value)

    def test_unknown_webhook_fails(self, slack):
        """A webhook Slack does not know answers 404 no_service."""
        notifier = SlackNotifier(f"{slack.url}/services/T1/B1/nope")

        with pytest.raises(UnexpectedResponseError, match="404"):
            notifier.send(_alert())

    def test_a_url_is_required(self):
        """Something that is not a URL is refused when the notifier is built."""
        with pytest.raises(ValueError, match="webhook URL"):
            SlackNotifier("not-a-url")


def _email(smtp_server, **kw):
    options = {
        "sender": "revops@example.com",
        "recipients": ["data-eng@example.com"],
        "username": "alerts",
        "password": "s3cret-pass",
        "ssl_context": smtp_server.client_context,
        "retry_wait": 0.0,
        "timeout": 5.0,
    }
    options.update(kw)
    return EmailNotifier(smtp_server.host, smtp_server.port, **options)


class TestEmailNotifier:
    def test_sends_over_starttls_with_login(self, smtp_server):
        """The message goes over TLS after AUTH, with the checks in the body."""
        _email(smtp_server).send(_alert(items=2))

        (received,) = smtp_server.mailbox.messages
        message = email.message_from_bytes(
            received.content, policy=email.policy.default
        )
        assert received.tls
        assert b"alerts" == received.login.login
        assert ["data-eng@example.com"] == received.rcpt_tos
        assert "quality:/RevOps/Staging/opportunities" == message["X-RevOps-Alert-Key"]
        assert "2 problems in opportunities" in message["Subject"]
        body = message.get_content()
        assert "unique(col0)" in body
        assert "unique(col1)" in body

    def test_auth_login_over_starttls(self, smtp_login_only):
        """A server that only offers AUTH LOGIN works too."""
        _email(smtp_login_only).send(_alert())

        (received,) = smtp_login_only.mailbox.messages
        assert (True, b"alerts") == (received.tls, received.login.login)

    def test_implicit_tls(self, smtps_server):
        """security='ssl' talks TLS from the first byte (SMTPS)."""
        _email(smtps_server, security="ssl").send(_alert())

        assert smtps_server.mailbox.messages[0].tls

    def test_resolve_mail(self, smtp_server):
        """A resolve sends a short 'resolved' e-mail."""
        _email(smtp_server).resolve(_alert())

        message = email.message_from_bytes(
            smtp_server.mailbox.messages[0].content, policy=email.policy.default
        )
        assert message["Subject"].strip().startswith("[revops_ingest] RESOLVED")

    def test_rule_target_replaces_the_recipients(self, smtp_server):
        """An address in the rule ('Email ops@x') is who gets it."""
        _email(smtp_server).send(_alert(), target="ops@example.com, cto@example.com")

        assert ["ops@example.com", "cto@example.com"] == (
            smtp_server.mailbox.messages[0].rcpt_tos
        )

    def test_temporary_refusal_is_retried(self, smtp_server):
        """A 451 is retried; the second try delivers."""
        smtp_server.mailbox.refuse = 1
        waits = []

        _email(smtp_server, sleep=waits.append).send(_alert())

        assert 1 == len(smtp_server.mailbox.messages)
        assert 1 == len(waits)

    def test_wrong_password_is_not_retried(self, smtp_server):
        """A rejected login raises AuthenticationError at once, password masked."""
        waits = []
        notifier = _email(smtp_server, password="wrong-password", sleep=waits.append)

        with pytest.raises(AuthenticationError) as info:
            notifier.send(_alert())

        assert [] == waits
        assert "wrong-password" not in str(info.value)

    def test_unreachable_server_fails_after_the_tries(self):
        """Nothing listening: three tries, then a TransportError."""
        waits = []
        notifier = EmailNotifier(
            "127.0.0.1",
            free_port(),
            sender="a@example.com",
            recipients=["b@example.com"],
            timeout=1.0,
            sleep=waits.append,
            retry_wait=0.5,
        )

        with pytest.raises(TransportError):
            notifier.send(_alert())
        assert [0.5, 1.0] == waits

    def test_untrusted_certificate_fails(self, smtp_server):
        """A certificate the context does not trust stops the send (no retry)."""
        notifier = _email(smtp_server, ssl_context=None)

        with pytest.raises(TransportError):
            notifier.send(_alert())
        assert [] == smtp_server.mailbox.messages

    def test_no_login_without_tls(self):
        """A password never goes out in clear: no login with security='none'."""
        with pytest.raises(ValueError, match="without TLS"):
            EmailNotifier("127.0.0.1", sender="a@x", username="u", security="none")
