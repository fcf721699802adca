"""Runs one sync in its own process so a test can SIGKILL it mid-write.

Usage: python _crash_worker.py LAKE MARKER START STOP SLOW
Lands ids START..STOP-1 in pages of 1,000; once MARKER exists on disk the parent may
kill it. With SLOW=1 it sleeps between pages after writing MARKER.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

import revops_ingest
from revops_ingest import ObjectSpec


class CountingSource:
    system = "Crash"

    def __init__(self, start: int, stop: int, marker: Path, slow: bool) -> None:
        self.start, self.stop, self.marker, self.slow = start, stop, marker, slow

    def objects(self):
        return [ObjectSpec(name="Thing", primary_key=("id",), cursor="id")]

    def fetch(self, obj, state, context):
        begin = max(self.start, int(state["next"]) if state else 0)
        for low in range(begin, self.stop, 1_000):
            ids = list(range(low, min(low + 1_000, self.stop)))
            yield pa.RecordBatch.from_pydict(
                {"id": pa.array(ids, pa.int64()), "pad": ["x" * 200] * len(ids)}
            )
            if low - begin >= 300_000 and not self.marker.exists():
                self.marker.write_text("writing")
            if self.slow and self.marker.exists():
                time.sleep(0.01)
        return {"next": self.stop}


if __name__ == "__main__":
    lake_url, marker, start, stop, slow = sys.argv[1:6]
    source = CountingSource(int(start), int(stop), Path(marker), slow == "1")
    run = revops_ingest.sync(source, "Thing", revops_ingest.Lake(lake_url))
    print(run.records_processed)
