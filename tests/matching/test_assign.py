"""One-to-one assignment with abstention."""

from __future__ import annotations

import numpy as np

from revops_ingest.matching._assign import assign_one_to_one


def _assign(pairs, *, n_left=3, n_right=3, threshold=90.0, margin=2.0):
    left = np.array([p[0] for p in pairs], np.int64)
    right = np.array([p[1] for p in pairs], np.int64)
    score = np.array([p[2] for p in pairs], np.float64)
    out = assign_one_to_one(
        left,
        right,
        score,
        n_left=n_left,
        n_right=n_right,
        threshold=threshold,
        margin=margin,
    )
    return [
        (pairs[p][0], pairs[p][1], bool(linked))
        for p, linked in zip(out.pair.tolist(), out.linked.tolist(), strict=True)
    ]


class TestAssign:
    def test_best_first(self):
        """The best pair wins and its records leave the pool."""
        decided = _assign([(0, 0, 99.0), (0, 1, 95.0), (1, 1, 94.0)])

        assert [(0, 0, True), (1, 1, True)] == decided

    def test_abstains_within_margin(self):
        """A runner-up within the margin makes the pair ambiguous."""
        decided = _assign([(0, 0, 95.0), (0, 1, 94.0)])

        assert [(0, 0, False)] == decided

    def test_runner_up_below_threshold_still_competes(self):
        """A competitor under the threshold but within the margin still counts."""
        decided = _assign([(0, 0, 91.0), (0, 1, 89.5)])

        assert [(0, 0, False)] == decided

    def test_linked_competitor_does_not_count(self):
        """A competitor already linked elsewhere is no reason to abstain."""
        decided = _assign([(1, 1, 99.0), (0, 0, 95.0), (0, 1, 94.5)])

        assert [(1, 1, True), (0, 0, True)] == decided

    def test_ambiguous_competitor_keeps_blocking(self):
        """An abstained record still competes, so its rivals do not link by luck."""
        decided = _assign([(0, 0, 96.0), (0, 1, 95.5), (1, 1, 95.0)])

        assert [(0, 0, False), (1, 1, False)] == decided

    def test_ties_broken_by_index(self):
        """Equal scores are ordered by left, then right index."""
        decided = _assign([(1, 1, 95.0), (0, 0, 95.0)], margin=0.0)

        assert [(0, 0, True), (1, 1, True)] == decided

    def test_records_runner_up(self):
        """The runner-up's score and side are reported."""
        out = assign_one_to_one(
            np.array([0, 1], np.int64),
            np.array([0, 0], np.int64),
            np.array([96.0, 91.0]),
            n_left=2,
            n_right=1,
            threshold=90.0,
            margin=2.0,
        )

        assert ([True], [91.0], [1], [-1]) == (
            out.linked.tolist(),
            out.runner_up.tolist(),
            out.runner_up_left.tolist(),
            out.runner_up_right.tolist(),
        )

    def test_nothing_above_threshold(self):
        """Pairs at or under the threshold are never linked."""
        assert [] == _assign([(0, 0, 90.0)])
