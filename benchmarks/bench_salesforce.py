"""Salesforce client cost: emulator JSON/CSV pages to committed raw Parquet.

The emulator runs in its own process, so its CPU time is measured separately
(from /proc) and does not count against the client. Each client run is a fresh
process, so peak memory (ru_maxrss) belongs to that run alone. Three clients read
the same Opportunities from the same emulator:

- ``rest``: revops_ingest over REST ``queryAll`` pages (``bulk_threshold=None``);
- ``bulk``: revops_ingest over Bulk API 2.0 CSV results (``bulk_threshold=0``);
- ``dlt``: dlt 1.31's REST client (JSONLinkPaginator on ``nextRecordsUrl``) in a
  dlt pipeline to its filesystem destination as Parquet, the same end result.

    python benchmarks/bench_salesforce.py                    # 50 k and 200 k
    python benchmarks/bench_salesforce.py --rows 200000 --clients rest bulk
    python benchmarks/bench_salesforce.py --repeat 5       # fastest of 5 runs each

Goal (issue 3): client cost <= 5 us per record (>= 200 k records/s per core) and
peak memory flat in the number of records.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


API = "62.0"
SOQL_FIELDS = None  # all fields, as each client reads them by default


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _serve(rows: int, conn) -> None:
    """Emulator process: generate the data, serve until told to stop."""
    from revops_ingest.testing import SalesforceEmulator

    emulator = SalesforceEmulator(seed=1, accounts=50, users=5, api_version=API)
    emulator.generate("Opportunity", rows)
    with emulator:
        conn.send(
            {
                "url": emulator.url,
                "token_url": emulator.token_url,
                "client_id": "sf-client-id",
                "client_secret": "sf-client-secret",
                "access_token": emulator.issue_access_token(),
                "pid": os.getpid(),
                "total": len(emulator.records["Opportunity"]),
            }
        )
        conn.recv()  # stop


def _client_revops(info: dict, mode: str, out: str) -> int:
    import revops_ingest
    from revops_ingest.sources.salesforce import ClientCredentialsAuth, SalesforceSource

    source = SalesforceSource(
        auth=ClientCredentialsAuth(
            info["token_url"], info["client_id"], info["client_secret"]
        ),
        api_version=API,
        bulk_threshold=None if mode == "rest" else 0,
        bulk_max_records=50_000,
    )
    run = revops_ingest.sync(
        source, "Opportunity", revops_ingest.Lake(out), progress=False
    )
    return run.records_processed


def _client_dlt(info: dict, out: str) -> int:
    import dlt
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
    from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator

    client = RESTClient(
        base_url=info["url"],
        auth=BearerTokenAuth(info["access_token"]),
        paginator=JSONLinkPaginator(next_url_path="nextRecordsUrl"),
        data_selector="records",
    )
    describe = client.get(f"/services/data/v{API}/sobjects/Opportunity/describe").json()
    fields = [
        f["name"]
        for f in describe["fields"]
        if f["type"] not in ("address", "location", "base64")
    ]
    soql = f"SELECT {','.join(fields)} FROM Opportunity ORDER BY SystemModstamp, Id"

    @dlt.resource(name="opportunity", write_disposition="append")
    def opportunities():
        yield from client.paginate(
            f"/services/data/v{API}/queryAll", params={"q": soql}
        )

    pipeline = dlt.pipeline(
        pipeline_name="bench_sf",
        destination=dlt.destinations.filesystem(bucket_url=str(Path(out) / "dlt")),
        dataset_name="salesforce",
        pipelines_dir=str(Path(out) / "pipelines"),
    )
    info_ = pipeline.run(opportunities(), loader_file_format="parquet")
    del info_
    return int(pipeline.last_trace.last_normalize_info.row_counts["opportunity"])


def _client_main(client: str, info_json: str) -> None:
    info = json.loads(info_json)
    # Imports are not the client's per-record cost: load them before the clock.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"  # no network, ever
    warm = ["dlt", "dlt.destinations", "dlt.sources.helpers.rest_client"]
    for module in warm if client == "dlt" else ["revops_ingest.sources.salesforce"]:
        importlib.import_module(module)
    with tempfile.TemporaryDirectory() as out:
        cpu0, t0 = time.process_time(), time.perf_counter()
        if client == "dlt":
            rows = _client_dlt(info, out)
        else:
            rows = _client_revops(info, client, out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "wall": wall, "cpu": cpu, "peak_mb": peak}))


def _run_client(client: str, info: dict) -> dict:
    """One fresh client process; its figures and the emulator's CPU meanwhile."""
    emu0 = _cpu_seconds(info["pid"])
    proc = subprocess.run(
        [sys.executable, __file__, "--client", client, "--info", json.dumps(info)],
        check=True,
        capture_output=True,
        text=True,
    )
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    run["emulator_cpu"] = _cpu_seconds(info["pid"]) - emu0
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[50_000, 200_000])
    parser.add_argument(
        "--clients",
        nargs="*",
        default=["rest", "bulk", "dlt"],
        choices=["rest", "bulk", "dlt"],
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="fresh client processes per client and size; the fastest counts",
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _client_main(args.client, args.info)
        return

    ctx = mp.get_context("spawn")
    print("bench_salesforce: emulator in its own process; client CPU and memory")
    results: dict[tuple[str, int], dict] = {}
    for rows in args.rows:
        parent, child = ctx.Pipe()
        server = ctx.Process(target=_serve, args=(rows, child), daemon=True)
        server.start()
        info = parent.recv()
        for client in args.clients:
            runs = [_run_client(client, info) for _ in range(args.repeat)]
            result = min(runs, key=lambda r: r["cpu"])
            result["peak_mb"] = max(r["peak_mb"] for r in runs)
            emu = result["emulator_cpu"]
            results[(client, rows)] = result
            us = result["cpu"] / max(result["rows"], 1) * 1e6
            print(
                f"  {client:<5} {rows:>8,} rows: client {result['cpu']:6.2f} CPU-s "
                f"= {us:5.2f} us/record ({result['rows'] / result['cpu']:>9,.0f} "
                f"records/CPU-s), wall {result['wall']:6.2f} s, emulator "
                f"{emu:6.2f} CPU-s, client peak RSS {result['peak_mb']:,.0f} MB"
            )
        parent.send("stop")
        server.join(timeout=30)
    largest = max(args.rows)
    if "dlt" in args.clients:
        for client in ("rest", "bulk"):
            if (client, largest) in results:
                ratio = (
                    results[("dlt", largest)]["cpu"] / results[(client, largest)]["cpu"]
                )
                print(f"  dlt / {client} client CPU at {largest:,} rows: {ratio:.1f}x")
    if len(args.rows) > 1:
        smallest = min(args.rows)
        print(
            "  marginal cost per record (CPU difference between the largest and "
            "smallest runs, so fixed per-process costs such as imports cancel out):"
        )
        for client in args.clients:
            small, large = results[(client, smallest)], results[(client, largest)]
            marginal = (large["cpu"] - small["cpu"]) / (largest - smallest) * 1e6
            fixed = small["cpu"] - marginal * smallest / 1e6
            print(
                f"    {client:<5} {marginal:5.2f} us/record "
                f"({1e6 / marginal:>9,.0f} records/CPU-s); fixed {fixed:5.2f} CPU-s"
            )
        for client in args.clients:
            grow = (
                results[(client, largest)]["peak_mb"]
                - results[(client, smallest)]["peak_mb"]
            )
            print(
                f"  {client} peak RSS growth {smallest:,} -> {largest:,} rows: "
                f"{grow:+,.0f} MB"
            )


if __name__ == "__main__":
    main()
