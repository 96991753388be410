"""Stage *calibrate*: the calibration record kept in a design.

The record stores what the variance needs to account for a calibration: the auxiliary
matrix ``X`` (one column per calibration constraint), the weights before calibration ``d``
and the g-weights ``g`` (final weight = g * d). Influence values are replaced by the
residuals of their regression on ``X`` weighted by ``d``, scaled back by the final weights:

    e = g d (z - X b),   b = (X' D X)^-1 X' D z,   z = influence / (g d)

(Deville & Särndal 1992, eq. 3.4; Särndal, Swensson & Wretman 1992, result 6.6.1; R's
``calibrate`` stores ``qr(X sqrt(d))`` and ``g sqrt(d)`` and ``svyrecvar`` applies
``qr.resid`` exactly so; barometer computes the same projection on the cells of ``X``,
see :meth:`CalibrationRecord.residuals`). Post-stratification is the case where ``X``
holds cell indicators.

The calibration equations depend on a row only through its auxiliary values x_i and its
weight d_i, so ``X`` is kept as its distinct rows (:class:`Auxiliary`: m cells x p columns
and each row's cell): X'd is a ``np.bincount`` over cells, and the Newton iterations run on
the m cells with the summed weights (a few hundred rows for categorical margins, whatever
the sample size); a replicate design sums its replicate weights per cell with one sparse
product and solves each replicate on the cells, the replicates side by side (the Newton
steps of all of them from one product and one stacked pseudo-inverse per iteration).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import linalg

from barometer.survey.errors import CalibrationError
from barometer.survey.grouping import factorize, factorize_counts, first_rows
from barometer.survey.gweights import METHODS, solve_g, solve_g_columns
from barometer.survey.repweights import Factored, Layout, grouped_sums, one_blas_thread

if TYPE_CHECKING:
    from barometer.survey.design import Design


@dataclass(frozen=True, eq=False)
class CalibrationRecord:
    """One calibration applied to a design (kept so variances account for it)."""

    method: str
    aux: Auxiliary
    names: tuple[str, ...]
    d: np.ndarray
    g: np.ndarray
    population: np.ndarray
    margins: Margins | None = None
    bounds: tuple[float, float] = (-np.inf, np.inf)
    trim: tuple[float, float] | None = None
    iterations: int = 0
    tol: float = 1e-7
    max_iter: int = 50
    details: dict[str, object] = field(default_factory=dict)

    @cached_property
    def _cell_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """An orthonormal basis of the column space of B = diag(sqrt(D)) C (m x p: the cells
        C with D the sums of d per cell; pivoted QR, R's rank rule) and 1 / sqrt(D) (0 for
        a cell without weight).

        X sqrt(d) = M B with M = diag(sqrt(d_i / D_c(i))) E (E the n x m cell indicator)
        and M'M = I, so the projection onto the column space of X sqrt(d) is M Q Q' M',
        Q the basis of B, and both have the same Gram matrix (the same pivoted R factor,
        hence the same rank): the n x p QR that R's ``calibrate`` stores is never formed."""
        dc = self.aux.collapse(self.d)
        root = np.sqrt(dc)
        q, r, _ = linalg.qr(self.aux.cells * root[:, None], mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > 1e-7 * diag[0]).sum()) if diag.size else 0
        inv = np.divide(1.0, root, out=np.zeros_like(root), where=root > 0)
        return q[:, :rank], inv

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Calibration residuals of influence values ``z`` (n x k), as in the docstring:
        with y = z / (g sqrt(d)) and the projection M Q Q' M' of :attr:`_cell_basis`,
        e = (y - M Q Q' M' y) g sqrt(d) = z - g d u[cell], u = Q Q' (s / sqrt(D)) / sqrt(D),
        s the sums of z / g per cell: one pass over the rows to sum, one to subtract."""
        q, inv = self._cell_basis
        g = self.g
        codes, m = self.aux.codes, inv.size
        # s: one sparse product with 1 / g as the data (no n x k quotient is made)
        s = grouped_sums(z, codes, m, [np.divide(1.0, g, out=np.zeros_like(g), where=g != 0)])
        v = s[0].reshape(m, -1) * inv[:, None]
        u = (q @ (q.T @ v)) * inv[:, None]
        out = np.take(u, codes, axis=0)  # the one n x k array made: -g d u[cell] + z
        out *= -(g * self.d)[:, None]
        out += z
        return out

    @cached_property
    def bound_groups(self) -> Auxiliary:
        """Rows grouped by cell and by starting weight ``d``: rows of a group get the same
        g-weight even under trimming bounds, which bound g by (cap / d_i)."""
        return self.aux.split(self.d)

    def reapply(self, weights: Layout) -> Layout:
        """The same calibration applied to other starting weights (n,) or (n, R): how
        replicate weights are re-calibrated (each replicate column is solved on its own, on
        the cells of the auxiliary matrix; replicates without trimming or dropped
        constraints are iterated side by side, see :func:`solve_g_columns`). Factored
        replicate weights stay factored: their sums per cell come from the factors, and
        the result is the same factors times the cells' g-weights."""
        vector = isinstance(weights, np.ndarray) and weights.ndim == 1
        w2 = weights[:, None] if vector else weights
        groups = self.aux if self.trim is None else self.bound_groups
        sums = groups.collapse(w2)  # m x R: the replicate weights summed per cell
        x = groups.cells
        d_group = groups.first_values(self.d) if self.trim is not None else None
        n_rep = sums.shape[1]
        g, relaxed, dropped, r = self._solve_columns(x, sums, d_group)
        if r >= 0:
            raise CalibrationError(f"the calibration of replicate {r + 1} did not converge",
                                   where=f"replicate {r + 1}",
                                   hint="collapse sparse categories or widen the bounds")
        if relaxed:
            warnings.warn(f"{relaxed} of {n_rep} replicates could not meet the trimming "
                          "bounds and were calibrated without them", stacklevel=2)
        if dropped:
            warnings.warn(f"{dropped} calibration constraints were dropped in replicates that "
                          "had no unit in the cell", stacklevel=2)
        if isinstance(w2, Factored):
            return w2.times(groups.codes, g)
        out = np.take(g, groups.codes, axis=0)  # one n x R array, multiplied in place
        out *= w2
        return out[:, 0] if vector else out

    def _solve_columns(self, x: np.ndarray, sums: np.ndarray, d_group: np.ndarray | None
                       ) -> tuple[np.ndarray, int, int, int]:
        """g-weights of the cells for each column of ``sums`` (starting weights summed per
        cell); with the counts of relaxed replicates and dropped constraints and the first
        column that does not converge (-1: none). On one BLAS thread: the products are tiny,
        and BLAS threads woken by them keep spinning and slow the next parallel work."""

        with one_blas_thread():
            return self._solve_each(x, sums, d_group)

    def _solve_each(self, x: np.ndarray, sums: np.ndarray, d_group: np.ndarray | None
                    ) -> tuple[np.ndarray, int, int, int]:
        if self.trim is not None:
            active = self.d > 0
            m = float((self.d * self.g)[active].mean())
        g = np.empty_like(sums)
        # a replicate with no unit in a calibration cell cannot meet that margin: the
        # constraint is dropped for that replicate (R's grake would stop short of
        # convergence and keep going); the count is reported
        keeps = (x.T @ sums != 0) | (self.population == 0)[:, None]
        done = np.zeros(sums.shape[1], dtype=bool)
        together = keeps.all(axis=0) if self.trim is None else done
        if together.sum() > 1 and x.size * x.shape[1] <= 4_000_000:
            # replicates with every constraint and no trimming: solved side by side
            g[:, together], done[together] = solve_g_columns(
                x, sums[:, together], self.population, self.method, self.bounds,
                tol=self.tol, max_iter=self.max_iter)
        relaxed = dropped = 0
        for r in range(sums.shape[1]):
            col = sums[:, r]
            keep = keeps[:, r]
            if done[r]:
                continue
            dropped += int((~keep).sum())
            aux, pop = (x, self.population) if keep.all() else \
                (x[:, keep], self.population[keep])
            # trimming: the full sample's caps times the number of copies of each unit
            limits = None if d_group is None or self.trim is None \
                else _copies_bounds(self.trim, m, col, d_group)
            sol = solve_g(aux, col, pop, self.method, self.bounds,
                          tol=self.tol, max_iter=self.max_iter, weight_bounds=limits)
            if not sol.converged and limits is not None and self.method == "raking":
                # as when trimming the full sample: capped raking can cycle
                sol = solve_g(aux, col, pop, "truncated", self.bounds,
                              tol=self.tol, max_iter=self.max_iter, weight_bounds=limits)
            if not sol.converged and limits is not None:
                # a replicate that leaves out most units of a cell cannot meet the trimming
                # caps: it is calibrated without them (trimming only reduces variance)
                relaxed += 1
                sol = solve_g(aux, col, pop, self.method, self.bounds,
                              tol=self.tol, max_iter=self.max_iter)
            if not sol.converged:
                return g, relaxed, dropped, r
            g[:, r] = sol.g
        return g, relaxed, dropped, -1


def _copies_bounds(trim: tuple[float, float], m: float, start: np.ndarray, d: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Trimming bounds on the final weights of ``start`` (per unit).

    The bounds are multiples ``trim`` of the full sample's mean final weight m; a replicate
    unit that stands for f copies of a sampled unit (f = replicate / full-sample starting
    weight ``d``: 0, or the bootstrap multiplicity, or n/(n-1)...) is bounded by f times
    them, so each copy meets the same bounds as in the full sample.
    """
    f = np.divide(start, d, out=np.zeros_like(start), where=d > 0)
    return trim[0] * m * f, trim[1] * m * f


@dataclass(frozen=True, eq=False)
class Auxiliary:
    """The calibration model matrix X (n x p) held as its distinct rows: ``cells`` (m x p)
    and each row's cell ``codes`` (n,), X = cells[codes]. X'w = cells' (sums of w per cell)."""

    cells: np.ndarray
    codes: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.codes.size, self.cells.shape[1])

    def dense(self) -> np.ndarray:
        """The n x p matrix itself."""
        return self.cells[self.codes]

    def collapse(self, w: Layout) -> np.ndarray:
        """Sums of ``w`` (n,) or (n, R) over the rows of each cell."""
        if isinstance(w, np.ndarray) and w.ndim == 1:
            return np.bincount(self.codes, weights=w, minlength=self.cells.shape[0])
        return grouped_sums(w, self.codes, self.cells.shape[0], [None])[0]

    def totals(self, w: np.ndarray) -> np.ndarray:
        """X'w: the weighted totals of the auxiliaries."""
        return self.cells.T @ self.collapse(w)

    def first_values(self, v: np.ndarray) -> np.ndarray:
        """The value of ``v`` on the first row of each cell."""

        first = first_rows(self.codes, self.cells.shape[0])
        return np.where(first >= 0, v[np.maximum(first, 0)], 0.0)

    def split(self, v: np.ndarray) -> Auxiliary:
        """Cells refined so that ``v`` is constant within each."""

        codes, values = factorize(v)
        if values.size <= 1:
            return self
        codes = factorize(self.codes * values.size + codes)[0]

        first = first_rows(codes, complete=True)
        return Auxiliary(self.cells[self.codes[first]], codes)




@dataclass(frozen=True)
class Margins:
    """Calibration targets: counts per category of categorical variables (a crossed margin
    is keyed ``"a*b"`` with categories ``"x*y"``), totals of numeric variables, and the
    population size."""

    categorical: dict[str, dict[str, float]]
    numeric: dict[str, float]
    total: float | None

    def columns(self) -> list[str]:
        """The data columns the margins need."""
        cols: list[str] = []
        for key in self.categorical:
            cols.extend(key.split("*"))
        return [*cols, *self.numeric]


def _category_codes(data: pd.DataFrame, key: str) -> tuple[np.ndarray, list[str]]:
    """Each row's category of margin ``key`` (a column, or crossed columns ``"a*b"``) as a
    code into the category labels, the values as text (``"x*y"`` when crossed); -1 for a
    missing value. Columns are factorised and only their distinct values turned to text."""
    codes: np.ndarray | None = None
    labels: list[str] = []
    for part in key.split("*"):
        c, text = _factorize_text(data[part])
        if codes is None:
            codes, labels = c.astype(np.intp, copy=False), text
            continue
        both = np.where((codes >= 0) & (c >= 0), codes * len(text) + c, -1)
        pairs, first = np.unique(both, return_index=True)
        keep = pairs >= 0
        pairs, first = pairs[keep], first[keep]
        labels = [f"{labels[codes[i]]}*{text[c[i]]}" for i in first]
        codes = np.where(both >= 0, np.searchsorted(pairs, both), -1)
    assert codes is not None
    return codes, labels


def _factorize_text(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes of a column's values (in order of first appearance, -1: missing) and the
    distinct values as text. Arrow-backed text is dictionary-encoded by Arrow itself (no
    Python objects; the GIL is released, so margins can be coded on two threads)."""
    if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
        import pyarrow.compute as pc

        chunks = pc.dictionary_encode(col.array.__arrow_array__()).chunks
        # the chunks of an encoded column share one dictionary (checked)
        if chunks and all(c.dictionary.equals(chunks[0].dictionary) for c in chunks[1:]):
            codes = np.concatenate([  # zero-copy views of the indices unless there are nulls
                (pc.fill_null(c.indices, -1) if c.null_count else c.indices).to_numpy()
                for c in chunks], dtype=np.intp)
            return codes, [str(v) for v in chunks[0].dictionary.to_pylist()]
    c, uniques = pd.factorize(col)
    return c.astype(np.intp, copy=False), pd.Series(uniques).astype(str).tolist()


def _fmt(v: float) -> str:
    return f"{v:,.6g}"


def calibrations(design: Design) -> tuple[CalibrationRecord, ...]:
    """The calibration steps among a design's weighting steps, in the order applied."""
    return tuple(s for s in design.weighting if isinstance(s, CalibrationRecord))


def build_auxiliary(data: pd.DataFrame, margins: Margins, *, method: str,
                    source: str = "data", active: np.ndarray | None = None
                    ) -> tuple[Auxiliary, np.ndarray, tuple[str, ...]]:
    """The calibration model matrix X (as :class:`Auxiliary`), its population totals and
    column names.

    As R's ``model.matrix(~ a + b + x)``: an intercept (the population size) and, for each
    categorical margin, indicators of every category but the first (sorted); numeric
    auxiliaries as they are. Post-stratification uses the indicators of every cell.
    Checks that every category in the data has a margin and vice versa, that margins of one
    variable add up to the population size, and that no calibration variable is missing.
    ``active`` marks the rows that carry a weight (others, e.g. nonrespondents, are ignored:
    their row of X is zero).
    """

    n = len(data)
    if active is None:
        active = np.ones(n, dtype=bool)
    all_in = bool(active.all())
    for col in margins.columns():
        if col not in data.columns:
            raise CalibrationError(f"calibration variable {col!r} is not in the data",
                                   where=source, hint="add the column or drop its margin")
        if not data[col].hasnans:  # Arrow columns know their number of nulls
            continue
        miss = data[col].isna().to_numpy() & active
        if miss.any():
            raise CalibrationError(
                f"calibration variable {col!r} has {int(miss.sum())} missing values",
                where=f"{source}, row {int(np.flatnonzero(miss)[0])}, column {col}",
                hint="impute or recode the missing values before calibrating",
            )
    total = margins.total
    sums = {k: float(sum(v.values())) for k, v in margins.categorical.items()}
    if total is None and sums:
        total = next(iter(sums.values()))
    for key, s in sums.items():
        if total is not None and abs(s - total) > 1e-6 * max(abs(total), 1):
            raise CalibrationError(
                f"the margin of {key!r} adds up to {_fmt(s)}, not the population size "
                f"{_fmt(total)}", where=f"margin {key}", value=s,
                hint="make every categorical margin sum to the same population size",
            )
    # each part of X: (per-row codes into its columns, -1: none; number of columns) for a
    # categorical margin, or the values of a numeric auxiliary
    parts: list[tuple[np.ndarray, int] | np.ndarray] = []
    names: list[str] = []
    pop: list[float] = []
    poststrat = method == "poststratify"
    if poststrat and (len(margins.categorical) != 1 or margins.numeric):
        raise CalibrationError("post-stratification takes exactly one categorical margin "
                               "(cross variables with 'a*b' for crossed cells)",
                               hint="use method='raking' or 'linear' for several margins")
    # the margins' categories of every row (Arrow text is coded on two threads), then the
    # rows grouped by their combination of categories and numeric values: X, the counts and
    # the checks below need only one row per group
    coded = _coded_margins(data, list(margins.categorical))
    numeric = [pd.to_numeric(data[var], errors="coerce").to_numpy(float)
               for var in margins.numeric]
    group, first, size = _row_groups(
        [(codes, len(labels)) for codes, labels in coded.values()]
        + [(c, len(u)) for c, u in map(factorize, numeric)], active, all_in)
    active_g = active[first]
    m = first.size
    if total is not None and not poststrat:
        parts.append((np.zeros(m, dtype=np.intp), 1))
        names.append("(Intercept)")
        pop.append(float(total))
    for key, targets in margins.categorical.items():
        codes, labels = coded[key]
        codes = codes[first]  # the category of each group
        target = {str(k): float(v) for k, v in targets.items()}
        ok = active_g & (codes >= 0)
        counts = np.bincount(codes[ok], weights=size[ok], minlength=len(labels))
        seen = {lab: int(c) for lab, c in zip(labels, counts, strict=True) if c > 0}
        unknown = [c for c in sorted(seen, key=lambda lab: -seen[lab]) if c not in target]
        if unknown:
            raise CalibrationError(
                f"category {unknown[0]!r} of {key!r} occurs in {seen[unknown[0]]} rows "
                "but has no population margin", where=f"{source}, column {key}",
                value=unknown[0], hint=f"add it to the margin of {key!r} or recode it "
                f"(margin categories: {', '.join(sorted(target))})",
            )
        for cat, count in target.items():
            if count < 0:
                raise CalibrationError("a population margin is negative",
                                       where=f"margin {key} = {cat}", value=count)
            if cat not in seen and count > 0:
                raise CalibrationError(
                    f"category {cat!r} of {key!r} has a population count of {_fmt(count)} "
                    "but no sample unit", where=f"margin {key} = {cat}", value=cat,
                    hint="collapse it with a neighbouring category",
                )
            if cat in seen and count == 0:
                raise CalibrationError(
                    f"category {cat!r} of {key!r} has a margin of zero but "
                    f"{seen[cat]} sample units", where=f"margin {key} = {cat}",
                    value=0, hint="check the margin, or remove those units from the scope",
                )
        present = sorted(c for c in target if c in seen)
        keep = present if (poststrat or (total is None and not names)) else present[1:]
        column = {cat: j for j, cat in enumerate(keep)}
        lookup = np.array([column.get(lab, -1) for lab in labels] + [-1], dtype=np.intp)
        parts.append((lookup[codes], len(keep)))  # code -1 (missing) reads the last entry
        names.extend(f"{key}{cat}" for cat in keep)
        pop.extend(target[cat] for cat in keep)
    for (var, tot), values in zip(margins.numeric.items(), numeric, strict=True):
        parts.append(values[first])
        names.append(var)
        pop.append(float(tot))
    if not parts:
        raise CalibrationError("no calibration margins given",
                               hint="pass categorical=, numeric= and/or total=")
    cells = _cells(parts, active_g)  # the distinct rows of X among the groups
    return Auxiliary(cells.cells, cells.codes[group]), np.asarray(pop), tuple(names)


def _coded_margins(data: pd.DataFrame, keys: list[str]
                   ) -> dict[str, tuple[np.ndarray, list[str]]]:
    """:func:`_category_codes` of every margin, on two threads for large samples."""
    if len(keys) < 2 or len(data) < 100_000 or (os.cpu_count() or 1) < 2:
        return {key: _category_codes(data, key) for key in keys}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(keys, pool.map(lambda key: _category_codes(data, key), keys),
                        strict=True))


def _row_groups(columns: list[tuple[np.ndarray, int]], active: np.ndarray, all_in: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by their combination of codes (``columns``: codes -1..K-1 and K), the
    inactive rows apart: each row's group, the first row and the number of rows of each
    group (groups in no particular order)."""

    n = active.size
    key = np.zeros(n, dtype=np.intp)
    radix = 1  # -radix < key < radix
    if not all_in:
        columns = [(active.astype(np.intp), 1), *columns]
    for codes, k in columns:
        if radix * (k + 1) > 4 * n + (1 << 16):  # keep the key in a range bincount codes
            key = factorize(key)[0]
            radix = int(key.max()) + 1
        key *= k + 1
        key += codes  # codes -1..k-1 keep the combinations distinct
        radix *= k + 1
    group, _, size = factorize_counts(key)
    return group, first_rows(group, size.size, complete=True), size.astype(float)


def _cells(parts: list[tuple[np.ndarray, int] | np.ndarray], active: np.ndarray
           ) -> Auxiliary:
    """The distinct rows of X from its parts (inactive rows: a zero row)."""

    n = active.size
    key = np.zeros(n, dtype=np.intp)
    radix = 1  # key < radix
    for part in parts:
        if isinstance(part, tuple):  # codes -1..K-1 of a categorical margin
            if part[1] == 1 and not (part[0] < 0).any():
                continue  # the intercept, or a margin with one column on every row
            codes, k = part[0] + 1, part[1] + 1
        else:
            codes, values = factorize(part)
            k = values.size
        if radix * k > 4 * n + (1 << 16):  # keep the key in a range np.bincount can code
            key = factorize(key)[0]
            radix = int(key.max()) + 1
        key = key * k + codes
        radix *= k
    if not active.all():
        key = np.where(active, key + 1, 0)  # cell 0: the inactive rows
    key = factorize(key)[0]
    first = first_rows(key, complete=True)
    cells = np.zeros((first.size, sum(p[1] if isinstance(p, tuple) else 1 for p in parts)))
    j = 0
    for part in parts:
        if isinstance(part, tuple):
            col = part[0][first]
            hit = col >= 0
            cells[np.flatnonzero(hit), j + col[hit]] = 1.0
            j += part[1]
        else:
            cells[:, j] = part[first]
            j += 1
    cells[~active[first]] = 0.0
    return Auxiliary(cells, key)


def auxiliary_matrix(data: pd.DataFrame, margins: Margins, *, method: str, source: str = "data",
                     active: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The calibration model matrix X (n x p, dense), its population totals and column
    names (see :func:`build_auxiliary`)."""
    aux, pop, names = build_auxiliary(data, margins, method=method, source=source,
                                      active=active)
    return aux.dense(), pop, names


def calibrate(
    design: Design,
    *,
    categorical: Mapping[str, Mapping[object, float]] | None = None,
    numeric: Mapping[str, float] | None = None,
    total: float | None = None,
    method: str = "raking",
    bounds: tuple[float, float] | None = None,
    shares: bool = False,
    tol: float = 1e-7,
    max_iter: int = 50,
) -> Design:
    """Calibrate a design's weights to population margins; returns a new design.

    ``categorical``: population counts per category of each variable (``{"sex": {"F": ...,
    "M": ...}}``; a crossed margin ``{"sex*age": {"F*18-24": ...}}``), or shares when
    ``shares=True`` (then ``total`` is required). ``numeric``: population totals of numeric
    variables. ``total``: the population size. ``method``: ``linear`` (GREG), ``raking``
    (multiplicative), ``logit`` (bounded, needs L < 1 < U), ``truncated`` (bounded linear),
    or ``poststratify`` (one categorical margin). ``bounds``: (L, U) on g = final / initial
    weight. The calibration is recorded in the design, so every later variance takes it
    into account, and a replicate design has every replicate re-calibrated.

    Raises :class:`CalibrationError` naming the margin(s) that fail when the margins are
    inconsistent with the data or the calibration does not converge within ``max_iter``.
    """
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}",
                               hint=f"use one of {', '.join(METHODS)}")
    lo, hi = bounds if bounds is not None else (-np.inf, np.inf)
    if method == "logit" and not (np.isfinite(lo) and np.isfinite(hi) and lo < 1 < hi):
        raise CalibrationError("logit calibration needs finite bounds with L < 1 < U",
                               value=bounds, hint="e.g. bounds=(0.5, 2.0)")
    if method == "truncated" and bounds is None:
        raise CalibrationError("truncated linear calibration needs bounds",
                               hint="e.g. bounds=(0.5, 2.0)")
    if lo >= hi or lo > 1 or hi < 1:
        raise CalibrationError("bounds must satisfy L <= 1 <= U and L < U", value=bounds)
    cat = {str(k): {str(c): float(v) for c, v in m.items()} for k, m in (categorical or {}).items()}
    if shares:
        if total is None:
            raise CalibrationError("margins given as shares need the population size",
                                   hint="pass total=")
        for key, m in cat.items():
            s = sum(m.values())
            if abs(s - 1) > 1e-6:
                raise CalibrationError(f"shares of {key!r} add up to {s:.6g}, not 1",
                                       where=f"margin {key}")
            cat[key] = {c: v * total for c, v in m.items()}
    margins = Margins(cat, {str(k): float(v) for k, v in (numeric or {}).items()}, total)
    d = design.weights
    aux, population, names = build_auxiliary(design.data, margins, method=method,
                                             active=d > 0)
    sol = solve_g(aux.cells, aux.collapse(d), population, method, (lo, hi), tol=tol,
                  max_iter=max_iter)
    sol = replace(sol, g=sol.g[aux.codes])  # the g-weight of every row, from its cell
    if not sol.converged:
        rel = np.abs(sol.misfit) / (1 + np.abs(population))
        worst = np.argsort(rel)[::-1][:3]
        detail = "; ".join(f"{names[i]}: target {_fmt(population[i])}, achieved "
                           f"{_fmt(population[i] - sol.misfit[i])}" for i in worst)
        raise CalibrationError(
            f"{method} calibration did not converge in {max_iter} iterations "
            f"(largest relative misfit {rel.max():.3g})", where=detail,
            hint="widen the bounds, collapse sparse categories, or raise max_iter",
        )
    record = CalibrationRecord(
        method=method, aux=aux, names=names, d=d, g=sol.g, population=population,
        margins=margins, bounds=(lo, hi), iterations=sol.iterations, tol=tol,
        max_iter=max_iter,
    )
    replicates = design.replicates
    if replicates is not None:
        replicates = replicates.reweighted(record.reapply(replicates.layout),
                                           recompute_degf=method == "linear" and bounds is None)
    desc = f"calibration: {method}" + (f", bounds {bounds}" if bounds else "") + \
        f", {len(names)} constraints, {sol.iterations} iterations"
    return design.with_weights(d * sol.g, desc, weighting=(*design.weighting, record),
                               replicates=replicates)
