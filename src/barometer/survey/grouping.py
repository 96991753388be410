"""Grouping helpers: integer codes of columns and of their combinations, first rows of groups.

Every group sum in the engine is an ``np.bincount`` over codes 0..K-1 made here once; these
helpers know nothing of designs (they sit below :mod:`barometer.survey.design`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import sparse


def writeable(values: np.ndarray) -> np.ndarray:
    """The array flagged writeable, without copying its memory when it can be.

    ``np.bincount`` copies a read-only array (e.g. a column of a copy-on-write pandas
    frame) at every call, which costs a pass and n-row memory each time. A read-only view
    of writeable memory (pandas' copy-on-write columns) gets a writeable view of the same
    memory; only truly read-only memory is copied (once). The engine never writes to the
    arrays it takes this way (they are a design's private data): copy-on-write keeps the
    design's frame apart from the caller's, since a write to either copies the block first.
    """
    if values.flags.writeable:
        return values
    view = values.view()
    try:
        view.flags.writeable = True
    except ValueError:  # memory that is really read-only (e.g. an Arrow buffer)
        return values.copy()
    return view


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..K-1 of a column in the sorted order of its distinct values, and those values.

    Missing values get the last code (as ``groupby(sort=True, dropna=False)``). Integers
    spanning a range of at most a few times the number of rows are coded in O(n) with a
    lookup table; anything else by hashing (``pd.factorize``).
    """
    codes, uniques, _ = factorize_first(values)
    return codes, uniques


def _int_range(v: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """For integers spanning at most a few times the number of rows: the values shifted to
    start at 0 (the column itself when it already does: a writeable view, no copy), the
    smallest and the largest value; None for anything else."""
    if v.dtype.kind not in "iu" or not v.size:
        return None
    low, high = extremes(v)
    lo, hi = int(low), int(high)  # type: ignore[call-overload]
    if hi - lo > max(4 * v.size, 1 << 16):
        return None
    # np.bincount copies a read-only array (e.g. a column of a copy-on-write frame) at
    # every call: the codes are a writeable array (a view when they can be)
    shifted = writeable(v) if v.dtype == np.intp else v.astype(np.intp)
    if lo:
        shifted = shifted - lo
    return shifted, lo, hi


def factorize_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`factorize`, with the first row of each distinct value (:func:`first_rows`).

    For integers in a short range, the values present are those whose first row is found:
    a scan of the rows in blocks that stops once every value of the range has been seen
    (usually after a small part of the rows), so that integers already coded 0..K-1 cost
    their minimum and maximum and this scan, with no other pass over the rows.
    """
    return _factorize_tally(values, lambda c, k: first_rows(c, k, complete=True), -1)


def factorize_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`factorize`, with the number of rows of each distinct value (:func:`counts`)."""
    return _factorize_tally(values, counts, 0)


def _factorize_tally(values: np.ndarray, tally: Callable[[np.ndarray, int], np.ndarray],
                     absent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`factorize` with ``tally(codes, K)`` per distinct value; for integers in a
    short range, tallied on the range, a value being present where its tally is not
    ``absent``."""
    v = np.asarray(values)
    ints = _int_range(v)
    if ints is not None:
        shifted, lo, hi = ints
        per_value = tally(shifted, hi - lo + 1)
        present = per_value != absent
        if present.all():  # already the codes 0..K-1
            return shifted, np.arange(lo, hi + 1), per_value
        lookup = np.cumsum(present) - 1
        return lookup[shifted], np.flatnonzero(present) + lo, per_value[present]
    codes, uniques = pd.factorize(v, sort=True, use_na_sentinel=False)
    codes = codes.astype(np.intp, copy=False)
    return codes, np.asarray(uniques), tally(codes, len(uniques))


def group_codes(*columns: np.ndarray) -> np.ndarray:
    """Integer codes 0..K-1 of the combinations of the given columns (sorted order)."""
    codes = factorize(columns[0])[0]
    for col in columns[1:]:
        more, levels = factorize(col)
        # lexicographic order of (previous code, this code) is the sorted order of the pairs
        codes = factorize(codes * len(levels) + more)[0]
    return codes


def first_rows(codes: np.ndarray, k: int | None = None, *, complete: bool = False
               ) -> np.ndarray:
    """The first row of each code 0..k-1 (-1 for a code that does not occur).

    With ``complete`` (every code 0..k-1 is expected to occur, as after :func:`factorize`)
    the rows are scanned in blocks of doubling size, stopping once every code has been
    seen: usually after a small part of the rows, and never more than one pass over them
    (the whole pass when a code does not occur, which then gets -1 all the same).
    """
    k = int(codes.max()) + 1 if k is None else k
    first = np.full(k, -1, dtype=np.intp)
    block = max(1 << 15, 8 * k)
    if not complete or codes.size <= 4 * block:
        first[codes[::-1]] = np.arange(codes.size)[::-1]
        return first
    start = found = 0
    while start < codes.size and found < k:
        chunk = codes[start:start + block]
        part = np.full(k, -1, dtype=np.intp)
        part[chunk[::-1]] = np.arange(start, start + chunk.size)[::-1]
        new = (first < 0) & (part >= 0)
        first[new] = part[new]
        found += int(np.count_nonzero(new))
        start += block
        block *= 2
    return first


# ------------------------------------------------------------------ group sums on two threads
HALVES_FROM = 1 << 18  # rows from which a pass over the rows runs on two threads
PART = 1 << 20  # rows per part of a half: the temporaries of a part stay bounded
_POOL: tuple[int, ThreadPoolExecutor] | None = None
T = TypeVar("T")


def _worker() -> ThreadPoolExecutor:
    """The one worker thread of :func:`row_parts` (a new one in a forked process,
    whose copy of the parent's pool has no thread)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="barometer"))
    return _POOL[1]


def row_parts(n: int, work: Callable[[int, int], T]) -> list[T]:
    """``work(lo, hi)`` on parts of the rows 0..n-1, in row order.

    From ``HALVES_FROM`` rows the two halves of the rows run on two threads (the second on
    a worker thread), each in parts of at most ``PART`` rows. The parts depend on ``n``
    only, never on the machine, so sums over them are the same to the last bit everywhere.
    ``work`` should spend its time in code that releases the GIL (numpy's arithmetic and
    reductions, scipy's sparse products: :func:`group_matrix`).
    """
    def run(lo: int, hi: int) -> list[T]:
        return [work(start, min(start + PART, hi)) for start in range(lo, hi, PART)]

    def on_worker(lo: int, hi: int) -> list[T]:
        _SCRATCH.worker = True  # the worker thread never waits for itself (see below)
        return run(lo, hi)

    # on the worker thread itself (a ``work`` passing over rows again), one thread: its
    # own submission would wait behind it for ever
    if n < HALVES_FROM or getattr(_SCRATCH, "worker", False):
        return run(0, n)
    half = n // 2
    second = _worker().submit(on_worker, half, n)
    first = run(0, half)
    return first + second.result()


_SCRATCH = threading.local()


def scratch(m: int, dtype: type = np.float64) -> np.ndarray:
    """A buffer of m values for the calling thread's temporaries in a part of the rows,
    kept between calls (at most ``PART`` values of each dtype per thread): a new n-row
    array costs its page faults at every pass, more than the arithmetic on it. One buffer
    per dtype and thread: a caller holds at most one of each dtype at a time."""
    key = np.dtype(dtype).str
    buf = getattr(_SCRATCH, key, None)
    if buf is None or buf.size < m:
        buf = np.empty(max(m, min(PART, 2 * m)), dtype=dtype)
        setattr(_SCRATCH, key, buf)
    return buf[:m]


def row_parts_sum(n: int, work: Callable[[int, int], list[np.ndarray]]) -> list[np.ndarray]:
    """The sums over the parts of the rows (:func:`row_parts`) of ``work(lo, hi)``, a list
    of arrays per part, added in row order."""
    parts = row_parts(n, work)
    total = parts[0]
    for part in parts[1:]:
        total = [a + b for a, b in zip(total, part, strict=True)]
    return total


def counts(codes: np.ndarray, k: int) -> np.ndarray:
    """The number of rows of each code 0..k-1 (``np.bincount``; codes out of that range
    are not allowed): on the parts of the rows
    (:func:`row_parts`, two threads), each as a product of :func:`group_matrix` with its
    codes as int32, below 2^31 codes (``np.bincount`` holds the GIL)."""
    if codes.size < HALVES_FROM or k >= 2**31:
        return np.bincount(codes, minlength=k)

    def part(lo: int, hi: int) -> list[np.ndarray]:
        m = hi - lo
        part = scratch(m, np.int32)
        part[:] = codes[lo:hi]
        return [group_matrix(part, k, ones(m)) @ ones(m)]

    return np.rint(row_parts_sum(codes.size, part)[0]).astype(np.intp)


def has_nan(values: np.ndarray) -> bool:
    """Whether a float array has a NaN: its minimum propagates NaN (one pass, no mask, on
    the parts of the rows: :func:`row_parts`)."""
    if not values.size:
        return False
    return bool(np.isnan(row_parts(values.size, lambda lo, hi: values[lo:hi].min())).any())


def extremes(values: np.ndarray) -> tuple[object, object]:
    """The minimum and the maximum of a 1-d array (NaN for both when it holds a NaN, which
    ``min`` and ``max`` propagate), over the parts of :func:`row_parts`: one pass each, on
    two threads, no temporary."""
    if not values.size:
        raise ValueError("extremes of an empty array")
    parts = row_parts(values.size, lambda lo, hi: (values[lo:hi].min(), values[lo:hi].max()))
    lows, highs = zip(*parts, strict=True)
    return np.min(lows), np.max(highs)


_ONES: np.ndarray = np.ones(0)
_POINTERS: np.ndarray = np.zeros(1, dtype=np.int32)


def ones(m: int) -> np.ndarray:
    """A read-only vector of m ones (a view of one kept array)."""
    global _ONES
    if _ONES.size < m:
        _ONES = np.ones(max(m, PART))
        _ONES.flags.writeable = False
    return _ONES[:m]


def group_matrix(codes: np.ndarray, k: int, values: np.ndarray) -> sparse.csc_matrix:
    """The k x m matrix G with G[codes_i, i] = values_i (int32 ``codes`` in 0..k-1, one per
    row of a part of m rows), so that ``G @ v`` holds the sums of values_i v_i per code: a
    scatter of the rows into the codes that reads ``codes``, ``values`` and ``v`` once and
    runs without the GIL (scipy's CSC product; ``np.bincount`` and ``np.add.at`` hold it).

    The codes must lie in 0..k-1: neither this function nor scipy's product checks them
    (the callers make them so). No array is copied: the arrays are set as the matrix's CSC
    arrays (its ``data``, ``indices`` and ``indptr``), because scipy's constructor copies
    a view of a much larger array (a part of the rows)."""
    global _POINTERS
    m = codes.size
    assert codes.dtype == np.int32 and values.size == m
    if _POINTERS.size <= m:
        _POINTERS = np.arange(max(m, PART) + 1, dtype=np.int32)
    g = sparse.csc_matrix((k, m))  # empty: its arrays are replaced below
    g.data, g.indices, g.indptr = values, codes, _POINTERS[: m + 1]
    return g
