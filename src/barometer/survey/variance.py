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

Lonely PSUs (``n_h = 1 < N_h``, R's ``survey.lonely.psu``, as survey 4.5's ``svyrecvar``):
``certainty``/``remove`` contribute 0; ``adjust`` uses the deviation of the PSU total from
the mean of all PSU totals of the stage (sum of the totals / number of PSUs; at a later
stage, within the earlier-stage cluster); ``average`` contributes 0 and multiplies the
stage's variance (within each earlier-stage cluster) by #strata / #strata not lonely;
``fail`` raises. A stratum with ``n_h = N_h`` (self-representing) contributes 0.

PPS without replacement (``Design.spec.pps``): Brewer's approximation is the formula above
with a per-cluster fpc 1 - pi_i (``N`` = n_h / pi_i); Overton's approximation replaces the
first stage by the Horvitz-Thompson quadratic form sum_ij D_ij t_i t_j of the cluster totals,
D_ii = 1 - pi_i, D_ij = ((pi_i + pi_j)/2 - 1)/(n_h - 1) in the same stratum (Overton 1985;
R's ``overton2Dcheck`` and ``htvar.matrix``), computed in O(n) from per-stratum sums:
sum_{i != j} D_ij t_i t_j' = (sym(P S') - sum_i pi_i t_i t_i' - S S' + sum_i t_i t_i')/(n - 1),
S = sum_i t_i, P = sum_i pi_i t_i.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from barometer.survey.design import PPS, ClusterTable, Design, LonelyPSU, Stage, cluster_scale
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
    # compact form: makes ``values`` when they were not kept (only their totals at the
    # first stage were computed), if something needs the rows' values after all
    lazy: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    @classmethod
    def stack(cls, parts: list[Influence]) -> Influence:
        """The influence values of several groups of estimates side by side (the columns
        of each part in turn), each part kept in its own (compact) form."""
        if len(parts) == 1:
            return parts[0]
        return cls(k=sum(p.k for p in parts), parts=tuple(parts))

    @classmethod
    def compact(cls, values: np.ndarray | None, column: np.ndarray, k: int, **parts: object
                ) -> Influence:
        """The compact form (``parts``: scale, offset, base, index, totals, lazy); ``values``
        None: made by ``lazy`` when needed."""
        return cls(k=k, values=None if values is None else np.asarray(values, float),
                   column=np.asarray(column, np.intp), **parts)  # type: ignore[arg-type]

    def row_values(self) -> np.ndarray:
        """The compact form's values (made by ``lazy`` if they were not kept)."""
        if self.values is not None:
            return self.values
        assert self.lazy is not None, "compact influence values without values"
        return self.lazy()

    def to_dense(self) -> np.ndarray:
        if self.dense is not None:
            return self.dense
        if self.parts is not None:
            return np.hstack([p.to_dense() for p in self.parts])
        assert self.column is not None
        values = self.row_values()
        out = np.zeros((values.size, self.k))
        rows = np.flatnonzero(self.column >= 0)
        col = self.column[rows]
        z = values[rows]
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
            out = self.totals.get(key) if self.totals is not None and key is not None \
                else None
            if out is None:
                out = self._sums(self.row_values(), codes, n_groups, key)
            if self.offset is not None:
                assert self.base is not None
                cached = None if self.index is None else self.index.get(("base", key))
                if cached is None or cached[0] is not self.base:  # type: ignore[index]
                    cached = (self.base, self._sums(self.base, codes, n_groups, key))
                    if self.index is not None and key is not None:
                        self.index[("base", key)] = cached
                shift = cached[1] * self.offset  # type: ignore[index]
                out = np.subtract(out, shift, out=shift)
                if self.scale is not None:
                    out *= self.scale
                return out
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
    out = stage_variance(design.stages, influence, design.lonely_psu, full=full,
                         pps=design.spec.pps)
    if design.spec.pps is None:
        out = _round_off(out)
    return out


def _round_off(v: np.ndarray) -> np.ndarray:
    """R's ``arma_multistage`` (survey 4.5): a variance below 1e-16 is rounding error of an
    exact 0 (a domain inside one PSU) and is set to 0, with its covariances."""
    if v.ndim == 1:
        return np.where(np.abs(v) < 1e-16, 0.0, v)
    tiny = np.abs(np.diag(v)) < 1e-16
    if tiny.any():
        v = v.copy()
        v[tiny, :] = 0.0
        v[:, tiny] = 0.0
    return v


def stage_variance(stages: tuple[Stage, ...], influence: Influence, lonely: LonelyPSU,
                   *, full: bool = False, pps: PPS | None = None) -> np.ndarray:
    """The multistage variance of the module docstring for given influence values."""
    k = influence.k
    out = np.zeros((k, k)) if full else np.zeros(k)
    multiplier: np.ndarray | None = None  # first stage: 1 (no n-row array of ones)
    for s, stage in enumerate(stages):
        if s > 0:
            prev = stages[s - 1]
            if not stages[0].has_fpc:
                break  # with-replacement first stage: ultimate clusters only (R's svyrecvar)
            multiplier = prev.fraction if multiplier is None else multiplier * prev.fraction
            if not (multiplier > 0).any():
                break
        if s == 0 and pps is PPS.OVERTON:
            out = out + _overton_stage(stage, influence, full)
            continue
        group = None if s == 0 else stages[s - 1].clusters
        # R keeps the rows out of a domain of a PPS design (weight 0): every stratum counts
        out = out + _one_stage(stage, multiplier, influence, lonely, s, full, group,
                               domains=pps is None)
    return out


def _overton_stage(stage: Stage, influence: Influence, full: bool) -> np.ndarray:
    """The Horvitz-Thompson variance with Overton's joint inclusion probabilities (module
    docstring), from per-stratum sums of the cluster totals."""
    totals = influence.group_totals(stage.clusters, stage.n_clusters, key=0)
    table = stage.per_cluster
    totals = totals[table.present]
    stratum, n_h, n_strata = table.stratum, table.n_h, table.n_strata
    pi = n_h / table.popsize
    ssum = np.zeros((n_strata, totals.shape[1]))
    psum = np.zeros_like(ssum)
    np.add.at(ssum, stratum, totals)
    np.add.at(psum, stratum, pi[:, None] * totals)
    n_s = np.zeros(n_strata)
    n_s[stratum] = n_h
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(n_s > 1, 1.0 / (n_s - 1), 0.0)  # a lonely unit has no pairs
    # per cluster: diagonal (1 - pi) t t' and the -(pi - 1) t t' / (n - 1) of the pairs
    c = (1.0 - pi) + (1.0 - pi) * off[stratum]
    if full:
        out = totals.T @ (totals * c[:, None])
        a = (psum * off[:, None]).T @ ssum
        out += 0.5 * (a + a.T) - (ssum * off[:, None]).T @ ssum
        return out
    diag = np.einsum("ij,ij,i->j", totals, totals, c)
    return diag + np.einsum("hj,hj,h->j", psum, ssum, off) \
        - np.einsum("hj,hj,h->j", ssum, ssum, off)


def _one_stage(stage: Stage, multiplier: np.ndarray | None, influence: Influence, lonely: LonelyPSU,
               s: int, full: bool, group: np.ndarray | None, domains: bool = True
               ) -> np.ndarray:
    """One stage's term; ``group`` gives each row's earlier-stage cluster (the unit within
    which R's recursion treats this stage: lonely ``adjust`` and ``average`` are per group),
    None at the first stage.

    Lonely ``adjust`` and ``average`` count, per estimate, the strata the estimate's rows
    reach (with ``domains`` and compact influence values: R drops the rows out of a domain
    of an uncalibrated design, so the mean PSU total and #strata are those of the domain's
    strata); a covariance (``full``) keeps every stratum, as R's ``svyby(covmat = TRUE)``.
    """
    # per-cluster attributes (constant within a cluster), from each cluster's first row
    table = stage.per_cluster
    present, first, stratum = table.present, table.first, table.stratum
    n_h, popsize, n_strata = table.n_h, table.popsize, table.n_strata
    # per cluster: m (1 - f) n_h / (n_h - 1), and whether it is lonely (one PSU of several)
    scale, lone = table.first_stage_scale if multiplier is None else \
        cluster_scale(n_h, popsize, multiplier[first])
    if lone.any() and lonely is LonelyPSU.FAIL:
        raise DesignError(
            f"a stratum has only one PSU at stage {s + 1}",
            where=f"stratum code {int(stratum[np.argmax(lone)])}",
            hint="merge it with a similar stratum, or choose lonely_psu='adjust', "
            "'average', 'certainty' or 'remove'",
        )
    pooled = lone.any() and lonely in (LonelyPSU.ADJUST, LonelyPSU.AVERAGE)
    if lone.any() and not pooled:  # certainty, remove: a lonely PSU contributes 0
        scale = np.where(lone, 0.0, scale)
    if stage.elements and influence.column is not None and influence.dense is None \
            and influence.parts is None and not pooled:
        return _element_stage(table, influence, scale, full)
    totals = influence.group_totals(stage.clusters, stage.n_clusters, key=s)
    if first.size < present.size:
        totals = totals[present]
    k = totals.shape[1]
    sums = np.bincount(table.cells(k), weights=totals.ravel(), minlength=n_strata * k)
    means = sums.reshape(n_strata, k) / table.size[:, None]
    dev = totals - means[stratum]
    if pooled:
        dev, scale = _lonely_terms(stage, influence, lonely, totals, dev, scale, present,
                                   first, stratum, n_h, lone, group, domains and not full)
    if scale.ndim == 1:
        if full:
            return dev.T @ (dev * scale[:, None])
        return np.einsum("ij,ij,i->j", dev, dev, scale)
    return np.einsum("ij,ij,ij->j", dev, dev, scale)


def _element_stage(table: ClusterTable, influence: Influence, scale: np.ndarray, full: bool
                   ) -> np.ndarray:
    """:func:`_one_stage` where every cluster is one row (element sampling) and each row
    counts in one estimate (compact influence values, domains): without the clusters x k
    matrix of totals, whose n x k size grows with the sample.

    Cluster i's totals are z_i in its column c_i and 0 in the others, so per stratum h and
    column c, with tbar_hc = sum_{i in h, c_i = c} z_i / m_h (m_h clusters in h) and the
    scales s_i, the term sum_{i in h} s_i (t_ic - tbar_hc)^2 is
    sum_{i in h, c_i = c} s_i (z_i - tbar_hc)^2 + tbar_hc^2 sum_{i in h, c_i != c} s_i,
    two sums of non-negative terms (no cancellation) from ``np.bincount`` over the
    stratum x column cells; the covariance of columns c != c' is
    sum_h [tbar_hc tbar_hc' (S_h - S_hc - S_hc') - tbar_hc' B_hc - tbar_hc B_hc'],
    S the sums of s_i and B_hc = sum_{i in h, c_i = c} s_i (z_i - tbar_hc)."""
    k, n_strata = influence.k, table.n_strata
    assert influence.column is not None
    rows = slice(None) if table.in_row_order else table.first  # each cluster's row
    column = influence.column[rows]
    inside = column >= 0
    z = influence.row_values()[rows]
    if influence.offset is not None:
        assert influence.base is not None
        z = z - np.append(influence.offset, 0.0)[column] * influence.base[rows]
    if influence.scale is not None:
        z = z * np.append(influence.scale, 0.0)[column]
    cell = table.stratum[inside] * k + column[inside]
    z, s = z[inside], scale[inside]
    size = n_strata * k
    tbar = (np.bincount(cell, weights=z, minlength=size).reshape(n_strata, k)
            / table.size[:, None])
    s_h = np.bincount(table.stratum, weights=scale, minlength=n_strata)
    s_hc = np.bincount(cell, weights=s, minlength=size).reshape(n_strata, k)
    dev = z - tbar.ravel()[cell]
    sdev = s * dev
    inner = np.bincount(cell, weights=sdev * dev, minlength=size).reshape(n_strata, k)
    var = (inner + tbar * tbar * (s_h[:, None] - s_hc)).sum(axis=0)
    if not full:
        return var
    b = np.bincount(cell, weights=sdev, minlength=size).reshape(n_strata, k)
    ts = tbar * s_hc
    cov = tbar.T @ (tbar * s_h[:, None]) - ts.T @ tbar - tbar.T @ ts - b.T @ tbar - tbar.T @ b
    cov[np.diag_indices(k)] = var
    return cov


def _lonely_terms(stage: Stage, influence: Influence, lonely: LonelyPSU, totals: np.ndarray,
                  dev: np.ndarray, scale: np.ndarray, present: np.ndarray, first: np.ndarray,
                  stratum: np.ndarray, n_h: np.ndarray, lone: np.ndarray,
                  group: np.ndarray | None, per_domain: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Deviations and scales (per cluster, or cluster x estimate) under lonely ``adjust`` /
    ``average`` (module docstring), R's ``arma_onestage`` per group of strata."""
    k = totals.shape[1]
    n_strata = int(stratum.max()) + 1
    g = np.zeros(stratum.size, dtype=np.intp) if group is None else \
        np.unique(group[first], return_inverse=True)[1].ravel()
    n_g = int(g.max()) + 1
    s_first = first_of(stratum, n_strata)  # one cluster per stratum
    s_group = g[s_first]
    s_n = n_h[s_first]
    s_lone = lone[s_first]
    # strata reached by each estimate (n_strata x k): all, or those with rows of its domain
    reach = np.ones((n_strata, k), dtype=bool)
    if per_domain and influence.column is not None:
        idx, width = combined_index(stage.clusters, influence.column, k)
        counts = np.bincount(idx, minlength=stage.n_clusters * width)
        counts = counts.reshape(stage.n_clusters, width)[:, :k][present]
        reach = np.zeros((n_strata, k), dtype=bool)
        np.logical_or.at(reach, stratum, counts > 0)
    weight = reach.astype(float)
    if lonely is LonelyPSU.ADJUST:
        # centre: sum of the PSU totals of the group / its number of PSUs (strata reached)
        gsum = np.zeros((n_g, k))
        np.add.at(gsum, g, totals)
        n_psu = np.zeros((n_g, k))
        np.add.at(n_psu, s_group, weight * s_n[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = np.where(n_psu > 0, gsum / n_psu, 0.0)
        dev = dev.copy()
        dev[lone] = np.where(reach[stratum[lone]], totals[lone] - centre[g[lone]], 0.0)
        return dev, scale
    scale = scale.copy()
    scale[lone] = 0.0
    # average: per group and estimate, #strata reached / #strata reached that are not lonely
    h_all = np.zeros((n_g, k))
    h_lone = np.zeros((n_g, k))
    np.add.at(h_all, s_group, weight)
    np.add.at(h_lone, s_group, weight * s_lone[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(h_lone > 0, h_all / (h_all - h_lone), 1.0)
    ratio[(h_lone > 0) & (h_all == h_lone)] = np.nan  # R: NaN, no stratum to average
    return dev, scale[:, None] * ratio[g]


def first_of(codes: np.ndarray, k: int) -> np.ndarray:
    """The first position of each code 0..k-1 in ``codes`` (every code present)."""
    out = np.full(k, -1, dtype=np.intp)
    out[codes[::-1]] = np.arange(codes.size)[::-1]
    return out
