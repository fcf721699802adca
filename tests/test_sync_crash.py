"""A sync killed by SIGKILL mid-write loses nothing committed; a rerun converges."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import revops_ingest


WORKER = Path(__file__).with_name("_crash_worker.py")


def _run(lake, marker, start, stop, slow):
    return subprocess.Popen(
        [
            sys.executable,
            str(WORKER),
            str(lake),
            str(marker),
            str(start),
            str(stop),
            slow,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
class TestKilledSync:
    def test_sigkill_mid_write_keeps_committed_data_and_watermark(self, tmp_path):
        """Killing a sync mid-stream keeps the last commit intact; a rerun converges."""
        lake_dir = tmp_path / "lake"
        first = _run(lake_dir, tmp_path / "m0", 0, 20_000, "0")
        assert 0 == first.wait(timeout=120), first.stderr.read()

        marker = tmp_path / "m1"
        victim = _run(lake_dir, marker, 20_000, 2_000_000, "1")
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert victim.poll() is None, victim.stderr.read()
            assert time.monotonic() < deadline, "worker never reached mid-write"
            time.sleep(0.01)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        assert -signal.SIGKILL == victim.returncode

        lake = revops_ingest.Lake(lake_dir)
        # Part files of the killed run exist on disk, but nothing references them.
        runs = list((lake_dir / "Crash/Raw/Thing/data").iterdir())
        assert len(runs) >= 2
        table = lake.read("/Crash/Raw/Thing")
        assert list(range(20_000)) == sorted(table.column("id").to_pylist())
        assert {"next": 20_000} == lake.state("/Crash/Raw/Thing")
        assert ["success"] == lake.read("/RevOps/Audit/sync_log")["status"].to_pylist()

        rerun = _run(lake_dir, tmp_path / "m2", 20_000, 200_000, "0")
        assert 0 == rerun.wait(timeout=120), rerun.stderr.read()

        ids = lake.read("/Crash/Raw/Thing", columns=["id"]).column("id")
        assert 200_000 == len(ids)
        assert 200_000 == len(set(ids.to_pylist()))
        assert {"next": 200_000} == lake.state("/Crash/Raw/Thing")
        lake.vacuum("/Crash/Raw/Thing", older_than=dt.timedelta(0))
        assert 2 == len(list((lake_dir / "Crash/Raw/Thing/data").iterdir()))
