"""Zendesk raw tickets into ``/RevOps/Telemetry/support_tickets``, and its summary.

Pure functions, Arrow in and Arrow out, no IO:

- :func:`stage_support_tickets` keeps the latest version of each ticket in
  ``/Zendesk/Raw/Tickets``, drops deleted tickets, looks up the requester (e-mail)
  and the organization (name, ``domain_names``), and links each ticket to an account
  with :func:`revops_ingest.matching.link_by_domain`: first the requester's e-mail
  domain in ``/RevOps/Reference/account_domain_mapping``, then the organization's
  domains. Free-mail domains never link; unlinked tickets are kept with a null
  ``account_id`` and counted.
- :func:`support_summary` turns the staged tickets into one row per account:
  open tickets, recent volume, resolution and first-response times, satisfaction.

Both give the same answer for the same rows in any order, and landing a raw row
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import types
import typing

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest._tables import require_columns
from revops_ingest.matching import link_by_domain
from revops_ingest.matching._normalise import default_normaliser


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from revops_ingest.matching import Normaliser


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them.
pc: typing.Any = _compute
_nulls: typing.Any = pa.nulls

__all__ = [
    "OPEN_STATUSES",
    "SUPPORT_SUMMARY",
    "SUPPORT_SUMMARY_SCHEMA",
    "SUPPORT_TICKETS",
    "SUPPORT_TICKETS_SCHEMA",
    "SupportTicketsReport",
    "stage_support_tickets",
    "support_summary",
]

SUPPORT_TICKETS = "/RevOps/Telemetry/support_tickets"
"""Where the staged tickets are written."""

SUPPORT_SUMMARY = "/RevOps/Telemetry/support_summary"
"""Where the per-account summary of the staged tickets is written."""

OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})
"""Statuses of a ticket that still needs work."""

_TS = pa.timestamp("ms", tz="UTC")
_SOURCE = "Zendesk"


def _schema(fields: list[pa.Field[typing.Any]]) -> pa.Schema:
    return pa.schema(fields)


SUPPORT_TICKETS_SCHEMA = _schema(
    [
        pa.field("ticket_id", pa.int64(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("link_method", pa.string()),
        pa.field("link_status", pa.string()),
        pa.field("link_reason", pa.string()),
        pa.field("requester_id", pa.int64()),
        pa.field("requester_email", pa.string()),
        pa.field("requester_domain", pa.string()),
        pa.field("organization_id", pa.int64()),
        pa.field("organization_name", pa.string()),
        pa.field("status", pa.string()),
        pa.field("is_open", pa.bool_()),
        pa.field("priority", pa.string()),
        pa.field("type", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("via_channel", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("created_at", _TS),
        pa.field("updated_at", _TS),
        pa.field("solved_at", _TS),
        pa.field("first_response_minutes", pa.int64()),
        pa.field("resolution_minutes", pa.int64()),
        pa.field("reopens", pa.int64()),
        pa.field("satisfaction_score", pa.string()),
        pa.field("source_system", pa.string(), nullable=False),
    ]
)
"""Columns of ``/RevOps/Telemetry/support_tickets``, one row per live ticket."""

SUPPORT_SUMMARY_SCHEMA = _schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("as_of", _TS, nullable=False),
        pa.field("tickets_total", pa.int64(), nullable=False),
        pa.field("open_tickets", pa.int64(), nullable=False),
        pa.field("urgent_open_tickets", pa.int64(), nullable=False),
        pa.field("tickets_last_30d", pa.int64(), nullable=False),
        pa.field("solved_last_30d", pa.int64(), nullable=False),
        pa.field("median_resolution_hours", pa.float64()),
        pa.field("median_first_response_hours", pa.float64()),
        pa.field("oldest_open_ticket_days", pa.float64()),
        pa.field("satisfaction_good", pa.int64(), nullable=False),
        pa.field("satisfaction_bad", pa.int64(), nullable=False),
        pa.field("csat", pa.float64()),
        pa.field("last_ticket_at", _TS),
    ]
)
"""Columns of :func:`support_summary`: one row per account with tickets."""

_RAW_TICKET_COLUMNS = ("id", "status", "requester_id", "created_at", "updated_at")


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class SupportTicketsReport:
    """What :func:`stage_support_tickets` did; the counts add up.

    ``rows_in == rows_out + superseded + deleted + missing_id`` and
    ``rows_out == linked + ambiguous + unlinked``.

    Attributes:
        rows_in: Raw ticket rows read (every version).
        rows_out: Staged tickets.
        superseded: Older versions replaced by a newer one of the same ticket.
        deleted: Tickets whose latest version is deleted; dropped.
        missing_id: Raw rows without an id; dropped.
        linked: Tickets linked to exactly one account.
        ambiguous: Tickets whose key points at several accounts (null account).
        unlinked: Tickets no lookup knew (null account), such as free mail.
        by_method: Linked tickets per ``link_method``.
        unknown_requesters: Tickets whose requester is not in the users table.
        unknown_organizations: Tickets whose organization is not in the
            organizations table.
    """

    rows_in: int
    rows_out: int
    superseded: int
    deleted: int
    missing_id: int
    linked: int
    ambiguous: int
    unlinked: int
    by_method: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    unknown_requesters: int = 0
    unknown_organizations: int = 0


def _column(table: pa.Table, name: str, type_: pa.DataType) -> pa.Array[typing.Any]:
    """*name* as one array of *type_*, or nulls if the table lacks it."""
    if name not in table.column_names:
        return typing.cast("pa.Array[typing.Any]", _nulls(table.num_rows, type_))
    column: typing.Any = table.column(name).combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return typing.cast("pa.Array[typing.Any]", column.cast(type_))


def _equal_to_next(
    values: pa.Array[typing.Any],
) -> np.ndarray[typing.Any, np.dtype[np.bool_]]:
    """Row *i* equals row *i + 1* (two nulls are equal)."""
    head, tail = values[:-1], values[1:]
    equal = pc.fill_null(pc.equal(head, tail), fill_value=False)
    both_null = pc.and_(pc.is_null(head), pc.is_null(tail))
    return np.asarray(pc.or_(equal, both_null).to_numpy(zero_copy_only=False), np.bool_)


def _latest(table: pa.Table, stamp_names: Sequence[str]) -> pa.Table:
    """The latest row per ``id``: the newest stamps, then the latest sync.

    The order of the rows does not matter: rows that tie on id, stamps and sync are
    decided by their own values (as text), so different rows with equal stamps
    always resolve the same way, and exact duplicates are interchangeable.
    """
    n = table.num_rows
    if n == 0:
        return table
    # A missing stamp or sync id sorts first (is the oldest): nulls are filled
    # with the smallest value rather than placed, which pyarrow versions disagree on.
    keys: dict[str, pa.Array[typing.Any]] = {"id": _column(table, "id", pa.int64())}
    for index, name in enumerate(stamp_names):
        stamps = _column(table, name, _TS).cast(pa.int64())
        keys[f"_s{index}"] = pc.fill_null(stamps, -(2**62))
    keys["_sync"] = pc.fill_null(_column(table, "_sync_id", pa.string()), "")
    names = list(keys)
    keys["_row"] = pa.array(np.arange(n, dtype=np.int64))
    ordered = pa.table(keys).sort_by([(name, "ascending") for name in names])
    rows = ordered.column("_row").to_numpy()
    same = np.ones(n - 1, np.bool_)
    for name in names:
        same &= _equal_to_next(ordered.column(name).combine_chunks())
    id_same = _equal_to_next(ordered.column("id").combine_chunks())
    last = np.flatnonzero(np.append(~id_same, True))
    chosen = rows[last]
    for slot, end in enumerate(last.tolist()):
        begin = end
        while begin > 0 and same[begin - 1]:
            begin -= 1
        if begin < end:  # rows that tie: the greatest by content wins
            tied = rows[begin : end + 1]
            texts = [
                repr(sorted(row.items()))
                for row in table.take(pa.array(tied)).to_pylist()
            ]
            chosen[slot] = tied[texts.index(max(texts))]
    return table.take(pa.array(chosen))


def _deleted(table: pa.Table) -> np.ndarray[typing.Any, np.dtype[np.bool_]]:
    status = _column(table, "status", pa.string())
    deleted = pc.fill_null(pc.equal(status, "deleted"), fill_value=False)
    if "_tombstone" in table.column_names:
        tomb = pc.fill_null(_column(table, "_tombstone", pa.bool_()), fill_value=False)
        deleted = pc.or_(deleted, tomb)
    return np.asarray(deleted.to_numpy(zero_copy_only=False), np.bool_)


def _lookup(
    keys: pa.Array[typing.Any], table: pa.Table, value: str, type_: pa.DataType
) -> tuple[pa.Array[typing.Any], np.ndarray[typing.Any, np.dtype[np.bool_]]]:
    """``table[value]`` where ``table.id == key``; and which keys were found."""
    ids = _column(table, "id", pa.int64())
    position = pc.index_in(keys, ids)
    found = np.asarray(pc.is_valid(position).to_numpy(zero_copy_only=False), np.bool_)
    values = _column(table, value, type_)
    return pc.take(values, position), found


def _satisfaction(values: pa.Array[typing.Any]) -> pa.Array[typing.Any]:
    score = pc.extract_regex(values, r'"score":"(?P<score>[a-z_]+)"')
    return typing.cast("pa.Array[typing.Any]", pc.struct_field(score, "score"))


def stage_support_tickets(
    tickets: pa.Table,
    users: pa.Table,
    organizations: pa.Table,
    domain_mapping: pa.Table | None,
    *,
    accounts: pa.Table | None = None,
    normaliser: Normaliser | None = None,
) -> tuple[pa.Table, SupportTicketsReport]:
    """Stage Zendesk tickets for ``/RevOps/Telemetry/support_tickets``.

    Args:
        tickets: ``/Zendesk/Raw/Tickets`` (every version; ``_tombstone`` and
            ``_sync_id`` are used when present).
        users: ``/Zendesk/Raw/Users`` (every version): the requesters' e-mails.
        organizations: ``/Zendesk/Raw/Organizations`` (every version): names and
            ``domain_names``.
        domain_mapping: ``/RevOps/Reference/account_domain_mapping`` (``domain``,
            ``account_id``), or ``None`` to link by *accounts* only.
        accounts: Optional accounts (``account_id`` and ``domain`` or ``website``)
            whose own domains are looked up after the mapping.
        normaliser: The domain normaliser; the matching module's default if omitted.

    Returns:
        The staged tickets (:data:`SUPPORT_TICKETS_SCHEMA`, sorted by
        ``ticket_id``) and a :class:`SupportTicketsReport`. ``link_method`` says how
        the account was found: ``domain_mapping`` (the requester's e-mail domain),
        ``account_domain`` (an account's own domain), ``organization_domain`` (the
        organization's ``domain_names``); it is null for unlinked tickets.

    Raises:
        SchemaError: An input lacks a column it needs.
        ConfigurationError: The mapping lists a domain that can never be a key
            (such as gmail.com).
    """
    require_columns(tickets, _RAW_TICKET_COLUMNS, what="the Zendesk tickets")
    require_columns(users, ("id", "email", "updated_at"), what="the Zendesk users")
    require_columns(
        organizations, ("id", "name", "updated_at"), what="the Zendesk organizations"
    )
    rows_in = tickets.num_rows
    has_id = pc.is_valid(_column(tickets, "id", pa.int64()))
    missing_id = rows_in - int(pc.sum(has_id.cast(pa.int64())).as_py() or 0)
    tickets = tickets.filter(has_id)
    latest = _latest(tickets, ("generated_timestamp", "updated_at"))
    superseded = tickets.num_rows - latest.num_rows
    deleted_mask = _deleted(latest)
    live = latest.filter(pa.array(~deleted_mask))
    users_now = _latest(
        users.filter(pc.is_valid(_column(users, "id", pa.int64()))), ("updated_at",)
    )
    orgs_now = _latest(
        organizations.filter(pc.is_valid(_column(organizations, "id", pa.int64()))),
        ("updated_at",),
    )

    requester = _column(live, "requester_id", pa.int64())
    email, user_found = _lookup(requester, users_now, "email", pa.string())
    user_org, _ = _lookup(requester, users_now, "organization_id", pa.int64())
    ticket_org = _column(live, "organization_id", pa.int64())
    org_id = pc.coalesce(ticket_org, user_org)
    org_name, org_found = _lookup(org_id, orgs_now, "name", pa.string())
    domains, _ = _lookup(org_id, orgs_now, "domain_names", pa.list_(pa.string()))
    org_deleted, _ = _lookup(org_id, orgs_now, "deleted_at", _TS)
    domains = pc.if_else(
        pc.is_valid(org_deleted), _nulls(len(domains), domains.type), domains
    )

    normaliser = normaliser or default_normaliser()
    records = pa.table({"requester_email": email, "organization_domains": domains})
    empty_accounts = pa.table(
        {"account_id": pa.array([], pa.string()), "domain": pa.array([], pa.string())}
    )
    linked = link_by_domain(
        records,
        accounts=accounts if accounts is not None else empty_accounts,
        domain_columns=["organization_domains"],
        domain_mapping=domain_mapping,
        normaliser=normaliser,
    )
    status = _column(live, "status", pa.string())
    link_status = linked.column("link_status").combine_chunks()
    is_linked = pc.equal(link_status, "linked")
    account = pc.if_else(
        is_linked,
        linked.column("linked_account_id").combine_chunks(),
        pa.scalar(None, pa.string()),
    )
    method = pc.if_else(
        is_linked,
        linked.column("link_rule").combine_chunks(),
        pa.scalar(None, pa.string()),
    )
    metric_solved = _column(live, "metric_solved_at", _TS)
    columns: dict[str, pa.Array[typing.Any]] = {
        "ticket_id": _column(live, "id", pa.int64()),
        "account_id": account,
        "link_method": method,
        "link_status": link_status,
        "link_reason": linked.column("link_reason").combine_chunks(),
        "requester_id": requester,
        "requester_email": email,
        "requester_domain": normaliser.domain_keys(email).cast(pa.string()),
        "organization_id": org_id,
        "organization_name": org_name,
        "status": status,
        "is_open": pc.is_in(status, pa.array(sorted(OPEN_STATUSES))),
        "priority": _column(live, "priority", pa.string()),
        "type": _column(live, "type", pa.string()),
        "subject": _column(live, "subject", pa.string()),
        "via_channel": _column(live, "via_channel", pa.string()),
        "tags": _column(live, "tags", pa.list_(pa.string())),
        "created_at": _column(live, "created_at", _TS),
        "updated_at": _column(live, "updated_at", _TS),
        "solved_at": metric_solved,
        "first_response_minutes": _column(
            live, "metric_reply_time_in_minutes", pa.int64()
        ),
        "resolution_minutes": _column(
            live, "metric_full_resolution_time_in_minutes", pa.int64()
        ),
        "reopens": _column(live, "metric_reopens", pa.int64()),
        "satisfaction_score": _satisfaction(
            _column(live, "satisfaction_rating", pa.string())
        ),
        "source_system": pa.array([_SOURCE] * live.num_rows, pa.string()),
    }
    staged = pa.table(
        [columns[f.name].cast(f.type) for f in SUPPORT_TICKETS_SCHEMA],
        schema=SUPPORT_TICKETS_SCHEMA,
    ).sort_by([("ticket_id", "ascending")])

    statuses = link_status.to_pylist()
    methods = [m for m in method.to_pylist() if m is not None]
    has_requester = np.asarray(pc.is_valid(requester).to_numpy(zero_copy_only=False))
    has_org = np.asarray(pc.is_valid(org_id).to_numpy(zero_copy_only=False))
    report = SupportTicketsReport(
        rows_in=rows_in,
        rows_out=staged.num_rows,
        superseded=superseded,
        deleted=int(deleted_mask.sum()),
        missing_id=missing_id,
        linked=statuses.count("linked"),
        ambiguous=statuses.count("ambiguous"),
        unlinked=statuses.count("unlinked"),
        by_method={m: methods.count(m) for m in set(methods)},
        unknown_requesters=int((has_requester & ~user_found).sum()),
        unknown_organizations=int((has_org & ~org_found).sum()),
    )
    return staged, report


def _median_hours(
    groups: np.ndarray[typing.Any, np.dtype[np.int64]],
    values: np.ndarray[typing.Any, np.dtype[np.float64]],
    count: int,
) -> list[float | None]:
    """Median of *values* (minutes, NaN for none) per group index, in hours."""
    result: list[float | None] = [None] * count
    ok = ~np.isnan(values)
    groups, values = groups[ok], values[ok]
    if not len(values):
        return result
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    bounds = np.flatnonzero(np.diff(groups)) + 1
    for chunk_groups, chunk in zip(
        np.split(groups, bounds), np.split(values, bounds), strict=True
    ):
        result[int(chunk_groups[0])] = float(np.median(chunk)) / 60.0
    return result


def support_summary(support_tickets: pa.Table, as_of: dt.datetime) -> pa.Table:
    """One row per account: the support health of its tickets at *as_of*.

    Only linked tickets created at or before *as_of* count. ``tickets_last_30d`` and
    ``solved_last_30d`` look at ``created_at`` and ``solved_at`` in the 30 days up
    to *as_of*; the medians are over solved tickets (``resolution_minutes``, else
    ``solved_at - created_at``; ``first_response_minutes``); ``csat`` is good / (good
    + bad) ratings.

    Args:
        support_tickets: The output of :func:`stage_support_tickets`.
        as_of: The moment to summarise at (an aware datetime).

    Returns:
        :data:`SUPPORT_SUMMARY_SCHEMA`, sorted by ``account_id``.

    Raises:
        SchemaError: A needed column is missing.
        ValueError: *as_of* has no time zone.
    """
    if as_of.tzinfo is None:
        msg = "as_of must be an aware datetime"
        raise ValueError(msg)
    require_columns(
        support_tickets,
        ("account_id", "status", "priority", "created_at", "solved_at"),
        what="the support tickets",
    )
    cut = pa.scalar(as_of.astimezone(dt.timezone.utc), _TS)
    month = pa.scalar(as_of.astimezone(dt.timezone.utc) - dt.timedelta(days=30), _TS)
    table = support_tickets.filter(
        pc.and_(
            pc.is_valid(support_tickets.column("account_id")),
            pc.fill_null(
                pc.less_equal(support_tickets.column("created_at"), cut),
                fill_value=False,
            ),
        )
    )
    accounts = pc.unique(table.column("account_id").combine_chunks())
    accounts = pc.take(accounts, pc.sort_indices(accounts))
    n = len(accounts)
    group = np.asarray(
        pc.index_in(table.column("account_id"), accounts).to_numpy(), np.int64
    )

    def flag(
        values: pa.Array[typing.Any] | pa.ChunkedArray[typing.Any],
    ) -> np.ndarray[typing.Any, np.dtype[np.bool_]]:
        return np.asarray(
            pc.fill_null(values, fill_value=False).to_numpy(zero_copy_only=False),
            np.bool_,
        )

    def count(mask: np.ndarray[typing.Any, np.dtype[np.bool_]]) -> pa.Array[typing.Any]:
        return pa.array(np.bincount(group[mask], minlength=n).astype(np.int64))

    status = table.column("status")
    is_open = flag(pc.is_in(status, pa.array(sorted(OPEN_STATUSES))))
    urgent = flag(pc.is_in(table.column("priority"), pa.array(["high", "urgent"])))
    created = table.column("created_at")
    solved_at = table.column("solved_at")
    solved = flag(pc.less_equal(solved_at, cut)) & ~is_open
    recent = flag(pc.greater(created, month))
    solved_recent = solved & flag(pc.greater(solved_at, month))

    spans = pc.divide(
        pc.cast(pc.milliseconds_between(created, solved_at), pa.float64()), 60_000.0
    )
    resolution = _column(table, "resolution_minutes", pa.float64())
    resolution = pc.coalesce(resolution, spans)
    resolution_np = np.asarray(resolution.to_numpy(zero_copy_only=False), np.float64)
    resolution_np = np.where(solved, resolution_np, np.nan)
    first = np.asarray(
        _column(table, "first_response_minutes", pa.float64()).to_numpy(
            zero_copy_only=False
        ),
        np.float64,
    )

    age_days = np.asarray(
        pc.divide(
            pc.cast(pc.milliseconds_between(created, cut), pa.float64()), 86_400_000.0
        ).to_numpy(zero_copy_only=False),
        np.float64,
    )
    oldest: list[float | None] = [None] * n
    for g, age in zip(group[is_open].tolist(), age_days[is_open].tolist(), strict=True):
        current = oldest[g]
        oldest[g] = age if current is None else max(current, age)

    score = _column(table, "satisfaction_score", pa.string())
    good = flag(pc.equal(score, "good"))
    bad = flag(pc.equal(score, "bad"))
    good_n = np.bincount(group[good], minlength=n)
    bad_n = np.bincount(group[bad], minlength=n)
    rated = good_n + bad_n
    csat = [
        float(g) / float(r) if r else None
        for g, r in zip(good_n.tolist(), rated.tolist(), strict=True)
    ]
    last: list[typing.Any] = [None] * n
    for g, when in zip(group.tolist(), created.to_pylist(), strict=True):
        if when is not None and (last[g] is None or when > last[g]):
            last[g] = when

    columns: dict[str, typing.Any] = {
        "account_id": accounts,
        "as_of": pa.array([cut.as_py()] * n, _TS),
        "tickets_total": count(np.ones(len(group), np.bool_)),
        "open_tickets": count(is_open),
        "urgent_open_tickets": count(is_open & urgent),
        "tickets_last_30d": count(recent),
        "solved_last_30d": count(solved_recent),
        "median_resolution_hours": pa.array(
            _median_hours(group, resolution_np, n), pa.float64()
        ),
        "median_first_response_hours": pa.array(
            _median_hours(group, first, n), pa.float64()
        ),
        "oldest_open_ticket_days": pa.array(oldest, pa.float64()),
        "satisfaction_good": pa.array(good_n.astype(np.int64)),
        "satisfaction_bad": pa.array(bad_n.astype(np.int64)),
        "csat": pa.array(csat, pa.float64()),
        "last_ticket_at": pa.array(last, _TS),
    }
    return pa.table(
        [columns[f.name].cast(f.type) for f in SUPPORT_SUMMARY_SCHEMA],
        schema=SUPPORT_SUMMARY_SCHEMA,
    )
