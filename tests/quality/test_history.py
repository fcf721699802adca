"""The metrics store and the row-count-change check against the previous run."""

from __future__ import annotations

import pyarrow as pa

from revops_ingest.quality import (
    METRICS_DATASET,
    LakeMetricsStore,
    MemoryMetricsStore,
    Status,
    check,
)


def _rows(n):
    return pa.table({"id": list(range(n))})


def _change(data, **kw):
    return check(data, **kw).assert_row_count_change(max_drop=0.2).finalize().checks[0]


class TestRowCountChange:
    def test_first_run_reports_no_baseline(self, lake):
        """With an empty store the check says no baseline instead of passing."""
        result = _change(_rows(10), dataset="/d", lake=lake)

        assert Status.NO_BASELINE == result.status
        assert "first run for /d" in result.message

    def test_without_a_store_reports_no_baseline(self):
        """Without history the check says how to get one."""
        result = _change(_rows(10))

        assert Status.NO_BASELINE == result.status
        assert "no metrics store" in result.message

    def test_drop_over_the_limit_fails_against_the_previous_run(self, lake):
        """100 -> 79 rows is a 21 % drop: failed, with the baseline in details."""
        first = check(_rows(100), dataset="/d", lake=lake).assert_not_empty().finalize()

        result = _change(_rows(79), dataset="/d", lake=lake)

        assert Status.FAILED == result.status
        assert -0.21 == round(result.observed, 2)
        assert -0.2 == result.threshold
        assert (100, first.run_id) == (
            result.details["baseline_rows"],
            result.details["baseline_run_id"],
        )

    def test_drop_within_the_limit_passes(self, lake):
        """100 -> 80 rows is exactly 20 %: passes."""
        _change(_rows(100), dataset="/d", lake=lake)

        assert Status.PASSED == _change(_rows(80), dataset="/d", lake=lake).status

    def test_growth_limit(self):
        """max_growth fails a jump up."""
        store = MemoryMetricsStore()
        check(_rows(10), dataset="/d", store=store).assert_not_empty().finalize()

        result = (
            check(_rows(30), dataset="/d", store=store)
            .assert_row_count_change(max_drop=None, max_growth=1.0)
            .finalize()
        )

        assert (Status.FAILED, 2.0) == (
            result.checks[0].status,
            result.checks[0].observed,
        )

    def test_datasets_have_separate_histories(self, lake):
        """The baseline is the previous run of the same dataset only."""
        _change(_rows(100), dataset="/a", lake=lake)

        assert Status.NO_BASELINE == _change(_rows(1), dataset="/b", lake=lake).status

    def test_record_false_keeps_no_history(self, lake):
        """record=False compares but does not store the run."""
        _change(_rows(100), dataset="/d", lake=lake, record=False)

        assert not lake.exists(METRICS_DATASET)

    def test_with_history_on_a_lake(self, lake):
        """with_history(lake, dataset) is the same as lake= and dataset=."""
        check(_rows(100)).with_history(lake, "/d").assert_not_empty().finalize()

        result = check(_rows(50)).with_history(lake, "/d").assert_row_count_change()

        assert Status.FAILED == result.finalize().checks[0].status

    def test_unreadable_store_is_an_error(self):
        """A store that cannot be read makes the change check an ERROR."""

        class Broken(MemoryMetricsStore):
            def previous(self, dataset):
                raise OSError("disk on fire")

        result = _change(_rows(1), dataset="/d", store=Broken())

        assert Status.ERROR == result.status
        assert "disk on fire" in result.message

    def test_unwritable_store_is_a_warning(self):
        """A store that cannot record adds a warning; the result stands."""

        class ReadOnly(MemoryMetricsStore):
            def record(self, metrics):
                raise OSError("read-only")

        result = check(_rows(1), dataset="/d", store=ReadOnly()).assert_not_empty()

        assert (
            "metrics not recorded: OSError: read-only",
        ) == result.finalize().warnings


class TestLakeMetricsStore:
    def test_keeps_one_row_per_run_keyed_by_dataset_and_run(self, lake):
        """Each run appends a row with its counts and the whole result."""
        store = LakeMetricsStore(lake)
        one = check(_rows(3), dataset="/d", store=store).assert_unique("id").finalize()
        two = check(_rows(4), dataset="/d", store=store).assert_unique("id").finalize()

        history = store.history("/d")

        assert [one.run_id, two.run_id] == [r.run_id for r in history]
        assert [3, 4] == [r.row_count for r in history]
        assert two.run_id == store.previous("/d").run_id
        assert '"unique(id)"' in history[0].result_json
        assert {"dataset", "run_id", "row_count"} <= set(
            lake.schema(METRICS_DATASET).names
        )
