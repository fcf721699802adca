"""Precision and recall of the matching rules on labelled company pairs."""

from __future__ import annotations

import typing

import attrs
import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest.matching._arrow import (
    as_table,
    column_or_null,
    require_columns,
    text,
)
from revops_ingest.matching._match import match_accounts


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    from revops_ingest.matching._match import Mode
    from revops_ingest.matching._normalise import Normaliser
    from revops_ingest.matching._rules import MatchRule


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = ["Evaluation", "evaluate_pairs"]


@attrs.frozen
class Evaluation:
    """What the rules decided on each labelled pair, and the figures per rule.

    Attributes:
        pairs: The input pairs with ``predicted_rule`` (the rule that linked the
            pair, null if none) and ``predicted_status`` (``linked``,
            ``ambiguous``, ``vetoed`` or null).
        per_rule: ``rule``, ``links``, ``true_links``, ``false_links``,
            ``precision`` (true / links) and ``recall`` (true links / all positive
            pairs), one row per rule and a last row ``all``.
    """

    pairs: pa.Table
    per_rule: pa.Table


def evaluate_pairs(
    pairs: object,
    *,
    rules: object | Sequence[MatchRule] | None = None,
    mode: Mode = "default",
    normaliser: Normaliser | None = None,
) -> Evaluation:
    """Run the matcher on labelled pairs, each pair on its own.

    Every pair is matched in isolation (one call, partitioned by pair), so a
    pair's outcome does not depend on the others in the set.

    Args:
        pairs: ``left_name``, ``right_name``, ``label`` (true: same company) and
            optionally ``left_website`` and ``right_website``.
        rules: As for :func:`~revops_ingest.matching.match_accounts`.
        mode: As for ``match_accounts``.
        normaliser: As for ``match_accounts``.

    Returns:
        The decisions and the figures.
    """
    table = as_table(pairs, what="pairs")
    require_columns(table, ("left_name", "right_name", "label"), what="pairs")
    n = table.num_rows
    keys = pa.array([f"{i:07d}" for i in range(n)], pa.large_string())
    left = pa.table(
        {
            "account_id": keys,
            "name": text(table, "left_name"),
            "website": column_or_null(table, ("left_website",)),
            "pair": keys,
        }
    )
    right = pa.table(
        {
            "account_id": keys,
            "name": text(table, "right_name"),
            "website": column_or_null(table, ("right_website",)),
            "pair": keys,
        }
    )
    decisions = match_accounts(
        left, right, rules=rules, mode=mode, normaliser=normaliser, partition_by="pair"
    )
    own = decisions.filter(
        pc.equal(decisions.column("left_id"), decisions.column("right_id"))
    )
    rule_of: dict[str, str] = {}
    status_of: dict[str, str] = {}
    for lid, rule, status in zip(
        own.column("left_id").to_pylist(),
        own.column("rule").to_pylist(),
        own.column("status").to_pylist(),
        strict=True,
    ):
        key = str(lid)
        if status == "linked" or key not in status_of:
            rule_of[key] = str(rule)
            status_of[key] = str(status)
    predicted_rule = [
        rule_of.get(str(k)) if status_of.get(str(k)) == "linked" else None
        for k in keys.to_pylist()
    ]
    predicted_status = [status_of.get(str(k)) for k in keys.to_pylist()]
    labels = [bool(v) for v in pc.cast(table.column("label"), pa.bool_()).to_pylist()]
    result = table.append_column(
        "predicted_rule", pa.array(predicted_rule, pa.string())
    ).append_column("predicted_status", pa.array(predicted_status, pa.string()))
    positives = sum(labels)
    names = sorted({r for r in predicted_rule if r is not None})
    rows: dict[str, list[typing.Any]] = {
        "rule": [],
        "links": [],
        "true_links": [],
        "false_links": [],
        "precision": [],
        "recall": [],
    }
    for name in [*names, "all"]:
        hits = [
            label
            for rule, label in zip(predicted_rule, labels, strict=True)
            if rule is not None and (name in {"all", rule})
        ]
        true = sum(hits)
        rows["rule"].append(name)
        rows["links"].append(len(hits))
        rows["true_links"].append(true)
        rows["false_links"].append(len(hits) - true)
        rows["precision"].append(true / len(hits) if hits else None)
        rows["recall"].append(true / positives if positives else None)
    per_rule = pa.table(
        {
            "rule": pa.array(rows["rule"], pa.string()),
            "links": pa.array(rows["links"], pa.int64()),
            "true_links": pa.array(rows["true_links"], pa.int64()),
            "false_links": pa.array(rows["false_links"], pa.int64()),
            "precision": pa.array(rows["precision"], pa.float64()),
            "recall": pa.array(rows["recall"], pa.float64()),
        }
    )
    return Evaluation(pairs=result, per_rule=per_rule)
