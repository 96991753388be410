"""Grouping helpers: integer codes of columns and of their combinations, first rows of groups.

Every group sum in the engine is an ``np.bincount`` over codes 0..K-1 made here once; these
helpers know nothing of designs (they sit below :mod:`barometer.survey.design`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


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
    lo, hi = int(v.min()), int(v.max())
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
    """:func:`factorize`, with the number of rows of each distinct value (for integers a
    by-product of the lookup table; otherwise one more ``np.bincount``)."""
    return _factorize_tally(values, lambda c, k: np.bincount(c, minlength=k), 0)


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
