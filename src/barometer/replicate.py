"""Stage *design* (replicate weights): jackknife, BRR/Fay and Rao–Wu bootstrap designs.

A replicate design carries an n x R matrix of replicate weights; an estimator computed with
each column gives theta_r, and

    V(theta) = scale * sum_r rscale_r * (theta_r - c)^2,

with c the mean of the replicates, or the full-sample estimate when ``mse=True``
(Wolter 2007, ch. 3-5; R's ``svrVar``). Replicate factors per PSU (as ``as.svrepdesign``):

* ``JK1`` (unstratified): replicate r drops PSU r, others x n/(n-1); scale (1-f)(n-1)/n.
* ``JKn`` (stratified): replicate (h, i) drops PSU i of stratum h, the other PSUs of h
  x n_h/(n_h-1); rscale (1-f_h)(n_h-1)/n_h; strata with n_h = N_h give no replicate.
* ``BRR``/``Fay`` (two PSUs per stratum): half-samples from a Hadamard matrix (R's
  ``hadamard()`` choice); Fay's factors 2 - rho and rho; scale 1 / (R (1 - rho)^2)
  (Judkins 1990).
* ``bootstrap``: Rao & Wu (1988) rescaling bootstrap, m_h = n_h - 1 PSUs drawn with
  replacement in each stratum, factor 1 - lam + lam * n_h/m_h * r_hi with
  lam = sqrt(m_h (1 - f_h) / (n_h - 1)); scale 1/(R - 1) (as R's ``subbootstrap``).

Every weighting step recorded in the design (calibration, trimming, nonresponse adjustment)
is re-applied to each replicate, so replicate variances account for the weighting.
Degrees of freedom: rank of the replicate weight matrix - 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
from threadpoolctl import ThreadpoolController

from barometer.design import Design, LonelyPSU, WeightingStep
from barometer.errors import DesignError

TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap")


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

            def rank(rows: np.ndarray) -> int:
                return replicate_rank(np.take(self.weights, np.flatnonzero(rows), axis=0))

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
    stopped at R_kk^2 <= 1e-10 R_11^2; the cross-product is one BLAS product, much cheaper
    than a pivoted QR of a tall matrix. A matrix with the same cross-product (one row per
    PSU, ``start_rank``) has the same rank. The smaller of w'w and w w' is factorised.
    """
    from scipy.linalg import lapack

    if w.size == 0:
        return 0
    with one_blas_thread():
        a = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
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


def with_replicates(design: Design, type: str = "JKn", *, replicates: int = 200,
                    fay_rho: float = 0.0, mse: bool = False, seed: int = 20161) -> Design:
    """A replicate design (R's ``as.svrepdesign``): factors from the first-stage strata and
    PSUs; the design's weighting steps are re-applied to every replicate."""
    if type not in TYPES:
        raise DesignError(f"unknown replicate type {type!r}", hint=f"use one of {TYPES}")
    st = design.stages[0]
    psu = st.clusters
    strata = st.strata
    stratified = bool(design.spec.strata)
    if type == "JK1" and stratified:
        raise DesignError("JK1 is for unstratified designs", hint="use type='JKn'")
    if type in ("JKn", "BRR", "Fay") and not stratified:
        raise DesignError(f"{type} needs a stratified design", hint="use 'JK1' or 'bootstrap'")
    n_psu = int(psu.max()) + 1
    first = np.full(n_psu, -1, dtype=np.int64)
    first[psu[::-1]] = np.arange(psu.size)[::-1]
    psu_stratum = strata[first]
    n_h = st.n_sampled[first]
    popsize = st.popsize[first]
    if type == "Fay" and not 0 < fay_rho < 1:
        raise DesignError("Fay's rho must be in (0, 1)", value=fay_rho)
    if type == "BRR":
        fay_rho = 0.0
    rng_seed: int | None = None
    if type == "JK1":
        factors, scale, rscales = _jk1(n_psu, popsize)
    elif type == "JKn":
        factors, scale, rscales = _jkn(psu_stratum, n_h, popsize, design.lonely_psu)
    elif type in ("BRR", "Fay"):
        labels = design.data[design.spec.strata[0]].to_numpy()[first]
        factors, scale, rscales = _brr(psu_stratum, labels, first, fay_rho)
    else:
        rng_seed = seed
        factors, scale, rscales = _bootstrap(psu_stratum, n_h, popsize, replicates, seed)
    base = design.base_weights
    start = np.take(factors, psu, axis=0)  # one n x R array, multiplied in place
    start *= base[:, None]
    reps = ReplicateWeights(type=type, weights=start, start=start, scale=scale,
                            rscales=rscales, mse=mse, degf=start_rank(base, psu, factors) - 1,
                            fay_rho=fay_rho, seed=rng_seed)
    reps = reps.reweighted(reps.rebuild(design.weighting))
    return design.with_weights(design.weights, f"replicates: {type} x{reps.n_replicates}"
                               + (f", rho {fay_rho}" if type == "Fay" else "")
                               + (", mse" if mse else ""), replicates=reps)


def _jk1(n: int, popsize: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    factors = np.full((n, n), n / (n - 1))
    np.fill_diagonal(factors, 0.0)
    f = (popsize[0] - n) / popsize[0] if np.isfinite(popsize[0]) else 1.0
    return factors, f * (n - 1) / n, np.ones(n)


def _jkn(stratum: np.ndarray, n_h: np.ndarray, popsize: np.ndarray, lonely: LonelyPSU
         ) -> tuple[np.ndarray, float, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(np.isfinite(popsize), (popsize - n_h) / popsize, 1.0)
    lone = (n_h == 1) & (f != 0)
    if lone.any() and lonely is LonelyPSU.FAIL:
        raise DesignError("a stratum has only one PSU (JKn needs two or more)",
                          where=f"stratum code {int(stratum[np.argmax(lone)])}",
                          hint="merge strata or choose another lonely_psu policy")
    keep = (f != 0) & ~lone  # certainty strata and (removed) lonely PSUs give no replicate
    cols = np.flatnonzero(keep)
    same = stratum[:, None] == stratum[cols][None, :]
    factors = np.where(same, (n_h / np.maximum(n_h - 1, 1))[:, None], 1.0)
    factors[cols, np.arange(cols.size)] = 0.0
    rscales = f[cols] * (n_h[cols] - 1) / n_h[cols]
    if lonely is LonelyPSU.ADJUST and lone.any():
        n_strata = np.unique(stratum).size
        extra = np.where(lone[:, None] & (stratum[:, None] == stratum[lone][None, :]), 0.0,
                         n_strata / (n_strata - 1))
        factors = np.hstack([factors, extra])
        rscales = np.concatenate([rscales, np.full(int(lone.sum()),
                                                   (n_strata - 1) / n_strata)])
    return factors, 1.0, rscales


def _r_label(v: object) -> str:
    """A stratum label as R's ``as.character`` writes it (integral numbers without .0)."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _brr(stratum: np.ndarray, labels: np.ndarray, first_row: np.ndarray, rho: float
         ) -> tuple[np.ndarray, float, np.ndarray]:
    """BRR / Fay factors per PSU as R's ``brrweights`` (defaults ``small = "fail"``,
    ``large = "split"``): strata in the sorted order of their labels as text; a stratum
    with more than two PSUs (an even number) is split into pairs of PSUs in order of first
    appearance, and these pairs are numbered before the strata of exactly two PSUs. In each
    pair the PSU that appears first takes factor 2 - rho where the Hadamard row has a 1."""
    from barometer.hadamard import hadamard

    text = np.array([_r_label(v) for v in labels])
    uniq, pair = np.unique(text, return_inverse=True)
    size = np.bincount(pair)
    if (size < 2).any() or (size[size > 2] % 2).any():
        bad = int(np.flatnonzero((size < 2) | ((size > 2) & (size % 2 == 1)))[0])
        raise DesignError(
            f"BRR needs two PSUs per stratum (or an even number, split into pairs): "
            f"stratum {uniq[bad]} has {size[bad]}", where=f"stratum {uniq[bad]}",
            value=int(size[bad]), hint="merge or split strata, or use JKn or the bootstrap")
    order = np.lexsort((first_row, pair))
    start = np.concatenate(([0], np.cumsum(size)[:-1]))
    position = np.empty(pair.size, dtype=np.int64)
    position[order] = np.arange(order.size) - start[pair[order]]
    half = position % 2
    # pseudo-strata: (split strata first, label order, pair within the stratum)
    key = np.stack([(size[pair] == 2).astype(np.int64), pair, position // 2])
    _, pseudo = np.unique(key, axis=1, return_inverse=True)
    pseudo = pseudo.ravel()
    h = hadamard(int(pseudo.max()) + 1)
    sign = h[1 + pseudo, :]  # rows 2.. of the 0/1 Hadamard matrix, one per pseudo-stratum
    chosen = np.where(half[:, None] == 0, sign, 1 - sign)
    factors = np.where(chosen == 1, 2 - rho, rho).astype(float)
    n_rep = h.shape[1]
    return factors, 1.0 / (n_rep * (1 - rho) ** 2), np.ones(n_rep)


def _bootstrap(stratum: np.ndarray, n_h: np.ndarray, popsize: np.ndarray, replicates: int,
               seed: int) -> tuple[np.ndarray, float, np.ndarray]:
    if replicates < 2:
        raise DesignError("the bootstrap needs at least 2 replicates", value=replicates)
    rng = np.random.default_rng(seed)
    factors = np.ones((stratum.size, replicates))
    order = np.argsort(stratum, kind="stable")
    bounds = np.flatnonzero(np.diff(stratum[order])) + 1
    for members in np.split(order, bounds):  # loop over strata, vectorised within
        n = members.size
        if n < 2:
            continue
        m = n - 1
        f = n / popsize[members[0]] if np.isfinite(popsize[members[0]]) else 0.0
        lam = np.sqrt(m * (1 - f) / (n - 1))
        draws = rng.multinomial(m, np.full(n, 1 / n), size=replicates).T
        factors[members] = 1 - lam + lam * n / m * draws
    return factors, 1.0 / (replicates - 1), np.ones(replicates)
