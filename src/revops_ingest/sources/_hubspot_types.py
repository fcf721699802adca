"""HubSpot property types to Arrow, and CRM records (all strings) to record batches.

HubSpot sends every property value as a string (or null): numbers (``"1000.5"``),
booleans (``"true"``), datetimes (ISO 8601 such as ``"2024-05-01T10:00:00.123Z"``,
or epoch milliseconds such as ``"1714557600123"``) and dates (``"2024-05-01"``, or
the epoch milliseconds of midnight UTC). Columns are typed from the type the
properties API declares, never from the values, so a property that is null on
every record keeps its type and a new property appears as a new column.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import typing

import attrs
import pyarrow as pa

from revops_ingest.exceptions import SchemaError
from revops_ingest.sources._time import EPOCH, groups_to_ms


if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

AnyArray: typing.TypeAlias = "pa.Array[typing.Any]"

__all__ = [
    "ENGAGEMENT_TYPE_COLUMN",
    "RECORD_COLUMNS",
    "TIMESTAMP",
    "TOMBSTONE_COLUMN",
    "Gone",
    "Plan",
    "Prop",
    "arrow_type",
    "format_ms",
    "parse_bool",
    "parse_date_days",
    "parse_instant_ms",
    "plan_from_properties",
    "records_to_batch",
    "tombstones",
]

TOMBSTONE_COLUMN = "_tombstone"
"""True on rows that only say "this id was archived (deleted)"; false otherwise."""

ENGAGEMENT_TYPE_COLUMN = "engagement_type"
"""On ``engagements`` rows: the v3 object type (``calls``, ``emails``, ...)."""

TIMESTAMP = pa.timestamp("ms", tz="UTC")

RECORD_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("createdAt", TIMESTAMP),
    ("updatedAt", TIMESTAMP),
    ("archived", pa.bool_()),
    ("archivedAt", TIMESTAMP),
)
"""The columns around the properties of every CRM record row."""

_ARROW_TYPES: dict[str, pa.DataType] = {
    "number": pa.float64(),
    "datetime": TIMESTAMP,
    "date": pa.date32(),
    "bool": pa.bool_(),
}
_EPOCH = EPOCH
_DAY_MS = 86_400_000
_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH_MS = re.compile(r"-?\d{1,16}$")


def arrow_type(hubspot_type: str) -> pa.DataType:
    """The Arrow type of a declared property type; text for everything else.

    ``number`` → ``float64`` (HubSpot numbers may hold decimals); ``datetime`` →
    ``timestamp[ms, UTC]``; ``date`` → ``date32``; ``bool`` → ``bool``;
    ``string``, ``enumeration``, ``phone_number``, ``json`` and any other → text.
    """
    return _ARROW_TYPES.get(hubspot_type, pa.string())


# ---------------------------------------------------------------- values


def parse_instant_ms(text: str) -> int:
    """Epoch ms of an epoch-ms string or an ISO 8601 datetime (or date: midnight UTC).

    Raises:
        ValueError: *text* is neither.
    """
    text = text.strip()
    if _EPOCH_MS.match(text):
        return int(text)
    match = _INSTANT.match(text)
    if match is None:
        msg = f"not a datetime: {text!r}"
        raise ValueError(msg)
    return groups_to_ms(match.groups())


def parse_date_days(text: str) -> int:
    """Days since 1970-01-01 of a date property (ISO date, datetime or epoch ms)."""
    return parse_instant_ms(text) // _DAY_MS


def parse_bool(text: str) -> bool:
    """``"true"``/``"false"`` (any case).

    Raises:
        ValueError: Anything else.
    """
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    msg = f"not a boolean: {text!r}"
    raise ValueError(msg)


def _number(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        msg = f"not a number: {text!r}"
        raise ValueError(msg)
    return value


_PARSERS: dict[str, typing.Callable[[str], typing.Any]] = {
    "number": _number,
    "datetime": parse_instant_ms,
    "date": parse_date_days,
    "bool": parse_bool,
}


def format_ms(ms: int) -> str:
    """``2024-05-01T12:00:00.000Z`` of epoch *ms* (state, messages)."""
    value = _EPOCH + dt.timedelta(milliseconds=ms)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ---------------------------------------------------------------- plans


@attrs.frozen
class Prop:
    """One property read from an object.

    Attributes:
        name: The internal name, as HubSpot spells it.
        type: The declared type (``number``, ``datetime``, ...).
        arrow: The column's Arrow type.
    """

    name: str
    type: str
    arrow: pa.DataType


@attrs.frozen(kw_only=True)
class Plan:
    """What to read of an object (or of the engagement types) and how to type it.

    Attributes:
        name: The dataset's object name (``deals``, ``engagements``).
        object_types: The HubSpot object types read into it.
        properties: Every property column, in the properties API's order.
        by_type: Object type -> the names of its own properties.
        cursor: The last-modified property.
        engagement: Whether rows carry ``engagement_type``.
        schema: The raw rows' schema.
    """

    name: str
    object_types: tuple[str, ...]
    properties: tuple[Prop, ...]
    by_type: Mapping[str, tuple[str, ...]]
    cursor: str
    engagement: bool
    schema: pa.Schema


def plan_from_properties(
    name: str,
    described: Mapping[str, Sequence[Mapping[str, typing.Any]]],
    *,
    cursor: str,
    engagement: bool = False,
) -> Plan:
    """Build the plan of *name* from the properties API's answers per object type.

    A property two engagement types declare with different types becomes text.

    Raises:
        SchemaError: A property is named like one of the record columns, or the
            cursor property is missing or not a datetime.
        ValueError: A property has no name.
    """
    merged: dict[str, Prop] = {}
    by_type: dict[str, tuple[str, ...]] = {}
    for object_type, properties in described.items():
        names = []
        for item in properties:
            prop_name = item.get("name")
            if not isinstance(prop_name, str) or not prop_name:
                msg = f"a {object_type} property has no name"
                raise ValueError(msg)
            declared = str(item.get("type") or "string")
            prop = Prop(prop_name, declared, arrow_type(declared))
            known = merged.get(prop_name)
            if known is not None and known.arrow != prop.arrow:
                prop = Prop(prop_name, "string", pa.string())
            merged[prop_name] = prop
            names.append(prop_name)
        by_type[object_type] = tuple(names)
    reserved = {
        "id",
        ENGAGEMENT_TYPE_COLUMN,
        TOMBSTONE_COLUMN,
        "_sync_id",
        *(c for c, _ in RECORD_COLUMNS),
    }
    clash = sorted(set(merged) & reserved)
    if clash:
        msg = f"HubSpot {name}: properties {clash} clash with the raw record columns"
        raise SchemaError(msg, column=clash[0])
    if cursor not in merged or merged[cursor].arrow != TIMESTAMP:
        msg = (
            f"HubSpot {name}: the properties API lists no datetime property "
            f"{cursor!r}, which incremental syncs follow"
        )
        raise SchemaError(msg, column=cursor)
    fields: list[pa.Field[typing.Any]] = [pa.field("id", pa.string())]
    if engagement:
        fields.append(pa.field(ENGAGEMENT_TYPE_COLUMN, pa.string()))
    fields.extend(pa.field(p.name, p.arrow) for p in merged.values())
    fields.extend(pa.field(c, t) for c, t in RECORD_COLUMNS)
    fields.append(pa.field(TOMBSTONE_COLUMN, pa.bool_()))
    return Plan(
        name=name,
        object_types=tuple(described),
        properties=tuple(merged.values()),
        by_type=by_type,
        cursor=cursor,
        engagement=engagement,
        schema=pa.schema(fields),
    )


# ---------------------------------------------------------------- batches


def _column(values: list[typing.Any], prop: Prop) -> AnyArray:
    """Convert one property's strings to its declared type."""
    parse = _PARSERS.get(prop.type)
    if parse is None:
        return pa.array([_as_text(v) for v in values], pa.string())
    out: list[typing.Any] = []
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(None)
            continue
        try:
            out.append(parse(value if isinstance(value, str) else str(value)))
        except (ValueError, OverflowError):
            msg = (
                f"property {prop.name!r} (declared {prop.type}) holds {value!r}, "
                f"which is not a {prop.type}"
            )
            raise ValueError(msg) from None
    if prop.arrow == TIMESTAMP:
        return pa.array(out, pa.int64()).cast(TIMESTAMP)
    if prop.arrow == pa.date32():
        return pa.array(out, pa.int32()).cast(pa.date32())
    return pa.array(out, prop.arrow)


def _instant(record: Mapping[str, typing.Any], key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"a record's {key!r} is not a string"
        raise ValueError(msg)  # noqa: TRY004 - reported as a bad answer
    return parse_instant_ms(value)


def records_to_batch(
    plan: Plan, records: Sequence[tuple[str, Mapping[str, typing.Any]]]
) -> pa.RecordBatch:
    """Convert ``(object type, record JSON)`` pairs to a batch of *plan*'s schema.

    Raises:
        ValueError: A record has no id or no ``properties`` object, or a value does
            not fit its declared type; the message says which.
    """
    ids: list[str] = []
    props: list[Mapping[str, typing.Any]] = []
    around: dict[str, list[typing.Any]] = {c: [] for c, _ in RECORD_COLUMNS}
    for _, record in records:
        record_id = record.get("id")
        if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
            msg = "a record has no 'id'"
            raise ValueError(msg)  # noqa: TRY004 - reported as a bad answer
        values = record.get("properties")
        if not isinstance(values, dict):
            msg = f"record {record_id} has no 'properties' object"
            raise ValueError(msg)  # noqa: TRY004
        ids.append(str(record_id))
        props.append(values)
        around["createdAt"].append(_instant(record, "createdAt"))
        around["updatedAt"].append(_instant(record, "updatedAt"))
        archived = record.get("archived", False)
        around["archived"].append(bool(archived) if archived is not None else None)
        around["archivedAt"].append(_instant(record, "archivedAt"))
    rows = len(records)
    columns: list[AnyArray] = [pa.array(ids, pa.string())]
    if plan.engagement:
        columns.append(pa.array([t for t, _ in records], pa.string()))
    columns.extend(
        _column([p.get(prop.name) for p in props], prop) for prop in plan.properties
    )
    for name, type_ in RECORD_COLUMNS:
        values = around[name]
        if type_ == TIMESTAMP:
            columns.append(pa.array(values, pa.int64()).cast(TIMESTAMP))
        else:
            columns.append(pa.array(values, type_))
    columns.append(pa.array([False] * rows, pa.bool_()))
    return pa.RecordBatch.from_arrays(columns, schema=plan.schema)


@attrs.frozen
class Gone:
    """An archived record, for a tombstone.

    Attributes:
        object_type: Its object type.
        id: Its id.
        created: ``createdAt`` (epoch ms), if known.
        archived_at: ``archivedAt`` (epoch ms): the deletion time.
    """

    object_type: str
    id: str
    created: int | None
    archived_at: int


def tombstones(plan: Plan, gone: Iterable[Gone]) -> pa.RecordBatch:
    """Rows that say "these ids were archived then".

    ``id`` (and ``engagement_type``), the archive time in the cursor property, in
    ``updatedAt`` and in ``archivedAt`` (so "latest version wins" sees the delete
    last), ``createdAt``, ``archived`` and ``_tombstone`` true; every other property
    null.
    """
    items = list(gone)
    rows = len(items)
    stamps = pa.array([g.archived_at for g in items], pa.int64()).cast(TIMESTAMP)
    true = pa.array([True] * rows, pa.bool_())
    columns: list[AnyArray] = [pa.array([g.id for g in items], pa.string())]
    if plan.engagement:
        columns.append(pa.array([g.object_type for g in items], pa.string()))
    for prop in plan.properties:
        if prop.name == plan.cursor:
            columns.append(stamps)
        else:
            columns.append(pa.array([None] * rows, prop.arrow))
    columns.append(pa.array([g.created for g in items], pa.int64()).cast(TIMESTAMP))
    columns.extend((stamps, true, stamps, true))
    return pa.RecordBatch.from_arrays(columns, schema=plan.schema)
