"""Replicate weights held by a design, their variance formula and their rank.

A replicate design keeps its n x R replicate weights here (final weights: every weighting
step re-applied), with R's scales: variance = scale x sum_r rscales_r (theta_r - centre)^2,
the centre being the mean of the replicates or, with ``mse``, the full-sample estimate (R's
``svrVar``; Wolter 2007, ch. 4-5). Building replicates from a design is
:mod:`barometer.survey.replicate`; this module sits below the design.

Replicates built from a design are kept as their factors (:class:`Factored`: the design
weight times a factor per PSU and replicate, times a g-weight per calibration cell and
replicate once calibrated), so no n x R matrix is ever held for them: the sums per domain
or per calibration cell come from the factors (:func:`grouped_sums`), and the rank of a
domain's replicate weights (its design degrees of freedom) is proven full from a few of its
rows (:func:`certified_full_rank`) or computed exactly. Supplied replicate weights, and
replicates after further weighting steps, are a matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import cache, cached_property

import numpy as np
from scipy import sparse
from threadpoolctl import ThreadpoolController


@dataclass(frozen=True, eq=False)
class Factored:
    """Replicate weights kept as their factors, never expanded to n x R in memory:

        w_ir = base_i * a[psu_i, r]                    (replicates of a design), or
        w_ir = base_i * a[psu_i, r] * b[cell_i, r]     (then calibrated),

    ``a`` the replicate factors of the PSUs (P x R: jackknife, BRR/Fay or bootstrap
    factors), ``b`` the g-weights of the calibration cells in each replicate (C x R). The
    rows of a PSU (and, calibrated, of a cell) share their factors, so a sum of weights
    over groups of rows reads P x R (or C x R) factors rather than an n x R matrix: the
    replicate weights are formed only block by block, in cache, when a product needs them.
    """

    base: np.ndarray
    psu: np.ndarray
    a: np.ndarray
    cells: np.ndarray | None = None
    b: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.base.size, self.a.shape[1])

    def rows(self, index: np.ndarray | slice, out: np.ndarray | None = None,
             work: np.ndarray | None = None) -> np.ndarray:
        """The replicate weights of some rows (len(index) x R), into ``out`` if given
        (``work``: a buffer of the same shape for the cells' factors)."""
        psu = self.psu[index]
        if out is None:
            out = np.empty((psu.size, self.a.shape[1]))
        np.take(self.a, psu, axis=0, out=out, mode="clip")  # (clip: unbuffered)
        out *= self.base[index, None]
        if self.b is not None and self.cells is not None:
            g = np.take(self.b, self.cells[index], axis=0, out=work, mode="clip")
            out *= g
        return out

    def dense(self) -> np.ndarray:
        """The n x R matrix."""
        n, r = self.shape
        out = np.empty((n, r))
        work = np.empty((_block_rows(r), r))
        for start in range(0, n, work.shape[0]):
            part = slice(start, min(start + work.shape[0], n))
            self.rows(part, out[part], work[: part.stop - start])
        return out

    def grouped_sums(self, codes: np.ndarray, k: int, values: Sequence[np.ndarray | None]
                     ) -> np.ndarray:
        """:func:`grouped_sums` from the factors.

        With PSU factors only: sum_i 1{c_i = q} v_i base_i a[psu_i, r] is (S Pi) a, S the
        q x n matrix of the v_i base_i and Pi the n x P PSU indicator: one sparse product
        reads ``a`` (P x R), never an n x R matrix. Calibrated: the rows are taken group
        by group (sorted by code), their weights formed in blocks that stay in cache, and
        each group's sums are one dense product V_q W_q (m x rows times rows x R)."""
        n, r = self.shape
        m = len(values)
        inside = codes >= 0
        if self.b is None:
            rows = np.flatnonzero(inside) if not inside.all() else None
            sel = slice(None) if rows is None else rows
            data = np.empty((m, n if rows is None else rows.size))
            for j, v in enumerate(values):
                data[j] = self.base[sel] if v is None else v[sel] * self.base[sel]
            row_codes = codes[sel][None, :] + (np.arange(m) * k)[:, None]
            psu = np.broadcast_to(self.psu[sel], data.shape)
            s = sparse.coo_matrix((data.ravel(), (row_codes.ravel(), psu.ravel())),
                                  shape=(m * k, self.a.shape[0])).tocsr()
            return np.asarray(s @ self.a).reshape(m, k, r)
        assert self.cells is not None
        # rows sorted by group (a radix sort of small integer codes), out-of-group rows out
        small = codes.astype(np.int16) if k < (1 << 15) else codes
        order = np.argsort(small, kind="stable")
        counts = np.bincount(codes[inside], minlength=k)
        order = order[order.size - int(counts.sum()):]
        bounds = np.concatenate(([0], np.cumsum(counts)))
        vals = np.empty((m, order.size))
        base = self.base[order]
        for j, v in enumerate(values):
            if v is None:
                vals[j] = base
            else:
                np.multiply(v[order], base, out=vals[j])
        psu, cells = self.psu[order], self.cells[order]

        def part(lo: int, hi: int) -> np.ndarray:
            """The sums over the sorted rows lo..hi-1."""
            out = np.zeros((m, k, r))
            size = _block_rows(r)
            buf, work = np.empty((size, r)), np.empty((size, r))
            for start in range(lo, hi, size):
                stop = min(start + size, hi)
                block = np.take(self.a, psu[start:stop], axis=0, out=buf[: stop - start],
                                mode="clip")  # (clip: unbuffered)
                block *= np.take(self.b, cells[start:stop], axis=0,
                                 out=work[: stop - start], mode="clip")
                first = int(np.searchsorted(bounds, start, side="right")) - 1
                last = int(np.searchsorted(bounds, stop, side="left"))
                for q in range(first, last):  # the groups meeting this block
                    g0, g1 = max(bounds[q], start), min(bounds[q + 1], stop)
                    if g1 > g0:
                        out[:, q] += vals[:, g0:g1] @ block[g0 - start: g1 - start]
            return out

        half = order.size // 2
        if order.size * r < 4_000_000:
            return part(0, order.size)
        # two threads, one half of the rows each (numpy's gathers and BLAS release the GIL)
        with one_blas_thread(), ThreadPoolExecutor(2) as pool:
            first_half, second_half = pool.map(part, (0, half), (half, order.size))
        return first_half + second_half

    def times(self, cells: np.ndarray, g: np.ndarray) -> Factored | np.ndarray:
        """The weights multiplied by ``g[cells]`` (a calibration's g-weights, C x R): still
        factored after a first calibration, expanded after a second."""
        if self.b is None:
            return replace(self, cells=cells, b=g)
        out = self.dense()
        out *= np.take(g, cells, axis=0)
        return out

    def row_max(self) -> np.ndarray:
        """An upper bound of max_r |w_ir| for each row (from the factors' maxima)."""
        top = self.base * np.abs(self.a).max(axis=1)[self.psu]
        if self.b is not None and self.cells is not None:
            top *= np.abs(self.b).max(axis=1)[self.cells]
        return np.abs(top)


Layout = np.ndarray | Factored


def dense(w: Layout) -> np.ndarray:
    """Replicate weights as an n x R matrix."""
    return w if isinstance(w, np.ndarray) else w.dense()


def take_rows(w: Layout, index: np.ndarray) -> np.ndarray:
    """The replicate weights of the rows ``index``."""
    return np.take(w, index, axis=0) if isinstance(w, np.ndarray) else w.rows(index)


def _block_rows(r: int) -> int:
    """Rows of a block of replicate weights of about 2 MB (it stays in cache)."""
    return max(256, (1 << 18) // max(r, 1))


def grouped_sums(w: Layout, codes: np.ndarray, k: int, values: Sequence[np.ndarray | None]
                 ) -> np.ndarray:
    """Sums of the replicate weights per group, weighted by each of ``values``:
    out[j, q, r] = sum_i 1{codes_i = q} v_ji w_ir (m x k x R; a value None stands for 1;
    rows with a negative code are in no group).

    For a matrix W: ONE sparse product S W, S the (m k) x n stacked group indicator
    holding [v_1, ..., v_m] in rows j k + q; S is column-compressed with m entries per row
    of the data, so the product reads each row of W once for every variable (and adds the
    rows in order, as separate products would), never copying W. Factored weights:
    :meth:`Factored.grouped_sums`."""
    if isinstance(w, Factored):
        return w.grouped_sums(codes, k, values)
    m, n = len(values), codes.size
    inside = codes >= 0
    rows = np.flatnonzero(inside)
    data = np.empty((rows.size, m))
    index = np.empty((rows.size, m), dtype=np.intp)
    for j, v in enumerate(values):
        data[:, j] = 1.0 if v is None else v[rows]
        index[:, j] = codes[rows] + j * k
    indptr = np.zeros(n + 1, dtype=np.intp)
    np.cumsum(inside, out=indptr[1:])
    indptr *= m
    stacked = sparse.csc_matrix((data.ravel(), index.ravel(), indptr), shape=(m * k, n))
    return np.asarray(stacked @ w).reshape(m, k, -1)


@dataclass(frozen=True, eq=False)
class ReplicateWeights:
    """Replicate weights (n x R, final: every weighting step re-applied) and their scales.

    ``layout`` holds them as a matrix or as their factors (:class:`Factored`); ``weights``
    is the matrix (formed from the factors the first time it is asked for); sums of
    weights per domain and ranks use the layout as it is.
    """

    type: str
    layout: Layout
    start: Layout
    scale: float
    rscales: np.ndarray
    mse: bool
    degf: int
    fay_rho: float = 0.0
    seed: int | None = None
    # ranks of the weights of subsets of rows (domains), computed once per subset
    ranks: dict[bytes, int] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    @property
    def n_replicates(self) -> int:
        return int(self.layout.shape[1])

    @cached_property
    def weights(self) -> np.ndarray:
        """The n x R matrix of replicate weights."""
        return dense(self.layout)

    @cached_property
    def row_max(self) -> np.ndarray:
        """An upper bound of max_r |w_ir| for each row (for :func:`certified_full_rank`)."""
        return row_maxima(self.layout)

    def rank_of(self, rows: np.ndarray) -> int:
        """The rank of the replicate weights of ``rows`` (a boolean mask), kept per mask."""
        return self.ranks_of([rows])[0]

    def ranks_of(self, masks: Sequence[np.ndarray]) -> list[int]:
        """Ranks of the replicate weights of several subsets of rows (kept per subset).

        A subset of many more rows than replicates is first tried with
        :func:`certified_full_rank` (a few rows prove a full rank); the others are computed
        exactly by :func:`replicate_rank`, on two threads (one BLAS thread each)."""
        keys = [np.packbits(rows).tobytes() for rows in masks]
        todo = {k: np.flatnonzero(rows) for k, rows in zip(keys, masks, strict=True)
                if k not in self.ranks}
        if len(self.ranks) > 256:
            self.ranks.clear()
        n_rep = self.n_replicates
        tall = {k: index for k, index in todo.items() if index.size >= 4 * n_rep}
        if tall:
            def certified(index: np.ndarray) -> bool:
                return certified_full_rank(self.layout, index, self.row_max)

            if len(tall) > 1 and n_rep >= 50:
                with one_blas_thread(), ThreadPoolExecutor(2) as pool:
                    proven = list(pool.map(certified, tall.values()))
            else:
                proven = [certified(index) for index in tall.values()]
            for k, ok in zip(tall, proven, strict=True):
                if ok:
                    self.ranks[k] = n_rep
                    del todo[k]
        if todo:
            def rank(index: np.ndarray) -> int:
                return replicate_rank(take_rows(self.layout, index))

            size = sum(index.size for index in todo.values()) * n_rep
            if len(todo) > 1 and size >= 2_000_000:  # threads only pay for large products
                # one BLAS thread for the whole pool (set per call, a thread leaving its
                # product would restore the BLAS threads while the other still computes)
                with one_blas_thread(), ThreadPoolExecutor(2) as pool:
                    self.ranks.update(zip(todo, pool.map(rank, todo.values()), strict=True))
            else:
                self.ranks.update((k, rank(index)) for k, index in todo.items())
        return [self.ranks[k] for k in keys]

    def _deviations(self, full: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Replicate estimates minus their centre: the full-sample estimate (``mse``) or
        the mean of the replicates (R's ``svrVar``)."""
        with np.errstate(invalid="ignore"):  # an undefined estimate (inf, NaN) stays NaN
            centre = full if self.mse else reps[:, self.rscales > 0].mean(axis=1)
            return reps - centre[:, None]

    def variance(self, full: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Replicate variance of k estimates: ``full`` (k,), ``reps`` (k, R)."""
        dev = self._deviations(full, reps)
        return self.scale * (dev**2 * self.rscales[None, :]).sum(axis=1)

    def covariance(self, full: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Replicate covariance matrix (k x k) of k estimates: ``full`` (k,), ``reps``
        (k, R); its diagonal is :meth:`variance`."""
        dev = self._deviations(full, reps)
        return self.scale * (dev * self.rscales[None, :]) @ dev.T

    def reweighted(self, weights: Layout, *, recompute_degf: bool = False
                   ) -> ReplicateWeights:
        """The same replicates with new weights (after a weighting step)."""
        degf = layout_rank(weights) - 1 if recompute_degf else self.degf
        return replace(self, layout=weights, degf=degf)


def row_maxima(w: Layout) -> np.ndarray:
    """For each row an upper bound u_i of max_r |w_ir|: from the factors' maxima for
    factored weights; the row's norm (sum_r w_ir^2)^(1/2) for a matrix (one pass)."""
    if isinstance(w, Factored):
        return w.row_max()
    return np.sqrt(np.einsum("ij,ij->i", w, w))


def layout_rank(w: Layout) -> int:
    """The rank of all the replicate weights (:func:`certified_full_rank`, else
    :func:`replicate_rank`)."""
    if certified_full_rank(w, np.arange(w.shape[0]), row_maxima(w)):
        return int(w.shape[1])
    return replicate_rank(dense(w))


def certified_full_rank(w: Layout, index: np.ndarray, row_max: np.ndarray) -> bool:
    """Whether the replicate weights of the rows ``index`` (n_d x R, n_d >= 4R) are proven
    of full column rank R by :func:`replicate_rank`'s rule, from 3R/2 of the rows (spread
    evenly over ``index``).

    :func:`replicate_rank` finds rank R when every pivot of the Cholesky factorisation of
    G = W'W stays above 1e-10 times the largest diagonal entry of G. A pivot is the
    largest diagonal entry of a Schur complement of G, whose eigenvalues are at least
    lambda_min(G) (the inverse of a Schur complement is a principal submatrix of G^-1), so
    lambda_min(G) > 1e-10 max_r G_rr is enough. For any rows B of W, G >= B'B (the other
    rows add a positive semi-definite matrix); and max_r G_rr = max_r sum_i w_ir^2 <=
    sum_i u_i^2 for any u_i >= max_r |w_ir| (``row_max``). So if B'B - mu I is positive
    definite (its Cholesky factorisation succeeds) with mu = 1e-9 sum_i u_i^2 (at least
    ten times the rule's threshold; rounding errors are of the order of 1e-16 R sum_i
    u_i^2), the rank is R. Otherwise nothing is concluded (the caller computes the rank
    exactly). Golub & Van Loan (2013), sec. 4.2 and 5.4."""
    from scipy.linalg import blas, lapack

    n_rep = w.shape[1]
    if n_rep == 0 or index.size < 4 * n_rep:
        return False
    pick = index[np.linspace(0, index.size - 1, 3 * n_rep // 2).round().astype(np.intp)]
    b = take_rows(w, pick)
    top = row_max[index]
    mu = 1e-9 * float(np.dot(top, top))
    if not np.isfinite(mu) or mu <= 0:
        return False
    with one_blas_thread():
        gram = blas.dsyrk(1.0, b.T, trans=0, lower=0)
        gram[np.diag_indices(n_rep)] -= mu
        return int(lapack.dpotrf(gram, lower=0, clean=0, overwrite_a=1)[1]) == 0


def replicate_rank(w: np.ndarray) -> int:
    """Numerical rank with R's qr tolerance 1e-5 (``degf.svyrep.design``): the number of
    diagonal entries of the column-pivoted QR factor R above 1e-5 times the first.

    R depends on ``w`` only through the cross-product w'w = P R'R P' (P the pivoting, which
    takes the column of largest remaining norm), so it is the pivoted Cholesky factor of
    w'w (LAPACK ``dpstrf``, which takes the largest remaining diagonal: the same pivots),
    stopped at R_kk^2 <= 1e-10 R_11^2; the cross-product is one BLAS ``dsyrk`` (its upper
    triangle only, which ``dpstrf`` reads: half the work of a full product), much cheaper
    than a pivoted QR of a tall matrix. A matrix with the same cross-product (one row per
    PSU, ``start_rank``) has the same rank. The smaller of w'w and w w' is factorised.
    """
    from scipy.linalg import blas, lapack

    if w.size == 0:
        return 0
    with one_blas_thread():
        # w.T of a row-major w is column-major: BLAS reads it in place, without a copy
        a = blas.dsyrk(1.0, np.asarray(w, dtype=float).T, trans=0 if w.shape[0] >= w.shape[1]
                       else 1, lower=0)
        top = float(np.max(np.diag(a)))
        if not top > 0:
            return 0
        rank = lapack.dpstrf(a, lower=0, tol=1e-10 * top)[2]
    return int(rank)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[object]:
    """A context limiting BLAS to one thread: the products here are a few milliseconds,
    where BLAS threads gain little on two cores and lose much when the cores are busy."""
    return _blas().limit(limits=1, user_api="blas")


def start_rank(base: np.ndarray, psu: np.ndarray, factors: np.ndarray) -> int:
    """The rank of the starting replicate weights ``base_i * factors[psu_i]`` from one row
    per PSU: rows of a PSU are proportional, so sqrt(sum_i base_i^2) * factors[p] has the
    same cross-product (an n_psu x R QR instead of n x R)."""
    norms = np.sqrt(np.bincount(psu, weights=base * base, minlength=factors.shape[0]))
    return replicate_rank(norms[:, None] * factors)
