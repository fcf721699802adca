"""Alert rules as data: condition, severity, notification.

The rules live in ``/RevOps/Config/quality_alerts``, one row per rule, in the
seed's words::

    condition            severity   notification
    Sync failed          Critical   PagerDuty
    >5% null values      High       Slack #data-quality
    Row count drop >20%  Medium     Email
    Check failed         Medium     Email

A rule does two things. Its **condition** picks what becomes an alert item, at the
rule's severity -- except ``Check failed``, which takes every failed check of the
rule's severity or worse at the check's own severity. Its **notification** names a
channel that gets every alert of the rule's severity *or worse*: with the defaults
PagerDuty gets Critical alerts, Slack High and Critical ones, e-mail everything from
Medium up.
"""

from __future__ import annotations

import re
import typing

import attrs
import pyarrow as pa

from revops_ingest.exceptions import ConfigurationError, DatasetNotFoundError
from revops_ingest.quality._severity import Severity


if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from revops_ingest._lake import Lake
    from revops_ingest.quality._result import CheckResult


__all__ = [
    "DEFAULT_RULES",
    "RULES_DATASET",
    "RULES_SCHEMA",
    "AlertRule",
    "Channel",
    "Condition",
    "load_rules",
    "rules_table",
]

RULES_DATASET = "/RevOps/Config/quality_alerts"
"""The dataset :func:`load_rules` reads."""

RULES_SCHEMA = pa.schema(
    [
        pa.field("condition", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("notification", pa.string(), nullable=False),
    ]
)
"""The Arrow schema of ``/RevOps/Config/quality_alerts``."""

ConditionKind = typing.Literal[
    "sync_failed", "check_failed", "null_fraction", "row_count_drop"
]
ChannelKind = typing.Literal["pagerduty", "slack", "email"]

_NUMBER = r"(?P<value>\d+(?:\.\d+)?)\s*(?P<pct>%)?"
_CONDITIONS: tuple[tuple[ConditionKind, re.Pattern[str]], ...] = (
    ("sync_failed", re.compile(r"sync[ _-]?failed|failed[ _-]sync")),
    (
        "check_failed",
        re.compile(r"(?:quality[ _-])?check[ _-]?failed|failed[ _-]check"),
    ),
    (
        "null_fraction",
        re.compile(
            rf"(?:null[ _-]?(?:values?|fraction|rate)\s*>\s*{_NUMBER})"
            rf"|(?:>\s*{_NUMBER.replace('value', 'v2').replace('pct', 'p2')}"
            r"\s*null[ _-]?values?)"
        ),
    ),
    (
        "row_count_drop",
        re.compile(rf"row[ _-]?count[ _-]?drop\s*>\s*{_NUMBER}"),
    ),
)
_NULL_KINDS = frozenset({"no_nulls", "null_fraction_below"})
_CHANNEL_WORDS: dict[str, ChannelKind] = {
    "pagerduty": "pagerduty",
    "pager duty": "pagerduty",
    "pd": "pagerduty",
    "slack": "slack",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "smtp": "email",
}


@attrs.frozen
class Condition:
    """When a rule applies.

    Written as text: ``"Sync failed"``, ``"Check failed"``,
    ``">5% null values"`` (or ``"null_fraction > 0.05"``) and
    ``"Row count drop >20%"`` (or ``"row_count_drop > 0.2"``).

    Attributes:
        kind: ``sync_failed``, ``check_failed``, ``null_fraction`` or
            ``row_count_drop``.
        threshold: The fraction a measured value must exceed, for the last two.
        text: The text it was parsed from.
    """

    kind: ConditionKind
    threshold: float | None = None
    text: str = ""

    @classmethod
    def parse(cls, text: Condition | str) -> Condition:
        """Parse a condition; case and spacing do not matter.

        Raises:
            ConfigurationError: The text is none of the accepted forms.
        """
        if isinstance(text, Condition):
            return text
        if not isinstance(text, str):
            raise ConfigurationError(f"a condition is text, not {type(text).__name__}")
        normal = " ".join(text.strip().lower().split())
        for kind, pattern in _CONDITIONS:
            match = pattern.fullmatch(normal)
            if match is None:
                continue
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            value = groups.get("value", groups.get("v2"))
            if value is None:
                return cls(kind, None, text)
            number = float(value)
            if "pct" in groups or "p2" in groups:
                number /= 100
            if not 0 <= number <= 1:
                raise ConfigurationError(
                    f"condition {text!r}: the threshold must be a fraction between 0 "
                    "and 1 (or a percentage)"
                )
            return cls(kind, number, text)
        raise ConfigurationError(
            f"unknown alert condition {text!r}; use 'Sync failed', 'Check failed', "
            "'>5% null values' or 'Row count drop >20%'"
        )

    def matches(self, check: CheckResult) -> bool:
        """Whether the result of one check meets this condition."""
        if self.kind == "check_failed":
            return check.failed
        if self.kind == "null_fraction":
            if check.kind not in _NULL_KINDS:
                return False
            fraction = check.failed_fraction
            if check.kind == "null_fraction_below" and isinstance(
                check.observed, float
            ):
                fraction = check.observed
            return fraction is not None and fraction > (self.threshold or 0.0)
        if self.kind == "row_count_drop":
            if check.kind != "row_count_change" or check.observed is None:
                return False
            return -float(check.observed) > (self.threshold or 0.0)
        return False  # sync_failed is about syncs, not checks

    def __str__(self) -> str:
        return self.text or self.kind


@attrs.frozen
class Channel:
    """Where an alert goes: ``PagerDuty``, ``Slack #data-quality``, ``Email ops@x``.

    Attributes:
        kind: ``pagerduty``, ``slack`` or ``email``.
        target: What follows the kind: a Slack channel, e-mail addresses
            (comma-separated), a PagerDuty service; ``None`` if nothing.
        text: The text it was parsed from.
    """

    kind: ChannelKind
    target: str | None = None
    text: str = ""

    @property
    def key(self) -> str:
        """``kind`` or ``kind:target``: how notifiers are looked up and logged."""
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @classmethod
    def parse(cls, text: Channel | str) -> Channel:
        """Parse a notification such as ``"Slack #data-quality"`` or ``"email:a@b"``.

        Raises:
            ConfigurationError: The channel kind is not PagerDuty, Slack or e-mail.
        """
        if isinstance(text, Channel):
            return text
        if not isinstance(text, str):
            raise ConfigurationError(
                f"a notification is text, not {type(text).__name__}"
            )
        normal = text.strip()
        lowered = normal.lower()
        for word in sorted(_CHANNEL_WORDS, key=len, reverse=True):
            if lowered == word or lowered.startswith((f"{word} ", f"{word}:")):
                target = normal[len(word) :].lstrip(" :").strip() or None
                return cls(_CHANNEL_WORDS[word], target, text)
        raise ConfigurationError(
            f"unknown notification {text!r}; use 'PagerDuty', 'Slack #channel' or "
            "'Email [addresses]'"
        )

    def __str__(self) -> str:
        return self.text or self.key


def _condition(value: Condition | str) -> Condition:
    return Condition.parse(value)


def _severity(value: Severity | str) -> Severity:
    return Severity.parse(value)


def _channel(value: Channel | str) -> Channel:
    return Channel.parse(value)


@attrs.frozen
class AlertRule:
    """One row of ``/RevOps/Config/quality_alerts``.

    Attributes:
        condition: What the rule is about.
        severity: The least severity of what it raises, and the channel's
            threshold: *notification* gets alerts of this severity or worse.
        notification: The channel.
    """

    condition: Condition = attrs.field(converter=_condition)
    severity: Severity = attrs.field(converter=_severity)
    notification: Channel = attrs.field(converter=_channel)


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("Sync failed", "Critical", "PagerDuty"),
    AlertRule(">5% null values", "High", "Slack #data-quality"),
    AlertRule("Row count drop >20%", "Medium", "Email"),
    AlertRule("Check failed", "Medium", "Email"),
)
"""The seed's three rules, plus one that routes every failed check of Medium or
worse (at its own severity), so failed uniqueness or set checks alert too."""


def rules_table(rules: Iterable[AlertRule] = DEFAULT_RULES) -> pa.Table:
    """Return *rules* as a table for ``/RevOps/Config/quality_alerts``."""
    rows = [
        {
            "condition": str(rule.condition),
            "severity": rule.severity.value.capitalize(),
            "notification": str(rule.notification),
        }
        for rule in rules
    ]
    return pa.Table.from_pylist(rows, schema=RULES_SCHEMA)


def load_rules(lake: Lake, path: str = RULES_DATASET) -> tuple[AlertRule, ...]:
    """Read the alert rules from *path*; the defaults if it was never written.

    Rows whose ``enabled`` column (optional) is false are left out.

    Raises:
        ConfigurationError: A column is missing or a row cannot be parsed; the
            message names the row.
    """
    try:
        table = lake.read(path)
    except DatasetNotFoundError:
        return DEFAULT_RULES
    missing = [n for n in RULES_SCHEMA.names if n not in table.column_names]
    if missing:
        raise ConfigurationError(
            f"{path}: missing column(s) {', '.join(missing)}; a rule row has "
            "condition, severity and notification"
        )
    rules: list[AlertRule] = []
    for number, row in enumerate(table.to_pylist(), start=1):
        if row.get("enabled") is False:
            continue
        try:
            rules.append(
                AlertRule(row["condition"], row["severity"], row["notification"])
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{path}, row {number}: {exc}") from exc
    return tuple(rules)


def channel_thresholds(rules: Sequence[AlertRule]) -> dict[Channel, Severity]:
    """Each channel and the least severity it receives (its rules' lowest)."""
    thresholds: dict[Channel, Severity] = {}
    for rule in rules:
        channel = attrs.evolve(rule.notification, text="")
        current = thresholds.get(channel)
        if current is None or rule.severity < current:
            thresholds[channel] = rule.severity
    return thresholds
