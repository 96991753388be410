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

import warnings

import numpy as np

from barometer.survey.design import Design, LonelyPSU
from barometer.survey.errors import DesignError
from barometer.survey.hadamard import hadamard
from barometer.survey.repweights import Factored, ReplicateWeights, start_rank
from barometer.survey.steps import rebuild

TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap")


def with_replicates(design: Design, type: str = "JKn", *, replicates: int = 200,
                    fay_rho: float = 0.0, mse: bool = False, seed: int = 20161) -> Design:
    """A replicate design (R's ``as.svrepdesign``): factors from the first-stage strata and
    PSUs; the design's weighting steps are re-applied to every replicate."""
    if type not in TYPES:
        raise DesignError(f"unknown replicate type {type!r}", hint=f"use one of {TYPES}")
    if design.replicates is not None:
        raise DesignError("the design already has replicate weights",
                          hint="estimate with it directly, or build the replicates from the "
                          "linearisation design")
    if design.spec.pps is not None:
        raise DesignError(f"replicate weights from a PPS ({design.spec.pps.value}) design are "
                          "not supported", hint="use its linearisation variance (Brewer's or "
                          "Overton's approximation), or supply replicate weights with "
                          "Design.from_replicates")
    later_fpc = any(st.has_fpc for st in design.stages[1:])
    if type in ("BRR", "Fay") and any(st.has_fpc for st in design.stages):
        warnings.warn("finite population correction dropped in the conversion to "
                      f"{type} replicates (as R's as.svrepdesign)", stacklevel=2)
    elif later_fpc:
        warnings.warn("finite population corrections after the first stage are dropped in "
                      f"the conversion to {type} replicates (as R's as.svrepdesign)",
                      stacklevel=2)
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
        labels = design.column(design.spec.strata[0]).to_numpy()[first]
        factors, scale, rscales = _brr(psu_stratum, labels, first, fay_rho)
    else:
        rng_seed = seed
        factors, scale, rscales = _bootstrap(psu_stratum, n_h, popsize, replicates, seed)
    base = design.base_weights
    # w_ir = base_i x factor[psu_i, r], kept factored: never an n x R array in memory
    start = Factored(base, psu, factors)
    reps = ReplicateWeights(type=type, layout=start, start=start, scale=scale,
                            rscales=rscales, mse=mse, degf=start_rank(base, psu, factors) - 1,
                            fay_rho=fay_rho, seed=rng_seed)
    reps = reps.reweighted(rebuild(reps.start, design.weighting))
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
    scale = 1.0
    if lonely is LonelyPSU.AVERAGE and cols.size < stratum.size:
        # R's jknweights: #PSUs / #replicates it makes (none for a lonely PSU nor for the
        # PSUs of a certainty stratum)
        scale = stratum.size / cols.size
    if lonely is LonelyPSU.ADJUST and lone.any():
        n_strata = np.unique(stratum).size
        extra = np.where(lone[:, None] & (stratum[:, None] == stratum[lone][None, :]), 0.0,
                         n_strata / (n_strata - 1))
        factors = np.hstack([factors, extra])
        rscales = np.concatenate([rscales, np.full(int(lone.sum()),
                                                   (n_strata - 1) / n_strata)])
    return factors, scale, rscales


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
