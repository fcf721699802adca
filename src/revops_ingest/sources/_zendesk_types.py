"""Zendesk records (decoded JSON) to typed Arrow record batches.

Every raw dataset has a fixed schema declared here, with Zendesk's own field names,
so a column that is null on every row keeps its type and every sync lands the same
columns. Nested values that have no fixed shape (``custom_fields``, ``via``,
``satisfaction_rating``, ``user_fields``, ...) are kept as canonical JSON text
(sorted keys); ``via.channel`` is also flattened into ``via_channel``, and the
ticket metric set sideloaded with ``include=metric_sets`` into ``metric_*``
columns. Fields Zendesk adds later are not landed until they are declared here.
"""

from __future__ import annotations

import json
import typing

import attrs
import pyarrow as pa
import pyarrow.compute as pc


if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence


__all__ = [
    "ORGANIZATIONS",
    "TICKETS",
    "TIMESTAMP",
    "TOMBSTONE_COLUMN",
    "USERS",
    "Column",
    "RecordSchema",
    "to_batch",
]

AnyArray: typing.TypeAlias = "pa.Array[typing.Any]"
Item: typing.TypeAlias = "Mapping[str, typing.Any]"

TOMBSTONE_COLUMN = "_tombstone"
"""True on ticket rows that say "this ticket was deleted" (``status: "deleted"``)."""

TIMESTAMP = pa.timestamp("ms", tz="UTC")
_IDS = pa.list_(pa.int64())
_TEXTS = pa.list_(pa.string())


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _path(*keys: str) -> Callable[[Item], object]:
    def get(item: Item) -> object:
        value: object = item
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


@attrs.frozen
class Column:
    """One raw column: its name, Arrow type and how to read it from an item.

    Attributes:
        name: The column's name (Zendesk's field name where there is one).
        type: The Arrow type.
        read: Gets the value from the decoded item; by default ``item[name]``.
        kind: ``"value"`` (converted to *type*), ``"json"`` (canonical JSON text)
            or ``"epoch"`` (Unix seconds to a timestamp).
    """

    name: str
    type: pa.DataType
    read: Callable[[Item], object] | None = None
    kind: typing.Literal["value", "json", "epoch"] = "value"

    def values(self, items: Sequence[Item]) -> list[object]:
        """The column's values of *items*, before conversion."""
        read = self.read or _path(self.name)
        return [read(item) for item in items]


def _c(name: str, type_: pa.DataType) -> Column:
    return Column(name, type_)


def _j(name: str, *path: str) -> Column:
    return Column(name, pa.string(), _path(*(path or (name,))), "json")


@attrs.frozen
class RecordSchema:
    """The raw schema of one Zendesk object.

    Attributes:
        name: The object (``tickets``, ``users``, ``organizations``).
        columns: The columns, in order.
        tombstones: Whether the schema ends with :data:`TOMBSTONE_COLUMN`.
    """

    name: str
    columns: tuple[Column, ...]
    tombstones: bool = False

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the raw rows."""
        fields = [pa.field(c.name, c.type) for c in self.columns]
        if self.tombstones:
            fields.append(pa.field(TOMBSTONE_COLUMN, pa.bool_()))
        return pa.schema(fields)


def _metric(name: str, *path: str) -> Column:
    return Column(f"metric_{name}", pa.int64(), _path("_metric_set", *path))


TICKETS = RecordSchema(
    "tickets",
    (
        _c("id", pa.int64()),
        _c("url", pa.string()),
        _c("external_id", pa.string()),
        _c("type", pa.string()),
        _c("subject", pa.string()),
        _c("raw_subject", pa.string()),
        _c("description", pa.string()),
        _c("priority", pa.string()),
        _c("status", pa.string()),
        _c("recipient", pa.string()),
        _c("requester_id", pa.int64()),
        _c("submitter_id", pa.int64()),
        _c("assignee_id", pa.int64()),
        _c("organization_id", pa.int64()),
        _c("group_id", pa.int64()),
        _c("brand_id", pa.int64()),
        _c("ticket_form_id", pa.int64()),
        _c("problem_id", pa.int64()),
        _c("collaborator_ids", _IDS),
        _c("follower_ids", _IDS),
        _c("email_cc_ids", _IDS),
        _c("sharing_agreement_ids", _IDS),
        _c("has_incidents", pa.bool_()),
        _c("is_public", pa.bool_()),
        _c("tags", _TEXTS),
        _j("custom_fields"),
        _j("satisfaction_rating"),
        _j("via"),
        Column("via_channel", pa.string(), _path("via", "channel")),
        _c("due_at", TIMESTAMP),
        _c("created_at", TIMESTAMP),
        _c("updated_at", TIMESTAMP),
        Column("generated_timestamp", TIMESTAMP, kind="epoch"),
        _j("metric_set", "_metric_set"),
        Column("metric_solved_at", TIMESTAMP, _path("_metric_set", "solved_at")),
        _metric("reply_time_in_minutes", "reply_time_in_minutes", "calendar"),
        _metric(
            "first_resolution_time_in_minutes",
            "first_resolution_time_in_minutes",
            "calendar",
        ),
        _metric(
            "full_resolution_time_in_minutes",
            "full_resolution_time_in_minutes",
            "calendar",
        ),
        _metric("reopens", "reopens"),
        _metric("replies", "replies"),
    ),
    tombstones=True,
)
"""Raw columns of ``/Zendesk/Raw/Tickets``."""

USERS = RecordSchema(
    "users",
    (
        _c("id", pa.int64()),
        _c("url", pa.string()),
        _c("name", pa.string()),
        _c("email", pa.string()),
        _c("phone", pa.string()),
        _c("role", pa.string()),
        _c("active", pa.bool_()),
        _c("suspended", pa.bool_()),
        _c("verified", pa.bool_()),
        _c("organization_id", pa.int64()),
        _c("external_id", pa.string()),
        _c("time_zone", pa.string()),
        _c("locale", pa.string()),
        _c("tags", _TEXTS),
        _j("user_fields"),
        _c("created_at", TIMESTAMP),
        _c("updated_at", TIMESTAMP),
        _c("last_login_at", TIMESTAMP),
    ),
)
"""Raw columns of ``/Zendesk/Raw/Users``."""

ORGANIZATIONS = RecordSchema(
    "organizations",
    (
        _c("id", pa.int64()),
        _c("url", pa.string()),
        _c("name", pa.string()),
        _c("external_id", pa.string()),
        _c("domain_names", _TEXTS),
        _c("details", pa.string()),
        _c("notes", pa.string()),
        _c("group_id", pa.int64()),
        _c("shared_tickets", pa.bool_()),
        _c("shared_comments", pa.bool_()),
        _c("tags", _TEXTS),
        _j("organization_fields"),
        _c("created_at", TIMESTAMP),
        _c("updated_at", TIMESTAMP),
        _c("deleted_at", TIMESTAMP),
    ),
)
"""Raw columns of ``/Zendesk/Raw/Organizations``."""


def _array(column: Column, values: list[object]) -> AnyArray:
    if column.kind == "json":
        return pa.array([_json_text(v) for v in values], pa.string())
    if column.kind == "epoch":
        seconds = pa.array(values, pa.int64())
        return pc.multiply(seconds, 1000).cast(TIMESTAMP)
    if column.type == TIMESTAMP:
        return pa.array(values, pa.string()).cast(TIMESTAMP)
    return pa.array(values, column.type)


def to_batch(items: Sequence[Item], record: RecordSchema) -> pa.RecordBatch:
    """Convert decoded Zendesk items into a batch of *record*'s schema.

    Tickets whose ``status`` is ``"deleted"`` get :data:`TOMBSTONE_COLUMN` true.

    Raises:
        ValueError: A value does not fit its column; the message names the column.
    """
    arrays: list[AnyArray] = []
    for column in record.columns:
        try:
            arrays.append(_array(column, column.values(items)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:  # noqa: PERF203
            msg = (
                f"field {column.name!r} holds a value that is not {column.type} ({exc})"
            )
            raise ValueError(msg) from None
    if record.tombstones:
        arrays.append(
            pa.array([item.get("status") == "deleted" for item in items], pa.bool_())
        )
    return pa.RecordBatch.from_arrays(arrays, schema=record.schema)
