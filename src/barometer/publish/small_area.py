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
    _localise,
    _lower_first,
    _save,
    _sep,
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
TITLES_FR = {"online_all": "Adultes ayant effectué une démarche en ligne (tous les adultes)",
             "satisfied": "Usagers en ligne satisfaits",
             "gave_up": "Usagers en ligne ayant abandonné au moins une fois",
             "co_online_users": "Entreprises effectuant leurs démarches en ligne, parmi les "
                                "usagères"}
TEXT: dict[str, dict[str, str]] = {
    "en": {"x": "% (95% intervals)", "y": "region (INSEE code)",
           "model": "model-based (EBLUP)", "direct": "direct survey estimate",
           "direct_hollow": "direct, too few answers to publish alone",
           "suppressed": "suppressed",
           "table": "Regional estimates, % (model-based with its 95% interval)",
           "h_indicator": "Indicator", "h_region": "Region", "h_n": "n",
           "h_direct": "Direct %", "h_model": "Model-based % (interval)", "h_status": "Status",
           "message": "{title}: from {lo} (region {lo_r}) to {hi} (region {hi_r})",
           "alt": "Regional model-based estimates: {messages}. The model-based interval is "
                  "narrower than the direct one in {narrower} of {cells} published cells.",
           "title": "Regional estimates: direct and model-based",
           "caption": "Regions sorted by the model-based estimate (blue dots, Fay–Herriot "
                      "EBLUP with its MSE-based 95% interval) beside the direct survey "
                      "estimate (grey squares, design-based 95% interval; hollow where the "
                      "direct rules would suppress it). Every blue figure is model-based.",
           "published": "published", "caution": "caution"},
    "fr": {"x": "% (intervalles à 95\u00a0%)", "y": "région (code Insee)",
           "model": "estimation sur modèle (EBLUP)", "direct": "estimation directe de "
           "l’enquête", "direct_hollow": "directe, trop peu de réponses pour être diffusée "
           "seule", "suppressed": "non diffusé",
           "table": "Estimations régionales, % (sur modèle, avec son intervalle à "
                    "95\u00a0%)",
           "h_indicator": "Indicateur", "h_region": "Région", "h_n": "n",
           "h_direct": "Directe %", "h_model": "Sur modèle % (intervalle)",
           "h_status": "Statut",
           "message": "{title} : de {lo} (région {lo_r}) à {hi} (région {hi_r})",
           "alt": "Estimations régionales sur modèle : {messages}. L’intervalle de "
                  "l’estimation sur modèle est plus étroit que celui de l’estimation directe "
                  "dans {narrower} des {cells} cellules diffusées.",
           "title": "Estimations régionales : directes et sur modèle",
           "caption": "Régions triées selon l’estimation sur modèle (points bleus, EBLUP de "
                      "Fay–Herriot avec son intervalle à 95\u00a0% fondé sur l’EQM) à côté "
                      "de l’estimation directe de l’enquête (carrés gris, intervalle à "
                      "95\u00a0% fondé sur le plan de sondage ; vides là où les règles de "
                      "diffusion directes la supprimeraient). Chaque chiffre bleu est "
                      "une estimation sur modèle.",
           "published": "diffusé", "caution": "avec prudence"},
}


def small_area_chart(tables: dict[str, pd.DataFrame], folder: Path, lang: str = "en"
                     ) -> Chart | None:
    """Direct and model-based regional estimates side by side, regions sorted (``figures/
    small_area``), with its alt text (the finding) and data table, in ``lang``; None when
    the run has no small-area estimates."""
    import matplotlib as mpl
    import seaborn as sns
    from matplotlib.lines import Line2D

    t = tables.get("small_area_estimates")
    if t is None or t.empty:
        return None
    text = TEXT[lang]
    titles = TITLES_FR if lang == "fr" else TITLES
    pct = (lambda v: f"{fmt_pct(v, lang=lang)}\u00a0%") if lang == "fr" else \
        (lambda v: f"{fmt_pct(v)} %")
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
            ax.set_title(_wrap(titles.get(ind, ind), 34), loc="left")
            ax.set_xlabel(text["x"])
            ax.set_ylabel(text["y"])
            for _, r in rows.iloc[::-1].iterrows():
                model = (f"{fmt_pct(r['eblup'], lang=lang)} "
                         f"({fmt_pct(r['ci_low'], lang=lang)} – "
                         f"{fmt_pct(r['ci_high'], lang=lang)})"
                         if r["status"] != "suppressed" else text["suppressed"])
                status = str(r["status"])
                rows_out.append((titles.get(ind, ind), str(r["region"]),
                                 fmt_int(r["n"], lang), fmt_pct(r["direct"], lang=lang),
                                 model, text.get(status, status)))
            pub = rows[rows["status"] != "suppressed"]
            narrower += int(((pub["ci_high"] - pub["ci_low"]) < 2 * z * pub["direct_se"]).sum())
            cells += len(pub)
            if len(pub):
                hi_r, lo_r = pub.loc[pub["eblup"].idxmax()], pub.loc[pub["eblup"].idxmin()]
                messages.append(text["message"].format(
                    title=_lower_first(titles.get(ind, ind)), lo=pct(lo_r["eblup"]),
                    lo_r=lo_r["region"], hi=pct(hi_r["eblup"]), hi_r=hi_r["region"]))
        for ax in axes[len(inds):]:
            ax.set_visible(False)
        fig.legend(handles=[
            Line2D([], [], color=model_c, marker="o", lw=1.8, label=text["model"]),
            Line2D([], [], color=direct_c, marker="s", lw=1.2, label=text["direct"]),
            Line2D([], [], color=direct_c, marker="s", ls="none", markerfacecolor="white",
                   label=text["direct_hollow"])],
            loc="outside lower center", ncol=2, frameon=False)
        table = DataTable(text["table"],
                          tuple(text[h] for h in ("h_indicator", "h_region", "h_n",
                                                  "h_direct", "h_model", "h_status")),
                          tuple(rows_out), lang)
        alt = text["alt"].format(messages=_sep(lang).join(messages), narrower=narrower,
                                 cells=_localise(str(cells), lang))
        return _save(fig, folder, "small_area", text["title"], text["caption"], alt, table,
                     lang)


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
