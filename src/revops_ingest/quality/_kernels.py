"""The Arrow kernels of the eager checker: tuned for the common cases, exact always.

Row and null counts come from Arrow metadata. The rest touches data once:

- **Uniqueness.** Integer-like keys (integers, dates, timestamps, dictionary codes)
  whose range is small next to the row count go through a dense byte map: one
  scatter, one count. Everything else (strings, wide-range integers, floats, compound
  keys) is hashed to 64 bits with vectorised numpy (fixed-width strings such as
  Salesforce ids read as strided words, no copy), the hashes are sorted in place and
  equal neighbours counted. Equal values always hash equal, so no equal neighbours
  means no duplicates; otherwise the candidate rows are grouped exactly by value, so
  a hash collision can never report a false duplicate. Types we cannot hash are
  grouped exactly by ``pyarrow``.
- **Set membership.** A dictionary column is checked on its dictionary; its codes
  are only counted when the dictionary holds a value outside the set.
- **Samples** are only gathered for checks that fail.

Nulls never count as duplicates or as values outside a set or pattern (see
``docs/quality.md``, *Null semantics*).
"""

from __future__ import annotations

import typing

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


if typing.TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy.typing as npt

    U64 = npt.NDArray[np.uint64]
    BoolArr = npt.NDArray[np.bool_]

# pyarrow-stubs type compute functions per scalar type; these kernels work across
# types (and reach into dictionary and string buffers), so arrays are Any here.
AnyArray: typing.TypeAlias = typing.Any
AnyChunked: typing.TypeAlias = typing.Any

__all__ = [
    "AnyArray",
    "AnyChunked",
    "Duplicates",
    "Invalid",
    "duplicates",
    "invalid_values",
    "nonmatching",
    "plain",
]

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xBF58476D1CE4E5B9)
_K3 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_MASKS = np.array(
    [0] + [(1 << (8 * i)) - 1 for i in range(1, 8)] + [(1 << 64) - 1], dtype=np.uint64
)
_TRUE = pa.scalar(True)  # noqa: FBT003 - pyarrow takes the fill value positionally
_FALSE = pa.scalar(False)  # noqa: FBT003
_SLICE = 1 << 20  # rows per numpy step, to bound temporaries
# Rows hashed per step: the ~20 passes over one step's 64-bit hashes then run in
# the core's L2 cache (1 MiB here); 5 M string ids hash in 0.050 s instead of
# 0.075 s with 1 Mi-row steps (benchmarks/bench_quality.py).
_HASH_ROWS = 1 << 17
_FILTER_BITS = 1 << 22  # slots of the candidate filter (4 MiB)
_SHORT_KEYS = 1 << 24  # up to this many rows, 32-bit keys are sorted
_DENSE_MIN = 1 << 20  # a dense map this small is always fine
_DENSE_MAX = 1 << 26  # bytes of dense map we allow at most (64 MiB)
_SMALL_DICTIONARY = 1 << 16
_MAX_HASHED_LENGTH = 256  # longer strings are grouped by pyarrow instead


@attrs.frozen
class Duplicates:
    """Duplicate keys among rows whose key has no null.

    Attributes:
        extra_rows: Rows whose key also appears in an earlier row.
        rows_in_groups: Rows whose key appears more than once (all occurrences);
            ``None`` until details were asked for.
        groups: Distinct keys that appear more than once; ``None`` likewise.
        samples: Up to the sample size of those keys, in first-seen order.
    """

    extra_rows: int
    rows_in_groups: int | None = None
    groups: int | None = None
    samples: tuple[typing.Any, ...] = ()


@attrs.frozen
class Invalid:
    """Non-null values that fail a membership or pattern test.

    Attributes:
        count: Rows with such a value.
        samples: Up to the sample size of distinct such values.
    """

    count: int
    samples: tuple[typing.Any, ...] = ()


# ---------------------------------------------------------------- types


def plain(column: AnyChunked) -> AnyChunked:
    """Return *column* with view types cast to their large variants.

    Polars exports strings as ``string_view``, which some kernels lack.
    """
    t = column.type
    if pa.types.is_string_view(t):
        return column.cast(pa.large_string())
    if pa.types.is_binary_view(t):
        return column.cast(pa.large_binary())
    if pa.types.is_dictionary(t) and (
        pa.types.is_string_view(t.value_type) or pa.types.is_binary_view(t.value_type)
    ):
        value = (
            pa.large_string()
            if pa.types.is_string_view(t.value_type)
            else pa.large_binary()
        )
        return column.cast(pa.dictionary(t.index_type, value))
    return column


def _integer_like(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_date(t)
        or pa.types.is_time(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_duration(t)
        or pa.types.is_boolean(t)
    )


def _binary_like(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    )


def _int_view(array: AnyArray) -> np.ndarray[typing.Any, typing.Any]:
    """Return every slot of an integer-like array as numpy integers (nulls: junk)."""
    t = array.type
    if pa.types.is_boolean(t):
        return np.asarray(array.fill_null(_FALSE).to_numpy(zero_copy_only=False))
    if not pa.types.is_integer(t):
        width = t.bit_width
        array = array.view(pa.int64() if width == 64 else pa.int32())  # noqa: PLR2004
    if array.null_count:
        array = array.fill_null(0)
    return np.asarray(array.to_numpy(zero_copy_only=False))


def _valid(array: AnyArray) -> BoolArr | None:
    """Return the validity of *array* as numpy booleans, or ``None`` if no nulls."""
    if not array.null_count:
        return None
    valid: BoolArr = np.asarray(
        array.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_
    )
    return valid


# ---------------------------------------------------------------- hashing


def _mix(h: U64) -> None:
    """Finalise 64-bit hashes in place (splitmix64; a bijection)."""
    h ^= h >> _S30
    h *= _K2
    h ^= h >> _S27
    h *= _K3
    h ^= h >> _S31


def _hash_integers(array: AnyArray) -> U64:
    values = _int_view(array)
    if values.dtype.kind == "b":
        values = values.astype(np.uint8)
    h: U64 = values.astype(np.int64, copy=False).view(np.uint64).copy()
    _mix(h)
    return h


def _hash_floats(array: AnyArray) -> U64:
    values = np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False))
    values = values.astype(np.float64)
    values[values == 0] = 0.0  # -0.0 equals 0.0
    values[np.isnan(values)] = np.nan  # one NaN
    h: U64 = values.view(np.uint64).copy()
    _mix(h)
    return h


def _words(
    data: typing.Any, size: int
) -> tuple[np.ndarray[typing.Any, typing.Any], int]:
    """A uint64 view starting at every byte of *data* (padded copy if tiny)."""
    if data is None or size < 8:  # noqa: PLR2004
        padded = np.zeros(16, dtype=np.uint8)
        if data is not None and size:
            padded[:size] = np.frombuffer(data, dtype=np.uint8, count=size)
        data_obj: typing.Any = padded
        size = 16
    else:
        data_obj = data
    view = np.ndarray(
        shape=(size - 7,), dtype="<u8", buffer=data_obj, offset=0, strides=(1,)
    )
    return view, size


def _hash_binary(array: AnyArray) -> U64:
    """Hash every string/binary slot (nulls: junk) from the raw buffers."""
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    buffers = array.buffers()
    n = len(array)
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if large else np.int32, count=array.offset + n + 1
    )[array.offset :].astype(np.int64)
    data = buffers[2]
    lengths = np.diff(offsets)
    h: U64 = lengths.astype(np.uint64) * _K1
    if n == 0:
        return h
    size = data.size if data is not None else 0
    words, size = _words(data, size)
    longest = int(lengths.max())
    shortest = int(lengths.min())
    if longest == shortest and longest >= 8:  # noqa: PLR2004
        # Fixed width (Salesforce ids): strided views, no gather, no copy.
        first = int(offsets[0])
        width = longest
        positions = list(range(0, width - 7, 8))
        if width % 8:
            positions.append(width - 8)
        for at in positions:
            word = np.ndarray(
                shape=(n,),
                dtype="<u8",
                buffer=data,
                offset=first + at,
                strides=(width,),
            )
            h ^= word
            _mix(h)
        return h
    # Variable width: the same words per string as above (full words, then an
    # overlapping last word), so equal strings hash equal whichever path ran;
    # strings shorter than a word are read as one masked word.
    start = offsets[:-1]
    short = np.flatnonzero((lengths > 0) & (lengths < 8))  # noqa: PLR2004
    if len(short):
        pos = start[short]
        clipped = np.minimum(pos, size - 8)
        word = words[clipped]
        word >>= ((pos - clipped) * 8).astype(np.uint64)
        word &= _MASKS[lengths[short]]
        part = h[short]
        part ^= word
        _mix(part)
        h[short] = part
    rows = np.flatnonzero(lengths >= 8)  # noqa: PLR2004
    at = 0
    while len(rows):
        part = h[rows]
        part ^= words[start[rows] + at]
        _mix(part)
        h[rows] = part
        at += 8
        rows = rows[lengths[rows] >= at + 8]
    tail = np.flatnonzero((lengths > 8) & (lengths % 8 != 0))  # noqa: PLR2004
    if len(tail):
        part = h[tail]
        part ^= words[start[tail] + lengths[tail] - 8]
        _mix(part)
        h[tail] = part
    return h


def _hash_array(array: AnyArray) -> U64 | None:  # noqa: PLR0911 - one return per type
    """64-bit hashes of every slot of *array*, or ``None`` for unsupported types."""
    t = array.type
    if pa.types.is_dictionary(t):
        values = _hash_array(array.dictionary)
        if values is None:
            return None
        codes = _int_view(array.indices).astype(np.intp, copy=False)
        return values[codes] if len(values) else np.zeros(len(array), np.uint64)
    if _integer_like(t):
        return _hash_integers(array)
    if pa.types.is_floating(t):
        return _hash_floats(array)
    if _binary_like(t):
        lengths: typing.Any = pc.binary_length(array)
        longest: int | None = pc.max(lengths).as_py()
        if longest is not None and longest > _MAX_HASHED_LENGTH:
            return None
        return _hash_binary(array)
    if pa.types.is_fixed_size_binary(t) or pa.types.is_decimal(t):
        width = t.byte_width
        as_binary = pc.cast(
            array.view(pa.binary(width)) if pa.types.is_decimal(t) else array,
            pa.binary(),
        )
        return _hash_binary(as_binary)
    return None


# ---------------------------------------------------------------- duplicates


def _batches(
    columns: Sequence[AnyChunked], rows: int = _SLICE
) -> Iterator[list[AnyArray]]:
    names = [str(i) for i in range(len(columns))]
    table = pa.Table.from_arrays(list(columns), names=names)
    for batch in table.to_batches(max_chunksize=rows):
        yield list(batch.columns)


def _dense_candidate(columns: Sequence[AnyChunked]) -> AnyChunked | None:
    """The one integer-like column to run through the dense map, if there is one."""
    if len(columns) != 1:
        return None
    column = columns[0]
    t = column.type
    if pa.types.is_dictionary(t):
        dictionary_sizes = {len(chunk.dictionary) for chunk in column.chunks}
        if len(column.chunks) == 1 and max(dictionary_sizes) <= _SMALL_DICTIONARY:
            chunk = column.chunks[0]
            if len(pc.unique(chunk.dictionary)) == len(chunk.dictionary):
                return pa.chunked_array([chunk.indices])
        return None
    if _integer_like(t) and not pa.types.is_boolean(t):
        return column
    return None


def _nonnull_values(
    column: AnyChunked,
) -> list[np.ndarray[typing.Any, typing.Any]]:
    parts = []
    for chunk in column.chunks:
        if not len(chunk):
            continue
        values = _int_view(chunk)
        valid = _valid(chunk)
        parts.append(values if valid is None else values[valid])
    return parts


def _dense(
    column: AnyChunked, *, details: bool
) -> tuple[int, int, int, np.ndarray[typing.Any, typing.Any]] | None:
    """Count duplicates of an integer column with a dense map, if its range allows.

    Returns ``(extra, rows_in_groups, groups, duplicated_values)``; the last three
    only when *details* (else ``-1, -1, empty``).
    """
    parts = [p for p in _nonnull_values(column) if len(p)]
    total = sum(len(p) for p in parts)
    if total == 0:
        return 0, 0, 0, np.empty(0, np.int64)
    lo = min(int(p.min()) for p in parts)
    hi = max(int(p.max()) for p in parts)
    span = hi - lo + 1
    if span > min(max(4 * total, _DENSE_MIN), _DENSE_MAX):
        return None

    def offsets(part: np.ndarray[typing.Any, typing.Any]) -> Iterator[typing.Any]:
        for at in range(0, len(part), _SLICE):
            piece = part[at : at + _SLICE]
            if piece.dtype == np.uint64:  # lo >= 0 here, and may exceed int64
                yield (piece - np.uint64(lo)).astype(np.intp)
            else:
                yield np.subtract(piece, np.int64(lo), dtype=np.int64)

    if not details:
        seen = np.zeros(span, dtype=np.bool_)
        for part in parts:
            for index in offsets(part):
                seen[index] = True
        distinct = int(np.count_nonzero(seen))
        return total - distinct, -1, -1, np.empty(0, np.int64)
    index = np.concatenate([i for p in parts for i in offsets(p)])
    counts = np.bincount(index, minlength=span)
    del index
    repeated = np.flatnonzero(counts > 1)
    in_groups = int(counts[repeated].sum())
    if lo > np.iinfo(np.int64).max:
        values = repeated.astype(np.uint64) + np.uint64(lo)
    else:
        values = repeated + np.int64(lo)
    return in_groups - len(repeated), in_groups, len(repeated), values


def _hashes(
    columns: Sequence[AnyChunked],
) -> tuple[np.ndarray[typing.Any, typing.Any], BoolArr | None] | None:
    """Row keys of the (compound) key and its validity (``None``: no nulls).

    Up to :data:`_SHORT_KEYS` rows the keys are the top 32 bits of the 64-bit
    hashes (half the memory, and a faster sort; chance collisions are settled by
    the exact grouping); above, the whole hashes. Written batch by batch into one
    preallocated array, so no batch-sized copies pile up.
    """
    rows = len(columns[0])
    short = rows <= _SHORT_KEYS
    keys = np.empty(rows, dtype=np.uint32 if short else np.uint64)
    valid_all: BoolArr | None = None
    at = 0
    for arrays in _batches(columns, _HASH_ROWS):
        h: U64 | None = None
        valid: BoolArr | None = None
        for array in arrays:
            part = _hash_array(array)
            if part is None:
                return None
            if h is None:
                h = part
            else:
                h *= _K1
                h ^= part
                _mix(h)
            mask = _valid(array)
            if mask is not None:
                valid = mask if valid is None else valid & mask
        if h is None:  # pragma: no cover - at least one column
            continue
        size = len(h)
        keys[at : at + size] = (h >> np.uint64(32)) if short else h
        if valid is not None:
            if valid_all is None:
                valid_all = np.ones(rows, dtype=np.bool_)
            valid_all[at : at + size] = valid
        at += size
    return keys, valid_all


def _take_rows(
    column: AnyChunked, rows: np.ndarray[typing.Any, typing.Any]
) -> AnyChunked:
    """``column.take(rows)`` chunk by chunk, for ascending *rows*.

    A take on a chunked string column concatenates its chunks first: for 5 M
    18-character ids, ~100 MB copied to pick a few thousand rows.
    """
    if column.num_chunks <= 1:
        return column.take(pa.array(rows, pa.int64()))
    lengths = np.fromiter((len(c) for c in column.chunks), np.int64, column.num_chunks)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    which = np.searchsorted(starts, rows, side="right") - 1
    pieces = [
        column.chunk(int(chunk)).take(pa.array(rows[which == chunk] - starts[chunk]))
        for chunk in np.unique(which)
    ]
    return pa.chunked_array(pieces, type=column.type)


def _exact(
    columns: Sequence[AnyChunked], rows: np.ndarray[typing.Any, typing.Any] | None
) -> tuple[int, int, int, list[typing.Any]]:
    """Group the key exactly (optionally only *rows*); return duplicate figures."""
    names = [f"k{i}" for i in range(len(columns))]
    if rows is not None:
        columns = [_take_rows(column, rows) for column in columns]
    table = pa.Table.from_arrays(list(columns), names=names)
    keep = None
    for name in names:
        valid = pc.is_valid(table.column(name))
        keep = valid if keep is None else pc.and_(keep, valid)
    if keep is not None and table.num_rows:
        table = table.filter(keep)
    decoded = []
    for name in names:
        column: AnyChunked = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        decoded.append(column)
    table = pa.Table.from_arrays(decoded, names=names)
    groups = table.group_by(names, use_threads=False).aggregate([([], "count_all")])
    repeated = groups.filter(pc.field("count_all") > 1)
    in_groups = int(pc.sum(repeated.column("count_all")).as_py() or 0)
    keys = repeated.drop_columns(["count_all"]).to_pylist()
    values = [k["k0"] if len(names) == 1 else tuple(k[n] for n in names) for k in keys]
    return in_groups - len(keys), in_groups, len(keys), values


def _from_ints(
    column: AnyChunked, values: np.ndarray[typing.Any, typing.Any]
) -> list[typing.Any]:
    """Turn dense-map offsets back into the column's Python values."""
    t = column.type
    result: list[typing.Any]
    if pa.types.is_dictionary(t):
        dictionary = column.chunks[0].dictionary
        result = dictionary.take(pa.array(values, pa.int64())).to_pylist()
    elif pa.types.is_integer(t):
        result = pa.array(values).cast(t).to_pylist()
    else:
        width = pa.int64() if t.bit_width == 64 else pa.int32()  # noqa: PLR2004
        result = pa.array(values).cast(width).view(t).to_pylist()
    return result


def _rows_with(
    h: np.ndarray[typing.Any, typing.Any],
    suspects: np.ndarray[typing.Any, typing.Any],
    valid: BoolArr | None,
) -> np.ndarray[typing.Any, typing.Any]:
    """Positions of the (valid) rows whose hash is one of the sorted *suspects*.

    A 4 Mi-bit filter on the low bits narrows 5 M rows to a few thousand in one
    gather (``np.isin`` on the whole array sorts it: seconds); only those are
    looked up exactly.
    """
    mask = h.dtype.type(_FILTER_BITS - 1)
    seen = np.zeros(_FILTER_BITS, dtype=np.bool_)
    seen[suspects & mask] = True
    found: list[np.ndarray[typing.Any, typing.Any]] = []
    for at in range(0, len(h), _SLICE):
        part = h[at : at + _SLICE]
        maybe = np.flatnonzero(seen[part & mask])
        if valid is not None:
            maybe = maybe[valid[at : at + _SLICE][maybe]]
        hit = maybe[np.isin(part[maybe], suspects)]
        found.append(hit + at)
    return np.concatenate(found) if found else np.empty(0, np.intp)


def duplicates(
    columns: Sequence[AnyChunked], *, details: bool = False, samples: int = 5
) -> Duplicates:
    """Count rows whose (compound) key repeats; rows with a null in the key are out.

    Without *details* only :attr:`Duplicates.extra_rows` is computed (the cheap
    pass); with it, the rows in duplicate groups, the groups and samples too.
    """
    columns = [plain(c) for c in columns]
    dense_column = _dense_candidate(columns)
    if dense_column is not None:
        dense = _dense(dense_column, details=details)
        if dense is not None:
            extra, in_groups, groups, repeated = dense
            if not details:
                return Duplicates(extra)
            shown = _from_ints(columns[0], repeated[:samples]) if samples else []
            return Duplicates(extra, in_groups, groups, tuple(shown))
    hashed = _hashes(columns)
    if hashed is None:
        extra, in_groups, groups, values = _exact(columns, None)
        if not details:
            return Duplicates(extra)
        return Duplicates(extra, in_groups, groups, tuple(values[:samples]))
    keys, valid = hashed
    del hashed
    ordered = keys[valid] if valid is not None else keys.copy()
    ordered.sort()
    equal = ordered[1:] == ordered[:-1]
    if not equal.any():
        return Duplicates(0, 0, 0, ()) if details else Duplicates(0)
    suspects = np.unique(ordered[1:][equal])
    del ordered, equal
    positions = _rows_with(keys, suspects, valid)
    # The exact grouping of the candidates gives every figure: keep them all,
    # so asking again for details costs nothing.
    extra, in_groups, groups, values = _exact(columns, positions)
    return Duplicates(extra, in_groups, groups, tuple(values[:samples]))


# ---------------------------------------------------------------- membership


def _value_set(values: Sequence[typing.Any], t: pa.DataType) -> AnyArray:
    target = t.value_type if pa.types.is_dictionary(t) else t
    return pa.array([v for v in values if v is not None]).cast(target)


def _distinct_samples(array: AnyArray, samples: int) -> list[typing.Any]:
    if not samples or not len(array):
        return []
    unique: AnyArray = pc.unique(array)
    shown: list[typing.Any] = unique.slice(0, samples).to_pylist()
    return shown


def _scan(  # noqa: C901 - the dictionary and plain paths side by side
    column: AnyChunked,
    ok: typing.Callable[[AnyArray], AnyArray],
    samples: int,
) -> Invalid:
    """Count non-null rows for which *ok* is false; dictionaries checked first."""
    column = plain(column)
    count = 0
    found: list[typing.Any] = []
    for chunk in column.chunks:
        if not len(chunk) or chunk.null_count == len(chunk):
            continue
        if pa.types.is_dictionary(chunk.type):
            dictionary = chunk.dictionary
            good = np.asarray(
                ok(dictionary).fill_null(_TRUE).to_numpy(zero_copy_only=False),
                dtype=bool,
            )
            if good.all():
                continue  # the usual case: O(dictionary), codes never touched
            codes = chunk.indices
            if codes.null_count:
                codes = codes.drop_null()
            usage = np.bincount(
                _int_view(codes).astype(np.intp, copy=False), minlength=len(dictionary)
            )
            bad = np.flatnonzero(~good & (usage > 0))
            count += int(usage[bad].sum())
            if len(found) < samples:
                found.extend(dictionary.take(pa.array(bad, pa.int64())).to_pylist())
            continue
        good_rows = ok(chunk)
        passed = pc.sum(good_rows.fill_null(_FALSE)).as_py() or 0
        bad_rows = len(chunk) - chunk.null_count - int(passed)
        if not bad_rows:
            continue
        count += bad_rows
        if len(found) < samples:
            mask = pc.and_(pc.invert(good_rows.fill_null(_TRUE)), pc.is_valid(chunk))
            found.extend(_distinct_samples(chunk.filter(mask), samples))
    unique: list[typing.Any] = []
    for value in found:
        if value not in unique:
            unique.append(value)
    return Invalid(count, tuple(unique[:samples]))


def invalid_values(
    column: AnyChunked, values: Sequence[typing.Any], *, samples: int = 5
) -> Invalid:
    """Count non-null values of *column* that are not in *values*.

    Raises:
        pa.ArrowInvalid: A value cannot be converted to the column's type.
    """
    column = plain(column)
    value_set = _value_set(values, column.type)

    def ok(array: AnyArray) -> AnyArray:
        return pc.is_in(array, value_set=value_set)

    return _scan(column, ok, samples)


def nonmatching(column: AnyChunked, pattern: str, *, samples: int = 5) -> Invalid:
    """Count non-null strings of *column* that do not fully match *pattern* (RE2).

    Raises:
        TypeError: The column does not hold strings.
        pa.ArrowInvalid: The pattern is not valid RE2.
    """
    column = plain(column)
    t = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        msg = f"a pattern needs a string column, not {t}"
        raise TypeError(msg)
    anchored = f"^(?:{pattern})$"

    def ok(array: AnyArray) -> AnyArray:
        return pc.match_substring_regex(array, pattern=anchored)

    return _scan(column, ok, samples)
