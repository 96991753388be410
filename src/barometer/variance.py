"""Stage *estimate* (variance engine): Taylor linearisation of design-based estimators.

Every estimator hands this module its *influence values* ``z`` (one column per estimate, the
linearised estimating function already multiplied by the weights), and receives the variance

    V(theta) = sum over stages k, strata h of stage k:
                 m_h * (1 - n_h / N_h) * n_h / (n_h - 1) * sum_i (t_hi - tbar_h)^2

where ``t_hi`` is the total of ``z`` over cluster ``i`` of stratum ``h``, ``tbar_h`` their
mean over the ``n_h`` sampled clusters (clusters with no rows in a domain count as zeros),
``N_h`` the population number of clusters (``inf`` without fpc) and ``m_h`` the product of the
sampling fractions ``n/N`` of the earlier stages (the multistage recursion of Särndal,
Swensson & Wretman 1992, result 4.3.1, as implemented in R's ``svyrecvar``; Lumley 2010,
§2.2 and appendix C). Later stages contribute only under an fpc at the earlier stages
(without it the first stage is "with replacement" and the ultimate-cluster formula holds).

Before the recursion, influence values are transformed by every weighting step recorded in
the design, last step first: a calibration replaces them by the residuals of their
regression on the auxiliaries (Deville & Särndal 1992, §3; Särndal et al. 1992, §6.6), which
is how R's ``calibrate``/``postStratify`` designs make later standard errors account for
calibration; a nonresponse adjustment adds the term for the estimated response rates.

Lonely PSUs (``n_h = 1``, R's ``survey.lonely.psu``): ``certainty``/``remove`` contribute 0,
``adjust`` uses the deviation of the PSU total from zero (the centre of the estimating
function), ``fail`` raises. A stratum with ``n_h = N_h`` (self-representing) contributes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from barometer.design import Design, LonelyPSU, Stage
from barometer.errors import DesignError


@dataclass(frozen=True)
class Influence:
    """Influence values of k estimates on the n sample rows.

    Either ``dense`` (n x k), or *compact*: ``values`` (n,) and ``column`` (n,) when every
    row contributes to at most one estimate (domain estimation), with ``column = -1`` for
    rows that contribute to none. The compact form keeps domain estimation O(n).
    """

    k: int
    dense: np.ndarray | None = None
    values: np.ndarray | None = None
    column: np.ndarray | None = None

    @classmethod
    def compact(cls, values: np.ndarray, column: np.ndarray, k: int) -> Influence:
        return cls(k=k, values=np.asarray(values, float), column=np.asarray(column, np.int64))

    def to_dense(self) -> np.ndarray:
        if self.dense is not None:
            return self.dense
        assert self.values is not None and self.column is not None
        out = np.zeros((self.values.size, self.k))
        ok = self.column >= 0
        out[np.flatnonzero(ok), self.column[ok]] = self.values[ok]
        return out

    def group_totals(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """Totals of each column over groups of rows (n_groups x k), by ``np.bincount``."""
        if self.dense is None:
            assert self.values is not None and self.column is not None
            ok = self.column >= 0
            idx = codes[ok] * self.k + self.column[ok]
            flat = np.bincount(idx, weights=self.values[ok], minlength=n_groups * self.k)
            return flat.reshape(n_groups, self.k)
        if self.k == 1:
            return np.bincount(codes, weights=self.dense[:, 0], minlength=n_groups)[:, None]
        from scipy import sparse

        ind = sparse.csr_matrix(
            (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n_groups, codes.size)
        )
        return np.asarray(ind @ self.dense)


def linearized_variance(design: Design, influence: Influence, *, full: bool = False
                        ) -> np.ndarray:
    """Variance of k linearised estimates: a (k,) vector, or the (k, k) matrix if ``full``."""
    if design.weighting:
        z = influence.to_dense()
        for record in reversed(design.weighting):  # the last step is the outermost
            z = record.residuals(z)
        influence = Influence(k=influence.k, dense=z)
    return stage_variance(design.stages, influence, design.lonely_psu, full=full)


def stage_variance(stages: tuple[Stage, ...], influence: Influence, lonely: LonelyPSU,
                   *, full: bool = False) -> np.ndarray:
    """The multistage variance of the module docstring for given influence values."""
    k = influence.k
    out = np.zeros((k, k)) if full else np.zeros(k)
    multiplier = np.ones(stages[0].strata.size)
    for s, stage in enumerate(stages):
        if s > 0:
            prev = stages[s - 1]
            if not stages[0].has_fpc:
                break  # with-replacement first stage: ultimate clusters only (R's svyrecvar)
            multiplier = multiplier * prev.fraction
            if not (multiplier > 0).any():
                break
        out = out + _one_stage(stage, multiplier, influence, lonely, s, full)
    return out


def _one_stage(stage: Stage, multiplier: np.ndarray, influence: Influence, lonely: LonelyPSU,
               s: int, full: bool) -> np.ndarray:
    n_clusters = int(stage.clusters.max()) + 1
    totals = influence.group_totals(stage.clusters, n_clusters)
    # per-cluster attributes (constant within a cluster)
    first = np.full(n_clusters, -1, dtype=np.int64)
    first[stage.clusters[::-1]] = np.arange(stage.clusters.size)[::-1]
    present = first >= 0
    totals = totals[present]
    first = first[present]
    stratum = stage.strata[first]
    n_h = stage.n_sampled[first]
    f = np.where(np.isfinite(stage.popsize[first]), 1.0 - n_h / stage.popsize[first], 1.0)
    mult = multiplier[first]
    n_strata = int(stratum.max()) + 1
    sums = np.zeros((n_strata, totals.shape[1]))
    np.add.at(sums, stratum, totals)
    means = sums / np.bincount(stratum, weights=np.ones(stratum.size), minlength=n_strata)[:, None]
    lone = n_h == 1
    dev = totals - means[stratum]
    scale = mult * f * np.where(lone, 1.0, n_h / np.maximum(n_h - 1, 1))
    scale[f < 1e-7] = 0.0  # self-representing stratum (n = N)
    if lone.any():
        active = lone & (scale > 0)
        if lonely is LonelyPSU.FAIL and active.any():
            raise DesignError(
                f"a stratum has only one PSU at stage {s + 1}",
                where=f"stratum code {int(stratum[np.argmax(active)])}",
                hint="merge it with a similar stratum, or choose lonely_psu='adjust', "
                "'certainty' or 'remove'",
            )
        if lonely is LonelyPSU.ADJUST:
            dev[lone] = totals[lone]
        else:
            scale[lone] = 0.0
    if full:
        return dev.T @ (dev * scale[:, None])
    return np.einsum("ij,ij,i->j", dev, dev, scale)
