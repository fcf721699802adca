"""``revops-ingest demo``: the whole pipeline, offline, against the bundled emulators.

Each source the library gains joins the demo. Today it runs ExampleCRM end to end:
an initial sync of every object, changes in the CRM, an incremental sync that picks
up exactly those changes through a burst of 503s, and a sync that fails on a revoked
token — then shows the audit log and the sync status view.
"""

from __future__ import annotations

import typing

from revops_ingest._audit import SYNC_LOG, sync_status
from revops_ingest._cli import STATUS_COLUMNS, format_table
from revops_ingest._http import RetryPolicy
from revops_ingest._lake import Lake
from revops_ingest._sync import sync
from revops_ingest.exceptions import AuthenticationError
from revops_ingest.testing._emulator import Fault
from revops_ingest.testing._example import ExampleCrmEmulator, ExampleCrmSource


if typing.TYPE_CHECKING:
    import os
    from typing import TextIO


__all__ = ["run_demo"]


def run_demo(lake_url: str | os.PathLike[str], *, out: TextIO) -> int:
    """Run the demo into *lake_url*, printing a readable summary to *out*."""
    lake = Lake(lake_url)

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    say(f"revops_ingest demo -> lake {lake.url}")
    say("")
    with ExampleCrmEmulator(seed=7, companies=400) as crm:
        # Short waits keep the demo quick; production policies wait longer.
        retry = RetryPolicy(initial_wait=0.05, max_wait=0.5, max_time=30)
        source = ExampleCrmSource(base_url=crm.url, token=crm.token, retry=retry)

        say(f"1. First sync of every {source.system} object (emulator at {crm.url})")
        for spec in source.objects():
            run = sync(source, spec.name, lake)
            say(
                f"   {spec.name:<10} {run.records_processed:>6,} records  "
                f"{run.requests:>3} requests  -> {run.dataset}"
            )

        changed = crm.touch("deals", 25)
        crm.delete("deals", changed[0])
        crm.add_company()
        say("")
        say("2. In the CRM: 25 deals changed (one deleted), one company with 3 deals")
        say("   added. The API now answers the next 3 requests with 503.")
        crm.inject(Fault.status(503, times=3))
        for name in ("deals", "companies"):
            run = sync(source, name, lake)
            say(
                f"   {name:<10} {run.records_processed:>6,} records  "
                f"{run.requests:>3} requests  {run.retries} retries"
            )

        say("")
        say("3. The token is revoked: the next sync fails, is audited, lands nothing.")
        revoked = ExampleCrmSource(base_url=crm.url, token="revoked-" + crm.token)
        try:
            sync(revoked, "deals", lake)
        except AuthenticationError as exc:
            say(f"   failed as expected: {exc}")

    deals = lake.read("/ExampleCRM/Raw/deals")
    say("")
    say(
        f"Raw deals: {deals.num_rows:,} rows landed across syncs "
        f"(versions are kept; staging keeps the latest per id)."
    )
    say(f"Watermark of deals: {lake.state('/ExampleCRM/Raw/deals')}")
    say(f"Audit log {SYNC_LOG}: {lake.read(SYNC_LOG).num_rows} rows")
    say("")
    say("Sync status (/RevOps/Monitoring/sync_status):")
    say(format_table(sync_status(lake), STATUS_COLUMNS, max_width=60))
    say("")
    say(f"Datasets in {lake.url}:")
    for path in lake.datasets():
        say(f"   {path}")
    return 0
