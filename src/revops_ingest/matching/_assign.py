"""One-to-one assignment of scored pairs: best first, abstaining on close calls."""

from __future__ import annotations

import typing

import attrs
import numpy as np


if typing.TYPE_CHECKING:
    import numpy.typing as npt


__all__ = ["Assignment", "assign_one_to_one"]

_FREE, _LINKED, _AMBIGUOUS = 0, 1, 2


@attrs.frozen
class Assignment:
    """What :func:`assign_one_to_one` decided, one entry per decided pair.

    Attributes:
        pair: Index into the input pairs.
        linked: True for a link, false for an abstention (``ambiguous``).
        runner_up: The best competing score (NaN if there was none).
        runner_up_left: The competing left record (-1 if the competitor is a right
            record or there is none).
        runner_up_right: The competing right record (-1 likewise).
    """

    pair: npt.NDArray[np.int64]
    linked: npt.NDArray[np.bool_]
    runner_up: npt.NDArray[np.float64]
    runner_up_left: npt.NDArray[np.int64]
    runner_up_right: npt.NDArray[np.int64]


def _adjacency(
    owner: npt.NDArray[np.int64], order: npt.NDArray[np.int64], n: int
) -> tuple[list[int], list[int]]:
    """CSR lists of pair indices per owner, in *order* (best score first)."""
    by_owner = order[np.argsort(owner[order], kind="stable")]
    counts = np.bincount(owner, minlength=n)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return starts.tolist(), by_owner.tolist()


def assign_one_to_one(
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    *,
    n_left: int,
    n_right: int,
    threshold: float,
    margin: float,
) -> Assignment:
    """Link each record to at most one record of the other side.

    Pairs are taken best score first (ties: lower left index, then lower right
    index; indices are id ranks, so this is deterministic). A pair whose records are
    both still undecided and that scores strictly above *threshold* is linked,
    unless a competitor scores within *margin* of it: another pair of either record
    whose other record is not linked yet. Then both records are marked ambiguous:
    neither is linked, and each keeps competing, so a close call is never resolved
    by luck further down.

    Args:
        left: Left record index of each pair.
        right: Right record index of each pair.
        score: Score of each pair; pairs at or below *threshold* only compete.
        n_left: Number of left records.
        n_right: Number of right records.
        threshold: A link needs a score strictly above this.
        margin: A competitor within this many points makes the pair ambiguous.

    Returns:
        The decisions, in the order they were taken.
    """
    order = np.lexsort((right, left, -score)).astype(np.int64)
    left_start, left_pairs = _adjacency(left, order, n_left)
    right_start, right_pairs = _adjacency(right, order, n_right)
    left_ptr = left_start[:-1].copy()
    right_ptr = right_start[:-1].copy()
    state_l = [_FREE] * n_left
    state_r = [_FREE] * n_right
    lefts = left.tolist()
    rights = right.tolist()
    scores = score.tolist()
    out_pair: list[int] = []
    out_linked: list[bool] = []
    out_runner: list[float] = []
    out_rl: list[int] = []
    out_rr: list[int] = []

    def competitor(  # noqa: PLR0917 - positional in the hot loop
        pairs: list[int],
        start: list[int],
        ptr: list[int],
        owner: int,
        other_of: list[int],
        other_state: list[int],
        skip: int,
    ) -> int:
        """First pair of *owner* whose other record is not linked, besides *skip*."""
        i = ptr[owner]
        end = start[owner + 1]
        while i < end and other_state[other_of[pairs[i]]] == _LINKED:
            i += 1
        ptr[owner] = i
        while i < end:
            p = pairs[i]
            if other_of[p] != skip and other_state[other_of[p]] != _LINKED:
                return p
            i += 1
        return -1

    for p in order.tolist():
        s = scores[p]
        if s <= threshold:
            break
        lo, ro = lefts[p], rights[p]
        if state_l[lo] != _FREE or state_r[ro] != _FREE:
            continue
        cl = competitor(left_pairs, left_start, left_ptr, lo, rights, state_r, ro)
        cr = competitor(right_pairs, right_start, right_ptr, ro, lefts, state_l, lo)
        best = -1.0
        rl = rr = -1
        if cl >= 0:
            best, rr = scores[cl], rights[cl]
        if cr >= 0 and scores[cr] > best:
            best, rl, rr = scores[cr], lefts[cr], -1
        ambiguous = best >= 0 and s - best <= margin
        state = _AMBIGUOUS if ambiguous else _LINKED
        state_l[lo] = state
        state_r[ro] = state
        out_pair.append(p)
        out_linked.append(not ambiguous)
        out_runner.append(best if best >= 0 else float("nan"))
        out_rl.append(rl)
        out_rr.append(rr)
    return Assignment(
        np.asarray(out_pair, np.int64),
        np.asarray(out_linked, np.bool_),
        np.asarray(out_runner, np.float64),
        np.asarray(out_rl, np.int64),
        np.asarray(out_rr, np.int64),
    )
