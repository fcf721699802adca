"""Salesforce + HubSpot unification: merge quality against the truth, and cost.

Two measurements:

- **Quality** on small CRMs generated from one set of true companies and deals
  (``tests/staging/crm_truth.py``: legal-form changes, typos, missing domains,
  records in one system only, the integration's cross ids on some records, yearly
  renewals sharing a name): precision and recall of the account merge and of the
  deal merge, summed over ten seeds.
- **Scale**: ``revops_ingest.matching.synthetic_accounts`` (typos, suffix changes,
  word order, abbreviations, accents, generic names) staged as Salesforce accounts
  and HubSpot companies, 30 % of the true HubSpot rows carrying the integration's
  ``salesforce_account_id``; ``unify_accounts`` timed (CPU and wall) with its
  peak memory, and its precision and recall against the generator's truth.

    python benchmarks/bench_unify.py                 # quality + 100 k per side
    python benchmarks/bench_unify.py --n 1000000     # a million per side
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "staging"))

from crm_truth import (
    deal_precision_recall,
    precision_recall,
    two_crm_deals,
    two_crms,
)

from revops_ingest.matching import synthetic_accounts
from revops_ingest.staging import ACCOUNTS, unify_accounts, unify_opportunities


def quality(seeds: int, companies: int) -> None:
    totals = {"accounts": [0, 0, 0], "deals": [0, 0, 0]}
    for seed in range(1, seeds + 1):
        sf, hs, truth = two_crms(seed, companies=companies)
        accounts = unify_accounts(sf, hs)
        sf_deals, hs_deals, deal_truth = two_crm_deals(seed, sf, hs, truth)
        deals = unify_opportunities(sf_deals, hs_deals, account_map=accounts.id_map)
        for kind, result, known, score in (
            ("accounts", accounts, truth, precision_recall),
            ("deals", deals, deal_truth, deal_precision_recall),
        ):
            precision, _ = score(result, known)
            links = sum(
                1
                for r in result.table.to_pylist()
                if (r.get("hubspot_company_id") or r.get("hubspot_deal_id"))
                and (
                    r.get("salesforce_account_id") or r.get("salesforce_opportunity_id")
                )
            )
            totals[kind][0] += round(precision * links)
            totals[kind][1] += links
            totals[kind][2] += len(known)
    for kind, (right, links, true) in totals.items():
        print(
            f"quality {kind:<9} precision {right / links:.4f} ({right}/{links} merges "
            f"right), recall {right / true:.4f} ({right}/{true} true pairs), "
            f"{seeds} seeds x {companies} companies"
        )


def _staged(table: pa.Table, system: str, cross: pa.Array | None) -> pa.Table:
    n = table.num_rows
    website = table.column("website" if "website" in table.column_names else "domain")
    columns = {}
    for column in ACCOUNTS.columns:
        if column.name in ("account_id", "source_id"):
            columns[column.name] = table.column("account_id")
        elif column.name == "name":
            columns[column.name] = table.column("name")
        elif column.name == "website":
            columns[column.name] = website
        elif column.name == "source_system":
            columns[column.name] = pa.array([system] * n, pa.string())
        elif column.name == "is_deleted":
            columns[column.name] = pa.array([False] * n, pa.bool_())
        else:
            columns[column.name] = pa.nulls(n, column.arrow_type)
    if cross is not None:
        columns["salesforce_account_id"] = cross
    return pa.table(columns)


def scale(n: int) -> None:
    data = synthetic_accounts(n, seed=7)
    truth = dict(
        zip(
            data.truth.column("right_id").to_pylist(),
            data.truth.column("left_id").to_pylist(),
            strict=True,
        )
    )
    rng = random.Random(7)
    cross = pa.array(
        [
            truth.get(h) if h in truth and rng.random() < 0.3 else None
            for h in data.right.column("account_id").to_pylist()
        ],
        pa.string(),
    )
    sf = _staged(data.left, "Salesforce", None)
    hs = _staged(data.right, "HubSpot", cross)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu, wall = time.process_time(), time.perf_counter()
    result = unify_accounts(sf, hs)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    both = result.table.filter(
        pc.and_(
            pc.is_valid(result.table.column("salesforce_account_id")),
            pc.is_valid(result.table.column("hubspot_company_id")),
        )
    )
    predicted = dict(
        zip(
            both.column("hubspot_company_id").to_pylist(),
            both.column("salesforce_account_id").to_pylist(),
            strict=True,
        )
    )
    right = sum(truth.get(h) == s for h, s in predicted.items())
    print(
        f"scale    {n:,} x {n:,} accounts: {cpu:.1f} CPU-s, {wall:.1f} s wall, peak "
        f"RSS {peak:,.0f} MB ({peak - before:+,.0f} MB during unify); "
        f"{result.table.num_rows:,} unified rows; precision "
        f"{right / max(len(predicted), 1):.4f}, recall {right / max(len(truth), 1):.4f}"
        f" ({len(truth):,} true pairs); by rule {dict(result.report.by_rule)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="accounts per side")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--companies", type=int, default=350)
    args = parser.parse_args()
    quality(args.seeds, args.companies)
    scale(args.n)


if __name__ == "__main__":
    main()
