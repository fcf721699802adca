"""The contract between the sync engine and a source system.

A source is any object with a ``system`` name, the ``objects`` it offers and a
``fetch`` generator. The engine owns everything else: the raw dataset, the state, the
audit row, retries of whole syncs, progress. See ``docs/writing-a-source.md``.
"""

from __future__ import annotations

import re
import typing

import attrs

from revops_ingest._metrics import RequestMetrics
from revops_ingest.exceptions import ConfigurationError


if typing.TYPE_CHECKING:
    import datetime as dt
    import types
    from collections.abc import Callable, Generator, Iterable, Mapping, Sequence

    import pyarrow as pa
    from typing_extensions import Self


__all__ = [
    "ClosingSource",
    "FetchContext",
    "JSONValue",
    "ObjectSpec",
    "Source",
    "State",
    "unreadable_state",
]

JSONValue: typing.TypeAlias = (
    "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
)
State: typing.TypeAlias = "dict[str, JSONValue]"
"""A source's sync state (its watermark): a JSON object, stored in the lake."""

SyncMode = typing.Literal["incremental", "full"]


def unreadable_state(where: str, why: object) -> ConfigurationError:
    """The error for a stored sync state a source cannot read, and the way out."""
    return ConfigurationError(
        f"{where}: the stored sync state cannot be read ({why}); run the sync with "
        "full_refresh=True to start over"
    )


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_name(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value):
        msg = (
            f"{attribute.name} {value!r} must start with a letter or digit and hold "
            "only letters, digits, '_', '.' and '-'"
        )
        raise ConfigurationError(msg)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):  # ("Id") is a str, not a 1-tuple: forgive it
        return (value,)
    return tuple(value)


@attrs.frozen(kw_only=True)
class ObjectSpec:
    """One object a source offers, such as Salesforce ``Opportunity``.

    Attributes:
        name: The object's name as the vendor spells it; also the raw dataset's name.
        primary_key: Columns that identify a record.
        cursor: The column the incremental watermark follows, or ``None``.
        mode: ``"incremental"`` (only changes since the watermark) or ``"full"``
            (everything on every sync).
        dataset: Where raw rows land; by default ``/{system}/Raw/{name}``.
    """

    name: str = attrs.field(validator=_check_name)
    primary_key: tuple[str, ...] = attrs.field(converter=_names)
    cursor: str | None = None
    mode: SyncMode = attrs.field(default="incremental")
    dataset: str | None = None

    @mode.validator
    def _check_mode(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if value not in ("incremental", "full"):
            msg = f"mode must be 'incremental' or 'full', not {value!r}"
            raise ConfigurationError(msg)

    def raw_dataset(self, system: str) -> str:
        """Return the path of the raw dataset for this object of *system*."""
        return self.dataset or f"/{system}/Raw/{self.name}"


@attrs.define(kw_only=True)
class FetchContext:
    """What the engine hands a source's ``fetch`` for one sync.

    Attributes:
        sync_id: The sync's id; also in the audit row and on every raw row.
        started_at: When the sync started (UTC). Incremental windows must end at or
            before it, so that a record committed during the sync is read next time.
        full_refresh: Ignore the stored state and read everything.
        metrics: Counters the source's HTTP client adds to.
        warnings: Things an operator should know; they go into the audit row.
        records_failed: Records the source received but could not turn into rows
            (counted with :meth:`fail`); the audit row's ``records_failed``.
        on_page: Called by the source after each page with the rows in it; drives
            the progress display.
        read_raw: Reads the given columns of this object's raw dataset as landed so
            far (``None`` before the first sync). For reconciliations such as
            "which ids we hold does the source no longer have"; read only the
            columns you need.
    """

    sync_id: str
    started_at: dt.datetime
    full_refresh: bool = False
    metrics: RequestMetrics = attrs.Factory(RequestMetrics)
    warnings: list[str] = attrs.Factory(list)
    records_failed: int = 0
    on_page: Callable[[int], None] | None = None
    read_raw: Callable[[Sequence[str]], pa.Table] | None = None

    def warn(self, message: str) -> None:
        """Record *message* for the audit row's ``warnings``."""
        self.warnings.append(message)

    def fail(self, count: int, reason: str) -> None:
        """Count *count* records that could not be landed, and say why."""
        self.records_failed += count
        self.warnings.append(f"{count} record(s) not landed: {reason}")

    def page(self, rows: int) -> None:
        """Report that a page with *rows* records arrived."""
        if self.on_page is not None:
            self.on_page(rows)


@typing.runtime_checkable
class Source(typing.Protocol):
    """What :func:`revops_ingest.sync` needs from a source system.

    ``fetch`` is a generator: it yields :class:`pyarrow.RecordBatch` es of raw records
    and *returns* the new state. The engine writes the batches to the raw dataset and
    commits the returned state together with them, so a watermark never gets ahead
    of the data it covers. A fetch that raises commits nothing.
    """

    @property
    def system(self) -> str:
        """The source system's name, such as ``"Salesforce"``."""
        ...

    def objects(self) -> Sequence[ObjectSpec]:
        """The objects this source can sync."""
        ...

    def fetch(
        self,
        obj: ObjectSpec,
        state: Mapping[str, JSONValue] | None,
        context: FetchContext,
    ) -> Generator[pa.RecordBatch, None, State]:
        """Yield record batches of *obj* changed since *state*; return the new state."""
        ...


class ClosingSource:
    """``with``-statement plumbing for a source that holds connections.

    A subclass defines :meth:`close`; ``with Source(...) as source:`` closes it on
    the way out.
    """

    __slots__ = ()

    def close(self) -> None:
        """Release what the source holds (its HTTP session)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()
