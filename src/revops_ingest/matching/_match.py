"""``match_accounts``: link two systems' accounts, one explained row per decision."""

from __future__ import annotations

import typing

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
import rapidfuzz

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.matching import _blocking
from revops_ingest.matching._arrow import as_table, require_columns, text, unique_ids
from revops_ingest.matching._assign import assign_one_to_one
from revops_ingest.matching._blocking import BlockingPlan, Candidates
from revops_ingest.matching._cluster import cluster_links
from revops_ingest.matching._normalise import Normaliser, default_normaliser
from revops_ingest.matching._rules import MatchRule, parse_manual, parse_rules


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from revops_ingest.matching._arrow import AnyArray


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = [
    "DECISION_SCHEMA",
    "Mode",
    "fuzzy_candidates",
    "match_accounts",
    "reference_match",
]

Mode = typing.Literal["default", "thorough"]
IntArray = np.ndarray[typing.Any, np.dtype[np.int64]]
BoolArray = np.ndarray[typing.Any, np.dtype[np.bool_]]

#: The scorer of the fuzzy rule: Indel ratio of the token-sorted name keys.
SCORER = "rapidfuzz.fuzz.ratio(name_sorted)"

_DECISION_FIELDS: list[typing.Any] = [
    pa.field("left_id", pa.string()),
    pa.field("right_id", pa.string()),
    pa.field("rule", pa.string(), nullable=False),
    pa.field("priority", pa.int32()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("score", pa.float64()),
    pa.field("scorer", pa.string()),
    pa.field("matched_on", pa.string()),
    pa.field("left_key", pa.string()),
    pa.field("right_key", pa.string()),
    pa.field("runner_up_score", pa.float64()),
    pa.field("runner_up_id", pa.string()),
    pa.field("candidate_pass", pa.string()),
    pa.field("reason", pa.string()),
]
#: Columns of :func:`match_accounts`' result, in order.
DECISION_SCHEMA = pa.schema(_DECISION_FIELDS)

_STATUS_ORDER = ("linked", "ambiguous", "vetoed", "superseded")


@attrs.frozen
class _Side:
    """One side's accounts, ranked by id, with their keys."""

    ids: AnyArray
    domain_key: AnyArray
    name_key: AnyArray
    name_sorted: AnyArray
    eligible: BoolArray
    digits: AnyArray
    domain_label: AnyArray
    country: AnyArray
    partition: AnyArray | None

    @property
    def n(self) -> int:
        return len(self.ids)

    def index_of(self, ids: Sequence[str]) -> IntArray:
        """Index of each id, -1 where absent."""
        found = pc.index_in(pa.array(list(ids), pa.large_string()), self.ids)
        return np.asarray(pc.fill_null(found, -1).to_numpy(), np.int64)


def _prepare(
    data: object, *, what: str, normaliser: Normaliser, partition_by: str | None = None
) -> _Side:
    table = as_table(data, what=what)
    require_columns(table, ("account_id", "name"), what=what)
    if not {"domain", "website"} & set(table.column_names) and not (
        "domain_key" in table.column_names and normaliser.is_normalised(table)
    ):
        raise SchemaError(
            f"{what} needs a 'domain' or 'website' column (null values are fine)",
            column="domain",
        )
    if partition_by is not None:
        require_columns(table, (partition_by,), what=what)
    ids = unique_ids(table, "account_id", what=what)
    if not normaliser.is_normalised(table):
        table = normaliser.normalise_accounts(table)
    order = pc.sort_indices(ids)
    ids = pc.take(ids, order)
    name_key = pc.take(text(table, "name_key"), order)
    name_sorted = pc.take(text(table, "name_sorted"), order)
    if "country" in table.column_names:
        country = pc.utf8_lower(
            pc.utf8_trim_whitespace(pc.take(text(table, "country"), order))
        )
        country = pc.if_else(
            pc.equal(country, ""), pa.scalar(None, pa.large_string()), country
        )
    else:
        country = pa.nulls(len(ids), pa.large_string())
    digits = pc.utf8_trim(
        pc.replace_substring_regex(pc.fill_null(name_sorted, ""), r"[^\p{Nd}]+", " "),
        " ",
    )
    partition = None
    if partition_by is not None:
        partition = pc.fill_null(pc.take(text(table, partition_by), order), "")
    domain_key = pc.take(text(table, "domain_key"), order)
    return _Side(
        ids=ids,
        domain_key=domain_key,
        name_key=name_key,
        name_sorted=name_sorted,
        eligible=normaliser.eligible(name_key),
        digits=digits,
        # The registrable domain's own label: "merck" of merck.com, "acme" of
        # acme.co.uk (the domain key is already reduced to the registrable domain).
        domain_label=pc.replace_substring_regex(domain_key, r"\..*$", ""),
        country=country,
        partition=partition,
    )


def _within(side: _Side, keys: AnyArray, index: IntArray | None = None) -> AnyArray:
    """Prefix keys with the record's partition, so only equal partitions meet."""
    if side.partition is None:
        return keys
    part = side.partition if index is None else pc.take(side.partition, index)
    joined = pc.binary_join_element_wise(
        part, keys, pa.scalar("\x1f", pa.large_string())
    )
    return typing.cast("AnyArray", pc.cast(joined, pa.large_string()))


def _take(values: AnyArray, index: IntArray) -> AnyArray:
    mask = index < 0
    taken = pc.take(values, pa.array(np.where(mask, 0, index), mask=mask))
    return typing.cast("AnyArray", taken)


@attrs.define
class _Run:
    """The state of one matching run: who is linked, and the rows decided so far."""

    left: _Side
    right: _Side
    vetoes: IntArray
    linked_l: BoolArray
    linked_r: BoolArray
    linked_by_l: list[str | None]
    linked_by_r: list[str | None]
    parts: list[pa.Table] = attrs.field(factory=list)

    def add(
        self,
        *,
        left: IntArray,
        right: IntArray,
        rule: str,
        priority: int | None,
        status: str | Sequence[str],
        score: npt.ArrayLike | None = None,
        scorer: str | None = None,
        matched_on: str,
        runner_up: npt.ArrayLike | None = None,
        runner_up_id: AnyArray | None = None,
        candidate_pass: AnyArray | None = None,
        reason: str | Sequence[str | None] | None = None,
    ) -> None:
        n = len(left)
        if not n:
            return
        if matched_on == "domain":
            left_key, right_key = (
                _take(self.left.domain_key, left),
                _take(self.right.domain_key, right),
            )
        elif matched_on == "name":
            left_key, right_key = (
                _take(self.left.name_sorted, left),
                _take(self.right.name_sorted, right),
            )
        else:
            left_key, right_key = (
                _take(self.left.ids, left),
                _take(self.right.ids, right),
            )

        def const(value: str | None) -> AnyArray:
            return pa.array([value] * n, pa.large_string())

        def many(value: str | Sequence[str | None] | None) -> AnyArray:
            if value is None or isinstance(value, str):
                return const(value)
            return pa.array(list(value), pa.large_string())

        self.parts.append(
            pa.table(
                {
                    "l": pa.array(left, pa.int64()),
                    "r": pa.array(right, pa.int64()),
                    "rule": const(rule),
                    "priority": pa.array([priority] * n, pa.int32()),
                    "status": many(status),
                    "score": pa.array(
                        np.full(n, np.nan)
                        if score is None
                        else np.asarray(score, float),
                        pa.float64(),
                        from_pandas=True,
                    ),
                    "scorer": const(scorer),
                    "matched_on": const(matched_on),
                    "left_key": left_key,
                    "right_key": right_key,
                    "runner_up_score": pa.array(
                        np.full(n, np.nan)
                        if runner_up is None
                        else np.asarray(runner_up, float),
                        pa.float64(),
                        from_pandas=True,
                    ),
                    "runner_up_id": runner_up_id
                    if runner_up_id is not None
                    else const(None),
                    "candidate_pass": candidate_pass
                    if candidate_pass is not None
                    else const(None),
                    "reason": many(reason),
                }
            )
        )

    def link(self, left: IntArray, right: IntArray, rule: str) -> None:
        self.linked_l[left] = True
        self.linked_r[right] = True
        for i in left.tolist():
            self.linked_by_l[i] = self.linked_by_l[i] or rule
        for i in right.tolist():
            self.linked_by_r[i] = self.linked_by_r[i] or rule

    def vetoed(self, candidates: Candidates) -> BoolArray:
        if not len(self.vetoes) or not len(candidates):
            return np.zeros(len(candidates), np.bool_)
        codes = candidates.left * max(self.right.n, 1) + candidates.right
        return np.isin(codes, self.vetoes)


def _crowded_rows(
    run: _Run,
    rule: MatchRule,
    *,
    key_name: str,
    groups: AnyArray,
    left_members: IntArray,
    right_members: IntArray,
    left_group: IntArray,
    right_group: IntArray,
    left_count: IntArray,
    right_count: IntArray,
) -> None:
    """One ambiguous row per account of a crowded key, without a counterpart."""
    keys = groups.to_pylist()
    for side, members, group in (
        ("left", left_members, left_group),
        ("right", right_members, right_group),
    ):
        if not len(members):
            continue
        reasons = [
            f"{key_name} {keys[g]!r} is shared by {left_count[g]} left and "
            f"{right_count[g]} right accounts"
            for g in group.tolist()
        ]
        none = np.full(len(members), -1, np.int64)
        run.add(
            left=members if side == "left" else none,
            right=members if side == "right" else none,
            rule=rule.name,
            priority=rule.priority,
            status="ambiguous",
            score=np.full(len(members), 100.0),
            scorer="exact",
            matched_on=rule.field,
            reason=reasons,
        )


def _decide(
    run: _Run,
    rule: MatchRule,
    candidates: Candidates,
    *,
    threshold: float,
    margin: float,
    scorer: str,
    pass_names: Sequence[str] | None,
) -> None:
    """Report vetoed pairs, assign the rest one-to-one and record the decisions."""
    vetoed = run.vetoed(candidates)
    shown = vetoed & (candidates.score > threshold)
    passes = (
        pa.array([pass_names[p] for p in candidates.passes.tolist()], pa.large_string())
        if pass_names is not None
        else None
    )
    if shown.any():
        run.add(
            left=candidates.left[shown],
            right=candidates.right[shown],
            rule=rule.name,
            priority=rule.priority,
            status="vetoed",
            score=candidates.score[shown],
            scorer=scorer,
            matched_on=rule.field,
            candidate_pass=passes.filter(pa.array(shown))
            if passes is not None
            else None,
            reason="vetoed by a manual entry",
        )
    kept = candidates.take(~vetoed)
    kept_passes = passes.filter(pa.array(~vetoed)) if passes is not None else None
    decided = assign_one_to_one(
        kept.left,
        kept.right,
        kept.score,
        n_left=run.left.n,
        n_right=run.right.n,
        threshold=threshold,
        margin=margin,
    )
    pairs = decided.pair
    left = kept.left[pairs]
    right = kept.right[pairs]
    runner_left = _take(run.left.ids, decided.runner_up_left)
    runner_right = _take(run.right.ids, decided.runner_up_right)
    runner_id = pc.coalesce(runner_left, runner_right)
    reasons: list[str | None] = [
        None
        if linked
        else (
            f"the same {rule.field} key also matches "
            f"{'left' if rl >= 0 else 'right'} {rid!r}"
            if scorer == "exact"
            else f"runner-up {'left' if rl >= 0 else 'right'} {rid!r} scores "
            f"{ru:.2f}, within {margin:g} of {s:.2f}"
        )
        for linked, rl, rid, ru, s in zip(
            decided.linked.tolist(),
            decided.runner_up_left.tolist(),
            runner_id.to_pylist(),
            decided.runner_up.tolist(),
            kept.score[pairs].tolist(),
            strict=True,
        )
    ]
    run.add(
        left=left,
        right=right,
        rule=rule.name,
        priority=rule.priority,
        status=["linked" if x else "ambiguous" for x in decided.linked.tolist()],
        score=kept.score[pairs],
        scorer=scorer,
        matched_on=rule.field,
        runner_up=decided.runner_up,
        runner_up_id=runner_id,
        candidate_pass=pc.take(kept_passes, pa.array(pairs))
        if kept_passes is not None
        else None,
        reason=reasons,
    )
    run.link(left[decided.linked], right[decided.linked], rule.name)


def _exact_rule(run: _Run, rule: MatchRule, plan: BlockingPlan) -> None:
    free_l = np.flatnonzero(
        ~run.linked_l & run.left.domain_key.is_valid().to_numpy(zero_copy_only=False)
    )
    free_r = np.flatnonzero(
        ~run.linked_r & run.right.domain_key.is_valid().to_numpy(zero_copy_only=False)
    )
    groups, lg, rg, lc, rc = _blocking.key_groups(
        _within(run.left, pc.take(run.left.domain_key, free_l), free_l),
        _within(run.right, pc.take(run.right.domain_key, free_r), free_r),
    )
    both = (lc > 0) & (rc > 0)
    crowded = both & (lc * rc > plan.max_group_pairs)
    crowded_l = (lg >= 0) & crowded[np.maximum(lg, 0)]
    crowded_r = (rg >= 0) & crowded[np.maximum(rg, 0)]
    _crowded_rows(
        run,
        rule,
        key_name="domain",
        groups=groups,
        left_members=free_l[crowded_l],
        right_members=free_r[crowded_r],
        left_group=lg[crowded_l],
        right_group=rg[crowded_r],
        left_count=lc,
        right_count=rc,
    )
    found = _blocking.exact_candidates(lg, rg, both & ~crowded)
    candidates = Candidates(
        free_l[found.left], free_r[found.right], found.score, found.passes
    )
    _decide(
        run,
        rule,
        candidates,
        threshold=0.0,
        margin=0.0,
        scorer="exact",
        pass_names=None,
    )


def _fuzzy_candidates(
    left: _Side,
    right: _Side,
    left_index: IntArray,
    right_index: IntArray,
    *,
    cutoff: float,
    plan: BlockingPlan,
    brute_force: bool,
) -> tuple[
    Candidates,
    list[str],
    tuple[IntArray, IntArray, IntArray, IntArray, AnyArray, IntArray, IntArray],
]:
    """Candidates among the given records, as indices into the full sides."""
    lkeys = pc.take(left.name_sorted, left_index)
    rkeys = pc.take(right.name_sorted, right_index)
    groups, lg, rg, lc, rc = _blocking.key_groups(
        _within(left, lkeys, left_index),
        _within(right, rkeys, right_index),
    )
    both = (lc > 0) & (rc > 0)
    crowded = both & (lc * rc > plan.max_group_pairs)
    crowded_l = (lg >= 0) & crowded[np.maximum(lg, 0)]
    crowded_r = (rg >= 0) & crowded[np.maximum(rg, 0)]
    crowd = (
        left_index[crowded_l],
        right_index[crowded_r],
        lg[crowded_l],
        rg[crowded_r],
        groups,
        lc,
        rc,
    )
    exact = _blocking.exact_candidates(lg, rg, both & ~crowded)
    open_l = np.flatnonzero(~crowded_l)
    open_r = np.flatnonzero(~crowded_r)
    lnames: list[str] = pc.take(lkeys, open_l).to_pylist()
    rnames: list[str] = pc.take(rkeys, open_r).to_pylist()
    parts = [exact]
    if brute_force:
        names = ["exact", "brute_force"]
        found = _blocking.brute_force_candidates(
            lnames, rnames, cutoff=cutoff, plan=plan
        )
        parts.append(
            Candidates(
                open_l[found.left],
                open_r[found.right],
                found.score,
                np.full(len(found), 1, np.int64),
            )
        )
    else:
        names = ["exact", *plan.keys]
        rarity = None
        if any(k.startswith("rare") for k in plan.keys):
            both_names = pa.concat_arrays(
                [pc.take(lkeys, open_l), pc.take(rkeys, open_r)]
            )
            rarity = _blocking.rarest_first(both_names)
        lorig = pc.take(pc.take(left.name_key, left_index), open_l)
        rorig = pc.take(pc.take(right.name_key, right_index), open_r)
        lsorted = pc.take(lkeys, open_l)
        rsorted = pc.take(rkeys, open_r)
        for i, key in enumerate(plan.keys, start=1):
            lrare = rrare = None
            if rarity is not None:
                lrare = rarity.slice(0, len(open_l))
                rrare = rarity.slice(len(open_l))
            lk = _within(
                left,
                _blocking.sort_key(key, lsorted, lorig, rarity=lrare),
                left_index[open_l],
            )
            rk = _within(
                right,
                _blocking.sort_key(key, rsorted, rorig, rarity=rrare),
                right_index[open_r],
            )
            found = _blocking.windowed_candidates(
                lk, rk, lnames, rnames, cutoff=cutoff, plan=plan, pass_index=i
            )
            parts.append(
                Candidates(
                    open_l[found.left], open_r[found.right], found.score, found.passes
                )
            )
    merged = Candidates.union(parts, len(right_index))
    all_lnames: list[str] = lkeys.to_pylist()
    all_rnames: list[str] = rkeys.to_pylist()
    scored = _blocking.rescore(merged, all_lnames, all_rnames, cutoff=cutoff)
    return (
        Candidates(
            left_index[scored.left],
            right_index[scored.right],
            scored.score,
            scored.passes,
        ),
        names,
        crowd,
    )


def _guards(left: _Side, right: _Side, candidates: Candidates) -> BoolArray:
    """Digits must agree; countries, and domains' own labels, where both are known.

    Two names alike on websites whose registrable labels differ (merck.com and
    merckgroup.com, db.com and deutschebahn.com, neste.com and nestle.com) are
    two companies far more often than one; the same label under another suffix
    (acme.com and acme.co.uk) does not stop a link.
    """
    if not len(candidates):
        return np.zeros(0, np.bool_)
    li = pa.array(candidates.left)
    ri = pa.array(candidates.right)
    same_digits = pc.equal(pc.take(left.digits, li), pc.take(right.digits, ri))
    lc = pc.take(left.country, li)
    rc = pc.take(right.country, ri)
    country_ok = pc.fill_null(pc.equal(lc, rc), pa.scalar(value=True))
    label_ok = pc.fill_null(
        pc.equal(pc.take(left.domain_label, li), pc.take(right.domain_label, ri)),
        pa.scalar(value=True),
    )
    ok = pc.and_(pc.and_(same_digits, country_ok), label_ok)
    if left.partition is not None and right.partition is not None:
        ok = pc.and_(
            ok, pc.equal(pc.take(left.partition, li), pc.take(right.partition, ri))
        )
    return np.asarray(ok.to_numpy(zero_copy_only=False))


def _fuzzy_rule(
    run: _Run, rule: MatchRule, plan: BlockingPlan, *, brute_force: bool
) -> None:
    left_index = np.flatnonzero(~run.linked_l & run.left.eligible)
    right_index = np.flatnonzero(~run.linked_r & run.right.eligible)
    if not len(left_index) or not len(right_index):
        return
    candidates, names, crowd = _fuzzy_candidates(
        run.left,
        run.right,
        left_index,
        right_index,
        cutoff=rule.threshold - rule.margin,
        plan=plan,
        brute_force=brute_force,
    )
    cl, cr, clg, crg, groups, lc, rc = crowd
    _crowded_rows(
        run,
        rule,
        key_name="name",
        groups=groups,
        left_members=cl,
        right_members=cr,
        left_group=clg,
        right_group=crg,
        left_count=lc,
        right_count=rc,
    )
    candidates = candidates.take(_guards(run.left, run.right, candidates))
    _decide(
        run,
        rule,
        candidates,
        threshold=rule.threshold,
        margin=rule.margin,
        scorer=SCORER,
        pass_names=names,
    )


def _manual_rule(run: _Run, rule: MatchRule, maps: Sequence[tuple[str, str]]) -> None:
    if not maps:
        return
    li = run.left.index_of([m[0] for m in maps])
    ri = run.right.index_of([m[1] for m in maps])
    present = (li >= 0) & (ri >= 0)
    li, ri = li[present], ri[present]
    taken = run.linked_l[li] | run.linked_r[ri]
    reasons = [
        "; ".join(
            part
            for part in (
                f"left already linked by {run.linked_by_l[a]}"
                if run.linked_l[a]
                else "",
                f"right already linked by {run.linked_by_r[b]}"
                if run.linked_r[b]
                else "",
            )
            if part
        )
        + " (mark the entry as a pin to override)"
        for a, b in zip(li[taken].tolist(), ri[taken].tolist(), strict=True)
    ]
    run.add(
        left=li[taken],
        right=ri[taken],
        rule=rule.name,
        priority=rule.priority,
        status="superseded",
        matched_on=rule.field,
        reason=reasons,
    )
    run.add(
        left=li[~taken],
        right=ri[~taken],
        rule=rule.name,
        priority=rule.priority,
        status="linked",
        matched_on=rule.field,
        reason="manual mapping",
    )
    run.link(li[~taken], ri[~taken], rule.name)


def _finish(run: _Run, *, normaliser: Normaliser, mode: str) -> pa.Table:
    if run.parts:
        rows = pa.concat_tables(run.parts)
    else:
        rows = (
            pa.table({f.name: pa.array([], f.type) for f in DECISION_SCHEMA})
            .append_column("l", pa.array([], pa.int64()))
            .append_column("r", pa.array([], pa.int64()))
        )
    l_idx = np.asarray(rows.column("l").to_numpy(), np.int64)
    r_idx = np.asarray(rows.column("r").to_numpy(), np.int64)
    stale = (rows.column("status").to_numpy(zero_copy_only=False) == "ambiguous") & (
        ((l_idx >= 0) & run.linked_l[np.maximum(l_idx, 0)])
        | ((r_idx >= 0) & run.linked_r[np.maximum(r_idx, 0)])
    )
    keep = pa.array(~stale)
    rows = rows.filter(keep)
    l_idx = l_idx[~stale]
    r_idx = r_idx[~stale]
    columns: dict[str, AnyArray] = {
        "left_id": _take(run.left.ids, l_idx),
        "right_id": _take(run.right.ids, r_idx),
    }
    for field in DECISION_SCHEMA:
        if field.name not in columns:
            columns[field.name] = rows.column(field.name).combine_chunks()
    table = pa.table(
        {
            name: pc.cast(values, DECISION_SCHEMA.field(name).type)
            for name, values in columns.items()
        }
    )
    status_rank = pc.index_in(table.column("status"), pa.array(_STATUS_ORDER))
    table = table.append_column("_status", status_rank)
    table = table.sort_by(
        [
            ("left_id", "ascending"),
            ("right_id", "ascending"),
            ("priority", "ascending"),
            ("_status", "ascending"),
            ("left_key", "ascending"),
            ("right_key", "ascending"),
        ],
    ).drop_columns(["_status"])
    table = pa.Table.from_arrays(
        [c.combine_chunks() for c in table.columns], schema=DECISION_SCHEMA
    )
    return table.replace_schema_metadata(
        {
            "revops_ingest.matching.normaliser": normaliser.fingerprint,
            "revops_ingest.matching.psl_version": normaliser.psl_version,
            "revops_ingest.matching.mode": mode,
            "revops_ingest.matching.scorer": (
                f"{SCORER} rapidfuzz {rapidfuzz.__version__}"
            ),
        }
    )


def _run(
    left: object,
    right: object,
    *,
    rules: object | Sequence[MatchRule] | None,
    manual: object | None,
    mode: str,
    normaliser: Normaliser | None,
    brute_force: bool,
    partition_by: str | None = None,
) -> pa.Table:
    if mode not in ("default", "thorough"):
        raise ConfigurationError(f"mode must be 'default' or 'thorough', not {mode!r}")
    normaliser = normaliser or default_normaliser()
    plan = _blocking.plan_for(mode)
    ruleset = parse_rules(rules)
    entries = parse_manual(manual)
    lside = _prepare(
        left, what="left", normaliser=normaliser, partition_by=partition_by
    )
    rside = _prepare(
        right, what="right", normaliser=normaliser, partition_by=partition_by
    )
    veto_l = lside.index_of([v[0] for v in sorted(entries.vetoes)])
    veto_r = rside.index_of([v[1] for v in sorted(entries.vetoes)])
    present = (veto_l >= 0) & (veto_r >= 0)
    run = _Run(
        left=lside,
        right=rside,
        vetoes=np.unique(veto_l[present] * max(rside.n, 1) + veto_r[present]),
        linked_l=np.zeros(lside.n, np.bool_),
        linked_r=np.zeros(rside.n, np.bool_),
        linked_by_l=[None] * lside.n,
        linked_by_r=[None] * rside.n,
    )
    if entries.pins:
        pl = lside.index_of([p[0] for p in entries.pins])
        pr = rside.index_of([p[1] for p in entries.pins])
        ok = (pl >= 0) & (pr >= 0)
        manual_rule = next((r for r in ruleset if r.kind == "manual"), None)
        run.add(
            left=pl[ok],
            right=pr[ok],
            rule="manual",
            priority=manual_rule.priority if manual_rule else None,
            status="linked",
            matched_on="account_id",
            reason="pinned by a manual entry",
        )
        run.link(pl[ok], pr[ok], "manual pin")
    for rule in ruleset:
        if rule.kind == "exact":
            _exact_rule(run, rule, plan)
        elif rule.kind == "fuzzy":
            _fuzzy_rule(run, rule, plan, brute_force=brute_force)
        else:
            _manual_rule(run, rule, entries.maps)
    return _finish(
        run, normaliser=normaliser, mode="brute_force" if brute_force else mode
    )


def match_accounts(
    left: object,
    right: object,
    *,
    rules: object | Sequence[MatchRule] | None = None,
    manual: object | None = None,
    mode: Mode = "default",
    normaliser: Normaliser | None = None,
    clusters: bool = False,
    partition_by: str | None = None,
) -> pa.Table:
    """Link the accounts of two systems (say Salesforce and HubSpot).

    Args:
        left: Accounts of one system: ``account_id`` (unique), ``name`` and
            ``domain`` or ``website``; optionally ``country`` (a fuzzy link needs
            equal countries where both are known). Anything with
            ``__arrow_c_stream__``. Keys computed by :func:`normalise_accounts` with
            the same normaliser are reused.
        right: Accounts of the other system, likewise.
        rules: The matching rules: ``None`` for the seed's (exact domain 1, fuzzy
            name > 90 2, manual 3), the ``account_matching_rules`` config table, or
            a sequence of :class:`MatchRule`.
        manual: Manual entries: ``left_id``, ``right_id`` and optionally ``action``
            (``map``, ``pin`` or ``veto``). Pins and vetoes always win; maps apply
            at the manual rule's priority.
        mode: ``"default"`` or ``"thorough"`` (wider candidate search, slower).
        normaliser: The lists and PSL; the shipped defaults if omitted.
        clusters: Add a ``cluster_id`` column (union-find over linked rows).
        partition_by: A column of both inputs (a tenant, a region, a pair id):
            automatic rules only link accounts with equal values (nulls are one
            value). Manual entries are not restricted.

    Returns:
        One row per decision (:data:`DECISION_SCHEMA`): every link, every
        abstention of an account left unlinked, every vetoed proposal and every
        manual mapping a rule had already overruled; sorted, so identical input
        gives byte-identical output.

    Raises:
        SchemaError: If a column is missing or an id is null or repeated.
        ConfigurationError: If the rules, manual entries or mode are invalid.
    """
    table = _run(
        left,
        right,
        rules=rules,
        manual=manual,
        mode=mode,
        normaliser=normaliser,
        brute_force=False,
        partition_by=partition_by,
    )
    if clusters:
        table = cluster_links(table).table
    return table


def reference_match(
    left: object,
    right: object,
    *,
    rules: object | Sequence[MatchRule] | None = None,
    manual: object | None = None,
    normaliser: Normaliser | None = None,
    partition_by: str | None = None,
) -> pa.Table:
    """Like :func:`match_accounts`, but the fuzzy rule scores every pair.

    The brute-force reference for tests and recall measurements: quadratic, so keep
    the inputs small (a 20k x 1M comparison takes minutes on two cores).
    """
    return _run(
        left,
        right,
        rules=rules,
        manual=manual,
        mode="default",
        normaliser=normaliser,
        brute_force=True,
        partition_by=partition_by,
    )


def fuzzy_candidates(
    left: object,
    right: object,
    *,
    mode: Mode | typing.Literal["brute_force"] = "default",
    threshold: float = 90.0,
    normaliser: Normaliser | None = None,
) -> pa.Table:
    """Return the fuzzy rule's candidate pairs scoring strictly above *threshold*.

    Before guards, vetoes and assignment: for measuring the recall of the blocking
    against ``mode="brute_force"`` with the same normaliser, scorer and threshold.

    Returns:
        ``left_id``, ``right_id``, ``score`` and ``candidate_pass``, sorted.
    """
    normaliser = normaliser or default_normaliser()
    lside = _prepare(left, what="left", normaliser=normaliser)
    rside = _prepare(right, what="right", normaliser=normaliser)
    brute = mode == "brute_force"
    plan = _blocking.plan_for("default" if brute else mode)
    candidates, names, crowd = _fuzzy_candidates(
        lside,
        rside,
        np.flatnonzero(lside.eligible),
        np.flatnonzero(rside.eligible),
        cutoff=threshold,
        plan=attrs.evolve(plan, max_group_pairs=2**62) if brute else plan,
        brute_force=brute,
    )
    crowded_left, crowded_right, left_group, right_group, groups, _, _ = crowd
    if len(crowded_left):
        # A crowded left record has identical names on the right (score 100): it
        # is decided ambiguous, and its best score was found; show one partner.
        first = np.full(len(groups), np.iinfo(np.int64).max, np.int64)
        np.minimum.at(first, right_group, crowded_right)
        names = [*names, "crowded"]
        candidates = Candidates.union(
            [
                candidates,
                Candidates(
                    crowded_left,
                    first[left_group],
                    np.full(len(crowded_left), 100.0),
                    np.full(len(crowded_left), len(names) - 1, np.int64),
                ),
            ],
            rside.n,
        )
    table = pa.table(
        {
            "left_id": pc.cast(_take(lside.ids, candidates.left), pa.string()),
            "right_id": pc.cast(_take(rside.ids, candidates.right), pa.string()),
            "score": pa.array(candidates.score, pa.float64()),
            "candidate_pass": pa.array(
                [names[p] for p in candidates.passes.tolist()], pa.string()
            ),
        }
    )
    return table.sort_by([("left_id", "ascending"), ("right_id", "ascending")])
