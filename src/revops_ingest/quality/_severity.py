"""How bad a failed check is (:class:`Severity`), and how it ended (:class:`Status`)."""

from __future__ import annotations

import enum
import typing

from revops_ingest.exceptions import ConfigurationError


__all__ = ["Severity", "Status"]

_RANKS = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Severity(enum.Enum):
    """How bad it is when a check fails, from ``LOW`` to ``CRITICAL``.

    Severities are ordered, so ``Severity.HIGH >= Severity.MEDIUM`` and
    ``max(...)`` work; alert routing sends a channel every alert of its severity
    *or worse*. The value is the lower-case name, which is what JSON and the
    ``/RevOps/Config/quality_alerts`` dataset hold.
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``LOW`` up to 3 for ``CRITICAL``."""
        return _RANKS[self.value]

    @classmethod
    def parse(cls, value: Severity | str) -> Severity:
        """Return the severity named *value*, ignoring case (``"High"`` is fine).

        Raises:
            ConfigurationError: *value* names no severity.
        """
        if isinstance(value, Severity):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            if key in _RANKS:
                return cls(key)
        names = ", ".join(s.value for s in cls)
        raise ConfigurationError(f"unknown severity {value!r}; use one of {names}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


class Status(enum.Enum):
    """How one check ended.

    ``FAILED`` and ``ERROR`` make a result fail; ``NO_BASELINE`` (a change check
    with nothing to compare with) and ``SKIPPED`` (not run after a fail-fast stop)
    neither pass nor fail, and say so.
    """

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    NO_BASELINE = "no_baseline"
    SKIPPED = "skipped"

    @property
    def failing(self) -> bool:
        """Whether this status makes the result fail (``FAILED`` or ``ERROR``)."""
        return self in _FAILING


_FAILING: typing.Final = frozenset({Status.FAILED, Status.ERROR})
