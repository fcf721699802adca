"""The staging pipeline, written once in narwhals for every engine.

For one raw source object it

1. checks the required columns and resolves the field map;
2. keeps the latest version of every record: the greatest ``(modstamp, sync id,
   deleted, row hash)``, with one ``unique(order_by=...)`` (one shuffle on Spark);
3. drops deleted records, or keeps and flags them;
4. converts every input column to its canonical type, turning what does not
   convert into a null and a flag column, so it is counted;
5. derives the remaining columns (stage, domain, ...) and adds the lineage.

The result is still lazy; :mod:`revops_ingest.staging._run` collects it (eager
input) or hands it back (lazy input) and builds the report.
"""

from __future__ import annotations

import re
import typing

import attrs
import narwhals as nw

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.staging._native import (
    PATTERNS,
    Op,
    add_columns,
    is_string,
    kinds_match,
)
from revops_ingest.staging._schemas import VALID_STAGES


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from revops_ingest.staging._schemas import Kind, TableSchema


__all__ = ["WORK_PREFIX", "ObjectPlan", "Options", "Staged", "stage_frame"]

WORK_PREFIX = "__rv_"
"""Prefix of the working columns staging adds; never in a staged table."""

SYNC_ID = "_sync_id"
TOMBSTONE = "_tombstone"

_TS = f"{WORK_PREFIX}ts"
_SYNC = f"{WORK_PREFIX}sync"
_DEL = f"{WORK_PREFIX}del"
_TOMB = f"{WORK_PREFIX}tomb"
_HASH = f"{WORK_PREFIX}hash"
_ID = f"{WORK_PREFIX}id"
_ORDER = [_TS, _SYNC, _DEL, _HASH]
BAD = f"{WORK_PREFIX}bad_"
"""Prefix of the flag columns: ``__rv_bad_<column>`` is true where a value was lost."""

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TRUE = ("true", "1")
_FALSE = ("false", "0")


@attrs.frozen(kw_only=True)
class Options:
    """Settings of one staging call, already validated.

    Attributes:
        keep_deleted: Keep deleted records (flagged) instead of dropping them.
        stage_map: Source stage -> RevOps stage, defaults included.
        default_currency: Currency of amounts when the source has none.
        field_map: Source field -> staging column, applied on top of the defaults.
    """

    keep_deleted: bool
    stage_map: Mapping[str, str]
    default_currency: str
    field_map: Mapping[str, str]


_CURRENCY = re.compile(r"[A-Z]{3}")


def validated_options(
    *,
    fields_of: str,
    default_stages: Mapping[str, str],
    stage_map: Mapping[str, str] | None,
    field_map: Mapping[str, str] | None,
    keep_deleted: object,
    default_currency: object,
) -> Options:
    """Check one staging call's options; the stage map goes on *default_stages*.

    Args:
        fields_of: What the field map's keys are, for messages ("Salesforce field
            names", "HubSpot property names").
        default_stages: The source's stage map before *stage_map*.
        stage_map: Source stage -> RevOps stage, on top of *default_stages*.
        field_map: Source field -> staging column.
        keep_deleted: Keep deleted records (flagged) instead of dropping them.
        default_currency: The ISO 4217 currency of amounts without one.

    Raises:
        ConfigurationError: *keep_deleted* is not a bool, *default_currency* not an
            ISO 4217 code, a stage map target not a RevOps stage, or a field map
            key not a non-empty string.
    """
    if not isinstance(keep_deleted, bool):
        raise ConfigurationError(
            f"keep_deleted must be True or False, got {keep_deleted!r}"
        )
    if not isinstance(default_currency, str) or not _CURRENCY.fullmatch(
        default_currency
    ):
        raise ConfigurationError(
            "default_currency must be an ISO 4217 code like 'USD', "
            f"got {default_currency!r}"
        )
    stages = dict(default_stages)
    for stage, target in (stage_map or {}).items():
        given: object = stage  # callers pass whatever a config table held
        if not isinstance(given, str) or not given or target not in VALID_STAGES:
            raise ConfigurationError(
                f"stage map entry {stage!r} -> {target!r}: the target must be one "
                f"of {', '.join(VALID_STAGES)}"
            )
        stages[stage] = target
    fields: dict[str, str] = {}
    for field, column in (field_map or {}).items():
        key: object = field
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"field map keys are {fields_of}, got {field!r}")
        fields[field] = column
    return Options(
        keep_deleted=keep_deleted,
        stage_map=stages,
        default_currency=default_currency,
        field_map=fields,
    )


@attrs.frozen(kw_only=True)
class ObjectPlan:
    """How one source object becomes (part of) a staging table.

    Attributes:
        source_system: Such as ``"Salesforce"``.
        object_type: Such as ``"Opportunity"``.
        schema: The staging table's canonical schema.
        id_field: The source's primary key (required).
        modstamp_field: The source's version timestamp (required).
        deleted_field: The source's soft-delete flag, if it has one.
        fields: Staging column -> default source field, for columns copied
            (and converted) from one source field; ``None`` for a column this
            object has no field for (null unless a field map provides one).
            Other columns are derived.
        derive: Given the options, expressions for the derived columns and for
            columns whose input is transformed (probability, currency). They
            may refer to every staging column in ``fields`` by name.
        native_after: Engine-specific columns the derivations need, computed from
            the converted staging columns (such as midnight of a date).
    """

    source_system: str
    object_type: str
    schema: TableSchema
    id_field: str
    modstamp_field: str
    deleted_field: str | None
    fields: Mapping[str, str | None]
    derive: Callable[[Options], Mapping[str, nw.Expr]]
    native_after: Mapping[str, Op] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Staged:
    """A staged, still lazy frame and what is known about it before running it.

    Attributes:
        frame: Canonical columns, extra (mapped) columns, then flag columns.
        keyed: The raw rows with a non-null id column ``__rv_id``, for counts.
        raw: The raw frame as given.
        flags: Staging column -> its flag column in ``frame``.
        extras: Extra (mapped) columns, in order.
        missing: Source fields that were absent.
        ignored: Source fields neither standard nor mapped.
    """

    frame: nw.LazyFrame[typing.Any]
    raw: nw.LazyFrame[typing.Any]
    flags: Mapping[str, str]
    extras: tuple[str, ...]
    missing: tuple[str, ...]
    ignored: tuple[str, ...]


def resolve_fields(
    plan: ObjectPlan, field_map: Mapping[str, str]
) -> tuple[dict[str, str | None], dict[str, str]]:
    """Apply a field map (source field -> staging column) on top of the defaults.

    Returns:
        ``(inputs, extras)``: staging column -> source field for the canonical
        columns, and for the extra columns the map adds.

    Raises:
        ConfigurationError: The map targets the key, a derived or lineage column,
            a badly spelled name, or one column from two fields.
    """
    inputs: dict[str, str | None] = dict(plan.fields)
    extras: dict[str, str] = {}
    seen: dict[str, str] = {}
    schema = plan.schema
    for field, column in field_map.items():
        where = f"field map entry {field!r} -> {column!r}"
        if not _is_name(column):
            raise ConfigurationError(
                f"{where}: staging columns are lower snake case "
                "(letters, digits, '_'), like 'competitor'"
            )
        if column in seen:
            raise ConfigurationError(
                f"{where}: {seen[column]!r} is mapped to {column!r} too; "
                "map one source field to each staging column"
            )
        seen[column] = field
        if column == schema.key:
            raise ConfigurationError(
                f"{where}: {column!r} is the key; it always comes from "
                f"{plan.id_field!r}"
            )
        if column in inputs:
            inputs[column] = field
        elif column in schema.names:
            raise ConfigurationError(
                f"{where}: {column!r} is derived by staging or is a lineage "
                "column, and cannot be mapped; map the column it is derived from "
                "(see docs/staging.md)"
            )
        else:
            extras[column] = field
    return inputs, extras


def _is_name(value: object) -> bool:
    return isinstance(value, str) and _FIELD_NAME.fullmatch(value) is not None


def stage_frame(
    raw: nw.LazyFrame[typing.Any], plan: ObjectPlan, options: Options
) -> Staged:
    """Build the lazy staging pipeline of one raw source object.

    Raises:
        SchemaError: A required source column is missing.
        ConfigurationError: The field map does not fit this object.
    """
    schema = raw.collect_schema()
    names = list(schema.names())
    where = f"{plan.source_system} {plan.object_type}"
    for required in (plan.id_field, plan.modstamp_field):
        if required not in schema:
            raise SchemaError(
                f"{where}: the raw table has no {required!r} column, which staging "
                f"needs; it has {', '.join(names) or 'no columns'}",
                column=required,
            )
    inputs, extras = resolve_fields(plan, options.field_map)
    wanted = [f for f in (*inputs.values(), *extras.values()) if f is not None]
    used = {*(f for f in wanted if f in schema), plan.id_field, plan.modstamp_field}
    control = {SYNC_ID, TOMBSTONE}
    if plan.deleted_field is not None:
        control.add(plan.deleted_field)
    missing = tuple(sorted({f for f in wanted if f not in schema}))
    ignored = tuple(n for n in names if n not in used and n not in control)

    carried = sorted({f for f in wanted if f in schema} - {plan.id_field})
    keyed = _keyed(raw, plan, schema, sorted(used), carried)
    latest = _latest(
        keyed, keep_deleted=options.keep_deleted, tombstones=TOMBSTONE in schema
    )
    typed, flags = _typed(latest, plan, inputs, extras)
    typed = add_columns(typed, plan.native_after)
    frame = _finish(typed, plan, options, extras, flags)
    return Staged(
        frame=frame,
        raw=raw,
        flags=flags,
        extras=tuple(extras),
        missing=missing,
        ignored=ignored,
    )


def _flag_true(schema: nw.Schema, name: str | None) -> nw.Expr:
    """A column that should be boolean, as a non-null boolean (absent: false)."""
    if name is None or name not in schema:
        return nw.lit(value=False)
    dtype = schema[name]
    col = nw.col(name)
    if dtype != nw.Boolean:
        col = _parse_bool(col.cast(nw.String))
    return col.fill_null(value=False)


def _parse_bool(text: nw.Expr) -> nw.Expr:
    lowered = text.str.strip_chars().str.to_lowercase()
    return (
        nw.when(lowered.is_in(_TRUE))
        .then(nw.lit(value=True))
        .otherwise(nw.when(lowered.is_in(_FALSE)).then(nw.lit(value=False)))
    )


def _keyed(
    raw: nw.LazyFrame[typing.Any],
    plan: ObjectPlan,
    schema: nw.Schema,
    used: list[str],
    carried: list[str],
) -> nw.LazyFrame[typing.Any]:
    """Raw rows with an id, narrowed to the carried columns, with the version key.

    The row hash covers every used column; the id travels as ``__rv_id`` only.
    """
    stamp = schema[plan.modstamp_field]
    native: dict[str, Op] = {
        _HASH: Op("row_hash", tuple(used)),
    }
    ts_parsed = f"{WORK_PREFIX}ts_parsed"
    if kinds_match(stamp, "timestamp"):
        ts = nw.col(plan.modstamp_field)
    elif is_string(stamp):
        native[ts_parsed] = Op("parse", (plan.modstamp_field,), "timestamp")
        ts = nw.when(
            nw.col(plan.modstamp_field)
            .cast(nw.String)
            .str.contains(PATTERNS["timestamp"])
        ).then(nw.col(ts_parsed))
    else:
        native[ts_parsed] = Op("cast", (plan.modstamp_field,), "timestamp")
        ts = nw.col(ts_parsed)
    sync = (
        nw.col(SYNC_ID).cast(nw.String)
        if SYNC_ID in schema
        else nw.lit(None, dtype=nw.String)
    )
    tomb = _flag_true(schema, TOMBSTONE if TOMBSTONE in schema else None)
    deleted = _flag_true(schema, plan.deleted_field) | tomb
    frame = raw.filter(~nw.col(plan.id_field).is_null())
    frame = add_columns(frame, native)
    return frame.select(
        *[
            nw.col(n).cast(nw.String) if is_string(schema[n]) else nw.col(n)
            for n in carried
        ],
        nw.col(plan.id_field).cast(nw.String).alias(_ID),
        ts.alias(_TS),
        sync.alias(_SYNC),
        deleted.alias(_DEL),
        tomb.alias(_TOMB),
        nw.col(_HASH),
    )


def _latest(
    keyed: nw.LazyFrame[typing.Any], *, keep_deleted: bool, tombstones: bool
) -> nw.LazyFrame[typing.Any]:
    """The latest version of every record; deleted ones dropped unless kept."""
    latest = keyed.unique([_ID], keep="last", order_by=_ORDER)
    if not keep_deleted:
        return latest.filter(~nw.col(_DEL))
    if not tombstones:
        return latest
    # A tombstone carries only the id: keep the content of the latest real
    # version (if any) and the deletion from the tombstone.
    content = keyed.filter(~nw.col(_TOMB)).unique([_ID], keep="last", order_by=_ORDER)
    state = latest.select(
        nw.col(_ID),
        nw.col(_DEL).alias(f"{_DEL}_latest"),
        nw.col(_SYNC).alias(f"{_SYNC}_latest"),
    )
    joined = state.join(content, on=_ID, how="left")
    return joined.with_columns(
        nw.col(f"{_DEL}_latest").alias(_DEL),
        nw.coalesce(nw.col(_SYNC), nw.col(f"{_SYNC}_latest")).alias(_SYNC),
    )


def _typed(
    latest: nw.LazyFrame[typing.Any],
    plan: ObjectPlan,
    inputs: Mapping[str, str | None],
    extras: Mapping[str, str],
) -> tuple[nw.LazyFrame[typing.Any], dict[str, str]]:
    """Convert every input to its canonical type; flag what does not convert."""
    schema = latest.collect_schema()
    native: dict[str, Op] = {}
    exprs: list[nw.Expr] = []
    flags: dict[str, str] = {}
    for column, field in inputs.items():
        kind = plan.schema.column(column).kind
        target = f"{WORK_PREFIX}in_{column}"
        if field is None or (field not in schema and field != plan.id_field):
            native[target] = Op("null", (), kind)
            exprs.append(nw.col(target).alias(column))
            continue
        name = _ID if field == plan.id_field else field
        value, op = _convert(name, schema[name], kind, target)
        exprs.append(value.alias(column))
        if op is not None:
            native[target] = op
        if not kinds_match(schema[name], kind) and kind != "string":
            flag = f"{BAD}{column}"
            flags[column] = flag
            exprs.append((~nw.col(name).is_null() & value.is_null()).alias(flag))
    for column, field in extras.items():
        if field == plan.id_field:
            exprs.append(nw.col(_ID).alias(column))
        elif field in schema:
            exprs.append(nw.col(field).alias(column))
        else:
            target = f"{WORK_PREFIX}in_{column}"
            native[target] = Op("null", (), "string")
            exprs.append(nw.col(target).alias(column))
    frame = add_columns(latest, native)
    return frame.select(*exprs, nw.col(_ID), nw.col(_SYNC), nw.col(_DEL)), flags


def _convert(
    name: str, dtype: typing.Any, kind: Kind, target: str
) -> tuple[nw.Expr, Op | None]:
    """The expression converting column *name* to *kind*, and the op it needs."""
    src = nw.col(name)
    if kinds_match(dtype, kind):
        return src, None
    if kind == "string":
        return src.cast(nw.String), None
    if kind == "bool" and is_string(dtype):
        return _parse_bool(src), None
    if is_string(dtype):
        parsed = nw.when(src.str.contains(PATTERNS[kind])).then(nw.col(target))
        return parsed, Op("parse", (name,), kind)
    return nw.col(target), Op("cast", (name,), kind)


def _finish(
    typed: nw.LazyFrame[typing.Any],
    plan: ObjectPlan,
    options: Options,
    extras: Mapping[str, str],
    flags: Mapping[str, str],
) -> nw.LazyFrame[typing.Any]:
    """Select the canonical columns in order, then extras, then flags."""
    derived = plan.derive(options)
    lineage = {
        "is_deleted": nw.col(_DEL) if options.keep_deleted else nw.lit(value=False),
        "source_system": nw.lit(plan.source_system),
        "source_id": nw.col(_ID),
        "source_sync_id": nw.col(_SYNC),
    }
    exprs: list[nw.Expr] = []
    for column in plan.schema.names:
        if column in lineage:
            expr = lineage[column]
        elif column in derived:
            expr = derived[column]
        else:
            expr = nw.col(column)
        exprs.append(expr.alias(column))
    exprs += [nw.col(c) for c in extras]
    exprs += [nw.col(f) for f in flags.values()]
    return typed.select(*exprs)
