"""The ``revops-ingest`` command: ``sync``, ``status``, ``stage`` and ``demo``."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import typing

from revops_ingest.exceptions import ConfigurationError, RevOpsIngestError


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from revops_ingest._lake import Lake
    from revops_ingest._source import Source


__all__ = ["main"]

_EXIT_OK = 0
_EXIT_FAILED = 1
_EXIT_USAGE = 2


def format_table(
    table: pa.Table, columns: Sequence[str] | None = None, *, max_width: int = 48
) -> str:
    """Render *table* as aligned text for a terminal."""
    names = list(columns) if columns is not None else list(table.column_names)
    cells = [names]
    cells += [
        [_cell(row[n], max_width) for n in names]
        for row in table.select(names).to_pylist()
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(names))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object, max_width: int) -> str:
    if value is None:
        text = ""
    elif hasattr(value, "strftime"):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, float):
        text = f"{value:,.2f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


STATUS_COLUMNS = (
    "source_system",
    "object_type",
    "status",
    "end_time",
    "records_processed",
    "requests",
    "consecutive_failures",
    "error_message",
)


def _load_source(spec: str) -> Source:
    """Import ``module:callable`` and call it to get a source."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        msg = f"--source must look like 'package.module:factory', not {spec!r}"
        raise ConfigurationError(msg)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"--source {spec!r}: cannot import {module_name!r}: {exc}"
        raise ConfigurationError(msg) from exc
    factory = getattr(module, attr, None)
    if factory is None:
        msg = f"--source {spec!r}: {module_name!r} has no attribute {attr!r}"
        raise ConfigurationError(msg)
    source = factory() if callable(factory) else factory
    from revops_ingest._source import Source  # noqa: PLC0415

    if not isinstance(source, Source):
        msg = f"--source {spec!r} did not give a Source (got {type(source).__name__})"
        raise ConfigurationError(msg)
    return source


def _cmd_sync(args: argparse.Namespace) -> int:
    from revops_ingest._lake import Lake  # noqa: PLC0415
    from revops_ingest._sync import sync  # noqa: PLC0415

    source = _load_source(args.source)
    lake = Lake(args.lake)
    objects = list(args.objects) or [o.name for o in source.objects()]
    failed = 0
    for name in objects:
        try:
            run = sync(source, name, lake, full_refresh=args.full_refresh)
        except RevOpsIngestError as exc:
            failed += 1
            print(f"FAILED {source.system} {name}: {exc}", file=sys.stderr)
            continue
        print(
            f"ok     {run.source_system} {run.object_type}: "
            f"{run.records_processed:,} records in {run.duration_seconds:.1f} s "
            f"({run.requests} requests) -> {run.dataset}"
        )
    return _EXIT_FAILED if failed else _EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from revops_ingest._audit import sync_status  # noqa: PLC0415
    from revops_ingest._lake import Lake  # noqa: PLC0415

    table = sync_status(Lake(args.lake))
    if args.json:
        print(json.dumps(table.to_pylist(), default=str, indent=2))
    elif table.num_rows == 0:
        print(f"no syncs recorded in {args.lake}")
    else:
        print(format_table(table, STATUS_COLUMNS))
    failing = table.column("status").to_pylist().count("failed")
    return _EXIT_FAILED if failing else _EXIT_OK


STAGING_COLUMNS = (
    "staging_table",
    "source_system",
    "status",
    "rows_in",
    "rows_out",
    "superseded",
    "deleted",
    "unmapped_stage_rows",
    "message",
)


def _cmd_stage(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc  # noqa: PLC0415

    from revops_ingest._lake import Lake  # noqa: PLC0415
    from revops_ingest.staging import STAGING_LOG, build_staging  # noqa: PLC0415

    lake = Lake(args.lake)
    failed = False
    try:
        runs = build_staging(lake, tables=args.tables or None, check=False)
    except ConfigurationError:
        raise  # a bad table name or config dataset: exit 2, said by main()
    except RevOpsIngestError as exc:
        failed = True
        print(f"FAILED staging: {exc}", file=sys.stderr)
        runs = []
    # The log is the record of what happened, failures included: show this run's.
    log = lake.read(STAGING_LOG)
    this_run = runs[0].run_id if runs else pc.max(log.column("run_id")).as_py()
    rows = log.filter(pc.field("run_id") == this_run)  # run ids sort by time
    print(format_table(rows, STAGING_COLUMNS, max_width=60))
    failed = failed or "failed" in rows.column("status").to_pylist()
    if args.no_check:
        return _EXIT_FAILED if failed else _EXIT_OK
    return _quality(lake, args) if not failed else _EXIT_FAILED


def _quality(lake: Lake, args: argparse.Namespace) -> int:
    """Check the staging datasets, print the verdicts; exit 1 at ``--fail-on``."""
    from revops_ingest.quality import Severity, check_staging  # noqa: PLC0415

    report = check_staging(lake, dry_run=args.dry_run, out=sys.stdout)
    print()
    for dataset, result in report.results.items():
        if result.passed:
            print(f"quality {dataset}: passed")
            continue
        failing = [c for c in result.checks if not c.passed]
        shown = result.worst_severity.value if result.worst_severity else "-"
        print(f"quality {dataset}: FAILED (worst {shown})")
        for check in failing:
            count = (
                "" if check.failed_count is None else f" {check.failed_count:,} rows"
            )
            print(f"    {check.severity.value:<8} {check.name}{count}")
    missing = sorted(
        {d.channel for d in report.routing.deliveries if d.status == "no_notifier"}
    )
    if missing and not args.dry_run:
        print(
            f"{len(report.routing.alerts)} alert(s) not sent: no notifier for "
            f"{', '.join(missing)} (pass notifiers through the Python API, or use "
            "--dry-run to print them)"
        )
    if args.fail_on == "never":
        return _EXIT_OK
    threshold = Severity.parse(args.fail_on)
    worst = report.worst_severity
    return _EXIT_FAILED if worst is not None and worst >= threshold else _EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from revops_ingest._demo import run_demo  # noqa: PLC0415

    return run_demo(args.lake, out=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``revops-ingest``."""
    parser = argparse.ArgumentParser(
        prog="revops-ingest",
        description="Sync revenue-operations data into a lake and check it.",
    )
    parser.add_argument("--version", action="store_true", help="print the version")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("sync", help="sync objects of a source into the lake")
    p.add_argument("--lake", required=True, help="lake root: a path or URL")
    p.add_argument(
        "--source",
        required=True,
        help="'package.module:factory' returning a configured Source",
    )
    p.add_argument("objects", nargs="*", help="objects to sync (default: all)")
    p.add_argument(
        "--full-refresh", action="store_true", help="ignore stored watermarks"
    )
    p.set_defaults(func=_cmd_sync)

    p = sub.add_parser("status", help="show the latest sync of every object")
    p.add_argument("--lake", required=True, help="lake root: a path or URL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser(
        "stage",
        help="build the staging tables from the raw datasets, then check them",
    )
    p.add_argument("--lake", required=True, help="lake root: a path or URL")
    p.add_argument(
        "tables",
        nargs="*",
        help="staging tables (default: all: opportunities, accounts, contacts, "
        "activities, support_tickets)",
    )
    p.add_argument(
        "--no-check", action="store_true", help="skip the seed's quality checks"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print alerts instead of sending them"
    )
    p.add_argument(
        "--fail-on",
        choices=["critical", "high", "medium", "low", "never"],
        default="high",
        help="exit 1 when a check of this severity or worse fails (default: high)",
    )
    p.set_defaults(func=_cmd_stage)

    p = sub.add_parser(
        "demo", help="run the whole pipeline against the bundled emulators"
    )
    p.add_argument(
        "--lake", default="./revops-lake", help="where to write (default ./revops-lake)"
    )
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from revops_ingest._sync import _library_version  # noqa: PLC0415

        print(_library_version())
        return _EXIT_OK
    if args.command is None:
        parser.print_help()
        return _EXIT_USAGE
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        print(f"revops-ingest: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except RevOpsIngestError as exc:
        print(f"revops-ingest: {exc}", file=sys.stderr)
        return _EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
