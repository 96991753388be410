"""Cross-tabulations with design-based SEs and Rao–Scott tests, as R's ``svytable`` and
``svychisq``.

Cells. With K = r x c cells of a row variable by a column variable (rows with both
observed, a positive weight, and in ``domain`` if given; the design stays whole for the
variance), the weighted cell totals T_k = sum_i w_i 1[i in k] have the influence values
w_i 1[i in k], so their covariance V_T is the design's variance of those K columns (after
the weighting steps' residuals), or the replicate covariance of the replicate totals. The
shares are functions of T: p_k = T_k / sum T (of the whole table), the row share
T_k / R_r(k) and the column share T_k / C_c(k) (R_r, C_c the margins); their linearised
covariance is J V_T J' with J the Jacobian (exact: the ratio's influence values are linear in
those of the totals, as R's ``svymean``/``svyratio``), and on a replicate design every
replicate recomputes the shares from its own totals. Intervals are Wald with the design's
degrees of freedom (Lumley 2010, ch. 6).

Test of independence (Rao & Scott 1981, 1984; R's ``svychisq``): Pearson's X^2 of the
weighted table rescaled to the N rows,

    X^2 = sum_k (O_k - E_k)^2 / E_k,   O = N p,  E_k = O_r. O_.c / N,

and the generalised design effects: with C the (r - 1)(c - 1) columns of the interaction
contrasts of the cells (the interaction part of the saturated model, residualised on the
main effects), D = diag(1 / p) (0 where p = 0), V_p the covariance of p and the SRS
counterpart's C'(D / N)C, Delta = (C'(D / N)C)^{-1} C' D V_p D C, whose eigenvalues delta
are what X^2's distribution depends on:

* ``F`` (second order, R's default ``statistic = "F"``): F = X^2 / sum(delta) on
  d = (sum delta)^2 / sum delta^2 and d x nu degrees of freedom (nu the design's df);
* ``Chisq`` (first order): X^2 / mean(delta) on (r - 1)(c - 1) df, referred to chi^2.

sum(delta) and sum(delta^2) are the traces of Delta and Delta^2, which do not depend on the
basis C of the interaction space (so neither on the order of the rows or columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from barometer.survey.ci import t_quantile
from barometer.survey.design import Design
from barometer.survey.domains import factor_codes, label_text, method_name, sort_key
from barometer.survey.errors import EstimationError
from barometer.survey.estimate import Subset, subset_rows
from barometer.survey.variance import Influence, linearized_variance

TESTS = ("F", "Chisq")


@dataclass(frozen=True)
class RaoScott:
    """A Rao–Scott test of independence (R's ``svychisq``)."""

    method: str            # "F" (second order) or "Chisq" (first order)
    statistic: float       # F, or X^2 / mean(delta)
    ndf: float             # F: d = (sum delta)^2 / sum delta^2; Chisq: (r - 1)(c - 1)
    ddf: float             # F: d x design df; Chisq: inf
    p_value: float
    pearson: float         # Pearson's X^2 of the table rescaled to the sample size
    deltas: tuple[float, ...]  # eigenvalues of the design-effect matrix Delta

    def summary(self) -> str:
        if self.method == "F":
            return (f"Rao–Scott second-order test: F = {self.statistic:.4g} on "
                    f"{self.ndf:.4g} and {self.ddf:.4g} df, p = {self.p_value:.4g} "
                    f"(Pearson X^2 = {self.pearson:.4g})")
        return (f"Rao–Scott first-order test: X^2 / mean(delta) = {self.statistic:.4g} on "
                f"{self.ndf:g} df, p = {self.p_value:.4g} (Pearson X^2 = {self.pearson:.4g})")


@dataclass(frozen=True, eq=False)
class Crosstab:
    """A weighted two-way table: one row per cell (``cells``) and the test."""

    row: str
    col: str
    cells: pd.DataFrame
    test: RaoScott
    covariance: np.ndarray  # covariance of the cell totals, cells in ``cells`` order

    def to_frame(self) -> pd.DataFrame:
        """A copy of the cell rows: totals, shares of the table, of the row and of the
        column, each with SE and interval."""
        return self.cells.copy()

    def table(self, field: str = "total") -> pd.DataFrame:
        """The r x c table of one field (``total``, ``share``, ``row_share``,
        ``col_share`` or their ``_se``)."""
        return self.cells.pivot(index="row", columns="col", values=field)

    def summary(self, digits: int = 4) -> str:
        shown = self.cells[["row", "col", "total", "total_se", "row_share", "row_share_se",
                            "col_share", "col_share_se", "n"]]
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.width", 120):
            return (f"{self.row} by {self.col} — variance: {self.cells['method'].iloc[0]}\n"
                    + shown.to_string(index=False) + "\n" + self.test.summary())

    def __repr__(self) -> str:
        return self.summary()


def crosstab(design: Design, row: str, col: str, *, domain: Subset = None,
             test: str = "F", ci_level: float = 0.95, df: str | float = "design"
             ) -> Crosstab:
    """Weighted table of ``row`` by ``col`` with SEs and intervals of the cell totals and
    shares, and a Rao–Scott test of independence (``test``: ``F``, R's default
    second-order correction, or ``Chisq``, first order); see the module docstring."""
    if test not in TESTS:
        raise EstimationError(f"unknown test {test!r}", value=test,
                              hint=f"use one of {', '.join(TESTS)}")
    if row == col:
        raise EstimationError("a table needs two different variables", value=row)
    w = design.weights
    rc, rlabels = _codes(design, row)
    cc, clabels = _codes(design, col)
    valid = (rc >= 0) & (cc >= 0) & (w > 0)
    subset = subset_rows(design, domain)
    if subset is not None:
        valid &= subset
    if not valid.any():
        raise EstimationError(f"no rows with both {row!r} and {col!r} observed",
                              hint="check the variables, the domain and the weights")
    rc, rlabels = _present(rc, rlabels, valid)
    cc, clabels = _present(cc, clabels, valid)
    nr, nc = len(rlabels), len(clabels)
    k = nr * nc
    rows = np.flatnonzero(valid)
    cell = rc[rows] + nr * cc[rows]  # rows vary fastest, as R's interaction()
    totals = np.bincount(cell, weights=w[rows], minlength=k)
    n_cells = np.bincount(cell, minlength=k)
    reps = design.replicates
    if reps is not None:
        ind = sparse.csr_matrix((np.ones(rows.size), (cell, rows)), shape=(k, design.n))
        rep_totals = np.asarray(ind @ reps.weights)
        v_t = reps.covariance(totals, rep_totals)
    else:
        rep_totals = None
        # each row adds its weight to one cell total: the compact form (no n x K matrix)
        column = np.full(design.n, -1, dtype=np.intp)
        column[rows] = cell
        v_t = np.atleast_2d(linearized_variance(
            design, Influence.compact(w, column, k), full=True))
    r_of = np.tile(np.arange(nr), nc)
    c_of = np.repeat(np.arange(nc), nr)
    shares = {
        "share": lambda t: t / t.sum(axis=0, keepdims=True),
        "row_share": lambda t: t / _margin(t, r_of, nr),
        "col_share": lambda t: t / _margin(t, c_of, nc),
    }
    share_values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, f in shares.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            est = f(totals[:, None])[:, 0]
            if rep_totals is not None:
                assert reps is not None
                cov = reps.covariance(est, f(rep_totals))
            else:
                jac = _jacobian(totals, name, r_of, c_of, nr, nc)
                cov = jac @ v_t @ jac.T
        share_values[name] = (est, cov)
    p, v_p = share_values["share"]
    nu = float(design.degf(valid))
    result = _rao_scott(p, v_p, int(valid.sum()), nr, nc, nu, test)
    dof = nu if df == "design" else (float("inf") if df == "inf" else float(df))
    t = t_quantile(ci_level, dof)
    table = {"row": [rlabels[i] for i in r_of], "col": [clabels[j] for j in c_of],
             "n": n_cells}
    for name, (est, cov) in [("total", (totals, v_t)), *share_values.items()]:
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        table[name] = est
        table[f"{name}_se"] = se
        table[f"{name}_ci_low"] = est - t * se
        table[f"{name}_ci_high"] = est + t * se
    frame = pd.DataFrame(table).assign(ci_level=ci_level, df=dof, method=method_name(design))
    return Crosstab(row, col, frame, result, v_t)


def _codes(design: Design, name: str) -> tuple[np.ndarray, list[object]]:
    codes, uniques, _ = factor_codes(design, name)
    return codes, list(uniques)


def _present(codes: np.ndarray, labels: list[object], valid: np.ndarray
             ) -> tuple[np.ndarray, list[str]]:
    """Recode to the levels present on the valid rows, in sorted order (as R's factor)."""
    counts = np.bincount(codes[valid], minlength=len(labels))
    present = np.flatnonzero(counts)
    order = sorted(present.tolist(), key=lambda j: sort_key(labels[j]))
    remap = np.full(len(labels) + 1, -1, dtype=np.intp)
    remap[np.asarray(order) + 1] = np.arange(len(order))
    return remap[codes + 1], [label_text(labels[j]) for j in order]


def _margin(t: np.ndarray, group: np.ndarray, m: int) -> np.ndarray:
    """Each cell's margin (row or column total) for every column of t (K x R)."""
    sums = np.zeros((m, t.shape[1]))
    np.add.at(sums, group, t)
    return sums[group]


def _jacobian(t: np.ndarray, name: str, r_of: np.ndarray, c_of: np.ndarray, nr: int,
              nc: int) -> np.ndarray:
    """d share_k / d T_j: (1[k = j] - share_k 1[j in k's group]) / group total."""
    k = t.size
    if name == "share":
        same = np.ones((k, k), dtype=bool)
    elif name == "row_share":
        same = r_of[:, None] == r_of[None, :]
    else:
        same = c_of[:, None] == c_of[None, :]
    group = same.astype(float) @ t
    share = t / group
    return (np.eye(k) - share[:, None] * same) / group[:, None]


def _rao_scott(p: np.ndarray, v_p: np.ndarray, n: int, nr: int, nc: int, nu: float,
               test: str) -> RaoScott:
    """Pearson's X^2 of the rescaled table and its Rao–Scott corrections (module doc)."""
    observed = n * p
    r_tot = _margin(observed[:, None], np.tile(np.arange(nr), nc), nr)[:, 0]
    c_tot = _margin(observed[:, None], np.repeat(np.arange(nc), nr), nc)[:, 0]
    expected = r_tot * c_tot / n
    with np.errstate(invalid="ignore", divide="ignore"):
        pearson = float(np.sum((observed - expected) ** 2 / expected))
    if nr < 2 or nc < 2:
        raise EstimationError("a test of independence needs at least two rows and two "
                              "columns with data", value=(nr, nc))
    # the saturated model's interaction columns, residualised on the main effects
    r_of = np.tile(np.arange(nr), nc)
    c_of = np.repeat(np.arange(nc), nr)
    main = np.column_stack([np.ones(nr * nc)]
                           + [(r_of == i).astype(float) for i in range(1, nr)]
                           + [(c_of == j).astype(float) for j in range(1, nc)])
    inter = np.column_stack([((r_of == i) & (c_of == j)).astype(float)
                             for j in range(1, nc) for i in range(1, nr)])
    coef, *_ = np.linalg.lstsq(main, inter, rcond=None)
    c = inter - main @ coef
    inv_p = np.where(p == 0, 0.0, 1.0 / np.where(p == 0, 1.0, p))
    dc = c * inv_p[:, None]
    denom = c.T @ dc / n
    numr = dc.T @ v_p @ dc
    delta = np.linalg.solve(denom, numr)
    tr = float(np.trace(delta))
    tr2 = float(np.trace(delta @ delta))
    deltas = tuple(float(v) for v in np.sort(np.linalg.eigvals(delta).real)[::-1])
    q = (nr - 1) * (nc - 1)
    if test == "F":
        d0 = tr * tr / tr2
        f = pearson / tr
        return RaoScott("F", f, d0, d0 * nu, float(stats.f.sf(f, d0, d0 * nu)), pearson,
                        deltas)
    chisq = pearson / (tr / q)
    return RaoScott("Chisq", chisq, float(q), float("inf"), float(stats.chi2.sf(chisq, q)),
                    pearson, deltas)
