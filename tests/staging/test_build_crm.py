"""build_staging with Salesforce and HubSpot: one account per company, deals once."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest.exceptions import ConfigurationError
from revops_ingest.http import RetryPolicy
from revops_ingest.matching import domain_key
from revops_ingest.sources.hubspot import HubSpotSource
from revops_ingest.sources.salesforce import ClientCredentialsAuth, SalesforceSource
from revops_ingest.staging import (
    ACCOUNT_ID_MAP,
    HUBSPOT_FIELD_MAP_DATASET,
    PRIMARY_SOURCE_DATASET,
    STAGING_LOG,
    build_staging,
)
from revops_ingest.testing import HubSpotEmulator, SalesforceEmulator


FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=60, jitter=False)
UTC = dt.timezone.utc
NO_FIELD_MAP = pa.table(
    {"hs_property": pa.array([], pa.string()), "revops_field": pa.array([], "string")}
)


@pytest.fixture(scope="module", name="crm")
def _crm(tmp_path_factory):
    """Both CRMs landed once: 12 shared companies, each with one shared deal."""
    path = tmp_path_factory.mktemp("crm") / "lake"
    lake = revops_ingest.Lake(path)
    truth = {"accounts": {}, "deals": {}}
    with SalesforceEmulator(seed=3, accounts=24, users=3) as org:
        source = SalesforceSource(
            auth=ClientCredentialsAuth(org.token_url, org.client_id, org.client_secret),
            retry=FAST,
        )
        with source:
            for name in ("Account", "Opportunity"):
                assert "success" == revops_ingest.sync(source, name, lake).status
        accounts = sorted(org.records["Account"].items())
        opportunities = sorted(org.records["Opportunity"].items())
    first = {}
    for opp_id, opp in opportunities:
        first.setdefault(opp["AccountId"], (opp_id, opp))
    with HubSpotEmulator(seed=3, companies=5) as portal:
        portal.add_property("deals", "hs_salesforceopportunityid", "string")
        portal.add_property("deals", "competitor_name", "string")
        shared = [a for a in accounts if a[0] in first and a[1].get("Website")][:12]
        for n, (account_id, account) in enumerate(shared):
            company = portal.create(
                "companies",
                name=account["Name"],
                domain=domain_key(account["Website"]),
                salesforceaccountid=account_id if n % 2 else None,
            )
            truth["accounts"][company] = account_id
            opp_id, opp = first[account_id]
            deal = portal.create(
                "deals",
                dealname=opp["Name"],
                dealstage="closedwon",
                closedate=dt.datetime.combine(opp["CloseDate"], dt.time(9), UTC),
                hs_salesforceopportunityid=opp_id if n % 3 == 0 else None,
                competitor_name=f"Rival {n}",
            )
            portal.associate("deals", deal, "companies", company, primary=True)
            truth["deals"][deal] = opp_id
        source = HubSpotSource(
            token=portal.private_app_token, base_url=portal.url, retry=FAST
        )
        with source:
            for name in ("companies", "deals", "deal_company_associations"):
                assert "success" == revops_ingest.sync(source, name, lake).status
        counts = {
            "companies": len(portal.live("companies")),
            "deals": len(portal.live("deals")),
        }
    return lake, truth, counts


class TestBuildStagingBothCrms:
    def test_accounts_are_one_per_company(self, crm):
        """Every shared company becomes one account row with both ids."""
        lake, truth, counts = crm

        build_staging(lake, tables=["accounts"], check=False)

        accounts = lake.read("/RevOps/Staging/accounts").to_pylist()
        linked = {
            r["hubspot_company_id"]: r["salesforce_account_id"]
            for r in accounts
            if r["hubspot_company_id"] and r["salesforce_account_id"]
        }
        assert truth["accounts"] == linked
        sf_rows = lake.read("/Salesforce/Raw/Account").num_rows
        assert sf_rows + counts["companies"] - len(linked) == len(accounts)
        id_map = lake.read(ACCOUNT_ID_MAP)
        assert sf_rows + counts["companies"] == id_map.num_rows

    def test_deals_in_both_systems_are_kept_once(self, crm):
        """A deal present in both CRMs is one row: Salesforce's, HubSpot filling."""
        lake, truth, _ = crm

        build_staging(lake, tables=["opportunities"], check=False)

        deals = lake.read("/RevOps/Staging/opportunities").to_pylist()
        merged = {
            r["hubspot_deal_id"]: r["salesforce_opportunity_id"]
            for r in deals
            if r["hubspot_deal_id"] and r["salesforce_opportunity_id"]
        }
        assert truth["deals"] == merged
        assert {"Salesforce"} == {
            r["source_system"] for r in deals if r["hubspot_deal_id"] in merged
        }
        assert len({r["opportunity_id"] for r in deals}) == len(deals)
        log = [
            r
            for r in lake.read(STAGING_LOG).to_pylist()
            if r["staging_table"] == "opportunities"
        ][-2:]
        assert ["Salesforce", "HubSpot"] == [r["source_system"] for r in log]
        details = json.loads(log[1]["details"])
        assert len(merged) == details["merged"]
        assert len(deals) == details["rows_out"]

    def test_primary_source_config_switches_the_winner(self, crm):
        """With HubSpot primary for opportunities, merged deals carry HubSpot ids."""
        lake, truth, _ = crm
        lake.write(
            PRIMARY_SOURCE_DATASET,
            pa.table({"object_type": ["opportunities"], "source_system": ["HubSpot"]}),
        )
        try:
            build_staging(lake, tables=["opportunities"], check=False)
        finally:
            lake.write(
                PRIMARY_SOURCE_DATASET,
                pa.table(
                    {"object_type": ["opportunities"], "source_system": ["Salesforce"]}
                ),
            )

        deals = lake.read("/RevOps/Staging/opportunities").to_pylist()
        merged = [r for r in deals if r["hubspot_deal_id"] in truth["deals"]]
        assert {r["opportunity_id"] for r in merged} == set(truth["deals"])
        assert {"HubSpot"} == {r["source_system"] for r in merged}

    def test_hubspot_field_map_config_adds_a_column(self, crm):
        """hubspot_field_map rows add a column per dataset, filled on merged deals."""
        lake, truth, _ = crm
        lake.write(
            HUBSPOT_FIELD_MAP_DATASET,
            pa.table(
                {
                    "hs_property": ["competitor_name", "competitor_name"],
                    "revops_field": ["competitor", "rival"],
                    "hs_object": ["deals", "companies"],
                }
            ),
        )
        try:
            build_staging(lake, tables=["opportunities", "accounts"], check=False)
        finally:
            lake.write(HUBSPOT_FIELD_MAP_DATASET, NO_FIELD_MAP)

        deals = lake.read("/RevOps/Staging/opportunities").to_pylist()
        rivals = {
            r["hubspot_deal_id"]: r["competitor"] for r in deals if r["competitor"]
        }
        assert set(truth["deals"]) == set(rivals)
        assert all(r["salesforce_opportunity_id"] for r in deals if r["competitor"])
        assert {f"Rival {n}" for n in range(len(truth["deals"]))} == set(
            rivals.values()
        )
        accounts = lake.read("/RevOps/Staging/accounts")  # companies lack it
        assert accounts.num_rows == accounts.column("rival").null_count

    def test_bad_hubspot_field_map_fails_the_build_and_is_logged(self, crm):
        """An hs_object that is no HubSpot dataset stops the build, logged per table."""
        lake, _, _ = crm
        lake.write(
            HUBSPOT_FIELD_MAP_DATASET,
            pa.table(
                {
                    "hs_property": ["competitor_name"],
                    "revops_field": ["competitor"],
                    "hs_object": ["tickets"],
                }
            ),
        )
        try:
            with pytest.raises(ConfigurationError, match="hs_object='tickets'"):
                build_staging(lake, tables=["opportunities"], check=False)
        finally:
            lake.write(HUBSPOT_FIELD_MAP_DATASET, NO_FIELD_MAP)

        last = lake.read(STAGING_LOG).to_pylist()[-1]
        assert ("opportunities", "failed") == (last["staging_table"], last["status"])
        assert "hubspot_field_map" in last["message"]
