"""The matching rules (``/RevOps/Config/account_matching_rules``) and manual entries.

The seed's table::

    | Match Type | Priority | Fields              |
    |------------|----------|---------------------|
    | Exact      | 1        | domain              |
    | Fuzzy      | 2        | name (>90% similarity) |
    | Manual     | 3        | account_id mapping  |

is read as: the automatic rules run in priority order, each on the accounts that no
earlier rule linked; manual *mappings* sit at their own priority (3: they fill what
the automatic rules leave). Manual *pins* and *vetoes* are not ranked: they are
applied before every rule and always win.
"""

from __future__ import annotations

import math
import re
import typing

import attrs
import pyarrow as pa
import pyarrow.compute as _compute

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.matching._arrow import as_table, require_columns, text


if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


# pyarrow-stubs types compute functions more narrowly than Arrow accepts them
# (numpy indices, boolean masks, chunked arrays); the tests check the calls.
pc: typing.Any = _compute

__all__ = [
    "DEFAULT_RULES",
    "ManualEntries",
    "MatchRule",
    "parse_manual",
    "parse_rules",
]

RuleKind = typing.Literal["exact", "fuzzy", "manual"]
_FIELDS: dict[str, tuple[str, ...]] = {
    "exact": ("domain",),
    "fuzzy": ("name",),
    "manual": ("account_id",),
}
_MAX_SCORE = 100
_THRESHOLD_IN_TEXT = re.compile(r">\s*=?\s*([0-9]+(?:\.[0-9]+)?)\s*%?")
_ACTIONS = ("map", "pin", "veto")
_ACTION_ALIASES = {
    "map": "map",
    "mapping": "map",
    "link": "map",
    "pin": "pin",
    "pinned": "pin",
    "force": "pin",
    "always": "pin",
    "veto": "veto",
    "never": "veto",
    "block": "veto",
}


def _check_threshold(rule: MatchRule, _: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and 0 <= value < _MAX_SCORE):
        raise ConfigurationError(
            f"rule {rule.name!r}: threshold must be in [0, 100), not {value}"
        )


def _check_field(rule: MatchRule, _: attrs.Attribute[str], value: str) -> None:
    if value not in _FIELDS[rule.kind]:
        raise ConfigurationError(
            f"a {rule.kind} rule on {value!r} is not supported; "
            f"{rule.kind} rules work on {', '.join(_FIELDS[rule.kind])}"
        )


@attrs.frozen(kw_only=True)
class MatchRule:
    """One row of the matching-rules config.

    Attributes:
        kind: ``"exact"`` (domain key equality), ``"fuzzy"`` (name similarity) or
            ``"manual"`` (the mappings of the manual table).
        field: What the rule compares: ``"domain"``, ``"name"`` or ``"account_id"``.
        priority: Lower runs first; ties are an error.
        threshold: For fuzzy rules, the similarity (0-100) a pair must be strictly
            above.
        margin: For fuzzy rules, abstain (status ``ambiguous``) when the runner-up
            scores within this many points of the best.
    """

    kind: RuleKind = attrs.field(validator=attrs.validators.in_(tuple(_FIELDS)))
    field: str = attrs.field(validator=_check_field)
    priority: int
    threshold: float = attrs.field(default=90.0, validator=_check_threshold)
    margin: float = attrs.field(default=2.0, validator=attrs.validators.ge(0))

    @property
    def name(self) -> str:
        """The label in the output's ``rule`` column, such as ``"fuzzy_name"``."""
        return "manual" if self.kind == "manual" else f"{self.kind}_{self.field}"


#: The seed's three rules: exact domain (1), fuzzy name > 90 (2), manual (3).
DEFAULT_RULES: tuple[MatchRule, ...] = (
    MatchRule(kind="exact", field="domain", priority=1),
    MatchRule(kind="fuzzy", field="name", priority=2, threshold=90.0),
    MatchRule(kind="manual", field="account_id", priority=3),
)


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _rule_from_row(row: dict[str, object], index: int) -> MatchRule | None:
    where = f"account_matching_rules row {index}"
    enabled = row.get("enabled", True)
    if enabled is False or str(enabled).strip().lower() in {"false", "no", "0"}:
        return None
    kind = str(row.get("match_type") or "").strip().lower()
    if kind not in _FIELDS:
        raise ConfigurationError(
            f"{where}: match type {row.get('match_type')!r} is not one of "
            "Exact, Fuzzy, Manual"
        )
    fields_text = str(row.get("fields") or "").strip().lower()
    field = next(
        (f for f in ("account_id", "domain", "name") if fields_text.startswith(f)),
        _FIELDS[kind][0] if not fields_text else fields_text.split()[0],
    )
    try:
        priority = int(str(row.get("priority")))
    except ValueError:
        raise ConfigurationError(
            f"{where}: priority {row.get('priority')!r} is not an integer"
        ) from None
    threshold: object = row.get("threshold")
    if threshold is None and kind == "fuzzy":
        found = _THRESHOLD_IN_TEXT.search(fields_text)
        threshold = float(found.group(1)) if found else 90.0
    margin = row.get("margin")
    try:
        return MatchRule(
            kind=typing.cast("RuleKind", kind),
            field=field,
            priority=priority,
            threshold=float(str(threshold)) if threshold is not None else 90.0,
            margin=float(str(margin)) if margin is not None else 2.0,
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"{where}: {error}") from error


def parse_rules(rules: object | Sequence[MatchRule] | None) -> tuple[MatchRule, ...]:
    """Read the matching rules.

    Args:
        rules: ``None`` for :data:`DEFAULT_RULES`; a sequence of :class:`MatchRule`;
            or the config table (``/RevOps/Config/account_matching_rules``) with the
            columns ``match_type``, ``priority`` and ``fields`` (headers such as
            "Match Type" are accepted too) and optionally ``threshold``, ``margin``
            and ``enabled``. A fuzzy rule's threshold may be written in its fields
            text, as the seed does: ``name (>90% similarity)``.

    Returns:
        The enabled rules, sorted by priority.

    Raises:
        ConfigurationError: On an unknown match type or field, a bad threshold, or
            two rules with the same priority or the same kind and field.
    """
    if rules is None:
        return DEFAULT_RULES
    if isinstance(rules, (list, tuple)) and all(
        isinstance(r, MatchRule) for r in rules
    ):
        parsed = list(typing.cast("Sequence[MatchRule]", rules))
    else:
        table = as_table(rules, what="rules")
        table = table.rename_columns([_snake(c) for c in table.column_names])
        require_columns(table, ("match_type", "priority"), what="rules")
        parsed = [
            rule
            for i, row in enumerate(table.to_pylist())
            if (rule := _rule_from_row(row, i)) is not None
        ]
    priorities = [r.priority for r in parsed]
    if len(set(priorities)) != len(priorities):
        raise ConfigurationError(f"two matching rules share a priority: {priorities}")
    names = [r.name for r in parsed]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"a matching rule appears twice: {names}")
    return tuple(sorted(parsed, key=lambda r: r.priority))


@attrs.frozen(kw_only=True)
class ManualEntries:
    """The manual table, split by action.

    Attributes:
        maps: ``(left_id, right_id)`` mappings applied at the manual rule's priority.
        pins: Pairs linked before any rule, whatever the rules say.
        vetoes: Pairs never linked by any rule.
    """

    maps: tuple[tuple[str, str], ...] = ()
    pins: tuple[tuple[str, str], ...] = ()
    vetoes: frozenset[tuple[str, str]] = frozenset()


def parse_manual(manual: object | None) -> ManualEntries:
    """Read the manual table.

    Args:
        manual: ``None``, or a table with ``left_id`` and ``right_id`` columns and
            optionally ``action``: ``map`` (the default; also ``link``), ``pin``
            (also ``force``, ``always``) or ``veto`` (also ``never``, ``block``).

    Returns:
        The entries, each pair once, sorted.

    Raises:
        ConfigurationError: On an unknown action, a null id, or a pair that is both
            vetoed and mapped or pinned.
        SchemaError: If ``left_id`` or ``right_id`` is missing.
    """
    if manual is None:
        return ManualEntries()
    table = as_table(manual, what="manual")
    require_columns(table, ("left_id", "right_id"), what="manual")
    left = text(table, "left_id")
    right = text(table, "right_id")
    if left.null_count or right.null_count:
        raise ConfigurationError("manual entries need both left_id and right_id")
    if "action" in table.column_names:
        raw_actions = pc.fill_null(text(table, "action"), "map").to_pylist()
    else:
        raw_actions = ["map"] * table.num_rows
    by_action: dict[str, set[tuple[str, str]]] = {a: set() for a in _ACTIONS}
    for lid, rid, raw in zip(
        left.to_pylist(), right.to_pylist(), raw_actions, strict=True
    ):
        action = _ACTION_ALIASES.get(str(raw).strip().lower())
        if action is None:
            raise ConfigurationError(
                f"manual entry ({lid!r}, {rid!r}): action {raw!r} is not one of "
                "map, pin, veto"
            )
        by_action[action].add((str(lid), str(rid)))
    clash = by_action["veto"] & (by_action["map"] | by_action["pin"])
    if clash:
        raise ConfigurationError(
            f"manual entries both veto and link {sorted(clash)[:5]}; keep one"
        )
    return ManualEntries(
        maps=tuple(sorted(by_action["map"] - by_action["pin"])),
        pins=tuple(sorted(by_action["pin"])),
        vetoes=frozenset(by_action["veto"]),
    )


def pairs_table(pairs: Iterable[tuple[str, str]]) -> pa.Table:
    """Return pairs as a two-column table (``left_id``, ``right_id``)."""
    listed = list(pairs)
    return pa.table(
        {
            "left_id": pa.array([p[0] for p in listed], pa.large_string()),
            "right_id": pa.array([p[1] for p in listed], pa.large_string()),
        }
    )
