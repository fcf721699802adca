"""Candidate generation: plans, exact joins, windows and rescoring."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from revops_ingest.matching._blocking import (
    BlockingPlan,
    Candidates,
    brute_force_candidates,
    exact_candidates,
    key_groups,
    plan_for,
    rarest_first,
    rescore,
    sort_key,
    windowed_candidates,
)


def _pairs(candidates):
    return sorted(zip(candidates.left.tolist(), candidates.right.tolist(), strict=True))


class TestPlans:
    def test_modes(self):
        """Thorough mode has more keys and a wider window than the default."""
        default, thorough = plan_for("default"), plan_for("thorough")

        assert set(default.keys) < set(thorough.keys)
        assert default.window < thorough.window

    def test_unknown_mode(self):
        """An unknown mode is refused."""
        with pytest.raises(ValueError, match="mode"):
            plan_for("fast")


class TestExact:
    def test_groups_and_pairs(self):
        """Equal keys pair up; null keys never do."""
        left = pa.array(["a", "b", None, "a"], pa.large_string())
        right = pa.array(["a", None, "b"], pa.large_string())

        _, lg, rg, lc, rc = key_groups(left, right)
        found = exact_candidates(lg, rg, (lc > 0) & (rc > 0))

        assert [(0, 0), (1, 2), (3, 0)] == _pairs(found)


class TestWindowed:
    def test_finds_neighbours_only(self):
        """A narrow window finds close keys and skips far ones."""
        names = [f"{c}{c}{c}{c}{c}{c}{c}{c}" for c in "abcdefghij"]
        typo = [n[:-1] + "z" for n in names]
        plan = BlockingPlan(keys=("sorted",), window=1, block=1)

        found = windowed_candidates(
            pa.array(names, pa.large_string()),
            pa.array(typo, pa.large_string()),
            names,
            typo,
            cutoff=85.0,
            plan=plan,
            pass_index=1,
        )

        assert [(i, i) for i in range(10)] == _pairs(found)

    def test_same_as_brute_force_when_window_covers_all(self):
        """With a window wider than the input, the pass equals brute force."""
        rng = np.random.default_rng(1)
        words = ["".join(rng.choice(list("abcde"), size=6)) for _ in range(60)]
        plan = BlockingPlan(keys=("sorted",), window=100, block=7)
        key = pa.array(words, pa.large_string())

        windowed = windowed_candidates(
            key, key, words, words, cutoff=60.0, plan=plan, pass_index=1
        )
        brute = brute_force_candidates(words, words, cutoff=60.0, plan=plan)

        assert _pairs(brute) == _pairs(windowed)


class TestRescore:
    def test_strictly_above(self):
        """Rescoring keeps pairs strictly above the cut-off, with exact scores."""
        candidates = Candidates(
            np.array([0, 1]), np.array([0, 1]), np.zeros(2), np.zeros(2, np.int64)
        )

        kept = rescore(
            candidates,
            ["abcdefghijklmnopqrst", "abcdefghij"],
            ["abcdefghijklmnopqrsx", "abcdefghix"],
            cutoff=90.0,
        )

        assert ([0], [95.0]) == (kept.left.tolist(), kept.score.tolist())

    def test_union_keeps_first_pass(self):
        """Merging candidate sets keeps each pair once, with its first pass."""
        a = Candidates(np.array([0]), np.array([1]), np.zeros(1), np.array([0]))
        b = Candidates(
            np.array([0, 2]), np.array([1, 2]), np.zeros(2), np.array([3, 3])
        )

        merged = Candidates.union([a, b], n_right=3)

        assert ([(0, 1), (2, 2)], [0, 3]) == (_pairs(merged), merged.passes.tolist())


class TestSortKeys:
    def test_keys(self):
        """Each key is a reordering or reduction of the name."""
        sorted_names = pa.array(["alpha zeta"], pa.large_string())
        original = pa.array(["zeta alpha"], pa.large_string())

        assert [
            ["alpha zeta"],
            ["atez ahpla"],
            ["zeta alpha"],
            ["lphzt"],
        ] == [
            sort_key(k, sorted_names, original).to_pylist()
            for k in ("sorted", "sorted_reversed", "original", "skeleton")
        ]

    def test_unknown_key(self):
        """An unknown key name is refused."""
        with pytest.raises(ValueError, match="sort key"):
            sort_key("phonetic", pa.array(["a"]), pa.array(["a"]))

    def test_rarest_first(self):
        """Words are ordered by how few names use them."""
        names = pa.array(
            ["acme services", "beta services", "services"], pa.large_string()
        )

        assert ["acme services", "beta services", "services"] == (
            rarest_first(names).to_pylist()
        )
