"""The lake on S3, against moto's server on loopback (s3fs through fsspec)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pyarrow as pa
import pytest

from revops_ingest._lake import Lake
from revops_ingest.exceptions import DatasetNotFoundError, SchemaError
from revops_ingest.testing._storage import moto_s3_server


pytestmark = pytest.mark.s3

BUCKET = "revops-lake"
OPPS = "/Salesforce/Raw/Opportunity"


@pytest.fixture(name="s3", scope="module")
def _s3():
    pytest.importorskip("s3fs")
    with moto_s3_server() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(name="url")
def _url(s3):
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(name="lake")
def _lake(s3, url):
    return Lake(url, storage_options=s3.storage_options())


def ids(lake, path=OPPS):
    return lake.read(path).column("id").to_pylist()


def table(values, **extra):
    return pa.table({"id": pa.array(values, pa.int64()), **extra})


class TestS3Lake:
    def test_server_is_on_loopback(self, s3):
        """The moto server the tests use listens on 127.0.0.1 only."""
        assert s3.endpoint_url.startswith("http://127.0.0.1:")

    def test_round_trip(self, lake, url):
        """A table written to S3 reads back equal; files() are s3:// URLs."""
        data = table([1, 2, 3], stage=pa.array(["a", None, "c"]))

        lake.write(OPPS, data)

        assert data == lake.read(OPPS)
        assert all(f.startswith(f"{url}/Salesforce/") for f in lake.files(OPPS))
        assert [OPPS] == lake.datasets()

    def test_append_and_replace(self, lake):
        """Appends accumulate and a replace starts over, with state."""
        lake.append(OPPS, table([1]), state={"cursor": 1})
        lake.append(OPPS, table([2]))

        assert [1, 2] == ids(lake)

        lake.write(OPPS, table([9]))

        assert [9] == ids(lake)
        assert {"cursor": 1} == lake.state(OPPS)
        assert ["append", "append", "replace"] == [
            c.operation for c in lake.history(OPPS)
        ]

    def test_commits_are_single_objects_without_temp_files(self, lake, s3, url):
        """On S3 a commit is one PUT: no .tmp- object is ever left in _commits/."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2]))

        fs = lake._engine.store.fs
        names = fs.ls(f"{url}/Salesforce/Raw/Opportunity/_commits", refresh=True)

        assert 2 == len(names)
        assert all(n.endswith(".json") for n in names)

    def test_another_lake_object_sees_new_commits(self, lake, s3, url):
        """Listings are not served from a stale cache: other writers are seen."""
        lake.append(OPPS, table([1]))
        other = Lake(url, storage_options=s3.storage_options())
        other.append(OPPS, table([2]))

        assert [1, 2] == ids(lake)

    def test_schema_evolution(self, lake):
        """A new column and a widened type unify; an incompatible type is refused."""
        lake.append(OPPS, pa.table({"id": pa.array([1], pa.int32())}))
        lake.append(OPPS, table([2], stage=pa.array(["won"])))

        assert {"id": [1, 2], "stage": [None, "won"]} == lake.read(OPPS).to_pydict()

        with pytest.raises(SchemaError) as info:
            lake.append(OPPS, pa.table({"id": ["three"]}))

        assert "id" == info.value.column
        assert [1, 2] == ids(lake)

    def test_crash_leftovers_are_invisible_and_vacuumed(self, lake, url):
        """An abandoned writer's files are never read, and vacuum removes them."""
        lake.append(OPPS, table([1]))
        crashed = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        crashed.write(table([2, 3]))
        aborted = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        aborted.write(table([4, 5]))
        aborted.abort()

        assert [1] == ids(lake)

        report = lake.vacuum(OPPS, older_than=dt.timedelta(0))

        assert [crashed.run_id] == list(report.deleted_runs)
        assert [1] == ids(lake)

    def test_compaction(self, lake):
        """Compaction on S3 keeps rows and state and leaves one file."""
        for i in range(4):
            lake.append(OPPS, table([i]), state={"cursor": i})

        lake.compact(OPPS)

        assert [0, 1, 2, 3] == ids(lake)
        assert 1 == len(lake.files(OPPS))
        assert {"cursor": 3} == lake.state(OPPS)

    def test_concurrent_appends(self, lake):
        """Appends from several threads all land on S3."""

        def work(worker):
            for i in range(3):
                lake.append(OPPS, table([worker * 10 + i]))

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(w * 10 + i for w in range(4) for i in range(3)) == sorted(
            ids(lake)
        )

    def test_missing_dataset(self, lake, url):
        """A dataset never written raises DatasetNotFoundError naming the lake."""
        with pytest.raises(DatasetNotFoundError, match=url):
            lake.read(OPPS)

    def test_filesystem_argument(self, s3, url):
        """A ready s3fs filesystem can be passed instead of storage options."""
        s3fs = pytest.importorskip("s3fs")
        fs = s3fs.S3FileSystem(
            key=s3.key,
            secret=s3.secret,
            client_kwargs={"endpoint_url": s3.endpoint_url, "region_name": s3.region},
        )
        lake = Lake(url, filesystem=fs)

        lake.append(OPPS, table([1]))

        assert [1] == ids(Lake(url, storage_options=s3.storage_options()))
