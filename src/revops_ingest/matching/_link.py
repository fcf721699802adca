"""Link tickets and events to accounts by e-mail address and domain, never by text."""

from __future__ import annotations

import typing

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest.exceptions import ConfigurationError, SchemaError
from revops_ingest.matching._arrow import (
    as_table,
    column_or_null,
    require_columns,
    text,
)
from revops_ingest.matching._normalise import Normaliser, _hosts, default_normaliser


if typing.TYPE_CHECKING:
    from collections.abc import Sequence

    from revops_ingest.matching._arrow import AnyArray


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = ["LINK_COLUMNS", "link_by_domain"]

#: Columns :func:`link_by_domain` appends, in order.
LINK_COLUMNS = (
    "linked_account_id",
    "link_rule",
    "link_key",
    "link_status",
    "link_reason",
)

# Not pa.scalar(None, ...): that probes for pandas (a second of import time).
_NULL = pa.nulls(1, pa.large_string())[0]


class _Lookup(typing.NamedTuple):
    """Distinct keys, the account of each (null if several), and how many."""

    keys: AnyArray
    account: AnyArray
    counts: np.ndarray[typing.Any, np.dtype[np.int64]]


def _lookup(keys: AnyArray, accounts: AnyArray) -> _Lookup:
    table = pa.table({"key": keys, "account": accounts}).filter(
        pc.and_(pc.is_valid(keys), pc.is_valid(accounts))
    )
    grouped = table.group_by("key", use_threads=False).aggregate(
        [("account", "count_distinct"), ("account", "min")]
    )
    grouped = grouped.sort_by([("key", "ascending")])
    count = np.asarray(grouped.column("account_count_distinct").to_numpy(), np.int64)
    account = pc.if_else(
        pa.array(count == 1), grouped.column("account_min"), _NULL
    ).combine_chunks()
    return _Lookup(grouped.column("key").combine_chunks(), account, count)


def _email_lookup(
    table: object | None, *, what: str, normaliser: Normaliser
) -> _Lookup | None:
    if table is None:
        return None
    data = as_table(table, what=what)
    require_columns(data, ("email", "account_id"), what=what)
    return _lookup(
        normaliser.email_addresses(data.column("email")), text(data, "account_id")
    )


def _domain_mapping(table: object | None, *, normaliser: Normaliser) -> _Lookup | None:
    if table is None:
        return None
    data = as_table(table, what="domain_mapping")
    require_columns(data, ("domain", "account_id"), what="domain_mapping")
    raw = text(data, "domain")
    keys = normaliser.domain_keys(raw)
    unusable = pc.and_(pc.is_valid(raw), pc.is_null(keys))
    if pc.any(unusable).as_py():
        bad = sorted({str(d) for d in raw.filter(unusable).to_pylist()})[:5]
        raise ConfigurationError(
            f"domain_mapping lists domains that can never be keys: {bad} (free mail, "
            "ISP, social or hosting hosts, bare public suffixes or malformed); map "
            "such requesters by address through contacts= or email_mapping="
        )
    return _lookup(keys, text(data, "account_id"))


def _account_index(accounts: object, *, normaliser: Normaliser) -> _Lookup:
    data = as_table(accounts, what="accounts")
    require_columns(data, ("account_id",), what="accounts")
    if normaliser.is_normalised(data):
        keys = text(data, "domain_key")
    else:
        if not {"domain", "website"} & set(data.column_names):
            raise SchemaError(
                "accounts needs a 'domain' or 'website' column", column="domain"
            )
        keys = normaliser.domain_keys(column_or_null(data, ("domain", "website")))
    return _lookup(keys, text(data, "account_id"))


def _organization_keys(
    records: pa.Table, columns: Sequence[str], *, normaliser: Normaliser
) -> tuple[np.ndarray[typing.Any, np.dtype[np.int64]], AnyArray]:
    """(record index, domain key) for every organization domain of every record."""
    parents: list[np.ndarray[typing.Any, np.dtype[np.int64]]] = []
    values: list[AnyArray] = []
    for name in columns:
        column = records.column(name)
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            combined = column.combine_chunks()
            parents.append(
                np.asarray(pc.list_parent_indices(combined).to_numpy(), np.int64)
            )
            values.append(pc.cast(pc.list_flatten(combined), pa.large_string()))
        else:
            parents.append(np.arange(records.num_rows, dtype=np.int64))
            values.append(text(records, name))
    if not values:
        return np.zeros(0, np.int64), pa.array([], pa.large_string())
    keys = normaliser.domain_keys(pa.concat_arrays(values))
    return np.concatenate(parents), keys


def link_by_domain(
    records: object,
    *,
    accounts: object,
    email_column: str = "requester_email",
    domain_columns: Sequence[str] = (),
    domain_mapping: object | None = None,
    contacts: object | None = None,
    email_mapping: object | None = None,
    normaliser: Normaliser | None = None,
) -> pa.Table:
    """Link tickets, events or any records with an e-mail address to accounts.

    Each record is looked up in this order, and the first lookup that knows its key
    decides (a key shared by several accounts makes the record ``ambiguous``; it is
    not passed on to a vaguer lookup):

    1. ``email_mapping``: a manual address map (``email``, ``account_id``), for
       free-mail requesters a human has placed;
    2. ``contacts``: the CRM's contacts (``email``, ``account_id``);
    3. ``domain_mapping``: ``/RevOps/Reference/account_domain_mapping``
       (``domain``, ``account_id``), by the address's domain key;
    4. the accounts' own domain keys;
    5. the record's organization domains (*domain_columns*, strings or lists, as
       Zendesk's ``organization.domain_names``), through 3 and 4; linked if they
       point at exactly one account.

    Free-mail, ISP and other excluded domains never give a key, so such requesters
    link only through 1 and 2. Nothing is matched on names or ticket text.

    Args:
        records: The tickets or events (anything with ``__arrow_c_stream__``).
        accounts: ``account_id`` and ``domain`` or ``website`` (or a table from
            :func:`~revops_ingest.matching.normalise_accounts`).
        email_column: The column holding the requester's address.
        domain_columns: Columns holding organization domains.
        domain_mapping: The reference table of domains.
        contacts: Known contacts.
        email_mapping: Manual address map.
        normaliser: The lists and PSL; the shipped defaults if omitted.

    Returns:
        *records*, in their order, with :data:`LINK_COLUMNS` appended:
        ``linked_account_id``, ``link_rule`` (``email_mapping``, ``contact_email``,
        ``domain_mapping``, ``account_domain``, ``organization_domain``),
        ``link_key`` (the address or domain key looked up), ``link_status``
        (``linked``, ``ambiguous``, ``unlinked``) and ``link_reason``.

    Raises:
        SchemaError: If a column is missing or an output column already exists.
        ConfigurationError: If ``domain_mapping`` lists a domain that can never be
            a key (such as gmail.com).
    """
    normaliser = normaliser or default_normaliser()
    table = as_table(records, what="records")
    require_columns(table, (email_column, *domain_columns), what="records")
    clash = [c for c in LINK_COLUMNS if c in table.column_names]
    if clash:
        raise SchemaError(f"records already have columns {clash}", column=clash[0])
    n = table.num_rows
    emails = normaliser.email_addresses(table.column(email_column))
    email_keys = normaliser.domain_keys(emails)
    by_address = [
        (
            "email_mapping",
            _email_lookup(email_mapping, what="email_mapping", normaliser=normaliser),
        ),
        (
            "contact_email",
            _email_lookup(contacts, what="contacts", normaliser=normaliser),
        ),
    ]
    mapping = _domain_mapping(domain_mapping, normaliser=normaliser)
    index = _account_index(accounts, normaliser=normaliser)
    account = np.full(n, None, dtype=object)
    rule = np.full(n, None, dtype=object)
    key = np.full(n, None, dtype=object)
    status = np.full(n, "unlinked", dtype=object)
    reason = np.full(n, None, dtype=object)
    open_ = np.ones(n, np.bool_)

    def apply(name: str, lookup: _Lookup | None, keys: AnyArray) -> None:
        if lookup is None or not len(lookup.keys):
            return
        pos = pc.index_in(keys, lookup.keys)
        hit = np.asarray(pc.is_valid(pos).to_numpy(zero_copy_only=False)) & open_
        if not hit.any():
            return
        where = np.flatnonzero(hit)
        at = np.asarray(pc.take(pos, pa.array(where)).to_numpy(), np.int64)
        count = lookup.counts[at]
        key[where] = pc.take(keys, pa.array(where)).to_numpy(zero_copy_only=False)
        rule[where] = name
        account[where] = pc.take(lookup.account, pa.array(at)).to_numpy(
            zero_copy_only=False
        )
        status[where] = np.where(count == 1, "linked", "ambiguous")
        reason[where] = [
            None if c == 1 else f"{c} accounts share this key" for c in count.tolist()
        ]
        open_[where] = False

    for name, lookup in by_address:
        apply(name, lookup, emails)
    apply("domain_mapping", mapping, email_keys)
    apply("account_domain", index, email_keys)
    if domain_columns and open_.any():
        _apply_organizations(
            table,
            columns=domain_columns,
            normaliser=normaliser,
            mapping=mapping,
            index=index,
            open_=open_,
            account=account,
            rule=rule,
            key=key,
            status=status,
            reason=reason,
        )
    hosts = _hosts(emails)
    no_email = np.asarray(pc.is_null(emails).to_numpy(zero_copy_only=False))
    no_key = np.asarray(pc.is_null(email_keys).to_numpy(zero_copy_only=False))
    has_host = np.asarray(pc.is_valid(hosts).to_numpy(zero_copy_only=False))
    unlinked = status == "unlinked"
    reason[unlinked & no_email] = "no usable e-mail address"
    reason[unlinked & ~no_email & no_key & has_host] = (
        "free-mail, ISP or other excluded domain, and no contact or manual entry"
    )
    reason[unlinked & ~no_email & ~no_key] = "no account or mapping has this domain"
    key[unlinked & ~no_key] = email_keys.filter(pa.array(unlinked & ~no_key)).to_numpy(
        zero_copy_only=False
    )
    out = {
        "linked_account_id": account,
        "link_rule": rule,
        "link_key": key,
        "link_status": status,
        "link_reason": reason,
    }
    for name in LINK_COLUMNS:
        table = table.append_column(name, pa.array(out[name].tolist(), pa.string()))
    return table


def _apply_organizations(
    table: pa.Table,
    *,
    columns: Sequence[str],
    normaliser: Normaliser,
    mapping: _Lookup | None,
    index: _Lookup,
    open_: np.ndarray[typing.Any, np.dtype[np.bool_]],
    account: np.ndarray[typing.Any, np.dtype[np.object_]],
    rule: np.ndarray[typing.Any, np.dtype[np.object_]],
    key: np.ndarray[typing.Any, np.dtype[np.object_]],
    status: np.ndarray[typing.Any, np.dtype[np.object_]],
    reason: np.ndarray[typing.Any, np.dtype[np.object_]],
) -> None:
    parents, keys = _organization_keys(table, columns, normaliser=normaliser)
    if not len(parents):
        return
    found = pa.nulls(len(keys), pa.large_string())
    counted = np.zeros(len(keys), np.int64)
    for lookup in (mapping, index):
        if lookup is None or not len(lookup.keys):
            continue
        pos = pc.index_in(keys, lookup.keys)
        fresh = pc.and_(pc.is_valid(pos), pa.array(counted == 0))
        at = pc.fill_null(pos, 0)
        found = pc.if_else(fresh, pc.take(lookup.account, at), found)
        fresh_np = np.asarray(fresh.to_numpy(zero_copy_only=False))
        counted = np.where(
            fresh_np, lookup.counts[np.asarray(at.to_numpy(), np.int64)], counted
        )
    usable = (counted > 0) & open_[parents]
    if not usable.any():
        return
    pairs = pa.table(
        {
            "record": pa.array(parents[usable]),
            "account": pc.fill_null(pc.filter(found, pa.array(usable)), "\0ambiguous"),
            "key": pc.filter(keys, pa.array(usable)),
        }
    )
    grouped = pairs.group_by("record", use_threads=False).aggregate(
        [("account", "count_distinct"), ("account", "min"), ("key", "min")]
    )
    records = np.asarray(grouped.column("record").to_numpy(), np.int64)
    distinct = np.asarray(grouped.column("account_count_distinct").to_numpy(), np.int64)
    first = grouped.column("account_min").to_pylist()
    keys_min = grouped.column("key_min").to_pylist()
    for r, d, acc, k in zip(
        records.tolist(), distinct.tolist(), first, keys_min, strict=True
    ):
        single = d == 1 and acc != "\0ambiguous"
        account[r] = acc if single else None
        rule[r] = "organization_domain"
        key[r] = k
        status[r] = "linked" if single else "ambiguous"
        reason[r] = None if single else "organization domains point at several accounts"
        open_[r] = False
