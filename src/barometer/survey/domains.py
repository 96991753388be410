"""Domains and linearisable statistics: the machinery the estimators share.

A domain (``by=``) never drops rows: its influence values are zero outside the domain, so the
variance keeps the whole design (Lumley 2010, sec. 2.3). :class:`Domains` holds the domain
codes of the rows and what does not depend on the estimated variable; :class:`Linear`
computes a total, mean or ratio per domain from any weight vector or matrix, with its
influence values (Särndal, Swensson & Wretman 1992, sec. 5.5-5.9) and design effects
(Kish 1965).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from barometer.survey.design import PPS, Design, Stage
from barometer.survey.errors import EstimationError
from barometer.survey.grouping import (
    factorize_counts,
    group_matrix,
    has_nan,
    ones,
    row_parts_sum,
    scratch,
)
from barometer.survey.repweights import Layout, grouped_sums
from barometer.survey.variance import Influence


class Domains:
    """Domain membership of rows: ``codes`` in 0..k-1, or -1 (out of all domains).

    What does not depend on the estimated variable (rows and sums of weights per domain,
    the cluster x domain index of each stage, degrees of freedom, the domain indicator for
    replicate weights) is computed once here; domains are kept in the design's cache, so
    estimates of several variables on the same domains share them.
    """

    def __init__(self, codes: np.ndarray, labels: list[object], by: str | None,
                 weights: np.ndarray | None = None, stage: Stage | None = None,
                 n: np.ndarray | None = None) -> None:
        self.codes = codes
        self.labels = labels
        self.by = by
        self.weights = weights  # with a stage: positive on every row in a domain
        self.stage = stage  # the design's first stage (weights per cluster x domain)
        if n is not None:
            self.__dict__["n"] = n  # rows per domain, when already counted
        # R's svymean/svytotal for an Overton PPS design count the design's rows (its
        # nrow, the rows out of the domain included) in the design effect (design_effects)
        self.overton_rows: int | None = None
        self.index: dict[object, object] = {}  # per stage: cluster x domain index...
        self._degf: dict[int, float] = {}
        self._replicate_sums: tuple[Layout, np.ndarray] | None = None

    @property
    def k(self) -> int:
        return len(self.labels)

    @cached_property
    def ext(self) -> np.ndarray:
        """Codes with k (an extra bin, dropped) for rows out of every domain."""
        return self.codes if self.all_inside else np.where(self.codes >= 0, self.codes, self.k)

    @cached_property
    def clusters(self) -> np.ndarray | None:
        """Sums of weights per first-stage cluster x domain (n_clusters x k), which the
        variance reuses. Weights are positive on the domains' rows, so a cluster has rows in
        a domain exactly where its sum is positive (the degrees of freedom). Made by the
        first pass over the rows (:meth:`_sweep`): alone, or with the first estimate's
        sums (:meth:`centred_sums`)."""
        if self.stage is None or self.weights is None:
            return None
        self._sweep(None, 0.0)
        return self.__dict__["clusters"]

    def centre(self, y: np.ndarray) -> float:
        """A centre of ``y`` on the domains' rows: the mean of (up to) their first 1,024."""
        if self.__dict__.get("all_inside"):  # known without a look at the codes
            c = float(np.mean(y[:1024])) if y.size else 0.0
            return c if np.isfinite(c) else 0.0
        head = self.codes[:4096] >= 0
        rows = np.flatnonzero(head)[:1024] if head.any() else \
            np.flatnonzero(self.codes >= 0)[:1024]
        c = float(np.mean(y[rows])) if rows.size else 0.0
        return c if np.isfinite(c) else 0.0

    @cached_property
    def inside(self) -> np.ndarray:
        """Rows in a domain."""
        return self.codes >= 0

    @cached_property
    def all_inside(self) -> bool:
        return bool(self.inside.all())

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-domain sums (``np.bincount``; a single domain: ``np.sum``, which adds in
        pairs, where all rows add to the same total); values of rows out of every domain
        are ignored."""
        if self.k == 1:
            if self.all_inside:
                return np.array([np.sum(values)])
            return np.array([np.sum(values, where=self.inside)])
        return np.bincount(self.ext, weights=values, minlength=self.k + 1)[: self.k]

    def dot(self, a: np.ndarray, b: np.ndarray, shift: float = 0.0) -> np.ndarray:
        """Per-domain sums of a_i (b_i - shift), without an n-row product in memory: one
        ``np.einsum`` for a single domain holding every row (and no shift: numpy's own loop,
        not a BLAS dot, whose threads wait for busy cores), else blocks of rows whose sums
        are added (values of rows out of every domain are ignored)."""
        k, n = self.k, a.size
        if k == 1 and self.all_inside and not shift:
            return np.array([np.einsum("i,i->", a, b)])
        out = np.zeros(k)
        block = 1 << 16
        for start in range(0, n, block):
            part = slice(start, start + block)
            values = b[part] - shift if shift else b[part].copy()
            values *= a[part]
            if k == 1:
                out[0] += np.sum(values) if self.all_inside else \
                    np.sum(values, where=self.inside[part])
            else:
                out += np.bincount(self.ext[part], weights=values, minlength=k + 1)[:k]
        return out

    def centred_sums(self, y: np.ndarray, c: float, n_clusters: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """For the domains' own weights w and the first stage: the cluster x domain totals
        of w_i (y_i - c) (n_clusters x k) and the per-domain sums of w_i (y_i - c)^2, in one
        pass over blocks of rows (:meth:`_sweep`; values of rows out of every domain are
        ignored)."""
        assert self.stage is not None and n_clusters == self.stage.n_clusters
        out = self._sweep(y, c)
        assert out is not None
        return out

    def _sweep(self, y: np.ndarray | None, c: float
               ) -> tuple[np.ndarray, np.ndarray] | None:
        """One pass over the rows, with no n-row array: the cluster x domain totals of
        w (y - c) and the domains' sums of w (y - c)^2 (with ``y``), and, the first time,
        the weights' totals per cluster x domain and the domains' sums of w^2 (kept as
        ``clusters`` and ``sum_w2``), the rows' columns being read once for both.

        A cell is cluster (k + 1) + domain (column k collects the rows out of every
        domain); a single domain holding every row has the clusters as cells. Each part of
        the rows (:func:`grouping.row_parts_sum`: two halves on two threads) codes its
        cells in a buffer, makes its matrix G[cell_i, i] = w_i once
        (:func:`grouping.group_matrix`) and gets every sum as a product of G: G 1
        (weights), G w (squared weights), G (y - c) and G (y - c)^2, the last two summed
        over the clusters to the domains (for a single domain, sums of w^2 and
        w (y - c)^2 as dot products)."""
        st, w, k = self.stage, self._weights(), self.k
        assert st is not None
        single = k == 1 and self.all_inside
        width = 1 if single else k + 1
        n_cells = st.n_clusters * width
        if n_cells >= 2**31:  # beyond int32 codes (and 16 GiB of sums per column)
            raise EstimationError(f"too many cluster x domain cells ({n_cells:,})",
                                  where=f"by={self.by}", hint="estimate on fewer domains "
                                  "at a time (a domain= subpopulation, or fewer by= columns)")
        ext = None if single else self.ext
        weights_too = "clusters" not in self.__dict__

        def work(lo: int, hi: int) -> list[np.ndarray]:
            # the part's cells as int32 (no n-row array is kept or made)
            cells = scratch(hi - lo, np.int32)
            if ext is None:
                np.copyto(cells, st.clusters[lo:hi], casting="unsafe")
            else:
                np.multiply(st.clusters[lo:hi], width, out=cells, casting="unsafe")
                np.add(cells, ext[lo:hi], out=cells, casting="unsafe")
            wb = w[lo:hi]
            g = group_matrix(cells, n_cells, wb)
            out = []
            if weights_too:
                out += [g @ ones(hi - lo),
                        np.array([np.einsum("i,i->", wb, wb)]) if single else g @ wb]
            if y is not None:
                t = np.subtract(y[lo:hi], c, out=scratch(hi - lo))
                out.append(g @ t)
                t *= t
                out.append(np.array([np.einsum("i,i->", wb, t)]) if single else g @ t)
            return out

        sums = row_parts_sum(w.size, work)

        def per_domain(cell_sums: np.ndarray) -> np.ndarray:
            return cell_sums if single else cell_sums.reshape(-1, width)[:, :k].sum(axis=0)

        if weights_too:
            wsum, w2 = sums[0], sums[1]
            sums = sums[2:]
            if single:
                self.index[0] = (st.clusters, 1)
            # contiguous (the variance's cluster-level arithmetic is faster on it)
            kept = np.ascontiguousarray(wsum.reshape(st.n_clusters, width)[:, :k])
            self.index[("base", 0)] = (w, kept)  # the variance's totals of w
            self.__dict__["clusters"] = kept
            self.__dict__["sum_w2"] = per_domain(w2)
        if y is None:
            return None
        return (np.ascontiguousarray(sums[0].reshape(st.n_clusters, width)[:, :k]),
                per_domain(sums[1]))

    def _weights(self) -> np.ndarray:
        assert self.weights is not None
        return self.weights

    @cached_property
    def n(self) -> np.ndarray:
        """Rows per domain."""
        if self.k == 1:
            return np.array([self.codes.size if self.all_inside
                             else np.count_nonzero(self.inside)])
        return np.bincount(self.ext, minlength=self.k + 1)[: self.k]

    @cached_property
    def sum_w(self) -> np.ndarray:
        if self.clusters is not None:
            return self.clusters.sum(axis=0)
        return self.sums(self._weights())

    @cached_property
    def sum_w2(self) -> np.ndarray:
        """Sums of w^2 per domain (Kish's n_eff); made with ``clusters`` (:meth:`_sweep`)
        when the domains have a stage."""
        if self.clusters is not None:
            return self.__dict__["sum_w2"]
        w = self._weights()
        return self.dot(w, w)

    def replicate_products(self, w: Layout, values: Sequence[np.ndarray]
                           ) -> list[np.ndarray]:
        """Per-domain sums of the replicate weights ``w`` (n x R) weighted by each of
        ``values`` (a k x R matrix each: sum_i 1{i in d} v_i w_ir), with the sums of ``w``
        itself (kept, see :meth:`replicate_sums`) when not yet known: all of them from one
        :func:`grouped_sums` (one product that reads ``w`` once for every variable and
        the denominators, never copying it)."""
        hit = self._replicate_sums
        need_sums = hit is None or hit[0] is not w
        cols: list[np.ndarray | None] = ([None] if need_sums else []) + list(values)
        if not cols:
            return []
        out = grouped_sums(w, self.codes, self.k, cols)
        if need_sums:
            self._replicate_sums = (w, out[0])
            return list(out[1:])
        return list(out)

    def replicate_sums(self, w: Layout) -> np.ndarray:
        """Sums of the weight matrix ``w`` (n x R) per domain (k x R), kept for ``w``."""
        hit = self._replicate_sums
        if hit is None or hit[0] is not w:
            self.replicate_products(w, [])
            hit = self._replicate_sums
        assert hit is not None
        return hit[1]

    def degf(self, design: Design) -> np.ndarray:
        """Design degrees of freedom of every domain (R's ``degf`` of the domain's subset):
        one ``np.bincount`` for a linearisation design, the rank of each domain's replicate
        weights for a replicate design (computed on two threads)."""
        if not self._degf:
            if design.replicates is None:
                values = (design.domain_degf(self.codes, self.k) if self.clusters is None
                          else design.degf_from_counts(self.clusters > 0)).tolist()
            elif self.k == 1:
                values = [design.degf(self.codes == 0)]
            else:
                positive = design.weights > 0
                masks = [(self.codes == j) & positive for j in range(self.k)]
                values = [r - 1 for r in design.replicates.ranks_of(masks)]
            self._degf.update(enumerate(values))
        return np.array([float(self._degf[j]) for j in range(self.k)])


def numeric_column(design: Design, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values (a float64 column as it is,
    without a copy, kept in the design's cache)."""
    key = ("float64", name)
    hit = design.cache.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]
    col = design.column(name)
    if col.dtype == np.float64:
        view = design.cache[key] = col.to_numpy()
        return view
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        conv = pd.to_numeric(col, errors="coerce")
        if conv.notna().sum() < col.notna().sum():
            bad = col[conv.isna() & col.notna()].iloc[0]
            raise EstimationError(
                f"column {name!r} is not numeric", where=f"column {name}", value=bad,
                hint="use stat='proportion' for a categorical variable",
            )
        col = conv
    return col.to_numpy(dtype=float, na_value=np.nan)


def column_has_nan(design: Design, name: str, values: np.ndarray) -> bool:
    """:func:`has_nan` of the design's column ``name`` (its ``values``), kept in the cache:
    the design's data never change, so each column is scanned once."""
    key = ("has_nan", name)
    hit = design.cache.get(key)
    if hit is None:
        hit = design.cache[key] = has_nan(values)
    return bool(hit)


def factor_codes(design: Design, by: str) -> tuple[np.ndarray, list[object], np.ndarray]:
    """Codes of a domain column (-1: missing), its distinct values and their numbers of
    rows, kept in the cache."""
    key = ("factor", by)
    hit = design.cache.get(key)
    if hit is None:
        col = design.column(by)
        # a text column (arrow-backed strings) is factorised as it is: converting it to a
        # numpy object array first costs more than the factorisation
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu":
            codes, uniques, counts = factorize_counts(col.to_numpy())
            hit = (codes, uniques.tolist(), counts)
        else:
            codes, uniq = pd.factorize(col)
            codes = codes.astype(np.intp, copy=False)
            hit = (codes, pd.Index(uniq).tolist(),
                   np.bincount(codes + 1, minlength=len(uniq) + 1)[1:])
        design.cache[key] = hit
    return hit  # type: ignore[return-value]


By = str | Sequence[str] | None


def by_name(by: By) -> str | None:
    """The name of a domain specification: the column, or the columns joined with ``|``."""
    if by is None or isinstance(by, str):
        return by
    return "|".join(by)


def label_text(value: object) -> str:
    """A domain value as text, as R writes it (integral numbers without a decimal point)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    return str(value)


def combined_codes(design: Design, by: Sequence[str]
                   ) -> tuple[np.ndarray, list[object], np.ndarray]:
    """Codes of the combinations of several domain columns present in the data (-1: a
    missing value in any of them), the combinations (tuples of values) and their numbers of
    rows, kept in the cache. The codes of the columns are combined arithmetically and the
    combinations present found by ``np.bincount`` (or ``np.unique`` when the product of
    the numbers of levels is large), so the cost is O(n)."""
    key = ("combined", tuple(by))
    hit = design.cache.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]
    parts = [factor_codes(design, b) for b in by]
    combined = np.zeros(design.n, dtype=np.int64)
    missing = np.zeros(design.n, dtype=bool)
    size = 1
    for codes, uniques, _ in parts:
        missing |= codes < 0
        combined = combined * max(len(uniques), 1) + np.maximum(codes, 0)
        size *= max(len(uniques), 1)
    combined[missing] = -1
    ok = ~missing
    if size <= 4 * design.n + 65536:
        counts = np.bincount(combined[ok], minlength=size)
        present = np.flatnonzero(counts)
        lookup = np.full(size, -1, dtype=np.intp)
        lookup[present] = np.arange(present.size)
        out = np.full(design.n, -1, dtype=np.intp)
        out[ok] = lookup[combined[ok]]
        n = counts[present]
    else:
        present, inverse, n = np.unique(combined[ok], return_inverse=True,
                                        return_counts=True)
        out = np.full(design.n, -1, dtype=np.intp)
        out[ok] = inverse
    labels: list[object] = []
    radices = [max(len(u), 1) for _, u, _ in parts]
    for value in present.tolist():
        digits = []
        for r in reversed(radices):
            digits.append(value % r)
            value //= r
        labels.append(tuple(parts[i][1][d] for i, d in enumerate(reversed(digits))))
    hit = (out, labels, np.asarray(n))
    design.cache[key] = hit
    return hit


def domains(design: Design, valid: np.ndarray | None, by: By) -> Domains:
    """The domains of ``by`` (a column, or several: the combinations of their values
    present, labelled by the values joined with ``|``) among the ``valid`` rows, cached in
    the design per column and set of valid rows. ``valid`` must leave out the rows without a
    positive weight (None: all rows, whose weights are then all positive)."""
    if by is not None and not isinstance(by, str):
        by = list(by)
        if len(by) == 1:
            by = by[0]
        elif not by:
            by = None
    by = tuple(by) if isinstance(by, list) else by
    # the first stage's cluster x domain sums serve the linearised variance and its
    # degrees of freedom: a replicate design does not use them, and for a design of
    # elements (one row per cluster) they would be an n x k array (its variance and
    # degrees of freedom are computed from the rows, see variance._element_stage)
    first = design.stages[0]
    stage = None if design.replicates is not None or first.elements else first
    all_valid = valid is None or bool(valid.all())
    packed = None if all_valid else np.packbits(valid).tobytes()
    key = ("domains", by, None if packed is None else hash(packed))
    hit = design.cache.get(key)
    if hit is not None and hit[0] == packed:  # type: ignore[index]
        return hit[1]  # type: ignore[index]
    if by is None:
        if valid is not None and not valid.any():
            raise EstimationError("no rows with a non-missing value and a positive weight",
                                  hint="check the variable and the design's weights")
        # every row in the one domain: a read-only view of zeros, with no memory behind it
        codes = np.broadcast_to(np.intp(0), (design.n,)) if all_valid \
            else np.where(valid, 0, -1)
        dom = Domains(codes, [None], None, design.weights, stage)
        if all_valid:  # known without a pass over the rows
            dom.__dict__["all_inside"] = True
    else:
        codes_all, uniques, level_n = (factor_codes(design, by) if isinstance(by, str)
                                       else combined_codes(design, by))
        if valid is None or all_valid:
            cand = codes_all
        else:
            cand = np.where(valid, codes_all, -1)
            level_n = np.bincount(cand + 1, minlength=len(uniques) + 1)[1:]
        present = np.flatnonzero(level_n)
        if not present.size:
            raise EstimationError("every domain is empty", where=f"by={by}",
                                  hint="check the domain variable and missing values")
        order = sorted(range(present.size), key=lambda j: sort_key(uniques[present[j]]))
        labels = [uniques[present[j]] for j in order]
        if not isinstance(by, str):
            labels = ["|".join(label_text(v) for v in lab) for lab in labels]  # type: ignore[attr-defined]
        if present.size == len(uniques) and order == list(range(present.size)) \
                and (present == np.arange(present.size)).all():
            codes = cand
        else:
            remap = np.full(len(uniques) + 1, -1, dtype=np.intp)
            remap[present[order] + 1] = np.arange(present.size)
            codes = remap[cand + 1]
        dom = Domains(codes, labels, by_name(by), design.weights, stage,
                      n=level_n[present[order]])
        if int(level_n.sum()) == design.n:  # every row in a domain: known without a pass
            dom.__dict__["all_inside"] = True
    if design.spec.pps is PPS.OVERTON:
        dom.overton_rows = design.n
    if len(design.cache) > 64:  # bound the memory kept by a long-lived design
        design.cache.clear()
    design.cache[key] = (packed, dom)
    return dom


def level_match(col: pd.Series, level: object) -> pd.Series:
    """Rows where ``col == level``; a numeric column is compared as numbers (so the level
    ``"1"`` read from a text file matches 1 and 1.0), anything else as text."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        try:
            return col == float(level)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    return col.astype(str) == str(level)


def sort_key(v: object) -> tuple[int, object]:
    """Numbers before text, numbers by value, text as text; a tuple by its components."""
    if isinstance(v, tuple):
        return (2, tuple(sort_key(x) for x in v))
    return (0, v) if isinstance(v, int | float | np.number) else (1, str(v))


@dataclass(frozen=True)
class Linear:
    """A linearisable statistic: per-domain estimates from any weight matrix, and influence.

    ``y`` (and ``x``) may hold anything on rows out of every domain: those rows are ignored.
    """

    kind: str
    y: np.ndarray
    x: np.ndarray | None
    dom: Domains

    def point(self, w: Layout, numerator: np.ndarray | None = None) -> np.ndarray:
        """Estimates (k,) for weights (n,), or (k, R) for replicate weights (n, R, as a
        matrix or factored); ``numerator``: the domain sums of w y for the replicate
        weights, when already computed (:meth:`Domains.replicate_products` for several
        variables at once)."""
        dom = self.dom
        if self.kind == "var":
            return self._variance(w)
        if isinstance(w, np.ndarray) and w.ndim == 1:
            ty = dom.sums(w * self.y)
            if self.kind == "total":
                return ty
            td = dom.sums(w * self.x) if self.kind == "ratio" else dom.sums(w)
            with np.errstate(invalid="ignore", divide="ignore"):
                return ty / td
        # replicate weights: the domain sums of every column (and of the weights, kept)
        # are one sparse product (stacked domain indicator holding y, x, 1) @ (n x R)
        if self.kind == "ratio":
            assert self.x is not None
            ty, td = dom.replicate_products(w, [self.y, self.x])
        else:
            if numerator is None:
                numerator = dom.replicate_products(w, [self.y])[0]
            ty = numerator
            if self.kind == "total":
                return ty
            td = dom.replicate_sums(w)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ty / td

    def _variance(self, w: Layout) -> np.ndarray:
        """R's ``svyvar`` per domain for weights (n,) or (n, R): with v = y - c (c a centre),
        (sum w v^2 / sum w - (sum w v / sum w)^2) n / (n - 1), n the domain's rows."""
        dom = self.dom
        y = np.where(dom.inside, self.y, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):  # the full-sample means
            centre = dom.sums(dom._weights() * y) / dom.sum_w
        v = np.where(dom.inside, y - np.append(centre, 0.0)[dom.ext], 0.0)
        single = isinstance(w, np.ndarray) and w.ndim == 1
        if single:
            s0, s1, s2 = dom.sums(w), dom.sums(w * v), dom.sums(w * v * v)
        else:
            s1, s2 = dom.replicate_products(w, [v, v * v])
            s0 = dom.replicate_sums(w)
        n = dom.n.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = n / (n - 1)
            m = s1 / s0
            out = s2 / s0 - m * m
            return out * (factor if single else factor[:, None])

    def influence(self, w: np.ndarray, est: np.ndarray) -> Influence:
        """Influence values: w y (total), w (y - m) / sum w (mean), w (y - R x) / sum w x
        (ratio) on the domain's rows; the division is applied to the cluster totals."""
        return self.fit(w, est=est)[1]

    def fit(self, w: np.ndarray, *, est: np.ndarray | None = None,
            stage: Stage | None = None, share: tuple[dict[object, object], str] | None = None
            ) -> tuple[np.ndarray, Influence, np.ndarray]:
        """Estimates, influence values and the sums of squares of the design effect,
        sum_i w_i (r_i - rbar)^2 per domain (r the deff's variable, see ``design_effects``).

        A mean or total is computed on y - c, c a centre of y (the mean of its first rows):
        sum w (y - m)^2 = sum w (y - c)^2 - (m - c)^2 sum w, and the influence values
        w (y - m) = w (y - c) - (m - c) w, so a few passes over the rows give all three
        without cancellation. With ``stage`` (a linearisation design without weighting
        steps), the cluster x domain totals of that first stage also give the estimates;
        ``share`` (the design's cache and the name of the column ``y`` holds, every row
        valid) shares them between the estimates of that column (:func:`shared_sums`).
        """
        dom = self.dom
        own = w is dom.weights
        if self.kind == "ratio":
            return self._fit_ratio(w, dom.sum_w if own else dom.sums(w), est, own)
        c0 = dom.centre(self.y)
        y = self.y
        totals = None
        if est is None and stage is not None and dom.stage is not None and own:
            # one pass in blocks of rows: the cluster x domain totals of w (y - c) and the
            # sums of w (y - c)^2, with no n-row array; the influence values themselves are
            # made only if a later stage or a weighting step asks for them
            cluster_totals, ssq_c = (
                shared_sums(share[0], share[1], dom, y, c0, stage.n_clusters) if share
                else dom.centred_sums(y, c0, stage.n_clusters))
            totals = {0: cluster_totals}
            tv = cluster_totals.sum(axis=0)
            values = None

            def lazy() -> np.ndarray:
                wv = y - c0
                wv *= w
                return wv
        else:
            values = y - c0  # the only n-row array made here: w (y - c)
            values *= w
            lazy = None  # type: ignore[assignment]
            if est is None:
                tv = dom.sums(values)
            ssq_c = None
        # after the pass above: its first pass on the domains also sums the weights
        sw = dom.sum_w if own else dom.sums(w)
        if est is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                # a total as the plain sum of w y (R's colSums): exact, e.g. 0 for a domain
                # of zeros, where tv + c0 sum(w) would leave a rounding residue
                est = dom.sums(w * y) if self.kind == "total" else c0 + tv / sw
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = est / sw if self.kind == "total" else est
            delta = mean - c0
            if ssq_c is None:
                assert values is not None
                ssq_c = dom.dot(values, y, c0)
            ssq = ssq_c - delta * delta * sw
            index = dom.index if own else None
            if self.kind == "total":  # z = w y = w (y - c) + c w
                infl = Influence.compact(values, dom.codes, dom.k, offset=np.full(dom.k, -c0),
                                         base=w, index=index, totals=totals, lazy=lazy)
            else:
                infl = Influence.compact(values, dom.codes, dom.k, offset=delta, base=w,
                                         scale=1.0 / sw, index=index, totals=totals,
                                         lazy=lazy)
        return est, infl, ssq

    def _fit_ratio(self, w: np.ndarray, sw: np.ndarray, est: np.ndarray | None, own: bool
                   ) -> tuple[np.ndarray, Influence, np.ndarray]:
        assert self.x is not None
        dom = self.dom
        td = dom.sums(w * self.x)
        if est is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                est = dom.sums(w * self.y) / td
            est = np.where(td == 0, np.nan, est)  # no ratio: its denominator totals zero
        with np.errstate(invalid="ignore", divide="ignore"):
            u = self.y - np.append(est, 0.0)[dom.ext] * self.x
            wu = w * u
            # a zero denominator (no ratio, NaN): no influence, rather than inf x 0
            infl = Influence.compact(wu, dom.codes, dom.k,
                                     scale=np.where(td != 0, 1.0 / td, 0.0),
                                     index=dom.index if own else None)
            # r = u / X, rbar = sum w r / sum w
            a = dom.sums(wu)
            ssq = (dom.sums(wu * u) - a * a / sw) / (td * td)
        return est, infl, ssq


def shared_sums(cache: dict[object, object], name: str, dom: Domains, y: np.ndarray,
                c: float, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Domains.centred_sums` of the design's column ``name`` (values ``y``, every row
    valid, the design's own weights), shared by the estimates of that column.

    The sums are kept in the design's cache (``cache``) with the cluster x domain cells they
    were computed on. An overall estimate (one domain holding every row) reads them summed
    over the domains: the totals per cluster are the sums of its cells, the sum of squares
    the sum of the domains' (the same centre ``c``: the mean of the first rows). The
    domains of a by-domain estimate that hold every row become the design's finest
    domains; an overall estimate of a column not yet summed is then computed on their
    cells (one pass over the rows, as on the clusters alone, with more cells), so that the
    estimate of the same column by those domains, which usually follows, reads the sums
    instead of passing over the rows again. Only few cells are kept (at most a quarter of
    the rows' number: a design with clusters, not one of elements, whose cells would
    hold a column's worth of memory per variable)."""
    key = ("sums", name)
    overall = dom.k == 1 and dom.all_inside
    if n_clusters * (dom.k + 1) > y.size // 4:  # cells too many to keep
        return dom.centred_sums(y, c, n_clusters)
    hit = cache.get(key)
    if hit is not None and hit[1] == c:  # type: ignore[index]
        fine, _, totals, ssq = hit  # type: ignore[misc]
        if fine is dom:
            return totals, ssq
        if overall:
            return totals.sum(axis=1, keepdims=True), ssq.sum(keepdims=True)
    if overall:
        fine = cache.get("finest")
        if fine is None:
            return dom.centred_sums(y, c, n_clusters)
    elif dom.all_inside:
        fine = cache["finest"] = dom
    else:
        return dom.centred_sums(y, c, n_clusters)
    totals, ssq = fine.centred_sums(y, c, n_clusters)  # type: ignore[union-attr]
    cache[key] = (fine, c, totals, ssq)
    if fine is dom:
        return totals, ssq
    return totals.sum(axis=1, keepdims=True), ssq.sum(keepdims=True)


def design_effects(dom: Domains, kind: str, ssq: np.ndarray, var: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """R's deff (SRS without replacement) and the with-replacement version, per domain:
    s^2 = sum w (r - rbar)^2 / sum w * n / (n - 1), r = y, or (y - R x) / X for a ratio.

    For an Overton PPS design, R's ``svytotal.pps`` and ``svymean.pps`` define them
    otherwise, and barometer follows so that the numbers agree: with n the design's number
    of rows (out-of-domain rows included), a total's deff is V / (s^2 N^2) (no division
    by n) and its ``replace`` version V / (s^2 N (N - n)); a mean's uses n in place of the
    domain's rows."""
    n = dom.n.astype(float)
    big_n = dom.sum_w
    with np.errstate(invalid="ignore", divide="ignore"):
        s2 = ssq / big_n * n / (n - 1)
        if dom.overton_rows is not None:
            rows = float(dom.overton_rows)
            if kind == "total":
                return var / (s2 * big_n**2), var / (s2 * big_n * (big_n - rows))
            if kind == "mean":
                v_wor = np.where(big_n >= rows, s2 * (big_n - rows) / (big_n * rows), np.nan)
                return var / v_wor, var / (s2 / rows)
        factor = big_n**2 if kind in ("total", "ratio") else np.ones_like(big_n)
        v_wr = s2 * factor / n
        v_wor = np.where(big_n >= n, v_wr * (big_n - n) / big_n, np.nan)
        return var / v_wor, var / v_wr


def resolve_df(design: Design, df: str | float, rows: np.ndarray | None) -> float:
    if isinstance(df, str):
        if df == "inf":
            return float("inf")
        if df == "design":
            return float(design.degf(rows))
        raise EstimationError("unknown df", value=df, hint="use 'inf', 'design' or a number")
    return float(df)


def method_name(design: Design) -> str:
    if design.replicates is not None:
        return f"replicates ({design.replicates.type})"
    if design.weighting:
        return "linearization (weighting residuals)"
    return "linearization"
