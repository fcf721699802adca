"""The sync engine: one object of one source into its raw dataset, audited.

A sync streams the record batches a source's ``fetch`` yields into the object's raw
dataset, then commits the rows *and* the new watermark in one lake commit. Only then
is the audit row appended. If anything fails before the commit, nothing is
committed, the watermark stays where it was, the failure is written to the audit log
and the error is raised.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import secrets
import typing

import pyarrow as pa

from revops_ingest._audit import SYNC_LOG, SYNC_STATUS, SyncRun, _watermark, sync_status
from revops_ingest._progress import Progress
from revops_ingest._source import FetchContext, ObjectSpec, Source
from revops_ingest.exceptions import ConfigurationError, RevOpsIngestError


if typing.TYPE_CHECKING:
    from collections.abc import Generator

    from revops_ingest._lake import Lake
    from revops_ingest._source import JSONValue, State


__all__ = ["SYNC_ID_COLUMN", "sync"]

log = logging.getLogger("revops_ingest.sync")

SYNC_ID_COLUMN = "_sync_id"
"""Lineage column added to every raw row: the id of the sync that landed it."""

_SYNC_ID_FIELD = pa.field(SYNC_ID_COLUMN, pa.dictionary(pa.int32(), pa.string()))


def _library_version() -> str:
    try:
        return importlib.metadata.version("revops-ingest")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - source tree
        return "0+unknown"


def new_sync_id(now: dt.datetime) -> str:
    """Return a unique sync id that sorts in time order."""
    return f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


def find_object(source: Source, object_type: str) -> ObjectSpec:
    """Return the spec of *object_type*, or raise a ConfigurationError listing them."""
    specs = list(source.objects())
    for spec in specs:
        if spec.name == object_type:
            return spec
    for spec in specs:  # forgive case, but only when it is unambiguous
        if spec.name.lower() == object_type.lower():
            return spec
    names = ", ".join(s.name for s in specs) or "none"
    msg = f"{source.system} has no object {object_type!r}; it offers: {names}"
    raise ConfigurationError(msg)


def _tag(batch: pa.RecordBatch, sync_id: str) -> pa.RecordBatch:
    """Append the lineage column: dictionary-encoded, so it costs ~4 bytes a row."""
    if SYNC_ID_COLUMN in batch.schema.names:
        msg = f"a source must not yield the reserved column {SYNC_ID_COLUMN!r}"
        raise ConfigurationError(msg)
    indices = typing.cast(
        "pa.Int32Array", pa.nulls(batch.num_rows, pa.int32()).fill_null(0)
    )
    column = pa.DictionaryArray.from_arrays(indices, pa.array([sync_id]))
    return batch.append_column(_SYNC_ID_FIELD, column)


def _batches(
    items: typing.Iterator[object], where: str
) -> typing.Iterator[pa.RecordBatch]:
    for item in items:
        if isinstance(item, pa.RecordBatch):
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            msg = (
                f"{where}: fetch must yield pyarrow.RecordBatch or Table, "
                f"not {type(item).__name__}"
            )
            raise TypeError(msg)


def sync(
    source: Source,
    object_type: str,
    lake: Lake,
    *,
    full_refresh: bool = False,
    progress: bool | None = None,
    refresh_status: bool = True,
) -> SyncRun:
    """Sync one object of *source* into its raw dataset in *lake*.

    Args:
        source: Any :class:`~revops_ingest.sources.Source`.
        object_type: The object's name, such as ``"Opportunity"``.
        lake: Where the raw dataset, the audit log and the state live.
        full_refresh: Ignore the stored watermark and read everything again. The
            rows are appended (raw datasets are append-only); staging keeps the
            latest version of each record.
        progress: Show a progress line on stderr; by default only when stderr is a
            terminal.
        refresh_status: Rewrite ``/RevOps/Monitoring/sync_status`` afterwards.

    Returns:
        The :class:`SyncRun`, which is also the row appended to
        ``/RevOps/Audit/sync_log``.

    Raises:
        revops_ingest.exceptions.RevOpsIngestError: Whatever stopped the sync, after
            its audit row was written. Nothing of the failed sync is committed and
            the watermark does not move.
    """
    spec = find_object(source, object_type)
    system = source.system
    dataset = spec.raw_dataset(system)
    start = dt.datetime.now(dt.timezone.utc)
    sync_id = new_sync_id(start)
    where = f"{system} {spec.name}"
    state_before = None if full_refresh else lake.state(dataset)
    bar = Progress(where, enabled=progress)
    context = FetchContext(
        sync_id=sync_id,
        started_at=start,
        full_refresh=full_refresh,
        on_page=bar.page,
        read_raw=(
            (lambda columns: lake.read(dataset, columns=list(columns)))
            if lake.exists(dataset)
            else None
        ),
    )
    log.info("sync %s started: %s into %s", sync_id, where, dataset)

    records = 0
    commit_id: str | None = None
    state_after: State | None = None
    error: BaseException | None = None
    try:
        fetch: Generator[pa.RecordBatch, None, State] = source.fetch(
            spec, state_before, context
        )
        with lake.writer(dataset, mode="append") as writer:
            returned = _Box()
            try:
                for batch in _batches(_drain(fetch, returned), where):
                    if batch.num_rows:
                        writer.write(_tag(batch, sync_id))
                        records += batch.num_rows
            finally:
                fetch.close()
            state_after = _check_state(returned.value, where)
            commit = writer.commit(
                state=state_after,
                properties={"sync_id": sync_id, "source_system": system},
            )
            commit_id = commit.commit_id
    except BaseException as exc:
        error = exc
        bar.close(f"failed: {type(exc).__name__}")
        raise
    else:
        bar.close("done")
    finally:
        run = _record(
            lake,
            context,
            spec=spec,
            system=system,
            dataset=dataset,
            start=start,
            records=records if error is None else 0,
            commit_id=commit_id,
            state_before=state_before,
            state_after=state_after if error is None else state_before,
            error=error,
            refresh_status=refresh_status,
        )
        if error is not None and hasattr(error, "add_note"):
            error.add_note(f"sync {sync_id} recorded in {SYNC_LOG}")
    return run


class _Box:
    """Holds a generator's return value, which ``for`` loops throw away."""

    value: typing.Any = None


def _drain(
    fetch: Generator[pa.RecordBatch, None, State], box: _Box
) -> Generator[pa.RecordBatch, None, None]:
    box.value = yield from fetch


def _record(
    lake: Lake,
    context: FetchContext,
    *,
    spec: ObjectSpec,
    system: str,
    dataset: str,
    start: dt.datetime,
    records: int,
    commit_id: str | None,
    state_before: typing.Mapping[str, JSONValue] | None,
    state_after: typing.Mapping[str, JSONValue] | None,
    error: BaseException | None,
    refresh_status: bool,
) -> SyncRun:
    m = context.metrics
    run = SyncRun(
        sync_id=context.sync_id,
        source_system=system,
        object_type=spec.name,
        start_time=start,
        end_time=dt.datetime.now(dt.timezone.utc),
        records_processed=records,
        records_failed=context.records_failed,
        error_message=None if error is None else _describe(error),
        status="success" if error is None else "failed",
        error_type=None if error is None else type(error).__name__,
        mode=spec.mode,
        full_refresh=context.full_refresh,
        dataset=dataset,
        commit_id=commit_id,
        watermark_before=_watermark(state_before),
        watermark_after=_watermark(state_after),
        requests=m.requests,
        retries=m.retries,
        bytes_received=m.bytes_received,
        wait_seconds=m.wait_seconds,
        token_refreshes=m.token_refreshes,
        api_quota_used=m.quota_used,
        api_quota_limit=m.quota_limit,
        warnings=tuple(context.warnings),
        library_version=_library_version(),
    )
    try:
        lake.append(SYNC_LOG, run.to_table())
    except Exception:
        if error is None:
            raise
        # Do not let a broken audit log hide why the sync failed.
        log.exception("could not write the audit row of failed sync %s", run.sync_id)
        return run
    if refresh_status:
        try:
            lake.write(SYNC_STATUS, sync_status(lake))
        except Exception:  # the view is a convenience; the log is the record
            log.exception("could not refresh %s", SYNC_STATUS)
    log.info(
        "sync %s %s: %s, %d records, %.1f s",
        run.sync_id,
        run.status,
        f"{system} {spec.name}",
        run.records_processed,
        run.duration_seconds,
    )
    return run


def _check_state(value: object, where: str) -> State | None:
    if value is None or isinstance(value, dict):
        return value
    msg = f"{where}: fetch must return a dict (the new state) or None, not {value!r}"
    raise TypeError(msg)


def _describe(error: BaseException) -> str:
    """Our errors already say what and where; others get their type in front."""
    text = str(error)
    if isinstance(error, RevOpsIngestError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
