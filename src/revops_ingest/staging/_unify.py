"""Salesforce + HubSpot into one staging table per kind, deduplicated.

The seed keeps one unified ``accounts`` and ``opportunities`` table for
organisations that run both CRMs (``/RevOps/Staging/opportunities  <- Salesforce +
HubSpot (deduped)``), with a primary source per object type (its
``PRIMARY_SOURCE``). These functions take the per-source staged tables (the
canonical schemas, see :mod:`revops_ingest.staging`) and merge them:

* **Accounts**: a Salesforce account and a HubSpot company are one company when the
  HubSpot-Salesforce integration says so (the company's ``salesforceaccountid``,
  staged as ``salesforce_account_id``), else when the matching rules link them
  (:func:`revops_ingest.matching.match_accounts`: exact domain, fuzzy name, manual
  entries). Several HubSpot companies naming one Salesforce account (duplicates in
  HubSpot) all fold into it.
* **Opportunities**: a deal is the same as an opportunity when the integration's
  cross id says so, else when both sit on the same unified account, have the same
  normalised name and close within ``close_window_days`` of each other (one to
  one, nearest close date first).

A merged row is the primary source's record, with the other record filling its
nulls; the lineage columns (``source_system``, ``source_id``, ...) are the primary
record's, and link columns name both ids and how they were linked. Pure functions:
Arrow tables in, Arrow tables out, deterministic.
"""

from __future__ import annotations

import re
import types
import typing
import unicodedata

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from revops_ingest._tables import require_columns
from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging._config import _rows
from revops_ingest.staging._schemas import LINEAGE, Column


if typing.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


__all__ = [
    "ACCOUNT_LINK_COLUMNS",
    "DEFAULT_PRIMARY_SOURCE",
    "OPPORTUNITY_LINK_COLUMNS",
    "PRIMARY_SOURCE_DATASET",
    "UnifiedTable",
    "UnifyReport",
    "primary_source_from_table",
    "unify_accounts",
    "unify_opportunities",
    "unify_records",
]

SALESFORCE, HUBSPOT = "Salesforce", "HubSpot"
_SYSTEMS = (SALESFORCE, HUBSPOT)

PRIMARY_SOURCE_DATASET = "/RevOps/Config/primary_source"
"""Config dataset: ``object_type`` -> ``source_system`` (the seed's PRIMARY_SOURCE)."""

DEFAULT_PRIMARY_SOURCE: Mapping[str, str] = types.MappingProxyType(
    {
        "opportunities": SALESFORCE,
        "accounts": SALESFORCE,
        "contacts": SALESFORCE,
        "activities": SALESFORCE,
        "marketing_activities": HUBSPOT,
    }
)
"""The seed's primary source per object type; the config dataset overrides it."""


def _c(name: str, kind: typing.Any, description: str) -> Column:
    return Column(name=name, kind=kind, description=description)


ACCOUNT_LINK_COLUMNS: tuple[Column, ...] = (
    _c("salesforce_account_id", "string", "The Salesforce Account Id, if any."),
    _c(
        "hubspot_company_id",
        "string",
        "The HubSpot company id, if any (the "
        "smallest, when several HubSpot companies are one account).",
    ),
    _c(
        "merged_source_ids",
        "string",
        "Every source record folded into this row, "
        "as 'System:id', comma-separated, primary first.",
    ),
    _c(
        "match_rule",
        "string",
        "How the systems' records were linked: crm_link "
        "(the integration's cross id), exact_domain, fuzzy_name, manual; null for a "
        "record in one system only.",
    ),
    _c(
        "match_score",
        "float",
        "The link's score (100 for crm_link and exact domain links).",
    ),
)
"""Columns the unified ``accounts`` table has before the lineage columns."""

OPPORTUNITY_LINK_COLUMNS: tuple[Column, ...] = (
    _c("salesforce_opportunity_id", "string", "The Salesforce Opportunity Id, if any."),
    _c("hubspot_deal_id", "string", "The HubSpot deal id, if any."),
    _c(
        "merge_rule",
        "string",
        "How the two records were found to be one deal: "
        "crm_link (the integration's cross id) or account_name_close_date; null for "
        "a deal in one system only.",
    ),
)
"""Columns the unified ``opportunities`` table has before the lineage columns."""

_ID_COLUMN = {SALESFORCE: "salesforce_account_id", HUBSPOT: "hubspot_company_id"}
_DEAL_ID_COLUMN = {
    SALESFORCE: "salesforce_opportunity_id",
    HUBSPOT: "hubspot_deal_id",
}
_LINEAGE_NAMES = tuple(c.name for c in LINEAGE)


@attrs.frozen(kw_only=True)
class UnifyReport:
    """What a unification did; the counts add up.

    ``rows_out == sum(rows_in.values()) - merged``.

    Attributes:
        table: ``"accounts"`` or ``"opportunities"``.
        primary: The primary source system.
        rows_in: Staged rows per system.
        rows_out: Unified rows.
        merged: Records folded into another system's record.
        by_rule: Merged records per rule.
        ambiguous: Candidate pairs the matcher abstained on (accounts only).
    """

    table: str
    primary: str
    rows_in: Mapping[str, int]
    rows_out: int
    merged: int
    by_rule: Mapping[str, int]
    ambiguous: int = 0


@attrs.frozen(kw_only=True)
class UnifiedTable:
    """A unified table, the id map it implies, and the report.

    Attributes:
        table: The unified rows.
        id_map: ``source_system``, ``source_id`` -> ``unified_id`` for every input
            record (accounts: what to re-point ``account_id`` columns through).
        report: The counts.
    """

    table: pa.Table
    id_map: pa.Table
    report: UnifyReport


# ------------------------------------------------------------------ config


def primary_source_from_table(table: object) -> dict[str, str]:
    """Read ``/RevOps/Config/primary_source``: ``object_type`` -> ``source_system``.

    The result is the seed's defaults with the table's rows on top.

    Raises:
        ConfigurationError: A column is missing, a value is empty, a system is not
            Salesforce or HubSpot, or an object type is listed twice differently.
    """
    rows = _rows(
        table,
        dataset=PRIMARY_SOURCE_DATASET,
        required=("object_type", "source_system"),
        optional=(),
    )
    result = dict(DEFAULT_PRIMARY_SOURCE)
    seen: dict[str, str] = {}
    for row in rows:
        kind, system = row["object_type"], row["source_system"]
        if system not in _SYSTEMS:
            raise ConfigurationError(
                f"{PRIMARY_SOURCE_DATASET}: {kind!r} -> {system!r}: the source "
                f"system must be one of {', '.join(_SYSTEMS)}"
            )
        if seen.get(kind, system) != system:
            raise ConfigurationError(
                f"{PRIMARY_SOURCE_DATASET}: {kind!r} is given both {seen[kind]!r} "
                f"and {system!r}"
            )
        seen[kind] = system
        result[kind] = system
    return result


def _check_primary(primary: object) -> str:
    if primary not in _SYSTEMS:
        raise ConfigurationError(
            f"primary must be one of {', '.join(_SYSTEMS)}, not {primary!r}"
        )
    return str(primary)


# ------------------------------------------------------------------ merging


@attrs.frozen
class _Pairs:
    """Links between row positions of the Salesforce and HubSpot tables."""

    sf: list[int]
    hs: list[int]
    rule: list[str]
    score: list[float | None]


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded, chunks combined (for take and coalesce)."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)  # noqa: PLW2901
        columns.append(column.combine_chunks())
    return pa.Table.from_arrays(columns, names=table.column_names)


def _take(
    table: pa.Table, name: str, index: pa.Array[typing.Any], type_: pa.DataType
) -> pa.Array[typing.Any]:
    if name not in table.column_names or not len(table):
        return pa.array([None] * len(index), type_)
    column = table.column(name).combine_chunks()
    if column.type != type_:
        column = column.cast(type_)
    return column.take(index)


@attrs.define
class _Rows:
    """The output rows of a merge, as positions into the two staged tables.

    Each output row has a winner (the primary's record, or the only one) and maybe
    another record whose values fill the winner's nulls.
    """

    win: dict[str, list[int | None]] = attrs.Factory(
        lambda: {SALESFORCE: [], HUBSPOT: []}
    )
    other: dict[str, list[int | None]] = attrs.Factory(
        lambda: {SALESFORCE: [], HUBSPOT: []}
    )
    unified: list[str] = attrs.Factory(list)
    sf_id: list[str | None] = attrs.Factory(list)
    hs_id: list[str | None] = attrs.Factory(list)
    members: list[str] = attrs.Factory(list)
    rule: list[str | None] = attrs.Factory(list)
    score: list[float | None] = attrs.Factory(list)
    id_map: list[tuple[str, str, str]] = attrs.Factory(list)

    def add(
        self,
        *,
        winner: tuple[str, int, str],
        other: tuple[str, int, str] | None,
        folded: Sequence[tuple[str, str]],
        link: tuple[str, float | None] | None,
    ) -> None:
        system, row, record_id = winner
        for name in (SALESFORCE, HUBSPOT):
            self.win[name].append(row if name == system else None)
            self.other[name].append(
                other[1] if other is not None and other[0] == name else None
            )
        ids: dict[str, str] = {}
        for name, record_id_ in folded:
            ids.setdefault(name, record_id_)  # the first of a system: the lead
        self.unified.append(record_id)
        self.sf_id.append(ids.get(SALESFORCE))
        self.hs_id.append(ids.get(HUBSPOT))
        self.members.append(",".join(f"{s}:{i}" for s, i in folded))
        self.rule.append(link[0] if link else None)
        self.score.append(link[1] if link else None)
        self.id_map.extend((s, i, record_id) for s, i in folded)


def _merge(
    sf: pa.Table,
    hs: pa.Table,
    pairs: _Pairs,
    *,
    primary: str,
    id_column: str,
    link_ids: Mapping[str, str],
) -> tuple[pa.Table, pa.Table]:
    """One row per real record; the primary's values, the other's filling nulls.

    Returns the merged table (every column of both, the two link id columns and
    work columns ``__merged_source_ids``, ``__rule``, ``__score``) and the id map.
    """
    partners: dict[int, list[int]] = {}
    link_of: dict[int, tuple[str, float | None]] = {}
    for s, h, rule, score in zip(
        pairs.sf, pairs.hs, pairs.rule, pairs.score, strict=True
    ):
        partners.setdefault(s, []).append(h)
        link_of[h] = (rule, score)
    sf_ids = [str(v) for v in sf.column(id_column).to_pylist()]
    hs_ids = [str(v) for v in hs.column(id_column).to_pylist()]
    rows = _Rows()
    for s, sf_id in enumerate(sf_ids):
        found = sorted(partners.get(s, []), key=lambda i: _id_order(hs_ids[i]))
        folded = [(HUBSPOT, hs_ids[h]) for h in found]
        mine = (SALESFORCE, s, sf_id)
        if not found:
            rows.add(winner=mine, other=None, folded=[mine[::2]], link=None)
            continue
        theirs = (HUBSPOT, found[0], hs_ids[found[0]])
        winner, other = (mine, theirs) if primary == SALESFORCE else (theirs, mine)
        ordered = [winner[::2], other[::2], *folded[1:]]
        rows.add(
            winner=winner,
            other=other,
            folded=ordered,
            link=link_of[found[0]],
        )
    paired = set(link_of)
    for h, hs_id in enumerate(hs_ids):
        if h not in paired:
            rows.add(
                winner=(HUBSPOT, h, hs_id),
                other=None,
                folded=[(HUBSPOT, hs_id)],
                link=None,
            )
    columns = _coalesced(sf, hs, rows)
    columns[id_column] = pa.array(rows.unified, pa.string())
    columns[link_ids[SALESFORCE]] = pa.array(rows.sf_id, pa.string())
    columns[link_ids[HUBSPOT]] = pa.array(rows.hs_id, pa.string())
    columns["__merged_source_ids"] = pa.array(rows.members, pa.string())
    columns["__rule"] = pa.array(rows.rule, pa.string())
    columns["__score"] = pa.array(rows.score, pa.float64())
    systems, sources, unified = (
        zip(*rows.id_map, strict=True) if rows.id_map else ((), (), ())
    )
    id_map = pa.table(
        {
            "source_system": pa.array(systems, pa.string()),
            "source_id": pa.array(sources, pa.string()),
            "unified_id": pa.array(unified, pa.string()),
        }
    )
    return pa.table(columns), id_map


def _coalesced(
    sf: pa.Table, hs: pa.Table, rows: _Rows
) -> dict[str, pa.Array[typing.Any]]:
    """Every column of both tables: the winner's value, else the other's."""
    index = {
        (role, system): pa.array(positions, pa.int64())
        for role, by_system in (("win", rows.win), ("other", rows.other))
        for system, positions in by_system.items()
    }
    tables = {SALESFORCE: sf, HUBSPOT: hs}
    names = list(dict.fromkeys([*sf.column_names, *hs.column_names]))
    columns: dict[str, pa.Array[typing.Any]] = {}
    for name in names:
        type_ = (sf if name in sf.column_names else hs).schema.field(name).type
        roles = ("win",) if name in _LINEAGE_NAMES else ("win", "other")
        parts = [
            _take(tables[system], name, index[(role, system)], type_)
            for role in roles
            for system in (SALESFORCE, HUBSPOT)
        ]
        columns[name] = pc.coalesce(*parts)
    return columns


def _id_order(value: object) -> tuple[int, str]:
    """HubSpot ids are numbers: order them as numbers, then as text."""
    text = str(value)
    return (int(text), text) if text.isdigit() else (1 << 62, text)


def _arrange(
    merged: pa.Table, base: Sequence[str], links: Sequence[Column]
) -> pa.Table:
    """Canonical columns, link columns, lineage, then extras; sorted by the key."""
    canonical = [n for n in base if n not in _LINEAGE_NAMES]
    extras = [
        n
        for n in merged.column_names
        if n not in base and not n.startswith("__") and n not in {c.name for c in links}
    ]
    arrays = []
    fields = []
    for name in canonical:
        arrays.append(merged.column(name))
        fields.append(pa.field(name, merged.column(name).type))
    for column in links:
        source = {
            "merged_source_ids": "__merged_source_ids",
            "match_rule": "__rule",
            "merge_rule": "__rule",
            "match_score": "__score",
        }.get(column.name, column.name)
        arrays.append(merged.column(source).cast(column.arrow_type))
        fields.append(pa.field(column.name, column.arrow_type))
    for name in [*_LINEAGE_NAMES, *extras]:
        arrays.append(merged.column(name))
        fields.append(pa.field(name, merged.column(name).type))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return table.sort_by([(canonical[0], "ascending")])


def _staged(table: object | None, key: str, what: str) -> pa.Table:
    if table is None:
        return pa.table({key: pa.array([], pa.string())})
    if not isinstance(table, pa.Table):
        msg = f"{what} must be a pyarrow.Table, not {type(table).__name__}"
        raise TypeError(msg)
    require_columns(table, (key,), what=what)
    return _plain(table)


def _base(sf: pa.Table, hs: pa.Table) -> list[str]:
    """The canonical columns and the lineage columns, in the staged order."""
    source = sf if sf.num_columns > 1 else hs
    names = list(source.column_names)
    if _LINEAGE_NAMES[-1] in names:
        return names[: names.index(_LINEAGE_NAMES[-1]) + 1]
    return names


# ------------------------------------------------------------------ accounts


def unify_accounts(
    salesforce: pa.Table | None,
    hubspot: pa.Table | None,
    *,
    primary: str = SALESFORCE,
    rules: object | None = None,
    manual: object | None = None,
    cross_id_column: str = "salesforce_account_id",
) -> UnifiedTable:
    """Merge staged Salesforce accounts and HubSpot companies into one table.

    Args:
        salesforce: Staged Salesforce accounts (the ``accounts`` schema), or
            ``None``.
        hubspot: Staged HubSpot companies (the ``accounts`` schema, with the
            integration's cross id in *cross_id_column*), or ``None``.
        primary: Whose record wins a merged row: ``"Salesforce"`` or
            ``"HubSpot"``; its id becomes ``account_id``.
        rules: The matching rules (``/RevOps/Config/account_matching_rules``);
            the seed's when ``None``.
        manual: Manual entries (``left_id`` Salesforce, ``right_id`` HubSpot,
            optional ``action`` map/pin/veto).
        cross_id_column: The HubSpot column holding the Salesforce Account Id.

    Returns:
        The unified accounts (canonical columns, then
        :data:`ACCOUNT_LINK_COLUMNS`, then lineage and extra columns, sorted by
        ``account_id``), the id map and the report.

    Raises:
        SchemaError: A table lacks ``account_id``.
        ConfigurationError: *primary*, the rules or the manual entries are invalid.
    """
    from revops_ingest.matching import match_accounts  # noqa: PLC0415 - heavy

    primary = _check_primary(primary)
    sf = _staged(salesforce, "account_id", "the Salesforce accounts")
    hs = _staged(hubspot, "account_id", "the HubSpot companies")
    sf_ids = sf.column("account_id").to_pylist()
    hs_ids = hs.column("account_id").to_pylist()
    sf_row = {str(v): i for i, v in enumerate(sf_ids)}
    pairs = _Pairs([], [], [], [])
    linked_hs: set[int] = set()
    if cross_id_column in hs.column_names:
        for h, cross in enumerate(hs.column(cross_id_column).to_pylist()):
            s = sf_row.get(str(cross)) if cross else None
            if s is not None:
                pairs.sf.append(s)
                pairs.hs.append(h)
                pairs.rule.append("crm_link")
                pairs.score.append(100.0)
                linked_hs.add(h)
    linked_sf = set(pairs.sf)
    ambiguous = 0
    rest_sf = [i for i in range(len(sf)) if i not in linked_sf]
    rest_hs = [i for i in range(len(hs)) if i not in linked_hs]
    if rest_sf and rest_hs:
        decisions = match_accounts(
            _match_input(sf, rest_sf),
            _match_input(hs, rest_hs),
            rules=rules,
            manual=manual,
        )
        hs_row = {str(v): i for i, v in enumerate(hs_ids)}
        for row in decisions.to_pylist():
            if row["status"] == "ambiguous":
                ambiguous += 1
            if row["status"] != "linked":
                continue
            pairs.sf.append(sf_row[str(row["left_id"])])
            pairs.hs.append(hs_row[str(row["right_id"])])
            pairs.rule.append(str(row["rule"]))
            pairs.score.append(row["score"])
    merged, id_map = _merge(
        sf, hs, pairs, primary=primary, id_column="account_id", link_ids=_ID_COLUMN
    )
    base = _base(sf, hs)
    table = _arrange(merged, base, ACCOUNT_LINK_COLUMNS)
    by_rule: dict[str, int] = {}
    for rule in pairs.rule:
        by_rule[rule] = by_rule.get(rule, 0) + 1
    report = UnifyReport(
        table="accounts",
        primary=primary,
        rows_in={SALESFORCE: len(sf), HUBSPOT: len(hs)},
        rows_out=table.num_rows,
        merged=len(sf) + len(hs) - table.num_rows,
        by_rule=by_rule,
        ambiguous=ambiguous,
    )
    return UnifiedTable(table=table, id_map=id_map, report=report)


def _match_input(table: pa.Table, rows: Sequence[int]) -> pa.Table:
    subset = table.take(pa.array(rows, pa.int64()))
    website = None
    for name in ("website", "domain"):
        if name in subset.column_names:
            column = subset.column(name)
            website = column if website is None else pc.coalesce(website, column)
    n = subset.num_rows
    return pa.table(
        {
            "account_id": subset.column("account_id").cast(pa.string()),
            "name": subset.column("name").cast(pa.string())
            if "name" in subset.column_names
            else pa.nulls(n, pa.string()),
            "website": website.cast(pa.string())
            if website is not None
            else pa.nulls(n, pa.string()),
        }
    )


# ------------------------------------------------------------------ records


def _remap(table: pa.Table, column: str, id_map: pa.Table | None) -> pa.Table:
    """Re-point *column* (an account id) through the unified id map, in Arrow.

    The lookup key is ``source_system`` and the id; ids the map does not know
    stay as they are.
    """
    if id_map is None or column not in table.column_names or not len(table):
        return table
    systems: typing.Any = (
        table.column("source_system").cast(pa.string())
        if "source_system" in table.column_names
        else pa.nulls(len(table), pa.string())
    )
    values: typing.Any = table.column(column).cast(pa.string())
    keys = pc.binary_join_element_wise(systems, values, "\x1f")
    mapped: typing.Any = [id_map.column(n) for n in ("source_system", "source_id")]
    known = pc.binary_join_element_wise(*mapped, "\x1f")
    found = pc.index_in(keys, value_set=known)
    remapped = pc.coalesce(id_map.column("unified_id").take(found), values)
    index = table.column_names.index(column)
    return table.set_column(index, table.schema.field(index), remapped)


_SPACE = re.compile(r"[\W_]+", re.UNICODE)


def _name_key(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKD", value.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    key = _SPACE.sub(" ", text).strip()
    return key or None


def unify_opportunities(
    salesforce: pa.Table | None,
    hubspot: pa.Table | None,
    *,
    account_map: pa.Table | None = None,
    primary: str = SALESFORCE,
    cross_id_column: str = "salesforce_opportunity_id",
    close_window_days: int = 31,
) -> UnifiedTable:
    """Merge staged Salesforce opportunities and HubSpot deals, one row per deal.

    Args:
        salesforce: Staged Salesforce opportunities, or ``None``.
        hubspot: Staged HubSpot deals (with the integration's cross id in
            *cross_id_column* when it exists), or ``None``.
        account_map: :attr:`UnifiedTable.id_map` of :func:`unify_accounts`:
            ``account_id`` of both sides is re-pointed to the unified account.
        primary: Whose record wins a merged row.
        cross_id_column: The HubSpot column holding the Salesforce Opportunity Id.
        close_window_days: How far apart the close dates of one deal in the two
            systems may be, for a link without a cross id.

    Returns:
        The unified opportunities (canonical columns, then
        :data:`OPPORTUNITY_LINK_COLUMNS`, lineage and extras, sorted by
        ``opportunity_id``), the id map and the report.

    Raises:
        SchemaError: A table lacks ``opportunity_id``.
        ConfigurationError: *primary* or *close_window_days* is invalid.
    """
    primary = _check_primary(primary)
    if isinstance(close_window_days, bool) or not isinstance(close_window_days, int):
        raise ConfigurationError(
            f"close_window_days must be a whole number, not {close_window_days!r}"
        )
    sf = _remap(
        _staged(salesforce, "opportunity_id", "the Salesforce opportunities"),
        "account_id",
        account_map,
    )
    hs = _remap(
        _staged(hubspot, "opportunity_id", "the HubSpot deals"),
        "account_id",
        account_map,
    )
    sf_ids = [str(v) for v in sf.column("opportunity_id").to_pylist()]
    sf_row = {v: i for i, v in enumerate(sf_ids)}
    pairs = _Pairs([], [], [], [])
    taken_sf: set[int] = set()
    taken_hs: set[int] = set()
    if cross_id_column in hs.column_names:
        for h, cross in enumerate(hs.column(cross_id_column).to_pylist()):
            s = sf_row.get(str(cross)) if cross else None
            if s is not None and s not in taken_sf:
                pairs.sf.append(s)
                pairs.hs.append(h)
                pairs.rule.append("crm_link")
                pairs.score.append(None)
                taken_sf.add(s)
                taken_hs.add(h)
    # Same account, same name, close dates near: nearest first, one to one.
    candidates = _close_date_pairs(sf, hs, taken_sf, taken_hs, close_window_days)
    for _gap, s, h in sorted(candidates):
        if s in taken_sf or h in taken_hs:
            continue
        pairs.sf.append(s)
        pairs.hs.append(h)
        pairs.rule.append("account_name_close_date")
        pairs.score.append(None)
        taken_sf.add(s)
        taken_hs.add(h)
    merged, id_map = _merge(
        sf,
        hs,
        pairs,
        primary=primary,
        id_column="opportunity_id",
        link_ids=_DEAL_ID_COLUMN,
    )
    table = _arrange(merged, _base(sf, hs), OPPORTUNITY_LINK_COLUMNS)
    by_rule: dict[str, int] = {}
    for rule in pairs.rule:
        by_rule[rule] = by_rule.get(rule, 0) + 1
    report = UnifyReport(
        table="opportunities",
        primary=primary,
        rows_in={SALESFORCE: len(sf), HUBSPOT: len(hs)},
        rows_out=table.num_rows,
        merged=len(sf) + len(hs) - table.num_rows,
        by_rule=by_rule,
    )
    return UnifiedTable(table=table, id_map=id_map, report=report)


def _close_date_pairs(
    sf: pa.Table,
    hs: pa.Table,
    taken_sf: set[int],
    taken_hs: set[int],
    window: int,
) -> list[tuple[int, int, int]]:
    """``(days apart, sf row, hs row)`` of same-account, same-name deals."""
    needed = {"account_id", "name", "close_date"}
    if not (needed <= set(sf.column_names) and needed <= set(hs.column_names)):
        return []
    groups: dict[tuple[str, str], list[int]] = {}
    for s, (account, name) in enumerate(
        zip(
            sf.column("account_id").to_pylist(),
            sf.column("name").to_pylist(),
            strict=True,
        )
    ):
        key = _name_key(name)
        if account is not None and key is not None and s not in taken_sf:
            groups.setdefault((str(account), key), []).append(s)
    sf_close = sf.column("close_date").to_pylist()
    hs_close = hs.column("close_date").to_pylist()
    candidates = []
    for h, (account, name) in enumerate(
        zip(
            hs.column("account_id").to_pylist(),
            hs.column("name").to_pylist(),
            strict=True,
        )
    ):
        key = _name_key(name)
        closes = hs_close[h]
        if h in taken_hs or account is None or key is None or closes is None:
            continue
        for s in groups.get((str(account), key), []):
            other = sf_close[s]
            if other is not None and abs((other - closes).days) <= window:
                candidates.append((abs((other - closes).days), s, h))
    return candidates


def unify_records(
    tables: Sequence[pa.Table | None],
    *,
    key: str,
    account_map: pa.Table | None = None,
) -> pa.Table:
    """Union per-source staged tables (contacts, activities), accounts re-pointed.

    Records of different systems are kept apart (their ids differ); each row's
    ``account_id`` is re-pointed to the unified account.
    """
    present = [_plain(t) for t in tables if t is not None]
    if not present:
        msg = "unify_records needs at least one table"
        raise ValueError(msg)
    present = [_remap(t, "account_id", account_map) for t in present]
    if len(present) == 1:
        return present[0]
    table = pa.concat_tables(present, promote_options="permissive")
    return table.sort_by([(key, "ascending"), ("source_system", "ascending")])
