"""Raw Salesforce tables for the staging tests, built the way the source lands them.

Columns carry the API names and the types Salesforce describes, plus ``_sync_id``
(dictionary-encoded) and ``_tombstone``. Also: a plain-Python reference staging of
opportunities, row by row, to check the real one against.
"""

from __future__ import annotations

import datetime as dt
import math
import typing

import numpy as np
import pyarrow as pa


UTC = dt.timezone.utc
TS = pa.timestamp("ms", tz="UTC")
SYNC_TYPE = pa.dictionary(pa.int32(), pa.string())

OPPORTUNITY_FIELDS: list[tuple[str, pa.DataType]] = [
    ("Id", pa.string()),
    ("AccountId", pa.string()),
    ("Name", pa.string()),
    ("StageName", pa.string()),
    ("Amount", pa.float64()),
    ("CurrencyIsoCode", pa.string()),
    ("CloseDate", pa.date32()),
    ("Probability", pa.float64()),
    ("IsClosed", pa.bool_()),
    ("IsWon", pa.bool_()),
    ("OwnerId", pa.string()),
    ("CreatedDate", TS),
    ("LastModifiedDate", TS),
    ("SystemModstamp", TS),
    ("IsDeleted", pa.bool_()),
    ("Type", pa.string()),
    ("LeadSource", pa.string()),
    ("ForecastCategoryName", pa.string()),
]
ACCOUNT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("Id", pa.string()),
    ("Name", pa.string()),
    ("Website", pa.string()),
    ("Industry", pa.string()),
    ("NumberOfEmployees", pa.int64()),
    ("AnnualRevenue", pa.float64()),
    ("OwnerId", pa.string()),
    ("BillingCountry", pa.string()),
    ("BillingCity", pa.string()),
    ("BillingState", pa.string()),
    ("Type", pa.string()),
    ("ParentId", pa.string()),
    ("CreatedDate", TS),
    ("LastModifiedDate", TS),
    ("SystemModstamp", TS),
    ("IsDeleted", pa.bool_()),
]
CONTACT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("Id", pa.string()),
    ("AccountId", pa.string()),
    ("Email", pa.string()),
    ("FirstName", pa.string()),
    ("LastName", pa.string()),
    ("Title", pa.string()),
    ("Phone", pa.string()),
    ("OwnerId", pa.string()),
    ("MailingCountry", pa.string()),
    ("CreatedDate", TS),
    ("LastModifiedDate", TS),
    ("SystemModstamp", TS),
    ("IsDeleted", pa.bool_()),
]
TASK_FIELDS: list[tuple[str, pa.DataType]] = [
    ("Id", pa.string()),
    ("Subject", pa.string()),
    ("Status", pa.string()),
    ("Priority", pa.string()),
    ("ActivityDate", pa.date32()),
    ("WhoId", pa.string()),
    ("WhatId", pa.string()),
    ("AccountId", pa.string()),
    ("OwnerId", pa.string()),
    ("TaskSubtype", pa.string()),
    ("CallDurationInSeconds", pa.int64()),
    ("CreatedDate", TS),
    ("LastModifiedDate", TS),
    ("SystemModstamp", TS),
    ("IsDeleted", pa.bool_()),
]
EVENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("Id", pa.string()),
    ("Subject", pa.string()),
    ("StartDateTime", TS),
    ("EndDateTime", TS),
    ("DurationInMinutes", pa.int64()),
    ("ActivityDate", pa.date32()),
    ("WhoId", pa.string()),
    ("WhatId", pa.string()),
    ("AccountId", pa.string()),
    ("OwnerId", pa.string()),
    ("Location", pa.string()),
    ("EventSubtype", pa.string()),
    ("CreatedDate", TS),
    ("LastModifiedDate", TS),
    ("SystemModstamp", TS),
    ("IsDeleted", pa.bool_()),
]
FIELDS = {
    "Opportunity": OPPORTUNITY_FIELDS,
    "Account": ACCOUNT_FIELDS,
    "Contact": CONTACT_FIELDS,
    "Task": TASK_FIELDS,
    "Event": EVENT_FIELDS,
}
PREFIX = {
    "Opportunity": "006",
    "Account": "001",
    "Contact": "003",
    "Task": "00T",
    "Event": "00U",
}

SYNCS = [f"2024050{d}T000000000000Z-0000000{d}" for d in range(1, 10)]
T0 = dt.datetime(2024, 5, 1, tzinfo=UTC)


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id: prefix, then the number zero-padded."""
    return f"{prefix}{number:0{18 - len(prefix)}d}"


def at(minutes: float) -> dt.datetime:
    """A UTC time *minutes* after 2024-05-01."""
    return T0 + dt.timedelta(minutes=minutes)


def raw_table(
    object_type: str,
    rows: list[dict[str, typing.Any]],
    *,
    drop: typing.Iterable[str] = (),
    sync_id: str = SYNCS[0],
    types: dict[str, pa.DataType] | None = None,
) -> pa.Table:
    """A raw table of *object_type* from dicts; absent fields are null.

    Rows may set ``_sync_id`` and ``_tombstone``; *types* overrides column types
    (strings for the bad-values path), *drop* leaves columns out.
    """
    fields = [
        (name, (types or {}).get(name, kind))
        for name, kind in FIELDS[object_type]
        if name not in set(drop)
    ]
    extra = sorted(
        {k for row in rows for k in row}
        - {n for n, _ in FIELDS[object_type]}
        - {"_sync_id", "_tombstone"}
    )
    columns: dict[str, pa.Array] = {}
    for name, kind in fields:
        columns[name] = pa.array([row.get(name) for row in rows], type=kind)
    for name in extra:
        columns[name] = pa.array([row.get(name) for row in rows])
    syncs = [row.get("_sync_id", sync_id) for row in rows]
    columns["_sync_id"] = pa.array(syncs, type=pa.string()).dictionary_encode()
    columns["_tombstone"] = pa.array(
        [bool(row.get("_tombstone", False)) for row in rows], type=pa.bool_()
    )
    schema = pa.schema(
        [
            *[pa.field(n, k) for n, k in fields],
            *[pa.field(n, columns[n].type) for n in extra],
            pa.field("_sync_id", SYNC_TYPE),
            pa.field("_tombstone", pa.bool_()),
        ]
    )
    return pa.Table.from_arrays([columns[n] for n in schema.names], schema=schema)


def tombstone(
    object_type: str, number: int, minutes: float, sync: str
) -> dict[str, typing.Any]:
    """A hard-delete tombstone row: Id, IsDeleted, SystemModstamp and nothing else."""
    return {
        "Id": sf_id(PREFIX[object_type], number),
        "IsDeleted": True,
        "SystemModstamp": at(minutes),
        "_sync_id": sync,
        "_tombstone": True,
    }


STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]


def opportunities(
    rows: int, *, seed: int = 0, versions: float = 0.2, deleted: float = 0.01
) -> pa.Table:
    """A vectorised raw Opportunity extract, *versions* of it extra versions.

    System modstamps are distinct, so the latest version of every Id is unique.
    Two stages are not standard Salesforce stages (unmapped by default).
    """
    rng = np.random.default_rng(seed)
    base = max(1, int(rows * (1 - versions)))
    numbers = np.concatenate([np.arange(base), rng.integers(0, base, rows - base)])
    rng.shuffle(numbers)
    ids = pa.array([sf_id("006", int(n)) for n in numbers])
    stamps = rng.permutation(rows).astype(np.int64) * 1000 + 1_714_521_600_000
    stage_names = pa.array([*STAGES, "Contract Sent", None])
    stage = rng.integers(0, len(stage_names), rows)
    syncs = pa.array(SYNCS)
    return pa.table(
        {
            "Id": ids,
            "AccountId": pa.array([sf_id("001", int(n) % 997) for n in numbers]),
            "Name": pa.array([f"Deal {int(n)}" for n in numbers]),
            "StageName": stage_names.take(pa.array(stage)),
            "Amount": pa.array(np.round(rng.random(rows) * 1e5, 2)),
            "CurrencyIsoCode": pa.array(["USD", "EUR", None]).take(
                pa.array(rng.integers(0, 3, rows))
            ),
            "CloseDate": pa.array(
                (stamps // 86_400_000 + rng.integers(0, 300, rows)).astype(np.int32),
                pa.date32(),
            ),
            "Probability": pa.array((stage % 10 * 10).astype(np.float64)),
            "IsClosed": pa.array(stage >= 8),
            "IsWon": pa.array(stage == 8),
            "OwnerId": pa.array([sf_id("005", int(n) % 37) for n in numbers]),
            "CreatedDate": pa.array(stamps - 86_400_000, TS),
            "LastModifiedDate": pa.array(stamps, TS),
            "SystemModstamp": pa.array(stamps, TS),
            "IsDeleted": pa.array(rng.random(rows) < deleted),
            "Type": pa.array(["New Business", "Renewal", None]).take(
                pa.array(rng.integers(0, 3, rows))
            ),
            "LeadSource": pa.array(["Web", "Partner"]).take(
                pa.array(rng.integers(0, 2, rows))
            ),
            "ForecastCategoryName": pa.array(["Pipeline", "Commit"]).take(
                pa.array(rng.integers(0, 2, rows))
            ),
            "_sync_id": pa.DictionaryArray.from_arrays(
                pa.array((stamps // 1000 % len(SYNCS)).astype(np.int32)), syncs
            ),
            "_tombstone": pa.array(np.zeros(rows, dtype=bool)),
        }
    )


def as_salesforce_strings(table: pa.Table, columns: typing.Iterable[str]) -> pa.Table:
    """Render typed columns as the strings Salesforce's API returns."""
    for name in columns:
        index = table.schema.get_field_index(name)
        values = table.column(name).to_pylist()
        table = table.set_column(
            index, name, pa.array([_sf_text(v) for v in values], pa.string())
        )
    return table


def _sf_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (
            value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{value.microsecond // 1000:03d}+0000"
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def normalise(table: object, key: str) -> list[dict[str, typing.Any]]:
    """Rows of any staged frame as comparable dicts, sorted by *key*.

    Times become naive UTC, NaN becomes None and floats keep 12 significant digits.
    """
    arrow = to_arrow(table)
    rows = arrow.to_pylist()
    for row in rows:
        for name, value in row.items():
            if isinstance(value, dt.datetime):
                row[name] = (
                    value.astimezone(UTC).replace(tzinfo=None)
                    if value.tzinfo
                    else value
                )
            elif isinstance(value, float) and math.isnan(value):
                row[name] = None
            elif isinstance(value, float):
                # polars divides by a constant as a multiplication by its
                # reciprocal, one ulp away from DuckDB's and Spark's quotient.
                row[name] = float(f"{value:.12g}")
    return sorted(rows, key=lambda r: r[key])


def to_arrow(table: object) -> pa.Table:
    """Collect any frame (lazy or eager) into an Arrow table."""
    module = type(table).__module__
    if module.startswith("pyspark"):
        return typing.cast("typing.Any", table).toArrow()
    if module.startswith("polars") and hasattr(table, "collect"):
        return typing.cast("typing.Any", table).collect().to_arrow()
    if module.startswith(("duckdb", "_duckdb")):
        return typing.cast("typing.Any", table).to_arrow_table()
    if module.startswith("pandas"):
        return pa.Table.from_pandas(
            typing.cast("typing.Any", table), preserve_index=False
        )
    return pa.table(table)


# ------------------------------------------------------------------ reference


def reference_opportunities(
    rows: list[dict[str, typing.Any]],
    *,
    stage_map: dict[str, str],
    default_currency: str = "USD",
) -> dict[str, list[dict[str, typing.Any]]]:
    """Stage opportunity rows one by one: Id -> the acceptable staged rows.

    The latest version has the greatest (SystemModstamp, _sync_id, deleted), nulls
    lowest; rows tied on all three are all acceptable winners (staging breaks such
    ties by a row hash). An Id whose winner is deleted maps to ``[]``.
    """
    by_id: dict[str, list[dict[str, typing.Any]]] = {}
    for row in rows:
        if row.get("Id") is not None:
            by_id.setdefault(row["Id"], []).append(row)

    def version(row: dict[str, typing.Any]) -> tuple[typing.Any, ...]:
        stamp = row.get("SystemModstamp")
        sync = row.get("_sync_id", SYNCS[0])
        deleted = bool(row.get("IsDeleted")) or bool(row.get("_tombstone"))
        return (stamp is not None, stamp or T0, sync is not None, sync or "", deleted)

    result: dict[str, list[dict[str, typing.Any]]] = {}
    for key, versions in by_id.items():
        top = max(version(r) for r in versions)
        winners = [r for r in versions if version(r) == top]
        if top[-1]:
            result[key] = []
            continue
        result[key] = [_reference_row(r, stage_map, default_currency) for r in winners]
    return result


def _reference_row(
    row: dict[str, typing.Any], stage_map: dict[str, str], default_currency: str
) -> dict[str, typing.Any]:
    stage = row.get("StageName")
    probability = row.get("Probability")

    def naive(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    return {
        "opportunity_id": row["Id"],
        "account_id": row.get("AccountId"),
        "name": row.get("Name"),
        "stage_name": stage_map.get(stage) if stage is not None else None,
        "source_stage": stage,
        "amount": row.get("Amount"),
        "currency": row.get("CurrencyIsoCode") or default_currency,
        "close_date": row.get("CloseDate"),
        "probability": None if probability is None else probability / 100,
        "is_closed": row.get("IsClosed"),
        "is_won": row.get("IsWon"),
        "owner_id": row.get("OwnerId"),
        "opportunity_type": row.get("Type"),
        "lead_source": row.get("LeadSource"),
        "forecast_category": row.get("ForecastCategoryName"),
        "created_at": naive(row.get("CreatedDate")),
        "updated_at": naive(row.get("LastModifiedDate")),
        "is_deleted": False,
        "source_system": "Salesforce",
        "source_id": row["Id"],
        "source_sync_id": row.get("_sync_id", SYNCS[0]),
    }
