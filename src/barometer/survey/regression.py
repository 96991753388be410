"""Stage *estimate* (models): design-based linear and logistic regression, as R's ``svyglm``.

The coefficients solve the weighted estimating equations of a generalised linear model
(Binder 1983; Lumley 2010, ch. 5; Särndal, Swensson & Wretman 1992, §5.10),

    U(beta) = sum_i w_i x_i (y_i - mu_i(beta)) = 0,   mu_i = x_i'beta (gaussian, identity),
                                                    1 / (1 + exp(-x_i'beta)) (logit),
                                                    or exp(x_i'beta) (poisson, log),

fitted with statsmodels (weighted least squares / IRLS of the quasi-likelihood; the scale of
the weights does not change beta). Their covariance is the design-based sandwich
(Binder 1983; R's ``svy.varcoef``): with the working weights v_i (1 for the identity link,
mu_i (1 - mu_i) for the logit link, mu_i for the log link) and

    A = sum_i w_i v_i x_i x_i',    z_i = w_i (y_i - mu_i) x_i' A^{-1}   (1 x p),

the influence values z feed the design's variance engine exactly as an estimator's do
(:func:`barometer.survey.variance.linearized_variance`): strata, clusters at every stage, fpc and
the residuals of every recorded calibration (Deville & Särndal 1992), so standard errors
account for the weighting. A replicate design refits the model on every replicate's weights
(Newton steps from the full-sample coefficients, all replicates at once) and combines the
replicate coefficients with the design's scale factors (R's ``svrVar``).

Inference uses t quantiles with the residual degrees of freedom of R's ``svyglm``,
``degf(design) + 1 - p``; a group of terms is tested by the Wald F statistic
``beta' V^{-1} beta / q`` on (q, df) degrees of freedom (R's ``regTermTest``, method Wald).

Model terms: numeric columns enter as they are; text, boolean and pandas categorical columns
(and numeric columns named in ``categorical``) enter by treatment coding with the first level
in sorted order (a pandas categorical: its first used category) as reference, each column
named by the variable immediately followed by the level (``stypeH``), interactions joined
by ``:``, as R's ``model.matrix`` names them so that results compare term by term with R.
``C(x)``, ``factor(x)`` and ``as.factor(x)`` make a numeric column categorical (named as
written: ``factor(stype)H``); other functions are refused with a hint. ``domain=`` fits the
model in a subpopulation (R's ``svyglm(design = subset(...))``): rows outside it are out
of the model but the design stays whole for the variance. Poisson models (``poisson`` and
``quasipoisson``: the same coefficients and design-based SEs, as R's ``svyglm``) use the
log link. Rows with a missing outcome or covariate, or a zero weight, are out of the model (R's
``na.action``), keeping the whole design for the variance.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from barometer.survey.ci import t_quantile
from barometer.survey.design import Design
from barometer.survey.domains import level_match, numeric_column, sort_key
from barometer.survey.errors import EstimationError
from barometer.survey.estimate import Subset, subset_rows
from barometer.survey.variance import Influence, linearized_variance

Family = Literal["gaussian", "binomial", "poisson", "quasipoisson"]
FAMILIES: tuple[str, ...] = ("gaussian", "binomial", "poisson", "quasipoisson")
LINKS = {"gaussian": "identity", "binomial": "logit", "poisson": "log", "quasipoisson": "log"}
# functions a formula may apply to a column: categorical coding (R's factor(), C())
FACTOR_CALL = re.compile(r"^(?:C|factor|as\.factor)\(\s*`?([^`()]+?)`?\s*\)$")
CALL = re.compile(r"^([A-Za-z_.][A-Za-z0-9_.]*)\((.*)\)$")
COLUMNS = ["term", "estimate", "se", "t", "p_value", "ci_low", "ci_high", "ci_level", "df"]


@dataclass(frozen=True)
class WaldTest:
    """The Wald test that a group of coefficients are all zero (R's ``regTermTest``)."""

    terms: tuple[str, ...]
    statistic: float  # F = beta' V^{-1} beta / q
    df_num: int
    df_den: float
    p_value: float

    def summary(self) -> str:
        return (f"Wald test of {', '.join(self.terms)}: F = {self.statistic:.4g} on "
                f"{self.df_num} and {self.df_den:g} df, p = {self.p_value:.4g}")


@dataclass(frozen=True, eq=False)
class Regression:
    """A fitted design-based regression: coefficients, their covariance and inference."""

    outcome: str
    family: str
    terms: tuple[str, ...]          # model terms (``stype``, ``ell``, ``stype:ell``)
    columns: tuple[str, ...]        # coefficient names, R style
    column_term: tuple[str, ...]    # the term of each coefficient ('(Intercept)' for it)
    coef: np.ndarray
    cov: np.ndarray
    df: float
    n: int
    method: str
    ci_level: float = 0.95
    notes: tuple[str, ...] = field(default=())
    reference: dict[str, str] = field(default_factory=dict)  # factor -> reference level

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, t, two-sided p-value, t interval, df."""
        se = self.se
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.coef / se
        p = 2 * (stats.t.sf(np.abs(t), self.df) if np.isfinite(self.df)
                 else stats.norm.sf(np.abs(t)))
        q = t_quantile(self.ci_level, self.df)
        table = pd.DataFrame({
            "term": list(self.columns), "estimate": self.coef, "se": se, "t": t,
            "p_value": p, "ci_low": self.coef - q * se, "ci_high": self.coef + q * se,
            "ci_level": self.ci_level, "df": self.df,
        }, columns=COLUMNS)
        return table.assign(outcome=self.outcome, family=self.family, n=self.n,
                            method=self.method)

    def summary(self, digits: int = 4) -> str:
        """A readable coefficient table."""
        link = LINKS.get(self.family, "identity")
        head = (f"{self.family} ({link} link) model of {self.outcome} — n = {self.n}, "
                f"variance: {self.method}, residual df {self.df:g}")
        shown = self.to_frame()[["term", "estimate", "se", "t", "p_value", "ci_low",
                                 "ci_high"]]
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.width", 120):
            body = shown.to_string(index=False)
        return "\n".join([head, body, *self.notes])

    def __repr__(self) -> str:
        return self.summary()

    def wald_test(self, terms: str | Sequence[str]) -> WaldTest:
        """Test that every coefficient of ``terms`` (model terms such as ``stype``, or
        coefficient names such as ``stypeH``) is zero: F = b' V^{-1} b / q on (q, df)."""
        wanted = [terms] if isinstance(terms, str) else list(terms)
        index: list[int] = []
        for name in wanted:
            hit = [j for j, (c, t) in enumerate(zip(self.columns, self.column_term,
                                                    strict=True)) if name in (c, t)]
            if not hit:
                raise EstimationError(f"no coefficient of term {name!r} in the model",
                                      value=name, hint=f"terms: {', '.join(self.terms)}; "
                                      f"coefficients: {', '.join(self.columns)}")
            index += [j for j in hit if j not in index]
        b = self.coef[index]
        v = self.cov[np.ix_(index, index)]
        chisq = float(b @ np.linalg.solve(v, b))
        q = len(index)
        if np.isfinite(self.df):
            p = float(stats.f.sf(chisq / q, q, self.df))
        else:
            p = float(stats.chi2.sf(chisq, q))
        return WaldTest(tuple(wanted), chisq / q, q, self.df, p)


# -- model terms and matrix -------------------------------------------------------------

def parse_formula(formula: str) -> tuple[str, list[tuple[str, ...]], bool]:
    """``"y ~ a + b + a:c + d*e - 1"`` -> outcome, terms (tuples of variables, main effects
    first, as R orders them) and whether the model has an intercept."""
    if formula.count("~") != 1:
        raise EstimationError("a model formula has one '~'", value=formula,
                              hint="write e.g. 'online ~ age_band + sex'")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    intercept = True
    terms: list[tuple[str, ...]] = []
    rhs = re.sub(r"\s*-\s*1\b", " + -1", rhs)
    for part in (p.strip() for p in rhs.split("+")):
        if part in ("1", ""):
            continue
        if part in ("0", "-1"):
            intercept = False
            continue
        if "*" in part:
            names = [_name(v) for v in part.split("*")]
            expanded = [tuple(c) for r in range(1, len(names) + 1)
                        for c in _combinations(names, r)]
        else:
            expanded = [tuple(_name(v) for v in part.split(":"))]
        terms += [t for t in expanded if t not in terms]
    terms.sort(key=len)  # stable: main effects, then two-way interactions...
    return _name(lhs), terms, intercept


def _combinations(names: list[str], r: int) -> list[list[str]]:
    if r == 0:
        return [[]]
    return [[names[i], *rest] for i in range(len(names))
            for rest in _combinations(names[i + 1:], r - 1)]


def _name(text: str) -> str:
    name = text.strip().strip("`")
    if not name:
        raise EstimationError("empty name in a model formula", value=text)
    return name


def _level_text(v: object) -> str:
    """A level as R writes it in a coefficient name (1 for 1.0, TRUE for True)."""
    if isinstance(v, bool | np.bool_):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class _Variable:
    name: str
    values: np.ndarray                 # float values, or integer codes (-1: missing)
    levels: tuple[str, ...] | None     # None: numeric


def _variable(design: Design, name: str, categorical: set[str]) -> _Variable:
    """A model variable: a column, or ``C(col)``/``factor(col)`` (categorical)."""
    factor = FACTOR_CALL.match(name)
    call = CALL.match(name)
    if factor is None and call is not None and name not in design.data.columns:
        raise EstimationError(
            f"function {call.group(1)}() in a model formula is not supported",
            value=name, hint="C(x), factor(x) and as.factor(x) code a column as categorical; "
            f"for anything else compute a column first, e.g. data['{call.group(1)}_x'] = "
            f"... and use its name")
    column = factor.group(1).strip() if factor is not None else name
    if factor is not None:
        categorical = categorical | {column}
    col = design.column(column)
    name_cat = column in categorical
    is_cat = (name_cat or isinstance(col.dtype, pd.CategoricalDtype)
              or not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))
    if not is_cat:
        return _Variable(name, numeric_column(design, column), None)
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = list(col.cat.categories)
        codes = col.cat.codes.to_numpy(np.intp)
    else:
        codes, uniq = pd.factorize(col)
        order = sorted(range(len(uniq)), key=lambda j: sort_key(uniq[j]))
        remap = np.empty(len(uniq) + 1, np.intp)
        remap[0] = -1
        remap[np.asarray(order) + 1] = np.arange(len(uniq))
        codes = remap[codes + 1]
        cats = [uniq[j] for j in order]
    return _Variable(name, codes, tuple(_level_text(c) for c in cats))


def _model_matrix(variables: dict[str, _Variable], terms: list[tuple[str, ...]],
                  intercept: bool, rows: np.ndarray
                  ) -> tuple[np.ndarray, list[str], list[str], dict[str, str]]:
    """R's ``model.matrix`` with treatment contrasts on the model's ``rows``: a factor of a
    term is coded by contrasts when the term without it is already in the model (the
    intercept for a main effect; without an intercept, the first factor's indicators take
    its place), by indicators of every level otherwise, e.g. ``ell + stype:meals`` gives
    one ``meals`` slope per ``stype``. Also returns the reference level of each factor coded
    by contrasts in its main effect."""
    used: dict[str, list[int]] = {}
    for name, v in variables.items():
        if v.levels is not None:
            present = np.unique(v.values[rows])
            used[name] = [int(c) for c in present if c >= 0]
    n = int(rows.sum())
    blocks: list[np.ndarray] = []
    names: list[str] = []
    owner: list[str] = []
    if intercept:
        blocks.append(np.ones((n, 1)))
        names.append("(Intercept)")
        owner.append("(Intercept)")
    seen: set[tuple[str, ...]] = {()} if intercept else set()
    reference: dict[str, str] = {}
    for term in terms:
        cols = [np.ones(n)]
        labels = [""]
        for v in term:
            var = variables[v]
            if var.levels is None:
                cols = [c * var.values[rows] for c in cols]
                labels = [f"{lab}:{v}" if lab else v for lab in labels]
                continue
            codes = var.values[rows]
            levels = used[v]
            contrast = tuple(x for x in term if x != v) in seen
            keep = levels[1:] if contrast else levels
            if len(term) == 1:
                if contrast and levels:
                    reference[v] = var.levels[levels[0]]
                seen.add(())  # without an intercept, the first factor's indicators span it
            # the first factor varies fastest, as R orders interaction columns
            cols = [c * (codes == lev) for lev in keep for c in cols]
            labels = [f"{lab}:{v}{var.levels[lev]}" if lab else f"{v}{var.levels[lev]}"
                      for lev in keep for lab in labels]
        seen.add(term)
        blocks.append(np.column_stack(cols) if cols else np.empty((n, 0)))
        names += labels
        owner += [":".join(term)] * len(labels)
    x = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return x.astype(float), names, owner, reference


# -- fitting ---------------------------------------------------------------------------

class _RBinomial(sm.families.Binomial):
    """statsmodels' binomial family started as R's ``binomial()$initialize``:
    mu_0 = (w y + 1/2) / (w + 1) with the prior weights w."""

    def __init__(self, prior: np.ndarray) -> None:
        super().__init__()
        self.prior = prior

    def starting_mu(self, y: np.ndarray) -> np.ndarray:
        return (self.prior * y + 0.5) / (self.prior + 1.0)


class _RPoisson(sm.families.Poisson):
    """statsmodels' Poisson family started as R's ``poisson()$initialize``: mu_0 = y + 0.1."""

    def starting_mu(self, y: np.ndarray) -> np.ndarray:
        return y + 0.1


# R's glm.control(epsilon = 1e-8, maxit = 25): stop when |dev - dev_old| < 1e-8 (|dev| + 0.1)
EPSILON = 1e-8
MAX_ITER = 25


def _fit(x: np.ndarray, y: np.ndarray, prior: np.ndarray, family: str
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit by IRLS with statsmodels, started and stopped as R's ``glm.fit``: the
    coefficients, the fitted means and the working weights of the last IRLS step (R's
    ``glm$weights``, which R's sandwich uses)."""
    if family == "gaussian":
        res = sm.WLS(y, x, weights=prior).fit()
        beta = np.asarray(res.params, float)
        return beta, x @ beta, prior
    if family in ("poisson", "quasipoisson"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sm.GLM(y, x, family=_RPoisson(), var_weights=prior)
            res = model.fit(maxiter=MAX_ITER, tol=EPSILON * 0.1, rtol=EPSILON)
        if not res.converged:
            raise EstimationError(f"the Poisson model did not converge in {MAX_ITER} "
                                  "iterations", hint="check for a covariate level where "
                                  "every count is 0; merge it with a neighbour")
        return (np.asarray(res.params, float), np.asarray(res.mu, float),
                np.asarray(model.weights, float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' notes on non-integer binomial counts
        model = sm.GLM(y, x, family=_RBinomial(prior), var_weights=prior)
        res = model.fit(maxiter=MAX_ITER, tol=EPSILON * 0.1, rtol=EPSILON)
    if not res.converged:
        raise EstimationError(f"the logistic model did not converge in {MAX_ITER} "
                              "iterations", hint="check for separation: a covariate level "
                              "where every outcome is 0 or 1; merge it with a neighbour")
    mu = np.asarray(res.mu, float)
    if np.any((mu < 1e-8) | (mu > 1 - 1e-8)):
        warnings.warn("fitted probabilities numerically 0 or 1: some covariate level (or "
                      "combination) may separate the outcome, and its coefficient and SE "
                      "are then not meaningful; merge sparse levels", stacklevel=3)
    return np.asarray(res.params, float), mu, np.asarray(model.weights, float)


def _poisson_deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Poisson deviance of every column of ``mu``/``w``: 2 sum w (y log(y/mu) - (y - mu))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        yy = y[:, None]
        a = np.where(yy > 0, yy * np.log(yy / mu), 0.0)
    return 2.0 * (w * (a - (yy - mu))).sum(axis=0)


def _mean_of(eta: np.ndarray, family: str) -> np.ndarray:
    if family == "gaussian":
        return eta
    if family == "binomial":
        return 1.0 / (1.0 + np.exp(-eta))
    return np.exp(eta)


def _deviance_of(y: np.ndarray, mu: np.ndarray, w: np.ndarray, family: str) -> np.ndarray:
    return _deviance(y, mu, w) if family == "binomial" else _poisson_deviance(y, mu, w)


def _deviance(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Binomial deviance of every column of ``mu``/``w``: 2 sum w (y log(y/mu) +
    (1 - y) log((1 - y)/(1 - mu)))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        yy = y[:, None]
        a = np.where(yy > 0, yy * np.log(yy / mu), 0.0)
        b = np.where(yy < 1, (1 - yy) * np.log((1 - yy) / (1 - mu)), 0.0)
    return 2.0 * (w * (a + b)).sum(axis=0)


def _aliased(h: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Columns of a cross-product matrix that are (numerically) combinations of earlier
    ones, as R's pivoting QR in ``glm.fit`` moves them out (their coefficient is NA): column
    j is aliased when its squared residual norm on the earlier kept columns is at most
    ``tol`` times its squared norm (a loop over the p columns)."""
    p = h.shape[0]
    kept: list[int] = []
    out = np.zeros(p, dtype=bool)
    for j in range(p):
        resid = h[j, j]
        if kept:
            c = np.linalg.solve(h[np.ix_(kept, kept)], h[kept, j])
            resid = h[j, j] - h[j, kept] @ c
        if resid <= tol * h[j, j] or h[j, j] <= 0:
            out[j] = True
        else:
            kept.append(j)
    return out


def _solve_steps(hess: np.ndarray, grad: np.ndarray, missing: np.ndarray,
                 columns: np.ndarray) -> np.ndarray:
    """Newton steps ``hess[r]^{-1} grad[r]`` of a batch of replicates (r, p). A replicate
    whose matrix is singular (a covariate level whose rows all weigh zero in it) gets no
    step on its aliased coefficients, which are flagged in ``missing`` (p x R, at
    ``columns``)."""
    d = np.diagonal(hess, axis1=1, axis2=2)
    scale = 1.0 / np.sqrt(np.where(d > 0, d, 1.0))
    scaled = hess * scale[:, :, None] * scale[:, None, :]
    bad = (d <= 0).any(axis=1) | (np.linalg.eigvalsh(scaled)[:, 0] < 1e-10)
    step = np.zeros_like(grad)
    ok = ~bad
    if ok.any():
        step[ok] = np.linalg.solve(hess[ok], grad[ok][..., None])[..., 0]
    for r in np.flatnonzero(bad):  # rare: a loop over singular replicates only
        alias = _aliased(hess[r])
        keep = ~alias
        step[r, keep] = np.linalg.solve(hess[r][np.ix_(keep, keep)], grad[r, keep])
        missing[alias, columns[r]] = True
    return step


def _refit_replicates(x: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray,
                      family: str) -> np.ndarray:
    """Coefficients for every column of the replicate weights ``w`` (n x R): (p, R).

    As R's ``svyglm`` on a replicate design: each replicate's IRLS starts from the
    full-sample ``beta`` with its weights scaled to sum 1 and stops by ``glm.fit``'s rule;
    the Newton (IRLS) steps of all replicates still running are taken at once. A coefficient
    not identified in a replicate (its rows all weigh zero there) is NaN in that replicate,
    as R's NA, and so is its replicate variance."""
    n, p = x.shape
    r = w.shape[1]
    w = w / w.sum(axis=0)
    b = np.repeat(beta[:, None], r, axis=1)
    chunk = max(1, int(2e7 // max(n * p, 1)))
    active = np.arange(r)
    missing = np.zeros((p, r), dtype=bool)
    iterative = family != "gaussian"
    dev = _deviance_of(y, _mean_of(x @ b, family), w, family) if iterative else None
    for _ in range(MAX_ITER if iterative else 1):
        wa = w[:, active]
        eta = x @ b[:, active]
        mu = _mean_of(eta, family)
        v = (wa if family == "gaussian" else wa * mu * (1.0 - mu) if family == "binomial"
             else wa * mu)
        grad = x.T @ (wa * (y[:, None] - mu))
        step = np.empty_like(grad)
        for s in range(0, active.size, chunk):
            hess = np.einsum("ni,nr,nj->rij", x, v[:, s:s + chunk], x, optimize=True)
            g = grad[:, s:s + chunk].T
            step[:, s:s + chunk] = _solve_steps(hess, g, missing, active[s:s + chunk]).T
        b[:, active] += step
        if dev is None:
            break
        new = _deviance_of(y, _mean_of(x @ b[:, active], family), wa, family)
        done = np.abs(new - dev[active]) < EPSILON * (np.abs(new) + 0.1)
        dev[active] = new
        active = active[~done]
        if not active.size:
            break
    else:  # R's glm.fit warns and keeps the last iterate
        warnings.warn(f"the {family} model did not converge in {MAX_ITER} iterations on "
                      f"{active.size} replicate(s): a covariate level may separate the "
                      "outcome in those replicates; merge sparse levels", stacklevel=3)
    if family == "binomial":
        eta = x @ np.nan_to_num(b)
        edge = ((w > 0) & (np.abs(eta) > 18.0)).any(axis=0)  # fitted p within 1.5e-8 of 0/1
        if edge.any():
            warnings.warn(f"{int(edge.sum())} of {r} replicate fits have fitted probabilities "
                          "numerically 0 or 1 (a category losing all its 0s or 1s in the "
                          "replicate): their coefficients diverge and inflate the replicate "
                          "SEs; consider variance='linearization' or merging sparse "
                          "categories", stacklevel=3)
    return np.where(missing, np.nan, b)


def regress(design: Design, model: str, x: Sequence[str] | None = None, *,
            family: Family = "gaussian", level: object = None,
            categorical: Sequence[str] = (), ci_level: float = 0.95,
            variance: Literal["design", "linearization"] = "design",
            domain: Subset = None) -> Regression:
    """Fit a design-based regression (R's ``svyglm``).

    ``model``: a formula ``"y ~ a + b + a:b"`` (``*`` expands to main effects and
    interactions, ``- 1`` drops the intercept), or the outcome's column with ``x`` the list
    of covariates. ``family``: ``gaussian`` (linear model) or ``binomial`` (logistic,
    quasi-binomial: proportions allowed), ``poisson`` or ``quasipoisson`` (log link; the
    same coefficients and SEs). ``level``: model the indicator ``y == level``.
    ``domain``: fit in a subpopulation, ``{column: value}`` or a boolean mask (R's
    ``svyglm(design = subset(...))``; the design stays whole for the variance).
    ``categorical``: numeric columns to treat as categories. ``variance``: ``design`` (the
    design's own: replicate refits on a replicate design, as R) or ``linearization`` (the
    sandwich even on a replicate design: logistic refits of replicates that lose every
    0 or every 1 of a small category diverge, which inflates replicate SEs).
    """
    if variance not in ("design", "linearization"):
        raise EstimationError(f"unknown variance {variance!r}", value=variance,
                              hint="use 'design' or 'linearization'")
    if family not in FAMILIES:
        raise EstimationError(f"unknown family {family!r}", value=family,
                              hint=f"use one of {', '.join(FAMILIES)}")
    if x is None:
        outcome, terms, intercept = parse_formula(model)
    else:
        outcome, terms, intercept = model, [(v,) for v in x], True
    col = design.column(outcome)
    if level is not None:
        yv = np.where(col.isna(), np.nan, level_match(col, level).to_numpy(float))
    elif not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)) and \
            pd.to_numeric(col, errors="coerce").isna().sum() > col.isna().sum():
        levels = sorted(map(str, col.dropna().unique()))
        raise EstimationError(
            f"the outcome {outcome!r} is not numeric", where=f"column {outcome}",
            value=levels[0] if levels else None,
            hint=f"pass level= to model the share of one category (levels: "
            f"{', '.join(levels[:10])})")
    else:
        try:
            yv = numeric_column(design, outcome)
        except EstimationError as exc:
            raise EstimationError(
                f"the outcome {outcome!r} is not numeric", where=f"column {outcome}",
                value=exc.value, hint="pass level= to model the indicator of one category "
                "(family='binomial' for its share)") from None
    name = outcome if level is None else f"{outcome} == {level}"
    if family in ("poisson", "quasipoisson") and np.nanmin(yv) < 0:
        raise EstimationError(f"a Poisson model needs a non-negative outcome: {name}",
                              where=f"column {outcome}", value=float(np.nanmin(yv)),
                              hint="use family='gaussian' for an outcome that can be negative")
    if family == "binomial" and (np.nanmin(yv) < 0 or np.nanmax(yv) > 1):
        raise EstimationError(f"a logistic model needs an outcome between 0 and 1: {name}",
                              where=f"column {outcome}", value=float(np.nanmax(yv)),
                              hint="pass level= to model the share of one category")
    cat = set(categorical)
    variables = {v: _variable(design, v, cat) for term in terms for v in term}
    w = design.weights
    rows = ~np.isnan(yv) & (w > 0)
    subset = subset_rows(design, domain)
    if subset is not None:
        rows &= subset
    for var in variables.values():
        rows &= (var.values >= 0) if var.levels is not None else ~np.isnan(var.values)
    n = int(rows.sum())
    xm, columns, owner, reference = _model_matrix(variables, terms, intercept, rows)
    p = xm.shape[1]
    if n <= p:
        raise EstimationError(f"{n} rows for {p} coefficients", value=n,
                              hint="use fewer covariates or merge categories")
    _check_rank(xm, w[rows], columns)
    y = yv[rows]
    beta, mu, working = _fit(xm, y, w[rows] / w[rows].mean(), family)
    notes: list[str] = []
    replicated = design.replicates is not None and variance == "design"
    if replicated:
        reps = design.replicates
        b = _refit_replicates(xm, y, reps.weights[rows], beta, family)
        cov = reps.covariance(beta, b)
        method = f"replicates ({reps.type})"
    else:
        # R's svy.varcoef: estfun = x (y - mu) / mu.eta(eta) * glm$weights, times A^{-1}
        resid = (y - mu if family == "gaussian" else (y - mu) / (mu * (1.0 - mu))
                 if family == "binomial" else (y - mu) / mu)
        a = (xm * working[:, None]).T @ xm
        z = np.zeros((design.n, p))
        z[rows] = np.linalg.solve(a, (xm * (working * resid)[:, None]).T).T
        cov = linearized_variance(design, Influence(k=p, dense=z), full=True)
        cov = np.atleast_2d(cov)
        method = ("linearization (weighting residuals)" if design.weighting
                  else "linearization")
    degf = (design.degf(rows) if replicated or design.replicates is None
            else design.domain_degf(np.where(rows, 0, -1), 1)[0])
    df = float(degf) + 1 - p
    if df <= 0:
        notes.append(f"residual df {df:g} <= 0: intervals and tests are not available")
    return Regression(name, family, tuple(":".join(t) for t in terms), tuple(columns),
                      tuple(owner), beta, cov, df, n, method, ci_level, tuple(notes),
                      reference)


def _check_rank(x: np.ndarray, w: np.ndarray, columns: list[str]) -> None:
    """Refuse a model whose coefficients are not all identified (R would give NA)."""
    from scipy.linalg import qr

    _, r, piv = qr(x * np.sqrt(w)[:, None], mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int((d > 1e-7 * d[0]).sum()) if d.size else 0
    if rank < x.shape[1]:
        aliased = [columns[j] for j in piv[rank:]]
        raise EstimationError(
            f"the model's coefficients are not all identified: {', '.join(aliased)} "
            "is a combination of the other columns", value=", ".join(aliased),
            hint="drop a covariate or merge categories (e.g. an empty or nested level)")
