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

from barometer.publish.report import (
    _RC,
    FIG_WIDTH,
    STATUS_COLOURS,
    Chart,
    DataTable,
    _figure,
    _save,
    _wrap,
    fmt_int,
    fmt_pct,
    md_table,
)
from barometer.scoreboard.result import RunResult
from barometer.scoreboard.small_area import COVARIATE_SOURCES, MODELS

TITLES = {"online_all": "Adults who did a procedure online (all adults)",
          "satisfied": "Online users satisfied",
          "gave_up": "Online users who gave up at least once",
          "co_online_users": "Companies doing procedures online, among users"}


def small_area_chart(tables: dict[str, pd.DataFrame], folder: Path) -> Chart | None:
    """Direct and model-based regional estimates side by side, regions sorted (``figures/
    small_area``), with its alt text (the finding) and data table; None when the run has no
    small-area estimates."""
    import matplotlib as mpl
    import seaborn as sns
    from matplotlib.lines import Line2D

    t = tables.get("small_area_estimates")
    if t is None or t.empty:
        return None
    inds = [i for i in MODELS if (t["indicator"] == i).any()]
    nrow = (len(inds) + 1) // 2
    z = 1.959963984540054
    direct_c, model_c = "#595959", STATUS_COLOURS["published"]
    rows_out: list[tuple[str, ...]] = []
    messages = []
    narrower = cells = 0
    with sns.axes_style("whitegrid"), mpl.rc_context(_RC):
        fig = _figure(FIG_WIDTH, 1.6 + 3.6 * nrow)  # constrained layout
        axes = np.atleast_1d(fig.subplots(nrow, 2, squeeze=False)).ravel()
        for ax, ind in zip(axes, inds, strict=False):
            rows = t[t["indicator"] == ind].sort_values("eblup", na_position="first")
            y = np.arange(len(rows), dtype=float)
            d = 100 * rows["direct"].to_numpy(float)
            dse = 100 * rows["direct_se"].to_numpy(float)
            ok = (rows["direct_status"] != "suppressed").to_numpy()
            ax.hlines(y + 0.18, d - z * dse, d + z * dse, color=direct_c, lw=1.2)
            ax.scatter(d[ok], y[ok] + 0.18, s=18, color=direct_c, marker="s", clip_on=False)
            ax.scatter(d[~ok], y[~ok] + 0.18, s=18, facecolors="white", edgecolors=direct_c,
                       marker="s")
            shown = (rows["status"] != "suppressed").to_numpy()
            e = 100 * rows["eblup"].to_numpy(float)
            ax.hlines(y[shown] - 0.18, 100 * rows["ci_low"].to_numpy(float)[shown],
                      100 * rows["ci_high"].to_numpy(float)[shown], color=model_c, lw=1.8)
            ax.scatter(e[shown], y[shown] - 0.18, s=22, color=model_c, zorder=3, clip_on=False)
            ax.set_yticks(y, rows["region"].astype(str))
            ax.set_xlim(0, 100)
            ax.set_title(_wrap(TITLES.get(ind, ind), 34), loc="left")
            ax.set_xlabel("% (95% intervals)")
            ax.set_ylabel("region (INSEE code)")
            for _, r in rows.iloc[::-1].iterrows():
                model = (f"{fmt_pct(r['eblup'])} ({fmt_pct(r['ci_low'])} – "
                         f"{fmt_pct(r['ci_high'])})" if r["status"] != "suppressed"
                         else "suppressed")
                rows_out.append((TITLES.get(ind, ind), str(r["region"]), fmt_int(r["n"]),
                                 fmt_pct(r["direct"]), model, str(r["status"])))
            pub = rows[rows["status"] != "suppressed"]
            narrower += int(((pub["ci_high"] - pub["ci_low"]) < 2 * z * pub["direct_se"]).sum())
            cells += len(pub)
            if len(pub):
                hi_r, lo_r = pub.loc[pub["eblup"].idxmax()], pub.loc[pub["eblup"].idxmin()]
                messages.append(f"{TITLES.get(ind, ind).lower()}: from "
                                f"{fmt_pct(lo_r['eblup'])} % (region {lo_r['region']}) to "
                                f"{fmt_pct(hi_r['eblup'])} % (region {hi_r['region']})")
        for ax in axes[len(inds):]:
            ax.set_visible(False)
        fig.legend(handles=[
            Line2D([], [], color=model_c, marker="o", lw=1.8, label="model-based (EBLUP)"),
            Line2D([], [], color=direct_c, marker="s", lw=1.2, label="direct survey estimate"),
            Line2D([], [], color=direct_c, marker="s", ls="none", markerfacecolor="white",
                   label="direct, too few answers to publish alone")],
            loc="outside lower center", ncol=2, frameon=False)
        table = DataTable("Regional estimates, % (model-based with its 95% interval)",
                          ("Indicator", "Region", "n", "Direct %", "Model-based % (interval)",
                           "Status"), tuple(rows_out))
        alt = ("Regional model-based estimates: " + "; ".join(messages) + f". The model-based "
               f"interval is narrower than the direct one in {narrower} of {cells} published "
               "cells.")
        return _save(fig, folder, "small_area", "Regional estimates: direct and model-based",
                     "Regions sorted by the model-based estimate (blue dots, Fay–Herriot "
                     "EBLUP with its MSE-based 95% interval) beside the direct survey "
                     "estimate (grey squares, design-based 95% interval; hollow where the "
                     "direct rules would suppress it). Every blue figure is model-based.",
                     alt, table)


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
