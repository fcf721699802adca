"""The Arrow kernels: exact duplicate counts on every path, dictionary-first sets."""

from __future__ import annotations

import collections
import itertools

import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings

from revops_ingest.quality import _kernels


def _reference(columns):
    rows = [tuple(r) for r in zip(*(c.to_pylist() for c in columns), strict=True)]
    counts = collections.Counter(r for r in rows if None not in r)
    repeated = {k: v for k, v in counts.items() if v > 1}
    return (
        sum(v - 1 for v in repeated.values()),
        sum(repeated.values()),
        len(repeated),
    )


_STRINGS = st.one_of(
    st.none(),
    st.sampled_from(["", "a", "ab", "abcdefgh", "abcdefghi", "x" * 17, "y" * 40]),
    st.text(max_size=20),
)
_ARRAYS = {
    "int64": st.lists(st.one_of(st.none(), st.integers(-5, 5))).map(
        lambda v: pa.array(v, pa.int64())
    ),
    "wide-int64": st.lists(
        st.one_of(st.none(), st.sampled_from([-(2**62), 2**62, 0, 7]))
    ).map(lambda v: pa.array(v, pa.int64())),
    "uint64": st.lists(
        st.one_of(st.none(), st.sampled_from([0, 2**63, 2**64 - 1]))
    ).map(lambda v: pa.array(v, pa.uint64())),
    "string": st.lists(_STRINGS).map(lambda v: pa.array(v, pa.string())),
    "large_binary": st.lists(st.one_of(st.none(), st.binary(max_size=12))).map(
        lambda v: pa.array(v, pa.large_binary())
    ),
    "float": st.lists(st.one_of(st.none(), st.sampled_from([0.0, 1.5, -2.0]))).map(
        lambda v: pa.array(v, pa.float64())
    ),
    "dictionary": st.lists(st.one_of(st.none(), st.sampled_from("abc"))).map(
        lambda v: pa.array(v, pa.string()).dictionary_encode()
    ),
    "timestamp": st.lists(st.one_of(st.none(), st.integers(0, 3))).map(
        lambda v: pa.array(v, pa.timestamp("us"))
    ),
}


class TestDuplicates:
    @settings(max_examples=200, deadline=None)
    @given(
        data=st.data(),
        kinds=st.lists(st.sampled_from(sorted(_ARRAYS)), min_size=1, max_size=2),
        split=st.booleans(),
    )
    def test_agrees_with_a_counter(self, data, kinds, split):
        """Every path (dense map, hashes, exact grouping) counts exactly."""
        arrays = [data.draw(_ARRAYS[k]) for k in kinds]
        n = min(len(a) for a in arrays)
        columns = []
        for whole in arrays:
            array = whole.slice(0, n)
            if split and n > 1:
                columns.append(
                    pa.chunked_array([array.slice(0, n // 2), array.slice(n // 2)])
                )
            else:
                columns.append(pa.chunked_array([array], type=array.type))

        full = _kernels.duplicates(columns, details=True, samples=3)
        cheap = _kernels.duplicates(columns)

        assert _reference(columns) == (
            full.extra_rows,
            full.rows_in_groups,
            full.groups,
        )
        assert full.extra_rows == cheap.extra_rows
        assert min(3, full.groups) == len(full.samples)

    def test_hash_collisions_never_make_false_duplicates(self, monkeypatch):
        """Even if every value hashed alike, only true duplicates are counted."""
        monkeypatch.setattr(
            _kernels, "_hash_array", lambda array: np.zeros(len(array), np.uint64)
        )
        column = pa.chunked_array([pa.array(["a", "b", "c", "b", None, None])])

        found = _kernels.duplicates([column], details=True)

        assert (1, 2, 1, ("b",)) == (
            found.extra_rows,
            found.rows_in_groups,
            found.groups,
            found.samples,
        )

    def test_fixed_width_ids_on_5k_rows(self):
        """18-character ids take the strided path and find planted duplicates."""
        ids = [f"006{i:015d}" for i in range(5000)] + ["006000000000000042"] * 2
        column = pa.chunked_array([pa.array(ids)])

        found = _kernels.duplicates([column], details=True)

        assert (2, 3, 1, ("006000000000000042",)) == (
            found.extra_rows,
            found.rows_in_groups,
            found.groups,
            found.samples,
        )

    def test_dense_map_handles_chunks_and_nulls(self):
        """Integer keys over several chunks with nulls: nulls never duplicate."""
        rng = np.random.default_rng(0)
        values = rng.permutation(10_000)
        column = pa.chunked_array(
            [pa.array(values[:5000]), pa.array([None, None, int(values[0])])]
        )

        found = _kernels.duplicates([column], details=True)

        assert (1, 2, (int(values[0]),)) == (
            found.extra_rows,
            found.rows_in_groups,
            found.samples,
        )

    def test_string_view_is_supported(self):
        """Polars' string_view columns are checked like strings."""
        column = pa.chunked_array([pa.array(["a", "b", "a"]).cast(pa.string_view())])

        assert 1 == _kernels.duplicates([column]).extra_rows

    def test_ungroupable_types_raise(self):
        """List keys can be neither hashed nor grouped (the checker says ERROR)."""
        column = pa.chunked_array([pa.array([[1], [1], [2]])])

        with pytest.raises(pa.ArrowNotImplementedError):
            _kernels.duplicates([column])


class TestTakeRows:
    @settings(max_examples=100, deadline=None)
    @given(
        values=st.lists(_STRINGS, min_size=1, max_size=60),
        cuts=st.lists(st.integers(0, 60), max_size=5),
        data=st.data(),
    )
    def test_chunk_by_chunk_take_equals_take(self, values, cuts, data):
        """Taking ascending rows chunk by chunk gives what a plain take gives."""
        bounds = sorted({0, len(values), *(c for c in cuts if c < len(values))})
        column = pa.chunked_array(
            [pa.array(values[a:b], pa.string()) for a, b in itertools.pairwise(bounds)],
            type=pa.string(),
        )
        rows = np.array(
            sorted(data.draw(st.sets(st.integers(0, len(values) - 1)))), np.int64
        )

        taken = _kernels._take_rows(column, rows)

        assert column.take(pa.array(rows, pa.int64())).to_pylist() == taken.to_pylist()


class TestInvalidValues:
    def test_dictionary_is_checked_first(self):
        """An unused bad dictionary entry does not count; a used one does."""
        dictionary = pa.array(["Discovery", "Proposal", "Unknown"])
        unused = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 1]), dictionary)
        used = pa.DictionaryArray.from_arrays(pa.array([0, 2, 2, None]), dictionary)

        clean = _kernels.invalid_values(
            pa.chunked_array([unused]), ["Discovery", "Proposal"]
        )
        dirty = _kernels.invalid_values(
            pa.chunked_array([used]), ["Discovery", "Proposal"]
        )

        assert (0, ()) == (clean.count, clean.samples)
        assert (2, ("Unknown",)) == (dirty.count, dirty.samples)

    def test_values_that_do_not_fit_the_type_raise(self):
        """Strings accepted for an integer column cannot be compared: an error."""
        with pytest.raises(pa.ArrowInvalid):
            _kernels.invalid_values(pa.chunked_array([pa.array([1, 2])]), ["x"])

    def test_pattern_needs_strings(self):
        """A pattern on an integer column is a TypeError."""
        with pytest.raises(TypeError, match="string column"):
            _kernels.nonmatching(pa.chunked_array([pa.array([1])]), "1")
