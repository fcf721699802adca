"""``revops-ingest demo``: the whole pipeline, offline, against the bundled emulators.

Each source the library gains joins the demo. It runs Salesforce end to end against
:class:`~revops_ingest.testing.SalesforceEmulator`: a first sync of the six
objects; then changes in the org (edits, a soft and a hard delete, a new custom
field), an expired session and a burst of 503s, and an incremental sync that lands
exactly those changes; then the org's API allocation runs out and the next sync
fails, audited, landing nothing. A HubSpot portal
(:class:`~revops_ingest.testing.HubSpotEmulator`) holds many of the same companies
and deals, some linked by the HubSpot-Salesforce integration, some not; a Zendesk
account (:class:`~revops_ingest.testing.ZendeskEmulator`) holds the customers'
tickets. Staging then builds the unified, deduplicated tables and the support
telemetry, and the demo ends with the audit log and the sync status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import typing
from pathlib import Path

import pyarrow as pa

from revops_ingest._audit import SYNC_LOG, sync_status
from revops_ingest._cli import STATUS_COLUMNS, format_table
from revops_ingest._http import RetryPolicy
from revops_ingest._lake import Lake
from revops_ingest._sync import sync
from revops_ingest.exceptions import ConfigurationError, QuotaExceededError
from revops_ingest.matching import domain_key
from revops_ingest.quality import Notifier, PagerDutyNotifier, SlackNotifier
from revops_ingest.sources.hubspot import HubSpotSource
from revops_ingest.sources.salesforce import ClientCredentialsAuth, SalesforceSource
from revops_ingest.sources.zendesk import ZendeskSource
from revops_ingest.staging import DOMAIN_MAPPING, SupportTicketsReport, build_staging
from revops_ingest.testing._emulator import Fault
from revops_ingest.testing._hubspot import HubSpotEmulator
from revops_ingest.testing._notifiers import PagerDutyEmulator, SlackWebhookEmulator
from revops_ingest.testing._salesforce import SalesforceEmulator
from revops_ingest.testing._zendesk import ZendeskEmulator


if typing.TYPE_CHECKING:
    from typing import TextIO

    from revops_ingest._audit import SyncRun


__all__ = ["run_demo"]


def _clip(text: str, width: int = 84) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _line(run: SyncRun) -> str:
    extra = []
    if run.retries:
        extra.append(f"{run.retries} retries")
    if run.token_refreshes:
        extra.append(f"{run.token_refreshes} token refresh")
    return (
        f"   {run.object_type:<12} {run.records_processed:>6,} records "
        f"{run.requests:>4} requests  API usage {run.api_quota_used or 0:>4}/"
        f"{run.api_quota_limit or 0:,}  {', '.join(extra)}"
    ).rstrip()


class _OrgClock:
    """The emulated org's clock: ten minutes behind ours, moved on by hand.

    Real orgs and the machine running a sync disagree about the time; the source's
    look-back covers that. Moving the org's clock by hand lets the demo show, in
    seconds, what takes a minute in real life: Salesforce's deleted-records log has
    minute granularity, so a purge shows up once its minute is over.
    """

    def __init__(self) -> None:
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.now = now - dt.timedelta(minutes=10)

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += dt.timedelta(seconds=seconds)


_DEMO_PREFIXES = ("/Salesforce/", "/HubSpot/", "/Zendesk/", "/RevOps/")


def _fresh_lake(
    lake_url: str | os.PathLike[str], say: typing.Callable[[str], None]
) -> Lake:
    """Return an empty lake at *lake_url*, clearing a previous demo's lake there.

    The demo's story needs an empty lake. A folder that holds only what an earlier
    demo wrote is cleared; anything else is refused, never deleted.
    """
    lake = Lake(lake_url)
    existing = lake.datasets()
    if not existing:
        return lake
    foreign = [p for p in existing if not p.startswith(_DEMO_PREFIXES)]
    root = Path(os.fspath(lake_url))
    if foreign or "://" in str(lake_url) or not root.is_dir():
        msg = (
            f"{lake.url} already holds datasets the demo did not write "
            f"({', '.join(foreign[:3]) or 'not a local folder'}); "
            "pass --lake with a new folder"
        )
        raise ConfigurationError(msg)
    say(f"(clearing the previous demo's {len(existing)} datasets in {lake.url})")
    shutil.rmtree(root)
    return Lake(lake_url)


def run_demo(lake_url: str | os.PathLike[str], *, out: TextIO) -> int:
    """Run the demo into *lake_url*, printing a readable summary to *out*."""

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    lake = _fresh_lake(lake_url, say)
    say(f"revops_ingest demo -> lake {lake.url}")
    clock = _OrgClock()
    # Short waits keep the demo quick; production policies wait longer.
    retry = RetryPolicy(initial_wait=0.05, max_wait=0.5, max_time=30)
    with SalesforceEmulator(seed=7, accounts=200, users=12, now=clock) as org:
        auth = ClientCredentialsAuth(org.token_url, org.client_id, org.client_secret)
        with SalesforceSource(
            auth=auth, retry=retry, lookback=dt.timedelta(minutes=15)
        ) as source:
            _salesforce(org, clock, source, lake, say)
        customers = [
            (record_id, str(record["Website"]))
            for record_id, record in sorted(org.records["Account"].items())
            if record.get("Website")
        ][:6]
        accounts = sorted(org.records["Account"].items())[:60]
        opportunities = sorted(org.records["Opportunity"].items())
    with HubSpotEmulator(seed=7, companies=12) as portal:
        _hubspot(
            portal,
            accounts=accounts,
            opportunities=opportunities,
            lake=lake,
            retry=retry,
            say=say,
        )
    with ZendeskEmulator(seed=7, organizations=2, tickets=12) as desk:
        _zendesk(desk, customers, lake, say)
    with PagerDutyEmulator() as pagerduty, SlackWebhookEmulator() as slack:
        notifiers: dict[str, Notifier] = {
            "pagerduty": PagerDutyNotifier(
                routing_key="demo-routing-key", base_url=pagerduty.url, retry=retry
            ),
            "slack": SlackNotifier(slack.webhook_url("#data-quality"), retry=retry),
        }
        _staging(lake, notifiers, say)
        say("")
        say("7. Alerts. Seed rules: sync failed -> Critical -> PagerDuty; >5 % nulls")
        say("   -> High -> Slack #data-quality; row count drop >20 % -> Medium -> mail")
        for incident in pagerduty.open_incidents:
            say(f"   PagerDuty [{incident.severity}]: {_clip(incident.summary)}")
        for text in slack.texts("#data-quality"):
            say(f"   Slack #data-quality: {_clip(text.splitlines()[0])}")
        if not pagerduty.events and not slack.messages:
            say("   none: every check passed and no sync failed")
    _summary(lake, say)
    return 0


def _salesforce(
    org: SalesforceEmulator,
    clock: _OrgClock,
    source: SalesforceSource,
    lake: Lake,
    say: typing.Callable[[str], None],
) -> None:
    objects = [spec.name for spec in source.objects()]
    say("")
    say(f"1. First sync of {', '.join(objects)}")
    say(f"   (Salesforce emulator at {org.url}: OAuth, REST, Bulk API 2.0)")
    for name in objects:
        say(_line(sync(source, name, lake)))

    opportunities = sorted(org.records["Opportunity"])
    clock.tick()
    for record_id in opportunities[:20]:
        org.update("Opportunity", record_id, StageName="Negotiation/Review")
    org.delete("Opportunity", opportunities[20])
    org.delete("Opportunity", opportunities[21])
    org.purge("Opportunity", opportunities[21])
    org.add_field("Opportunity", "MyCompetitor__c", "string")
    org.update("Opportunity", opportunities[0], MyCompetitor__c="Globex")
    org.expire_tokens()
    org.inject(Fault.status(503, times=3))
    clock.tick(61)  # the deleted-records log counts whole minutes
    say("")
    say("2. In Salesforce: 20 opportunities move stage, one is deleted, one is")
    say("   deleted and purged from the recycle bin, a custom field MyCompetitor__c")
    say("   appears. The session expires and the API answers 503 three times.")
    for name in objects:
        say(_line(sync(source, name, lake)))

    say("")
    say("3. The org's daily API allocation runs out: the sync fails, is audited,")
    say("   lands nothing, and the watermark stays where it was.")
    org.exhaust_quota()
    try:
        sync(source, "Opportunity", lake)
    except QuotaExceededError as exc:
        say(f"   failed as expected: {exc}")


def _hubspot(
    portal: HubSpotEmulator,
    *,
    accounts: list[tuple[str, dict[str, typing.Any]]],
    opportunities: list[tuple[str, dict[str, typing.Any]]],
    lake: Lake,
    retry: RetryPolicy,
    say: typing.Callable[[str], None],
) -> None:
    """A HubSpot portal that shares customers and deals with the Salesforce org.

    Of every four Salesforce accounts, one is in HubSpot with the integration's
    ``salesforceaccountid``, one with the same domain, one under a spelling of its
    name without a domain, and one is not in HubSpot; the first deal of each shared
    account is in HubSpot too (with the integration's opportunity id for the
    first kind), and each gets a HubSpot-only expansion deal. The portal's own
    generated companies are HubSpot-only.
    """
    portal.add_property("deals", "hs_salesforceopportunityid", "string")
    first_deal: dict[str, tuple[str, dict[str, typing.Any]]] = {}
    for record_id, record in opportunities:
        first_deal.setdefault(str(record["AccountId"]), (record_id, record))
    for n, (account_id, account) in enumerate(accounts):
        kind = n % 4
        if kind == 3:  # noqa: PLR2004 - Salesforce only
            continue
        name = str(account["Name"])
        website = str(account.get("Website") or "")
        company = portal.create(
            "companies",
            name=name if kind != 2 else name.upper().replace(" LLC", "").strip(),  # noqa: PLR2004
            domain=domain_key(website) if website and kind != 2 else None,  # noqa: PLR2004
            salesforceaccountid=account_id if kind == 0 else None,
        )
        if account_id in first_deal:
            opp_id, opp = first_deal[account_id]
            deal = portal.create(
                "deals",
                dealname=opp["Name"],
                amount=opp.get("Amount"),
                dealstage="contractsent",
                pipeline="default",
                closedate=dt.datetime.combine(
                    opp["CloseDate"], dt.time(12), tzinfo=dt.timezone.utc
                ),
                hs_salesforceopportunityid=opp_id if kind == 0 else None,
            )
            portal.associate("deals", deal, "companies", company, primary=True)
        expansion = portal.create(
            "deals", dealname=f"{name} - HubSpot expansion", dealstage="qualifiedtobuy"
        )
        portal.associate("deals", expansion, "companies", company, primary=True)
    say("")
    say("4. HubSpot: the portal shares 45 of the org's first 60 customers (15 linked")
    say("   by the HubSpot-Salesforce integration, 15 by domain only, 15 by a")
    say("   spelling of the name only) and their first deals, plus its own companies")
    source = HubSpotSource(
        token=portal.private_app_token, base_url=portal.url, retry=retry
    )
    with source:
        for name in (
            "companies",
            "deals",
            "contacts",
            "engagements",
            "deal_company_associations",
            "contact_company_associations",
            "engagement_associations",
            "owners",
            "pipelines",
        ):
            say(_line(sync(source, name, lake)))


def _zendesk(
    desk: ZendeskEmulator,
    customers: list[tuple[str, str]],
    lake: Lake,
    say: typing.Callable[[str], None],
) -> None:
    """Support tickets from customers of the Salesforce org, and from strangers."""
    for n, (_, website) in enumerate(customers):
        domain = domain_key(website)
        # The last customer files tickets from a support domain of its own, which
        # only the reference mapping knows.
        own = f"support-{domain}" if n == len(customers) - 1 else domain
        org_id = desk.create_organization(domain_names=[own])
        for _ in range(2):
            desk.create_ticket(desk.create_user(org_id))
    desk.create_ticket(desk.create_user(None, free_mail=True))
    account_id, website = customers[-1]
    lake.write(
        DOMAIN_MAPPING,
        pa.table(
            {"domain": [f"support-{domain_key(website)}"], "account_id": [account_id]}
        ),
    )
    desk.advance(61)  # the incremental export serves what is a minute old
    say("")
    say("5. Zendesk: tickets from six customers of the org (one writes from a")
    say(f"   support domain that only {DOMAIN_MAPPING} knows), two")
    say("   organizations the CRM has never heard of, and one gmail.com requester")
    source = ZendeskSource(
        subdomain="demo",
        email=desk.email,
        api_token=desk.api_token,
        base_url=desk.url,
        # The emulator's clock: the 10-a-minute export pacing passes instantly.
        sleep=desk.advance,
        clock=desk.epoch,
    )
    with source:
        for name in ("organizations", "users", "tickets"):
            say(_line(sync(source, name, lake)))


def _staging(
    lake: Lake, notifiers: dict[str, Notifier], say: typing.Callable[[str], None]
) -> None:
    say("")
    say("6. Staging: latest version per Id, deletes dropped, stages mapped, the two")
    say("   CRMs merged (one account per company, one row per deal), checked")
    for run in build_staging(lake, notifiers=notifiers):
        report = run.report
        if report is None:
            say(f"   {run.dataset:<32} {run.status}: {run.message}")
            continue
        if isinstance(report, SupportTicketsReport):
            methods = sorted(report.by_method.items())
            say(
                f"   {run.dataset:<32} {report.rows_out:>5,} tickets: "
                f"{report.linked} linked to an account "
                f"({', '.join(f'{n} by {m}' for m, n in methods)}),"
            )
            say(
                f"   {'':<32} {report.ambiguous} ambiguous (a domain several "
                f"accounts share), {report.unlinked} not linked"
            )
            continue
        unmapped = sum((report.unmapped_stages or {}).values())
        stages = f", {unmapped} unmapped stages" if unmapped else ""
        say(
            f"   {run.dataset:<32} {run.source_system:<10} {report.rows_in:>4,} raw "
            f"rows -> {report.rows_out:>4,} ({report.superseded} superseded, "
            f"{report.deleted} deleted{stages})"
        )
        if run.details and run.source_system == "HubSpot":
            merge = json.loads(run.details)
            rules = ", ".join(f"{n} {r}" for r, n in sorted(merge["by_rule"].items()))
            say(
                f"   {'':<32} merged: {merge['merged']} records folded in "
                f"({rules}) -> {merge['rows_out']:,} rows"
            )
    staged = lake.read("/RevOps/Staging/opportunities", columns=["stage_name"])
    counts = staged.group_by("stage_name").aggregate([([], "count_all")]).to_pylist()
    say(
        "   opportunities by RevOps stage: "
        + ", ".join(
            f"{row['stage_name']} {row['count_all']}"
            for row in sorted(counts, key=lambda r: str(r["stage_name"]))
        )
    )


def _summary(lake: Lake, say: typing.Callable[[str], None]) -> None:
    raw = lake.read("/Salesforce/Raw/Opportunity")
    tombstones = sum(bool(v) for v in raw.column("_tombstone").to_pylist())
    say("")
    say(
        f"/Salesforce/Raw/Opportunity: {raw.num_rows:,} rows across syncs "
        f"({tombstones} tombstone), {len(raw.column_names)} columns incl. "
        "MyCompetitor__c; versions are kept, staging keeps the latest per Id."
    )
    say(f"Audit log {SYNC_LOG}: {lake.read(SYNC_LOG).num_rows} rows")
    say("")
    say("Sync status (/RevOps/Monitoring/sync_status):")
    say(format_table(sync_status(lake), STATUS_COLUMNS, max_width=56))
    say("")
    say(f"Datasets in {lake.url}:")
    for path in lake.datasets():
        say(f"   {path}")
