"""Staging cost: ``stage_opportunities`` against the same transform in DuckDB SQL.

A raw Opportunity extract (20 % of rows are superseded versions, 1 % of rows
deleted) is generated with numpy and written to Parquet once. Then, in fresh
processes taking turns, the hand-written DuckDB SQL baseline and
``stage_opportunities`` each read it into Arrow and stage it into an Arrow table.
Each process measures its wall time and its peak memory *during the transform*
(the kernel's high-water mark, reset after loading the input), so the input's own
memory is not counted and neither process sees the other's.

    python benchmarks/bench_staging.py                    # 10 M rows, 3 rounds
    python benchmarks/bench_staging.py --rows 1000000 --rounds 5

Goal (staging issue): time <= 1.25 x the SQL baseline's, measured in the same run;
peak memory <= 2 x the input's Arrow size. The SQL baseline only stages; staging
also computes its report (one more aggregation over the input).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _memory import reset_peak, status_kb


TS = pa.timestamp("ms", tz="UTC")
STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]


def fixed_ids(prefix: str, numbers: np.ndarray, width: int = 15) -> pa.Array:
    """Salesforce-style ids (prefix + zero-padded number) built without Python loops."""
    n = len(numbers)
    digits = np.empty((n, width), dtype=np.uint8)
    rest = numbers.astype(np.int64).copy()
    for i in range(width - 1, -1, -1):
        digits[:, i] = rest % 10 + 48
        rest //= 10
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    buf = np.concatenate([np.broadcast_to(head, (n, len(head))), digits], axis=1)
    size = buf.shape[1]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf).tobytes())
    )


def generate(rows: int, seed: int = 0) -> pa.Table:
    """Raw Opportunity rows as the Salesforce source lands them."""
    rng = np.random.default_rng(seed)
    base = int(rows * 0.8)
    ids = np.concatenate([np.arange(base), rng.integers(0, base, rows - base)])
    rng.shuffle(ids)
    start = np.datetime64("2020-01-01T00:00:00", "ms").astype(np.int64)
    stamp = start + rng.integers(0, 5 * 365 * 86_400_000, rows)
    stage = rng.integers(0, len(STAGES), rows)
    syncs = pa.array([f"2024{m:02d}01T000000000000Z-{m:08x}" for m in range(1, 13)])
    modstamp = pa.array(stamp, TS)

    def pick(values: list[str | None]) -> pa.Array:
        return pa.array(values).take(pa.array(rng.integers(0, len(values), rows)))

    return pa.table(
        {
            "Id": fixed_ids("006", ids),
            "AccountId": fixed_ids("001", rng.integers(0, max(1, base // 5), rows)),
            "Name": fixed_ids("Opportunity ", ids, 9),
            "StageName": pa.array(STAGES).take(pa.array(stage)),
            "Amount": pa.array(np.round(rng.random(rows) * 1e6, 2)),
            "CurrencyIsoCode": pick(["USD", "EUR", "GBP"]),
            "CloseDate": pa.array(
                (stamp // 86_400_000 + rng.integers(0, 365, rows)).astype(np.int32),
                pa.date32(),
            ),
            "Probability": pa.array((stage * 10).astype(np.float64)),
            "IsClosed": pa.array(stage >= 8),
            "IsWon": pa.array(stage == 8),
            "OwnerId": fixed_ids("005", rng.integers(0, 500, rows)),
            "CreatedDate": pa.array(stamp - rng.integers(0, 10**10, rows), TS),
            "LastModifiedDate": modstamp,
            "SystemModstamp": modstamp,
            "IsDeleted": pa.array(rng.random(rows) < 0.01),
            "Type": pick(["New Business", "Renewal", "Upsell"]),
            "LeadSource": pick(["Web", "Partner", "Event", None]),
            "ForecastCategoryName": pick(["Pipeline", "Best Case", "Commit", "Closed"]),
            "_sync_id": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 12, rows).astype(np.int32)), syncs
            ),
            "_tombstone": pa.array(np.zeros(rows, dtype=bool)),
        }
    )


# The transform of stage_opportunities, written by hand in DuckDB SQL: the same
# latest-version rule (modstamp, sync id, deleted, row hash), the same columns.
_USED = [
    "AccountId",
    "Amount",
    "CloseDate",
    "CreatedDate",
    "CurrencyIsoCode",
    "ForecastCategoryName",
    "Id",
    "IsClosed",
    "IsWon",
    "LastModifiedDate",
    "LeadSource",
    "Name",
    "OwnerId",
    "Probability",
    "StageName",
    "SystemModstamp",
    "Type",
]
BASELINE_SQL = f"""
WITH latest AS (
    SELECT *, coalesce(IsDeleted, false) OR coalesce(_tombstone, false) AS deleted
    FROM raw
    WHERE Id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY Id
        ORDER BY SystemModstamp DESC NULLS LAST,
                 CAST(_sync_id AS VARCHAR) DESC NULLS LAST,
                 (coalesce(IsDeleted, false) OR coalesce(_tombstone, false)) DESC,
                 hash({", ".join(_USED)}) DESC
    ) = 1
)
SELECT
    Id AS opportunity_id,
    AccountId AS account_id,
    Name AS name,
    CASE
        WHEN StageName IN ('Prospecting', 'Qualification', 'Discovery')
            THEN 'Discovery'
        WHEN StageName IN ('Needs Analysis', 'Value Proposition',
                           'Id. Decision Makers', 'Perception Analysis',
                           'Solution Design')
            THEN 'Solution Design'
        WHEN StageName IN ('Proposal/Price Quote', 'Proposal') THEN 'Proposal'
        WHEN StageName IN ('Negotiation/Review', 'Negotiation') THEN 'Negotiation'
        WHEN StageName = 'Verbal Commit' THEN 'Verbal Commit'
        WHEN StageName = 'Closed Won' THEN 'Closed Won'
        WHEN StageName = 'Closed Lost' THEN 'Closed Lost'
    END AS stage_name,
    StageName AS source_stage,
    Amount AS amount,
    coalesce(CurrencyIsoCode, 'USD') AS currency,
    CloseDate AS close_date,
    Probability / 100 AS probability,
    IsClosed AS is_closed,
    IsWon AS is_won,
    OwnerId AS owner_id,
    Type AS opportunity_type,
    LeadSource AS lead_source,
    ForecastCategoryName AS forecast_category,
    CreatedDate AS created_at,
    LastModifiedDate AS updated_at,
    false AS is_deleted,
    'Salesforce' AS source_system,
    Id AS source_id,
    CAST(_sync_id AS VARCHAR) AS source_sync_id
FROM latest
WHERE NOT deleted
"""


def worker(variant: str, data: str) -> None:
    """Load the Parquet input, stage it one way, print one JSON line of figures."""
    raw = pq.read_table(data)
    input_bytes = raw.nbytes
    if variant == "sql":
        import duckdb

        connection = duckdb.connect()
        connection.register("raw", raw)
    else:
        from revops_ingest.staging import stage_opportunities

        stage_opportunities(raw.slice(0, 1000))  # warm up imports and the database
    base_kb = status_kb("VmRSS")
    exact = reset_peak()
    start = time.perf_counter()
    if variant == "sql":
        out = connection.sql(BASELINE_SQL).to_arrow_table()
        report = None
    else:
        result = stage_opportunities(raw)
        out, report = result.table, result.report
    seconds = time.perf_counter() - start
    peak_kb = (
        status_kb("VmHWM")
        if exact
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    )
    print(
        json.dumps(
            {
                "variant": variant,
                "seconds": seconds,
                "input_bytes": input_bytes,
                "output_bytes": out.nbytes,
                "rows_out": out.num_rows,
                "base_rss_bytes": base_kb * 1024,
                "peak_rss_bytes": peak_kb * 1024,
                "peak_exact": exact,
                "report": None if report is None else repr(report),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", choices=["sql", "staging"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    with tempfile.TemporaryDirectory(prefix="bench-staging-") as tmp:
        data = str(Path(tmp) / "opportunity.parquet")
        start = time.perf_counter()
        table = generate(args.rows)
        pq.write_table(table, data)
        print(
            f"{args.rows:,} raw rows, {table.nbytes / 1e9:.2f} GB in Arrow, "
            f"generated in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        del table
        results: dict[str, list[dict[str, object]]] = {"sql": [], "staging": []}
        for round_ in range(1, args.rounds + 1):
            for variant in ("sql", "staging"):
                proc = subprocess.run(
                    [sys.executable, __file__, "--worker", variant, "--data", data],
                    check=True,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
                figures = json.loads(proc.stdout.strip().splitlines()[-1])
                results[variant].append(figures)
                extra = int(figures["peak_rss_bytes"]) - int(figures["base_rss_bytes"])
                print(
                    f"round {round_} {variant:8s} {figures['seconds']:7.2f} s  "
                    f"peak +{extra / 1e9:.2f} GB "
                    f"({extra / int(figures['input_bytes']):.2f} x input)  "
                    f"rows out {figures['rows_out']:,}",
                    flush=True,
                )
    _summary(results)


def _summary(results: dict[str, list[dict[str, object]]]) -> None:
    def times(variant: str) -> list[float]:
        return [float(str(r["seconds"])) for r in results[variant]]

    def extra(variant: str) -> float:
        return max(
            (int(str(r["peak_rss_bytes"])) - int(str(r["base_rss_bytes"])))
            / int(str(r["input_bytes"]))
            for r in results[variant]
        )

    sql, staging = times("sql"), times("staging")
    print(
        f"\nmedian: SQL {statistics.median(sql):.2f} s, staging "
        f"{statistics.median(staging):.2f} s -> ratio "
        f"{statistics.median(staging) / statistics.median(sql):.2f} (goal <= 1.25)"
    )
    print(
        f"best:   SQL {min(sql):.2f} s, staging {min(staging):.2f} s -> ratio "
        f"{min(staging) / min(sql):.2f}"
    )
    print(
        f"peak memory during the transform, worst round: SQL {extra('sql'):.2f} x, "
        f"staging {extra('staging'):.2f} x the input's Arrow size (goal <= 2)"
    )
    rows = {int(str(r["rows_out"])) for v in results.values() for r in v}
    print(f"rows out agree: {len(rows) == 1} ({', '.join(f'{n:,}' for n in rows)})")
    print(f"report: {results['staging'][-1]['report']}")


if __name__ == "__main__":
    main()
