"""Replicate weights held by a design, their variance formula and their rank.

A replicate design keeps its n x R weight matrix here (final weights: every weighting step
re-applied), with R's scales: variance = scale x sum_r rscales_r (theta_r - centre)^2, the
centre being the mean of the replicates or, with ``mse``, the full-sample estimate (R's
``svrVar``; Wolter 2007, ch. 4-5). Building replicates from a design is
:mod:`barometer.survey.replicate`; this module sits below the design.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

from barometer.survey.steps import WeightingStep


@dataclass(frozen=True, eq=False)
class ReplicateWeights:
    """Replicate weights (n x R, final: every weighting step re-applied) and their scales."""

    type: str
    weights: np.ndarray
    start: np.ndarray
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
        return int(self.weights.shape[1])

    def rank_of(self, rows: np.ndarray) -> int:
        """The rank of the replicate weights of ``rows`` (a boolean mask), kept per mask."""
        return self.ranks_of([rows])[0]

    def ranks_of(self, masks: Sequence[np.ndarray]) -> list[int]:
        """Ranks of the replicate weights of several subsets of rows (kept per subset);
        those not yet known are computed on two threads (one BLAS thread each)."""
        keys = [np.packbits(rows).tobytes() for rows in masks]
        todo = {k: rows for k, rows in zip(keys, masks, strict=True) if k not in self.ranks}
        if todo:
            if len(self.ranks) > 256:
                self.ranks.clear()

            buffers = threading.local()  # one gathering buffer per thread, reused

            def rank(rows: np.ndarray) -> int:
                index = np.flatnonzero(rows)
                size = index.size * self.weights.shape[1]
                buf = getattr(buffers, "buf", None)
                if buf is None or buf.size < size:
                    buf = buffers.buf = np.empty(size)
                sub = buf[:size].reshape(index.size, self.weights.shape[1])
                return replicate_rank(np.take(self.weights, index, axis=0, out=sub))

            size = sum(int(rows.sum()) for rows in todo.values()) * self.weights.shape[1]
            if len(todo) > 1 and size >= 2_000_000:  # threads only pay for large products
                # one BLAS thread for the whole pool (set per call, a thread leaving its
                # product would restore the BLAS threads while the other still computes)
                with one_blas_thread(), ThreadPoolExecutor(2) as pool:
                    self.ranks.update(zip(todo, pool.map(rank, todo.values()), strict=True))
            else:
                self.ranks.update((k, rank(rows)) for k, rows in todo.items())
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

    def rebuild(self, steps: Sequence[WeightingStep]) -> np.ndarray:
        """Replicate weights with the weighting ``steps`` re-applied to the starting ones."""
        w = self.start
        for step in steps:
            w = step.reapply(w)
        return w

    def reweighted(self, weights: np.ndarray, *, recompute_degf: bool = False
                   ) -> ReplicateWeights:
        """The same replicates with new weights (after a weighting step)."""
        degf = replicate_rank(weights) - 1 if recompute_degf else self.degf
        return replace(self, weights=weights, degf=degf)


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
