"""check_staging: the seed's checks on the staging datasets, metrics and alerts."""

from __future__ import annotations

import io

import pyarrow as pa
from quality_helpers import sync_run

from revops_ingest._audit import SYNC_LOG
from revops_ingest.quality import (
    METRICS_DATASET,
    STAGING_CHECKS,
    PagerDutyNotifier,
    SlackNotifier,
    Status,
    check_staging,
)
from revops_ingest.staging import STAGING_DATASETS
from revops_ingest.testing._notifiers import PagerDutyEmulator, SlackWebhookEmulator


OPPORTUNITIES = "/RevOps/Staging/opportunities"


def _opportunities(n=10, *, bad_stage=False, duplicate=False):
    ids = [f"006{i:015d}" for i in range(n)]
    if duplicate:
        ids[-1] = ids[0]
    stages = ["Discovery"] * n
    if bad_stage:
        stages[1] = "Prospecting"
    return pa.table(
        {
            "opportunity_id": ids,
            "account_id": [f"001{i:015d}" for i in range(n)],
            "stage_name": stages,
            "amount": [1.0] * n,
        }
    )


class TestCheckStaging:
    def test_checks_the_datasets_that_exist(self, lake):
        """Existing staging datasets are checked; missing ones are listed."""
        lake.write(OPPORTUNITIES, _opportunities())
        lake.write("/RevOps/Staging/accounts", pa.table({"account_id": ["a", "b"]}))

        report = check_staging(lake, include_syncs=False)

        assert report.passed
        assert [OPPORTUNITIES, "/RevOps/Staging/accounts"] == list(report.results)
        assert (
            "/RevOps/Staging/contacts",
            "/RevOps/Staging/activities",
            "/RevOps/Telemetry/support_tickets",
        ) == report.missing
        assert [
            "not_empty",
            "no_nulls(opportunity_id)",
            "no_nulls(account_id)",
            "unique(opportunity_id)",
            "values_in(stage_name)",
            "row_count_change",
        ] == [c.name for c in report.results[OPPORTUNITIES]]
        assert lake.exists(METRICS_DATASET)

    def test_stages_are_checked_against_valid_stages(self, lake):
        """A stage outside VALID_STAGES fails values_in(stage_name)."""
        lake.write(OPPORTUNITIES, _opportunities(bad_stage=True))

        report = check_staging(lake, include_syncs=False)

        failed = report.results[OPPORTUNITIES]["values_in(stage_name)"]
        assert (Status.FAILED, ("Prospecting",)) == (failed.status, failed.samples)

    def test_second_run_compares_row_counts(self, lake):
        """The second run has a baseline: a 50 % drop fails as Medium."""
        lake.write(OPPORTUNITIES, _opportunities(10))
        first = check_staging(lake, include_syncs=False)
        lake.write(OPPORTUNITIES, _opportunities(5))

        second = check_staging(lake, include_syncs=False)

        change = "row_count_change"
        assert Status.NO_BASELINE == first.results[OPPORTUNITIES][change].status
        assert Status.FAILED == second.results[OPPORTUNITIES][change].status
        assert "medium" == second.to_dict()["worst_severity"]

    def test_alerts_go_to_the_emulators_and_syncs_page(self, lake):
        """Duplicates go to Slack; a failed sync pages PagerDuty; both deduped."""
        lake.write(OPPORTUNITIES, _opportunities(duplicate=True))
        lake.append(SYNC_LOG, sync_run("failed").to_table())
        with PagerDutyEmulator() as pd, SlackWebhookEmulator() as slack:
            notifiers = {
                "pagerduty": PagerDutyNotifier("k" * 32, base_url=pd.url),
                "slack": SlackNotifier(slack.webhook_url()),
            }

            report = check_staging(lake, notifiers=notifiers)
            check_staging(lake, notifiers=notifiers)

            assert ["sync:Salesforce:Opportunity"] == list(pd.incidents)
            assert 1 == pd.pages
            assert 2 == len(slack.messages)  # the dataset's alert and the sync's
            assert any("unique(opportunity_id)" in t for t in slack.texts())
            assert not report.passed
            assert {"sent", "no_notifier"} == {
                d.status for d in report.routing.deliveries
            }

    def test_dry_run_prints(self, lake):
        """dry_run prints what would go out and sends nothing."""
        lake.write(OPPORTUNITIES, _opportunities(duplicate=True))
        out = io.StringIO()

        report = check_staging(lake, dry_run=True, out=out)

        assert {"dry_run"} == {d.status for d in report.routing.deliveries}
        assert "would trigger slack:#data-quality" in out.getvalue()

    def test_every_staging_table_has_checks(self):
        """Every dataset build_staging writes is covered."""
        assert set(STAGING_DATASETS.values()) == set(STAGING_CHECKS)
