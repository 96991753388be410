"""Stage *design*: the survey design object.

A :class:`Design` holds the data and everything the variance needs: strata and clusters at
each stage, finite population corrections, the weights, the record of any calibration and any
replicate weights. It is immutable: transformations (calibration, replicate weights, domain
restriction inside estimators) return new objects or work on copies.

Conventions follow R's ``survey::svydesign`` (Lumley 2010, ch. 2-3):

* ``ids`` lists one cluster column per stage (``None`` means element sampling); clusters of a
  later stage are nested in those of the earlier stage.
* ``strata`` gives the first-stage stratum column (or one column per stage); with
  ``nest=True`` PSU ids are only unique within strata.
* ``fpc`` gives per stage either the population size (number of PSUs in the stratum, values
  > 1) or the sampling fraction (all values <= 1), constant within each stratum.
* ``weights`` (or ``probs``, inclusion probabilities) give the sampling weights; with neither,
  weights follow from ``fpc`` (product of N/n over stages) or default to 1.
* design degrees of freedom = number of PSUs - number of strata.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

import numpy as np
import pandas as pd

from barometer.survey.errors import DesignError, readable
from barometer.survey.grouping import (
    extremes,
    factorize_first,
    first_rows,
    group_codes,
    has_nan,
    row_parts,
    writeable,
)
from barometer.survey.repweights import ReplicateWeights, layout_rank
from barometer.survey.steps import WeightingStep


class LonelyPSU(StrEnum):
    """What to do with a stratum that has a single PSU (R's ``survey.lonely.psu``).

    A stratum is *lonely* when one of its clusters was sampled and it has more than one in
    the population (a certainty stratum, N = n = 1, contributes nothing under every policy).

    * ``fail``: raise an error naming the stratum (default);
    * ``adjust``: centre the lonely PSU's total at the mean of all PSU totals of the stage
      (sum of the PSU totals / number of PSUs, as survey >= 4.4; 4.1 centred it at 0);
    * ``average``: the lonely strata contribute nothing and the stage's variance is
      multiplied by #strata / #strata that are not lonely;
    * ``certainty``: the stratum is self-representing and contributes no variance;
    * ``remove``: the stratum contributes no variance (it is ignored).
    """

    FAIL = "fail"
    ADJUST = "adjust"
    AVERAGE = "average"
    CERTAINTY = "certainty"
    REMOVE = "remove"


class PPS(StrEnum):
    """Variance approximation for PPS sampling without replacement (R's ``svydesign(pps=)``),
    from each unit's inclusion probability pi_i (given as the stage's ``fpc``):

    * ``brewer``: Brewer's (2002, eq. 9.14) approximation, the with-replacement formula with
      each cluster's deviation weighted by 1 - pi_i:
      V = n/(n-1) sum_i (1 - pi_i) (t_i - tbar)^2 per stratum, at any stage;
    * ``overton``: the Horvitz-Thompson variance sum_ij D_ij t_i t_j with Overton's (1985)
      approximation of the joint inclusion probabilities, D_ii = 1 - pi_i and
      D_ij = ((pi_i + pi_j)/2 - 1)/(n - 1) within a stratum (single-stage designs).

    R survey 4.5 (``onestrat``) pairs the 1 - pi of the clusters in their order of
    appearance with the cluster totals in sorted id order: when the rows of a Brewer design
    with cluster ids are not sorted by cluster within strata, R weights a cluster's deviation
    by another cluster's 1 - pi. barometer weights each by its own (sort the data by cluster
    to compare with R; with ``ids=None`` the orders agree).
    """

    BREWER = "brewer"
    OVERTON = "overton"


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


@dataclass(frozen=True)
class Stage:
    """One sampling stage: stratum and cluster codes per row, and the fpc.

    ``strata`` and ``clusters`` are integer codes, unique over the whole sample (a cluster code
    identifies the cluster within its stratum and all earlier stages). ``stratum_n`` is the
    number of sampled clusters of each stratum code (``n_sampled`` spreads it to the rows,
    when a row-wise array is asked for); ``popsize`` the population number of clusters in
    the row's stratum (``inf`` when sampling is with replacement / no fpc; then a read-only
    broadcast view). The arrays are not to be modified.
    """

    strata: np.ndarray
    clusters: np.ndarray
    stratum_n: np.ndarray
    popsize: np.ndarray

    @cached_property
    def n_sampled(self) -> np.ndarray:
        """The number of sampled clusters in the row's stratum, per row (made on demand:
        the variance reads it per cluster, ``stratum_n`` of the cluster's stratum)."""
        return self.stratum_n[self.strata]

    @property
    def has_fpc(self) -> bool:
        return bool(np.isfinite(self.popsize).any())

    @property
    def fraction(self) -> np.ndarray:
        """Sampling fraction n/N per row (0 where there is no fpc)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(self.popsize), self.n_sampled / self.popsize, 0.0)

    @cached_property
    def n_clusters(self) -> int:
        """Number of cluster codes (clusters are coded 0..n_clusters-1)."""
        return int(self.clusters.max()) + 1

    @cached_property
    def cluster_first(self) -> np.ndarray:
        """The first row of each cluster (computed once, reused by every variance)."""
        return first_rows(self.clusters, self.n_clusters)

    @property
    def elements(self) -> bool:
        """Whether every cluster is one row (element sampling at this stage)."""
        return self.per_cluster.first.size == self.clusters.size

    @cached_property
    def per_cluster(self) -> ClusterTable:
        """What the variance needs per cluster present, from each cluster's first row
        (computed once, reused by every variance on this stage)."""
        first = self.cluster_first
        present = first >= 0
        rows = first[present]
        stratum = self.strata[rows]
        n_strata = int(stratum.max()) + 1
        return ClusterTable(present=present, first=rows, stratum=stratum,
                            n_h=self.stratum_n[stratum], popsize=self.popsize[rows],
                            n_strata=n_strata,
                            size=np.bincount(stratum, minlength=n_strata).astype(float))


@dataclass(frozen=True, eq=False)
class ClusterTable:
    """A stage's clusters present: their first rows, stratum codes, numbers of clusters
    sampled (``n_h``) and in the population (``popsize``) in their stratum; the number of
    strata and the number of clusters present in each (``size``)."""

    present: np.ndarray
    first: np.ndarray
    stratum: np.ndarray
    n_h: np.ndarray
    popsize: np.ndarray
    n_strata: int
    size: np.ndarray
    _cells: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def in_row_order(self) -> bool:
        """Whether each cluster is one row and the clusters are numbered in row order
        (a design of elements: per-cluster values are the rows' own, without a gather)."""
        n = self.first.size
        return self.present.size == n and bool(np.array_equal(self.first, np.arange(n)))

    @cached_property
    def first_stage_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """The first stage's per-cluster factor (1 - f) n_h / (n_h - 1) of the variance
        (0 for a self-representing stratum) and whether each cluster is lonely (one
        sampled of several), computed once (see ``variance._one_stage``)."""
        return cluster_scale(self.n_h, self.popsize, None)

    def cells(self, k: int) -> np.ndarray:
        """The stratum x column cell (stratum k + j) of each cluster's column j, flattened
        in the order of a clusters x k array (kept per k): sums per stratum of k columns of
        cluster totals are one ``np.bincount`` over them."""
        hit = self._cells.get(k)
        if hit is None:
            hit = self._cells[k] = (self.stratum[:, None] * k + np.arange(k)).ravel()
        return hit


def cluster_scale(n_h: np.ndarray, popsize: np.ndarray, mult: np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: m (1 - n_h/N_h) n_h / (n_h - 1) (1 for a lonely cluster, 0 where the
    stratum is self-representing, n_h = N_h), m the product of the earlier stages'
    sampling fractions (None: 1, the first stage); and whether the cluster is lonely (one
    sampled of several, with m > 0)."""
    f = np.where(np.isfinite(popsize), 1.0 - n_h / popsize, 1.0)
    scale = f * np.where(n_h == 1, 1.0, n_h / np.maximum(n_h - 1, 1))
    lone = (n_h == 1) & (popsize > 1)
    if mult is not None:
        scale *= mult
        lone &= mult > 0
    scale[f < 1e-7] = 0.0  # self-representing stratum (n = N)
    return scale, lone


@dataclass(frozen=True)
class DesignSpec:
    """The column names that define a design (kept for the run record and the note)."""

    ids: tuple[str, ...] = ()
    strata: tuple[str, ...] = ()
    weights: str | None = None
    probs: str | None = None
    fpc: tuple[str, ...] = ()
    nest: bool = False
    lonely_psu: LonelyPSU = LonelyPSU.FAIL
    pps: PPS | None = None
    repweights: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.repweights:
            return (f"replicate weights: {self.repweights[0]}..{self.repweights[-1]} "
                    f"({len(self.repweights)} columns); weights: {self.weights or 'equal'}")
        parts = [
            f"clusters: {' > '.join(self.ids) if self.ids else 'none (element sampling)'}",
            f"strata: {', '.join(self.strata) if self.strata else 'none'}",
            f"weights: {self.weights or (f'1/{self.probs}' if self.probs else 'derived')}",
            f"fpc: {', '.join(self.fpc) if self.fpc else 'none (with replacement)'}",
        ]
        if self.pps is not None:
            parts.append(f"PPS without replacement ({self.pps.value}; fpc: inclusion "
                         "probabilities)")
        if self.nest:
            parts.append("nest: PSU ids unique within strata")
        parts.append(f"lonely PSU: {self.lonely_psu.value}")
        return "; ".join(parts)


@dataclass(frozen=True, eq=False)
class Design:
    """A survey design: data, weights, stages, and the weighting record.

    Build one with :meth:`Design.from_frame` (or :meth:`Design.from_replicates` for
    replicate weights supplied with the data). ``weights`` are the current (final) weights;
    ``weighting`` records every weighting step applied (in order: nonresponse adjustment,
    calibration, trimming), which the linearisation variance uses to take them into account
    and replicate designs re-apply to every replicate; ``replicates`` holds replicate
    weights when the design has been converted to a replicate design.
    """

    _frame: pd.DataFrame
    weights: np.ndarray
    stages: tuple[Stage, ...]
    spec: DesignSpec
    weighting: tuple[WeightingStep, ...] = ()
    replicates: ReplicateWeights | None = None
    history: tuple[str, ...] = field(default=())
    # derived data reused by every estimate on this design (domain codes...): each new
    # design (``with_weights``, ``replace``) starts with an empty cache
    cache: dict[object, object] = field(default_factory=dict, init=False, repr=False,
                                        compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        data: pd.DataFrame,
        *,
        ids: str | Sequence[str] | None = None,
        strata: str | Sequence[str] | None = None,
        weights: str | None = None,
        probs: str | None = None,
        fpc: str | Sequence[str] | None = None,
        nest: bool = False,
        lonely_psu: str | LonelyPSU = LonelyPSU.FAIL,
        pps: str | PPS | None = None,
        source: str = "data",
    ) -> Design:
        """Build a design from a data frame (R's ``svydesign``).

        ``pps``: ``brewer`` or ``overton`` for PPS sampling without replacement (see
        :class:`PPS`); ``fpc`` then holds each unit's inclusion probability at that stage
        and the weights default to 1 / (product of the probabilities). ``source`` names the
        data in error messages (e.g. a file name). The data are kept private: ``data``
        returns a copy-on-write copy, so changing it never changes the design.
        """
        data = data.reset_index(drop=True)
        n = len(data)
        if n == 0:
            raise DesignError("the data have no rows", where=source, hint="pass a non-empty frame")
        lonely = _lonely_policy(lonely_psu)
        pps_method: PPS | None = None
        if pps is not None and pps is not False:
            try:
                pps_method = PPS(pps)
            except ValueError:
                raise DesignError("unknown PPS method", value=pps,
                                  hint=f"use one of {[p.value for p in PPS]}") from None
            if not fpc:
                raise DesignError(f"pps={pps_method.value!r} needs the inclusion probabilities",
                                  where=source, hint="pass fpc='column of inclusion "
                                  "probabilities' (one per stage)")
            if pps_method is PPS.OVERTON and len(_as_list(ids)) > 1:
                raise DesignError("Overton's approximation is for single-stage designs",
                                  value=list(_as_list(ids)),
                                  hint="use pps='brewer' for a multistage design")
        id_cols = [c for c in _as_list(ids) if c not in ("1", "0")]
        strata_cols = _as_list(strata)
        fpc_cols = _as_list(fpc)
        for col in [*id_cols, *strata_cols, *fpc_cols, *(c for c in (weights, probs) if c)]:
            if col not in data.columns:
                raise DesignError(
                    f"column {col!r} not found",
                    where=source,
                    hint=f"available columns: {', '.join(map(str, data.columns[:30]))}",
                )
            # float weights: their missing values are found by the range check below
            if not (col == weights and data[col].dtype == np.float64) and \
                    _has_missing(data[col]):
                raise _missing(data[col], source)
        if len(strata_cols) > max(len(id_cols), 1):
            raise DesignError("more strata columns than stages", value=strata_cols)
        n_stages = max(len(id_cols), 1)
        if len(fpc_cols) > n_stages:
            raise DesignError(
                "more fpc columns than sampling stages", value=fpc_cols,
                hint="give one fpc column per stage of ids",
            )
        raw_ids = [data[c].to_numpy() for c in id_cols] or [np.arange(n)]
        raw_strata = [data[c].to_numpy() for c in strata_cols] or [np.zeros(n, dtype=np.int64)]

        # clusters nested in earlier stages (and in strata when nest=True), as svydesign does
        stages: list[Stage] = []
        psu_codes: np.ndarray | None = None
        first = np.zeros(0, dtype=np.intp)
        n_first_strata: int | None = None  # the number of first-stage strata, when known
        if not nest and strata_cols and id_cols:
            psu_codes, _, first = factorize_first(raw_ids[0])
            # nested: every row has the stratum of its PSU's first row, so the strata are
            # coded on those first rows (one value per PSU) and spread back to the rows
            psu_stratum = raw_strata[0][first]
            split = _first_mismatch(raw_strata[0], psu_stratum, psu_codes)
            if split >= 0:
                psu = raw_ids[0][first[psu_codes[split]]]
                raise DesignError(
                    "clusters are not nested in strata at the first stage",
                    where=f"{source}, column {id_cols[0]}",
                    value=psu,
                    hint="use nest=True if PSU ids are only unique within strata",
                )
            psu_strata = group_codes(psu_stratum)
            n_first_strata = int(psu_strata.max()) + 1
            if raw_strata[0].dtype == np.intp and np.array_equal(psu_strata, psu_stratum):
                # the column already holds the codes 0..H-1: the rows' codes are the column
                # itself (a view, no n-row copy; equal to psu_strata[psu_codes], checked above)
                first_strata = writeable(raw_strata[0])
            else:
                first_strata = psu_strata[psu_codes]
        else:
            first_strata = group_codes(*raw_strata[:1])
        prev_cluster: np.ndarray | None = None
        for k in range(n_stages):
            if k == 0:
                s_codes = first_strata
            else:
                s_src = raw_strata[min(k, len(raw_strata) - 1)] if k < len(raw_strata) else None
                s_codes = (
                    group_codes(s_src, prev_cluster) if s_src is not None and k < len(raw_strata)
                    else prev_cluster
                )
            parts = [raw_ids[k]]
            if k > 0:
                parts = [prev_cluster, *parts]
            if nest and strata_cols:
                parts = [first_strata, *parts]
            nested = k == 0 and psu_codes is not None  # checked above
            c_codes = psu_codes if nested else group_codes(*parts)
            c_first = first if nested else first_rows(c_codes, complete=True)
            stratum_n = _count_distinct(c_codes, s_codes, c_first, nested=nested,
                                        n_strata=n_first_strata if k == 0 else None)
            popsize = np.broadcast_to(np.inf, (n,))  # no fpc (read-only, no memory behind)
            if k < len(fpc_cols) and pps_method is not None:
                popsize = _pps_popsize(data[fpc_cols[k]], c_codes, c_first,
                                       stratum_n[s_codes], fpc_cols[k], source)
            elif k < len(fpc_cols):
                popsize = _popsize(data[fpc_cols[k]], s_codes, stratum_n[s_codes],
                                   fpc_cols[k], source)
            stage = Stage(s_codes, c_codes, stratum_n, popsize)
            stage.__dict__["cluster_first"] = c_first  # seed the cached properties
            stage.__dict__["n_clusters"] = c_first.size
            stages.append(stage)
            prev_cluster = c_codes

        if pps_method is PPS.OVERTON and weights is not None:
            # R's svydesign(pps = "overton") does not pass the weights on: 1 / pi
            given = _as_float(data[weights])
            w = np.ones(n)
            for st in stages:
                w = w * st.popsize / st.n_sampled
            if not np.allclose(given, w, rtol=1e-9):
                warnings.warn(f"an Overton design weights by 1 / inclusion probability "
                              f"({fpc_cols[0]}); the weights {weights!r} differ and are not "
                              "used (as R's svydesign(pps = 'overton'))", stacklevel=2)
            wname = fpc_cols[0]
        elif weights is not None:
            w = _as_float(data[weights])
            wname = weights
        elif probs is not None:
            p = pd.to_numeric(data[probs], errors="coerce").to_numpy(float)
            _check_positive(p, probs, source, "inclusion probabilities")
            w = 1.0 / p
            wname = probs
        elif fpc_cols:
            w = np.ones(n)
            for st in stages:
                if st.has_fpc:
                    w = w * st.popsize / st.n_sampled
            wname = "fpc"
        else:
            warnings.warn("no weights or probabilities supplied, assuming equal probability "
                          f"({source}; R's svydesign gives the same warning)", stacklevel=2)
            w = np.ones(n)
            wname = "(equal weights)"
        float_weights = weights is not None and wname == weights and \
            data[weights].dtype == np.float64  # not checked for missing values above
        _check_positive(w, wname, source, "weights",
                        column=data[weights] if float_weights else None)
        if len(fpc_cols) < n_stages and len(fpc_cols) > 0 and \
                any(st.has_fpc for st in stages):
            warnings.warn(f"stages without fpc ({n_stages - len(fpc_cols)} of {n_stages}) are "
                          "treated as sampled with replacement", stacklevel=2)
        spec = DesignSpec(
            ids=tuple(id_cols), strata=tuple(strata_cols), weights=weights, probs=probs,
            fpc=tuple(fpc_cols), nest=nest, lonely_psu=lonely, pps=pps_method,
        )
        design = cls(_frame=data, weights=w, stages=tuple(stages), spec=spec,
                     history=(f"design: {spec.describe()}",))
        design.cache["positive"] = True  # every weight is positive (checked above)
        design.check_lonely_psu()
        return design

    @classmethod
    def from_replicates(
        cls,
        data: pd.DataFrame,
        *,
        repweights: str | Sequence[str],
        type: str,
        weights: str | None = None,
        scale: float | None = None,
        rscales: float | Sequence[float] | None = None,
        rho: float | None = None,
        mse: bool = False,
        combined_weights: bool = True,
        source: str = "data",
    ) -> Design:
        """A replicate design from replicate weights supplied with the data (R's
        ``svrepdesign``), as public-use files (NHANES, ACS, CPS, MEPS) ship them.

        ``repweights``: the replicate-weight columns, or a prefix (every column whose name
        starts with it, in the data's order). ``weights``: the full-sample weight column.
        ``combined_weights``: the columns hold replicate weights (True, R's default), or
        factors to multiply the full-sample weights by. The variance is

            V = scale * sum_r rscales_r (theta_r - c)^2,

        c the mean of the replicates, or the full-sample estimate with ``mse=True``. ``type``
        and R's defaults for ``scale`` / ``rscales`` (Wolter 2007; Lumley 2010, ch. 2.4):

        * ``BRR``: scale 1/R (always); ``Fay``: scale 1/(R (1 - rho)^2) (always, ``rho``
          required);
        * ``JK1``: scale (R - 1)/R by default (with factors: 1 / max of the first column);
        * ``JKn``: ``rscales`` (n_h - 1)/n_h per replicate must be given with combined
          weights (with factors: 1 / max of each column); scale 1;
        * ``bootstrap``: scale 1/(R - 1); ``successive-difference`` and ``ACS``: scale 4/R
          (ACS: ``mse`` True); ``JK2``: scale 1; ``other``: scale 1 unless given;
        * ``rscales`` default 1 for each replicate (a single number applies to all); R's
          ``fpc=`` (a correction per replicate) is ``rscales`` multiplied by it.

        Degrees of freedom: the rank of the replicate-weight matrix - 1 (R's ``degf``).
        The replicate weights are held once, as a row-major n x R matrix
        (``design.replicates.weights``); the design's data keep the other columns only.
        Weighting steps (``calibrate``, ``trim``...) are re-applied to every replicate.
        """
        data = data.reset_index(drop=True)
        n = len(data)
        if n == 0:
            raise DesignError("the data have no rows", where=source, hint="pass a non-empty frame")
        if type not in REPLICATE_TYPES:
            raise DesignError(f"unknown replicate type {type!r}", where=source, value=type,
                              hint=f"use one of {', '.join(REPLICATE_TYPES)}")
        if isinstance(repweights, str):
            cols = [str(c) for c in data.columns if str(c).startswith(repweights)]
            if not cols:
                raise DesignError(f"no column starts with the prefix {repweights!r}",
                                  where=source, value=repweights,
                                  hint="pass repweights= a prefix of the replicate-weight "
                                  "columns or a list of them")
        else:
            cols = list(repweights)
            if not cols:
                raise DesignError("no replicate-weight columns given", where=source,
                                  hint="pass repweights= a prefix or a list of columns")
        for col in [*cols, *([weights] if weights else [])]:
            if col not in data.columns:
                raise DesignError(f"column {col!r} not found", where=source, value=col,
                                  hint=f"available columns: "
                                  f"{', '.join(map(str, data.columns[:30]))}")
        if weights in cols:
            raise DesignError(f"the full-sample weight {weights!r} is among the replicate "
                              "weights", where=source, hint="give another prefix or list")
        # the n x R matrix, row-major (the sparse products read it row after row; a
        # column-major matrix would be copied by every product): the one copy of the
        # replicate weights the design holds, filled from the frame's columns by blocks of
        # rows that stay in cache (column by column, every write would touch a new line)
        arrays = [data[c].to_numpy(dtype=float) if data[c].dtype.kind in "iuf" else
                  pd.to_numeric(data[c], errors="coerce").to_numpy(float) for c in cols]
        rep = np.empty((n, len(cols)))
        block = max(256, (1 << 18) // len(cols))
        rows = np.empty((len(cols), block))  # a block of rows, column by column
        valid = True
        for start in range(0, n, block):
            stop = min(start + block, n)
            for j, a in enumerate(arrays):
                rows[j, : stop - start] = a[start:stop]
            part = rows[:, : stop - start]
            valid = valid and bool(np.isfinite(part).all() and part.min() >= 0)  # (in cache)
            rep[start:stop] = part.T
        if not valid:
            bad = ~np.isfinite(rep) | (rep < 0)
            row, j = (int(i) for i in np.argwhere(bad)[0])
            raise DesignError(
                "replicate weights must be finite and non-negative (no missing values)",
                where=f"{source}, row {row}, column {cols[j]}", value=data[cols[j]].iloc[row],
                hint="fix the replicate-weight column; R's svrepdesign refuses it too")
        n_rep = rep.shape[1]
        if weights is None:
            warnings.warn("no sampling weights given: equal probability assumed (R's "
                          "svrepdesign gives the same warning)", stacklevel=2)
            w = np.ones(n)
        else:
            if _has_missing(data[weights]):
                row = int(np.flatnonzero(data[weights].isna().to_numpy())[0])
                raise DesignError(f"weight column {weights!r} has missing values",
                                  where=f"{source}, row {row}, column {weights}",
                                  hint="the full-sample weights must be complete")
            w = _as_float(data[weights])
            _check_positive(w, weights, source, "weights")
        scale_v, rscales_v = _replicate_scales(type, rep, n_rep, scale, rscales, rho,
                                               combined_weights, source)
        if not combined_weights:
            rep *= w[:, None]
        if type == "ACS":
            mse = True
        reps = ReplicateWeights(type=type, layout=rep, start=rep, scale=scale_v,
                                rscales=rscales_v, mse=bool(mse),
                                degf=layout_rank(rep) - 1,
                                fay_rho=float(rho) if type == "Fay" and rho is not None
                                else 0.0)
        stage = Stage(np.zeros(n, dtype=np.intp), np.arange(n, dtype=np.intp),
                      np.array([float(n)]), np.broadcast_to(np.inf, (n,)))
        spec = DesignSpec(weights=weights, repweights=tuple(cols))
        note = (f"replicates: {type} x{n_rep} supplied (scale {scale_v:.6g}"
                + (f", rho {rho}" if type == "Fay" else "") + (", mse" if mse else "") + ")")
        # the design's frame keeps the other columns only: the replicate weights live in
        # the matrix, so a caller who drops their frame frees its replicate columns
        return cls(_frame=data.drop(columns=cols), weights=w, stages=(stage,), spec=spec,
                   replicates=reps, history=(f"design: {spec.describe()}", note))

    # ------------------------------------------------------------------ properties
    @property
    def data(self) -> pd.DataFrame:
        """The design's data: a copy-on-write copy (cheap, shares memory until written), so
        changing it never changes this design or the designs derived from it."""
        return self._frame.copy(deep=False)

    @property
    def columns(self) -> pd.Index:
        """The names of the data's columns."""
        return self._frame.columns

    @property
    def n(self) -> int:
        return len(self._frame)

    @property
    def base_weights(self) -> np.ndarray:
        """The weights before any weighting step (the design weights)."""
        return self.weighting[0].d if self.weighting else self.weights

    @property
    def lonely_psu(self) -> LonelyPSU:
        return self.spec.lonely_psu

    def degf(self, rows: np.ndarray | None = None) -> int:
        """Design degrees of freedom: #PSUs - #strata (R's ``degf``), over ``rows`` if given.

        For a replicate design: the rank of the replicate weights minus one, recomputed on
        the rows of a domain (as R's subset of a replicate design does).
        """
        mask = self.weights > 0 if rows is None else rows & (self.weights > 0)
        if self.replicates is not None:
            if rows is None or mask.sum() == (self.weights > 0).sum():
                return self.replicates.degf
            return self.replicates.rank_of(mask) - 1
        return int(self.domain_degf(np.where(mask, 0, -1), 1)[0])

    def domain_degf(self, codes: np.ndarray, k: int) -> np.ndarray:
        """Design degrees of freedom of k domains at once (linearisation designs): per
        domain, #PSUs - #strata among its rows with a positive weight; ``codes`` in 0..k-1
        give each row's domain (-1: none). One ``np.bincount`` over the rows."""
        st = self.stages[0]
        ok = (codes >= 0) & (self.weights > 0)
        ext = np.where(ok, codes, k)
        table = st.per_cluster
        if st.elements:  # a row per cluster: no n x k counts
            psus = np.bincount(ext, minlength=k + 1)[:k]
            cell = st.strata[ok] * k + codes[ok]
            strata = np.bincount(cell, minlength=table.n_strata * k).reshape(-1, k) > 0
            return psus - strata.sum(axis=0)
        counts = np.bincount(st.clusters * (k + 1) + ext, minlength=st.n_clusters * (k + 1))
        return self.degf_from_counts(counts.reshape(st.n_clusters, k + 1)[:, :k])

    def degf_from_counts(self, counts: np.ndarray) -> np.ndarray:
        """Design degrees of freedom of k domains from their numbers of rows with a positive
        weight in each first-stage cluster (n_clusters x k): #PSUs - #strata present."""
        table = self.stages[0].per_cluster
        present = counts > 0
        if table.first.size < present.shape[0]:  # cluster codes without rows
            present = present[table.present]
        k = present.shape[1]
        # clusters are nested in first-stage strata: a stratum is present with its clusters
        cell = (table.stratum[:, None] * k + np.arange(k)).ravel()
        in_stratum = np.bincount(cell[present.ravel()], minlength=table.n_strata * k)
        return present.sum(axis=0) - (in_stratum.reshape(table.n_strata, k) > 0).sum(axis=0)

    def check_lonely_psu(self) -> None:
        """Raise a :class:`DesignError` naming the stratum if a stratum has one PSU and the
        policy is ``fail`` (an Overton design has no lonely PSUs: a unit alone in its
        stratum contributes (1 - pi) t^2, as R's ``ppsvar``)."""
        if self.spec.lonely_psu is not LonelyPSU.FAIL or self.spec.pps is PPS.OVERTON:
            return
        for k, st in enumerate(self.stages):
            if not (st.stratum_n == 1).any():  # no stratum with a single cluster
                continue
            single = st.n_sampled == 1
            lonely = single & ~(st.popsize == st.n_sampled)
            if k > 0:
                lonely &= self.stages[k - 1].has_fpc  # later stages only count with an fpc
            if lonely.any():
                row = int(np.flatnonzero(lonely)[0])
                label = self.spec.strata[0] if self.spec.strata and k == 0 else "stratum"
                value = self._frame[self.spec.strata[0]].iloc[row] if self.spec.strata \
                    and k == 0 \
                    else int(st.strata[row])
                raise DesignError(
                    f"a stratum has only one PSU at stage {k + 1}",
                    where=f"{label} = {readable(value)!r}",
                    hint="merge it with a similar stratum, or choose lonely_psu='adjust', "
                    "'average', 'certainty' or 'remove'",
                )

    def with_weights(self, weights: np.ndarray, note: str, **changes: object) -> Design:
        """A new design with other weights (and other fields changed), recording ``note``."""
        if "data" in changes:  # a new frame (its own copy, so the caller keeps theirs)
            new = changes.pop("data")
            if not isinstance(new, pd.DataFrame) or len(new) != self.n:
                raise DesignError("the new data must be a frame with the design's rows",
                                  value=getattr(new, "shape", None))
            changes["_frame"] = new.reset_index(drop=True)
        return replace(self, weights=np.asarray(weights, float),
                       history=(*self.history, note), **changes)  # type: ignore[arg-type]

    def column(self, name: str) -> pd.Series:
        """A column of the data, with a clear error if it does not exist. The series is
        copy-on-write: writing to it never changes the design."""
        frame = self._frame
        if name not in frame.columns:
            raise DesignError(
                f"column {name!r} not found in the design's data",
                hint=f"available columns: {', '.join(map(str, frame.columns[:30]))}",
            )
        return frame[name]

    def __repr__(self) -> str:
        extra = ""
        if self.weighting:
            extra += f", weighting: {' > '.join(s.method for s in self.weighting)}"
        if self.replicates is not None:
            extra += f", {self.replicates.type} replicates x{self.replicates.n_replicates}"
        return f"Design(n={self.n}, {self.spec.describe()}{extra})"


REPLICATE_TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap", "successive-difference", "ACS",
                   "JK2", "other")


def _lonely_policy(value: str | LonelyPSU) -> LonelyPSU:
    try:
        return LonelyPSU(value)
    except ValueError:
        raise DesignError("unknown lonely PSU policy", value=value,
                          hint=f"use one of {[p.value for p in LonelyPSU]}") from None


def _replicate_scales(type: str, rep: np.ndarray, n_rep: int, scale: float | None,
                      rscales: float | Sequence[float] | None, rho: float | None,
                      combined: bool, source: str) -> tuple[float, np.ndarray]:
    """``scale`` and ``rscales`` of supplied replicate weights, with R's defaults
    (``svrepdesign``; see :meth:`Design.from_replicates`)."""
    if rscales is not None:
        rs = np.atleast_1d(np.asarray(rscales, dtype=float))
        if rs.size == 1:
            rs = np.full(n_rep, float(rs[0]))
        if rs.size != n_rep:
            raise DesignError(f"rscales has {rs.size} values for {n_rep} replicates",
                              where=source, hint="give one rscale per replicate (or one)")
        if not np.isfinite(rs).all() or (rs < 0).any():
            raise DesignError("rscales must be finite and non-negative", where=source)
    else:
        rs = None
    if type == "Fay":
        if rho is None or not 0 < float(rho) < 1:
            raise DesignError("type='Fay' needs Fay's rho in (0, 1)", where=source, value=rho,
                              hint="pass rho= (e.g. 0.5), as published with the weights")
        if scale is not None:
            warnings.warn("type='Fay' sets scale = 1/(R (1 - rho)^2); the scale given is "
                          "ignored (as R does)", stacklevel=3)
        scale = 1.0 / (n_rep * (1 - float(rho)) ** 2)
    elif rho is not None:
        warnings.warn(f"rho is only used by type='Fay': ignored for type={type!r}",
                      stacklevel=3)
    if type == "BRR":
        if scale is not None:
            warnings.warn("type='BRR' sets scale = 1/R; the scale given is ignored (as R "
                          "does)", stacklevel=3)
        scale = 1.0 / n_rep
    elif type == "bootstrap":
        if n_rep < 2:
            raise DesignError("the bootstrap needs at least 2 replicates", where=source)
        scale = 1.0 / (n_rep - 1) if scale is None else scale
    elif type == "JK1" and scale is None:
        if combined:
            scale = (n_rep - 1) / n_rep
            warnings.warn("JK1 scale (n-1)/n not given: taking n = the number of "
                          f"replicates ({n_rep}), as R does", stacklevel=3)
        else:
            scale = 1.0 / float(rep[:, 0].max())
            warnings.warn("JK1 scale (n-1)/n not given: taken from the first replicate's "
                          "largest factor, as R does", stacklevel=3)
    elif type == "JKn" and rs is None:
        if combined:
            raise DesignError("type='JKn' with combined weights needs rscales",
                              where=source, hint="pass rscales= (n_h - 1)/n_h for each "
                              "replicate (its stratum's number of PSUs n_h)")
        rs = 1.0 / rep.max(axis=0)
        warnings.warn("JKn rscales (n-1)/n not given: taken from each replicate's largest "
                      "factor, as R does", stacklevel=3)
    elif type in ("successive-difference", "ACS"):
        if scale is not None or rs is not None:
            warnings.warn(f"type={type!r} sets scale 4/R and rscales 1; those given are "
                          "ignored (as R does)", stacklevel=3)
        scale, rs = 4.0 / n_rep, np.ones(n_rep)
    elif type == "JK2":
        scale, rs = 1.0, np.ones(n_rep)
    elif type == "other" and (scale is None or rs is None):
        warnings.warn("type='other' without scale or rscales: taken as 1, as R does",
                      stacklevel=3)
    scale = 1.0 if scale is None else float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise DesignError("scale must be positive", where=source, value=scale)
    return scale, (np.ones(n_rep) if rs is None else rs)


def _first_mismatch(values: np.ndarray, per_group: np.ndarray, codes: np.ndarray,
                    block: int = 1 << 17) -> int:
    """The first row whose value differs from its group's (``per_group[codes]``), or -1;
    checked on the parts of the rows (``grouping.row_parts``, two threads), each in blocks
    with two block buffers (no n-row temporary)."""
    def part(lo: int, hi: int) -> int:
        size = min(hi - lo, block)
        expected = np.empty(size, dtype=per_group.dtype)
        bad = np.empty(size, dtype=bool)
        for start in range(lo, hi, block):
            m = min(block, hi - start)
            # codes are in range: 'clip' skips the bounds check ('raise' costs 2.5x)
            np.take(per_group, codes[start:start + m], out=expected[:m], mode="clip")
            np.not_equal(values[start:start + m], expected[:m], out=bad[:m])
            if bad[:m].any():
                return start + int(np.argmax(bad[:m]))
        return -1

    return next((row for row in row_parts(values.size, part) if row >= 0), -1)


def _count_distinct(clusters: np.ndarray, strata: np.ndarray, first: np.ndarray, *,
                    nested: bool = False, n_strata: int | None = None) -> np.ndarray:
    """Number of distinct clusters in each stratum code (``first``: the first row of each
    cluster; ``nested``: clusters are known to be nested in strata; ``n_strata``: the number
    of stratum codes, when known), as floats."""
    present = first >= 0
    if n_strata is None:
        n_strata = int(strata.max()) + 1
    if nested or (strata[first[clusters]] == strata).all():  # O(n)
        counts = np.bincount(strata[first[present]], minlength=n_strata)
    else:
        pairs = pd.DataFrame({"s": strata, "c": clusters}).drop_duplicates()
        counts = np.bincount(pairs["s"].to_numpy(), minlength=n_strata)
    return counts.astype(float)


def _popsize(col: pd.Series, strata: np.ndarray, n_sampled: np.ndarray, name: str,
             source: str) -> np.ndarray:
    """Population number of clusters per row from an fpc column (sizes or fractions)."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(float)
    if np.isnan(v).any() or (v <= 0).any():
        row = int(np.flatnonzero(np.isnan(v) | (v <= 0))[0])
        raise DesignError("fpc must be positive", where=f"{source}, row {row}, column {name}",
                          value=col.iloc[row], hint="give population sizes or sampling fractions")
    if (v != v[first_rows(strata)[strata]]).any():
        raise DesignError(
            "fpc is not constant within a stratum", where=f"{source}, column {name}",
            hint="give one population size (or fraction) per stratum",
        )
    if (v <= 1).all():
        popsize = n_sampled / v
    else:
        popsize = v
    if (popsize < n_sampled - 1e-9).any():
        row = int(np.flatnonzero(popsize < n_sampled - 1e-9)[0])
        raise DesignError(
            "fpc population size is smaller than the number of sampled units",
            where=f"{source}, row {row + 1} (1 = first data row), column {name}",
            value=col.iloc[row],
            hint="check that the fpc counts clusters of this stage in the stratum",
        )
    return popsize


def _pps_popsize(col: pd.Series, clusters: np.ndarray, first: np.ndarray,
                 n_sampled: np.ndarray, name: str, source: str) -> np.ndarray:
    """Per row the "population size" n_h / pi_i of a PPS stage (R's ``as.fpc`` with
    ``pps``): each cluster's inclusion probability pi_i, so that 1 - n_h / N = 1 - pi_i."""
    v = pd.to_numeric(col, errors="coerce").to_numpy(float)
    bad = np.isnan(v) | (v <= 0) | (v > 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DesignError("PPS inclusion probabilities must be in (0, 1]",
                          where=f"{source}, row {row}, column {name}", value=col.iloc[row],
                          hint="with pps=, fpc gives each unit's inclusion probability")
    if (v != v[first[clusters]]).any():
        row = int(np.flatnonzero(v != v[first[clusters]])[0])
        raise DesignError("inclusion probability varies within a cluster",
                          where=f"{source}, row {row}, column {name}", value=col.iloc[row],
                          hint="give each cluster one inclusion probability")
    return n_sampled / v


def _has_missing(col: pd.Series) -> bool:
    """Whether a column has a missing value (integer and boolean numpy columns cannot)."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"
    if kind in "iub":
        return False
    if kind == "f":
        values = col.to_numpy()
        return has_nan(values)
    return bool(col.isna().any())


def _missing(col: pd.Series, source: str) -> DesignError:
    """The error for a design column with a missing value, naming its first row."""
    row = int(np.flatnonzero(col.isna().to_numpy())[0])
    return DesignError(
        f"design column {col.name!r} has missing values",
        where=f"{source}, row {row + 1} (1 = first data row), column {col.name}",
        value=None,
        hint="design variables (ids, strata, weights, fpc) must be complete",
    )


def _as_float(col: pd.Series) -> np.ndarray:
    """A numeric column as a writeable float64 array (text that is not a number: NaN);
    ``np.bincount`` copies read-only weights (a copy-on-write frame's columns) at every
    call, so a float64 column is taken as a writeable view of the frame's memory
    (``grouping.writeable``: no copy; the design never writes to it)."""
    w = col.to_numpy() if col.dtype == np.float64 else \
        pd.to_numeric(col, errors="coerce").to_numpy(float)
    return writeable(w)


def _check_positive(w: np.ndarray, name: str, source: str, what: str,
                    column: pd.Series | None = None) -> None:
    """Positive, finite weights (or probabilities); ``column``: the column they were read
    from, whose missing values get their own error."""
    if w.size:
        low, high = extremes(w)  # one pass each, no temporaries
        if low > 0 and np.isfinite(high):  # type: ignore[operator]
            return
        if column is not None and np.isnan(low):
            raise _missing(column, source)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DesignError(
            f"{what} must be positive and finite ({int(bad.sum())} rows are not)",
            where=f"{source}, row {row + 1} (1 = first data row), column {name}",
            value=float(w[row]) if np.isfinite(w[row]) else str(w[row]),
            hint="fix or drop those rows before building the design",
        )
