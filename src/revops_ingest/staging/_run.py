"""Run staging pipelines: collect eager results, hand lazy ones back, report."""

from __future__ import annotations

import typing

import narwhals as nw
import pyarrow as pa

from revops_ingest.staging._frames import collect_arrow, route
from revops_ingest.staging._native import Op, add_columns
from revops_ingest.staging._pipeline import (
    WORK_PREFIX,
    ObjectPlan,
    Options,
    Staged,
    stage_frame,
)
from revops_ingest.staging._result import StagingReport, StagingResult


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest.staging._schemas import TableSchema


__all__ = ["run"]

_ID = f"{WORK_PREFIX}id"


def run(
    inputs: Sequence[tuple[ObjectPlan, typing.Any, Options]],
) -> StagingResult[typing.Any]:
    """Stage one or more raw objects (of one staging table) and report.

    Each input is a plan, a raw frame and its options (the field map may differ
    per object; the other options must not).

    Raises:
        SchemaError: A required column is missing.
        ConfigurationError: The field map does not fit.
        TypeError: An input is not a frame staging accepts.
    """
    plans = [plan for plan, _, _ in inputs]
    options = inputs[0][2]
    routed = route([raw for _, raw, _ in inputs])
    try:
        staged = [
            stage_frame(frame, plan, opts)
            for (plan, _, opts), frame in zip(inputs, routed.frames, strict=True)
        ]
        frame, flags, extras = _combine(staged)
        schema = plans[0].schema
        columns = [*schema.names, *extras]
        if routed.eager:
            assert routed.back is not None
            table = collect_arrow(frame)
            report = _report(plans, staged, nw.from_native(table), flags, options)
            table = _canonical(table.select(columns), schema)
            return StagingResult(routed.back(table), report)
        out = frame.select(*columns).to_native()

        def later() -> StagingReport:
            return _report(plans, staged, frame, flags, options)

        return StagingResult(out, later)
    finally:
        routed.close()


def _combine(
    staged: Sequence[Staged],
) -> tuple[nw.LazyFrame[typing.Any], dict[str, str], list[str]]:
    """One frame from the staged objects of one table, columns aligned."""
    flags: dict[str, str] = {}
    extras: list[str] = []
    for item in staged:
        flags.update(item.flags)
        extras += [c for c in item.extras if c not in extras]
    if len(staged) == 1:
        return staged[0].frame, flags, extras
    types: dict[str, typing.Any] = {}
    for item in staged:
        schema = item.frame.collect_schema()
        for column in item.extras:
            types.setdefault(column, schema[column])
    frames = []
    for item in staged:
        have = set(item.frame.collect_schema().names())
        frame = item.frame
        nulls = {
            f"{WORK_PREFIX}null_{c}": Op("null", (), "string")
            for c in extras
            if c not in have and types[c] == nw.String
        }
        frame = add_columns(frame, nulls)
        base = [c for c in frame.collect_schema().names() if c in have]
        base = [c for c in base if c not in flags.values() and c not in extras]
        exprs: list[nw.Expr] = [nw.col(c) for c in base]
        for column in extras:
            if column in have:
                exprs.append(nw.col(column))
            elif f"{WORK_PREFIX}null_{column}" in nulls:
                exprs.append(nw.col(f"{WORK_PREFIX}null_{column}").alias(column))
            else:
                exprs.append(nw.lit(None, dtype=types[column]).alias(column))
        exprs += [
            nw.col(flag) if flag in have else nw.lit(value=False).alias(flag)
            for flag in flags.values()
        ]
        frames.append(frame.select(*exprs))
    return nw.concat(_aligned(frames), how="vertical"), flags, extras


def _aligned(frames: list[nw.LazyFrame[typing.Any]]) -> list[nw.LazyFrame[typing.Any]]:
    """Frames whose datetime columns agree on one type, as a vertical concat needs.

    One object may carry a source's millisecond timestamps where another has
    none (a null of the canonical microsecond type), say Event's ``EndDateTime``
    and Task's missing ``ends_at``; polars refuses to stack those. Such columns
    are cast to microseconds, UTC: the canonical type.
    """
    schemas = [frame.collect_schema() for frame in frames]
    mixed = [
        name
        for name in schemas[0].names()
        if len({str(schema[name]) for schema in schemas}) > 1
        and all(schema[name] == nw.Datetime for schema in schemas)
    ]
    if not mixed:
        return frames
    canonical = nw.Datetime(time_unit="us", time_zone="UTC")
    return [
        frame.with_columns(*(nw.col(name).cast(canonical) for name in mixed))
        for frame in frames
    ]


def _canonical(table: pa.Table, schema: TableSchema) -> pa.Table:
    """Cast an Arrow result to the canonical schema (extra columns keep their type)."""
    base = schema.arrow_schema()
    fields = list(base)
    for name in table.column_names[len(fields) :]:
        field = table.schema.field(name)
        if pa.types.is_large_string(field.type) or pa.types.is_string_view(field.type):
            field = field.with_type(pa.string())
        fields.append(field)
    metadata = typing.cast("dict[bytes | str, bytes | str]", base.metadata)
    return table.cast(pa.schema(fields, metadata=metadata))


def _scalar_rows(frame: typing.Any) -> list[tuple[typing.Any, ...]]:
    """Collect a small narwhals frame (eager or lazy) into Python rows."""
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect("pyarrow")
    rows: list[tuple[typing.Any, ...]] = frame.rows()
    return rows


def _report(
    plans: Sequence[ObjectPlan],
    staged: Sequence[Staged],
    out: typing.Any,
    flags: Mapping[str, str],
    options: Options,
) -> StagingReport:
    """Count what staging did: one aggregation per raw object, two over the output."""
    rows_in = missing_id = distinct = 0
    for plan, item in zip(plans, staged, strict=True):
        key = nw.col(plan.id_field)
        ((n, nulls, unique),) = _scalar_rows(
            item.raw.select(
                nw.len().alias("n"),
                key.null_count().alias("nulls"),
                key.n_unique().alias("unique"),
            )
        )
        rows_in += int(n or 0)
        missing_id += int(nulls or 0)
        distinct += int(unique or 0) - (1 if nulls else 0)
    aggregates = [
        nw.len().alias("rows"),
        nw.col("is_deleted").cast(nw.Int64).sum().alias("deleted"),
        *[nw.col(flag).cast(nw.Int64).sum().alias(flag) for flag in flags.values()],
    ]
    ((rows_out, kept_deleted, *bad),) = _scalar_rows(out.select(*aggregates))
    invalid = {
        column: int(count or 0)
        for column, count in zip(flags, bad, strict=True)
        if count
    }
    unmapped: dict[str, int] = {}
    if "source_stage" in plans[0].schema.names:
        stages = (
            out.filter(
                ~nw.col("source_stage").is_null() & nw.col("stage_name").is_null()
            )
            .group_by("source_stage")
            .agg(nw.len().alias("rows"))
        )
        unmapped = {str(stage): int(count) for stage, count in _scalar_rows(stages)}
    rows_out = int(rows_out or 0)
    deleted = int(kept_deleted or 0) if options.keep_deleted else distinct - rows_out
    multi = len(plans) > 1
    return StagingReport(
        table=plans[0].schema.name,
        schema_version=plans[0].schema.version,
        source_system=plans[0].source_system,
        source_objects=tuple(p.object_type for p in plans),
        rows_in=rows_in,
        rows_out=rows_out,
        superseded=rows_in - missing_id - distinct,
        deleted=deleted,
        deleted_kept=options.keep_deleted,
        missing_id=missing_id,
        invalid_values=invalid,
        unmapped_stages=unmapped,
        missing_columns=_named(plans, [s.missing for s in staged], multi=multi),
        ignored_columns=_named(plans, [s.ignored for s in staged], multi=multi),
    )


def _named(
    plans: Sequence[ObjectPlan], names: Sequence[Sequence[str]], *, multi: bool
) -> tuple[str, ...]:
    if not multi:
        return tuple(names[0])
    return tuple(
        f"{plan.object_type}.{name}"
        for plan, group in zip(plans, names, strict=True)
        for name in group
    )
