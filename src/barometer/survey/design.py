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

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

import numpy as np
import pandas as pd

from barometer.survey.errors import DesignError
from barometer.survey.grouping import first_rows, group_codes
from barometer.survey.repweights import ReplicateWeights
from barometer.survey.steps import WeightingStep


class LonelyPSU(StrEnum):
    """What to do with a stratum that has a single PSU (R's ``survey.lonely.psu``).

    * ``fail``: raise an error naming the stratum (default);
    * ``adjust``: centre the lonely PSU at the grand mean instead of the stratum mean;
    * ``certainty``: the stratum is self-representing and contributes no variance;
    * ``remove``: the stratum contributes no variance (it is ignored).
    """

    FAIL = "fail"
    ADJUST = "adjust"
    CERTAINTY = "certainty"
    REMOVE = "remove"


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
    identifies the cluster within its stratum and all earlier stages). ``n_sampled`` is the
    number of sampled clusters in the row's stratum; ``popsize`` the population number of
    clusters in the row's stratum (``inf`` when sampling is with replacement / no fpc; then
    a read-only broadcast view). The arrays are not to be modified.
    """

    strata: np.ndarray
    clusters: np.ndarray
    n_sampled: np.ndarray
    popsize: np.ndarray

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

    def describe(self) -> str:
        parts = [
            f"clusters: {' > '.join(self.ids) if self.ids else 'none (element sampling)'}",
            f"strata: {', '.join(self.strata) if self.strata else 'none'}",
            f"weights: {self.weights or (f'1/{self.probs}' if self.probs else 'derived')}",
            f"fpc: {', '.join(self.fpc) if self.fpc else 'none (with replacement)'}",
        ]
        if self.nest:
            parts.append("nest: PSU ids unique within strata")
        parts.append(f"lonely PSU: {self.lonely_psu.value}")
        return "; ".join(parts)


@dataclass(frozen=True, eq=False)
class Design:
    """A survey design: data, weights, stages, and the weighting record.

    Build one with :meth:`Design.from_frame`. ``weights`` are the current (final) weights;
    ``weighting`` records every weighting step applied (in order: nonresponse adjustment,
    calibration, trimming), which the linearisation variance uses to take them into account
    and replicate designs re-apply to every replicate; ``replicates`` holds replicate
    weights when the design has been converted to a replicate design.
    """

    data: pd.DataFrame
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
        source: str = "data",
    ) -> Design:
        """Build a design from a data frame (R's ``svydesign``).

        ``source`` names the data in error messages (e.g. a file name).
        """
        data = data.reset_index(drop=True)
        n = len(data)
        if n == 0:
            raise DesignError("the data have no rows", where=source, hint="pass a non-empty frame")
        try:
            lonely = LonelyPSU(lonely_psu)
        except ValueError:
            raise DesignError(
                "unknown lonely PSU policy",
                value=lonely_psu,
                hint=f"use one of {[p.value for p in LonelyPSU]}",
            ) from None
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
            if _has_missing(data[col]):
                row = int(np.flatnonzero(data[col].isna().to_numpy())[0])
                raise DesignError(
                    f"design column {col!r} has missing values",
                    where=f"{source}, row {row + 1} (1 = first data row), column {col}",
                    value=None,
                    hint="design variables (ids, strata, weights, fpc) must be complete",
                )
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
        if not nest and strata_cols and id_cols:
            psu_codes = group_codes(raw_ids[0])
            first = first_rows(psu_codes, complete=True)
            # nested: every row has the stratum of its PSU's first row, so the strata are
            # coded on those first rows (one value per PSU) and spread back to the rows
            psu_stratum = raw_strata[0][first]
            split = raw_strata[0] != psu_stratum[psu_codes]
            if split.any():
                psu = raw_ids[0][first[psu_codes[split].min()]]
                raise DesignError(
                    "clusters are not nested in strata at the first stage",
                    where=f"{source}, column {id_cols[0]}",
                    value=psu,
                    hint="use nest=True if PSU ids are only unique within strata",
                )
            first_strata = group_codes(psu_stratum)[psu_codes]
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
            n_sampled = _count_distinct(c_codes, s_codes, c_first, nested=nested)
            popsize = np.broadcast_to(np.inf, (n,))  # no fpc (read-only, no memory behind)
            if k < len(fpc_cols):
                popsize = _popsize(data[fpc_cols[k]], s_codes, n_sampled, fpc_cols[k], source)
            stage = Stage(s_codes, c_codes, n_sampled, popsize)
            stage.__dict__["cluster_first"] = c_first  # seed the cached property
            stages.append(stage)
            prev_cluster = c_codes

        if weights is not None:
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
            w = np.ones(n)
            wname = "(equal weights)"
        _check_positive(w, wname, source, "weights")
        spec = DesignSpec(
            ids=tuple(id_cols), strata=tuple(strata_cols), weights=weights, probs=probs,
            fpc=tuple(fpc_cols), nest=nest, lonely_psu=lonely,
        )
        design = cls(data=data, weights=w, stages=tuple(stages), spec=spec,
                     history=(f"design: {spec.describe()}",))
        design.check_lonely_psu()
        return design

    # ------------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        return len(self.data)

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
        counts = np.bincount(st.clusters * (k + 1) + ext, minlength=st.n_clusters * (k + 1))
        return self.degf_from_counts(counts.reshape(st.n_clusters, k + 1)[:, :k])

    def degf_from_counts(self, counts: np.ndarray) -> np.ndarray:
        """Design degrees of freedom of k domains from their numbers of rows with a positive
        weight in each first-stage cluster (n_clusters x k): #PSUs - #strata present."""
        st = self.stages[0]
        present = counts > 0
        k = present.shape[1]
        # clusters are nested in first-stage strata: a stratum is present with its clusters
        stratum = st.strata[st.cluster_first]
        n_strata = int(stratum.max()) + 1
        in_stratum = np.zeros((n_strata, k), dtype=np.intp)
        np.add.at(in_stratum, stratum, present.astype(np.intp))
        return present.sum(axis=0) - (in_stratum > 0).sum(axis=0)

    def check_lonely_psu(self) -> None:
        """Raise a :class:`DesignError` naming the stratum if a stratum has one PSU and the
        policy is ``fail``."""
        if self.spec.lonely_psu is not LonelyPSU.FAIL:
            return
        for k, st in enumerate(self.stages):
            # n_sampled is constant within a stratum: first its value on one row per cluster
            if not (st.n_sampled[st.cluster_first[st.cluster_first >= 0]] == 1).any():
                continue
            single = st.n_sampled == 1
            lonely = single & ~(st.popsize == st.n_sampled)
            if k > 0:
                lonely &= self.stages[k - 1].has_fpc  # later stages only count with an fpc
            if lonely.any():
                row = int(np.flatnonzero(lonely)[0])
                label = self.spec.strata[0] if self.spec.strata and k == 0 else "stratum"
                value = self.data[self.spec.strata[0]].iloc[row] if self.spec.strata and k == 0 \
                    else int(st.strata[row])
                raise DesignError(
                    f"a stratum has only one PSU at stage {k + 1}",
                    where=f"{label} = {value!r}",
                    hint="merge it with a similar stratum, or choose lonely_psu='adjust', "
                    "'certainty' or 'remove'",
                )

    def with_weights(self, weights: np.ndarray, note: str, **changes: object) -> Design:
        """A new design with other weights (and other fields changed), recording ``note``."""
        return replace(self, weights=np.asarray(weights, float),
                       history=(*self.history, note), **changes)  # type: ignore[arg-type]

    def column(self, name: str) -> pd.Series:
        """A column of the data, with a clear error if it does not exist."""
        if name not in self.data.columns:
            raise DesignError(
                f"column {name!r} not found in the design's data",
                hint=f"available columns: {', '.join(map(str, self.data.columns[:30]))}",
            )
        return self.data[name]

    def __repr__(self) -> str:
        extra = ""
        if self.weighting:
            extra += f", weighting: {' > '.join(s.method for s in self.weighting)}"
        if self.replicates is not None:
            extra += f", {self.replicates.type} replicates x{self.replicates.n_replicates}"
        return f"Design(n={self.n}, {self.spec.describe()}{extra})"


def _count_distinct(clusters: np.ndarray, strata: np.ndarray, first: np.ndarray, *,
                    nested: bool = False) -> np.ndarray:
    """Per row: number of distinct clusters in the row's stratum (``first``: the first row
    of each cluster; ``nested``: clusters are known to be nested in strata)."""
    present = first >= 0
    n_strata = int(strata.max()) + 1
    if nested or (strata[first[clusters]] == strata).all():  # O(n)
        counts = np.bincount(strata[first[present]], minlength=n_strata)
    else:
        pairs = pd.DataFrame({"s": strata, "c": clusters}).drop_duplicates()
        counts = np.bincount(pairs["s"].to_numpy(), minlength=n_strata)
    return counts.astype(float)[strata]


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


def _has_missing(col: pd.Series) -> bool:
    """Whether a column has a missing value (integer and boolean numpy columns cannot)."""
    kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else "O"
    if kind in "iub":
        return False
    if kind == "f":
        values = col.to_numpy()
        return bool(values.size) and bool(np.isnan(values.min()))  # the min propagates NaN
    return bool(col.isna().any())


def _as_float(col: pd.Series) -> np.ndarray:
    """A numeric column as a writeable float64 array (text that is not a number: NaN);
    ``np.bincount`` copies read-only weights (a copy-on-write frame's columns) at every
    call, so they are copied once here."""
    w = col.to_numpy() if col.dtype == np.float64 else \
        pd.to_numeric(col, errors="coerce").to_numpy(float)
    return w if w.flags.writeable else w.copy()


def _check_positive(w: np.ndarray, name: str, source: str, what: str) -> None:
    if w.size and w.min() > 0 and np.isfinite(w.max()):  # one pass each, no temporaries
        return
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DesignError(
            f"{what} must be positive and finite ({int(bad.sum())} rows are not)",
            where=f"{source}, row {row + 1} (1 = first data row), column {name}",
            value=float(w[row]) if np.isfinite(w[row]) else str(w[row]),
            hint="fix or drop those rows before building the design",
        )
