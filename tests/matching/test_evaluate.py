"""Precision and recall per rule on the labelled evaluation set."""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.csv as pv
import pytest

from revops_ingest.matching import evaluate_pairs

from .eval_set import DATA, FIELDS, build_pairs


def _read() -> pa.Table:
    return pv.read_csv(
        DATA / "eval_pairs.csv",
        convert_options=pv.ConvertOptions(
            column_types={"left_website": pa.string(), "right_website": pa.string()},
            strings_can_be_null=True,
        ),
    )


@pytest.fixture(name="evaluation", scope="module")
def _evaluation():
    return evaluate_pairs(_read())


class TestEvaluationSet:
    def test_committed_file_is_current(self):
        """eval_pairs.csv is exactly what eval_set.py builds from its sources."""
        with (DATA / "eval_pairs.csv").open(encoding="utf-8") as f:
            committed = list(csv.DictReader(f))

        assert build_pairs() == committed
        assert list(FIELDS) == list(committed[0])

    def test_size_and_balance(self):
        """About 1-2 k pairs, with positives and hard negatives."""
        table = _read()
        positives = sum(table.column("label").to_pylist())

        assert 1000 <= table.num_rows <= 2000
        assert 0.5 < positives / table.num_rows < 0.75

    def test_every_pair_states_a_source(self):
        """Every pair says where its facts come from."""
        assert all(_read().column("source").to_pylist())


class TestEvaluatePairs:
    def test_fuzzy_precision(self, evaluation):
        """Automatic name links are at least 95 % precise."""
        row = _rule(evaluation, "fuzzy_name")

        assert row["precision"] >= 0.95

    def test_domain_links_only_err_on_subsidiaries(self, evaluation):
        """Wrong domain links are only subsidiaries on their parent's domain."""
        wrong = {
            p["kind"]
            for p in evaluation.pairs.to_pylist()
            if p["predicted_rule"] == "exact_domain" and not p["label"]
        }

        assert wrong <= {"subsidiary_on_parent_domain", "parent_vs_subsidiary"}

    def test_domain_precision_among_unrelated_companies(self, evaluation):
        """Leaving parent/subsidiary pairs aside, domain links are 99 % precise."""
        linked = [
            p["label"]
            for p in evaluation.pairs.to_pylist()
            if p["predicted_rule"] == "exact_domain"
            and p["kind"] not in {"subsidiary_on_parent_domain", "parent_vs_subsidiary"}
        ]

        assert sum(linked) / len(linked) >= 0.99

    def test_recall_is_reported(self, evaluation):
        """Each rule and the total report a recall."""
        rules = {r["rule"]: r for r in evaluation.per_rule.to_pylist()}

        assert {"exact_domain", "fuzzy_name", "all"} <= set(rules)
        assert rules["all"]["recall"] >= 0.8

    def test_pairs_are_isolated(self):
        """A pair's outcome does not depend on the other pairs."""
        table = _read()
        whole = evaluate_pairs(table).pairs.column("predicted_rule").to_pylist()
        part = evaluate_pairs(table.slice(0, 50)).pairs.column("predicted_rule")

        assert whole[:50] == part.to_pylist()


def _rule(evaluation, name):
    return next(r for r in evaluation.per_rule.to_pylist() if r["rule"] == name)
