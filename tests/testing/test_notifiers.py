"""The PagerDuty and Slack emulators: validation, answers, records, faults."""

from __future__ import annotations

import pytest
import requests

from revops_ingest.testing import Fault
from revops_ingest.testing._notifiers import PagerDutyEmulator, SlackWebhookEmulator


TIMEOUT = (2, 2)
KEY = "0123456789abcdef0123456789abcdef"


def _trigger(**overrides):
    event = {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {"summary": "s", "source": "src", "severity": "error"},
    }
    event.update(overrides)
    return event


@pytest.fixture(name="pd")
def _pd():
    with PagerDutyEmulator(routing_keys=[KEY]) as emulator:
        yield emulator


@pytest.fixture(name="slack")
def _slack():
    with SlackWebhookEmulator(channels=["#data-quality", "#ops"]) as emulator:
        yield emulator


class TestPagerDutyEmulator:
    def test_accepts_a_valid_event_with_202(self, pd):
        """A valid trigger is answered 202 with the dedup key and recorded."""
        answer = requests.post(f"{pd.url}/v2/enqueue", json=_trigger(), timeout=TIMEOUT)

        assert 202 == answer.status_code
        assert {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "k1",
        } == (answer.json())
        assert [_trigger()] == pd.events
        assert ["k1"] == [i.dedup_key for i in pd.open_incidents]

    @pytest.mark.parametrize(
        ("event", "error"),
        [
            (_trigger(routing_key="other"), "'routing_key' is invalid"),
            (_trigger(event_action="page"), "'event_action' is invalid"),
            (
                _trigger(payload={"summary": "s", "source": "x", "severity": "high"}),
                "severity",
            ),
            (_trigger(payload={"source": "x", "severity": "info"}), "summary"),
            (
                {"routing_key": KEY, "event_action": "resolve"},
                "'dedup_key' is required",
            ),
        ],
    )
    def test_rejects_invalid_events_with_400(self, pd, event, error):
        """Invalid events get PagerDuty's 400 body with the errors listed."""
        answer = requests.post(f"{pd.url}/v2/enqueue", json=event, timeout=TIMEOUT)

        assert 400 == answer.status_code
        assert "invalid event" == answer.json()["status"]
        assert any(error in e for e in answer.json()["errors"])
        assert [] == pd.events

    def test_body_that_is_not_json_is_rejected(self, pd):
        """A broken body is a 400 too."""
        answer = requests.post(f"{pd.url}/v2/enqueue", data=b"{", timeout=TIMEOUT)

        assert 400 == answer.status_code

    def test_dedup_resolve_and_reopen(self, pd):
        """Same key: one page; resolve closes; a later trigger pages again."""
        for event in (
            _trigger(),
            _trigger(),
            {"routing_key": KEY, "event_action": "resolve", "dedup_key": "k1"},
            _trigger(),
        ):
            requests.post(f"{pd.url}/v2/enqueue", json=event, timeout=TIMEOUT)

        assert 2 == pd.pages
        assert ("triggered", 1) == (
            pd.incidents["k1"].status,
            pd.incidents["k1"].triggers,
        )

    def test_faults_apply(self, pd):
        """Scripted faults from the framework work on the emulator."""
        pd.inject(Fault.status(503))

        first = requests.post(f"{pd.url}/v2/enqueue", json=_trigger(), timeout=TIMEOUT)
        second = requests.post(f"{pd.url}/v2/enqueue", json=_trigger(), timeout=TIMEOUT)

        assert (503, 202) == (first.status_code, second.status_code)
        assert 1 == len(pd.events)


class TestSlackWebhookEmulator:
    def test_accepts_a_message(self, slack):
        """A JSON message is answered 'ok' and recorded for its channel."""
        url = slack.webhook_url("#ops")

        answer = requests.post(url, json={"text": "hello"}, timeout=TIMEOUT)

        assert (200, "ok") == (answer.status_code, answer.text)
        assert ["hello"] == slack.texts("#ops")
        assert [] == slack.texts("#data-quality")

    @pytest.mark.parametrize(
        ("body", "status", "text"),
        [
            (b"{", 400, "invalid_payload"),
            (b'{"username": "x"}', 400, "no_text"),
            (b'{"blocks": [{"text": "no type"}]}', 400, "invalid_blocks"),
        ],
    )
    def test_rejects_bad_bodies_like_slack(self, slack, body, status, text):
        """Slack's error strings for bad bodies."""
        answer = requests.post(
            slack.webhook_url(),
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=TIMEOUT,
        )

        assert (status, text) == (answer.status_code, answer.text)

    def test_unknown_webhook_is_404(self, slack):
        """A webhook that does not exist answers no_service."""
        answer = requests.post(
            f"{slack.url}/services/T0/B0/xyz", json={"text": "x"}, timeout=TIMEOUT
        )

        assert (404, "no_service") == (answer.status_code, answer.text)

    def test_block_text_is_collected(self, slack):
        """SlackMessage.text joins the fallback and the blocks' text."""
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": "body"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "ctx"}]},
        ]
        requests.post(
            slack.webhook_url(),
            json={"text": "head", "blocks": blocks},
            timeout=TIMEOUT,
        )

        assert ["head\nbody\nctx"] == slack.texts()
