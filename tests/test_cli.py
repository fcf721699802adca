"""The revops-ingest command: sync, status, stage and demo."""

from __future__ import annotations

import json
import sys
import textwrap

import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest._cli import main
from revops_ingest.sources.salesforce import ClientCredentialsAuth, SalesforceSource
from revops_ingest.staging import STAGING_LOG
from revops_ingest.testing import ExampleCrmEmulator, SalesforceEmulator


@pytest.fixture(name="crm")
def _crm():
    with ExampleCrmEmulator(seed=3, companies=10) as crm:
        yield crm


@pytest.fixture(name="factory")
def _factory(tmp_path, monkeypatch, crm):
    """A module `my_sources` with a factory, importable like a user's own code."""
    (tmp_path / "my_sources.py").write_text(
        textwrap.dedent(
            f"""
            from revops_ingest.testing import ExampleCrmSource

            def crm():
                return ExampleCrmSource(base_url={crm.url!r}, token={crm.token!r})

            def broken():
                return ExampleCrmSource(base_url={crm.url!r}, token="nope")

            not_a_source = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_sources"
    sys.modules.pop("my_sources", None)


class TestSync:
    def test_syncs_every_object_by_default(self, tmp_path, factory, capsys):
        """Without object names, sync runs every object of the source."""
        lake = tmp_path / "lake"

        code = main(["sync", "--lake", str(lake), "--source", f"{factory}:crm"])

        assert 0 == code
        out = capsys.readouterr().out
        assert "ExampleCRM companies: 10 records" in out
        assert "ExampleCRM deals: 30 records" in out
        assert 3 == revops_ingest.sync_status(revops_ingest.Lake(lake)).num_rows

    def test_a_failed_sync_exits_1_and_says_why(self, tmp_path, factory, capsys):
        """A failing object is reported on stderr and the exit status is 1."""
        code = main(
            ["sync", "--lake", str(tmp_path), "--source", f"{factory}:broken", "deals"]
        )

        assert 1 == code
        assert "FAILED ExampleCRM deals" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("no_colon", "must look like"),
            ("missing_module_xyz:f", "cannot import"),
            ("my_sources:nope", "has no attribute"),
            ("my_sources:not_a_source", "did not give a Source"),
        ],
    )
    def test_bad_source_specs_exit_2(self, tmp_path, factory, capsys, spec, message):
        """A --source that does not lead to a Source is a usage error (exit 2)."""
        code = main(["sync", "--lake", str(tmp_path), "--source", spec])

        assert 2 == code
        assert message in capsys.readouterr().err


class TestStatus:
    def test_empty_lake(self, tmp_path, capsys):
        """Status on a lake without syncs says so and exits 0."""
        assert 0 == main(["status", "--lake", str(tmp_path)])
        assert "no syncs recorded" in capsys.readouterr().out

    def test_table_and_json_and_failure_exit(self, tmp_path, factory, capsys):
        """Status prints a table or JSON, and exits 1 if a latest sync failed."""
        lake = str(tmp_path / "lake")
        main(["sync", "--lake", lake, "--source", f"{factory}:crm", "deals"])
        capsys.readouterr()

        assert 0 == main(["status", "--lake", lake])
        table = capsys.readouterr().out
        assert "source_system" in table
        assert "ExampleCRM" in table

        main(["sync", "--lake", lake, "--source", f"{factory}:broken", "deals"])
        capsys.readouterr()
        assert 1 == main(["status", "--lake", lake, "--json"])
        rows = json.loads(capsys.readouterr().out)
        assert ["failed"] == [r["status"] for r in rows]


@pytest.fixture(name="raw_lake")
def _raw_lake(tmp_path):
    """A lake holding a Salesforce org's Accounts and Opportunities, raw."""
    path = tmp_path / "lake"
    with SalesforceEmulator(seed=3, accounts=8, users=2) as org:
        org.generate("Opportunity", 20)
        source = SalesforceSource(
            auth=ClientCredentialsAuth(org.token_url, org.client_id, org.client_secret)
        )
        with source:
            for name in ("Account", "Opportunity"):
                revops_ingest.sync(source, name, revops_ingest.Lake(path))
        opportunity = min(org.records["Opportunity"])
    return path, opportunity


class TestStage:
    def test_stages_checks_and_prints_this_runs_log(self, raw_lake, capsys):
        """`stage` builds the tables, prints this run's log rows and the verdicts."""
        path, _ = raw_lake

        assert 0 == main(["stage", "--lake", str(path)])

        out = capsys.readouterr().out
        assert "opportunities    Salesforce     success" in out
        assert "contacts         Salesforce     skipped" in out
        assert "quality /RevOps/Staging/opportunities: passed" in out
        log = revops_ingest.Lake(path).read(STAGING_LOG)
        assert 5 == log.num_rows  # one row per table, skipped ones included

    def test_named_tables_only_and_no_check(self, raw_lake, capsys):
        """Named tables are the only ones staged; --no-check skips the checks."""
        path, _ = raw_lake

        assert 0 == main(["stage", "--lake", str(path), "accounts", "--no-check"])

        out = capsys.readouterr().out
        assert "accounts" in out
        assert "opportunities" not in out
        assert "quality" not in out

    def test_a_failed_check_exits_1_unless_fail_on_allows(self, raw_lake, capsys):
        """A High check failing exits 1 by default; --fail-on critical lets it by."""
        path, opportunity = raw_lake
        lake = revops_ingest.Lake(path)
        raw = lake.read("/Salesforce/Raw/Opportunity")
        ids = raw.column("Id").to_pylist()
        accounts = [
            None if i == opportunity else a
            for i, a in zip(ids, raw.column("AccountId").to_pylist(), strict=True)
        ]
        column = raw.schema.get_field_index("AccountId")
        lake.write(
            "/Salesforce/Raw/Opportunity",
            raw.set_column(column, "AccountId", pa.array(accounts, pa.string())),
        )

        assert 1 == main(["stage", "--lake", str(path), "opportunities"])
        out = capsys.readouterr().out
        assert "quality /RevOps/Staging/opportunities: FAILED (worst high)" in out
        assert "high     no_nulls(account_id) 1 rows" in out

        assert 0 == main(
            ["stage", "--lake", str(path), "opportunities", "--fail-on", "critical"]
        )

    def test_a_failed_table_exits_1_and_is_shown(self, raw_lake, capsys):
        """A table that cannot be staged exits 1; the printed log row says why."""
        path, _ = raw_lake
        lake = revops_ingest.Lake(path)
        lake.write("/Salesforce/Raw/Account", pa.table({"Name": ["no id column"]}))

        assert 1 == main(["stage", "--lake", str(path), "accounts"])

        captured = capsys.readouterr()
        assert "FAILED staging" in captured.err
        assert "accounts       Salesforce     failed" in captured.out

    def test_unknown_table_is_a_usage_error(self, raw_lake, capsys):
        """An unknown staging table name exits 2 and lists the valid ones."""
        path, _ = raw_lake

        assert 2 == main(["stage", "--lake", str(path), "deals"])

        assert "choose from opportunities" in capsys.readouterr().err


class TestMisc:
    def test_version(self, capsys):
        """--version prints the installed version."""
        assert 0 == main(["--version"])
        assert revops_ingest.__version__ == capsys.readouterr().out.strip()

    def test_no_command_prints_help(self, capsys):
        """Without a command the help is printed and the exit status is 2."""
        assert 2 == main([])
        assert "usage: revops-ingest" in capsys.readouterr().out


class TestDemo:
    def test_a_second_run_starts_from_a_fresh_lake(self, tmp_path, capsys):
        """Running the demo twice into one folder clears the first run's lake."""
        lake_dir = tmp_path / "demo-lake"
        assert 0 == main(["demo", "--lake", str(lake_dir)])
        first = capsys.readouterr().out

        assert 0 == main(["demo", "--lake", str(lake_dir)])

        second = capsys.readouterr().out
        assert "clearing the previous demo's" in second
        assert first.count("400 records") == second.count("400 records")

    def test_a_lake_with_other_datasets_is_refused(self, tmp_path, capsys):
        """The demo never deletes datasets it did not write."""
        lake = revops_ingest.Lake(tmp_path)
        lake.write("/Mine/Important", pa.table({"x": [1]}))

        assert 2 == main(["demo", "--lake", str(tmp_path)])

        assert "/Mine/Important" in capsys.readouterr().err
        assert 1 == lake.read("/Mine/Important").num_rows

    def test_demo_runs_the_pipeline_and_prints_a_summary(self, tmp_path, capsys):
        """The demo syncs Salesforce, HubSpot and Zendesk, fails a sync, stages."""
        lake_dir = tmp_path / "demo-lake"

        assert 0 == main(["demo", "--lake", str(lake_dir)])

        out = capsys.readouterr().out
        assert "Sync status" in out
        assert "failed as expected" in out
        lake = revops_ingest.Lake(lake_dir)
        status = revops_ingest.sync_status(lake).to_pylist()
        rows = {
            r["object_type"]: r for r in status if r["source_system"] == "Salesforce"
        }
        assert {"Opportunity", "Account", "Contact", "Task", "Event", "User"} == set(
            rows
        )
        zendesk = {
            r["object_type"]: r["status"]
            for r in status
            if r["source_system"] == "Zendesk"
        }
        assert {
            "tickets": "success",
            "users": "success",
            "organizations": "success",
        } == zendesk
        assert "failed" == rows["Opportunity"]["status"]
        assert "QuotaExceededError" == rows["Opportunity"]["error_type"]
        assert {"success"} == {
            r["status"] for n, r in rows.items() if n != "Opportunity"
        }
        log = lake.read("/RevOps/Audit/sync_log").to_pylist()
        second = [r for r in log if r["object_type"] == "Opportunity"][1]
        assert (22, 1) == (second["records_processed"], second["token_refreshes"])
        assert 3 <= second["retries"]
        raw = lake.read("/Salesforce/Raw/Opportunity")
        assert 1 == sum(raw.column("_tombstone").to_pylist())
        assert "MyCompetitor__c" in raw.column_names
        staged = lake.read("/RevOps/Staging/opportunities")
        assert len(set(staged.column("opportunity_id").to_pylist())) == staged.num_rows
        assert "6. Staging" in out
        accounts = lake.read("/RevOps/Staging/accounts").to_pylist()
        rules = {r["match_rule"] for r in accounts}
        assert {"crm_link", "exact_domain", "fuzzy_name"} <= rules
        assert len({r["account_id"] for r in accounts}) == len(accounts)
        deals = lake.read("/RevOps/Staging/opportunities").to_pylist()
        both = [
            r for r in deals if r["salesforce_opportunity_id"] and r["hubspot_deal_id"]
        ]
        assert both
        assert all(r["source_system"] == "Salesforce" for r in both)
        tickets = lake.read("/RevOps/Telemetry/support_tickets").to_pylist()
        by_mapping = [t for t in tickets if t["link_method"] == "domain_mapping"]
        assert 2 == len(by_mapping)
        assert all(
            t["account_id"] is None for t in tickets if t["requester_domain"] is None
        )
        assert (
            "PagerDuty [critical]: [CRITICAL] Salesforce Opportunity sync failed" in out
        )
