"""ExampleCRM source against its emulator: exact windows, ties, deletes, failures."""

from __future__ import annotations

import datetime as dt

import pytest

import revops_ingest
from revops_ingest.exceptions import AuthenticationError, UnexpectedResponseError
from revops_ingest.http import RetryPolicy
from revops_ingest.testing import ExampleCrmEmulator, ExampleCrmSource, Fault


FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=10)


@pytest.fixture(name="crm")
def _crm():
    with ExampleCrmEmulator(seed=11, companies=30) as crm:
        yield crm


@pytest.fixture(name="lake")
def _lake(tmp_path):
    return revops_ingest.Lake(tmp_path / "lake")


def _source(crm, **kw):
    return ExampleCrmSource(base_url=crm.url, token=crm.token, retry=FAST, **kw)


def _ids(lake, name):
    return lake.read(f"/ExampleCRM/Raw/{name}").column("id").to_pylist()


class TestExampleCrm:
    def test_first_sync_lands_every_record_once(self, crm, lake):
        """A first sync reads all records, page by page, without duplicates."""
        run = revops_ingest.sync(_source(crm, page_size=7), "deals", lake)

        assert sorted(crm.records["deals"]) == sorted(_ids(lake, "deals"))
        assert 90 == run.records_processed
        assert 13 == run.requests  # ceil(90 / 7)

    def test_ties_at_page_boundaries_neither_skip_nor_repeat(self, crm, lake):
        """Records sharing one updated_at across many pages all land exactly once."""
        stamp = "2026-01-01T00:00:00.000+00:00"
        for record in crm.records["deals"].values():
            record["updated_at"] = stamp

        revops_ingest.sync(_source(crm, page_size=4), "deals", lake)

        ids = _ids(lake, "deals")
        assert len(ids) == len(set(ids)) == 90

    def test_incremental_sync_reads_only_changes(self, crm, lake):
        """The second sync lands exactly the records changed since the first."""
        source = _source(crm)
        revops_ingest.sync(source, "deals", lake)
        changed = crm.touch("deals", 6)

        run = revops_ingest.sync(source, "deals", lake)

        assert sorted(changed) == sorted(_ids(lake, "deals")[90:])
        assert 6 == run.records_processed

    def test_deletes_arrive_as_archived_versions(self, crm, lake):
        """An archived record lands again with archived=true."""
        source = _source(crm)
        revops_ingest.sync(source, "companies", lake)
        victim = next(iter(crm.records["companies"]))
        crm.delete("companies", victim)

        revops_ingest.sync(source, "companies", lake)

        last = lake.read("/ExampleCRM/Raw/companies").to_pylist()[-1]
        assert (victim, True) == (last["id"], last["archived"])

    def test_types_come_from_the_declared_schema(self, crm, lake):
        """Amounts become float64, dates date32 and times UTC timestamps."""
        revops_ingest.sync(_source(crm), "deals", lake)

        schema = lake.schema("/ExampleCRM/Raw/deals")
        assert "double" == str(schema.field("amount").type)
        assert "date32[day]" == str(schema.field("close_date").type)
        assert "timestamp[ms, tz=UTC]" == str(schema.field("updated_at").type)

    def test_full_objects_read_everything_every_time(self, crm, lake):
        """Users is a full object: each sync lands all users again."""
        source = _source(crm)
        first = revops_ingest.sync(source, "users", lake)
        second = revops_ingest.sync(source, "users", lake)

        assert (
            first.records_processed
            == second.records_processed
            == len(crm.records["users"])
        )

    def test_window_end_is_fixed_at_sync_start(self, crm, lake):
        """A record changed after the sync started is left for the next sync."""
        source = _source(crm)
        revops_ingest.sync(source, "deals", lake)
        future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
        record_id = next(iter(crm.records["deals"]))
        crm.records["deals"][record_id]["updated_at"] = future.isoformat()

        run = revops_ingest.sync(source, "deals", lake)

        assert 0 == run.records_processed


class TestExampleCrmFailures:
    def test_a_malformed_page_commits_nothing(self, crm, lake):
        """A page that is not JSON stops the sync with a typed error; nothing lands."""
        crm.inject(Fault.malformed(skip=1, times=None))

        with pytest.raises(UnexpectedResponseError, match="ExampleCRM deals"):
            revops_ingest.sync(_source(crm, page_size=10), "deals", lake)

        assert lake.state("/ExampleCRM/Raw/deals") is None
        assert not lake.exists("/ExampleCRM/Raw/deals") or 0 == len(_ids(lake, "deals"))

    def test_a_page_without_data_is_an_unexpected_response(self, crm, lake):
        """A JSON page of the wrong shape names what is missing."""
        crm.inject(Fault.status(200, body=b'{"items": []}'))

        with pytest.raises(UnexpectedResponseError, match="no 'data' list"):
            revops_ingest.sync(_source(crm), "deals", lake)

    def test_a_wrong_token_is_an_authentication_error(self, crm, lake):
        """401 from the API becomes AuthenticationError, and the token is not shown."""
        source = ExampleCrmSource(base_url=crm.url, token="wrong-token-123", retry=FAST)

        with pytest.raises(AuthenticationError) as info:
            revops_ingest.sync(source, "deals", lake)

        assert "wrong-token-123" not in str(info.value)
        row = lake.read("/RevOps/Audit/sync_log").to_pylist()[-1]
        assert "wrong-token-123" not in str(row)

    def test_a_503_burst_is_retried_and_counted(self, crm, lake):
        """Transient 503s are retried; the audit row counts the retries."""
        crm.inject(Fault.status(503, times=4))

        run = revops_ingest.sync(_source(crm), "deals", lake)

        assert 90 == run.records_processed
        assert 4 == run.retries
