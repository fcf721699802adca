"""Any sequence of lake operations reads back exactly the committed rows."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import tempfile
import uuid

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from revops_ingest import _lake
from revops_ingest._lake import Lake
from revops_ingest.exceptions import DatasetNotFoundError


PATH = "/RevOps/Staging/opportunities"

states = st.none() | st.fixed_dictionaries({"cursor": st.integers(0, 10**6)})
sizes = st.integers(0, 6)


class LakeMachine(RuleBasedStateMachine):
    """Drives a lake and a plain-list model side by side.

    The model is the list of rows a reader must see, in order, and the newest
    committed state. Interrupted writes (aborted, or abandoned like a crash)
    must leave both unchanged; compaction and vacuum must change neither.
    """

    backend = "memory"

    def __init__(self):
        super().__init__()
        self.counter = itertools.count()
        self.rows: list[int] = []
        self.state: dict | None = None
        self.committed = False
        self.abandoned: list[object] = []
        self.clock = dt.timedelta(0)

    @initialize()
    def open_lake(self):
        if self.backend == "memory":
            self.tmp = None
            self.lake = Lake(f"memory://props-{uuid.uuid4().hex}")
        else:
            self.tmp = tempfile.mkdtemp(prefix="lake-props-")
            self.lake = Lake(self.tmp)
        self.real_now = _lake._utcnow
        _lake._utcnow = lambda: self.real_now() + self.clock

    def teardown(self):
        _lake._utcnow = self.real_now
        self.abandoned.clear()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            store = self.lake._engine.store
            store.delete_tree(store.root)

    def batch(self, n):
        values = [next(self.counter) for _ in range(n)]
        return values, pa.table({"v": pa.array(values, pa.int64())})

    @rule(n=sizes, state=states)
    def append(self, n, state):
        values, data = self.batch(n)
        self.lake.append(PATH, data, state=state)
        self.rows += values
        self.committed = True
        if state is not None:
            self.state = state

    @rule(n=sizes, state=states)
    def replace(self, n, state):
        values, data = self.batch(n)
        self.lake.write(PATH, data, state=state)
        self.rows = values
        self.committed = True
        if state is not None:
            self.state = state

    @rule(
        n=st.integers(1, 6),
        chunk=st.integers(1, 3),
        mode=st.sampled_from(["append", "replace"]),
    )
    def aborted_write(self, n, chunk, mode):
        _, data = self.batch(n)
        writer = self.lake.writer(
            PATH, mode=mode, row_group_size=chunk, max_rows_per_file=chunk
        )
        writer.write(data)
        writer.abort()

    @rule(
        n=st.integers(1, 6),
        chunk=st.integers(1, 3),
        mode=st.sampled_from(["append", "replace"]),
    )
    def abandoned_write(self, n, chunk, mode):
        _, data = self.batch(n)
        writer = self.lake.writer(
            PATH, mode=mode, row_group_size=chunk, max_rows_per_file=chunk
        )
        writer.write(data)
        self.abandoned.append(writer)  # never committed: a crash

    @precondition(lambda self: self.committed)
    @rule()
    def compact(self):
        self.lake.compact(PATH)

    @precondition(lambda self: self.committed)
    @rule(
        n=sizes,
        state=states,
        racer=st.sampled_from(["append", "replace"]),
    )
    def compact_while_another_writer_commits(self, n, state, racer):
        """Another Lake object commits after compaction read its snapshot."""
        values, data = self.batch(n)
        engine = self.lake._engine
        real = engine.arrow_dataset

        raced = []

        def racing(snap, segments):
            dataset = real(snap, segments)
            raced.append(True)
            other = Lake(self.lake.url)
            if racer == "append":
                other.append(PATH, data, state=state)
            else:
                other.write(PATH, data, state=state)
            return dataset

        engine.arrow_dataset = racing
        try:
            commit = self.lake.compact(PATH)
        finally:
            del engine.arrow_dataset
        if not raced:  # nothing to compact: the racer never ran
            assert commit is None
            return
        if racer == "replace":
            assert commit is None
            self.rows = values
        elif commit is not None:
            # The compacted rows are committed after the racing append.
            self.rows = values + self.rows
        else:
            self.rows += values
        if state is not None:
            self.state = state

    @rule(hours=st.sampled_from([0, 2]), grace=st.sampled_from([0, 1]))
    def vacuum(self, hours, grace):
        self.clock += dt.timedelta(hours=hours)
        self.lake.vacuum(PATH, older_than=dt.timedelta(hours=grace))

    @invariant()
    def reads_back_exactly_the_committed_rows(self):
        if not hasattr(self, "lake"):
            return
        if not self.committed:
            with pytest.raises(DatasetNotFoundError):
                self.lake.read(PATH)
            return
        assert self.rows == self.lake.read(PATH).column("v").to_pylist()
        assert self.state == self.lake.state(PATH)
        assert len(self.rows) == sum(
            b.num_rows for b in self.lake.scan(PATH, batch_size=4)
        )

    @invariant()
    def a_fresh_lake_object_agrees(self):
        if not hasattr(self, "lake") or not self.committed:
            return
        fresh = Lake(self.lake.url)
        assert self.rows == fresh.read(PATH).column("v").to_pylist()
        assert self.state == fresh.state(PATH)


class LocalLakeMachine(LakeMachine):
    """The same model run against the local-disk store."""

    backend = "local"


_SETTINGS = {
    "deadline": None,
    "stateful_step_count": 25,
    "suppress_health_check": [HealthCheck.too_slow],
}

TestMemoryLake = LakeMachine.TestCase
TestMemoryLake.settings = settings(max_examples=50, **_SETTINGS)
TestMemoryLake.__doc__ = (
    "Random operation sequences on a memory:// lake match the model."
)

TestLocalLake = LocalLakeMachine.TestCase
TestLocalLake.settings = settings(max_examples=20, **_SETTINGS)
TestLocalLake.__doc__ = "Random operation sequences on a local lake match the model."
