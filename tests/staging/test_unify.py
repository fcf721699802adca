"""Salesforce + HubSpot unification: one account per company, one row per deal."""

from __future__ import annotations

import random

import hypothesis
import hypothesis.strategies as st
import pyarrow as pa
import pytest
from crm_truth import (
    day,
    deal_precision_recall,
    hs_companies,
    precision_recall,
    sf_accounts,
    staged,
    two_crm_deals,
    two_crms,
)

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging import ACCOUNTS, CONTACTS, OPPORTUNITIES
from revops_ingest.staging._unify import (
    ACCOUNT_LINK_COLUMNS,
    DEFAULT_PRIMARY_SOURCE,
    OPPORTUNITY_LINK_COLUMNS,
    primary_source_from_table,
    unify_accounts,
    unify_opportunities,
    unify_records,
)


def by_id(table, key="account_id"):
    return {r[key]: r for r in table.to_pylist()}


class TestUnifyAccounts:
    def test_cross_id_links_first_and_primary_fills_from_the_other(self):
        """The integration's cross id links; Salesforce's values win, HubSpot fills."""
        sf = sf_accounts([{"account_id": "001A", "name": "Acme", "industry": None}])
        hs = hs_companies(
            [
                {
                    "account_id": "9001",
                    "name": "ACME Corporation",
                    "industry": "Software",
                    "salesforce_account_id": "001A",
                }
            ]
        )

        result = unify_accounts(sf, hs)

        (row,) = result.table.to_pylist()
        assert ("001A", "Acme", "Software") == (
            row["account_id"],
            row["name"],
            row["industry"],
        )
        assert ("001A", "9001", "crm_link") == (
            row["salesforce_account_id"],
            row["hubspot_company_id"],
            row["match_rule"],
        )
        assert ("Salesforce", "001A") == (row["source_system"], row["source_id"])
        assert "Salesforce:001A,HubSpot:9001" == row["merged_source_ids"]
        assert 1 == result.report.merged

    def test_domain_then_fuzzy_name_link_the_rest(self):
        """Without a cross id the matching rules link: domain first, then name."""
        sf = sf_accounts(
            [
                {"account_id": "001A", "name": "Initech", "website": "initech.com"},
                {"account_id": "001B", "name": "Globex Corporation"},
                {"account_id": "001C", "name": "Umbrella"},
            ]
        )
        hs = hs_companies(
            [
                {"account_id": "1", "name": "Initech LLC", "website": "initech.com"},
                {"account_id": "2", "name": "Globex Corp"},
                {"account_id": "3", "name": "Hooli", "website": "hooli.xyz"},
            ]
        )

        result = unify_accounts(sf, hs)

        rows = by_id(result.table)
        assert "exact_domain" == rows["001A"]["match_rule"]
        assert "fuzzy_name" == rows["001B"]["match_rule"]
        assert rows["001C"]["hubspot_company_id"] is None
        assert rows["3"]["salesforce_account_id"] is None
        assert ("HubSpot", "3") == (rows["3"]["source_system"], rows["3"]["source_id"])
        assert 4 == result.table.num_rows
        assert {"exact_domain": 1, "fuzzy_name": 1} == dict(result.report.by_rule)

    def test_hubspot_primary_keeps_hubspot_ids_and_values(self):
        """With HubSpot primary its id is the account id and its values win."""
        sf = sf_accounts([{"account_id": "001A", "name": "Acme", "industry": "A"}])
        hs = hs_companies(
            [
                {
                    "account_id": "9001",
                    "name": "Acme Inc",
                    "industry": None,
                    "salesforce_account_id": "001A",
                }
            ]
        )

        (row,) = unify_accounts(sf, hs, primary="HubSpot").table.to_pylist()

        assert ("9001", "Acme Inc", "A") == (
            row["account_id"],
            row["name"],
            row["industry"],
        )
        assert ("HubSpot", "9001") == (row["source_system"], row["source_id"])
        assert "HubSpot:9001,Salesforce:001A" == row["merged_source_ids"]

    def test_hubspot_duplicates_fold_into_one_salesforce_account(self):
        """Two HubSpot companies naming one Salesforce account become one row."""
        sf = sf_accounts([{"account_id": "001A", "name": "Acme"}])
        hs = hs_companies(
            [
                {"account_id": "12", "name": "Acme", "salesforce_account_id": "001A"},
                {"account_id": "7", "name": "Acme", "salesforce_account_id": "001A"},
            ]
        )

        result = unify_accounts(sf, hs)

        (row,) = result.table.to_pylist()
        assert "7" == row["hubspot_company_id"]  # the smallest id, as a number
        assert "Salesforce:001A,HubSpot:7,HubSpot:12" == row["merged_source_ids"]
        assert {("HubSpot", "12"), ("HubSpot", "7"), ("Salesforce", "001A")} == {
            (r["source_system"], r["source_id"]) for r in result.id_map.to_pylist()
        }
        assert {"001A"} == set(result.id_map.column("unified_id").to_pylist())

    def test_manual_veto_beats_the_rules(self):
        """A vetoed pair is never linked, whatever the rules say."""
        sf = sf_accounts([{"account_id": "001A", "name": "X", "website": "x.com"}])
        hs = hs_companies([{"account_id": "1", "name": "X", "website": "x.com"}])
        manual = pa.table({"left_id": ["001A"], "right_id": ["1"], "action": ["veto"]})

        result = unify_accounts(sf, hs, manual=manual)

        assert 2 == result.table.num_rows

    def test_one_system_only(self):
        """Without HubSpot the Salesforce accounts pass through, link columns set."""
        sf = sf_accounts([{"account_id": "001A", "name": "Acme"}])

        result = unify_accounts(sf, None)

        (row,) = result.table.to_pylist()
        assert ("001A", None, None) == (
            row["salesforce_account_id"],
            row["hubspot_company_id"],
            row["match_rule"],
        )

    def test_columns_are_canonical_then_links_then_lineage_then_extras(self):
        """The unified table's column order is fixed and documented."""
        sf = sf_accounts([{"account_id": "001A", "name": "Acme"}])
        hs = hs_companies([{"account_id": "1", "name": "Other"}])

        names = unify_accounts(sf, hs).table.column_names

        canonical = [c.name for c in ACCOUNTS.columns][:-4]
        links = [c.name for c in ACCOUNT_LINK_COLUMNS]
        lineage = ["is_deleted", "source_system", "source_id", "source_sync_id"]
        assert [*canonical, *links, *lineage] == names

    def test_bad_primary(self):
        """An unknown primary source is a configuration error."""
        with pytest.raises(ConfigurationError, match="primary must be one of"):
            unify_accounts(None, None, primary="Dynamics")


class TestPrimarySourceConfig:
    def test_defaults_and_overrides(self):
        """The config table overrides the seed's PRIMARY_SOURCE defaults."""
        table = pa.table(
            {"object_type": ["opportunities"], "source_system": ["HubSpot"]}
        )

        result = primary_source_from_table(table)

        assert "HubSpot" == result["opportunities"]
        assert DEFAULT_PRIMARY_SOURCE["marketing_activities"] == "HubSpot"
        assert "Salesforce" == result["accounts"]

    def test_unknown_system(self):
        """A system other than Salesforce or HubSpot is refused, naming the row."""
        table = pa.table({"object_type": ["accounts"], "source_system": ["SAP"]})

        with pytest.raises(ConfigurationError, match="'accounts' -> 'SAP'"):
            primary_source_from_table(table)


class TestUnifyOpportunities:
    def test_cross_id_then_account_name_and_close_date(self):
        """Deals link by cross id, else same account, same name, close dates near."""
        sf = staged(
            OPPORTUNITIES,
            "Salesforce",
            [
                {
                    "opportunity_id": "006A",
                    "account_id": "001A",
                    "name": "Renewal",
                    "close_date": day(10),
                    "amount": 100.0,
                },
                {
                    "opportunity_id": "006B",
                    "account_id": "001A",
                    "name": "Upsell",
                    "close_date": day(10),
                },
                {
                    "opportunity_id": "006C",
                    "account_id": "001A",
                    "name": "Upsell",
                    "close_date": day(200),
                },
            ],
        )
        hs = staged(
            OPPORTUNITIES,
            "HubSpot",
            [
                {
                    "opportunity_id": "50",
                    "account_id": "9001",
                    "name": "anything",
                    "salesforce_opportunity_id": "006A",
                    "amount": 999.0,
                },
                {
                    "opportunity_id": "51",
                    "account_id": "9001",
                    "name": "UPSELL ",
                    "close_date": day(14),
                },
                {
                    "opportunity_id": "52",
                    "account_id": "9001",
                    "name": "New logo",
                    "close_date": day(14),
                },
            ],
            extras=["salesforce_opportunity_id"],
        )
        account_map = pa.table(
            {
                "source_system": ["Salesforce", "HubSpot"],
                "source_id": ["001A", "9001"],
                "unified_id": ["001A", "001A"],
            }
        )

        result = unify_opportunities(sf, hs, account_map=account_map)

        rows = by_id(result.table, "opportunity_id")
        assert ("50", "crm_link", 100.0) == (
            rows["006A"]["hubspot_deal_id"],
            rows["006A"]["merge_rule"],
            rows["006A"]["amount"],
        )
        assert ("51", "account_name_close_date") == (
            rows["006B"]["hubspot_deal_id"],
            rows["006B"]["merge_rule"],
        )
        assert rows["006C"]["hubspot_deal_id"] is None  # 186 days apart
        assert "001A" == rows["52"]["account_id"]  # re-pointed to the unified id
        assert 4 == result.table.num_rows
        assert [c.name for c in OPPORTUNITY_LINK_COLUMNS] == [
            n
            for n in result.table.column_names
            if n in {c.name for c in OPPORTUNITY_LINK_COLUMNS}
        ]

    def test_window_must_be_whole_days(self):
        """A close window that is not a whole number of days is refused."""
        with pytest.raises(ConfigurationError, match="close_window_days"):
            unify_opportunities(None, None, close_window_days=1.5)


class TestUnifyRecords:
    def test_union_repoints_accounts(self):
        """Contacts of both systems are kept, their accounts re-pointed."""
        sf = staged(
            CONTACTS, "Salesforce", [{"contact_id": "003A", "account_id": "001A"}]
        )
        hs = staged(CONTACTS, "HubSpot", [{"contact_id": "77", "account_id": "9001"}])
        account_map = pa.table(
            {
                "source_system": ["Salesforce", "HubSpot"],
                "source_id": ["001A", "9001"],
                "unified_id": ["001A", "001A"],
            }
        )

        table = unify_records([sf, hs], key="contact_id", account_map=account_map)

        assert {("003A", "001A"), ("77", "001A")} == {
            (r["contact_id"], r["account_id"]) for r in table.to_pylist()
        }


class TestAgainstTruth:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_account_merge_precision_and_recall(self, seed):
        """Against the truth, merged accounts are right (precision) and complete."""
        sf, hs, truth = two_crms(seed)

        result = unify_accounts(sf, hs)

        precision, recall = precision_recall(result, truth)
        assert precision >= 0.98, precision
        assert recall >= 0.85, recall
        assert len(set(result.table.column("account_id").to_pylist())) == (
            result.table.num_rows
        )

    @hypothesis.given(seed=st.integers(0, 10_000))
    @hypothesis.settings(max_examples=15, deadline=None)
    def test_order_of_input_rows_does_not_matter(self, seed):
        """Shuffling either input gives the same unified table."""
        sf, hs, _ = two_crms(seed, companies=30)
        rng = random.Random(seed)
        shuffled_sf = sf.take(rng.sample(range(sf.num_rows), sf.num_rows))
        shuffled_hs = hs.take(rng.sample(range(hs.num_rows), hs.num_rows))

        first = unify_accounts(sf, hs).table
        second = unify_accounts(shuffled_sf, shuffled_hs).table

        assert first.equals(second)

    def test_every_input_record_is_in_exactly_one_row(self):
        """The id map covers every input record once, and rows add up."""
        sf, hs, _ = two_crms(4)

        result = unify_accounts(sf, hs)

        keys = [(r["source_system"], r["source_id"]) for r in result.id_map.to_pylist()]
        assert len(keys) == len(set(keys)) == sf.num_rows + hs.num_rows
        report = result.report
        assert report.rows_out == sf.num_rows + hs.num_rows - report.merged


class TestDealsAgainstTruth:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_deal_merge_precision_and_recall(self, seed):
        """Against the truth, deals present in both CRMs are kept once, correctly."""
        sf, hs, truth = two_crms(seed)
        accounts = unify_accounts(sf, hs)
        sf_deals, hs_deals, deal_truth = two_crm_deals(seed, sf, hs, truth)

        result = unify_opportunities(sf_deals, hs_deals, account_map=accounts.id_map)

        precision, recall = deal_precision_recall(result, deal_truth)
        assert precision >= 0.98, precision
        assert recall >= 0.85, recall
        assert result.table.num_rows == (
            sf_deals.num_rows + hs_deals.num_rows - result.report.merged
        )
