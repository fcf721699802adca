"""The Salesforce source against the Salesforce emulator, over its socket.

The emulator's clock is a :class:`Clock` half an hour behind the real one that the
tests move on by hand, so every change has a stamp of its own below the window end
(the sync's real start), and deletions leave the emulator's current minute (the
deleted-records log has minute granularity) when a test says so. Sources read a
one-hour look-back, so that those changes fall into the next window.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import uuid

import hypothesis
import hypothesis.strategies as st
import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest.exceptions import (
    AuthenticationError,
    QuotaExceededError,
    UnexpectedResponseError,
)
from revops_ingest.http import RetryPolicy
from revops_ingest.sources.salesforce import (
    ClientCredentialsAuth,
    JwtBearerAuth,
    RefreshTokenAuth,
    SalesforceObject,
    SalesforceSource,
)
from revops_ingest.testing import Fault
from revops_ingest.testing._salesforce import SalesforceEmulator


UTC = dt.timezone.utc
FAST = RetryPolicy(initial_wait=0.01, max_wait=0.05, max_time=10)
SYNC_LOG = "/RevOps/Audit/sync_log"
OPP = "/Salesforce/Raw/Opportunity"


class Clock:
    """The emulator's clock: behind the real one, moved on by the test."""

    def __init__(self, behind: dt.timedelta = dt.timedelta(minutes=30)) -> None:
        now = dt.datetime.now(UTC).replace(second=0, microsecond=0)
        self.now = now - behind

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float = 1) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


@pytest.fixture(name="clock")
def _clock():
    return Clock()


@pytest.fixture(name="emulators")
def _emulators(emulator_factory, clock):
    def start(**kw):
        return emulator_factory(SalesforceEmulator, **{"seed": 7, "now": clock, **kw})

    return start


@pytest.fixture(name="sf")
def _sf(emulators):
    return emulators()


@pytest.fixture(name="make_source")
def _make_source(sf, waits):
    made = []

    def make(emulator=None, **kw):
        emulator = emulator or sf
        kw.setdefault(
            "auth",
            RefreshTokenAuth(
                emulator.token_url,
                emulator.client_id,
                emulator.client_secret,
                emulator.refresh_token,
            ),
        )
        kw.setdefault("lookback", dt.timedelta(hours=1))
        kw.setdefault("retry", FAST)
        source = SalesforceSource(sleep=waits.append, **kw)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def sync(source, lake, obj="Opportunity", **kw):
    return revops_ingest.sync(
        source, obj, lake, progress=False, refresh_status=False, **kw
    )


def drain(fetch):
    """Run a fetch generator as the engine does: its batches and returned state."""
    returned = []

    def run():
        returned.append((yield from fetch))

    batches = list(run())
    return batches, returned[0]


def rows(lake, obj="Opportunity", columns=None):
    return lake.read(f"/Salesforce/Raw/{obj}", columns=columns).to_pylist()


def ids(lake, obj="Opportunity"):
    return [row["Id"] for row in rows(lake, obj, ["Id"])]


def last_audit(lake):
    return lake.read(SYNC_LOG).to_pylist()[-1]


def queries(emulator):
    """The SOQL of every query (not queryMore) the emulator answered."""
    return [
        r.arg("q")
        for r in emulator.requests
        if r.path.endswith(("/query", "/queryAll")) and r.arg("q")
    ]


def soql_time(value):
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


def floor_second(value):
    return value.replace(microsecond=0)


def live_opportunities(emulator):
    return {i for i, r in emulator.records["Opportunity"].items() if not r["IsDeleted"]}


def latest_versions(table):
    """The latest row per Id: highest SystemModstamp, then latest sync, then last."""
    latest = {}
    for index, row in enumerate(table.to_pylist()):
        key = (row["SystemModstamp"], row["_sync_id"], index)
        if row["Id"] not in latest or key >= latest[row["Id"]][0]:
            latest[row["Id"]] = (key, row)
    return {record_id: row for record_id, (_, row) in latest.items()}


def deleted(row):
    return bool(row.get("_tombstone")) or bool(row.get("IsDeleted"))


class TestFirstSync:
    def test_lands_every_record_once_typed_from_describe(self, sf, lake, make_source):
        """A first sync lands each Opportunity once, typed by the declared types."""
        run = sync(make_source(), lake)

        assert sorted(sf.records["Opportunity"]) == sorted(ids(lake))
        assert "success" == run.status
        schema = lake.schema(OPP)
        assert pa.timestamp("ms", tz="UTC") == schema.field("SystemModstamp").type
        assert pa.date32() == schema.field("CloseDate").type
        assert pa.float64() == schema.field("Amount").type
        assert pa.float64() == schema.field("Probability").type  # percent
        assert pa.bool_() == schema.field("IsWon").type
        assert pa.bool_() == schema.field("_tombstone").type
        assert {False} == {row["_tombstone"] for row in rows(lake)}

    def test_values_match_the_emulator(self, sf, lake, make_source):
        """Raw rows keep the API field names and the records' values."""
        sync(make_source(), lake)

        record_id, record = next(iter(sf.records["Opportunity"].items()))
        row = next(r for r in rows(lake) if r["Id"] == record_id)
        assert (record["Name"], record["Amount"], record["CloseDate"]) == (
            row["Name"],
            row["Amount"],
            row["CloseDate"],
        )
        assert record["SystemModstamp"] == row["SystemModstamp"]

    def test_compound_fields_are_flattened_and_base64_skipped(
        self, sf, lake, make_source
    ):
        """Account lands BillingCity and friends, not BillingAddress or Logo__c."""
        sync(make_source(), lake, "Account")

        names = lake.schema("/Salesforce/Raw/Account").names
        assert "BillingCity" in names
        assert "HQ_Location__Latitude__s" in names
        assert "BillingAddress" not in names
        assert "HQ_Location__c" not in names
        assert "Logo__c" not in names

    def test_base64_fields_on_request(self, sf, lake, make_source):
        """include_base64 reads base64 fields, as the REST API's links to them."""
        sync(make_source(include_base64=True), lake, "Account")

        logos = {r["Logo__c"] for r in rows(lake, "Account", ["Logo__c"])} - {None}
        assert all("/sobjects/Account/" in logo for logo in logos)

    def test_a_field_list_per_object(self, sf, lake, make_source):
        """A configured field list reads those fields, plus Id, cursor and IsDeleted."""
        source = make_source(
            objects=[SalesforceObject(name="Opportunity", fields=["name", "Amount"])]
        )
        sync(source, lake)

        assert [
            "Id",
            "IsDeleted",
            "Name",
            "Amount",
            "SystemModstamp",
            "_tombstone",
            "_sync_id",
        ] == lake.schema(OPP).names

    def test_an_all_null_field_keeps_its_declared_type(self, sf, lake, make_source):
        """A custom double that no record sets still lands as a float64 column."""
        sf.add_field("Opportunity", "Discount__c", "double")

        sync(make_source(), lake)

        assert pa.float64() == lake.schema(OPP).field("Discount__c").type
        assert {None} == {r["Discount__c"] for r in rows(lake, columns=["Discount__c"])}

    def test_full_objects_read_everything_every_time(self, sf, lake, make_source):
        """User is a full object: each sync lands every user again."""
        source = make_source()
        first = sync(source, lake, "User")
        second = sync(source, lake, "User")

        assert len(sf.records["User"]) == first.records_processed
        assert len(sf.records["User"]) == second.records_processed
        assert "full" == second.mode

    def test_the_instance_url_comes_from_the_token_response(
        self, sf, lake, make_source
    ):
        """Without instance_url, the first request asks the token endpoint."""
        source = make_source()
        sync(source, lake)

        first = sf.requests[0]
        assert ("POST", "/services/oauth2/token") == (first.method, first.path)
        assert sf.instance_url == source._client().http.base_url


class TestIncremental:
    def test_the_window_is_exact(self, sf, lake, make_source):
        """The window starts a look-back before the last end and ends at the start."""
        source = make_source(lookback=dt.timedelta(minutes=5), batch_size=500)
        first = sync(source, lake)
        sf.clear_requests()

        second = sync(source, lake)

        (soql,) = queries(sf)
        start = floor_second(first.start_time) - dt.timedelta(minutes=5)
        end = floor_second(second.start_time)
        assert soql.endswith(
            f" FROM Opportunity WHERE SystemModstamp >= {soql_time(start)} AND "
            f"SystemModstamp < {soql_time(end)} ORDER BY SystemModstamp, Id"
        )
        (request,) = [r for r in sf.requests if r.path.endswith("/queryAll")]
        assert "batchSize=500" == request.headers["Sforce-Query-Options"]

    def test_a_second_sync_lands_only_the_changes(self, sf, clock, lake, make_source):
        """Changed records land again; re-read records of the look-back do not."""
        source = make_source()
        sync(source, lake)
        changed = sorted(sf.records["Opportunity"])[:3]
        for record_id in changed:
            clock.tick()
            sf.update("Opportunity", record_id, StageName="Closed Won")

        run = sync(source, lake)

        assert 3 == run.records_processed
        assert changed == sorted(ids(lake)[-3:])

    def test_nothing_changed_lands_nothing(self, sf, clock, lake, make_source):
        """A sync after no change lands no row, though it re-reads the look-back."""
        source = make_source()
        clock.tick()
        sf.generate("Opportunity", 5)
        sync(source, lake)

        run = sync(source, lake)

        assert 0 == run.records_processed

    def test_ties_at_a_page_boundary(self, sf, clock, lake, make_source):
        """450 records on one stamp, 200 a page: each lands once."""
        sf.generate("Opportunity", 450, stamp=clock.tick())

        sync(make_source(batch_size=200), lake)

        landed = ids(lake)
        assert len(sf.records["Opportunity"]) == len(landed) == len(set(landed))

    def test_more_rows_on_one_stamp_than_a_page_holds(
        self, sf, clock, lake, make_source
    ):
        """2,500 records on one stamp land once, and are not landed again."""
        sf.generate("Opportunity", 2500, stamp=clock.tick())
        source = make_source()

        first = sync(source, lake)
        second = sync(source, lake)

        landed = ids(lake)
        assert len(sf.records["Opportunity"]) == len(set(landed)) == len(landed)
        assert (2540, 0) == (first.records_processed, second.records_processed)

    def test_a_dead_query_locator_resumes_after_the_last_row(
        self, sf, clock, lake, make_source
    ):
        """INVALID_QUERY_LOCATOR in a tie resumes on (SystemModstamp, Id) exactly."""
        sf.generate("Opportunity", 2500, stamp=clock.tick())
        sf.inject(
            SalesforceEmulator.error_fault(
                400, "INVALID_QUERY_LOCATOR", "invalid query locator", path="/query/01g"
            )
        )

        run = sync(make_source(), lake)

        landed = ids(lake)
        assert len(sf.records["Opportunity"]) == len(set(landed)) == len(landed)
        resumed = queries(sf)[-1]
        assert "(SystemModstamp > " in resumed
        assert " AND Id > '" in resumed
        assert "success" == run.status

    def test_a_late_commit_below_the_watermark(self, sf, clock, lake, make_source):
        """A change stamped below the last watermark lands once, in the next sync."""
        source = make_source()
        clock.tick()
        recent = sf.generate("Opportunity", 5)
        sync(source, lake)
        late_id = next(
            i for i, r in sf.records["Opportunity"].items() if i not in recent
        )
        clock.tick(30)
        # Committed now, but stamped before the records the last sync landed.
        late = clock.now - dt.timedelta(seconds=20)
        sf.update("Opportunity", late_id, Name="Late", SystemModstamp=late)

        run = sync(source, lake)

        assert 1 == run.records_processed
        assert [("Late", late)] == [
            (r["Name"], r["SystemModstamp"]) for r in rows(lake)[-1:]
        ]
        assert len(set(ids(lake))) == len(sf.records["Opportunity"])

    def test_a_new_custom_field_becomes_a_new_column(
        self, sf, clock, lake, make_source
    ):
        """A field added between syncs appears as a column; older rows hold null."""
        source = make_source()
        sync(source, lake)
        sf.add_field("Opportunity", "Competitor__c", "string")
        record_id = next(iter(sf.records["Opportunity"]))
        clock.tick()
        sf.update("Opportunity", record_id, Competitor__c="Globex")

        sync(source, lake)

        competitors = [
            r["Competitor__c"] for r in rows(lake, columns=["Competitor__c"])
        ]
        assert pa.string() == lake.schema(OPP).field("Competitor__c").type
        assert ["Globex"] == [c for c in competitors if c is not None]
        assert "Globex" == competitors[-1]


class TestDeletes:
    def test_a_soft_delete_lands_as_is_deleted(self, sf, clock, lake, make_source):
        """A recycle-bin record lands through queryAll, IsDeleted, no tombstone."""
        source = make_source()
        sync(source, lake)
        victim = next(iter(sf.records["Opportunity"]))
        clock.tick()
        sf.delete("Opportunity", victim)
        clock.tick(61)

        run = sync(source, lake)

        assert 1 == run.records_processed
        (row,) = rows(lake)[-1:]
        assert (victim, True, False) == (row["Id"], row["IsDeleted"], row["_tombstone"])

    def test_a_hard_delete_lands_as_a_tombstone(self, sf, clock, lake, make_source):
        """A record deleted for good lands as a tombstone stamped with its deletion."""
        source = make_source()
        sync(source, lake)
        victim = next(iter(sf.records["Opportunity"]))
        when = clock.tick()
        sf.purge("Opportunity", victim)
        clock.tick(61)

        run = sync(source, lake)

        assert 1 == run.records_processed
        (row,) = rows(lake)[-1:]
        assert (victim, when, True, True, None) == (
            row["Id"],
            row["SystemModstamp"],
            row["IsDeleted"],
            row["_tombstone"],
            row["Name"],
        )

    def test_a_delete_in_the_current_minute_lands_next_time(
        self, sf, clock, lake, make_source
    ):
        """The log has minute granularity: a delete it does not cover yet waits."""
        source = make_source()
        sync(source, lake)
        clock.tick(1)
        victim = next(iter(sf.records["Opportunity"]))
        sf.purge("Opportunity", victim)

        first = sync(source, lake)
        clock.tick(61)
        second = sync(source, lake)
        third = sync(source, lake)

        assert (0, 1, 0) == (
            first.records_processed,
            second.records_processed,
            third.records_processed,
        )

    def test_purging_a_deleted_record_adds_nothing(self, sf, clock, lake, make_source):
        """A record landed as deleted and then purged needs no tombstone."""
        source = make_source()
        sync(source, lake)
        victim = next(iter(sf.records["Opportunity"]))
        clock.tick()
        sf.delete("Opportunity", victim)
        clock.tick(61)
        sync(source, lake)
        sf.purge("Opportunity", victim)
        clock.tick(61)

        run = sync(source, lake)

        assert 0 == run.records_processed

    def test_an_emptied_recycle_bin_is_reconciled(self, sf, clock, lake, make_source):
        """A gap in the deleted-records log warns and tombstones the vanished ids."""
        source = make_source()
        sync(source, lake)
        sync(source, lake)
        gone = sorted(sf.records["Opportunity"])[:2]
        deleted_before = sorted(sf.records["Opportunity"])[2]
        clock.tick()
        sf.delete("Opportunity", deleted_before)
        clock.tick(61)
        sync(source, lake)
        for record_id in gone:
            clock.tick()
            sf.purge("Opportunity", record_id)
        sf.purge("Opportunity", deleted_before)
        clock.tick()
        sf.purge_deleted_log(before=clock.now)
        clock.tick(61)

        run = sync(source, lake)

        tombstones = [r for r in rows(lake) if r["_tombstone"]]
        assert gone == sorted(r["Id"] for r in tombstones)
        assert {floor_second(run.start_time)} == {
            r["SystemModstamp"] for r in tombstones
        }
        audit = last_audit(lake)
        assert any("deleted-records log starts at" in w for w in audit["warnings"])
        assert any("2 tombstone(s)" in w for w in audit["warnings"])

    def test_a_full_refresh_reconciles_the_ids(self, sf, clock, lake, make_source):
        """A full refresh lands every row again and tombstones vanished ids."""
        source = make_source()
        sync(source, lake)
        victim = min(sf.records["Opportunity"])
        sf.purge("Opportunity", victim)
        sf.purge_deleted_log(before=clock.tick())

        run = sync(source, lake, full_refresh=True)

        assert len(sf.records["Opportunity"]) + 1 == run.records_processed
        assert [victim] == [r["Id"] for r in rows(lake) if r["_tombstone"]]

    def test_a_refused_log_window_is_reconciled(
        self, emulators, clock, lake, make_source
    ):
        """INVALID_REPLICATION_DATE for a purged log is a gap: reconciled."""
        sf = emulators(strict_deleted_window=True)
        source = make_source(sf)
        sync(source, lake)
        sync(source, lake)
        victim = min(sf.records["Opportunity"])
        clock.tick()
        sf.purge("Opportunity", victim)
        sf.purge_deleted_log(before=clock.tick())
        clock.tick(61)

        run = sync(source, lake)

        assert [victim] == [r["Id"] for r in rows(lake) if r["_tombstone"]]
        assert any("INVALID_REPLICATION_DATE" in w for w in run.warnings)

    def test_a_log_out_of_reach_is_reconciled(self, sf, clock, make_source):
        """A last sync more than 15 days back reconciles instead of trusting the log."""
        source = make_source()
        spec = source.objects()[0]
        started = dt.datetime.now(UTC)
        last = started.replace(microsecond=0) - dt.timedelta(days=20)
        old = f"{last:%Y-%m-%dT%H:%M:%S}.000Z"
        state = {
            "version": 1,
            "cursor": "SystemModstamp",
            "watermark": old,
            "deletes_through": old,
            "recent": {},
        }
        held = [*sorted(sf.records["Opportunity"])[:3], "0065g00000000ZZAAA"]
        context = revops_ingest.FetchContext(
            sync_id="s",
            started_at=started,
            read_raw=lambda columns: pa.table(
                {
                    "Id": held,
                    "_tombstone": [False] * 4,
                    "_sync_id": ["s0"] * 4,
                }
            ),
        )

        batches, new_state = drain(source.fetch(spec, state, context))

        tombstoned = [
            r["Id"] for b in batches for r in b.to_pylist() if r["_tombstone"]
        ]
        assert ["0065g00000000ZZAAA"] == tombstoned
        assert "beyond the 15 days" in context.warnings[0]
        assert new_state["watermark"] == started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        (window,) = [q for q in queries(sf) if "FROM Opportunity WHERE" in q]
        start = last - dt.timedelta(hours=1)  # the look-back
        assert f"SystemModstamp >= {soql_time(start)} AND" in window


class TestBulk:
    def _both(self, sf, make_source, tmp_path, obj, **kw):
        rest, bulk = (revops_ingest.Lake(tmp_path / name) for name in ("r", "b"))
        rest_source = make_source(bulk_threshold=None, **kw)
        bulk_source = make_source(bulk_threshold=0, bulk_max_records=25, **kw)
        return (rest_source, rest), (bulk_source, bulk)

    @pytest.mark.parametrize("obj", ["Opportunity", "Account", "Task", "User"])
    def test_bulk_equals_rest_row_for_row(self, sf, tmp_path, make_source, obj):
        """The Bulk API path lands exactly the rows and types the REST path lands."""
        (rest_source, rest), (bulk_source, bulk) = self._both(
            sf, make_source, tmp_path, obj
        )
        sync(rest_source, rest, obj)
        sf.clear_requests()
        sync(bulk_source, bulk, obj)

        assert any(r.path.endswith("/jobs/query") for r in sf.requests)
        path = f"/Salesforce/Raw/{obj}"
        expected = rest.read(path).drop_columns(["_sync_id"]).sort_by("Id")
        actual = bulk.read(path).drop_columns(["_sync_id"]).sort_by("Id")
        assert expected.schema == actual.schema
        assert expected.to_pylist() == actual.to_pylist()

    def test_bulk_equals_rest_incrementally(self, sf, clock, tmp_path, make_source):
        """Windows after the first read through Bulk land what REST lands."""
        (rest_source, rest), (bulk_source, bulk) = self._both(
            sf, make_source, tmp_path, "Opportunity"
        )
        for source, lake in ((rest_source, rest), (bulk_source, bulk)):
            sync(source, lake)
        for record_id in sorted(sf.records["Opportunity"])[:4]:
            clock.tick()
            sf.update("Opportunity", record_id, Amount=1234.5)
        clock.tick()
        sf.delete("Opportunity", sorted(sf.records["Opportunity"])[5])
        clock.tick(61)

        for source, lake in ((rest_source, rest), (bulk_source, bulk)):
            sync(source, lake)

        expected = rest.read(OPP).drop_columns(["_sync_id"]).sort_by("Id")
        actual = bulk.read(OPP).drop_columns(["_sync_id"]).sort_by("Id")
        assert expected.to_pylist() == actual.to_pylist()

    def test_big_windows_go_through_bulk(self, sf, lake, make_source, waits):
        """From bulk_threshold rows on (the first page's totalSize), Bulk reads."""
        sync(make_source(bulk_threshold=30, bulk_max_records=15), lake)

        results = [r for r in sf.requests if r.path.endswith("/results")]
        assert 3 == len(results)  # 40 rows, 15 a page
        assert ["15", "15"] == [r.arg("maxRecords") for r in results[:2]]
        assert waits  # the job was polled, sleeping through the injected sleep
        assert sorted(sf.records["Opportunity"]) == sorted(ids(lake))

    def test_small_windows_stay_on_rest(self, sf, lake, make_source):
        """Below bulk_threshold no job is created and no COUNT() is sent."""
        sync(make_source(bulk_threshold=1000), lake)

        assert not any("/jobs/" in r.path for r in sf.requests)
        assert not any("COUNT()" in q for q in queries(sf))

    def test_a_failed_job_falls_back_to_rest(self, sf, lake, make_source):
        """A Bulk job that fails is warned about, and REST reads the window."""
        sf.fail_bulk_jobs("FeatureNotEnabled : Bulk API not enabled")

        run = sync(make_source(bulk_threshold=0), lake)

        assert sorted(sf.records["Opportunity"]) == sorted(ids(lake))
        (warning,) = run.warnings
        assert "ended Failed: FeatureNotEnabled" in warning
        assert "read through the REST API instead" in warning

    def test_a_refused_job_falls_back_to_rest(self, sf, lake, make_source):
        """A job Salesforce refuses to create is warned about; REST reads instead."""
        sf.inject(
            SalesforceEmulator.error_fault(
                400, "API_ERROR", "Entity not supported", method="POST", path="jobs"
            )
        )

        run = sync(make_source(bulk_threshold=0), lake)

        assert sorted(sf.records["Opportunity"]) == sorted(ids(lake))
        assert "API_ERROR: Entity not supported" in run.warnings[0]

    def test_blocklisted_objects_never_use_bulk(self, sf, lake, make_source):
        """An object on the blocklist is read through REST whatever its size."""
        source = make_source(bulk_threshold=0, bulk_blocklist={"Opportunity"})

        sync(source, lake)

        assert not any("/jobs/" in r.path for r in sf.requests)


class TestQuota:
    def test_usage_lands_in_the_audit_row(self, sf, lake, make_source):
        """Sforce-Limit-Info's api-usage is the audit row's quota figures."""
        run = sync(make_source(), lake)

        assert (sf.api_calls, sf.daily_api_limit) == (
            run.api_quota_used,
            run.api_quota_limit,
        )

    def test_request_limit_exceeded_fails_the_sync(self, sf, lake, make_source):
        """403 REQUEST_LIMIT_EXCEEDED is a failed sync, not retried, not a success."""
        source = make_source()
        sync(source, lake)
        sf.exhaust_quota()
        sf.clear_requests()

        with pytest.raises(QuotaExceededError, match="REQUEST_LIMIT_EXCEEDED"):
            sync(source, lake)

        audit = last_audit(lake)
        assert ("failed", "QuotaExceededError") == (
            audit["status"],
            audit["error_type"],
        )
        assert "TotalRequests Limit exceeded" in audit["error_message"]
        assert 1 == len(sf.requests)  # the describe, once

    def test_concurrent_request_limits_are_retried(self, sf, lake, make_source):
        """REQUEST_LIMIT_EXCEEDED for concurrent long requests passes: retried."""
        sf.inject(
            SalesforceEmulator.error_fault(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
                path="queryAll",
            )
        )

        run = sync(make_source(), lake)

        assert ("success", 1) == (run.status, run.retries)

    def test_max_quota_share_stops_the_sync(self, emulators, lake, make_source):
        """Past max_quota_share of the allocation the sync stops, failed."""
        sf = emulators(daily_api_limit=100)
        sf.api_calls = 59

        with pytest.raises(QuotaExceededError, match=r"max_quota_share=0\.6"):
            sync(make_source(sf, max_quota_share=0.6), lake)

        audit = last_audit(lake)
        assert "failed" == audit["status"]
        assert "60 of the org's 100 daily API calls are used" in audit["error_message"]
        assert 60 == sf.api_calls  # the describe; the query was not sent
        assert not lake.exists(OPP)


class TestFailures:
    def test_a_503_storm_is_retried_and_counted(self, sf, lake, make_source, waits):
        """Five 503s are retried with backoff and counted in the audit row."""
        sf.inject(
            SalesforceEmulator.error_fault(
                503,
                "SERVER_UNAVAILABLE",
                "Server unavailable",
                path="queryAll",
                times=5,
            )
        )

        run = sync(make_source(), lake)

        assert ("success", 5) == (run.status, run.retries)
        assert 5 == len(waits)
        assert 5 == last_audit(lake)["retries"]

    def test_a_body_cut_short_is_retried(self, sf, lake, make_source):
        """A connection dropped mid-page is retried; the page lands once."""
        sf.inject(Fault.drop_mid_body(path="queryAll"))

        run = sync(make_source(), lake)

        assert 1 == run.retries
        assert len(sf.records["Opportunity"]) == len(set(ids(lake))) == len(ids(lake))

    def test_a_malformed_page_commits_nothing(self, sf, clock, lake, make_source):
        """A page that is not JSON fails the sync; the window and watermark stay."""
        source = make_source(batch_size=200)
        sync(source, lake)
        before = (lake.read(OPP).num_rows, lake.state(OPP))
        sf.generate("Opportunity", 450, stamp=clock.tick())
        sf.inject(Fault.malformed(path="/query/01g"))  # the second page

        with pytest.raises(UnexpectedResponseError, match="not valid JSON"):
            sync(source, lake)

        assert before == (lake.read(OPP).num_rows, lake.state(OPP))
        audit = last_audit(lake)
        assert ("failed", 0) == (audit["status"], audit["records_processed"])
        assert audit["watermark_before"] == audit["watermark_after"]
        assert 450 == sync(source, lake).records_processed

    def test_an_unknown_object_is_a_clear_error(self, sf, lake, make_source):
        """An object the org does not have fails with a 404 naming it."""
        source = make_source(objects=["Invoice__c"])

        with pytest.raises(UnexpectedResponseError, match="Invoice__c") as info:
            sync(source, lake, "Invoice__c")

        assert 404 == info.value.status


class TestAuth:
    def test_an_expired_token_is_refreshed_once(self, emulators, lake, make_source):
        """A session that dies mid-sync (401 INVALID_SESSION_ID) is renewed once."""
        sf = emulators(token_ttl_calls=3)
        sf.generate("Opportunity", 500)

        run = sync(make_source(sf, batch_size=200), lake)

        token_calls = [r for r in sf.requests if r.path == "/services/oauth2/token"]
        assert (2, 2) == (len(token_calls), run.token_refreshes)
        landed = ids(lake)
        assert len(sf.records["Opportunity"]) == len(set(landed)) == len(landed)

    def test_a_rotated_refresh_token_is_handed_back(
        self, emulators, lake, make_source, caplog
    ):
        """With rotation on, the new refresh token goes to the callback, not the log."""
        sf = emulators(rotate_refresh_token=True)
        stored = []
        auth = RefreshTokenAuth(
            sf.token_url,
            sf.client_id,
            sf.client_secret,
            sf.refresh_token,
            on_refresh_token=stored.append,
        )
        caplog.set_level(logging.DEBUG)

        sync(make_source(sf, auth=auth), lake)

        assert [sf.refresh_token] == [token.reveal() for token in stored]
        assert sf.refresh_token not in caplog.text
        assert sf.refresh_token not in repr(auth)

    def test_the_client_credentials_grant(self, sf, lake, make_source):
        """The client-credentials grant syncs as the run-as user."""
        auth = ClientCredentialsAuth(sf.token_url, sf.client_id, sf.client_secret)

        run = sync(make_source(auth=auth), lake)

        assert "success" == run.status
        (token,) = [r for r in sf.requests if r.path == "/services/oauth2/token"]
        assert "client_credentials" == token.form()["grant_type"]

    def test_the_jwt_bearer_grant(self, sf, clock, lake, make_source):
        """The JWT bearer grant signs an RS256 assertion the org accepts."""
        auth = JwtBearerAuth(
            sf.token_url,
            sf.client_id,
            sf.username,
            sf.jwt_private_key_pem,
            clock=clock.epoch,
        )

        run = sync(make_source(auth=auth), lake)

        assert "success" == run.status
        (token,) = [r for r in sf.requests if r.path == "/services/oauth2/token"]
        assert {"grant_type", "assertion"} == set(token.form())

    def test_a_refused_refresh_token_names_grant_and_code(self, sf, lake, make_source):
        """A refused grant is an AuthenticationError with the grant and the code."""
        auth = RefreshTokenAuth(
            sf.token_url, sf.client_id, sf.client_secret, "revoked-refresh-token"
        )

        with pytest.raises(AuthenticationError) as info:
            sync(make_source(auth=auth), lake)

        error = info.value
        assert ("OAuth 2.0 refresh_token", "invalid_grant") == (
            error.grant,
            error.vendor_code,
        )
        assert "refresh_token grant" in str(error)
        assert "revoked-refresh-token" not in str(error)
        assert sf.client_secret not in str(error)
        assert "failed" == last_audit(lake)["status"]

    def test_a_refused_jwt_names_grant_and_code(self, sf, clock, lake, make_source):
        """A JWT for an unknown consumer key is refused with invalid_client_id."""
        auth = JwtBearerAuth(
            sf.token_url,
            "someone-else",
            sf.username,
            sf.jwt_private_key_pem,
            clock=clock.epoch,
        )

        with pytest.raises(AuthenticationError, match="invalid_client_id") as info:
            sync(make_source(auth=auth), lake)

        assert "OAuth 2.0 JWT bearer" == info.value.grant


# ---------------------------------------------------------------- property


_EDITS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 10)),
        st.tuples(st.just("update"), st.integers(0, 1000)),
        st.tuples(
            st.just("tie"), st.lists(st.integers(0, 1000), min_size=2, max_size=4)
        ),
        st.tuples(st.just("late"), st.integers(0, 1000)),
        st.tuples(st.just("delete"), st.integers(0, 1000)),
        st.tuples(st.just("purge"), st.integers(0, 1000)),
        st.tuples(st.just("empty_bin"), st.just(0)),
        st.tuples(st.just("sync"), st.integers(1, 120)),
    ),
    max_size=25,
)


def _pick(emulator, index, *, live=True):
    records = emulator.records["Opportunity"]
    choices = sorted(i for i, r in records.items() if not (live and r["IsDeleted"]))
    return choices[index % len(choices)] if choices else None


def _create(emulator, clock, arg):
    clock.tick()
    emulator.create("Opportunity", Name=f"New {arg}", StageName="Prospecting")


def _update(emulator, clock, arg):
    clock.tick()
    if (record_id := _pick(emulator, arg)) is not None:
        emulator.update("Opportunity", record_id, Amount=float(arg))


def _tie(emulator, clock, arg):
    stamp = clock.tick()
    for index in arg:
        if (record_id := _pick(emulator, index)) is not None:
            emulator.update("Opportunity", record_id, SystemModstamp=stamp)


def _late(emulator, clock, arg):
    """Commit now with a stamp up to 40 s back (but after the record's last)."""
    clock.tick()
    if (record_id := _pick(emulator, arg)) is None:
        return
    previous = emulator.records["Opportunity"][record_id]["SystemModstamp"]
    late = max(previous + dt.timedelta(seconds=1), clock.now - dt.timedelta(seconds=40))
    if late <= clock.now:
        emulator.update("Opportunity", record_id, Name="Late", SystemModstamp=late)


def _delete(emulator, clock, arg):
    clock.tick()
    if (record_id := _pick(emulator, arg)) is not None:
        emulator.delete("Opportunity", record_id)


def _purge(emulator, clock, arg):
    clock.tick()
    if (record_id := _pick(emulator, arg, live=False)) is not None:
        emulator.purge("Opportunity", record_id)


def _empty_bin(emulator, clock, arg):
    emulator.purge_deleted_log(before=clock.tick())


_APPLY = {
    "create": _create,
    "update": _update,
    "tie": _tie,
    "late": _late,
    "delete": _delete,
    "purge": _purge,
    "empty_bin": _empty_bin,
}


class TestProperties:
    @pytest.mark.slow
    @hypothesis.settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow],
    )
    @hypothesis.given(edits=_EDITS, bulk=st.booleans())
    def test_the_latest_version_per_id_is_the_final_state(self, edits, bulk):
        """For any edit history, the raw dataset's latest versions equal the org."""
        clock = Clock()
        lake = revops_ingest.Lake(f"memory://salesforce-{uuid.uuid4().hex}")
        with SalesforceEmulator(seed=3, accounts=2, users=1, now=clock) as emulator:
            source = SalesforceSource(
                auth=RefreshTokenAuth(
                    emulator.token_url,
                    emulator.client_id,
                    emulator.client_secret,
                    emulator.refresh_token,
                ),
                lookback=dt.timedelta(hours=1),
                bulk_threshold=0 if bulk else None,
                batch_size=200,
                retry=FAST,
                sleep=lambda _: None,
            )
            with source:
                sync(source, lake)
                for edit in edits:
                    if edit[0] == "sync":
                        clock.tick(edit[1])
                        sync(source, lake)
                    else:
                        _APPLY[edit[0]](emulator, clock, edit[1])
                clock.tick(61)
                sync(source, lake)
            emulator.raise_errors()

            table = lake.read(OPP)
            latest = latest_versions(table)
            alive = {i for i, row in latest.items() if not deleted(row)}
            assert live_opportunities(emulator) == alive
            for record_id in alive:
                record, row = (
                    emulator.records["Opportunity"][record_id],
                    latest[record_id],
                )
                assert (record["Name"], record["Amount"], record["SystemModstamp"]) == (
                    row["Name"],
                    row["Amount"],
                    row["SystemModstamp"],
                )
            versions = collections.Counter(
                (r["Id"], r["SystemModstamp"])
                for r in table.to_pylist()
                if not r["_tombstone"]
            )
            assert [] == [key for key, count in versions.items() if count > 1]
