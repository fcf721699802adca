"""Candidate pairs for the fuzzy name rule, without comparing everything to everything.

Three passes, each cheap and each order-independent (records are ranked by id):

1. **Exact key join** on the token-sorted name. A key shared by so many accounts
   that it would yield more than ``max_group_pairs`` pairs is *crowded*: its
   accounts are reported ambiguous at once and skip the other passes.
2. **Sorted neighbourhood with wide windows**, on several sort keys: the
   token-sorted name, its reverse, the words ordered rarest first, and that
   reversed. Left and right records are merged in key order; every left record is
   scored against the ``window`` right records on either side of it (and all right
   records between the members of its block). A typo near the front of a name moves
   it in one order but not in the reversed one, and a changed common word does not
   move the rarest-first key. The scoring is one dense ``rapidfuzz.process.cdist``
   per block of ``block`` left records (at most ``block x max_columns`` scores, a
   few MB), on all cores, so the windows can be hundreds of records wide: the
   work is ``O(n x window)`` per key.
3. **Thorough mode** adds more keys (the original word order, the name with its
   vowels removed and both reversed) and doubles the window.

A brute-force generator (every pair, in the same dense chunks) is the reference
for the others' recall.
"""

from __future__ import annotations

import typing

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from rapidfuzz import fuzz, process


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

    from revops_ingest.matching._arrow import AnyArray


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = [
    "BlockingPlan",
    "Candidates",
    "brute_force_candidates",
    "exact_candidates",
    "key_groups",
    "plan_for",
    "rescore",
    "windowed_candidates",
]

IntArray = np.ndarray[typing.Any, np.dtype[np.int64]]
FloatArray = np.ndarray[typing.Any, np.dtype[np.float64]]

#: Scores below this many points under the cut-off are dropped by ``cdist``; the
#: survivors are rescored exactly in float64, so no float32 rounding decides a link.
_SLACK = 0.01


@attrs.frozen(kw_only=True)
class BlockingPlan:
    """How wide to look for fuzzy candidates.

    Attributes:
        keys: Sort keys for the sorted-neighbourhood pass, in order (see
            :data:`SORT_KEYS`).
        window: Right records scored on either side of each left record, per key.
        block: Left records scored per ``cdist`` call.
        max_columns: Right records per ``cdist`` call (bounds the score matrix).
        max_group_pairs: An exact name key shared by more pairs is crowded.
        workers: ``cdist`` threads (-1: all cores).
    """

    keys: tuple[str, ...]
    window: int = 400
    block: int = 512
    max_columns: int = 16_384
    max_group_pairs: int = 100
    workers: int = -1


def plan_for(mode: str) -> BlockingPlan:
    """Return the plan of a mode: ``"default"`` or ``"thorough"``.

    Raises:
        ValueError: On another mode.
    """
    if mode == "default":
        return BlockingPlan(keys=("sorted", "sorted_reversed", "rare", "rare_reversed"))
    if mode == "thorough":
        return BlockingPlan(
            keys=(
                "sorted",
                "sorted_reversed",
                "rare",
                "rare_reversed",
                "original",
                "original_reversed",
                "skeleton",
                "skeleton_reversed",
            ),
            window=800,
        )
    msg = f"mode must be 'default' or 'thorough', not {mode!r}"
    raise ValueError(msg)


@attrs.frozen
class Candidates:
    """Candidate pairs: indices into the left and right records, score, pass.

    Attributes:
        left: Left record indices (int64).
        right: Right record indices (int64).
        score: Scores (float64), exact.
        passes: Index of the pass that found each pair first (int64).
    """

    left: IntArray
    right: IntArray
    score: FloatArray
    passes: IntArray

    @classmethod
    def empty(cls) -> Candidates:
        """Return no candidates."""
        none = np.zeros(0, np.int64)
        return cls(none, none.copy(), np.zeros(0, np.float64), none.copy())

    def __len__(self) -> int:
        return len(self.left)

    def take(self, mask: npt.NDArray[np.bool_] | IntArray) -> Candidates:
        """Return the selected pairs."""
        return Candidates(
            self.left[mask], self.right[mask], self.score[mask], self.passes[mask]
        )

    @classmethod
    def union(cls, parts: Sequence[Candidates], n_right: int) -> Candidates:
        """Merge candidate sets, keeping each pair once with its first pass."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        left = np.concatenate([p.left for p in parts])
        right = np.concatenate([p.right for p in parts])
        codes = left * max(n_right, 1) + right
        _, first = np.unique(codes, return_index=True)
        return Candidates(
            left[first],
            right[first],
            np.concatenate([p.score for p in parts])[first],
            np.concatenate([p.passes for p in parts])[first],
        )


def key_groups(
    left_keys: AnyArray, right_keys: AnyArray
) -> tuple[AnyArray, IntArray, IntArray, IntArray, IntArray]:
    """Group both sides by an exact key.

    Args:
        left_keys: One key per left record (nulls never match).
        right_keys: One key per right record.

    Returns:
        ``(groups, left_group, right_group, left_count, right_count)``: the distinct
        keys, each record's group index (-1 for null keys) and each group's size on
        either side.
    """
    groups = pc.unique(pc.drop_null(pa.concat_arrays([left_keys, right_keys])))
    left_group = _group_index(left_keys, groups)
    right_group = _group_index(right_keys, groups)
    left_count = np.bincount(left_group[left_group >= 0], minlength=len(groups))
    right_count = np.bincount(right_group[right_group >= 0], minlength=len(groups))
    return groups, left_group, right_group, left_count, right_count


def _group_index(keys: AnyArray, groups: AnyArray) -> IntArray:
    index = pc.fill_null(pc.index_in(keys, groups), -1)
    return np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.int64)


def exact_candidates(
    left_group: IntArray,
    right_group: IntArray,
    allowed_groups: npt.NDArray[np.bool_],
    *,
    score: float = 100.0,
    pass_index: int = 0,
) -> Candidates:
    """Return every left x right pair that shares an allowed group.

    Args:
        left_group: Each left record's group (-1: none).
        right_group: Each right record's group (-1: none).
        allowed_groups: Which groups may pair (not crowded).
        score: The score given to the pairs.
        pass_index: The pass label.

    Returns:
        The pairs.
    """
    lsel = np.flatnonzero((left_group >= 0) & allowed_groups[np.maximum(left_group, 0)])
    rsel = np.flatnonzero(
        (right_group >= 0) & allowed_groups[np.maximum(right_group, 0)]
    )
    if not len(lsel) or not len(rsel):
        return Candidates.empty()
    left = pa.table({"g": left_group[lsel], "l": lsel})
    right = pa.table({"g": right_group[rsel], "r": rsel})
    joined = left.join(right, "g", join_type="inner")
    li = np.asarray(joined.column("l").to_numpy(), np.int64)
    ri = np.asarray(joined.column("r").to_numpy(), np.int64)
    return Candidates(
        li,
        ri,
        np.full(len(li), score, np.float64),
        np.full(len(li), pass_index, np.int64),
    )


def _score_block(
    queries: list[str],
    choices: list[str],
    *,
    cutoff: float,
    plan: BlockingPlan,
) -> tuple[IntArray, IntArray]:
    """Return the (row, column) positions scoring at least *cutoff* (minus slack)."""
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for c0 in range(0, len(choices), plan.max_columns):
        matrix = process.cdist(
            queries,
            choices[c0 : c0 + plan.max_columns],
            scorer=fuzz.ratio,
            score_cutoff=cutoff - _SLACK,
            dtype=np.float32,
            workers=plan.workers,
        )
        r, c = np.nonzero(matrix)
        rows.append(r.astype(np.int64))
        cols.append(c.astype(np.int64) + c0)
    return np.concatenate(rows), np.concatenate(cols)


def windowed_candidates(
    left_key: AnyArray,
    right_key: AnyArray,
    left_names: list[str],
    right_names: list[str],
    *,
    cutoff: float,
    plan: BlockingPlan,
    pass_index: int,
) -> Candidates:
    """Sorted neighbourhood on one key, scored in dense ``cdist`` blocks.

    Args:
        left_key: The sort key of each left record.
        right_key: The sort key of each right record.
        left_names: The strings scored for each left record.
        right_names: The strings scored for each right record.
        cutoff: Keep pairs scoring above this.
        plan: Window and block sizes.
        pass_index: The pass label.

    Returns:
        The pairs above *cutoff*, unscored (use :func:`rescore`).
    """
    nl = len(left_key)
    if not nl or not len(right_key):
        return Candidates.empty()
    merged = pa.concat_arrays([left_key, right_key])
    order = np.asarray(pc.sort_indices(merged).to_numpy(), dtype=np.int64)
    is_left = order < nl
    left_pos = np.flatnonzero(is_left)
    right_pos = np.flatnonzero(~is_left)
    left_members = order[is_left]
    right_members = order[~is_left] - nl
    left_sorted = [left_names[i] for i in left_members.tolist()]
    right_sorted = [right_names[i] for i in right_members.tolist()]
    found_l: list[IntArray] = []
    found_r: list[IntArray] = []
    n_right = len(right_sorted)
    for b0 in range(0, len(left_sorted), plan.block):
        b1 = min(b0 + plan.block, len(left_sorted))
        r0 = max(int(np.searchsorted(right_pos, left_pos[b0])) - plan.window, 0)
        r1 = min(
            int(np.searchsorted(right_pos, left_pos[b1 - 1], side="right"))
            + plan.window,
            n_right,
        )
        rows, cols = _score_block(
            left_sorted[b0:b1], right_sorted[r0:r1], cutoff=cutoff, plan=plan
        )
        found_l.append(left_members[rows + b0])
        found_r.append(right_members[cols + r0])
    li = np.concatenate(found_l)
    ri = np.concatenate(found_r)
    return Candidates(
        li, ri, np.zeros(len(li), np.float64), np.full(len(li), pass_index, np.int64)
    )


def brute_force_candidates(
    left_names: list[str],
    right_names: list[str],
    *,
    cutoff: float,
    plan: BlockingPlan,
    progress: Callable[[int], None] | None = None,
) -> Candidates:
    """Score every left x right pair, in dense chunks; the reference for recall.

    Args:
        left_names: The strings scored for each left record.
        right_names: The strings scored for each right record.
        cutoff: Keep pairs scoring above this.
        plan: Block and column sizes (the keys are not used).
        progress: Called with the number of left records done after each block.

    Returns:
        All pairs above *cutoff*, unscored (use :func:`rescore`).
    """
    found_l: list[IntArray] = []
    found_r: list[IntArray] = []
    if not left_names or not right_names:
        return Candidates.empty()
    for b0 in range(0, len(left_names), plan.block):
        rows, cols = _score_block(
            left_names[b0 : b0 + plan.block], right_names, cutoff=cutoff, plan=plan
        )
        found_l.append(rows + b0)
        found_r.append(cols)
        if progress is not None:
            progress(min(b0 + plan.block, len(left_names)))
    li = np.concatenate(found_l)
    ri = np.concatenate(found_r)
    return Candidates(
        li, ri, np.zeros(len(li), np.float64), np.full(len(li), -1, np.int64)
    )


def rescore(
    candidates: Candidates,
    left_names: list[str],
    right_names: list[str],
    *,
    cutoff: float,
    workers: int = -1,
) -> Candidates:
    """Score pairs exactly (float64) and keep those strictly above *cutoff*.

    Args:
        candidates: The pairs.
        left_names: The strings scored for each left record.
        right_names: The strings scored for each right record.
        cutoff: The strict lower bound.
        workers: ``cpdist`` threads.

    Returns:
        The surviving pairs with exact scores.
    """
    if not len(candidates):
        return candidates
    scores = process.cpdist(
        [left_names[i] for i in candidates.left.tolist()],
        [right_names[i] for i in candidates.right.tolist()],
        scorer=fuzz.ratio,
        dtype=np.float64,
        workers=workers,
    )
    scored = Candidates(
        candidates.left,
        candidates.right,
        np.asarray(scores, np.float64),
        candidates.passes,
    )
    return scored.take(scored.score > cutoff)


def sort_key(
    name: str,
    name_sorted: AnyArray,
    name_key: AnyArray,
    *,
    rarity: AnyArray | None = None,
) -> AnyArray:
    """Build one sort key for the sorted-neighbourhood pass.

    Args:
        name: One of ``sorted``, ``rare``, ``original``, ``skeleton``, each
            optionally suffixed ``_reversed``.
        name_sorted: The token-sorted names.
        name_key: The names in their original word order.
        rarity: The rarest-first names (for ``rare``).

    Returns:
        The key, one per record.

    Raises:
        ValueError: On an unknown key name.
    """
    base, _, suffix = name.partition("_")
    if base == "sorted":
        key = name_sorted
    elif base == "rare" and rarity is not None:
        key = rarity
    elif base == "original":
        key = name_key
    elif base == "skeleton":
        key = pc.replace_substring_regex(name_sorted, r"[aeiouy ]+", "")
    else:
        msg = f"unknown sort key {name!r}"
        raise ValueError(msg)
    if suffix == "reversed":
        key = pc.utf8_reverse(key)
    elif suffix:
        msg = f"unknown sort key {name!r}"
        raise ValueError(msg)
    return key


def rarest_first(names: AnyArray) -> AnyArray:
    """Reorder each name's words rarest first (by document frequency, then text).

    Args:
        names: Token-sorted names of both sides together (no nulls).

    Returns:
        The reordered names.
    """
    n = len(names)
    words = pc.split_pattern(names, " ")
    flat = pc.list_flatten(words)
    if not len(flat):
        return names
    parents = np.asarray(pc.list_parent_indices(words).to_numpy(), np.int64)
    vocabulary = pc.unique(flat)
    vocabulary = pc.take(vocabulary, pc.sort_indices(vocabulary))
    rank = np.asarray(pc.index_in(flat, vocabulary).to_numpy(), np.int64)
    frequency = np.bincount(rank, minlength=len(vocabulary))[rank]
    order = np.lexsort((rank, frequency, parents))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(parents, minlength=n), out=offsets[1:])
    list_array: typing.Any = pa.ListArray
    rebuilt = list_array.from_arrays(pa.array(offsets), pc.take(flat, pa.array(order)))
    return typing.cast(
        "AnyArray", pc.binary_join(rebuilt, pa.scalar(" ", pa.large_string()))
    )
