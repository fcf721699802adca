"""Cluster ids over linked decisions."""

from __future__ import annotations

import pyarrow as pa

from revops_ingest.matching import cluster_links


DECISIONS = pa.table(
    {
        "left_id": ["a", "a", "b", "c", "d", None],
        "right_id": ["1", "2", "2", "3", "4", "5"],
        "status": ["linked", "linked", "linked", "linked", "ambiguous", "ambiguous"],
    }
)


class TestClusterLinks:
    def test_components(self):
        """Linked rows that share an account share a cluster; others get none."""
        result = cluster_links(DECISIONS)

        assert ["left:a", "left:a", "left:a", "left:c", None, None] == (
            result.table.column("cluster_id").to_pylist()
        )

    def test_oversized(self):
        """Components above max_size are reported, largest first."""
        result = cluster_links(DECISIONS, max_size=2)

        assert [
            {"cluster_id": "left:a", "size": 4, "left_count": 2, "right_count": 2}
        ] == result.oversized.to_pylist()

    def test_replaces_existing_column(self):
        """Clustering twice keeps one cluster_id column."""
        once = cluster_links(DECISIONS).table

        assert once.equals(cluster_links(once).table)
