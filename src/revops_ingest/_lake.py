"""A small lake of Parquet datasets with atomic, append-friendly commits.

A :class:`Lake` keeps each dataset, addressed by a Foundry-style path such as
``/Salesforce/Raw/Opportunity``, in its own folder under one root URL::

    <root>/<dataset path>/
        _commits/<commit_id>.json     one immutable file per commit
        data/<run_id>/part-00000.parquet ...

Writers put Parquet files into a fresh ``data/<run_id>/`` folder; nothing refers
to them until a single small JSON commit file appears in ``_commits/``. Readers
list ``_commits/`` and replay the commits in name order. ``docs/lake.md`` has the
full protocol, the guarantees and how other engines read a dataset.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import math
import os
import re
import secrets
import shutil
import threading
import typing
from pathlib import Path

import attrs
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from revops_ingest.exceptions import (
    ConfigurationError,
    DatasetError,
    DatasetNotFoundError,
    SchemaError,
)


if typing.TYPE_CHECKING:
    import types
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    import pyarrow.compute as pc
    import pyarrow.dataset as ds


__all__ = ["Commit", "DatasetWriter", "Lake", "VacuumReport"]

Operation = typing.Literal["append", "replace", "compact"]

_FORMAT = "revops-lake/1"
_COMMITS = "_commits"
_DATA = "data"
_TMP_PREFIX = ".tmp-"
_OPERATIONS: tuple[Operation, ...] = ("append", "replace", "compact")
_TS_FORMAT = "%Y%m%dT%H%M%S%fZ"
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_. -]+")
_COMMIT_ID_RE = re.compile(r"(?P<seq>\d{12})-(?P<ts>\d{8}T\d{12}Z)-[0-9a-f]{8}")
_RUN_ID_RE = re.compile(r"(?P<ts>\d{8}T\d{12}Z)-[0-9a-f]{12}")
_FILE_PATH_RE = re.compile(r"data/[^/]+/part-\d{5,}\.parquet")
_DEFAULT_GRACE = dt.timedelta(hours=1)


def _utcnow() -> dt.datetime:
    """Return the current time in UTC (a seam for tests)."""
    return dt.datetime.now(dt.timezone.utc)


# ------------------------------------------------------------------ paths


def _segment_problem(segment: str) -> str | None:
    """Say what is wrong with one path segment, or return ``None``."""
    if not segment:
        return "it has an empty segment (a doubled or trailing '/')"
    if segment in {".", ".."}:
        return f"segment {segment!r} is not allowed"
    if segment[0] in "_.":
        return (
            f"segment {segment!r} starts with {segment[0]!r}, which is reserved "
            "for the lake's own files"
        )
    if segment != segment.strip(" "):
        return f"segment {segment!r} starts or ends with a space"
    if not _SEGMENT_RE.fullmatch(segment):
        bad = "".join(sorted({c for c in segment if not _SEGMENT_RE.fullmatch(c)}))
        return (
            f"segment {segment!r} contains {bad!r}; allowed are ASCII letters, "
            "digits, '_', '-', '.' and space"
        )
    return None


def _split_path(path: object, *, what: str = "dataset path") -> tuple[str, ...]:
    """Validate a dataset path such as ``/RevOps/Audit/sync_log``; return segments.

    Raises:
        ConfigurationError: The path is not a string, does not start with ``/``,
            or has an empty, reserved or badly spelled segment.
    """
    if not isinstance(path, str):
        raise ConfigurationError(
            f"{what} must be a string like '/RevOps/Staging/opportunities', "
            f"got {type(path).__name__}"
        )
    if not path.startswith("/"):
        raise ConfigurationError(
            f"{what} {path!r} is invalid: it must start with '/', "
            "like '/RevOps/Staging/opportunities'"
        )
    segments = tuple(path[1:].split("/"))
    for segment in segments:
        problem = _segment_problem(segment)
        if problem is not None:
            raise ConfigurationError(f"{what} {path!r} is invalid: {problem}")
    return segments


def _split_prefix(prefix: object) -> tuple[str, ...]:
    """Validate a folder prefix for :meth:`Lake.datasets` (``/`` allowed)."""
    if prefix == "/":
        return ()
    if isinstance(prefix, str) and len(prefix) > 1 and prefix.endswith("/"):
        prefix = prefix[:-1]
    return _split_path(prefix, what="prefix")


def _check_positive(name: str, value: object, *, where: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(
            f"{where}{name} must be a positive integer, got {value!r}"
        )


def _join_logical(segments: Sequence[str]) -> str:
    return "/" + "/".join(segments)


# ------------------------------------------------------------------ schemas


def _check_unique_names(schema: pa.Schema, *, dataset: str, where: str) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            raise SchemaError(
                f"dataset {dataset!r}: {where} has column {name!r} more than once; "
                "column names must be unique",
                dataset=dataset,
                column=name,
            )
        seen.add(name)


def _unify_types(name: str, left: pa.DataType, right: pa.DataType) -> pa.DataType:
    schema = pa.unify_schemas(
        [pa.schema([pa.field(name, left)]), pa.schema([pa.field(name, right)])],
        promote_options="permissive",
    )
    return typing.cast("pa.DataType", schema.field(name).type)


def _unify(
    labelled: Sequence[tuple[str, pa.Schema]],
    *,
    dataset: str,
    action: str,
    hint: str = "",
) -> pa.Schema:
    """Unify schemas the way the lake does (permissive promotion).

    A column that is missing from some of the schemas becomes nullable.

    Raises:
        SchemaError: Two schemas give one column types that cannot be unified;
            the message names the dataset, the column, both types and where
            each came from.
    """
    schemas = [schema for _, schema in labelled]
    if not schemas:
        return pa.schema([])
    first = schemas[0]
    if all(s.equals(first) for s in schemas[1:]):
        return first
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        raise _explain_conflict(
            labelled, dataset=dataset, action=action, hint=hint
        ) from exc
    fields = []
    changed = False
    for field in unified:
        if not field.nullable and any(
            s.get_field_index(field.name) < 0 for s in schemas
        ):
            field = field.with_nullable(nullable=True)  # noqa: PLW2901
            changed = True
        fields.append(field)
    if not changed:
        return unified
    metadata = typing.cast("dict[bytes | str, bytes | str] | None", unified.metadata)
    return pa.schema(fields, metadata=metadata)


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """*table* with *target*'s columns: missing ones null, narrower ones cast."""
    rows = table.num_rows
    columns = []
    for field in target:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.chunked_array([pa.nulls(rows, field.type)]))
            continue
        column = table.column(index)
        columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=target)


def _explain_conflict(
    labelled: Sequence[tuple[str, pa.Schema]],
    *,
    dataset: str,
    action: str,
    hint: str,
) -> SchemaError:
    seen: dict[str, tuple[pa.DataType, str]] = {}
    for label, schema in labelled:
        for field in schema:
            if field.name not in seen:
                seen[field.name] = (field.type, label)
                continue
            old_type, old_label = seen[field.name]
            try:
                seen[field.name] = (
                    _unify_types(field.name, old_type, field.type),
                    old_label,
                )
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                suffix = f"; {hint}" if hint else ""
                return SchemaError(
                    f"{action}: column {field.name!r} is {old_type} in {old_label} "
                    f"but {field.type} in {label}, and these types cannot be "
                    f"unified{suffix}",
                    dataset=dataset,
                    column=field.name,
                )
    return SchemaError(f"{action}: the schemas cannot be unified", dataset=dataset)


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding by default: strings, binaries, dicts."""
    return [
        field.name
        for field in schema
        if pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_binary(field.type)
        or pa.types.is_large_binary(field.type)
        or pa.types.is_string_view(field.type)
        or pa.types.is_binary_view(field.type)
        or pa.types.is_dictionary(field.type)
    ]


def _encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text, validate=True)))


def _json_object(
    value: Mapping[str, typing.Any] | None, *, what: str, dataset: str
) -> dict[str, typing.Any] | None:
    """Check that ``value`` is a JSON object and return a private copy of it."""
    if value is None:
        return None
    if not isinstance(value, typing.Mapping):
        raise ConfigurationError(
            f"dataset {dataset!r}: {what} must be a mapping (a JSON object), "
            f"got {type(value).__name__}"
        )
    try:
        text = json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"dataset {dataset!r}: {what} must be JSON-serializable: {exc}"
        ) from exc
    result: dict[str, typing.Any] = json.loads(text)
    return result


# ------------------------------------------------------------------ values


@attrs.frozen(kw_only=True)
class Commit:
    """One committed change to a dataset.

    Attributes:
        dataset: The dataset path, such as ``"/RevOps/Audit/sync_log"``.
        commit_id: ``<seq:012d>-<UTC timestamp>-<random hex>``; sorting commit
            ids gives commit order.
        operation: ``"append"``, ``"replace"`` or ``"compact"``.
        committed_at: When the commit file was written (UTC, writer's clock).
        run_id: The folder ``data/<run_id>/`` that holds this commit's files.
        rows: Rows in this commit's files.
        bytes: Total size of this commit's files.
        files: This commit's Parquet files, relative to the dataset folder
            (``data/<run_id>/part-00000.parquet``).
        schema: The unified schema of this commit's files.
        state: The JSON state committed with the data, or ``None``.
        properties: Free-form JSON properties committed with the data.
        absorbs: For a compaction, the ids of the commits it rewrote.
    """

    dataset: str
    commit_id: str
    operation: Operation
    committed_at: dt.datetime
    run_id: str
    rows: int
    bytes: int
    files: tuple[str, ...]
    schema: pa.Schema
    state: dict[str, typing.Any] | None
    properties: dict[str, typing.Any]
    absorbs: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class VacuumReport:
    """What :meth:`Lake.vacuum` deleted and what it left for later.

    Attributes:
        dataset: The dataset path.
        deleted_runs: Run ids whose ``data/<run_id>/`` folders were deleted.
        deleted_commits: Ids of dead commit files that were deleted.
        deleted_temp_files: Names of ``.tmp-`` leftovers deleted from
            ``_commits/``.
        kept_recent: Run ids and commit ids that could go but are younger
            than the grace period.
    """

    dataset: str
    deleted_runs: tuple[str, ...] = ()
    deleted_commits: tuple[str, ...] = ()
    deleted_temp_files: tuple[str, ...] = ()
    kept_recent: tuple[str, ...] = ()


@attrs.frozen
class _Entry:
    """A parsed commit file plus what the replay needs beyond :class:`Commit`."""

    commit: Commit
    file_rows: tuple[int, ...]
    file_bytes: tuple[int, ...]
    state_from: str | None

    @property
    def id(self) -> str:
        return self.commit.commit_id


@attrs.frozen
class _Listing:
    """One directory entry: its name, whether it is a folder, its mtime."""

    name: str
    is_dir: bool
    mtime: dt.datetime | None


@attrs.frozen
class _Snapshot:
    """The replayed commit log of one dataset at one moment."""

    path: str
    entries: tuple[_Entry, ...]
    live: tuple[_Entry, ...]
    void: frozenset[str]
    dead_since: Mapping[str, dt.datetime]
    killed_by: Mapping[str, str]
    state: dict[str, typing.Any] | None
    state_origin: str | None
    state_carrier: str | None
    max_seq: int
    temp_files: tuple[_Listing, ...]

    @property
    def exists(self) -> bool:
        return bool(self.entries)

    def kill_chain(self, commit_id: str | None) -> set[str]:
        """The commit and, while it is dead, whatever killed it, transitively.

        Keeping a dead commit file means keeping its killer too, or a replay
        without the killer would bring the dead commit back to life.
        """
        chain: set[str] = set()
        while commit_id is not None and commit_id not in chain:
            chain.add(commit_id)
            commit_id = self.killed_by.get(commit_id)
        return chain


def _replay(
    path: str,
    entries: Sequence[_Entry],
    *,
    max_seq: int,
    temp_files: Sequence[_Listing] = (),
) -> _Snapshot:
    """Replay commits in order into the live set and the current state."""
    live: list[_Entry] = []
    known = {e.id for e in entries}
    void: set[str] = set()
    dead_since: dict[str, dt.datetime] = {}
    killed_by: dict[str, str] = {}
    latest: dt.datetime | None = None
    state: dict[str, typing.Any] | None = None
    origin: str | None = None
    carrier: str | None = None
    for entry in entries:
        commit = entry.commit
        at = commit.committed_at
        latest = at if latest is None else max(latest, at)
        if commit.operation == "replace":
            for old in live:
                dead_since[old.id] = at
                killed_by[old.id] = entry.id
            live = [entry]
        elif commit.operation == "append":
            live.append(entry)
        else:
            absorbed = set(commit.absorbs)
            live_ids = {e.id for e in live}
            if any(a in known and a not in live_ids for a in absorbed):
                # A replace or another compaction won the race: ignore this one.
                void.add(entry.id)
                dead_since[entry.id] = latest
                continue
            for old in live:
                if old.id in absorbed:
                    dead_since[old.id] = at
                    killed_by[old.id] = entry.id
            live = [e for e in live if e.id not in absorbed] + [entry]
        if commit.state is not None:
            this_origin = entry.state_from or entry.id
            if origin is None or this_origin >= origin:
                state, origin, carrier = commit.state, this_origin, entry.id
    return _Snapshot(
        path=path,
        entries=tuple(entries),
        live=tuple(live),
        void=frozenset(void),
        dead_since=dead_since,
        killed_by=killed_by,
        state=state,
        state_origin=origin,
        state_carrier=carrier,
        max_seq=max_seq,
        temp_files=tuple(temp_files),
    )


# ------------------------------------------------------------------ storage


def _as_utc(value: object) -> dt.datetime | None:
    """Turn the many ways filesystems report an mtime into an aware datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            return _as_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    return None


def _info_mtime(info: Mapping[str, typing.Any]) -> dt.datetime | None:
    for key in ("mtime", "LastModified", "updated", "created", "timeCreated"):
        found = _as_utc(info.get(key))
        if found is not None:
            return found
    return None


class _Sink(typing.Protocol):
    def open_writer(
        self, schema: pa.Schema, options: Mapping[str, typing.Any]
    ) -> pq.ParquetWriter: ...

    def finish(self) -> int: ...

    def discard(self) -> None: ...


class _Store(typing.Protocol):
    """The handful of storage operations the lake needs."""

    root: str

    @property
    def arrow_fs(self) -> pafs.FileSystem: ...

    def join(self, base: str, *parts: str) -> str: ...

    def url(self, path: str) -> str: ...

    def list_dir(self, path: str) -> list[_Listing]: ...

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | Exception]: ...

    def publish(self, directory: str, name: str, data: bytes) -> None: ...

    def open_sink(self, path: str) -> _Sink: ...

    def sync_dir(self, path: str) -> None: ...

    def newest_mtime(self, path: str) -> dt.datetime | None: ...

    def delete_tree(self, path: str) -> None: ...

    def delete_file(self, path: str) -> None: ...


def _fsync_path(path: str, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some platforms cannot open folders; durability best-effort
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_local(path: str) -> bytes | Exception:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        return exc


class _LocalSink:
    def __init__(self, path: str, arrow_fs: pafs.FileSystem) -> None:
        self.path = path
        self.arrow_fs = arrow_fs

    def open_writer(
        self, schema: pa.Schema, options: Mapping[str, typing.Any]
    ) -> pq.ParquetWriter:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return pq.ParquetWriter(self.path, schema, filesystem=self.arrow_fs, **options)

    def finish(self) -> int:
        _fsync_path(self.path)
        return Path(self.path).stat().st_size

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            Path(self.path).unlink()


class _LocalStore:
    """Local disk through the OS and pyarrow's native LocalFileSystem."""

    def __init__(self, root: str) -> None:
        self.root = str(Path(root).expanduser().absolute())
        self._arrow_fs = pafs.LocalFileSystem()

    @property
    def arrow_fs(self) -> pafs.FileSystem:
        return self._arrow_fs

    def join(self, base: str, *parts: str) -> str:
        pieces = [p for part in parts for p in part.split("/") if p]
        return str(Path(base, *pieces))

    def url(self, path: str) -> str:
        return path

    def list_dir(self, path: str) -> list[_Listing]:
        try:
            with os.scandir(path) as it:
                found = []
                for entry in it:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except FileNotFoundError:  # pragma: no cover - deleted meanwhile
                        continue
                    # No stat here: listing _commits/ must stay cheap.
                    found.append(_Listing(entry.name, is_dir, None))
                return found
        except (FileNotFoundError, NotADirectoryError):
            return []

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | Exception]:
        return {path: _read_local(path) for path in paths}

    def publish(self, directory: str, name: str, data: bytes) -> None:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{_TMP_PREFIX}{name}"
        with tmp.open("xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(folder / name)
        _fsync_path(directory, directory=True)

    def open_sink(self, path: str) -> _Sink:
        return _LocalSink(path, self.arrow_fs)

    def sync_dir(self, path: str) -> None:
        if Path(path).is_dir():
            _fsync_path(path, directory=True)

    def newest_mtime(self, path: str) -> dt.datetime | None:
        newest: float | None = None
        if not Path(path).is_dir():
            with contextlib.suppress(OSError):
                newest = Path(path).stat().st_mtime
        for folder, _, names in os.walk(path):
            for name in (".", *names):
                with contextlib.suppress(OSError):
                    mtime = Path(folder, name).stat().st_mtime
                    newest = mtime if newest is None else max(newest, mtime)
        return _as_utc(newest)

    def delete_tree(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


class _FsspecSink:
    def __init__(self, fs: typing.Any, path: str) -> None:
        self.fs = fs
        self.path = path
        self.file: typing.Any = None

    def open_writer(
        self, schema: pa.Schema, options: Mapping[str, typing.Any]
    ) -> pq.ParquetWriter:
        self.file = self.fs.open(self.path, "wb")
        return pq.ParquetWriter(self.file, schema, **options)

    def finish(self) -> int:
        size = int(self.file.tell())
        self.file.close()
        return size

    def discard(self) -> None:
        if self.file is not None and not self.file.closed:
            with contextlib.suppress(Exception):
                if hasattr(self.file, "discard"):
                    self.file.discard()
                else:
                    self.file.close()
        with contextlib.suppress(Exception):
            self.fs.rm_file(self.path)


_OBJECT_STORE_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "memory", "az", "abfs", "abfss", "adl", "oss"}
)


class _FsspecStore:
    """Any fsspec filesystem; commits are single PUTs (``pipe_file``)."""

    def __init__(self, fs: typing.Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self._needs_dirs = not _OBJECT_STORE_PROTOCOLS.intersection(protocols)
        self._arrow_fs: pafs.FileSystem | None = None

    @property
    def arrow_fs(self) -> pafs.FileSystem:
        if self._arrow_fs is None:
            handler = pafs.FSSpecHandler(self.fs)  # type: ignore[abstract]  # stubs
            self._arrow_fs = pafs.PyFileSystem(handler)
        return self._arrow_fs

    def join(self, base: str, *parts: str) -> str:
        pieces = [p for part in parts for p in part.split("/") if p]
        return "/".join([base.rstrip("/"), *pieces])

    def url(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))

    def _fresh(self, path: str) -> None:
        # Listings are cached per filesystem instance; other processes commit.
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(path)

    def list_dir(self, path: str) -> list[_Listing]:
        self._fresh(path)
        try:
            infos = self.fs.ls(path, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        own = path.rstrip("/")
        found = []
        for info in infos:
            name = str(info["name"]).rstrip("/")
            if name == own or not name:
                continue
            found.append(
                _Listing(
                    name.rsplit("/", 1)[-1],
                    info.get("type") == "directory",
                    _info_mtime(info),
                )
            )
        return found

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | Exception]:
        if len(paths) == 1:
            try:
                return {paths[0]: bytes(self.fs.cat_file(paths[0]))}
            except Exception as exc:  # noqa: BLE001 - reported per file by the caller
                return {paths[0]: exc}
        got = self.fs.cat(list(paths), on_error="return")
        result: dict[str, bytes | Exception] = {}
        for path in paths:
            value = got.get(path, got.get(self.fs._strip_protocol(path)))  # noqa: SLF001
            if value is None:
                value = FileNotFoundError(path)
            result[path] = value if isinstance(value, Exception) else bytes(value)
        return result

    def publish(self, directory: str, name: str, data: bytes) -> None:
        if self._needs_dirs:
            self.fs.makedirs(directory, exist_ok=True)
        self.fs.pipe_file(self.join(directory, name), data)
        self._fresh(directory)

    def open_sink(self, path: str) -> _Sink:
        if self._needs_dirs:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        return _FsspecSink(self.fs, path)

    def sync_dir(self, path: str) -> None:
        del path  # object stores have nothing to sync

    def newest_mtime(self, path: str) -> dt.datetime | None:
        self._fresh(path)
        try:
            infos = self.fs.find(path, detail=True)
        except FileNotFoundError:
            return None
        times = [t for info in infos.values() if (t := _info_mtime(info)) is not None]
        return max(times, default=None)

    def delete_tree(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path, recursive=True)
        self._fresh(path)

    def delete_file(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)
        self._fresh(path)


def _strip_file_scheme(url: str) -> str:
    for scheme in ("file://", "local://"):
        if url.startswith(scheme):
            return url[len(scheme) :] or "/"
    return url


def _make_store(
    url: str,
    storage_options: Mapping[str, typing.Any] | None,
    filesystem: typing.Any,
) -> _Store:
    import fsspec  # noqa: PLC0415 - keep import of the lake module light
    from fsspec.implementations.local import (  # noqa: PLC0415
        LocalFileSystem as FsspecLocal,
    )

    if filesystem is not None:
        if storage_options:
            raise ConfigurationError(
                f"lake {url!r}: pass either storage_options or filesystem, not both"
            )
        if isinstance(filesystem, (FsspecLocal, pafs.LocalFileSystem)):
            return _LocalStore(_strip_file_scheme(url))
        if isinstance(filesystem, fsspec.AbstractFileSystem):
            return _FsspecStore(filesystem, filesystem._strip_protocol(url))  # noqa: SLF001
        raise ConfigurationError(
            f"lake {url!r}: filesystem must be an fsspec filesystem, "
            f"got {type(filesystem).__name__}"
        )
    if ("://" not in url and "::" not in url) or url.startswith(
        ("file://", "local://")
    ):
        if storage_options:
            raise ConfigurationError(
                f"lake {url!r} is a local path; storage_options "
                f"({', '.join(sorted(storage_options))}) are only used for "
                "remote filesystems such as s3:// and gs://"
            )
        return _LocalStore(_strip_file_scheme(url))
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        raise ConfigurationError(
            f"lake {url!r}: the filesystem package for this URL is not installed "
            f"({exc}); install revops-ingest[s3] for s3:// or revops-ingest[gcs] "
            "for gs://"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"lake {url!r}: cannot open this URL: {exc}") from exc
    if isinstance(fs, FsspecLocal):
        return _LocalStore(root)
    return _FsspecStore(fs, root)


# ------------------------------------------------------------------ engine


def _new_run_id(now: dt.datetime) -> str:
    return f"{now:{_TS_FORMAT}}-{secrets.token_hex(6)}"


def _id_time(identifier: str) -> dt.datetime | None:
    match = _RUN_ID_RE.match(identifier) or _COMMIT_ID_RE.match(identifier)
    if match is None:
        return None
    return dt.datetime.strptime(match["ts"], _TS_FORMAT).replace(tzinfo=dt.timezone.utc)


class _Engine:
    """Commit log reading, replay and publishing for one lake root."""

    def __init__(self, store: _Store, url: str) -> None:
        self.store = store
        self.url = url
        # Parsed commit files per dataset; they are immutable, so never stale.
        self._cache: dict[str, dict[str, _Entry]] = {}
        self._lock = threading.Lock()

    # -- locations

    def dataset_dir(self, segments: Sequence[str]) -> str:
        return self.store.join(self.store.root, *segments)

    def commits_dir(self, segments: Sequence[str]) -> str:
        return self.store.join(self.dataset_dir(segments), _COMMITS)

    def not_found(self, path: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f"dataset {path!r} not found in lake {self.url!r}: it has never been "
            "committed",
            dataset=path,
        )

    # -- reading the log

    def list_commits(self, segments: Sequence[str]) -> tuple[list[str], list[_Listing]]:
        """Sorted commit ids and ``.tmp-`` leftovers in ``_commits/``."""
        ids: list[str] = []
        temps: list[_Listing] = []
        for item in self.store.list_dir(self.commits_dir(segments)):
            if item.is_dir:
                continue
            if item.name.startswith(_TMP_PREFIX):
                temps.append(item)
            elif item.name.endswith(".json") and _COMMIT_ID_RE.fullmatch(
                item.name[:-5]
            ):
                ids.append(item.name[:-5])
        ids.sort()
        return ids, temps

    def has_commits(self, segments: Sequence[str]) -> bool:
        return bool(self.list_commits(segments)[0])

    def snapshot(self, path: str, segments: Sequence[str]) -> _Snapshot:
        ids, temps = self.list_commits(segments)
        known = self._cache.get(path, {})
        missing = [i for i in ids if i not in known]
        parsed: dict[str, _Entry] = {}
        if missing:
            cdir = self.commits_dir(segments)
            files = {self.store.join(cdir, f"{i}.json"): i for i in missing}
            for file, raw in self.store.read_many(list(files)).items():
                parsed[files[file]] = self._parse(path, files[file], file, raw)
        with self._lock:
            cached = self._cache.get(path, {})
            # Keep only what is still listed: vacuumed commits leave the cache.
            current = {i: cached.get(i) or known.get(i) or parsed[i] for i in ids}
            self._cache[path] = current
        entries = list(current.values())
        max_seq = int(ids[-1][:12]) if ids else 0
        return _replay(path, entries, max_seq=max_seq, temp_files=temps)

    def _parse(
        self, path: str, commit_id: str, file: str, raw: bytes | Exception
    ) -> _Entry:
        where = self.store.url(file)
        if isinstance(raw, Exception):
            raise DatasetError(
                f"dataset {path!r}: cannot read commit file {where}: {raw}",
                dataset=path,
            ) from raw
        try:
            return _parse_commit(path, commit_id, raw)
        except (ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            raise DatasetError(
                f"dataset {path!r}: commit file {where} is corrupt or not a "
                f"{_FORMAT} commit: {exc}",
                dataset=path,
            ) from exc

    def live_schema(self, snap: _Snapshot) -> pa.Schema:
        return _unify(
            [(f"commit {e.id}", e.commit.schema) for e in snap.live],
            dataset=snap.path,
            action=f"dataset {snap.path!r} in lake {self.url!r} cannot be read",
            hint="a replace (Lake.write) with one consistent schema repairs it",
        )

    def arrow_dataset(self, snap: _Snapshot, segments: Sequence[str]) -> ds.Dataset:
        # pyarrow.dataset imports pandas when it is installed (~1 s): only on use.
        import pyarrow.dataset as ds  # noqa: PLC0415

        schema = self.live_schema(snap)
        fmt = ds.ParquetFileFormat()
        arrow_fs = self.store.arrow_fs
        base = self.dataset_dir(segments)
        fragments = [
            fmt.make_fragment(
                self.store.join(base, rel), filesystem=arrow_fs, file_size=size
            )
            for entry in snap.live
            for rel, size in zip(entry.commit.files, entry.file_bytes, strict=True)
        ]
        return ds.FileSystemDataset(fragments, schema, fmt, arrow_fs)

    def read_table(
        self, snap: _Snapshot, segments: Sequence[str], columns: Sequence[str] | None
    ) -> pa.Table:
        """Read the live files into one table with the unified schema.

        File by file with :class:`pyarrow.parquet.ParquetFile`, not through
        :mod:`pyarrow.dataset`, whose import pulls in pandas (about a second of
        CPU in every process that syncs). Columns a file lacks become nulls and
        narrower types are cast, exactly as the dataset scan does.
        """
        schema = self.live_schema(snap)
        target = (
            schema
            if columns is None
            else pa.schema([schema.field(name) for name in columns])
        )
        arrow_fs = self.store.arrow_fs
        base = self.dataset_dir(segments)
        tables = []
        for entry in snap.live:
            present = set(entry.commit.schema.names)
            wanted = [name for name in target.names if name in present]
            for rel in entry.commit.files:
                with arrow_fs.open_input_file(self.store.join(base, rel)) as handle:
                    part = pq.ParquetFile(handle).read(columns=wanted)
                tables.append(_conform(part, target))
        if not tables:
            return target.empty_table()
        return pa.concat_tables(tables)

    # -- writing the log

    def publish(
        self,
        *,
        path: str,
        segments: Sequence[str],
        operation: Operation,
        run_id: str,
        files: Sequence[tuple[str, int, int]],
        schema: pa.Schema,
        state: dict[str, typing.Any] | None,
        properties: dict[str, typing.Any],
        absorbs: Sequence[str] = (),
        state_from: str | None = None,
    ) -> Commit | None:
        """Check the fresh log, then write the commit file.

        Returns ``None`` when a compaction lost a race (what it read is no
        longer live); raises before writing when an append no longer fits.
        """
        snap = self.snapshot(path, segments)
        if operation == "append" and snap.live:
            _unify(
                [("the dataset", self.live_schema(snap)), ("the new data", schema)],
                dataset=path,
                action=f"cannot append to dataset {path!r} in lake {self.url!r}",
                hint=_APPEND_HINT,
            )
        if operation == "compact":
            live_ids = {e.id for e in snap.live}
            if not set(absorbs) <= live_ids:
                return None
        self._verify_files(path, segments, run_id, files)
        now = _utcnow()
        commit_id = f"{snap.max_seq + 1:012d}-{now:{_TS_FORMAT}}-{secrets.token_hex(4)}"
        payload: dict[str, typing.Any] = {
            "format": _FORMAT,
            "commit_id": commit_id,
            "operation": operation,
            "committed_at": now.isoformat(),
            "run_id": run_id,
            "files": [{"path": p, "rows": r, "bytes": b} for p, r, b in files],
            "rows": sum(r for _, r, _ in files),
            "schema": _encode_schema(schema),
            "state": state,
            "properties": properties,
        }
        if operation == "compact":
            payload["absorbs"] = list(absorbs)
            payload["state_from"] = state_from
        data = json.dumps(payload, indent=1).encode() + b"\n"
        try:
            self.store.publish(self.commits_dir(segments), f"{commit_id}.json", data)
        except Exception as exc:
            raise _CommitUncertainError(
                f"dataset {path!r} in lake {self.url!r}: writing commit "
                f"{commit_id} failed ({exc}); whether it landed is unknown, so its "
                f"data folder data/{run_id}/ was left in place (vacuum removes it "
                "if the commit did not land)",
                dataset=path,
            ) from exc
        entry = _parse_commit(path, commit_id, data)
        with self._lock:
            self._cache.setdefault(path, {})[commit_id] = entry
        return entry.commit

    def _verify_files(
        self,
        path: str,
        segments: Sequence[str],
        run_id: str,
        files: Sequence[tuple[str, int, int]],
    ) -> None:
        if not files:
            return
        run_dir = self.store.join(self.dataset_dir(segments), _DATA, run_id)
        present = {item.name for item in self.store.list_dir(run_dir)}
        lost = [rel for rel, _, _ in files if rel.rsplit("/", 1)[-1] not in present]
        if lost:
            raise DatasetError(
                f"dataset {path!r} in lake {self.url!r}: {len(lost)} data file(s) "
                f"of this write vanished before the commit (first: {lost[0]}); was "
                "vacuum run with a grace period shorter than this write took?",
                dataset=path,
            )


class _CommitUncertainError(DatasetError):
    """Writing the commit file failed in a way that may still have landed."""


_APPEND_HINT = (
    "an append may add columns and widen types (int32 to int64, int to double, "
    "null to anything, string to large_string); write with mode='replace' "
    "(Lake.write) to change a column's type"
)


def _parse_files(
    items: object,
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    if not isinstance(items, list):
        raise TypeError("files is not a list")
    files, rows, sizes = [], [], []
    for item in items:
        rel, n_rows, n_bytes = item["path"], item["rows"], item["bytes"]
        if not isinstance(rel, str) or not _FILE_PATH_RE.fullmatch(rel):
            raise ValueError(f"file path {rel!r} is not data/<run>/part-N.parquet")
        if not isinstance(n_rows, int) or not isinstance(n_bytes, int):
            raise TypeError(f"rows/bytes of {rel!r} are not integers")
        files.append(rel)
        rows.append(n_rows)
        sizes.append(n_bytes)
    return tuple(files), tuple(rows), tuple(sizes)


def _check_header(doc: object, commit_id: str) -> dict[str, typing.Any]:
    if not isinstance(doc, dict):
        raise TypeError("the file is not a JSON object")
    if doc.get("format") != _FORMAT:
        raise ValueError(f"format is {doc.get('format')!r}, expected {_FORMAT!r}")
    if doc["commit_id"] != commit_id:
        raise ValueError(f"commit_id {doc['commit_id']!r} does not match the name")
    if doc["operation"] not in _OPERATIONS:
        raise ValueError(f"unknown operation {doc['operation']!r}")
    if not isinstance(doc["run_id"], str):
        raise TypeError("run_id is not a string")
    if doc["state"] is not None and not isinstance(doc["state"], dict):
        raise TypeError("state is not a JSON object")
    if not isinstance(doc.get("properties") or {}, dict):
        raise TypeError("properties is not a JSON object")
    if not all(isinstance(a, str) for a in doc.get("absorbs") or ()):
        raise TypeError("absorbs is not a list of commit ids")
    return doc


def _parse_commit(path: str, commit_id: str, raw: bytes) -> _Entry:
    """Parse and check one commit file (raises ValueError/KeyError/TypeError)."""
    doc = _check_header(json.loads(raw), commit_id)
    committed_at = _as_utc(dt.datetime.fromisoformat(doc["committed_at"]))
    assert committed_at is not None
    files, rows, sizes = _parse_files(doc["files"])
    state_from = doc.get("state_from")
    commit = Commit(
        dataset=path,
        commit_id=commit_id,
        operation=doc["operation"],
        committed_at=committed_at,
        run_id=doc["run_id"],
        rows=sum(rows),
        bytes=sum(sizes),
        files=files,
        schema=_decode_schema(doc["schema"]),
        state=doc["state"],
        properties=doc.get("properties") or {},
        absorbs=tuple(doc.get("absorbs") or ()),
    )
    return _Entry(
        commit=commit,
        file_rows=rows,
        file_bytes=sizes,
        state_from=state_from if isinstance(state_from, str) else None,
    )


# ------------------------------------------------------------------ writer


@attrs.frozen(kw_only=True)
class _WriterOptions:
    row_group_size: int = 131_072
    row_group_bytes: int = 64 * 1024 * 1024
    max_rows_per_file: int = 2_000_000
    compression: str = "snappy"
    compression_level: int | None = None
    use_dictionary: bool | tuple[str, ...] | None = None
    write_statistics: bool = True

    def check(self, path: str) -> None:
        for name in ("row_group_size", "row_group_bytes", "max_rows_per_file"):
            _check_positive(name, getattr(self, name), where=f"writer for {path!r}: ")
        codec = self.compression.lower()
        if codec not in {"none", "uncompressed"}:
            try:
                available = pa.Codec.is_available(codec)  # type: ignore[arg-type]
            except (ValueError, pa.ArrowException):
                available = False
            if not available:
                raise ConfigurationError(
                    f"writer for dataset {path!r}: compression {self.compression!r} "
                    "is not available; use snappy, zstd, lz4, gzip, brotli or none"
                )

    def parquet_kwargs(self, schema: pa.Schema) -> dict[str, typing.Any]:
        if self.use_dictionary is None:
            dictionary: bool | list[str] = _dictionary_columns(schema) or False
        elif isinstance(self.use_dictionary, bool):
            dictionary = self.use_dictionary
        else:
            dictionary = [c for c in self.use_dictionary if c in schema.names] or False
        kwargs: dict[str, typing.Any] = {
            "compression": self.compression,
            "use_dictionary": dictionary,
            "write_statistics": self.write_statistics,
        }
        if self.compression_level is not None:
            kwargs["compression_level"] = self.compression_level
        return kwargs


@typing.final
class DatasetWriter:
    """Streams batches into new Parquet files and commits them as one change.

    Create one with :meth:`Lake.writer`. Batches are buffered up to a row group
    and written straight to ``data/<run_id>/part-NNNNN.parquet``; memory stays
    bounded by one row group however much is written. Nothing is visible to
    readers until :meth:`commit` writes the commit file.

    Used as a context manager, leaving the block by an exception, or without
    having called :meth:`commit`, aborts the write.

    Attributes:
        path: The dataset path.
        run_id: The run folder this writer fills.
        rows_written: Rows accepted so far.
        bytes_written: Bytes of the finished Parquet files so far.
    """

    def __init__(
        self,
        engine: _Engine,
        path: str,
        segments: tuple[str, ...],
        *,
        operation: Operation,
        schema: pa.Schema | None,
        options: _WriterOptions,
        base_schema: pa.Schema | None,
    ) -> None:
        self._engine = engine
        self.path = path
        self._segments = segments
        self._operation: Operation = operation
        self._options = options
        self._base_schema = base_schema
        self.run_id = _new_run_id(_utcnow())
        self._run_dir = engine.store.join(
            engine.dataset_dir(segments), _DATA, self.run_id
        )
        self.rows_written = 0
        self.bytes_written = 0
        self._schema: pa.Schema | None = None
        self._accepted: pa.Schema | None = None
        self._file_schema: pa.Schema | None = None
        self._sink: _Sink | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._file_rows = 0
        self._buffer: list[pa.RecordBatch] = []
        self._buffer_rows = 0
        self._buffer_bytes = 0
        self._parts: list[tuple[str, int, int]] = []
        self._closed = False
        if schema is not None:
            self._accept(schema)

    def __repr__(self) -> str:
        return (
            f"<DatasetWriter {self.path!r} {self._operation} run={self.run_id} "
            f"rows={self.rows_written}{' closed' if self._closed else ''}>"
        )

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if not self._closed:
            self.abort()

    @property
    def closed(self) -> bool:
        """Whether :meth:`commit` or :meth:`abort` has been called."""
        return self._closed

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Add rows to this write.

        The schema may change between calls: a new column or a widened type
        starts a new part file, and the commit records the unified schema.

        Raises:
            SchemaError: The data has a column whose type cannot be unified with
                the dataset (for appends) or with earlier batches; nothing of
                this call was written.
            DatasetError: The writer is already committed or aborted.
        """
        self._check_open()
        schema, batches = _batches(data, tables_only=True)
        if schema is not None:
            self._accept(schema)
        for batch in batches:
            self._add(batch)

    def commit(
        self,
        *,
        state: Mapping[str, typing.Any] | None = None,
        properties: Mapping[str, typing.Any] | None = None,
    ) -> Commit:
        """Finish the files and publish them in one commit.

        Args:
            state: A JSON object committed atomically with the data, such as a
                sync cursor; :meth:`Lake.state` returns the newest one.
            properties: Free-form JSON metadata recorded in the commit.

        Returns:
            The new commit.

        Raises:
            ConfigurationError: ``state`` or ``properties`` is not a JSON object;
                the writer stays open.
            SchemaError: For an append, the dataset changed meanwhile and the data
                no longer fits; the write is aborted.
            DatasetError: Publishing failed, or the writer is closed.
        """
        commit = self._commit(state=state, properties=properties)
        assert commit is not None
        return commit

    def _commit(
        self,
        *,
        state: Mapping[str, typing.Any] | None,
        properties: Mapping[str, typing.Any] | None,
        absorbs: Sequence[str] = (),
        state_from: str | None = None,
    ) -> Commit | None:
        self._check_open()
        state_obj = _json_object(state, what="state", dataset=self.path)
        props = _json_object(properties, what="properties", dataset=self.path) or {}
        try:
            self._flush()
            self._close_file()
            self._engine.store.sync_dir(self._run_dir)
            commit = self._engine.publish(
                path=self.path,
                segments=self._segments,
                operation=self._operation,
                run_id=self.run_id,
                files=self._parts,
                schema=self._schema if self._schema is not None else pa.schema([]),
                state=state_obj,
                properties=props,
                absorbs=absorbs,
                state_from=state_from,
            )
        except _CommitUncertainError:
            self._closed = True  # the files may be referenced now: keep them
            raise
        except BaseException:
            self.abort()
            raise
        if commit is None:
            self.abort()
            return None
        self._closed = True
        return commit

    def abort(self) -> None:
        """Drop this write: close and delete its files (best effort, never raises)."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        if self._parquet is not None:
            with contextlib.suppress(Exception):
                self._parquet.close()
            self._parquet = None
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.discard()
            self._sink = None
        with contextlib.suppress(Exception):
            self._engine.store.delete_tree(self._run_dir)

    # -- internals

    def _check_open(self) -> None:
        if self._closed:
            raise DatasetError(
                f"writer for dataset {self.path!r} (run {self.run_id}) is already "
                "committed or aborted",
                dataset=self.path,
            )

    def _accept(self, schema: pa.Schema) -> None:
        """Check a new schema before any of its rows are written."""
        if self._accepted is not None and schema.equals(self._accepted):
            return
        _check_unique_names(schema, dataset=self.path, where="the data")
        if self._operation == "append" and self._base_schema is not None:
            _unify(
                [("the dataset", self._base_schema), ("the new data", schema)],
                dataset=self.path,
                action=(
                    f"cannot append to dataset {self.path!r} in lake "
                    f"{self._engine.url!r}"
                ),
                hint=_APPEND_HINT,
            )
        if self._schema is None:
            self._schema = schema
        else:
            self._schema = _unify(
                [("earlier data of this write", self._schema), ("this batch", schema)],
                dataset=self.path,
                action=f"cannot write to dataset {self.path!r}",
            )
        self._accepted = schema

    def _add(self, batch: pa.RecordBatch) -> None:
        schema = batch.schema
        if self._file_schema is None or not schema.equals(self._file_schema):
            self._accept(schema)
            if batch.num_rows == 0:
                return
            if self._file_schema is not None:
                self._flush()
                self._close_file()
            self._file_schema = schema
        total = batch.num_rows
        opts = self._options
        offset = 0
        while offset < total:
            room = min(
                opts.row_group_size - self._buffer_rows,
                opts.max_rows_per_file - self._file_rows - self._buffer_rows,
            )
            take = min(total - offset, room)
            piece = batch if take == total else batch.slice(offset, take)
            self._buffer.append(piece)
            self._buffer_rows += take
            self._buffer_bytes += piece.nbytes
            self.rows_written += take
            offset += take
            if (
                self._buffer_rows >= opts.row_group_size
                or self._buffer_bytes >= opts.row_group_bytes
                or self._file_rows + self._buffer_rows >= opts.max_rows_per_file
            ):
                self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        assert self._file_schema is not None
        if self._parquet is None:
            number = len(self._parts)
            rel = f"{_DATA}/{self.run_id}/part-{number:05d}.parquet"
            self._sink = self._engine.store.open_sink(
                self._engine.store.join(self._engine.dataset_dir(self._segments), rel)
            )
            self._parquet = self._sink.open_writer(
                self._file_schema, self._options.parquet_kwargs(self._file_schema)
            )
        table = pa.Table.from_batches(self._buffer, schema=self._file_schema)
        self._parquet.write_table(table, row_group_size=max(1, self._buffer_rows))
        self._file_rows += self._buffer_rows
        self._buffer = []
        self._buffer_rows = 0
        self._buffer_bytes = 0
        if self._file_rows >= self._options.max_rows_per_file:
            self._close_file()

    def _close_file(self) -> None:
        if self._parquet is None or self._sink is None:
            return
        self._parquet.close()
        self._parquet = None
        size = self._sink.finish()
        self._sink = None
        rel = f"{_DATA}/{self.run_id}/part-{len(self._parts):05d}.parquet"
        self._parts.append((rel, self._file_rows, size))
        self.bytes_written += size
        self._file_rows = 0


def _batches(
    data: object, *, tables_only: bool = False
) -> tuple[pa.Schema | None, Iterable[pa.RecordBatch]]:
    """Turn the accepted kinds of input into (declared schema, batches)."""
    if isinstance(data, pa.Table):
        return data.schema, data.to_batches()
    if isinstance(data, pa.RecordBatch):
        return data.schema, [data]
    if tables_only:
        msg = f"write() takes a pyarrow RecordBatch or Table, got {type(data).__name__}"
        raise TypeError(msg)
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, data
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, reader
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        msg = (
            "data must be a pyarrow Table, RecordBatch, RecordBatchReader, an "
            f"Arrow stream or an iterable of RecordBatches, got {type(data).__name__}"
        )
        raise TypeError(msg)
    return None, typing.cast("Iterable[pa.RecordBatch]", data)


# ------------------------------------------------------------------ lake


class Lake:
    """Datasets of Parquet files under one root, with atomic commits.

    Args:
        url: The root: a local path, ``file://``, ``memory://``, ``s3://`` or
            ``gs://`` URL (or any fsspec URL).
        storage_options: Options for the fsspec filesystem of a remote URL,
            such as ``key``/``secret``/``client_kwargs`` for S3.
        filesystem: A ready fsspec filesystem; ``url`` is then the root path
            inside it.

    Raises:
        ConfigurationError: The URL cannot be opened, or options were given
            where they are not used.

    Example::

        lake = Lake("s3://acme-revops/lake", storage_options={"profile": "etl"})
        lake.append("/RevOps/Audit/sync_log", table, state={"cursor": "..."})
        lake.read("/RevOps/Audit/sync_log")
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        storage_options: Mapping[str, typing.Any] | None = None,
        filesystem: typing.Any = None,
    ) -> None:
        text: object = os.fspath(url)
        if not isinstance(text, str) or not text:
            raise ConfigurationError(
                f"lake url must be a non-empty string, got {url!r}"
            )
        self._url = text
        self._engine = _Engine(_make_store(text, storage_options, filesystem), text)

    @property
    def url(self) -> str:
        """The root URL or path this lake was opened with."""
        return self._url

    def __repr__(self) -> str:
        return f"Lake({self._url!r})"

    # -- discovery

    def exists(self, path: str) -> bool:
        """Return whether the dataset at ``path`` has at least one commit."""
        return self._engine.has_commits(_split_path(path))

    def datasets(self, prefix: str = "/") -> list[str]:
        """List the committed datasets under ``prefix``, sorted.

        Args:
            prefix: A folder path such as ``"/Salesforce"``; ``"/"`` for all.
        """
        start = _split_prefix(prefix)
        engine = self._engine
        found: list[str] = []
        pending = [start]
        while pending:
            segments = pending.pop()
            items = engine.store.list_dir(engine.dataset_dir(segments))
            names = {item.name for item in items if item.is_dir}
            if segments and _COMMITS in names and engine.has_commits(segments):
                found.append(_join_logical(segments))
                continue
            pending.extend(
                (*segments, name) for name in names if _segment_problem(name) is None
            )
        return sorted(found)

    # -- reading

    def _existing(self, path: str) -> tuple[tuple[str, ...], _Snapshot]:
        segments = _split_path(path)
        snap = self._engine.snapshot(path, segments)
        if not snap.exists:
            raise self._engine.not_found(path)
        return segments, snap

    def dataset(self, path: str) -> ds.Dataset:
        """Return the live files of ``path`` as a lazy ``pyarrow.dataset.Dataset``.

        The dataset carries the unified schema, so files written before a column
        was added or widened are read with nulls and casts. DuckDB
        (``duckdb.from_arrow``) and Polars (``pl.scan_pyarrow_dataset``) can scan
        it directly.

        Raises:
            DatasetNotFoundError: The dataset was never committed.
            SchemaError: Live commits have incompatible schemas.
        """
        segments, snap = self._existing(path)
        return self._engine.arrow_dataset(snap, segments)

    def schema(self, path: str) -> pa.Schema:
        """Return the unified schema of the live commits of ``path``."""
        _, snap = self._existing(path)
        return self._engine.live_schema(snap)

    def files(self, path: str) -> list[str]:
        """Return full paths or URLs of the live Parquet files, in commit order.

        Hand them to engines that read Parquet themselves, for example
        ``duckdb.read_parquet(files, union_by_name=True)`` or
        ``polars.scan_parquet(files)``.
        """
        segments, snap = self._existing(path)
        base = self._engine.dataset_dir(segments)
        store = self._engine.store
        return [
            store.url(store.join(base, rel))
            for entry in snap.live
            for rel in entry.commit.files
        ]

    def read(
        self,
        path: str,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002 - pyarrow's own name
    ) -> pa.Table:
        """Read the live rows of ``path`` into one table.

        Args:
            path: The dataset path.
            columns: Only these columns, in this order.
            filter: A ``pyarrow.compute`` expression to push down.

        Raises:
            DatasetNotFoundError: The dataset was never committed.
            SchemaError: A requested column does not exist.
            DatasetError: A file could not be read.
        """
        if filter is not None:
            dataset = self.dataset(path)
            cols = self._columns(path, dataset.schema, columns)
            try:
                return dataset.to_table(columns=cols, filter=filter)
            except OSError as exc:
                raise self._read_failed(path, exc) from exc
        segments, snap = self._existing(path)
        cols = self._columns(path, self._engine.live_schema(snap), columns)
        try:
            return self._engine.read_table(snap, segments, cols)
        except OSError as exc:
            raise self._read_failed(path, exc) from exc

    def scan(
        self,
        path: str,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002 - pyarrow's own name
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the live rows of ``path`` batch by batch, in bounded memory.

        The set of files is fixed when ``scan`` is called; later commits are not
        seen by an iteration already under way.

        Raises:
            DatasetNotFoundError: The dataset was never committed (at call time).
            SchemaError: A requested column does not exist.
        """
        _check_positive("batch_size", batch_size)
        dataset = self.dataset(path)
        cols = self._columns(path, dataset.schema, columns)
        return self._iterate(path, dataset, cols, filter, batch_size)

    def _iterate(
        self,
        path: str,
        dataset: ds.Dataset,
        columns: list[str] | None,
        filter_: pc.Expression | None,
        batch_size: int,
    ) -> Iterator[pa.RecordBatch]:
        try:
            yield from dataset.to_batches(
                columns=columns, filter=filter_, batch_size=batch_size
            )
        except OSError as exc:
            raise self._read_failed(path, exc) from exc

    def _columns(
        self, path: str, schema: pa.Schema, columns: Sequence[str] | None
    ) -> list[str] | None:
        if columns is None:
            return None
        if isinstance(columns, str):
            msg = f"columns must be a sequence of names, not the string {columns!r}"
            raise TypeError(msg)
        names = set(schema.names)
        for column in columns:
            if column not in names:
                raise SchemaError(
                    f"dataset {path!r} in lake {self._url!r} has no column "
                    f"{column!r}; it has {', '.join(schema.names)}",
                    dataset=path,
                    column=column,
                )
        return list(columns)

    def _read_failed(self, path: str, exc: OSError) -> DatasetError:
        return DatasetError(
            f"reading dataset {path!r} from lake {self._url!r} failed: {exc}",
            dataset=path,
        )

    def state(self, path: str) -> dict[str, typing.Any] | None:
        """Return the newest state committed to ``path``.

        That is the ``state`` of the latest commit, in commit order, that
        carried one, whether its data is still live or not; compaction keeps it.
        A dataset that was never committed has no state (``None``).
        """
        snap = self._engine.snapshot(path, _split_path(path))
        return copy.deepcopy(snap.state)

    def history(self, path: str) -> list[Commit]:
        """Return every commit record of ``path`` still stored, oldest first.

        Vacuum removes the records of dead commits, so this is the full history
        only until the first vacuum. A never-committed dataset has none.
        """
        snap = self._engine.snapshot(path, _split_path(path))
        return [
            attrs.evolve(
                e.commit,
                state=copy.deepcopy(e.commit.state),
                properties=copy.deepcopy(e.commit.properties),
            )
            for e in snap.entries
        ]

    # -- writing

    def writer(
        self,
        path: str,
        *,
        mode: typing.Literal["append", "replace"] = "append",
        schema: pa.Schema | None = None,
        row_group_size: int = 131_072,
        row_group_bytes: int = 64 * 1024 * 1024,
        max_rows_per_file: int = 2_000_000,
        compression: str = "snappy",
        compression_level: int | None = None,
        use_dictionary: bool | Sequence[str] | None = None,
        write_statistics: bool = True,
    ) -> DatasetWriter:
        """Open a streaming writer for ``path``.

        Args:
            path: The dataset path.
            mode: ``"append"`` adds the rows to the live ones; ``"replace"``
                makes them the whole dataset.
            schema: Columns declared up front; recorded even if no rows come,
                and checked like a batch.
            row_group_size: Rows per Parquet row group (and buffer size).
            row_group_bytes: Flush a row group early once this many bytes are
                buffered.
            max_rows_per_file: Start a new part file after this many rows.
            compression: Parquet codec: snappy (default), zstd, lz4, gzip,
                brotli or none.
            compression_level: Codec level, where the codec has one.
            use_dictionary: ``None`` dictionary-encodes string and binary
                columns only (fast, compact for CRM data); ``True``/``False``
                for all/none, or a list of column names.
            write_statistics: Write min/max statistics for filter pushdown.

        Raises:
            ConfigurationError: Bad path, mode or tuning values, or the path
                would nest a dataset inside another.
            SchemaError: For an append, ``schema`` does not fit the dataset.
        """
        if mode not in {"append", "replace"}:
            raise ConfigurationError(
                f"writer for dataset {path!r}: mode must be 'append' or 'replace', "
                f"got {mode!r}"
            )
        segments = _split_path(path)
        options = _WriterOptions(
            row_group_size=row_group_size,
            row_group_bytes=row_group_bytes,
            max_rows_per_file=max_rows_per_file,
            compression=compression,
            compression_level=compression_level,
            use_dictionary=(
                use_dictionary
                if use_dictionary is None or isinstance(use_dictionary, bool)
                else tuple(use_dictionary)
            ),
            write_statistics=write_statistics,
        )
        options.check(path)
        snap = self._engine.snapshot(path, segments)
        if not snap.exists:
            self._check_not_nested(path, segments)
        base_schema = None
        if mode == "append" and snap.live:
            base_schema = self._engine.live_schema(snap)
        return DatasetWriter(
            self._engine,
            path,
            segments,
            operation=mode,
            schema=schema,
            options=options,
            base_schema=base_schema,
        )

    def _check_not_nested(self, path: str, segments: tuple[str, ...]) -> None:
        for depth in range(1, len(segments)):
            if self._engine.has_commits(segments[:depth]):
                outer = _join_logical(segments[:depth])
                raise ConfigurationError(
                    f"cannot create dataset {path!r} in lake {self._url!r}: "
                    f"{outer!r} is a dataset, and datasets cannot be nested"
                )
        # A concurrent first commit may have made ``path`` itself a dataset.
        inner = [found for found in self.datasets(path) if found != path]
        if inner:
            raise ConfigurationError(
                f"cannot create dataset {path!r} in lake {self._url!r}: it is a "
                f"folder holding datasets ({', '.join(inner[:3])}), and datasets "
                "cannot be nested"
            )

    def _write(
        self,
        path: str,
        data: object,
        mode: typing.Literal["append", "replace"],
        state: Mapping[str, typing.Any] | None,
        properties: Mapping[str, typing.Any] | None,
    ) -> Commit:
        schema, batches = _batches(data)
        with self.writer(path, mode=mode, schema=schema) as writer:
            for item in batches:
                writer.write(item)
            return writer.commit(state=state, properties=properties)

    def write(
        self,
        path: str,
        data: pa.Table
        | pa.RecordBatch
        | pa.RecordBatchReader
        | Iterable[pa.RecordBatch],
        *,
        state: Mapping[str, typing.Any] | None = None,
        properties: Mapping[str, typing.Any] | None = None,
    ) -> Commit:
        """Replace the whole dataset at ``path`` with ``data``, atomically.

        Readers see either the old rows or the new ones, never a mix. The new
        data may have any schema.

        Args:
            path: The dataset path.
            data: A Table, RecordBatch, RecordBatchReader, any object with
                ``__arrow_c_stream__`` (such as a Polars DataFrame), or an
                iterable of RecordBatches; streamed, never held whole.
            state: A JSON object committed with the data (see :meth:`state`).
            properties: Free-form JSON metadata for the commit.
        """
        return self._write(path, data, "replace", state, properties)

    def append(
        self,
        path: str,
        data: pa.Table
        | pa.RecordBatch
        | pa.RecordBatchReader
        | Iterable[pa.RecordBatch],
        *,
        state: Mapping[str, typing.Any] | None = None,
        properties: Mapping[str, typing.Any] | None = None,
    ) -> Commit:
        """Add ``data`` to the dataset at ``path`` (creating it if needed).

        Concurrent appends, from threads or processes, never conflict.

        Raises:
            SchemaError: A column's type cannot be unified with the dataset's;
                nothing is committed.
        """
        return self._write(path, data, "append", state, properties)

    # -- maintenance

    def compact(self, path: str) -> Commit | None:
        """Rewrite the live files of ``path`` into one run, streaming.

        The compaction commit absorbs exactly the commits it read; appends that
        land meanwhile stay. The newest state is carried over.

        Returns:
            The compaction commit, or ``None`` if there was nothing to do or a
            concurrent replace or compaction won.

        Raises:
            DatasetNotFoundError: The dataset was never committed.
        """
        segments, snap = self._existing(path)
        options = _WriterOptions()
        live = snap.live
        if not live:
            return None
        if len(live) == 1:
            only = live[0].commit
            needed = max(1, math.ceil(only.rows / options.max_rows_per_file))
            if len(only.files) <= needed:
                return None
        dataset = self._engine.arrow_dataset(snap, segments)
        writer = DatasetWriter(
            self._engine,
            path,
            segments,
            operation="compact",
            schema=dataset.schema,
            options=options,
            base_schema=None,
        )
        with writer:
            for batch in self._iterate(
                path, dataset, None, None, options.row_group_size
            ):
                writer.write(batch)
            return writer._commit(  # noqa: SLF001 - same module, internal protocol
                state=snap.state,
                properties={"compacted_commits": len(live)},
                absorbs=[e.id for e in live],
                state_from=snap.state_origin,
            )

    def vacuum(
        self, path: str, *, older_than: dt.timedelta = _DEFAULT_GRACE
    ) -> VacuumReport:
        """Delete what no reader needs any more, once older than a grace period.

        Removes ``data/<run_id>/`` folders that no live commit refers to (dead,
        aborted or crashed writes), commit files of dead commits (except the one
        carrying the current state), and ``.tmp-`` leftovers. A dead commit's
        files count as old from the moment the commit that superseded it was
        made, so a reader that started before a replace keeps working for the
        whole grace period.

        Args:
            path: The dataset path.
            older_than: The grace period; keep it longer than your longest read
                and your longest write.

        Raises:
            ConfigurationError: ``older_than`` is negative.
        """
        if older_than < dt.timedelta(0):
            raise ConfigurationError(f"older_than must not be negative: {older_than}")
        segments = _split_path(path)
        snap = self._engine.snapshot(path, segments)
        cutoff = _utcnow() - older_than
        runs, kept_runs = self._vacuum_runs(snap, segments, cutoff)
        commits, kept_commits = self._vacuum_commits(snap, segments, cutoff)
        cdir = self._engine.commits_dir(segments)
        temps: list[str] = []
        for item in snap.temp_files:
            tmp = self._engine.store.join(cdir, item.name)
            mtime = item.mtime or self._engine.store.newest_mtime(tmp)
            if mtime is None or mtime <= cutoff:
                self._engine.store.delete_file(tmp)
                temps.append(item.name)
        return VacuumReport(
            dataset=path,
            deleted_runs=tuple(runs),
            deleted_commits=tuple(commits),
            deleted_temp_files=tuple(temps),
            kept_recent=(*kept_runs, *kept_commits),
        )

    def _vacuum_runs(
        self, snap: _Snapshot, segments: Sequence[str], cutoff: dt.datetime
    ) -> tuple[list[str], list[str]]:
        """Delete unreferenced ``data/<run_id>/`` folders older than ``cutoff``."""
        store = self._engine.store
        base = self._engine.dataset_dir(segments)
        live_ids = {e.id for e in snap.live}
        by_run = {e.commit.run_id: e for e in snap.entries}
        deleted: list[str] = []
        kept: list[str] = []
        for item in store.list_dir(store.join(base, _DATA)):
            if not item.is_dir or not _RUN_ID_RE.fullmatch(item.name):
                continue
            owner = by_run.get(item.name)
            if owner is not None and owner.id in live_ids:
                continue
            run_dir = store.join(base, _DATA, item.name)
            if owner is not None:
                since = snap.dead_since[owner.id]
            else:
                # Aborted, crashed or still being written: judge by its newest file.
                times = [_id_time(item.name), store.newest_mtime(run_dir)]
                since = max((t for t in times if t is not None), default=cutoff)
            if since <= cutoff:
                store.delete_tree(run_dir)
                deleted.append(item.name)
            else:
                kept.append(item.name)
        return deleted, kept

    def _vacuum_commits(
        self, snap: _Snapshot, segments: Sequence[str], cutoff: dt.datetime
    ) -> tuple[list[str], list[str]]:
        """Delete dead commit files that went dead before ``cutoff``."""
        store = self._engine.store
        cdir = self._engine.commits_dir(segments)
        live_ids = {e.id for e in snap.live}
        dead = [e for e in snap.entries if e.id not in live_ids]
        deleted: list[str] = []
        kept: list[str] = []

        def drop(entry: _Entry) -> bool:
            if snap.dead_since[entry.id] > cutoff:
                kept.append(entry.id)
                return False
            store.delete_file(store.join(cdir, f"{entry.id}.json"))
            deleted.append(entry.id)
            return True

        # Void compactions go first. What a remaining void compaction absorbed
        # must stay dead (or replaying would make it look valid), and so must
        # the commit carrying the current state: keep them with their killers.
        remaining_void = [e for e in dead if e.id in snap.void and not drop(e)]
        known = {e.id for e in snap.entries}
        protected = snap.kill_chain(snap.state_carrier)
        for void in remaining_void:
            for absorbed in void.commit.absorbs:
                if absorbed in known:
                    protected |= snap.kill_chain(absorbed)
        for entry in dead:
            if entry.id not in snap.void and entry.id not in protected:
                drop(entry)
        return deleted, kept
