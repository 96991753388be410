"""Stage *calibrate* (other weighting steps): nonresponse adjustment, trimming, diagnostics.

* Nonresponse adjustment by response homogeneity groups (Särndal & Lundström 2005, §9;
  Kalton & Flores-Cervantes 2003): respondents' weights are multiplied by the inverse of
  the weighted response rate of their group, nonrespondents get weight 0. Linearisation
  (the adjusted estimator is a ratio estimator per group): with u_bar_g the adjusted mean
  of the influence values of group g's respondents, influence z becomes
  z - w u_bar_g (respondents) + d u_bar_g (every sampled unit of g), d the weights before.
* Trimming: weights bounded to [lower, upper] (multiples of the mean weight by default).
  After a calibration, the calibration is solved again with per-unit bounds on g so that
  margins and bounds hold together (R's ``calibrate(..., bounds.const=TRUE)``); an error
  says so when both cannot hold. Without calibration, weights are clipped and the excess
  is spread over the untrimmed units, preserving the total (Potter 1990; R's
  ``trimWeights``); the trimmed weights are then treated as fixed for linearisation.
* Diagnostics: targets vs achieved margins, distribution of the g-weights (final / initial
  weight, the initial weights scaled to the final total), min/max/CV of weights,
  Kish's design effect due to weighting 1 + CV^2 = n sum w^2 / (sum w)^2 and effective
  sample size (sum w)^2 / sum w^2 (Kish 1965, 1992).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from barometer.survey.calibrate import CalibrationRecord, calibrations
from barometer.survey.design import Design
from barometer.survey.errors import CalibrationError, DesignError, readable
from barometer.survey.grouping import group_codes
from barometer.survey.gweights import solve_g
from barometer.survey.repweights import Layout, dense
from barometer.survey.steps import rebuild


@dataclass(frozen=True, eq=False)
class NonresponseRecord:
    """A nonresponse adjustment by groups, kept in the design."""

    d: np.ndarray
    w: np.ndarray
    groups: np.ndarray
    respondent: np.ndarray
    group_names: tuple[str, ...]
    method: str = "nonresponse"

    def residuals(self, z: np.ndarray) -> np.ndarray:
        k = int(self.groups.max()) + 1
        resp = self.respondent
        wsum = np.bincount(self.groups[resp], weights=self.w[resp], minlength=k)
        ubar = np.zeros((k, z.shape[1]))
        for j in range(z.shape[1]):
            ubar[:, j] = np.bincount(self.groups[resp], weights=z[resp, j], minlength=k)
        ubar /= wsum[:, None]
        g = ubar[self.groups]
        return z - (self.w * resp)[:, None] * g + self.d[:, None] * g

    def reapply(self, weights: Layout) -> np.ndarray:
        weights = dense(weights)
        w2 = weights if weights.ndim == 2 else weights[:, None]
        out = np.zeros_like(w2)
        k = int(self.groups.max()) + 1
        resp = self.respondent
        for r in range(w2.shape[1]):
            all_w = np.bincount(self.groups, weights=w2[:, r], minlength=k)
            resp_w = np.bincount(self.groups[resp], weights=w2[resp, r], minlength=k)
            with np.errstate(invalid="ignore", divide="ignore"):
                factor = np.where(resp_w > 0, all_w / resp_w, 0.0)
            out[:, r] = np.where(resp, w2[:, r] * factor[self.groups], 0.0)
        return out if weights.ndim == 2 else out[:, 0]


@dataclass(frozen=True, eq=False)
class TrimRecord:
    """Clip-and-redistribute trimming of uncalibrated weights (bounds relative to the mean)."""

    d: np.ndarray
    bounds: tuple[float, float]
    rounds: int
    method: str = "trimming"

    def residuals(self, z: np.ndarray) -> np.ndarray:
        return z

    def reapply(self, weights: Layout) -> np.ndarray:
        weights = dense(weights)
        w2 = weights if weights.ndim == 2 else weights[:, None]
        out = np.column_stack([_clip_redistribute(w2[:, r], self.bounds)[0]
                               for r in range(w2.shape[1])])
        return out if weights.ndim == 2 else out[:, 0]


def _clip_redistribute(w: np.ndarray, rel: tuple[float, float], max_rounds: int = 100
                       ) -> tuple[np.ndarray, int]:
    pos = w > 0
    total = w.sum()
    mean_w = total / pos.sum()
    lo, hi = rel[0] * mean_w, rel[1] * mean_w
    out = w.copy()
    for rounds in range(1, max_rounds + 1):
        clipped = np.where(pos, np.clip(out, lo, hi), 0.0)
        free = pos & (clipped > lo) & (clipped < hi)
        excess = total - clipped.sum()
        if abs(excess) <= 1e-12 * total:
            return clipped, rounds
        if not free.any():
            break
        clipped[free] *= 1 + excess / clipped[free].sum()
        out = clipped
    raise CalibrationError(
        f"trimming to [{lo:.6g}, {hi:.6g}] cannot preserve the total of the weights",
        hint="widen the bounds", value=rel,
    )


def adjust_nonresponse(design: Design, respondent: str, groups: str | Sequence[str] | None
                       = None) -> Design:
    """Scale respondents' weights by the inverse weighted response rate of their group.

    ``respondent``: a column, true (or 1) for respondents. ``groups``: column(s) defining the
    response homogeneity groups (none: one group). Nonrespondents keep their rows with
    weight 0, so the design (and its PSU counts) stays whole.
    """
    col = design.column(respondent)
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DesignError("the respondent indicator has missing values",
                          where=f"row {row}, column {respondent}",
                          hint="code every sampled unit as respondent or not")
    resp = col.astype(bool).to_numpy()
    names = (groups,) if isinstance(groups, str) else tuple(groups or ())
    codes = group_codes(*[design.column(g).astype(str).to_numpy() for g in names]) if names \
        else np.zeros(design.n, dtype=np.int64)
    k = int(codes.max()) + 1
    n_resp = np.bincount(codes[resp], minlength=k)
    if (n_resp == 0).any():
        j = int(np.flatnonzero(n_resp == 0)[0])
        row = int(np.flatnonzero(codes == j)[0])
        label = ", ".join(f"{g}={readable(design.column(g).iloc[row])!r}" for g in names)
        raise DesignError("a response group has no respondent", where=label or "all rows",
                          hint="merge it with a neighbouring group")
    d = design.weights
    record = NonresponseRecord(d=d, w=np.zeros(0), groups=codes, respondent=resp,
                               group_names=names)
    w = record.reapply(d)
    record = replace(record, w=w)
    return _with_step(design, w, record,
                      f"nonresponse adjustment: {k} groups ({', '.join(names) or 'one'})")


def trim(design: Design, *, lower: float | None = None, upper: float | None = None,
         relative: bool = True, max_iter: int = 100) -> Design:
    """Bound the weights to [lower, upper] (multiples of the mean weight if ``relative``),
    keeping the last calibration's margins exact; see the module docstring."""
    if lower is None and upper is None:
        raise CalibrationError("trimming needs a lower and/or an upper bound")
    pos = design.weights > 0
    mean_w = float(design.weights[pos].mean())
    lo = (lower if lower is not None else 0.0) * (1 if relative else 1 / mean_w)
    hi = (upper if upper is not None else np.inf) * (1 if relative else 1 / mean_w)
    if not lo < 1 < hi:
        raise CalibrationError("trimming bounds must surround the mean weight",
                               value=(lower, upper), hint="e.g. lower=0.3, upper=3")
    last = design.weighting[-1] if design.weighting else None
    if isinstance(last, CalibrationRecord):
        method = "raking" if last.method == "raking" else "truncated"
        # solved on the auxiliary cells split by starting weight (the caps bound g by
        # cap / d_i): a group of c identical units has c times their caps
        groups = last.bound_groups
        dsum = groups.collapse(last.d)
        copies = np.divide(dsum, groups.first_values(last.d), out=np.zeros_like(dsum),
                           where=dsum > 0)
        bounds = (lo * mean_w * copies, hi * mean_w * copies)
        sol = solve_g(groups.cells, dsum, last.population, method, last.bounds, tol=last.tol,
                      max_iter=max_iter, weight_bounds=bounds)
        if not sol.converged and method == "raking":
            # capped raking can cycle where a bound binds: the truncated linear distance
            # (Deville & Särndal 1992, case 6) solves the same constraints reliably
            method = "truncated"
            sol = solve_g(groups.cells, dsum, last.population, method, last.bounds,
                          tol=last.tol, max_iter=max_iter, weight_bounds=bounds)
        sol = replace(sol, g=sol.g[groups.codes])
        if not sol.converged:
            rel = np.abs(sol.misfit) / (1 + np.abs(last.population))
            i = int(np.argmax(rel))
            raise CalibrationError(
                "the margins and the trimming bounds cannot both hold",
                where=f"margin {last.names[i]}: target {last.population[i]:.6g}, achieved "
                f"{last.population[i] - sol.misfit[i]:.6g}",
                hint="widen the trimming bounds or collapse sparse categories",
            )
        record = replace(last, g=sol.g, method=method, trim=(lo, hi), iterations=sol.iterations)
        steps = (*design.weighting[:-1], record)
        w = last.d * sol.g
        reps = design.replicates
        if reps is not None:
            reps = reps.reweighted(rebuild(reps.start, steps))
        return design.with_weights(w, f"trimming to [{lo:.3g}, {hi:.3g}] x mean weight, "
                                   f"re-calibrated ({method})", weighting=steps,
                                   replicates=reps)
    w, rounds = _clip_redistribute(design.weights, (lo, hi))
    record = TrimRecord(d=design.weights, bounds=(lo, hi), rounds=rounds)
    return _with_step(design, w, record,
                      f"trimming to [{lo:.3g}, {hi:.3g}] x mean weight ({rounds} rounds)")


def _with_step(design: Design, w: np.ndarray, record: NonresponseRecord | TrimRecord,
               note: str) -> Design:
    reps = design.replicates
    if reps is not None:
        reps = reps.reweighted(record.reapply(reps.layout))
    return design.with_weights(w, note, weighting=(*design.weighting, record), replicates=reps)


# ------------------------------------------------------------------------------ diagnostics
@dataclass(frozen=True, eq=False)
class WeightingDiagnostics:
    """Diagnostics of a design's weights: ``margins`` (target vs achieved per calibration
    constraint) and ``weights`` (one row of statistics)."""

    margins: pd.DataFrame
    weights: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Both tables in one long frame (kind, name, value...)."""
        stats = self.weights.melt(var_name="name", value_name="value").assign(kind="weights")
        m = self.margins.assign(kind="margin")
        return pd.concat([stats, m], ignore_index=True)

    def summary(self) -> str:
        w = self.weights.iloc[0]
        lines = [
            f"weights: n={int(w['n'])}, sum={w['sum']:,.6g}, min={w['min']:.4g}, "
            f"max={w['max']:.4g}, CV={w['cv']:.3f}",
            f"Kish deff due to weighting {w['kish_deff']:.3f}, effective n {w['n_eff']:.1f}",
        ]
        if "g_min" in w and np.isfinite(w["g_min"]):
            lines.append(f"g-weights: min {w['g_min']:.4g}, median {w['g_p50']:.4g}, "
                         f"max {w['g_max']:.4g}; iterations {int(w['iterations'])}")
        if len(self.margins):
            worst = self.margins["rel_diff"].abs().max()
            lines.append(f"{len(self.margins)} calibration constraints, largest relative "
                         f"difference target vs achieved {worst:.2e}")
        return "\n".join(lines)


def diagnostics(design: Design) -> WeightingDiagnostics:
    """Weighting diagnostics of a design (see the module docstring)."""
    w = design.weights
    pos = w[w > 0]
    n = pos.size
    stats: dict[str, float] = {
        "n": n, "sum": pos.sum(), "min": pos.min(), "max": pos.max(), "mean": pos.mean(),
        "cv": pos.std() / pos.mean(), "kish_deff": n * (pos**2).sum() / pos.sum() ** 2,
        "n_eff": pos.sum() ** 2 / (pos**2).sum(),
    }
    rows = []
    cals = calibrations(design)
    if cals:
        last = cals[-1]
        # g relative to the initial weights scaled to the final total (as R's grake
        # scales them), so an equal-weight quota sample shows its adjustment factors
        d = np.where(last.d > 0, last.d, np.nan)
        g = (w / d)[w > 0] / (w.sum() / np.nansum(last.d[w > 0]))
        for q, name in zip((0, 1, 5, 25, 50, 75, 95, 99, 100),
                           ("g_min", "g_p1", "g_p5", "g_p25", "g_p50", "g_p75", "g_p95",
                            "g_p99", "g_max"), strict=True):
            stats[name] = float(np.nanpercentile(g, q))
        stats["iterations"] = float(sum(c.iterations for c in cals))
        achieved = last.aux.totals(w)
        for name, target, got in zip(last.names, last.population, achieved, strict=True):
            rows.append({"constraint": name, "target": target, "achieved": got,
                         "rel_diff": (got - target) / target if target else got - target})
    return WeightingDiagnostics(
        margins=pd.DataFrame(rows, columns=["constraint", "target", "achieved", "rel_diff"]),
        weights=pd.DataFrame([stats]),
    )
