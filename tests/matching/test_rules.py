"""The matching-rules config and the manual table."""

from __future__ import annotations

import pyarrow as pa
import pytest

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.matching import DEFAULT_RULES, MatchRule
from revops_ingest.matching._rules import ManualEntries, parse_manual, parse_rules


SEED_TABLE = pa.table(
    {
        "Match Type": ["Exact", "Fuzzy", "Manual"],
        "Priority": [1, 2, 3],
        "Fields": ["domain", "name (>90% similarity)", "account_id mapping"],
    }
)


class TestParseRules:
    def test_default(self):
        """No rules means the seed's three rules."""
        assert DEFAULT_RULES == parse_rules(None)

    def test_seed_table(self):
        """The seed's table, headers and all, reads as the default rules."""
        assert DEFAULT_RULES == parse_rules(SEED_TABLE)

    def test_threshold_in_text_and_reordering(self):
        """A threshold written in the fields text is read; priority decides order."""
        table = pa.table(
            {
                "match_type": ["fuzzy", "exact"],
                "priority": [1, 2],
                "fields": ["name (>85.5% similarity)", "domain"],
            }
        )

        rules = parse_rules(table)

        assert ["fuzzy_name", "exact_domain"] == [r.name for r in rules]
        assert 85.5 == rules[0].threshold

    def test_threshold_and_margin_columns(self):
        """Explicit threshold and margin columns win over the text."""
        table = pa.table(
            {
                "match_type": ["Fuzzy"],
                "priority": [1],
                "fields": ["name"],
                "threshold": [92.0],
                "margin": [1.0],
            }
        )

        assert (92.0, 1.0) == (
            parse_rules(table)[0].threshold,
            parse_rules(table)[0].margin,
        )

    def test_disabled_rows(self):
        """Rows with enabled = false are skipped."""
        table = SEED_TABLE.append_column("enabled", pa.array([True, False, True]))

        assert ["exact_domain", "manual"] == [r.name for r in parse_rules(table)]

    def test_rule_objects(self):
        """A sequence of MatchRule is accepted and sorted."""
        rules = [
            MatchRule(kind="manual", field="account_id", priority=5),
            MatchRule(kind="exact", field="domain", priority=2),
        ]

        assert ["exact_domain", "manual"] == [r.name for r in parse_rules(rules)]

    @pytest.mark.parametrize(
        ("table", "message"),
        [
            (pa.table({"match_type": ["Phonetic"], "priority": [1]}), "match type"),
            (pa.table({"match_type": ["Exact", "Fuzzy"], "priority": [1, 1]}), "share"),
            (pa.table({"match_type": ["Exact", "Exact"], "priority": [1, 2]}), "twice"),
            (pa.table({"match_type": ["Exact"], "priority": ["x"]}), "integer"),
            (
                pa.table(
                    {"match_type": ["Exact"], "priority": [1], "fields": ["name"]}
                ),
                "not supported",
            ),
            (
                pa.table(
                    {"match_type": ["Fuzzy"], "priority": [1], "threshold": [120.0]}
                ),
                "threshold",
            ),
        ],
    )
    def test_invalid(self, table, message):
        """Bad config rows are refused with a message naming the problem."""
        with pytest.raises(ConfigurationError, match=message):
            parse_rules(table)

    def test_missing_column(self):
        """A config table without priorities is a schema error."""
        with pytest.raises(SchemaError, match="priority"):
            parse_rules(pa.table({"match_type": ["Exact"]}))


class TestParseManual:
    def test_none(self):
        """No manual table means no entries."""
        assert ManualEntries() == parse_manual(None)

    def test_actions(self):
        """Actions and their aliases split the entries; map is the default."""
        table = pa.table(
            {
                "left_id": ["a", "b", "c", "d", "e"],
                "right_id": ["1", "2", "3", "4", "5"],
                "action": ["map", None, "PIN", "never", "force"],
            }
        )

        entries = parse_manual(table)

        assert (("a", "1"), ("b", "2")) == entries.maps
        assert (("c", "3"), ("e", "5")) == entries.pins
        assert frozenset({("d", "4")}) == entries.vetoes

    def test_without_action_column(self):
        """Without an action column every entry is a mapping."""
        table = pa.table({"left_id": ["a"], "right_id": ["1"]})

        assert (("a", "1"),) == parse_manual(table).maps

    @pytest.mark.parametrize(
        ("table", "message"),
        [
            (
                pa.table({"left_id": ["a"], "right_id": ["1"], "action": ["maybe"]}),
                "action",
            ),
            (
                pa.table(
                    {
                        "left_id": ["a", "a"],
                        "right_id": ["1", "1"],
                        "action": ["pin", "veto"],
                    }
                ),
                "both veto and link",
            ),
            (pa.table({"left_id": ["a", None], "right_id": ["1", "2"]}), "both"),
        ],
    )
    def test_invalid(self, table, message):
        """Contradictory or incomplete entries are refused."""
        with pytest.raises(ConfigurationError, match=message):
            parse_manual(table)
