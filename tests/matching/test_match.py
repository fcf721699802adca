"""match_accounts: rules, manual entries, explanations and determinism."""

from __future__ import annotations

import typing

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.matching import (
    DECISION_SCHEMA,
    MatchRule,
    fuzzy_candidates,
    match_accounts,
    normalise_accounts,
    reference_match,
)

from .strategies import accounts


if typing.TYPE_CHECKING:
    import random


LEFT = pa.table(
    {
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
        "name": [
            "Acme Inc",
            "Globex Corporation",
            "Initech LLC",
            "Umbrella GmbH",
            "Studio 54",
            "Hooli",
        ],
        "website": [
            "https://www.acme.com",
            "globex.com",
            None,
            None,
            None,
            "hooli.com",
        ],
    }
)
RIGHT = pa.table(
    {
        "account_id": ["b1", "b2", "b3", "b4", "b5", "b6", "b7"],
        "name": [
            "ACME",
            "Globex Corp.",
            "Initech, L.L.C.",
            "Umbrela",
            "Studio 45",
            "Hooli Europe",
            "Hooli XYZ",
        ],
        "domain": [
            "acme.com",
            "globex.com",
            None,
            None,
            None,
            "hooli.com",
            "hooli.com",
        ],
    }
)


def _rows(table):
    return {
        (r["left_id"], r["right_id"]): (r["rule"], r["status"])
        for r in table.to_pylist()
    }


def _comparable(table):
    """The decisions without the columns that name how candidates were found."""
    return table.drop_columns(["candidate_pass"]).replace_schema_metadata(None)


class TestMatchAccounts:
    def test_rules_in_priority_order(self):
        """Domain first, then names, then the manual map; shared domains abstain."""
        manual = pa.table({"left_id": ["a5"], "right_id": ["b5"]})

        rows = _rows(match_accounts(LEFT, RIGHT, manual=manual))

        assert {
            ("a1", "b1"): ("exact_domain", "linked"),
            ("a2", "b2"): ("exact_domain", "linked"),
            ("a3", "b3"): ("fuzzy_name", "linked"),
            ("a4", "b4"): ("fuzzy_name", "linked"),
            ("a5", "b5"): ("manual", "linked"),
            ("a6", "b6"): ("exact_domain", "ambiguous"),
        } == rows

    def test_schema_and_explanation(self):
        """Every row carries rule, score, scorer, keys and runner-up."""
        out = match_accounts(LEFT, RIGHT)
        row = next(r for r in out.to_pylist() if r["left_id"] == "a4")

        assert DECISION_SCHEMA == out.schema.remove_metadata()
        assert {
            "left_id": "a4",
            "right_id": "b4",
            "rule": "fuzzy_name",
            "priority": 2,
            "status": "linked",
            "score": pytest.approx(93.333, abs=1e-3),
            "scorer": "rapidfuzz.fuzz.ratio(name_sorted)",
            "matched_on": "name",
            "left_key": "umbrella",
            "right_key": "umbrela",
            "runner_up_score": None,
            "runner_up_id": None,
            "candidate_pass": "sorted",
            "reason": None,
        } == row

    def test_shared_domain_names_the_other_account(self):
        """An ambiguous domain row says which other account shares the key."""
        out = match_accounts(LEFT, RIGHT)
        row = next(r for r in out.to_pylist() if r["left_id"] == "a6")

        assert ("b7", "the same domain key also matches right 'b7'") == (
            row["runner_up_id"],
            row["reason"],
        )

    def test_digits_must_agree(self):
        """Names that differ only in their digits are not linked by name."""
        assert ("a5", "b5") not in _rows(match_accounts(LEFT, RIGHT))

    def test_pin_beats_every_rule(self):
        """A pinned pair is linked even against a domain match."""
        manual = pa.table({"left_id": ["a1"], "right_id": ["b4"], "action": ["pin"]})

        rows = _rows(match_accounts(LEFT, RIGHT, manual=manual))

        assert ("manual", "linked") == rows[("a1", "b4")]
        assert ("a1", "b1") not in rows
        assert ("a4", "b4") not in rows

    def test_veto_is_reported_by_every_rule_that_proposed_it(self):
        """A vetoed pair is shown once per rule that proposed it, and not linked."""
        manual = pa.table({"left_id": ["a1"], "right_id": ["b1"], "action": ["veto"]})

        out = match_accounts(LEFT, RIGHT, manual=manual)

        assert [("exact_domain", "vetoed"), ("fuzzy_name", "vetoed")] == [
            (r["rule"], r["status"])
            for r in out.to_pylist()
            if (r["left_id"], r["right_id"]) == ("a1", "b1")
        ]

    def test_veto_resolves_a_shared_domain(self):
        """Vetoing one of two same-domain candidates lets the other link."""
        manual = pa.table({"left_id": ["a6"], "right_id": ["b7"], "action": ["veto"]})

        rows = _rows(match_accounts(LEFT, RIGHT, manual=manual))

        assert ("exact_domain", "linked") == rows[("a6", "b6")]

    def test_map_loses_to_earlier_rules(self):
        """A mapping whose accounts a rule already linked is reported superseded."""
        manual = pa.table({"left_id": ["a1"], "right_id": ["b3"]})

        out = match_accounts(LEFT, RIGHT, manual=manual)
        row = next(
            r
            for r in out.to_pylist()
            if r["right_id"] == "b3" and r["rule"] == "manual"
        )

        assert "superseded" == row["status"]
        assert row["reason"].startswith("left already linked by exact_domain")

    def test_manual_first_when_configured(self):
        """With the manual rule at priority 1, mappings win over automatic rules."""
        rules = [
            MatchRule(kind="manual", field="account_id", priority=1),
            MatchRule(kind="exact", field="domain", priority=2),
        ]
        manual = pa.table({"left_id": ["a1"], "right_id": ["b3"]})

        rows = _rows(match_accounts(LEFT, RIGHT, rules=rules, manual=manual))

        assert ("manual", "linked") == rows[("a1", "b3")]

    def test_entries_for_absent_accounts_are_ignored(self):
        """Manual entries about accounts not in the input change nothing."""
        manual = pa.table(
            {
                "left_id": ["zz", "a1"],
                "right_id": ["b1", "yy"],
                "action": ["pin", "veto"],
            }
        )

        assert match_accounts(LEFT, RIGHT).equals(
            match_accounts(LEFT, RIGHT, manual=manual)
        )

    def test_same_name_on_one_side_is_ambiguous(self):
        """Two right accounts with the same name make the left one ambiguous."""
        left = pa.table({"account_id": ["l"], "name": ["Initech"], "website": [None]})
        right = pa.table(
            {
                "account_id": ["r1", "r2"],
                "name": ["Initech", "INITECH LLC"],
                "domain": [None, None],
            }
        )

        rows = _rows(match_accounts(left, right))

        assert {("l", "r1"): ("fuzzy_name", "ambiguous")} == rows

    def test_generic_names_are_not_linked_by_name(self):
        """Generic names are never linked by the fuzzy rule."""
        left = pa.table(
            {"account_id": ["l"], "name": ["Global Services Inc"], "website": [None]}
        )
        right = pa.table(
            {"account_id": ["r"], "name": ["Global Services"], "domain": [None]}
        )

        assert 0 == match_accounts(left, right).num_rows

    def test_country_guard(self):
        """Known, different countries block a name link."""
        left = pa.table(
            {
                "account_id": ["l"],
                "name": ["Initech"],
                "website": [None],
                "country": ["DE"],
            }
        )
        right = pa.table(
            {
                "account_id": ["r"],
                "name": ["Initech"],
                "domain": [None],
                "country": [" us "],
            }
        )

        assert 0 == match_accounts(left, right).num_rows
        assert 1 == match_accounts(left, right.drop_columns(["country"])).num_rows

    def test_domain_label_guard(self):
        """Alike names on sites with different own labels are not linked by name."""
        left = pa.table(
            {
                "account_id": ["l1", "l2"],
                "name": ["Merck & Co., Inc.", "Atlassian Corporation"],
                "website": ["https://www.merck.com", "atlassian.com"],
            }
        )
        right = pa.table(
            {
                "account_id": ["r1", "r2"],
                "name": ["Merck Co", "Atlassian Corp"],
                "domain": ["merckgroup.com", "www.atlassian.com.au"],
            }
        )

        rows = _rows(match_accounts(left, right))

        assert ("l1", "r1") not in rows  # merck.com vs merckgroup.com
        assert ("fuzzy_name", "linked") == rows[("l2", "r2")]  # same label

    def test_partition_by(self):
        """Automatic rules only link within equal partition values."""
        left = LEFT.append_column("tenant", pa.array(["x"] * 6))
        right = RIGHT.append_column("tenant", pa.array(["x"] * 3 + ["y"] * 4))

        rows = _rows(match_accounts(left, right, partition_by="tenant"))

        assert {("a1", "b1"), ("a2", "b2"), ("a3", "b3")} == set(rows)

    def test_reuses_normalised_keys(self):
        """Tables from normalise_accounts give the same decisions."""
        assert match_accounts(LEFT, RIGHT).equals(
            match_accounts(normalise_accounts(LEFT), normalise_accounts(RIGHT))
        )

    def test_accepts_arrow_streams(self):
        """Anything exporting an Arrow C stream is accepted."""
        reader_left = pa.RecordBatchReader.from_batches(LEFT.schema, LEFT.to_batches())
        reader_right = RIGHT.to_batches()[0]

        assert match_accounts(LEFT, RIGHT).equals(
            match_accounts(reader_left, reader_right)
        )

    def test_thorough_mode_finds_at_least_as_much(self):
        """Thorough mode agrees on small inputs."""
        assert _comparable(match_accounts(LEFT, RIGHT)).equals(
            _comparable(match_accounts(LEFT, RIGHT, mode="thorough"))
        )

    def test_clusters(self):
        """With clusters, linked rows get a component id."""
        out = match_accounts(LEFT, RIGHT, clusters=True)
        ids = dict(
            zip(
                out.column("left_id").to_pylist(),
                out.column("cluster_id").to_pylist(),
                strict=True,
            )
        )

        assert "left:a1" == ids["a1"]
        assert None is ids["a6"]

    def test_empty_inputs(self):
        """Empty inputs give an empty table of the decision schema."""
        out = match_accounts(LEFT.slice(0, 0), RIGHT)

        assert (0, DECISION_SCHEMA) == (out.num_rows, out.schema.remove_metadata())

    @pytest.mark.parametrize(
        ("left", "error", "message"),
        [
            (LEFT.drop_columns(["website"]), SchemaError, "domain"),
            (LEFT.drop_columns(["name"]), SchemaError, "name"),
            (
                pa.table(
                    {
                        "account_id": ["x", "x"],
                        "name": ["a", "b"],
                        "website": [None, None],
                    }
                ),
                SchemaError,
                "repeats",
            ),
            (
                pa.table({"account_id": [None], "name": ["a"], "website": [None]}),
                SchemaError,
                "null",
            ),
            ({"account_id": ["x"]}, SchemaError, "pyarrow.Table"),
        ],
    )
    def test_bad_input(self, left, error, message):
        """Missing columns and bad ids are schema errors."""
        with pytest.raises(error, match=message):
            match_accounts(left, RIGHT)

    def test_bad_mode(self):
        """An unknown mode is a configuration error."""
        with pytest.raises(ConfigurationError, match="mode"):
            match_accounts(LEFT, RIGHT, mode="fast")


class TestFuzzyCandidates:
    def test_blocking_equals_brute_force_on_small_input(self):
        """On inputs smaller than a window, blocking finds every pair."""
        pairs = ["left_id", "right_id", "score"]

        assert (
            fuzzy_candidates(LEFT, RIGHT, mode="brute_force")
            .select(pairs)
            .equals(fuzzy_candidates(LEFT, RIGHT).select(pairs))
        )


class TestProperties:
    @settings(max_examples=25, deadline=None)
    @given(accounts("L"), accounts("R"))
    def test_deterministic_bytes(self, left, right):
        """The same input gives byte-identical output."""
        first = match_accounts(left, right)
        second = match_accounts(left, right)

        assert _ipc(first) == _ipc(second)

    @settings(max_examples=25, deadline=None)
    @given(accounts("L"), accounts("R"), st.randoms(use_true_random=False))
    def test_order_independent(self, left, right, rng):
        """Shuffling the input rows does not change the output."""
        shuffled_left = left.take(_permutation(left.num_rows, rng))
        shuffled_right = right.take(_permutation(right.num_rows, rng))

        assert match_accounts(left, right).equals(
            match_accounts(shuffled_left, shuffled_right)
        )

    @settings(max_examples=40, deadline=None)
    @given(accounts("L"), accounts("R"))
    def test_agrees_with_brute_force(self, left, right):
        """On small inputs the blocked matcher decides exactly like brute force."""
        assert _comparable(reference_match(left, right)).equals(
            _comparable(match_accounts(left, right))
        )

    @settings(max_examples=25, deadline=None)
    @given(accounts("L"), accounts("R"))
    def test_one_link_per_account(self, left, right):
        """Automatic rules link each account at most once."""
        out = match_accounts(left, right)
        linked = out.filter(pc.equal(out.column("status"), "linked"))

        assert len(set(linked.column("left_id").to_pylist())) == linked.num_rows
        assert len(set(linked.column("right_id").to_pylist())) == linked.num_rows


def _ipc(table):
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _permutation(n, rng: random.Random):
    order = list(range(n))
    rng.shuffle(order)
    return pa.array(order, pa.int64())
