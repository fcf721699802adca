"""Optional cluster ids over linked decisions (union-find), with a size report."""

from __future__ import annotations

import attrs
import pyarrow as pa

from revops_ingest.matching._arrow import as_table, require_columns


__all__ = ["ClusterResult", "cluster_links"]


@attrs.frozen
class ClusterResult:
    """Decisions with cluster ids, and the clusters too large to trust.

    Attributes:
        table: The decisions with a ``cluster_id`` column: the smallest member of
            the linked component, written ``left:<id>`` or ``right:<id>``; null for
            rows that are not links.
        oversized: ``cluster_id``, ``size``, ``left_count``, ``right_count`` of every
            component with more than ``max_size`` accounts, largest first.
    """

    table: pa.Table
    oversized: pa.Table


def cluster_links(decisions: object, *, max_size: int = 20) -> ClusterResult:
    """Group linked accounts into connected components.

    :func:`~revops_ingest.matching.match_accounts` links one-to-one, so components
    only grow past two accounts through pins and manual mappings; this is an
    explicit, opt-in transitive closure, never applied by default.

    Args:
        decisions: The output of ``match_accounts``.
        max_size: Components with more accounts are reported as oversized.

    Returns:
        The decisions with ``cluster_id``, and the oversized components.
    """
    table = as_table(decisions, what="decisions")
    require_columns(table, ("left_id", "right_id", "status"), what="decisions")
    lefts = table.column("left_id").to_pylist()
    rights = table.column("right_id").to_pylist()
    statuses = table.column("status").to_pylist()
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    linked_rows = [
        (f"left:{lid}", f"right:{rid}")
        for lid, rid, status in zip(lefts, rights, statuses, strict=True)
        if status == "linked" and lid is not None and rid is not None
    ]
    for a, b in linked_rows:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[str, list[str]] = {}
    for node in sorted(parent):
        members.setdefault(find(node), []).append(node)
    cluster_ids = [
        find(f"left:{lid}")
        if status == "linked" and lid is not None and rid is not None
        else None
        for lid, rid, status in zip(lefts, rights, statuses, strict=True)
    ]
    big = sorted(
        ((root, nodes) for root, nodes in members.items() if len(nodes) > max_size),
        key=lambda item: (-len(item[1]), item[0]),
    )
    oversized = pa.table(
        {
            "cluster_id": pa.array([root for root, _ in big], pa.string()),
            "size": pa.array([len(nodes) for _, nodes in big], pa.int64()),
            "left_count": pa.array(
                [sum(n.startswith("left:") for n in nodes) for _, nodes in big],
                pa.int64(),
            ),
            "right_count": pa.array(
                [sum(n.startswith("right:") for n in nodes) for _, nodes in big],
                pa.int64(),
            ),
        }
    )
    column = pa.array(cluster_ids, pa.string())
    if "cluster_id" in table.column_names:
        table = table.set_column(
            table.schema.get_field_index("cluster_id"), "cluster_id", column
        )
    else:
        table = table.append_column("cluster_id", column)
    return ClusterResult(table=table, oversized=oversized)
