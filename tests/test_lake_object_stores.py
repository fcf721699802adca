"""The lake on object stores: moto's S3 server and the GCS emulator, on loopback.

Each test runs once per store (ids ``s3`` and ``gcs``, marked ``s3`` and ``gcs``).
The store-specific parts (bucket creation, credentials, how a ready fsspec
filesystem is built, gcsfs' class selection) live in the ``Store`` classes and the
server fixtures; every server starts at most once per module (and per worker).
"""

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
from revops_ingest.testing._storage import gcs_emulator, moto_s3_server


BUCKET = "revops-lake"
OPPS = "/Salesforce/Raw/Opportunity"


class Store:
    """One loopback object store and the ways the tests open a lake on it."""

    scheme = ""

    def __init__(self, server, *, url_options=True):
        self.server = server
        # Whether a URL plus storage_options reaches the server (see GCSStore).
        self.url_options = url_options

    def url(self):
        return f"{self.scheme}://{BUCKET}/{uuid.uuid4().hex}"

    def filesystem(self):
        """Return a ready fsspec filesystem for the server, built by hand."""
        raise NotImplementedError

    def make_lake(self, url):
        if self.url_options:
            return Lake(url, storage_options=self.server.storage_options())
        return Lake(url, filesystem=self.filesystem())


class S3Store(Store):
    scheme = "s3"

    def filesystem(self):
        import s3fs  # noqa: PLC0415 - test extra, checked by the fixture

        return s3fs.S3FileSystem(
            key=self.server.key,
            secret=self.server.secret,
            client_kwargs={
                "endpoint_url": self.server.endpoint_url,
                "region_name": self.server.region,
            },
        )


class GCSStore(Store):
    scheme = "gs"

    def filesystem(self):
        return self.server.filesystem()


@pytest.fixture(name="s3_store", scope="module")
def _s3_store():
    pytest.importorskip("s3fs")
    with moto_s3_server() as server:
        server.create_bucket(BUCKET)
        yield S3Store(server)


@pytest.fixture(name="gcs_store", scope="module")
def _gcs_store():
    # gcsfs picks its filesystem class at import: the extended default probes
    # the bucket over gRPC and stalls ~60 s per call against the emulator.
    if "gcsfs" not in sys.modules:
        os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    pytest.importorskip("gcsfs")
    import gcsfs.core  # noqa: PLC0415 - only after the env var is set

    # If gcsfs was imported earlier with the extended class, gs:// URLs would
    # stall: open lakes through the plain class passed as filesystem= instead.
    plain = gcsfs.GCSFileSystem is gcsfs.core.GCSFileSystem
    with gcs_emulator() as server:
        server.create_bucket(BUCKET)
        yield GCSStore(server, url_options=plain)


@pytest.fixture(
    name="store",
    scope="module",
    params=[
        pytest.param("s3", marks=pytest.mark.s3, id="s3"),
        pytest.param("gcs", marks=pytest.mark.gcs, id="gcs"),
    ],
)
def _store(request):
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(name="url")
def _url(store):
    return store.url()


@pytest.fixture(name="make_lake")
def _make_lake(store):
    return store.make_lake


@pytest.fixture(name="lake")
def _lake(make_lake, url):
    return make_lake(url)


def ids(lake, path=OPPS):
    return lake.read(path).column("id").to_pylist()


def table(values, **extra):
    return pa.table({"id": pa.array(values, pa.int64()), **extra})


class TestObjectStoreLake:
    def test_server_is_on_loopback(self, store):
        """The server the tests use listens on 127.0.0.1 only."""
        assert store.server.endpoint_url.startswith("http://127.0.0.1:")

    def test_url_with_storage_options(self, store, url):
        """A URL with endpoint and credentials in storage_options opens the server."""
        if not store.url_options:
            pytest.skip("gcsfs was imported with its extended class registered")
        lake = Lake(url, storage_options=store.server.storage_options())

        lake.write(OPPS, table([1]))

        assert [1] == ids(lake)

    def test_filesystem_argument(self, store, url, make_lake):
        """A ready filesystem can be passed instead of storage options."""
        Lake(url, filesystem=store.filesystem()).append(OPPS, table([1]))

        assert [1] == ids(make_lake(url))

    def test_round_trip(self, lake, url):
        """A table written to the store reads back equal; files() are URLs under it."""
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

    def test_commits_are_single_objects_without_temp_files(self, lake, url):
        """A commit is one object upload: no .tmp- object is ever left in _commits/."""
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
        """Compaction on the store keeps rows and state and leaves one file."""
        for i in range(4):
            lake.append(OPPS, table([i]), state={"cursor": i})

        lake.compact(OPPS)

        assert [0, 1, 2, 3] == ids(lake)
        assert 1 == len(lake.files(OPPS))
        assert {"cursor": 3} == lake.state(OPPS)

    def test_concurrent_appends(self, lake):
        """Appends from several threads all land on the store."""

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
