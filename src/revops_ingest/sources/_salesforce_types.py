"""Salesforce field types to Arrow, and query pages (JSON or CSV) to record batches.

The Arrow schema of an object comes from its ``describe``: every column has the type
Salesforce declares for the field, so a column that is null on every row keeps its
type and a new custom field simply appears as a new column.

Pages are converted column by column in Arrow's C++ code: a REST page (JSON) goes
through :func:`pyarrow.json.read_json` with the object's schema, a Bulk API page (CSV)
through :func:`pyarrow.csv.read_csv` with its column types. No Python object is made
per record. A JSON page that the fast path cannot take (a value of an unexpected
JSON type, say) is converted from the decoded JSON instead, still column by column.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import typing

import attrs
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.sources._time import EPOCH, groups_to_ms


if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

AnyArray: typing.TypeAlias = "pa.Array[typing.Any]"


__all__ = [
    "CURSOR_PREFERENCE",
    "TIMESTAMP",
    "TOMBSTONE_COLUMN",
    "Field",
    "ObjectPlan",
    "Page",
    "arrow_type",
    "csv_to_batch",
    "format_ms",
    "page_from_body",
    "page_from_json",
    "parse_datetime_ms",
    "plan_from_describe",
    "soql",
    "soql_datetime",
    "soql_string",
    "tombstones",
]

TOMBSTONE_COLUMN = "_tombstone"
"""True on rows that only say "this Id was deleted" (from the deleted-records log
or a reconciliation); false on rows read from the object itself."""

TIMESTAMP = pa.timestamp("ms", tz="UTC")
CURSOR_PREFERENCE = ("SystemModstamp", "LastModifiedDate", "CreatedDate")
"""Watermark fields in order of preference, as describe offers them."""

_ARROW_TYPES: dict[str, pa.DataType] = {
    "datetime": TIMESTAMP,
    "date": pa.date32(),
    "int": pa.int64(),
    "long": pa.int64(),
    "double": pa.float64(),
    "currency": pa.float64(),
    "percent": pa.float64(),
    "boolean": pa.bool_(),
}
# Compound fields arrive as JSON objects in REST and not at all in Bulk; their
# components are separate fields (with compoundFieldName), which we read instead.
_COMPOUND_TYPES = frozenset({"address", "location"})
_BASE64 = "base64"
_EPOCH = EPOCH
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def arrow_type(sf_type: str) -> pa.DataType:
    """Return the Arrow type of a describe ``type``; text for everything unlisted.

    datetime → ``timestamp[ms, UTC]``; date → ``date32``; int, long → ``int64``;
    double, currency, percent → ``float64``; boolean → ``bool``; everything else
    (id, reference, string, picklist, textarea, time, anyType, ...) → ``string``.
    """
    return _ARROW_TYPES.get(sf_type, pa.string())


# ---------------------------------------------------------------- time


def parse_datetime_ms(text: str) -> int:
    """Parse a Salesforce datetime (``...T12:00:00.000+0000`` or ``...Z``) to epoch ms.

    Raises:
        ValueError: *text* is not such a datetime.
    """
    match = _DATETIME.match(text.strip())
    if match is None:
        msg = f"not a datetime: {text!r}"
        raise ValueError(msg)
    return groups_to_ms(match.groups())


def _datetime(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms)


def format_ms(ms: int) -> str:
    """Format epoch *ms* as ``2024-05-01T12:00:00.000Z`` (state, messages)."""
    value = _datetime(ms)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def soql_datetime(ms: int) -> str:
    """Format epoch *ms* as an (unquoted) SOQL datetime literal."""
    value = _datetime(ms)
    if ms % 1000:
        return f"{value:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


def soql(
    select: str,
    sobject: str,
    where: Sequence[str] = (),
    order: Sequence[str] = (),
) -> str:
    """Assemble a SOQL query; *where* items are ANDed.

    The names come from describe and the literals from :func:`soql_datetime` and
    :func:`soql_string`, so nothing a record holds is pasted in unquoted.
    """
    text = f"SELECT {select} FROM {sobject}"  # noqa: S608 - SOQL, see above
    if where:
        text += " WHERE " + " AND ".join(where)
    if order:
        text += " ORDER BY " + ", ".join(order)
    return text


def soql_string(value: str) -> str:
    """Quote *value* as a SOQL string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# ---------------------------------------------------------------- describe


@attrs.frozen
class Field:
    """One field read from an object.

    Attributes:
        name: The API name, as describe spells it.
        type: The describe ``type``.
        arrow: The column's Arrow type.
    """

    name: str
    type: str
    arrow: pa.DataType


def _reader_type(field: Field) -> pa.DataType:
    # Dates and timestamps are read as text and cast column by column afterwards:
    # the JSON reader does not parse dates, and its own timestamp parsing costs
    # more than a cast of the whole column (0.18 against 0.07 us a record).
    if field.arrow == pa.date32() or pa.types.is_timestamp(field.arrow):
        return pa.string()
    return field.arrow


@attrs.frozen(kw_only=True)
class ObjectPlan:
    """What to read of one object and how to type it, from its describe.

    Attributes:
        name: The object's API name.
        fields: The fields to select, in describe order.
        cursor: The watermark field (SystemModstamp, LastModifiedDate or
            CreatedDate), or ``None`` if the object has none.
        has_is_deleted: Whether the object has ``IsDeleted``.
        replicateable: Whether describe says the object supports the
            replication calls (the deleted-records log).
        schema: The raw rows' schema: the fields, then ``_tombstone``.
        bulk_ok: Whether every field can be read through the Bulk API.
    """

    name: str
    fields: tuple[Field, ...]
    cursor: str | None
    has_is_deleted: bool
    replicateable: bool
    schema: pa.Schema
    bulk_ok: bool
    json_schema: pa.Schema = attrs.field(repr=False)

    @property
    def field_names(self) -> list[str]:
        """The selected fields' names."""
        return [f.name for f in self.fields]

    def select(self) -> str:
        """The ``SELECT`` list."""
        return ", ".join(self.field_names)


def _describe_fields(describe: Mapping[str, typing.Any]) -> list[dict[str, typing.Any]]:
    fields = describe.get("fields")
    if not isinstance(fields, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
    ):
        msg = "the describe answer has no 'fields' list of objects with a 'name'"
        raise ValueError(msg)
    return fields


def plan_from_describe(
    describe: Mapping[str, typing.Any],
    *,
    fields: Sequence[str] | None = None,
    include_base64: bool = False,
) -> ObjectPlan:
    """Decide what to read of an object from its ``describe`` answer.

    All fields by default, or *fields* (names as in describe, any case; a compound
    name such as ``BillingAddress`` stands for its components). Compound fields are
    never selected (their components are); base64 fields only when *include_base64*
    or when named. ``Id``, the cursor and ``IsDeleted`` are always read.

    Raises:
        ConfigurationError: A named field does not exist (or is not visible to the
            user).
        ValueError: The describe answer has no usable ``fields``.
    """
    name = str(describe.get("name") or "")
    described = _describe_fields(describe)
    by_lower = {f["name"].lower(): f for f in described}
    names = {f["name"] for f in described}
    cursor = next((c for c in CURSOR_PREFERENCE if c in names), None)

    if fields is None:
        chosen = {
            f["name"]
            for f in described
            if f.get("type") not in _COMPOUND_TYPES
            and (include_base64 or f.get("type") != _BASE64)
        }
    else:
        chosen = set()
        unknown = []
        for wanted in fields:
            found = by_lower.get(wanted.lower())
            if found is None:
                unknown.append(wanted)
            elif found.get("type") in _COMPOUND_TYPES:
                chosen.update(
                    f["name"]
                    for f in described
                    if f.get("compoundFieldName") == found["name"]
                    and f.get("type") not in _COMPOUND_TYPES
                )
            else:
                chosen.add(found["name"])
        if unknown:
            msg = (
                f"Salesforce {name or 'object'} has no field(s) "
                f"{', '.join(map(repr, unknown))} (or the user may not read them); "
                "check the names in the object's describe or field-level security"
            )
            raise ConfigurationError(msg)
    chosen.update(
        n for n in ("Id", cursor, "IsDeleted") if n is not None and n in names
    )

    selected = tuple(
        Field(f["name"], str(f.get("type") or "string"), arrow_type(str(f.get("type"))))
        for f in described
        if f["name"] in chosen
    )
    columns: list[pa.Field[typing.Any]] = [pa.field(f.name, f.arrow) for f in selected]
    columns.append(pa.field(TOMBSTONE_COLUMN, pa.bool_()))
    return ObjectPlan(
        name=name,
        fields=selected,
        cursor=cursor,
        has_is_deleted="IsDeleted" in names,
        replicateable=bool(describe.get("replicateable", False)),
        schema=pa.schema(columns),
        bulk_ok=all(f.type != _BASE64 for f in selected),
        json_schema=_page_schema(selected),
    )


def _page_schema(fields: Sequence[Field]) -> pa.Schema:
    """The schema of a REST query page, for :func:`pyarrow.json.read_json`."""
    record: list[pa.Field[typing.Any]] = [
        pa.field(f.name, _reader_type(f)) for f in fields
    ]
    page: list[pa.Field[typing.Any]] = [
        pa.field("totalSize", pa.int64()),
        pa.field("done", pa.bool_()),
        pa.field("nextRecordsUrl", pa.string()),
        pa.field("records", pa.list_(pa.struct(record))),
    ]
    return pa.schema(page)


def id_plan(plan: ObjectPlan) -> ObjectPlan:
    """A plan that reads only ``Id`` of *plan*'s object (for reconciliations)."""
    fields = (Field("Id", "id", pa.string()),)
    return ObjectPlan(
        name=plan.name,
        fields=fields,
        cursor=None,
        has_is_deleted=False,
        replicateable=False,
        schema=pa.schema([pa.field("Id", pa.string())]),
        bulk_ok=True,
        json_schema=_page_schema(fields),
    )


# ---------------------------------------------------------------- pages


@attrs.frozen
class Page:
    """One page of a REST query.

    Attributes:
        batch: The records, typed by the plan.
        done: Whether this is the last page.
        next_url: The ``nextRecordsUrl`` of the next page, if any.
        total_size: The query's ``totalSize`` (all pages, or the ``COUNT()``).
    """

    batch: pa.RecordBatch
    done: bool
    next_url: str | None
    total_size: int | None


def _flag(rows: int, *, value: bool) -> AnyArray:
    return pa.nulls(rows, pa.bool_()).fill_null(fill_value=value)


def _nulls(rows: int, type_: pa.DataType) -> AnyArray:
    return pa.array([None] * rows, type_)


def _finish(columns: Iterable[AnyArray], rows: int, plan: ObjectPlan) -> pa.RecordBatch:
    arrays = list(columns)
    if TOMBSTONE_COLUMN in plan.schema.names:
        arrays.append(_flag(rows, value=False))
    return pa.RecordBatch.from_arrays(arrays, schema=plan.schema)


def page_from_body(body: bytes, plan: ObjectPlan) -> Page | None:
    """Convert a REST query page in C++ (:mod:`pyarrow.json`); ``None`` if it cannot.

    ``None`` means "use :func:`page_from_json` on the decoded body": the body is not
    JSON, not a query page, or holds a value of a JSON type the schema does not
    expect.
    """
    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(
                use_threads=False, block_size=max(len(body) + 1, 1 << 16)
            ),
            parse_options=pa_json.ParseOptions(
                explicit_schema=plan.json_schema,
                unexpected_field_behavior="ignore",
                # Salesforce sends one line; a pretty-printed page (a proxy, a
                # test) has newlines between tokens. The slower newline-tolerant
                # parse (~0.2 us a record) only when there is one.
                newlines_in_values=b"\n" in body,
            ),
        )
    except pa.ArrowException:
        return None
    if table.num_rows != 1:
        return None
    records = table.column("records")
    if records.null_count:
        return None
    structs = typing.cast(
        "pa.StructArray",
        typing.cast("pa.ListArray[typing.Any]", records.chunk(0)).flatten(),
    )
    try:
        columns = [
            column if column.type == field.arrow else column.cast(field.arrow)
            for column, field in zip(structs.flatten(), plan.fields, strict=True)
        ]
    except pa.ArrowException:
        return None
    done = table.column("done")[0].as_py()
    next_url = table.column("nextRecordsUrl")[0].as_py()
    total = table.column("totalSize")[0].as_py()
    return Page(
        batch=_finish(columns, len(structs), plan),
        done=bool(done) if done is not None else next_url is None,
        next_url=next_url,
        total_size=total,
    )


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _column(values: list[typing.Any], field: Field) -> AnyArray:
    try:
        if field.arrow in (TIMESTAMP, pa.date32()):
            return pa.array(values, pa.string()).cast(field.arrow)
        return pa.array(values, field.arrow)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    try:
        return pa.array([_as_text(v) for v in values], pa.string()).cast(field.arrow)
    except pa.ArrowException:
        msg = (
            f"field {field.name!r} (describe type {field.type}) holds values that are "
            f"not {field.arrow}"
        )
        raise ValueError(msg) from None


def page_from_json(payload: object, plan: ObjectPlan) -> Page:
    """Convert a decoded REST query page, column by column.

    Raises:
        ValueError: The payload is not a query page, or a value does not fit its
            field's type; the message says which.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        msg = "the answer is not a query page (no 'records' list)"
        raise ValueError(msg)  # noqa: TRY004 - the caller reports a bad answer
    rows = payload["records"]
    if not all(isinstance(row, dict) for row in rows):
        msg = "the page's 'records' are not all JSON objects"
        raise ValueError(msg)
    columns = [_column([row.get(f.name) for row in rows], f) for f in plan.fields]
    next_url = payload.get("nextRecordsUrl")
    next_url = next_url if isinstance(next_url, str) and next_url else None
    done = payload.get("done")
    total = payload.get("totalSize")
    return Page(
        batch=_finish(columns, len(rows), plan),
        done=done if isinstance(done, bool) else next_url is None,
        next_url=next_url,
        total_size=total if isinstance(total, int) else None,
    )


def csv_to_batch(body: bytes, plan: ObjectPlan) -> pa.RecordBatch:
    """Convert a Bulk API 2.0 results page (CSV with a header row) in C++.

    Empty cells are nulls, ``true``/``false`` booleans, datetimes ISO 8601 with
    ``Z``; the columns are typed by the plan and put in its order, so the batch
    equals what the REST path gives for the same records. Each page is read as a
    CSV file of its own, header row included; a page without the header (or with
    a column missing) is an error, not a column of nulls.

    Raises:
        ValueError: The CSV cannot be read or a value does not fit its column.
    """
    names = plan.field_names
    if not body.strip():
        return _finish((_nulls(0, f.arrow) for f in plan.fields), 0, plan)
    try:
        table = pa_csv.read_csv(
            io.BytesIO(body.replace(b"\x00", b"") if b"\x00" in body else body),
            read_options=pa_csv.ReadOptions(block_size=max(len(body) + 1, 1 << 20)),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={f.name: f.arrow for f in plan.fields},
                include_columns=names,
                include_missing_columns=False,
                true_values=["true"],
                false_values=["false"],
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowException as exc:
        msg = f"the CSV cannot be read: {exc}"
        raise ValueError(msg) from None
    batch = table.combine_chunks().to_batches()
    if not batch:
        return _finish((_nulls(0, f.arrow) for f in plan.fields), 0, plan)
    return _finish(
        batch[0].columns,
        table.num_rows,
        plan,
    )


def tombstones(
    plan: ObjectPlan, ids: Sequence[str], stamps_ms: Sequence[int]
) -> pa.RecordBatch:
    """Rows that say "*ids* were deleted at *stamps_ms*".

    ``Id``, the deletion time in the cursor (and ``SystemModstamp`` when the object
    has it, so "latest version wins" sees the delete last), ``IsDeleted`` true and
    ``_tombstone`` true; every other column is null.
    """
    rows = len(ids)
    stamps = pa.array(stamps_ms, pa.int64()).cast(TIMESTAMP)
    columns: list[AnyArray] = []
    for field in plan.fields:
        if field.name == "Id":
            columns.append(pa.array(ids, pa.string()))
        elif field.name in (plan.cursor, "SystemModstamp") and field.arrow == TIMESTAMP:
            columns.append(stamps)
        elif field.name == "IsDeleted":
            columns.append(_flag(rows, value=True))
        else:
            columns.append(_nulls(rows, field.arrow))
    columns.append(_flag(rows, value=True))
    return pa.RecordBatch.from_arrays(columns, schema=plan.schema)
