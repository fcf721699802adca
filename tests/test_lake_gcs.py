"""The lake on GCS, against gcp-storage-emulator on loopback (gcsfs via fsspec)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import uuid

import pyarrow as pa
import pytest

from revops_ingest._lake import Lake
from revops_ingest.exceptions import DatasetNotFoundError, SchemaError
from revops_ingest.testing._storage import gcs_emulator


pytestmark = pytest.mark.gcs

BUCKET = "revops-lake"
OPPS = "/Salesforce/Raw/Opportunity"


@pytest.fixture(name="gcs", scope="module")
def _gcs():
    # gcsfs picks its filesystem class at import: the extended default probes
    # the bucket over gRPC and stalls ~60 s per call against the emulator.
    if "gcsfs" not in sys.modules:
        os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    pytest.importorskip("gcsfs")
    with gcs_emulator() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture(name="plain_gcsfs")
def _plain_gcsfs(gcs):
    """Whether ``gs://`` URLs resolve to the plain GCSFileSystem class."""
    import gcsfs  # noqa: PLC0415 - only after the fixture set the env var
    import gcsfs.core  # noqa: PLC0415

    return gcsfs.GCSFileSystem is gcsfs.core.GCSFileSystem


@pytest.fixture(name="url")
def _url(gcs):
    return f"gs://{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(name="make_lake")
def _make_lake(gcs, plain_gcsfs):
    def make(url):
        if plain_gcsfs:
            return Lake(url, storage_options=gcs.storage_options())
        return Lake(url, filesystem=gcs.filesystem())

    return make


@pytest.fixture(name="lake")
def _lake(make_lake, url):
    return make_lake(url)


def ids(lake, path=OPPS):
    return lake.read(path).column("id").to_pylist()


def table(values, **extra):
    return pa.table({"id": pa.array(values, pa.int64()), **extra})


class TestGCSLake:
    def test_server_is_on_loopback(self, gcs):
        """The emulator the tests use listens on 127.0.0.1 only."""
        assert gcs.endpoint_url.startswith("http://127.0.0.1:")

    def test_url_with_storage_options(self, gcs, url, plain_gcsfs):
        """A gs:// URL with endpoint and anonymous token opens the emulator."""
        if not plain_gcsfs:
            pytest.skip("gcsfs was imported with its extended class registered")
        lake = Lake(url, storage_options=gcs.storage_options())

        lake.write(OPPS, table([1]))

        assert [1] == ids(lake)

    def test_round_trip(self, lake, url):
        """A table written to GCS reads back equal; files() are gs:// URLs."""
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

    def test_commits_are_single_objects(self, lake, url):
        """On GCS a commit is one upload: no .tmp- object and no rename."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2]))

        fs = lake._engine.store.fs
        fs.invalidate_cache()
        names = fs.ls(f"{url}/Salesforce/Raw/Opportunity/_commits")

        assert 2 == len(names)
        assert all(n.endswith(".json") for n in names)

    def test_another_lake_object_sees_new_commits(self, lake, make_lake, url):
        """Listings are not served from a stale cache: other writers are seen."""
        lake.append(OPPS, table([1]))
        make_lake(url).append(OPPS, table([2]))

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

    def test_crash_leftovers_are_invisible_and_vacuumed(self, lake):
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
        """Compaction on GCS keeps rows and state and leaves one file."""
        for i in range(4):
            lake.append(OPPS, table([i]), state={"cursor": i})

        lake.compact(OPPS)

        assert [0, 1, 2, 3] == ids(lake)
        assert 1 == len(lake.files(OPPS))
        assert {"cursor": 3} == lake.state(OPPS)

    def test_concurrent_appends(self, lake):
        """Appends from several threads all land on GCS."""

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

    def test_filesystem_argument(self, gcs, url, make_lake):
        """A ready gcsfs filesystem can be passed instead of storage options."""
        Lake(url, filesystem=gcs.filesystem()).append(OPPS, table([1]))

        assert [1] == ids(make_lake(url))
