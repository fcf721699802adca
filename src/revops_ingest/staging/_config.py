"""The config datasets: ``/RevOps/Config/stage_map`` and the ``*_field_map`` ones."""

from __future__ import annotations

import typing

import pyarrow as pa

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.staging._schemas import VALID_STAGES


if typing.TYPE_CHECKING:
    from collections.abc import Collection


__all__ = [
    "FIELD_MAP_DATASET",
    "HUBSPOT_FIELD_MAP_DATASET",
    "STAGE_MAP_DATASET",
    "field_map_from_table",
    "hubspot_field_map_from_table",
    "stage_map_from_table",
]

STAGE_MAP_DATASET = "/RevOps/Config/stage_map"
"""Columns ``source_stage``, ``revops_stage`` and optionally ``source_system``."""

FIELD_MAP_DATASET = "/RevOps/Config/salesforce_field_map"
"""Columns ``sf_field``, ``revops_field`` and optionally ``sf_object``."""

HUBSPOT_FIELD_MAP_DATASET = "/RevOps/Config/hubspot_field_map"
"""Columns ``hs_property``, ``revops_field`` and optionally ``hs_object``
(``deals``, ``companies``, ``contacts`` or ``engagements``)."""


def _rows(
    table: object, *, dataset: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[dict[str, typing.Any]]:
    if not isinstance(table, pa.Table):
        try:
            table = pa.table(table)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{dataset}: expected a table with columns {', '.join(required)}, "
                f"got {type(table).__name__}"
            ) from exc
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ConfigurationError(
            f"{dataset}: missing column(s) {', '.join(missing)}; it needs "
            f"{', '.join(required)} (and may have {', '.join(optional)}), "
            f"but has {', '.join(table.column_names) or 'none'}"
        )
    columns = [c for c in (*required, *optional) if c in table.column_names]
    rows: list[dict[str, typing.Any]] = table.select(columns).to_pylist()
    for number, row in enumerate(rows, start=1):
        for column in columns:
            value = row[column]
            if column in required and (not isinstance(value, str) or not value):
                raise ConfigurationError(
                    f"{dataset}: row {number} has {column}={value!r}; "
                    "it must be a non-empty string"
                )
    return rows


def stage_map_from_table(
    table: object, *, source_system: str = "Salesforce"
) -> dict[str, str]:
    """Read a stage map table: ``source_stage`` -> ``revops_stage``.

    Rows whose optional ``source_system`` column names another system are skipped
    (a null ``source_system`` applies to every system).

    Raises:
        ConfigurationError: A column is missing, a value is empty, a target is not
            one of :data:`VALID_STAGES`, or a stage is mapped twice differently.
    """
    rows = _rows(
        table,
        dataset=STAGE_MAP_DATASET,
        required=("source_stage", "revops_stage"),
        optional=("source_system",),
    )
    result: dict[str, str] = {}
    for row in rows:
        system = row.get("source_system")
        if system is not None and system != source_system:
            continue
        stage, target = row["source_stage"], row["revops_stage"]
        if target not in VALID_STAGES:
            raise ConfigurationError(
                f"{STAGE_MAP_DATASET}: {stage!r} -> {target!r}: the RevOps stage "
                f"must be one of {', '.join(VALID_STAGES)}"
            )
        if result.get(stage, target) != target:
            raise ConfigurationError(
                f"{STAGE_MAP_DATASET}: {stage!r} is mapped to both "
                f"{result[stage]!r} and {target!r}"
            )
        result[stage] = target
    return result


def field_map_from_table(
    table: object,
    *,
    object_type: str | None = None,
    fields: Collection[str] | None = None,
) -> dict[str, str]:
    """Read a field map table: ``sf_field`` -> ``revops_field``.

    Args:
        table: The ``/RevOps/Config/salesforce_field_map`` rows.
        object_type: Keep only the entries for this Salesforce object. An entry
            whose ``sf_object`` is set applies to that object only; an entry
            without one applies to this object when its ``sf_field`` is among
            *fields* (the object's raw columns).
        fields: The object's raw field names, for entries without ``sf_object``;
            ``None`` keeps every such entry.

    Raises:
        ConfigurationError: A column is missing, a value is empty, or a field is
            mapped twice differently.
    """
    return _field_map(
        table,
        dataset=FIELD_MAP_DATASET,
        field="sf_field",
        scope="sf_object",
        object_type=object_type,
        fields=fields,
    )


def hubspot_field_map_from_table(
    table: object,
    *,
    object_type: str | None = None,
    fields: Collection[str] | None = None,
) -> dict[str, str]:
    """Read a HubSpot field map table: ``hs_property`` -> ``revops_field``.

    The same rules as :func:`field_map_from_table`, for
    ``/RevOps/Config/hubspot_field_map``.

    Args:
        table: The ``/RevOps/Config/hubspot_field_map`` rows.
        object_type: Keep only the entries for this HubSpot dataset (``deals``,
            ``companies``, ``contacts`` or ``engagements``). An entry whose
            ``hs_object`` is set applies to that dataset only; an entry without
            one applies when its ``hs_property`` is among *fields*.
        fields: The dataset's raw property names, for entries without
            ``hs_object``; ``None`` keeps every such entry.

    Raises:
        ConfigurationError: A column is missing, a value is empty, an
            ``hs_object`` is not a HubSpot dataset, or a property is mapped twice
            differently.
    """
    return _field_map(
        table,
        dataset=HUBSPOT_FIELD_MAP_DATASET,
        field="hs_property",
        scope="hs_object",
        object_type=object_type,
        fields=fields,
        scopes=_HUBSPOT_OBJECTS,
    )


_HUBSPOT_OBJECTS = ("deals", "companies", "contacts", "engagements")


def _field_map(
    table: object,
    *,
    dataset: str,
    field: str,
    scope: str,
    object_type: str | None,
    fields: Collection[str] | None,
    scopes: tuple[str, ...] | None = None,
) -> dict[str, str]:
    rows = _rows(
        table, dataset=dataset, required=(field, "revops_field"), optional=(scope,)
    )
    result: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        source, column = row[field], row["revops_field"]
        applies_to = row.get(scope)
        if scopes is not None and applies_to is not None and applies_to not in scopes:
            raise ConfigurationError(
                f"{dataset}: row {number} has {scope}={applies_to!r}; it must be "
                f"one of {', '.join(scopes)} (or null for all)"
            )
        if object_type is not None:
            if applies_to is not None and applies_to != object_type:
                continue
            if applies_to is None and fields is not None and source not in fields:
                continue
        if result.get(source, column) != column:
            raise ConfigurationError(
                f"{dataset}: {source!r} is mapped to both "
                f"{result[source]!r} and {column!r}"
            )
        result[source] = column
    return result
