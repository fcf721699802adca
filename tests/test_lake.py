"""The lake: commits, schema evolution, crash safety, compaction and vacuum."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import pathlib
import subprocess
import sys
import threading
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from revops_ingest import _lake
from revops_ingest._lake import Commit, DatasetWriter, Lake, VacuumReport
from revops_ingest.exceptions import (
    ConfigurationError,
    DatasetError,
    DatasetNotFoundError,
    SchemaError,
)


OPPS = "/Salesforce/Raw/Opportunity"
LOG = "/RevOps/Audit/sync_log"


@pytest.fixture(name="root")
def _root(tmp_path):
    return tmp_path / "lake"


@pytest.fixture(name="lake")
def _lake_fixture(root):
    return Lake(root)


@pytest.fixture(name="later")
def _later(monkeypatch):
    """Move the lake's clock forward by the given timedelta."""

    def move(delta):
        real = _lake._utcnow()
        monkeypatch.setattr(_lake, "_utcnow", lambda: real + delta)

    return move


def table(values, **extra):
    return pa.table({"id": pa.array(values, pa.int64()), **extra})


def ids(lake, path=OPPS):
    return lake.read(path).column("id").to_pylist()


def data_runs(root, path=OPPS):
    folder = root.joinpath(*path.strip("/").split("/"), "data")
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def commit_files(root, path=OPPS):
    folder = root.joinpath(*path.strip("/").split("/"), "_commits")
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class TestPaths:
    @pytest.mark.parametrize(
        "path",
        [
            "/Salesforce/Raw/Opportunity",
            "/RevOps/Staging/opportunities",
            "/A",
            "/With space/and-dash/v1.2",
            "/x_y/Z9",
        ],
    )
    def test_valid_paths_are_accepted(self, lake, path):
        """Foundry-style paths with letters, digits, `_ - .` and spaces work."""
        lake.append(path, table([1]))

        assert [1] == ids(lake, path)

    @pytest.mark.parametrize(
        ("path", "reason"),
        [
            ("Salesforce/Raw", "must start with '/'"),
            ("/", "empty segment"),
            ("/a//b", "empty segment"),
            ("/a/b/", "empty segment"),
            ("/a/./b", "'.' is not allowed"),
            ("/a/../b", "'..' is not allowed"),
            ("/a/_commits", "reserved"),
            ("/.hidden/x", "reserved"),
            ("/a/b:c", "contains ':'"),
            ("/a/b\\c", "contains"),
            ("/a/ lead", "starts or ends with a space"),
            ("/a/Ünïcode", "contains"),
        ],
    )
    def test_bad_paths_raise_configuration_error_naming_them(self, lake, path, reason):
        """A bad dataset path raises ConfigurationError that names the path and why."""
        with pytest.raises(ConfigurationError) as info:
            lake.read(path)

        assert repr(path) in str(info.value)
        assert reason in str(info.value)

    def test_non_string_path_is_rejected(self, lake):
        """A path that is not a string raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="must be a string"):
            lake.exists(pathlib.PurePosixPath("/a/b"))

    def test_bad_prefix_is_rejected(self, lake):
        """datasets() validates its prefix like a path."""
        with pytest.raises(ConfigurationError, match="prefix"):
            lake.datasets("no-slash")


class TestLake:
    def test_repr_shows_url_but_hides_storage_options(self):
        """The repr names the URL and never the storage options (they may hold keys)."""
        assert "Lake('memory://repr-test')" == repr(Lake("memory://repr-test"))

    def test_repr_of_remote_lake_hides_secret(self):
        """Credentials passed as storage options do not appear in repr or url."""
        pytest.importorskip("s3fs")
        lake = Lake(
            "s3://bucket/root",
            storage_options={"key": "AKIAEXAMPLE", "secret": "hunter2-secret"},
        )

        assert "hunter2" not in repr(lake)
        assert "AKIAEXAMPLE" not in repr(lake)
        assert "s3://bucket/root" == lake.url

    def test_path_like_and_file_url_open_the_same_lake(self, root):
        """A pathlib path, a plain string and a file:// URL address one lake."""
        Lake(root).append(OPPS, table([1]))

        assert [1] == ids(Lake(str(root)))
        assert [1] == ids(Lake(f"file://{root}"))
        assert str(root) == Lake(root).url

    def test_storage_options_for_local_path_are_an_error(self, root):
        """Storage options given for a local path are reported, not ignored."""
        with pytest.raises(ConfigurationError, match="local path"):
            Lake(root, storage_options={"anon": True})

    def test_filesystem_and_storage_options_together_are_an_error(self):
        """Passing both a filesystem and storage options is ambiguous."""
        fsspec = pytest.importorskip("fsspec")

        with pytest.raises(ConfigurationError, match="not both"):
            Lake(
                "x",
                filesystem=fsspec.filesystem("memory"),
                storage_options={"a": 1},
            )

    def test_filesystem_must_be_fsspec(self):
        """An object that is no fsspec filesystem is rejected."""
        with pytest.raises(ConfigurationError, match="fsspec filesystem"):
            Lake("x", filesystem=object())

    def test_unknown_protocol_is_a_configuration_error(self):
        """A URL whose filesystem fsspec does not know raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="nosuchproto"):
            Lake("nosuchproto://bucket/x")

    def test_explicit_fsspec_local_filesystem_uses_native_local_store(self, root):
        """An fsspec LocalFileSystem is served by the native local store."""
        lake = Lake(str(root), filesystem=LocalFileSystem())
        lake.append(OPPS, table([1, 2]))

        assert isinstance(lake._engine.store, _lake._LocalStore)
        assert [1, 2] == ids(Lake(root))

    def test_importing_the_lake_does_not_import_cloud_filesystems(self):
        """Importing the module loads neither s3fs nor gcsfs."""
        code = (
            "import sys, revops_ingest._lake; "
            "print(sorted(m for m in ('s3fs', 'gcsfs') if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )

        assert "[]" == out.stdout.strip()

    def test_constructing_a_lake_touches_no_storage(self, root):
        """Opening a lake creates nothing until the first write."""
        Lake(root)

        assert not root.exists()


class TestRoundTrip:
    def test_write_then_read_returns_the_table(self, lake):
        """A written table reads back equal, with its schema."""
        data = pa.table(
            {
                "id": pa.array([1, 2, 3], pa.int64()),
                "amount": pa.array([1.5, None, 3.0]),
                "stage": ["won", "lost", None],
                "closed": pa.array(
                    [
                        dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
                        None,
                        dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc),
                    ],
                    pa.timestamp("us", "UTC"),
                ),
            }
        )

        lake.write(OPPS, data)

        assert data == lake.read(OPPS)
        assert data.schema == lake.schema(OPPS)

    def test_read_columns_and_filter(self, lake):
        """read() projects columns and pushes down a filter expression."""
        lake.write(OPPS, table([1, 2, 3, 4], stage=pa.array(["a", "b", "a", "b"])))

        got = lake.read(OPPS, columns=["stage", "id"], filter=pc.field("id") > 2)

        assert {"stage": ["a", "b"], "id": [3, 4]} == got.to_pydict()

    def test_unknown_column_raises_schema_error(self, lake):
        """Asking for a column the dataset lacks raises SchemaError naming it."""
        lake.write(OPPS, table([1]))

        with pytest.raises(SchemaError, match="'nope'") as info:
            lake.read(OPPS, columns=["nope"])

        assert "nope" == info.value.column
        assert OPPS == info.value.dataset

    def test_columns_must_not_be_a_string(self, lake):
        """A bare string for columns is a TypeError, not a list of letters."""
        lake.write(OPPS, table([1]))

        with pytest.raises(TypeError):
            lake.read(OPPS, columns="id")

    def test_scan_streams_batches_of_bounded_size(self, lake):
        """scan() yields batches no larger than batch_size covering all rows."""
        lake.write(OPPS, table(list(range(1000))))

        batches = list(lake.scan(OPPS, batch_size=100))

        assert max(b.num_rows for b in batches) <= 100
        assert list(range(1000)) == [
            v for b in batches for v in b.column("id").to_pylist()
        ]

    def test_scan_checks_batch_size(self, lake):
        """A non-positive batch size is a ConfigurationError."""
        lake.write(OPPS, table([1]))

        with pytest.raises(ConfigurationError, match="batch_size"):
            lake.scan(OPPS, batch_size=0)

    def test_scan_fixes_its_files_at_call_time(self, lake):
        """An append after scan() was called is not part of that scan."""
        lake.write(OPPS, table([1]))
        stream = lake.scan(OPPS)

        lake.append(OPPS, table([2]))

        assert [1] == [v for b in stream for v in b.column("id").to_pylist()]

    def test_accepts_batches_readers_iterables_and_arrow_streams(self, lake):
        """write/append take a RecordBatch, a reader, an iterable and a Polars frame."""
        pl = pytest.importorskip("polars")
        batch = pa.record_batch([pa.array([1], pa.int64())], names=["id"])
        reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])

        lake.write(OPPS, batch)
        lake.append(OPPS, reader)
        lake.append(OPPS, iter([batch, batch]))
        lake.append(OPPS, pl.DataFrame({"id": [2]}))

        assert [1, 1, 1, 1, 2] == ids(lake)

    def test_rejects_other_data(self, lake):
        """Data that is not Arrow raises TypeError."""
        with pytest.raises(TypeError, match="data must be"):
            lake.write(OPPS, "id,amount\n1,2\n")
        with pytest.raises(TypeError, match="RecordBatch or Table"):
            lake.writer(OPPS).write([1, 2])

    def test_empty_table_keeps_its_schema(self, lake):
        """Writing zero rows commits the schema, and reads return it empty."""
        schema = pa.schema([("id", pa.int64()), ("name", pa.string())])

        commit = lake.write(OPPS, schema.empty_table())

        assert 0 == lake.read(OPPS).num_rows
        assert schema == lake.schema(OPPS)
        assert () == commit.files

    def test_memory_filesystem_round_trip(self):
        """memory:// lakes work end to end, and files() gives memory:// URLs."""
        lake = Lake(f"memory://lake-{uuid.uuid4().hex}")

        lake.write(OPPS, table([1, 2]))
        lake.append(OPPS, table([3]))

        assert [1, 2, 3] == ids(lake)
        assert all(f.startswith("memory://") for f in lake.files(OPPS))
        assert [OPPS] == lake.datasets()

    def test_dataset_is_lazy_with_unified_schema(self, lake):
        """dataset() returns a pyarrow Dataset over the live files, unified schema."""
        lake.write(OPPS, table([1]))
        lake.append(OPPS, table([2], note=pa.array(["x"])))

        dataset = lake.dataset(OPPS)

        assert isinstance(dataset, ds.Dataset)
        assert lake.schema(OPPS) == dataset.schema
        assert 2 == dataset.count_rows()

    def test_exists_and_datasets(self, lake):
        """exists() and datasets() see committed datasets only, sorted, by prefix."""
        lake.append("/B/x", table([1]))
        lake.append("/A/y", table([1]))
        lake.append("/A/z/deep", table([1]))
        writer = lake.writer("/C/uncommitted", max_rows_per_file=1, row_group_size=1)
        writer.write(table([1, 2]))

        assert ["/A/y", "/A/z/deep", "/B/x"] == lake.datasets()
        assert ["/A/y", "/A/z/deep"] == lake.datasets("/A/")
        assert ["/A/z/deep"] == lake.datasets("/A/z/deep")
        assert lake.exists("/A/y")
        assert not lake.exists("/A")
        assert not lake.exists("/C/uncommitted")
        writer.abort()

    def test_datasets_of_empty_lake(self, lake):
        """A lake with nothing in it lists no datasets."""
        assert [] == lake.datasets()


class TestOtherEngines:
    def test_duckdb_reads_files_with_union_by_name(self, lake):
        """files() can be read by DuckDB directly, evolving schema and all."""
        duckdb = pytest.importorskip("duckdb")
        lake.write(OPPS, table([1, 2], stage=pa.array(["a", "b"])))
        lake.append(OPPS, table([3], amount=pa.array([9.5])))

        rel = duckdb.read_parquet(lake.files(OPPS), union_by_name=True)

        assert [(1, "a", None), (2, "b", None), (3, None, 9.5)] == sorted(
            rel.fetchall()
        )

    def test_duckdb_queries_the_arrow_dataset(self, lake):
        """DuckDB can scan the lazy dataset() object."""
        duckdb = pytest.importorskip("duckdb")
        lake.write(OPPS, table([1, 2]))
        lake.append(OPPS, table([3]))

        con = duckdb.connect()
        got = con.from_arrow(lake.dataset(OPPS)).aggregate("sum(id)").fetchall()

        assert [(6,)] == got

    def test_polars_reads_files_and_dataset(self, lake):
        """Polars reads files() with the lake's schema, and scans dataset()."""
        pl = pytest.importorskip("polars")
        lake.write(OPPS, pa.table({"id": pa.array([1, 2], pa.int32())}))
        lake.append(OPPS, table([3], amount=pa.array([9.5])))
        schema = pl.from_arrow(lake.schema(OPPS).empty_table()).schema

        direct = pl.scan_parquet(
            lake.files(OPPS),
            schema=schema,
            missing_columns="insert",
            cast_options=pl.ScanCastOptions(integer_cast="upcast"),
        ).collect()
        lazy = pl.scan_pyarrow_dataset(lake.dataset(OPPS)).collect()

        assert [1, 2, 3] == direct["id"].to_list()
        assert [None, None, 9.5] == direct["amount"].to_list()
        assert direct.equals(lazy)

    def test_directory_discovery_skips_commit_files(self, lake, root):
        """Pyarrow discovery on a dataset folder ignores _commits and .tmp- files."""
        lake.write(OPPS, table([1]))
        folder = root / "Salesforce" / "Raw" / "Opportunity"
        (folder / "_commits" / ".tmp-leftover.json").write_text("{}")

        found = ds.dataset(str(folder), format="parquet").files

        assert all(f.endswith(".parquet") and "/data/" in f for f in found)


class TestAppendAndReplace:
    def test_appends_accumulate_in_commit_order(self, lake):
        """Each append adds rows after the existing ones."""
        for i in range(3):
            lake.append(OPPS, table([i]))

        assert [0, 1, 2] == ids(lake)
        assert ["append"] * 3 == [c.operation for c in lake.history(OPPS)]

    def test_write_replaces_everything(self, lake):
        """write() makes the new data the whole dataset."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2]))

        lake.write(OPPS, table([7]))
        lake.append(OPPS, table([8]))

        assert [7, 8] == ids(lake)

    def test_writer_replace_mode(self, lake):
        """writer(mode='replace') replaces on commit, not before."""
        lake.append(OPPS, table([1]))

        with lake.writer(OPPS, mode="replace") as writer:
            writer.write(table([5]))
            assert [1] == ids(lake)
            writer.commit()

        assert [5] == ids(lake)

    def test_commit_describes_itself(self, lake):
        """The returned Commit carries rows, bytes, files, schema and metadata."""
        commit = lake.append(
            OPPS, table([1, 2]), state={"cursor": "x"}, properties={"sync": 1}
        )

        assert isinstance(commit, Commit)
        assert OPPS == commit.dataset
        assert "append" == commit.operation
        assert 2 == commit.rows
        assert commit.bytes > 0
        assert (f"data/{commit.run_id}/part-00000.parquet",) == commit.files
        assert table([1]).schema == commit.schema
        assert {"cursor": "x"} == commit.state
        assert {"sync": 1} == commit.properties
        assert dt.timezone.utc == commit.committed_at.tzinfo
        assert [commit] == lake.history(OPPS)

    def test_commit_ids_sort_in_commit_order(self, lake):
        """Commit ids start with an increasing sequence number."""
        commits = [lake.append(OPPS, table([i])) for i in range(12)]

        assert [f"{i:012d}" for i in range(1, 13)] == [
            c.commit_id[:12] for c in commits
        ]
        assert sorted(c.commit_id for c in commits) == [c.commit_id for c in commits]

    def test_commit_file_format(self, lake, root):
        """The commit file is the documented JSON: one file, immutable, complete."""
        commit = lake.append(OPPS, table([1, 2]), state={"c": 1})
        (name,) = commit_files(root)
        doc = json.loads(
            (root / "Salesforce/Raw/Opportunity/_commits" / name).read_text()
        )

        assert f"{commit.commit_id}.json" == name
        assert {
            "format": "revops-lake/1",
            "commit_id": commit.commit_id,
            "operation": "append",
            "committed_at": commit.committed_at.isoformat(),
            "run_id": commit.run_id,
            "files": [{"path": commit.files[0], "rows": 2, "bytes": commit.bytes}],
            "rows": 2,
            "state": {"c": 1},
            "properties": {},
        } == {k: v for k, v in doc.items() if k != "schema"}
        schema_bytes = base64.b64decode(doc["schema"])
        assert commit.schema == pa.ipc.read_schema(pa.py_buffer(schema_bytes))


class TestState:
    def test_state_is_committed_with_the_data(self, lake):
        """state() returns the state of the newest commit that carried one."""
        assert lake.state(OPPS) is None
        lake.append(OPPS, table([1]), state={"cursor": 1})
        lake.append(OPPS, table([2]))

        assert {"cursor": 1} == lake.state(OPPS)

        lake.append(OPPS, table([3]), state={"cursor": 3})

        assert {"cursor": 3} == lake.state(OPPS)

    def test_replace_without_state_keeps_the_old_state(self, lake):
        """A replace that carries no state leaves the previous state in force."""
        lake.append(OPPS, table([1]), state={"cursor": 1})

        lake.write(OPPS, table([2]))

        assert {"cursor": 1} == lake.state(OPPS)

    def test_state_with_no_rows(self, lake):
        """An append of zero rows can still move the state forward."""
        lake.append(OPPS, table([1]), state={"cursor": 1})

        lake.append(OPPS, table([]), state={"cursor": 2})

        assert [1] == ids(lake)
        assert {"cursor": 2} == lake.state(OPPS)

    def test_state_must_be_json(self, lake):
        """A state that is not JSON is refused and the writer stays usable."""
        with lake.writer(OPPS) as writer:
            writer.write(table([1]))
            with pytest.raises(ConfigurationError, match="JSON"):
                writer.commit(state={"when": dt.date(2024, 1, 1)})
            with pytest.raises(ConfigurationError, match="mapping"):
                writer.commit(state=["not", "a", "mapping"])
            writer.commit(state={"when": "2024-01-01"})

        assert {"when": "2024-01-01"} == lake.state(OPPS)

    def test_returned_state_is_a_copy(self, lake):
        """Mutating the returned state does not change what the lake holds."""
        lake.append(OPPS, table([1]), state={"cursor": {"a": 1}})

        lake.state(OPPS)["cursor"]["a"] = 2
        lake.history(OPPS)[0].state["cursor"]["a"] = 3

        assert {"cursor": {"a": 1}} == lake.state(OPPS)


class TestNotFound:
    @pytest.mark.parametrize(
        "call",
        [
            lambda lake: lake.read(OPPS),
            lambda lake: lake.scan(OPPS),
            lambda lake: lake.schema(OPPS),
            lambda lake: lake.files(OPPS),
            lambda lake: lake.dataset(OPPS),
            lambda lake: lake.compact(OPPS),
        ],
    )
    def test_never_committed_dataset_raises_not_found(self, lake, call):
        """Reading a dataset that was never committed names the path and the lake."""
        with pytest.raises(DatasetNotFoundError) as info:
            call(lake)

        assert OPPS in str(info.value)
        assert lake.url in str(info.value)
        assert isinstance(info.value, KeyError)

    def test_history_and_state_of_missing_dataset_are_empty(self, lake):
        """A missing dataset has no history and no state."""
        assert [] == lake.history(OPPS)
        assert lake.state(OPPS) is None
        assert not lake.exists(OPPS)


class TestSchemaEvolution:
    def test_new_column_is_null_in_older_rows(self, lake):
        """An appended column reads as null for rows written before it existed."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2], stage=pa.array(["won"])))

        assert {"id": [1, 2], "stage": [None, "won"]} == lake.read(OPPS).to_pydict()
        assert lake.schema(OPPS).field("stage").nullable

    def test_filter_on_a_column_older_files_lack(self, lake):
        """A filter on a newer column works across files that do not have it."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2], stage=pa.array(["won"])))

        got = lake.read(OPPS, filter=pc.field("stage") == "won")

        assert [2] == got.column("id").to_pylist()

    @pytest.mark.parametrize(
        ("old", "new", "unified"),
        [
            (pa.int32(), pa.int64(), pa.int64()),
            (pa.float32(), pa.float64(), pa.float64()),
            (pa.int64(), pa.float64(), pa.float64()),
            (pa.null(), pa.string(), pa.string()),
            (pa.timestamp("ms"), pa.timestamp("us"), pa.timestamp("us")),
            (pa.string(), pa.large_string(), pa.large_string()),
        ],
    )
    def test_widening_appends_are_read_with_the_wider_type(
        self, lake, old, new, unified
    ):
        """Permissive promotions unify and old files are cast on read."""
        lake.append(OPPS, pa.table({"v": pa.array([None], old)}))
        lake.append(OPPS, pa.table({"v": pa.array([None], new)}))

        got = lake.read(OPPS)

        assert unified == lake.schema(OPPS).field("v").type
        assert unified == got.schema.field("v").type
        assert 2 == got.num_rows

    def test_int32_values_survive_widening(self, lake):
        """Values written as int32 read back as the same int64 values."""
        lake.append(OPPS, pa.table({"id": pa.array([1, 2], pa.int32())}))
        lake.append(OPPS, table([3]))

        assert [1, 2, 3] == ids(lake)

    def test_incompatible_append_raises_before_writing(self, lake, root):
        """An append with int64→string raises SchemaError naming dataset and column."""
        lake.append(OPPS, table([1]))
        before = data_runs(root)

        with (
            pytest.raises(SchemaError) as info,
            lake.writer(OPPS) as writer,
        ):
            writer.write(pa.table({"id": ["one"]}))

        message = str(info.value)
        assert OPPS == info.value.dataset
        assert "id" == info.value.column
        assert "'id'" in message
        assert "int64" in message
        assert "string" in message
        assert OPPS in message
        assert 0 == writer.rows_written
        assert before == data_runs(root)
        assert [1] == ids(lake)
        assert 1 == len(lake.history(OPPS))

    def test_incompatible_append_leaves_earlier_batches_uncommitted(self, lake):
        """A bad batch after good ones aborts the write as a whole."""
        lake.append(OPPS, table([1]))

        with lake.writer(OPPS) as writer:
            writer.write(table([2]))
            with pytest.raises(SchemaError):
                writer.write(pa.table({"id": [True]}))

        assert writer.closed
        assert [1] == ids(lake)

    def test_replace_may_change_types(self, lake):
        """A replace is free to change a column's type."""
        lake.append(OPPS, table([1]))

        lake.write(OPPS, pa.table({"id": ["one"]}))

        assert ["one"] == ids(lake)
        assert pa.string() == lake.schema(OPPS).field("id").type

    def test_schema_change_within_one_writer_starts_a_new_file(self, lake):
        """A column appearing mid-stream starts a new part; the commit unifies."""
        with lake.writer(OPPS, mode="replace") as writer:
            writer.write(pa.table({"id": pa.array([1], pa.int32())}))
            writer.write(table([2], stage=pa.array(["won"])))
            commit = writer.commit()

        assert 2 == len(commit.files)
        assert pa.schema([("id", pa.int64()), ("stage", pa.string())]) == (
            commit.schema
        )
        assert {"id": [1, 2], "stage": [None, "won"]} == lake.read(OPPS).to_pydict()

    def test_conflict_within_one_writer(self, lake):
        """Two batches of one write with clashing types raise SchemaError."""
        with lake.writer(OPPS) as writer:
            writer.write(table([1]))
            with pytest.raises(SchemaError, match="'id'"):
                writer.write(pa.table({"id": ["x"]}))

        assert not lake.exists(OPPS)

    def test_duplicate_column_names_are_refused(self, lake):
        """A table with a column twice raises SchemaError."""
        data = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])

        with pytest.raises(SchemaError, match="more than once"):
            lake.write(OPPS, data)

    def test_declared_schema_is_checked_and_recorded(self, lake):
        """writer(schema=...) records the schema even when no rows arrive."""
        lake.append(OPPS, table([1]))
        schema = pa.schema([("id", pa.int64()), ("extra", pa.string())])

        with lake.writer(OPPS, schema=schema) as writer:
            writer.commit()

        assert schema == lake.schema(OPPS)
        with pytest.raises(SchemaError):
            lake.writer(OPPS, schema=pa.schema([("id", pa.string())]))


class TestWriter:
    def test_rotates_files_and_row_groups(self, lake, root):
        """Files rotate at max_rows_per_file and hold row groups of row_group_size."""
        batches = [table(list(range(i, i + 7))) for i in range(0, 70, 7)]

        with lake.writer(
            OPPS, mode="replace", row_group_size=10, max_rows_per_file=25
        ) as writer:
            for batch in batches:
                writer.write(batch)
            commit = writer.commit()

        rows = [pq.ParquetFile(f).metadata.num_rows for f in lake.files(OPPS)]
        groups = [pq.ParquetFile(f).metadata.num_row_groups for f in lake.files(OPPS)]
        assert [25, 25, 20] == rows
        assert [3, 3, 2] == groups
        assert 70 == writer.rows_written == commit.rows
        assert commit.bytes == writer.bytes_written
        assert list(range(70)) == ids(lake)

    def test_row_group_bytes_flushes_early(self, lake):
        """A small byte budget ends row groups before row_group_size."""
        with lake.writer(OPPS, row_group_size=1000, row_group_bytes=1) as writer:
            for i in range(3):
                writer.write(table([i]))
            writer.commit()

        (path,) = lake.files(OPPS)
        assert 3 == pq.ParquetFile(path).metadata.num_row_groups

    def test_big_table_is_sliced_not_copied_whole(self, lake):
        """A table bigger than a row group is written in row-group slices."""
        lake.write(OPPS, table(list(range(300))))
        writer = lake.writer(OPPS, row_group_size=64)
        writer.write(table(list(range(300))))

        assert writer._buffer_rows < 64
        writer.commit()
        assert 600 == lake.read(OPPS).num_rows

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"row_group_size": 0}, "row_group_size"),
            ({"max_rows_per_file": -1}, "max_rows_per_file"),
            ({"row_group_bytes": 1.5}, "row_group_bytes"),
            ({"compression": "nope"}, "compression 'nope'"),
            ({"mode": "upsert"}, "mode"),
        ],
    )
    def test_bad_tuning_is_a_configuration_error(self, lake, kwargs, match):
        """Invalid writer settings raise ConfigurationError up front."""
        with pytest.raises(ConfigurationError, match=match):
            lake.writer(OPPS, **kwargs)

    @pytest.mark.parametrize("compression", ["zstd", "none", "lz4"])
    def test_other_codecs_round_trip(self, lake, compression):
        """Other Parquet codecs can be chosen."""
        with lake.writer(OPPS, compression=compression) as writer:
            writer.write(table([1, 2]))
            writer.commit()

        (path,) = lake.files(OPPS)
        codec = pq.ParquetFile(path).metadata.row_group(0).column(0).compression
        assert compression.upper().replace("NONE", "UNCOMPRESSED") == codec
        assert [1, 2] == ids(lake)

    def test_default_dictionary_encodes_strings_only(self, lake):
        """By default strings are dictionary-encoded and numbers are not."""
        lake.write(OPPS, table([1, 2], stage=pa.array(["a", "a"])))

        (path,) = lake.files(OPPS)
        group = pq.ParquetFile(path).metadata.row_group(0)
        encodings = {
            group.column(i).path_in_schema: group.column(i).encodings for i in range(2)
        }
        assert "RLE_DICTIONARY" in encodings["stage"]
        assert "RLE_DICTIONARY" not in encodings["id"]

    def test_leaving_the_block_by_exception_aborts(self, lake, root):
        """An exception inside the with-block removes the files and commits nothing."""
        lake.append(OPPS, table([1]))
        writer = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)

        def fail_midway():
            with writer:
                writer.write(table([2, 3, 4]))
                raise RuntimeError

        with pytest.raises(RuntimeError):
            fail_midway()

        assert writer.closed
        assert 1 == len(data_runs(root))
        assert [1] == ids(lake)

    def test_leaving_the_block_without_commit_aborts(self, lake, root):
        """A with-block that never calls commit() leaves nothing behind."""
        with lake.writer(OPPS, row_group_size=1, max_rows_per_file=1) as writer:
            writer.write(table([2, 3]))

        assert [] == data_runs(root)
        assert not lake.exists(OPPS)

    def test_closed_writer_refuses_work(self, lake):
        """write() or commit() after commit raises DatasetError."""
        writer = lake.writer(OPPS)
        writer.write(table([1]))
        writer.commit()

        with pytest.raises(DatasetError, match="already committed or aborted"):
            writer.write(table([2]))
        with pytest.raises(DatasetError):
            writer.commit()
        assert "closed" in repr(writer)

    def test_abort_never_raises(self, lake, root, monkeypatch):
        """abort() swallows cleanup failures and can be called twice."""
        writer = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        writer.write(table([1, 2]))

        def boom(path):
            raise OSError("disk on fire")

        monkeypatch.setattr(lake._engine.store, "delete_tree", boom)
        writer.abort()
        writer.abort()

        assert writer.closed
        assert isinstance(writer, DatasetWriter)

    def test_vanished_files_fail_the_commit(self, lake, root):
        """If the write's files disappear before commit, nothing is committed."""
        writer = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        writer.write(table([1, 2]))
        for run in data_runs(root):
            for f in (root / "Salesforce/Raw/Opportunity/data" / run).iterdir():
                f.unlink()

        with pytest.raises(DatasetError, match="vanished"):
            writer.commit()

        assert not lake.exists(OPPS)

    def test_cannot_nest_datasets(self, lake):
        """A dataset cannot be created inside another, nor around one."""
        lake.append("/A/b", table([1]))

        with pytest.raises(ConfigurationError, match="'/A/b' is a dataset"):
            lake.append("/A/b/c", table([1]))
        with pytest.raises(ConfigurationError, match="holding datasets"):
            lake.append("/A", table([1]))


class TestCrashSafety:
    def test_abandoned_writer_is_invisible(self, lake, root):
        """Files of a writer that never committed (a crash) are never read."""
        lake.append(OPPS, table([1]))
        writer = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        writer.write(table([2, 3, 4]))
        del writer

        assert 2 == len(data_runs(root))
        assert [1] == ids(lake)
        assert 1 == len(lake.files(OPPS))

    def test_crash_before_rename_leaves_only_a_temp_file(self, lake, root):
        """A .tmp- commit file (crash before rename) is ignored by readers."""
        lake.append(OPPS, table([1]))
        commits = root / "Salesforce/Raw/Opportunity/_commits"
        (commits / ".tmp-000000000009-x.json").write_text('{"half": ')

        assert [1] == ids(lake)
        assert 1 == len(lake.history(OPPS))

    def test_publish_failure_keeps_files_when_outcome_unknown(
        self, lake, root, monkeypatch
    ):
        """If writing the commit file fails, the data stays for vacuum to judge."""
        writer = lake.writer(OPPS)
        writer.write(table([1]))

        def fail(directory, name, data):
            raise OSError("connection reset")

        monkeypatch.setattr(lake._engine.store, "publish", fail)
        with pytest.raises(DatasetError, match="left in place"):
            writer.commit()

        assert 1 == len(data_runs(root))
        assert writer.closed

    def test_corrupt_commit_file_names_the_file(self, lake, root):
        """A commit file that is not valid raises DatasetError naming the file."""
        commit = lake.append(OPPS, table([1]))
        bad = root / "Salesforce/Raw/Opportunity/_commits" / f"{commit.commit_id}.json"
        bad.write_text("{not json")

        with pytest.raises(DatasetError) as info:
            Lake(root).read(OPPS)

        assert str(bad) in str(info.value)
        assert OPPS == info.value.dataset

    @pytest.mark.parametrize(
        "change",
        [
            {"format": "other/9"},
            {"operation": "merge"},
            {"commit_id": "000000000001-20240101T000000000000Z-00000000"},
            {"files": [{"path": "../../etc/passwd", "rows": 1, "bytes": 1}]},
            {"schema": "bm90IGEgc2NoZW1h"},
            {"state": [1]},
        ],
    )
    def test_invalid_commit_content_is_a_dataset_error(self, lake, root, change):
        """Commit files with wrong fields are rejected with DatasetError."""
        commit = lake.append(OPPS, table([1]))
        path = root / "Salesforce/Raw/Opportunity/_commits" / f"{commit.commit_id}.json"
        doc = json.loads(path.read_text())
        doc.update(change)
        path.write_text(json.dumps(doc))

        with pytest.raises(DatasetError, match="corrupt"):
            Lake(root).read(OPPS)

    def test_unreadable_commit_file_is_a_dataset_error(self, lake, monkeypatch):
        """A commit file that cannot be read raises DatasetError naming it."""
        commit = lake.append(OPPS, table([1]))
        fresh = Lake(lake.url)
        monkeypatch.setattr(
            fresh._engine.store,
            "read_many",
            lambda paths: {p: PermissionError(13, "denied", p) for p in paths},
        )

        with pytest.raises(DatasetError, match="cannot read commit file") as info:
            fresh.history(OPPS)

        assert commit.commit_id in str(info.value)

    def test_missing_data_file_is_a_dataset_error(self, lake, root):
        """A live file that vanished makes read() raise DatasetError."""
        lake.append(OPPS, table([1]))
        pathlib.Path(lake.files(OPPS)[0]).unlink()

        with pytest.raises(DatasetError, match="failed"):
            lake.read(OPPS)
        with pytest.raises(DatasetError, match="failed"):
            list(lake.scan(OPPS))


class TestCompaction:
    def test_compaction_keeps_rows_order_and_state(self, lake):
        """compact() rewrites the live files into one run; reads see no change."""
        lake.append(OPPS, table([1]), state={"cursor": 1})
        lake.append(OPPS, table([2], stage=pa.array(["won"])))
        lake.append(OPPS, table([3]), state={"cursor": 3})
        before = lake.read(OPPS)

        commit = lake.compact(OPPS)

        assert commit is not None
        assert "compact" == commit.operation
        assert before == lake.read(OPPS)
        assert 1 == len(lake.files(OPPS))
        assert {"cursor": 3} == lake.state(OPPS)
        assert {"cursor": 3} == commit.state
        assert 3 == len(commit.absorbs)

    def test_state_survives_compaction_and_vacuum(self, lake, later):
        """After compaction and vacuum of the old commits the state is still there."""
        lake.append(OPPS, table([1]), state={"cursor": 1})
        lake.append(OPPS, table([2]))
        lake.compact(OPPS)
        later(dt.timedelta(hours=2))

        report = lake.vacuum(OPPS)

        assert 2 == len(report.deleted_commits)
        assert 1 == len(lake.history(OPPS))
        assert {"cursor": 1} == lake.state(OPPS)
        assert [1, 2] == ids(lake)

    def test_nothing_to_compact(self, lake):
        """A dataset already in one file is left alone."""
        lake.append(OPPS, table([1, 2]))

        assert lake.compact(OPPS) is None

    def test_compaction_of_empty_commits(self, lake):
        """Many empty appends collapse into one empty compaction."""
        lake.append(OPPS, table([]))
        lake.append(OPPS, table([]))

        commit = lake.compact(OPPS)

        assert commit is not None
        assert () == commit.files
        assert 0 == lake.read(OPPS).num_rows

    def test_append_during_compaction_is_kept(self, lake, monkeypatch):
        """An append that lands while compaction runs survives it."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2]))
        real = lake._engine.arrow_dataset

        def racing(snap, segments):
            dataset = real(snap, segments)
            Lake(lake.url).append(OPPS, table([3]))
            return dataset

        monkeypatch.setattr(lake._engine, "arrow_dataset", racing)
        commit = lake.compact(OPPS)
        monkeypatch.undo()

        assert commit is not None
        assert [1, 2, 3] == sorted(ids(lake))
        assert 2 == len(lake.files(OPPS))

    def test_compaction_that_loses_to_a_replace_gives_up(self, lake, root, monkeypatch):
        """A replace landing while compaction runs wins; compact() returns None."""
        lake.append(OPPS, table([1]))
        lake.append(OPPS, table([2]))
        real = lake._engine.arrow_dataset

        def racing(snap, segments):
            dataset = real(snap, segments)
            Lake(lake.url).write(OPPS, table([9]))
            return dataset

        monkeypatch.setattr(lake._engine, "arrow_dataset", racing)

        assert lake.compact(OPPS) is None
        monkeypatch.undo()
        assert [9] == ids(lake)
        assert 3 == len(data_runs(root))

    def test_compaction_ordered_after_a_racing_replace_is_ignored(self, lake, root):
        """A compaction commit whose absorbed commits are no longer live is void."""
        first = lake.append(OPPS, table([1]))
        second = lake.append(OPPS, table([2]))
        lake.write(OPPS, table([9]))
        void = write_raw_commit(
            root,
            seq=4,
            operation="compact",
            absorbs=[first.commit_id, second.commit_id],
            files=[
                (first.files[0], 1, first.bytes),
                (second.files[0], 1, second.bytes),
            ],
        )

        assert [9] == ids(lake)
        assert void in [c.commit_id for c in lake.history(OPPS)]

    def test_void_compaction_keeps_what_it_absorbed_until_it_is_vacuumed(
        self, lake, root, later
    ):
        """Vacuum removes a void compaction no later than the commits it names."""
        first = lake.append(OPPS, table([1]))
        lake.write(OPPS, table([9]))
        write_raw_commit(root, seq=3, operation="compact", absorbs=[first.commit_id])
        later(dt.timedelta(hours=2))

        lake.vacuum(OPPS)

        assert [9] == ids(lake)
        assert ["replace"] == [c.operation for c in lake.history(OPPS)]


def write_raw_commit(root, *, seq, operation, absorbs=(), files=(), path=OPPS):
    """Write a commit file by hand, as a racing process would have."""
    now = dt.datetime.now(dt.timezone.utc)
    commit_id = f"{seq:012d}-{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
    doc = {
        "format": "revops-lake/1",
        "commit_id": commit_id,
        "operation": operation,
        "committed_at": now.isoformat(),
        "run_id": f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:12]}",
        "files": [{"path": p, "rows": r, "bytes": b} for p, r, b in files],
        "rows": sum(r for _, r, _ in files),
        "schema": base64.b64encode(table([]).schema.serialize().to_pybytes()).decode(),
        "state": None,
        "properties": {},
        "absorbs": list(absorbs),
    }
    folder = root.joinpath(*path.strip("/").split("/"), "_commits")
    (folder / f"{commit_id}.json").write_text(json.dumps(doc))
    return commit_id


class TestVacuum:
    def test_grace_period_keeps_recent_garbage(self, lake, root):
        """Within the grace period nothing a reader might need is deleted."""
        lake.append(OPPS, table([1]))
        lake.write(OPPS, table([2]))
        aborted = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        aborted.write(table([3]))
        del aborted

        report = lake.vacuum(OPPS)

        assert isinstance(report, VacuumReport)
        assert () == report.deleted_runs
        assert () == report.deleted_commits
        assert 3 == len(data_runs(root))
        assert 3 == len(report.kept_recent)

    def test_after_grace_dead_and_crashed_runs_go(self, lake, root, later):
        """Past the grace period dead runs, crashed runs and dead commits go."""
        lake.append(OPPS, table([1]))
        lake.write(OPPS, table([2]))
        crashed = lake.writer(OPPS, row_group_size=1, max_rows_per_file=1)
        crashed.write(table([3]))
        del crashed
        live = lake.files(OPPS)
        later(dt.timedelta(hours=1, minutes=1))

        report = lake.vacuum(OPPS)

        assert 2 == len(report.deleted_runs)
        assert 1 == len(report.deleted_commits)
        assert 1 == len(data_runs(root))
        assert live == lake.files(OPPS)
        assert [2] == ids(lake)

    def test_reader_in_flight_survives_vacuum(self, lake):
        """A dataset opened before a replace still reads after vacuum in grace."""
        lake.append(OPPS, table([1]))
        old = lake.dataset(OPPS)
        lake.write(OPPS, table([2]))

        lake.vacuum(OPPS, older_than=dt.timedelta(minutes=5))

        assert [1] == old.to_table().column("id").to_pylist()

    def test_grace_runs_from_when_data_went_dead(self, lake, later):
        """Old files superseded recently are kept: the clock starts at the replace."""
        lake.append(OPPS, table([1]))
        later(dt.timedelta(days=3))
        lake.write(OPPS, table([2]))

        report = lake.vacuum(OPPS)

        assert () == report.deleted_runs

    def test_temp_leftovers_are_removed(self, lake, root):
        """.tmp- files in _commits are deleted once old enough."""
        lake.append(OPPS, table([1]))
        tmp = root / "Salesforce/Raw/Opportunity/_commits/.tmp-crashed.json"
        tmp.write_text("{")
        os.utime(tmp, (0, 0))

        report = lake.vacuum(OPPS)

        assert (".tmp-crashed.json",) == report.deleted_temp_files
        assert not tmp.exists()

    def test_state_carrier_outlives_its_data(self, lake, later):
        """The dead commit carrying the current state keeps its commit file."""
        lake.append(OPPS, table([1]), state={"cursor": 1})
        lake.write(OPPS, table([2]))
        later(dt.timedelta(hours=2))

        report = lake.vacuum(OPPS)

        assert 1 == len(report.deleted_runs)
        assert () == report.deleted_commits
        assert {"cursor": 1} == lake.state(OPPS)
        assert [2] == ids(lake)

    def test_vacuum_of_unknown_dataset_is_empty(self, lake):
        """Vacuuming a dataset that does not exist does nothing."""
        assert VacuumReport(dataset=OPPS) == lake.vacuum(OPPS)

    def test_negative_grace_is_refused(self, lake):
        """A negative grace period is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="negative"):
            lake.vacuum(OPPS, older_than=dt.timedelta(seconds=-1))

    def test_vacuum_leaves_foreign_folders_alone(self, lake, root, later):
        """Folders in data/ that are not run folders are never deleted."""
        lake.append(OPPS, table([1]))
        foreign = root / "Salesforce/Raw/Opportunity/data/keep-me"
        foreign.mkdir()
        later(dt.timedelta(days=1))

        lake.vacuum(OPPS)

        assert foreign.exists()


class TestConcurrency:
    def test_threads_appending_lose_nothing(self, lake):
        """8 threads x 20 appends to one dataset commit all 160 rows."""
        errors = []

        def work(worker):
            try:
                for i in range(20):
                    lake.append(LOG, table([worker * 100 + i]))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert [] == errors
        assert sorted(w * 100 + i for w in range(8) for i in range(20)) == sorted(
            ids(lake, LOG)
        )
        assert 160 == len(lake.history(LOG))

    def test_processes_appending_lose_nothing(self, root):
        """Appends from separate processes (separate Lake objects) all land."""
        code = (
            "import sys, pyarrow as pa\n"
            "from revops_ingest._lake import Lake\n"
            "lake = Lake(sys.argv[1])\n"
            "for i in range(10):\n"
            "    lake.append('/RevOps/Audit/sync_log',"
            " pa.table({'id': [int(sys.argv[2]) * 100 + i]}))\n"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(root), str(n)])
            for n in range(3)
        ]
        for proc in procs:
            assert 0 == proc.wait(timeout=120)

        assert sorted(n * 100 + i for n in range(3) for i in range(10)) == sorted(
            ids(Lake(root), LOG)
        )

    def test_concurrent_writers_see_new_commits(self, lake):
        """Two Lake objects on one root see each other's commits immediately."""
        other = Lake(lake.url)
        lake.append(OPPS, table([1]))
        other.append(OPPS, table([2]))

        assert [1, 2] == ids(lake)
        assert [1, 2] == ids(other)
