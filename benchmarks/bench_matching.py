"""Benchmark account matching and ticket linking (not a test).

Synthetic Salesforce-like and HubSpot-like accounts (``synthetic_accounts``) and
tickets (``synthetic_tickets``), then:

* end to end, default mode: ``match_accounts`` on the raw tables (normalisation
  included) and ``link_by_domain`` on the tickets; wall time, CPU time and peak
  memory beyond the inputs (RSS sampled every 50 ms);
* fuzzy-rule recall of the blocking against brute force (same normaliser, scorer
  and threshold): a sample of left accounts against the whole right side, for
  default and thorough mode. "pair": every brute-force pair above the threshold;
  "best": the sample account's best score is found; "true": of the synthetic true
  matches brute force finds, the share the blocking finds;
* precision and recall per rule on the labelled set
  (``tests/matching/data/eval_pairs.csv``).

Run: ``python benchmarks/bench_matching.py --n 1000000`` (about 15 minutes on two
cores, most of it the brute-force reference); ``--n 100000`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import threading
import time


ROOT = pathlib.Path(__file__).resolve().parents[1]


class _Peak:
    """Sample this process's RSS in a thread; report the peak above a baseline."""

    def __init__(self) -> None:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        with pathlib.Path("/proc/self/statm").open() as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _Peak:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def beyond(self) -> float:
        return (self.peak - self.baseline) / 2**30


def _timed(label, fn, report):
    wall, cpu = time.perf_counter(), time.process_time()
    with _Peak() as peak:
        out = fn()
    report[label] = {
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "peak_gib_beyond_inputs": round(peak.beyond, 2),
    }
    print(label, report[label], flush=True)
    return out


def _recall(full, brute, truth, sample_ids):
    import pyarrow.compute as pc

    found = full.filter(pc.is_in(full.column("left_id"), sample_ids))
    found_pairs = set(
        zip(
            found.column("left_id").to_pylist(),
            found.column("right_id").to_pylist(),
            strict=True,
        )
    )
    found_best: dict[str, float] = {}
    for lid, score in zip(
        found.column("left_id").to_pylist(),
        found.column("score").to_pylist(),
        strict=True,
    ):
        found_best[lid] = max(found_best.get(lid, 0.0), score)
    brute_pairs = list(
        zip(
            brute.column("left_id").to_pylist(),
            brute.column("right_id").to_pylist(),
            brute.column("score").to_pylist(),
            strict=True,
        )
    )
    best: dict[str, float] = {}
    for lid, _, score in brute_pairs:
        best[lid] = max(best.get(lid, 0.0), score)
    true_pairs = [(a, b) for a, b, _ in brute_pairs if (a, b) in truth]
    return {
        "brute_force_pairs": len(brute_pairs),
        "sample_accounts_with_a_partner": len(best),
        "true_pairs_brute_force_finds": len(true_pairs),
        "pair_recall": round(
            sum((a, b) in found_pairs for a, b, _ in brute_pairs)
            / max(len(brute_pairs), 1),
            4,
        ),
        "best_recall": round(
            sum(abs(found_best.get(a, -1.0) - s) < 1e-9 for a, s in best.items())
            / max(len(best), 1),
            4,
        ),
        "true_recall": round(
            sum(p in found_pairs for p in true_pairs) / max(len(true_pairs), 1), 4
        ),
    }


def _recall_section(args, data, truth, report):
    import numpy as np
    import pyarrow as pa

    from revops_ingest.matching import fuzzy_candidates, normalise_accounts

    left = normalise_accounts(data.left)
    right = normalise_accounts(data.right)
    rng = np.random.default_rng(args.seed)
    rows = np.sort(
        rng.choice(left.num_rows, size=min(args.sample, left.num_rows), replace=False)
    )
    sample = left.take(pa.array(rows))
    sample_ids = sample.column("account_id")
    brute = _timed(
        "brute_force_sample",
        lambda: fuzzy_candidates(sample, right, mode="brute_force"),
        report,
    )
    modes = ["default"] if args.skip_thorough else ["default", "thorough"]
    for mode in modes:
        full = _timed(
            f"fuzzy_candidates_{mode}",
            lambda mode=mode: fuzzy_candidates(left, right, mode=mode),
            report,
        )
        report[f"recall_{mode}"] = _recall(full, brute, truth, sample_ids)
        print(f"recall_{mode}", report[f"recall_{mode}"], flush=True)
        del full


def _labelled_section(report):
    import pyarrow as pa
    import pyarrow.csv as pv

    from revops_ingest.matching import evaluate_pairs

    pairs = pv.read_csv(
        ROOT / "tests" / "matching" / "data" / "eval_pairs.csv",
        convert_options=pv.ConvertOptions(
            column_types={"left_website": pa.string(), "right_website": pa.string()},
            strings_can_be_null=True,
        ),
    )
    evaluation = evaluate_pairs(pairs)
    report["labelled_set"] = evaluation.per_rule.to_pylist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="accounts per side")
    parser.add_argument(
        "--tickets", type=int, default=None, help="tickets (default: n)"
    )
    parser.add_argument(
        "--sample", type=int, default=20_000, help="left accounts for recall"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-recall", action="store_true")
    parser.add_argument("--skip-thorough", action="store_true")
    parser.add_argument(
        "--json", type=pathlib.Path, default=None, help="write the report here"
    )
    args = parser.parse_args()

    import pyarrow.compute as pc

    from revops_ingest.matching import (
        link_by_domain,
        match_accounts,
        synthetic_accounts,
        synthetic_tickets,
    )

    report: dict[str, object] = {"n_per_side": args.n, "seed": args.seed}
    t0 = time.perf_counter()
    data = synthetic_accounts(args.n, seed=args.seed)
    tickets = synthetic_tickets(data.left, args.tickets or args.n, seed=args.seed)
    report["generate_s"] = round(time.perf_counter() - t0, 1)
    print("generated", report["generate_s"], "s", flush=True)

    decisions = _timed(
        "match_accounts_default",
        lambda: match_accounts(data.left, data.right),
        report,
    )
    counts = decisions.group_by(["rule", "status"]).aggregate([([], "count_all")])
    report["decisions"] = {
        f"{r['rule']}/{r['status']}": r["count_all"] for r in counts.to_pylist()
    }
    truth = set(
        zip(
            data.truth.column("left_id").to_pylist(),
            data.truth.column("right_id").to_pylist(),
            strict=True,
        )
    )
    linked = decisions.filter(pc.equal(decisions.column("status"), "linked"))
    for rule in ("exact_domain", "fuzzy_name"):
        rows = linked.filter(pc.equal(linked.column("rule"), rule))
        pairs = zip(
            rows.column("left_id").to_pylist(),
            rows.column("right_id").to_pylist(),
            strict=True,
        )
        hits = sum(p in truth for p in pairs)
        report[f"synthetic_{rule}"] = {
            "links": rows.num_rows,
            "precision_vs_generator_truth": round(hits / max(rows.num_rows, 1), 4),
            "recall_vs_generator_truth": round(hits / max(len(truth), 1), 4),
        }
    del decisions, linked

    links = _timed(
        "link_by_domain",
        lambda: link_by_domain(
            tickets.tickets,
            accounts=data.left,
            contacts=tickets.contacts,
            domain_columns=["organization_domains"],
        ),
        report,
    )
    values, counts = pc.value_counts(links.column("link_status")).flatten()
    report["tickets"] = dict(zip(values.to_pylist(), counts.to_pylist(), strict=True))
    del links

    total = (
        report["match_accounts_default"]["wall_s"] + report["link_by_domain"]["wall_s"]
    )
    report["end_to_end_default_wall_s"] = round(total, 1)

    if not args.skip_recall:
        _recall_section(args, data, truth, report)
    _labelled_section(report)
    print(json.dumps(report, indent=2), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
