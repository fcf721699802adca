"""build_staging with Zendesk: raw tickets to /RevOps/Telemetry, linked to accounts."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest.http import RetryPolicy
from revops_ingest.matching import domain_key
from revops_ingest.sources.zendesk import ZendeskSource
from revops_ingest.staging import (
    DOMAIN_MAPPING,
    STAGING_LOG,
    SUPPORT_SUMMARY,
    SUPPORT_TICKETS,
    build_staging,
)
from revops_ingest.testing import ZendeskEmulator


FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=60, jitter=False)


@pytest.fixture(name="zd")
def _zd():
    with ZendeskEmulator(seed=11, organizations=5, tickets=40) as emulator:
        emulator.advance(61)
        yield emulator
        emulator.raise_errors()


@pytest.fixture(name="lake")
def _lake(zd, tmp_path):
    lake = revops_ingest.Lake(tmp_path / "lake")
    source = ZendeskSource(
        subdomain="acme",
        email=zd.email,
        api_token=zd.api_token,
        base_url=zd.url,
        retry=FAST,
        sleep=zd.advance,
        clock=zd.epoch,
    )
    with source:
        for name in ("organizations", "users", "tickets"):
            run = revops_ingest.sync(source, name, lake, progress=False)
            assert run.status == "success", run.error_message
    return lake


def _expected_accounts(zd, mapping):
    """Ticket id -> the account its requester's domain maps to (reference)."""
    expected = {}
    for ticket in zd.records["tickets"].values():
        if ticket["status"] == "deleted":
            continue
        email = zd.records["users"][ticket["requester_id"]]["email"]
        expected[ticket["id"]] = mapping.get(domain_key(email.rsplit("@", 1)[1]))
    return expected


class TestBuildStagingZendesk:
    def test_tickets_link_through_the_domain_mapping(self, zd, lake):
        """Each ticket gets the account its requester's e-mail domain maps to."""
        orgs = list(zd.records["organizations"].values())
        mapping = {
            domain_key(org["domain_names"][0]): f"001ACC{n:03d}"
            for n, org in enumerate(orgs[:3])
        }
        lake.write(
            DOMAIN_MAPPING,
            pa.table({"domain": list(mapping), "account_id": list(mapping.values())}),
        )

        runs = build_staging(lake, tables=["support_tickets"], check=False)

        assert ["success"] == [r.status for r in runs]
        tickets = lake.read(SUPPORT_TICKETS).to_pylist()
        expected = _expected_accounts(zd, mapping)
        by_mapping = {
            t["ticket_id"]: t["account_id"]
            for t in tickets
            if t["link_method"] == "domain_mapping"
        }
        assert by_mapping  # the mapping linked something
        assert all(expected[i] == a for i, a in by_mapping.items())
        assert sorted(expected) == sorted(t["ticket_id"] for t in tickets)

    def test_unlinked_tickets_are_kept_and_counted_in_the_log(self, zd, lake):
        """Free-mail and unmapped tickets stay, with a null account, counted."""
        lake.write(
            DOMAIN_MAPPING,
            pa.table({"domain": ["nowhere-else.com"], "account_id": ["001X"]}),
        )

        build_staging(lake, tables=["support_tickets"], check=False)

        tickets = lake.read(SUPPORT_TICKETS).to_pylist()
        free_mail = [t for t in tickets if t["requester_domain"] is None]
        assert free_mail
        assert all(t["account_id"] is None for t in free_mail)
        row = lake.read(STAGING_LOG).to_pylist()[-1]
        details = json.loads(row["details"])
        unlinked = sum(t["account_id"] is None for t in tickets)
        assert details["unlinked"] + details["ambiguous"] == unlinked
        assert row["rows_out"] == len(tickets)
        assert f"{details['unlinked']} ticket(s) not linked" in row["message"]

    def test_summary_counts_open_tickets_per_account(self, zd, lake):
        """The per-account summary agrees with the staged tickets it summarises."""
        orgs = list(zd.records["organizations"].values())
        lake.write(
            DOMAIN_MAPPING,
            pa.table(
                {
                    "domain": [domain_key(o["domain_names"][0]) for o in orgs],
                    "account_id": [f"001ACC{n:03d}" for n in range(len(orgs))],
                }
            ),
        )

        build_staging(lake, tables=["support_tickets"], check=False)

        tickets = lake.read(SUPPORT_TICKETS).to_pylist()
        summary = {r["account_id"]: r for r in lake.read(SUPPORT_SUMMARY).to_pylist()}
        for account, row in summary.items():
            mine = [t for t in tickets if t["account_id"] == account]
            assert row["tickets_total"] == len(mine)
            assert row["open_tickets"] == sum(t["is_open"] for t in mine)

    def test_skipped_without_zendesk(self, tmp_path):
        """A lake without Zendesk raw data skips the table instead of failing."""
        lake = revops_ingest.Lake(tmp_path / "empty")

        (run,) = build_staging(lake, tables=["support_tickets"], check=False)

        assert "skipped" == run.status
        assert "/Zendesk/Raw/Tickets not found" in run.message
