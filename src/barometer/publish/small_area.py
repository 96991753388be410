"""Publishing the regional model-based estimates: their chart and the note's section.

The chart puts, for each indicator, the regions in sorted order of the model-based
estimate, the direct estimate (with its design-based interval, hollow when the direct rules
would not publish it) beside the model-based one (with its MSE-based interval), so a reader
sees how far each region was pulled towards the regression and how much narrower the
interval became. The note's section (template ``methodology/small-area.md``) states the
model, its covariates and their sources, the diagnostics and the use the figures allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from barometer.publish.report import Chart, _figure, _save, md_table
from barometer.scoreboard.result import RunResult
from barometer.scoreboard.small_area import COVARIATE_SOURCES, MODELS

TITLES = {"online_all": "Adults who did a procedure online (all adults)",
          "satisfied": "Online users satisfied",
          "gave_up": "Online users who gave up at least once",
          "co_online_users": "Companies doing procedures online, among users"}


def small_area_chart(tables: dict[str, pd.DataFrame], folder: Path) -> Chart | None:
    """Direct and model-based regional estimates side by side, regions sorted (``figures/
    small_area``); None when the run has no small-area estimates."""
    t = tables.get("small_area_estimates")
    if t is None or t.empty:
        return None
    inds = [i for i in MODELS if (t["indicator"] == i).any()]
    fig = _figure(8.2, 0.6 + 3.3 * ((len(inds) + 1) // 2))
    axes = np.atleast_1d(fig.subplots((len(inds) + 1) // 2, 2, squeeze=False)).ravel()
    z = 1.959963984540054
    for ax, ind in zip(axes, inds, strict=False):
        rows = t[t["indicator"] == ind].sort_values("eblup", na_position="first")
        y = np.arange(len(rows), dtype=float)
        d = 100 * rows["direct"].to_numpy(float)
        dse = 100 * rows["direct_se"].to_numpy(float)
        ok = (rows["direct_status"] != "suppressed").to_numpy()
        ax.hlines(y + 0.18, d - z * dse, d + z * dse, color="#999", lw=1.2)
        ax.scatter(d[ok], y[ok] + 0.18, s=16, color="#999", label="direct")
        ax.scatter(d[~ok], y[~ok] + 0.18, s=16, facecolors="white", edgecolors="#999",
                   label="direct (n too small to publish alone)")
        e = 100 * rows["eblup"].to_numpy(float)
        ax.hlines(y - 0.18, 100 * rows["ci_low"].to_numpy(float),
                  100 * rows["ci_high"].to_numpy(float), color="#1f5fa8", lw=1.8)
        ax.scatter(e, y - 0.18, s=18, color="#1f5fa8", zorder=3, label="model-based")
        ax.set_yticks(y, rows["region"].astype(str))
        ax.set_xlim(0, 100)
        ax.set_title(TITLES.get(ind, ind), loc="left", fontsize=8)
        ax.set_xlabel("% (95% intervals)")
    for ax in axes[len(inds):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=6, loc="lower left")
    _save(fig, folder, "small_area")
    return Chart("small_area", "Regional estimates: direct and model-based",
                 "Regions sorted by the model-based estimate (blue, Fay–Herriot EBLUP with "
                 "its MSE-based 95% interval) beside the direct survey estimate (grey, "
                 "design-based 95% interval; hollow where the direct rules would suppress "
                 "it). Every blue figure is model-based.")


def small_area_context(result: RunResult) -> dict[str, Any] | None:
    """What the note's small-area section prints, or None without small-area estimates."""
    t = result.tables().get("small_area_estimates")
    if t is None or t.empty:
        return None
    diag = result.record.get("small_area", {}).get("diagnostics", {})
    models = md_table(
        ["indicator", "covariates", "method", "A (model variance)", "R²", "mean shrinkage",
         "std. residuals sd", "Brown et al. W (p)"],
        [[ind, ", ".join(f"`{c}`" for c in cov),
          "FH moment" if "(FH)" in str(diag.get(ind, {}).get("method", "")) else "REML",
          f"{diag[ind]['refvar']:.2e}", f"{diag[ind]['r2']:.2f}",
          f"{diag[ind]['mean_gamma']:.2f}", f"{diag[ind]['std_resid_sd']:.2f}",
          f"{diag[ind]['brown_w']:.1f} ({diag[ind]['brown_p']:.2f})"]
         for ind, cov in MODELS.items() if ind in diag])
    sources = md_table(["covariate", "source"],
                       [[f"`{k}`", v] for k, v in COVARIATE_SOURCES.items()])
    rows = []
    for _, r in t.iterrows():
        shown = r["status"] != "suppressed"
        rows.append([r["indicator"], r["region"], int(r["n"]),
                     f"{100 * r['direct']:.1f}" if np.isfinite(r["direct"]) else "",
                     f"{100 * r['eblup']:.1f} (model-based)" if shown else "suppressed",
                     f"{100 * r['ci_low']:.1f} – {100 * r['ci_high']:.1f}" if shown else "",
                     f"{r['shrinkage']:.2f}", r["status"]])
    table = md_table(["indicator", "region", "n", "direct %", "model-based %", "95% interval",
                      "shrinkage", "status"], rows)
    counts = {s: int((t["status"] == s).sum()) for s in ("published", "caution",
                                                         "suppressed")}
    gain = (1 - np.sqrt(t["mse"]) / t["direct_se"]).replace([np.inf, -np.inf], np.nan)
    return {"models": models, "sources": sources, "table": table, "counts": counts,
            "n_cells": len(t), "median_gain": float(np.nanmedian(gain)),
            "rules": result.record.get("catalogue", {}).get("rules", {})}


__all__ = ["small_area_chart", "small_area_context"]
