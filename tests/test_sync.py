"""The sync engine: rows and watermark committed together, every sync audited."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pyarrow as pa
import pytest

import revops_ingest
from revops_ingest import FetchContext, Lake, ObjectSpec, SyncRun
from revops_ingest.exceptions import (
    ConfigurationError,
    RevOpsIngestError,
    TransportError,
)


SCHEMA = pa.schema([("id", pa.string()), ("updated", pa.int64())])


@attrs.define
class ListSource:
    """A source that serves pages from a list and remembers the states it was given."""

    pages: list[list[int]]
    system: str = "Fake"
    fail_after: int | None = None
    error: Exception = attrs.Factory(lambda: TransportError("boom", source="Fake"))
    seen_states: list[object] = attrs.Factory(list)
    wrong_item: object = None
    returned: object = "default"

    def objects(self):
        return [
            ObjectSpec(name="Thing", primary_key=("id",), cursor="updated"),
            ObjectSpec(name="Everything", primary_key=("id",), mode="full"),
        ]

    def fetch(self, obj, state, context: FetchContext):
        self.seen_states.append(state)
        start = 0 if state is None else int(state["cursor"])
        top = start
        for n, page in enumerate(self.pages):
            if self.fail_after is not None and n == self.fail_after:
                raise self.error
            if self.wrong_item is not None:
                yield self.wrong_item
            rows = [v for v in page if v > start]
            context.metrics.requests += 1
            context.metrics.bytes_received += 100
            context.page(len(rows))
            yield pa.RecordBatch.from_pylist(
                [{"id": f"r{v}", "updated": v} for v in rows], schema=SCHEMA
            )
            top = max([top, *rows])
        if self.returned != "default":
            return self.returned
        return {"cursor": top}


@pytest.fixture(name="lake")
def _lake(tmp_path):
    return Lake(tmp_path / "lake")


class TestSync:
    def test_lands_rows_tagged_with_the_sync_id(self, lake):
        """Every raw row carries the id of the sync that landed it."""
        run = revops_ingest.sync(ListSource([[1, 2], [3]]), "Thing", lake)

        table = lake.read("/Fake/Raw/Thing")
        assert ["r1", "r2", "r3"] == table.column("id").to_pylist()
        assert {run.sync_id} == set(table.column("_sync_id").to_pylist())
        assert 3 == run.records_processed

    def test_commits_the_new_watermark_with_the_rows(self, lake):
        """The state the fetch returns is the dataset's state after the sync."""
        revops_ingest.sync(ListSource([[1, 2], [5]]), "Thing", lake)

        assert {"cursor": 5} == lake.state("/Fake/Raw/Thing")

    def test_next_sync_starts_from_the_stored_watermark(self, lake):
        """An incremental sync hands the source the state committed last time."""
        revops_ingest.sync(ListSource([[1, 2]]), "Thing", lake)
        source = ListSource([[1, 2, 3, 4]])

        run = revops_ingest.sync(source, "Thing", lake)

        assert [{"cursor": 2}] == source.seen_states
        assert 2 == run.records_processed
        assert ["r1", "r2", "r3", "r4"] == lake.read("/Fake/Raw/Thing")[
            "id"
        ].to_pylist()

    def test_full_refresh_ignores_the_watermark(self, lake):
        """full_refresh=True gives the source no state and re-lands everything."""
        revops_ingest.sync(ListSource([[1, 2]]), "Thing", lake)
        source = ListSource([[1, 2]])

        run = revops_ingest.sync(source, "Thing", lake, full_refresh=True)

        assert [None] == source.seen_states
        assert 2 == run.records_processed
        assert run.full_refresh

    def test_audit_row_has_the_seed_fields(self, lake):
        """The audit log gets one row with the seed's fields, in the seed's order."""
        run = revops_ingest.sync(ListSource([[1, 2]]), "Thing", lake)

        log = lake.read("/RevOps/Audit/sync_log")
        seed = [
            "sync_id",
            "source_system",
            "object_type",
            "start_time",
            "end_time",
            "records_processed",
            "records_failed",
            "error_message",
        ]
        assert seed == log.column_names[:8]
        row = log.to_pylist()[0]
        assert run.sync_id == row["sync_id"]
        assert ("Fake", "Thing", 2, 0, None, "success") == (
            row["source_system"],
            row["object_type"],
            row["records_processed"],
            row["records_failed"],
            row["error_message"],
            row["status"],
        )
        assert row["start_time"] <= row["end_time"]
        assert 1 == row["requests"]
        assert 100 == row["bytes_received"]
        assert json.dumps({"cursor": 2}) == row["watermark_after"]
        assert row["watermark_before"] is None

    def test_sync_run_attributes_match_the_audit_row(self, lake):
        """SyncRun carries the audit row's field names and values."""
        run = revops_ingest.sync(ListSource([[7]]), "Thing", lake)

        row = lake.read("/RevOps/Audit/sync_log").to_pylist()[0]
        for name in ("sync_id", "records_processed", "records_failed", "status"):
            assert row[name] == getattr(run, name)
        assert isinstance(run, SyncRun)
        assert run.succeeded

    def test_a_sync_with_no_rows_still_advances_nothing_but_is_audited(self, lake):
        """A fetch that yields no rows commits its state and writes a success row."""
        run = revops_ingest.sync(ListSource([]), "Thing", lake)

        assert 0 == run.records_processed
        assert {"cursor": 0} == lake.state("/Fake/Raw/Thing")
        assert 1 == lake.read("/RevOps/Audit/sync_log").num_rows

    def test_unknown_object_names_what_the_source_offers(self, lake):
        """An object the source lacks is a configuration error listing all objects."""
        with pytest.raises(ConfigurationError, match="Thing, Everything"):
            revops_ingest.sync(ListSource([]), "Nope", lake)

    def test_object_names_match_case_insensitively(self, lake):
        """'thing' finds 'Thing' when no other object differs only by case."""
        run = revops_ingest.sync(ListSource([[1]]), "thing", lake)

        assert "Thing" == run.object_type


class TestFailedSync:
    def test_nothing_is_committed_and_the_watermark_stays(self, lake):
        """A fetch that fails after some pages commits none of them."""
        revops_ingest.sync(ListSource([[1, 2]]), "Thing", lake)

        with pytest.raises(TransportError, match="boom"):
            revops_ingest.sync(ListSource([[3], [4], [5]], fail_after=2), "Thing", lake)

        assert ["r1", "r2"] == lake.read("/Fake/Raw/Thing")["id"].to_pylist()
        assert {"cursor": 2} == lake.state("/Fake/Raw/Thing")

    def test_the_failure_is_audited_then_raised(self, lake):
        """A failed sync writes its audit row with the error before raising."""
        with pytest.raises(TransportError):
            revops_ingest.sync(ListSource([[3], [4]], fail_after=1), "Thing", lake)

        row = lake.read("/RevOps/Audit/sync_log").to_pylist()[-1]
        assert ("failed", "TransportError", 0) == (
            row["status"],
            row["error_type"],
            row["records_processed"],
        )
        assert "Fake: boom" == row["error_message"]
        assert row["watermark_after"] == row["watermark_before"]

    def test_a_foreign_exception_is_audited_with_its_type(self, lake):
        """Errors that are not ours are recorded as 'Type: message'."""
        source = ListSource([[1], [2]], fail_after=1, error=KeyError("Amount"))

        with pytest.raises(KeyError):
            revops_ingest.sync(source, "Thing", lake)

        row = lake.read("/RevOps/Audit/sync_log").to_pylist()[-1]
        assert "KeyError: 'Amount'" == row["error_message"]

    def test_a_fetch_that_yields_something_else_fails_clearly(self, lake):
        """Yielding a non-Arrow value is a TypeError naming the source and object."""
        with pytest.raises(TypeError, match="Fake Thing: fetch must yield"):
            revops_ingest.sync(ListSource([[1]], wrong_item={"id": 1}), "Thing", lake)

        assert not lake.exists("/Fake/Raw/Thing") or (
            0 == lake.read("/Fake/Raw/Thing").num_rows
        )

    def test_a_fetch_that_returns_a_non_dict_state_fails(self, lake):
        """The returned state must be a dict or None."""
        with pytest.raises(TypeError, match="must return a dict"):
            revops_ingest.sync(ListSource([[1]], returned=[1, 2]), "Thing", lake)

    def test_the_reserved_lineage_column_is_refused(self, lake):
        """A source cannot yield its own _sync_id column."""

        class Bad(ListSource):
            def fetch(self, obj, state, context):
                yield pa.RecordBatch.from_pylist([{"id": "a", "_sync_id": "x"}])
                return {}

        with pytest.raises(ConfigurationError, match="_sync_id"):
            revops_ingest.sync(Bad([]), "Thing", lake)

    def test_the_error_carries_a_note_pointing_at_the_audit_log(self, lake):
        """The raised error says where its audit row is."""
        with pytest.raises(RevOpsIngestError) as info:
            revops_ingest.sync(ListSource([[1]], fail_after=0), "Thing", lake)

        assert any("/RevOps/Audit/sync_log" in n for n in info.value.__notes__)


class TestSyncStatus:
    def test_empty_lake_has_an_empty_status(self, lake):
        """With no syncs yet, the status view is an empty table with its columns."""
        status = revops_ingest.sync_status(lake)

        assert 0 == status.num_rows
        assert "consecutive_failures" in status.column_names

    def test_latest_row_per_object_with_failure_streak(self, lake):
        """The view shows each object's latest sync and failures since a success."""
        revops_ingest.sync(ListSource([[1]]), "Thing", lake)
        for _ in range(2):
            with pytest.raises(TransportError):
                revops_ingest.sync(ListSource([[2]], fail_after=0), "Thing", lake)
        ok = revops_ingest.sync(ListSource([[1]]), "Everything", lake)

        rows = {
            r["object_type"]: r for r in revops_ingest.sync_status(lake).to_pylist()
        }

        assert ("failed", 2, 3) == (
            rows["Thing"]["status"],
            rows["Thing"]["consecutive_failures"],
            rows["Thing"]["total_syncs"],
        )
        assert rows["Thing"]["last_success_time"] is not None
        assert ("success", 0, ok.end_time) == (
            rows["Everything"]["status"],
            rows["Everything"]["consecutive_failures"],
            rows["Everything"]["last_success_time"],
        )

    def test_the_monitoring_dataset_is_refreshed_after_each_sync(self, lake):
        """/RevOps/Monitoring/sync_status holds the same view after a sync."""
        revops_ingest.sync(ListSource([[1]]), "Thing", lake)

        stored = lake.read("/RevOps/Monitoring/sync_status")
        assert revops_ingest.sync_status(lake).to_pylist() == stored.to_pylist()

    def test_end_times_are_timezone_aware_utc(self, lake):
        """Times in the audit log are UTC-aware."""
        run = revops_ingest.sync(ListSource([[1]]), "Thing", lake)

        assert dt.timezone.utc == run.start_time.tzinfo
        row = revops_ingest.sync_status(lake).to_pylist()[0]
        assert dt.timedelta(0) == row["end_time"].utcoffset()


class TestReadRaw:
    def test_a_source_can_read_what_it_landed_before(self, lake):
        """context.read_raw reads the object's raw dataset; None on the first sync."""
        seen = []

        class Reader(ListSource):
            def fetch(self, obj, state, context):
                seen.append(
                    None
                    if context.read_raw is None
                    else context.read_raw(["id"]).column("id").to_pylist()
                )
                return (yield from super().fetch(obj, state, context))

        revops_ingest.sync(Reader([[1, 2]]), "Thing", lake)
        revops_ingest.sync(Reader([[3]]), "Thing", lake)

        assert [None, ["r1", "r2"]] == seen
