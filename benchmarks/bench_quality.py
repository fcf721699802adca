"""Quality-check cost: ``check(df)...finalize()`` against pandera and GX.

The seed's four checks (row count >= 1; no nulls in ``opportunity_id`` and
``account_id``; ``opportunity_id`` unique; ``stage_name`` in the valid stages, nulls
allowed) on 5 M rows, in four scenarios:

- ``int-pass`` / ``int-fail``: ``opportunity_id`` is a shuffled int64;
- ``str-pass`` / ``str-fail``: it is an 18-character Salesforce-style id.

"fail" has 1 % null ``account_id``, 9,981 rows with a duplicated id and 5,043 invalid
stages (the dictionary of ``stage_name`` carries an unused ``"Unknown"`` in every
scenario). Data is generated with numpy and written to Parquet once; each
implementation and scenario then runs in a fresh process that reads the Parquet
into its own frame first (Arrow for revops_ingest, pandas and polars for pandera,
pandas for GX) and times the checks only: **process CPU seconds** (all threads),
best and median of the rounds, wall time, and the extra peak RSS during the checks
(the kernel's high-water mark, reset before each round; median and max of the
rounds, since the allocator returning memory between rounds moves single readings).
A last process measures the CPU cost of ``import revops_ingest.quality``.

    python benchmarks/bench_quality.py                     # 5 M rows, 5 rounds
    python benchmarks/bench_quality.py --rows 1000000 --rounds 3 --only revops

pandera and great_expectations must be installed (the ``bench`` group); a missing
one is reported and skipped. GX runs with analytics disabled; nothing leaves the
machine.

Goals (quality issue): int ids <= 0.10 s CPU clean and <= 0.15 s with failures and
samples; string ids <= 0.7 s; >= 5x faster than pandera and >= 10x faster than GX
in the same run; extra peak memory <= 100 MB; import <= 0.2 s CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from _memory import reset_peak, status_kb


STAGES = [
    "Discovery",
    "Qualification",
    "Solution Design",
    "Proposal",
    "Negotiation",
    "Verbal Commit",
    "Closed Won",
    "Closed Lost",
]
SCENARIOS = ["int-pass", "int-fail", "str-pass", "str-fail"]
IMPLEMENTATIONS = ["revops", "pandera-polars", "pandera-pandas", "gx"]
DUPLICATE_ROWS = 9_981
INVALID_STAGES = 5_043


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


def generate(rows: int, *, ids: str, fail: bool, seed: int = 0) -> pa.Table:
    """The opportunities table of one scenario."""
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(rows).astype(np.int64)
    if fail:  # 9,981 rows repeat the id of another row
        numbers[:DUPLICATE_ROWS] = numbers[rows - DUPLICATE_ROWS :][::-1]
    opportunity = (
        pa.array(numbers) if ids == "int" else fixed_ids("006", numbers * 7 + 11)
    )
    account = fixed_ids("001", rng.integers(0, rows // 4, rows))
    if fail:  # 1 % null account ids
        mask = np.zeros(rows, dtype=bool)
        mask[rng.choice(rows, rows // 100, replace=False)] = True
        account = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), account)
    owner = pc.if_else(
        pa.array(rng.random(rows) < 0.02),
        pa.scalar(None, pa.string()),
        fixed_ids("005", rng.integers(0, 500, rows)),
    )
    codes = rng.integers(0, len(STAGES), rows).astype(np.int8)
    if fail:
        codes[rng.choice(rows, INVALID_STAGES, replace=False)] = len(STAGES)
    stage = pa.DictionaryArray.from_arrays(pa.array(codes), [*STAGES, "Unknown"])
    return pa.table(
        {
            "opportunity_id": opportunity,
            "account_id": account,
            "owner_id": owner,
            "stage_name": stage,
            "amount": pa.array(rng.random(rows) * 1e5),
        }
    )


# ---------------------------------------------------------------- one process


def _prepare(implementation: str, table: pa.Table):
    """Load the frame and build the checks; return a function that runs them."""
    if implementation == "revops":
        from revops_ingest.quality import check

        def run():
            result = (
                check(table)
                .assert_not_empty(min_rows=1)
                .assert_no_nulls("opportunity_id", "account_id")
                .assert_unique("opportunity_id")
                .assert_values_in("stage_name", STAGES)
                .finalize()
            )
            return {c.name: c.failed_count for c in result}

        return run
    if implementation.startswith("pandera"):
        if implementation == "pandera-polars":
            import pandera.polars as pandera
            import polars as pl

            frame = pl.from_arrow(table)
        else:
            import pandas as pd
            import pandera.pandas as pandera

            frame = table.to_pandas()
            assert isinstance(frame, pd.DataFrame)
        from pandera.errors import SchemaErrors

        schema = pandera.DataFrameSchema(
            {
                "opportunity_id": pandera.Column(nullable=False, unique=True),
                "account_id": pandera.Column(nullable=False),
                "stage_name": pandera.Column(
                    checks=pandera.Check.isin(STAGES), nullable=True
                ),
            },
            checks=[pandera.Check(lambda df: len(df) >= 1, name="not_empty")],
        )

        def run():
            try:
                schema.validate(frame, lazy=True)
            except SchemaErrors as errors:
                return {"failure_cases": len(errors.failure_cases)}
            return {"failure_cases": 0}

        return run
    if implementation == "gx":
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        import great_expectations as gx

        frame = table.to_pandas()
        context = gx.get_context(mode="ephemeral")
        batch = (
            context.data_sources.add_pandas("bench")
            .add_dataframe_asset("opportunities")
            .add_batch_definition_whole_dataframe("all")
        )
        suite = context.suites.add(gx.ExpectationSuite(name="seed"))
        for expectation in (
            gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="opportunity_id"),
            gx.expectations.ExpectColumnValuesToNotBeNull(column="account_id"),
            gx.expectations.ExpectColumnValuesToBeUnique(column="opportunity_id"),
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="stage_name", value_set=STAGES
            ),
        ):
            suite.add_expectation(expectation)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(data=batch, suite=suite, name="seed")
        )

        def run():
            result = validation.run(
                batch_parameters={"dataframe": frame}, result_format="SUMMARY"
            )
            return {
                r.expectation_config.type: r.result.get("unexpected_count")
                for r in result.results
            }

        return run
    msg = f"unknown implementation {implementation!r}"
    raise ValueError(msg)


def worker(implementation: str, data: str, rounds: int) -> None:
    """Read the Parquet, run the checks *rounds* times, print one JSON line."""
    table = pq.read_table(data, read_dictionary=["stage_name"])
    run = _prepare(implementation, table)
    cpu: list[float] = []
    wall: list[float] = []
    extra: list[float] = []
    answer = None
    for _ in range(rounds):
        base_kb = status_kb("VmRSS")
        exact = reset_peak()
        c0, w0 = time.process_time(), time.perf_counter()
        answer = run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        if exact:
            extra.append((status_kb("VmHWM") - base_kb) / 1024)
    print(
        json.dumps(
            {"cpu": cpu, "wall": wall, "extra_mb": extra, "answer": answer},
            default=str,
        )
    )


# Run with ``python -c`` in a fresh interpreter: this file imports numpy and
# pyarrow at the top, which would hide their cost.
_IMPORT_PROBE = """
import json, sys, time
c0 = time.process_time()
import revops_ingest.quality
c1 = time.process_time()
import numpy, pyarrow
c2 = time.process_time()
assert revops_ingest.quality.check
c3 = time.process_time()
loaded = [m for m in ("pandas", "narwhals", "requests", "polars") if m in sys.modules]
print(json.dumps({"import": c1 - c0, "arrow": c2 - c1, "check": c3 - c2,
                  "loaded": loaded}))
"""


def import_probe() -> dict:
    """CPU cost of ``import revops_ingest.quality``, then of first reaching ``check``.

    Three figures from one fresh interpreter: the import itself (names load on
    first use), then the first access of ``check`` split into pyarrow + numpy and
    the rest (the checker: what a caller who already holds a dataframe, and so has
    pyarrow loaded, pays).
    """
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- driver


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _available(implementation: str) -> bool:
    module = {
        "pandera-polars": "pandera",
        "pandera-pandas": "pandera",
        "gx": "great_expectations",
    }
    name = module.get(implementation)
    if name is None:
        return True
    import importlib.util

    return importlib.util.find_spec(name) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--peer-rounds", type=int, default=3, help="rounds for pandera and GX"
    )
    parser.add_argument("--only", choices=IMPLEMENTATIONS, action="append")
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.rounds)
        return

    implementations = args.only or IMPLEMENTATIONS
    scenarios = args.scenario or SCENARIOS
    print(f"{args.rows:,} rows; CPU seconds = process CPU, all threads")
    figures: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        for scenario in scenarios:
            ids, outcome = scenario.split("-")
            path = Path(tmp) / f"{scenario}.parquet"
            pq.write_table(
                generate(args.rows, ids=ids, fail=outcome == "fail"),
                path,
                row_group_size=131_072,
            )
            for implementation in implementations:
                if not _available(implementation):
                    figures[(implementation, scenario)] = {"error": ["not installed"]}
                    continue
                rounds = args.rounds if implementation == "revops" else args.peer_rounds
                figures[(implementation, scenario)] = _child(
                    "--worker",
                    implementation,
                    "--data",
                    str(path),
                    "--rounds",
                    str(rounds),
                )
    imports = [import_probe() for _ in range(5)]

    header = f"{'implementation':<16}{'scenario':<10}{'CPU best':>9}{'median':>8}"
    header += f"{'wall best':>10}{'extra MB med/max':>17}  answer"
    print(header)
    for (implementation, scenario), figure in figures.items():
        if "error" in figure:
            print(f"{implementation:<16}{scenario:<10}  skipped: {figure['error']}")
            continue
        print(
            f"{implementation:<16}{scenario:<10}{min(figure['cpu']):>9.3f}"
            f"{statistics.median(figure['cpu']):>8.3f}{min(figure['wall']):>10.3f}"
            f"{statistics.median(figure['extra_mb'] or [0]):>11.0f}"
            f"/{max(figure['extra_mb'] or [0]):<5.0f}  {figure['answer']}"
        )
    print()
    ok = [i for i in imports if "error" not in i]
    if ok:
        print(
            "import revops_ingest.quality, CPU s (best of 5, fresh processes): "
            f"{min(i['import'] for i in ok):.3f}; first use of check: pyarrow + "
            f"numpy {min(i['arrow'] for i in ok):.3f} + checker "
            f"{min(i['check'] for i in ok):.3f}; heavy modules loaded: "
            f"{ok[0]['loaded'] or 'none'}"
        )
    print()
    _goals(figures)


def _goals(figures: dict[tuple[str, str], dict]) -> None:
    def best(implementation: str, scenario: str) -> float | None:
        figure = figures.get((implementation, scenario), {})
        return min(figure["cpu"]) if "cpu" in figure else None

    limits = {"int-pass": 0.10, "int-fail": 0.15, "str-pass": 0.7, "str-fail": 0.7}
    for scenario, limit in limits.items():
        ours = best("revops", scenario)
        if ours is None:
            continue
        verdict = "met" if ours <= limit else "MISSED"
        line = f"goal {scenario}: {ours:.3f} s <= {limit} s: {verdict}"
        pandera = [
            t
            for t in (
                best("pandera-polars", scenario),
                best("pandera-pandas", scenario),
            )
            if t
        ]
        if pandera:
            ratio = min(pandera) / ours
            line += f"; {ratio:.0f}x faster than the best pandera (goal 5x)"
        gx = best("gx", scenario)
        if gx:
            line += f"; {gx / ours:.0f}x faster than GX (goal 10x)"
        memory = figures.get(("revops", scenario), {}).get("extra_mb") or [0]
        line += (
            f"; extra peak {statistics.median(memory):.0f} MB median, "
            f"{max(memory):.0f} MB max (goal 100)"
        )
        print(line)


if __name__ == "__main__":
    main()
