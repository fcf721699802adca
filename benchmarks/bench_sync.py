"""Engine cost of a sync: record batches in, committed Parquet out.

The source yields the same pre-built 20-column batch over and over, so what is
measured is the engine (tagging, buffering, Parquet encoding, commit, audit), not
data generation or HTTP. Each size runs in a fresh process so that peak memory
(ru_maxrss) belongs to that size alone.

    python benchmarks/bench_sync.py                 # 1 M and 10 M rows
    python benchmarks/bench_sync.py --rows 2000000  # one size

Goal (issue 2): >= 1 M rows/s on one core for 20 columns; peak memory the same for
1 M and 10 M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import revops_ingest
from revops_ingest import ObjectSpec


BATCH_ROWS = 10_000


def make_batch(rows: int) -> pa.RecordBatch:
    """Twenty columns shaped like a CRM object: ids, strings, numbers, times, flags."""
    rng = np.random.default_rng(0)
    now = np.datetime64("2026-01-01T00:00:00", "ms")
    cols: dict[str, pa.Array] = {
        "Id": pa.array([f"006{i:015d}" for i in range(rows)]),
        "AccountId": pa.array([f"001{i % 5000:015d}" for i in range(rows)]),
        "OwnerId": pa.array([f"005{i % 50:015d}" for i in range(rows)]),
        "Name": pa.array([f"Opportunity {i}" for i in range(rows)]),
        "StageName": pa.array(
            np.array(["Prospecting", "Qualification", "Closed Won"])[
                rng.integers(0, 3, rows)
            ]
        ),
        "Type": pa.array(np.array(["New", "Renewal"])[rng.integers(0, 2, rows)]),
        "LeadSource": pa.array(
            np.array(["Web", "Partner", "Event"])[rng.integers(0, 3, rows)]
        ),
        "CurrencyIsoCode": pa.array(["USD"] * rows),
        "Amount": pa.array(rng.random(rows) * 1e6),
        "Probability": pa.array(rng.integers(0, 101, rows).astype("float64")),
        "ExpectedRevenue": pa.array(rng.random(rows) * 1e6),
        "TotalOpportunityQuantity": pa.array(rng.integers(0, 100, rows)),
        "FiscalYear": pa.array(rng.integers(2020, 2027, rows)),
        "FiscalQuarter": pa.array(rng.integers(1, 5, rows)),
        "IsClosed": pa.array(rng.random(rows) > 0.5),
        "IsWon": pa.array(rng.random(rows) > 0.7),
        "IsDeleted": pa.array(rng.random(rows) > 0.99),
        "CloseDate": pa.array(
            (now + rng.integers(0, 10**10, rows)).astype("datetime64[D]")
        ),
        "CreatedDate": pa.array(
            now + rng.integers(0, 10**10, rows), pa.timestamp("ms", tz="UTC")
        ),
        "SystemModstamp": pa.array(
            now + rng.integers(0, 10**10, rows), pa.timestamp("ms", tz="UTC")
        ),
    }
    return pa.RecordBatch.from_pydict(cols)


class RepeatSource:
    system = "Bench"

    def __init__(self, batch: pa.RecordBatch, rows: int) -> None:
        self.batch, self.rows = batch, rows

    def objects(self):
        return [
            ObjectSpec(name="Opportunity", primary_key=("Id",), cursor="SystemModstamp")
        ]

    def fetch(self, obj, state, context):
        left = self.rows
        while left > 0:
            batch = (
                self.batch if left >= self.batch.num_rows else self.batch.slice(0, left)
            )
            left -= batch.num_rows
            context.page(batch.num_rows)
            yield batch
        return {"rows": self.rows}


def child(rows: int) -> None:
    # One core: pin the process and Arrow's thread pools to a single CPU.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    batch = make_batch(BATCH_ROWS)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        lake = revops_ingest.Lake(tmp)
        source = RepeatSource(batch, rows)
        cpu0, t0 = time.process_time(), time.perf_counter()
        run = revops_ingest.sync(source, "Opportunity", lake, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rows": run.records_processed,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "rows_per_s_wall": round(rows / wall),
                "rows_per_cpu_s": round(rows / cpu),
                "peak_rss_mb": round(peak, 1),
                "rss_before_sync_mb": round(base_rss, 1),
                "parquet_mb": round(size / 2**20, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"bench_sync: {BATCH_ROWS:,}-row batches x 20 columns, one process per size")
    results = []
    for rows in args.rows:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"  {rows:>11,} rows: {result['rows_per_s_wall']:>10,} rows/s wall, "
            f"{result['rows_per_cpu_s']:>10,} rows/CPU-s, peak RSS "
            f"{result['peak_rss_mb']:,.0f} MB "
            f"(before sync {result['rss_before_sync_mb']:,.0f} MB), "
            f"{result['parquet_mb']:,.0f} MB Parquet"
        )
    if len(results) > 1:
        growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
        print(f"  peak RSS growth from smallest to largest: {growth:+,.0f} MB")


if __name__ == "__main__":
    main()
