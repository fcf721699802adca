"""Alert rules as data: parsing, defaults and the config dataset."""

from __future__ import annotations

import pytest

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.quality import (
    DEFAULT_RULES,
    RULES_DATASET,
    AlertRule,
    Channel,
    Condition,
    Severity,
    load_rules,
    rules_table,
)
from revops_ingest.quality._rules import channel_thresholds


class TestCondition:
    @pytest.mark.parametrize(
        ("text", "kind", "threshold"),
        [
            ("Sync failed", "sync_failed", None),
            ("sync_failed", "sync_failed", None),
            ("Check failed", "check_failed", None),
            (">5% null values", "null_fraction", 0.05),
            ("null_fraction > 0.05", "null_fraction", 0.05),
            ("Row count drop >20%", "row_count_drop", 0.2),
            ("row_count_drop > 0.25", "row_count_drop", 0.25),
        ],
    )
    def test_parses_the_seed_wording_and_the_short_form(self, text, kind, threshold):
        """The seed's phrases and snake_case forms both parse."""
        condition = Condition.parse(text)

        assert (kind, threshold) == (condition.kind, condition.threshold)

    @pytest.mark.parametrize(
        "text", ["disk full", ">500% null values", "row count drop"]
    )
    def test_unknown_conditions_are_refused(self, text):
        """Anything else is a configuration error naming the accepted forms."""
        with pytest.raises(ConfigurationError):
            Condition.parse(text)


class TestChannel:
    @pytest.mark.parametrize(
        ("text", "kind", "target"),
        [
            ("PagerDuty", "pagerduty", None),
            ("Slack #data-quality", "slack", "#data-quality"),
            ("slack:#ops", "slack", "#ops"),
            ("Email", "email", None),
            ("E-mail data-eng@example.com", "email", "data-eng@example.com"),
        ],
    )
    def test_parses(self, text, kind, target):
        """Kind and target are read from the notification text."""
        channel = Channel.parse(text)

        assert (kind, target) == (channel.kind, channel.target)

    def test_unknown_channels_are_refused(self):
        """Only PagerDuty, Slack and e-mail exist."""
        with pytest.raises(ConfigurationError, match="unknown notification"):
            Channel.parse("carrier pigeon")


class TestRules:
    def test_defaults_are_the_seeds(self):
        """The seed's three rules come first, as written in the guide."""
        assert [
            ("Sync failed", Severity.CRITICAL, "pagerduty"),
            (">5% null values", Severity.HIGH, "slack:#data-quality"),
            ("Row count drop >20%", Severity.MEDIUM, "email"),
        ] == [
            (str(r.condition), r.severity, r.notification.key)
            for r in DEFAULT_RULES[:3]
        ]

    def test_channel_thresholds_are_this_severity_or_worse(self):
        """Each channel gets its rules' lowest severity as its threshold."""
        thresholds = {c.key: s for c, s in channel_thresholds(DEFAULT_RULES).items()}

        assert {
            "pagerduty": Severity.CRITICAL,
            "slack:#data-quality": Severity.HIGH,
            "email": Severity.MEDIUM,
        } == thresholds

    def test_load_rules_defaults_without_the_dataset(self, lake):
        """No config dataset: the defaults."""
        assert DEFAULT_RULES == load_rules(lake)

    def test_load_rules_round_trips_and_skips_disabled(self, lake):
        """Rules written with rules_table are read back; enabled=false rows are out."""
        table = rules_table(
            [AlertRule("Sync failed", "High", "Slack #ops"), *DEFAULT_RULES[1:2]]
        )
        table = table.append_column("enabled", [[True, False]])
        lake.write(RULES_DATASET, table)

        rules = load_rules(lake)

        assert (AlertRule("Sync failed", "high", "Slack #ops"),) == tuple(
            AlertRule(str(r.condition), r.severity, str(r.notification)) for r in rules
        )

    def test_bad_rows_name_the_row(self, lake):
        """A rule that cannot be parsed names its row number."""
        lake.write(
            RULES_DATASET,
            rules_table(DEFAULT_RULES).set_column(
                1, "severity", [["Critical", "Urgent", "Medium", "Medium"]]
            ),
        )

        with pytest.raises(ConfigurationError, match="row 2: unknown severity"):
            load_rules(lake)
