"""Severities are ordered and parsed from the words people write."""

from __future__ import annotations

import pytest

from revops_ingest.exceptions import ConfigurationError
from revops_ingest.quality import Severity, Status


class TestSeverity:
    def test_ordered_from_low_to_critical(self):
        """LOW < MEDIUM < HIGH < CRITICAL, and max() picks the worst."""
        assert [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL] == (
            sorted(Severity)
        )
        assert Severity.CRITICAL == max(Severity.HIGH, Severity.CRITICAL)
        assert Severity.HIGH >= Severity.HIGH

    @pytest.mark.parametrize("text", ["High", "HIGH", " high ", Severity.HIGH])
    def test_parse_ignores_case(self, text):
        """'High', 'HIGH' and the member itself all parse."""
        assert Severity.HIGH == Severity.parse(text)

    def test_unknown_names_are_refused(self):
        """An unknown name is a configuration error listing the valid ones."""
        with pytest.raises(ConfigurationError, match="low, medium, high, critical"):
            Severity.parse("urgent")

    def test_comparing_with_other_types_is_not_supported(self):
        """Severities do not compare with numbers."""
        with pytest.raises(TypeError):
            assert Severity.LOW < 1


class TestStatus:
    def test_failing_statuses(self):
        """Only FAILED and ERROR make a result fail."""
        assert {Status.FAILED, Status.ERROR} == {s for s in Status if s.failing}
