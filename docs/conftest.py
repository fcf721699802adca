"""Run every ``python`` block of the Markdown docs (Sybil), each page in a tmp dir."""

from __future__ import annotations

import pytest
from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser


@pytest.fixture(name="in_tmp_dir")
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser()],
    patterns=["*.md"],
    fixtures=["in_tmp_dir"],
).pytest()
