"""The public surface of revops_ingest.staging."""

from __future__ import annotations

import subprocess
import sys

from revops_ingest import staging


class TestExports:
    def test_all_is_sorted_and_resolves(self):
        """Every name in __all__ exists, and __all__ is sorted."""
        assert sorted(staging.__all__) == list(staging.__all__)
        for name in staging.__all__:
            assert hasattr(staging, name), name

    def test_import_loads_no_engine(self):
        """Importing staging loads no engine the package had not loaded already."""
        code = (
            "import sys, revops_ingest\n"
            "engines = ('duckdb', 'polars', 'pandas', 'pyspark')\n"
            "before = {m for m in engines if m in sys.modules}\n"
            "import revops_ingest.staging\n"
            "bad = [m for m in engines if m in sys.modules and m not in before]\n"
            "assert not bad, bad\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
