"""Fixtures every source's tests share: a fresh lake, and the waits a source slept."""

from __future__ import annotations

import pytest

import revops_ingest


@pytest.fixture(name="lake")
def _lake(tmp_path):
    """An empty local lake for this test."""
    return revops_ingest.Lake(tmp_path / "lake")


@pytest.fixture(name="waits")
def _waits():
    """The seconds a source was told to sleep (its ``sleep`` hook appends here)."""
    return []
