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

from dataclasses import dataclass, field

import numpy as np

from barometer.survey.design import Design, LonelyPSU, Stage
from barometer.survey.errors import DesignError


@dataclass(frozen=True, eq=False)
class Influence:
    """Influence values of k estimates on the n sample rows.

    Either ``dense`` (n x k), or *compact* when every row contributes to at most one estimate
    (domain estimation): ``column`` (n,) gives the estimate of each row (-1: none, the row's
    values are ignored) and the row's value is

        z_i = (values_i - offset[c_i] * base_i) * scale[c_i],   c_i = column_i

    (``offset``/``base`` and ``scale`` optional), e.g. w_i (y_i - c) - (m_c - c) w_i over the
    domain's sum of weights for a mean centred at c. Cluster totals are then one
    ``np.bincount`` over cluster x column of ``values`` (and of ``base``, kept in ``index``
    across estimates on the same domains), so domain estimation stays O(n). ``index``
    (optional) keeps, per stage, the combined cluster x column index; ``totals`` optionally
    gives the cluster totals of ``values`` already computed for a stage.
    """

    k: int
    dense: np.ndarray | None = None
    values: np.ndarray | None = None
    column: np.ndarray | None = None
    scale: np.ndarray | None = None
    offset: np.ndarray | None = None
    base: np.ndarray | None = None
    index: dict[object, object] | None = field(default=None, repr=False)
    totals: dict[int, np.ndarray] | None = field(default=None, repr=False)
    parts: tuple[Influence, ...] | None = field(default=None, repr=False)

    @classmethod
    def stack(cls, parts: list[Influence]) -> Influence:
        """The influence values of several groups of estimates side by side (the columns
        of each part in turn), each part kept in its own (compact) form."""
        if len(parts) == 1:
            return parts[0]
        return cls(k=sum(p.k for p in parts), parts=tuple(parts))

    @classmethod
    def compact(cls, values: np.ndarray, column: np.ndarray, k: int, **parts: object
                ) -> Influence:
        """The compact form (``parts``: scale, offset, base, index, totals)."""
        return cls(k=k, values=np.asarray(values, float), column=np.asarray(column, np.intp),
                   **parts)  # type: ignore[arg-type]

    def to_dense(self) -> np.ndarray:
        if self.dense is not None:
            return self.dense
        if self.parts is not None:
            return np.hstack([p.to_dense() for p in self.parts])
        assert self.values is not None and self.column is not None
        out = np.zeros((self.values.size, self.k))
        rows = np.flatnonzero(self.column >= 0)
        col = self.column[rows]
        z = self.values[rows]
        if self.offset is not None:
            assert self.base is not None
            z = z - self.offset[col] * self.base[rows]
        if self.scale is not None:
            z = z * self.scale[col]
        out[rows, col] = z
        return out

    def _index(self, codes: np.ndarray, key: int | None) -> tuple[np.ndarray, int]:
        hit = None if self.index is None or key is None else self.index.get(key)
        if hit is None:
            assert self.column is not None
            hit = combined_index(codes, self.column, self.k)
            if self.index is not None and key is not None:
                self.index[key] = hit
        return hit  # type: ignore[return-value]

    def _sums(self, v: np.ndarray, codes: np.ndarray, n_groups: int, key: int | None
              ) -> np.ndarray:
        idx, width = self._index(codes, key)
        flat = np.bincount(idx, weights=v, minlength=n_groups * width)
        return flat.reshape(n_groups, width)[:, : self.k]

    def group_totals(self, codes: np.ndarray, n_groups: int, key: int | None = None
                     ) -> np.ndarray:
        """Totals of each column over groups of rows (n_groups x k), by ``np.bincount``;
        ``key`` names ``codes`` (a stage) in ``index`` and ``totals``."""
        if self.parts is not None:
            return np.hstack([p.group_totals(codes, n_groups, key) for p in self.parts])
        if self.dense is None:
            assert self.values is not None
            out = self.totals.get(key) if self.totals is not None and key is not None \
                else None
            if out is None:
                out = self._sums(self.values, codes, n_groups, key)
            if self.offset is not None:
                assert self.base is not None
                cached = None if self.index is None else self.index.get(("base", key))
                if cached is None or cached[0] is not self.base:  # type: ignore[index]
                    cached = (self.base, self._sums(self.base, codes, n_groups, key))
                    if self.index is not None and key is not None:
                        self.index[("base", key)] = cached
                out = out - self.offset[None, :] * cached[1]  # type: ignore[index]
            return out * self.scale[None, :] if self.scale is not None else out
        if self.k == 1:
            return np.bincount(codes, weights=self.dense[:, 0], minlength=n_groups)[:, None]
        from scipy import sparse

        ind = sparse.csr_matrix(
            (np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n_groups, codes.size)
        )
        return np.asarray(ind @ self.dense)


def combined_index(groups: np.ndarray, column: np.ndarray, k: int, *,
                   inside: bool | None = None) -> tuple[np.ndarray, int]:
    """The combined index group x column of every row for ``np.bincount`` and its width:
    k + 1 (column k collects the rows of no column, -1), or 1 when every row is in the
    single column. ``inside``: whether every row is known to be in a column."""
    if inside is None:
        inside = not (column < 0).any()
    if k == 1 and inside:
        return groups, 1
    idx = groups * (k + 1)
    idx += column if inside else np.where(column >= 0, column, k)
    return idx, k + 1


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
    n_clusters = stage.n_clusters
    totals = influence.group_totals(stage.clusters, n_clusters, key=s)
    # per-cluster attributes (constant within a cluster), from each cluster's first row
    first = stage.cluster_first
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
