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
    NOTE_STATUS_FR,
    STATUS_COLOURS,
    Chart,
    DataTable,
    _figure,
    _localise,
    _lower_first,
    _save,
    _sep,
    _wrap,
    english,
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


COVARIATE_SOURCES_FR = {
    "admin_tax_online": "part des déclarations d'impôt sur le revenu faites en ligne dans la "
                        "région (comptages de la DGFiP, admin_regions.csv)",
    "admin_vat_online": "part des déclarations de TVA des entreprises faites en ligne dans la "
                        "région (comptages de la DGFiP, admin_regions.csv)",
    "internet_daily": "part des adultes utilisant internet tous les jours (recensement / "
                      "enquête TIC, census_regions.csv)",
    "age_65plus": "part des adultes de 65 ans ou plus (recensement, census_regions.csv)",
    "firms_10plus": "part des entreprises de 10 salariés ou plus (SIRENE, "
                    "census_regions.csv)",
}
"""The sources of the regional covariates (``scoreboard.small_area.COVARIATE_SOURCES``) in
French; a covariate without a French source is printed in English, marked as such."""
CONTEXT_TEXT: dict[str, dict[str, str]] = {
    "en": {"models": "indicator|covariates|method|A (model variance)|R²|mean shrinkage|"
                     "std. residuals sd|Brown et al. W (p)",
           "sources": "covariate|source", "moment": "FH moment", "reml": "REML",
           "table": "indicator|region|n|direct %|model-based %|95% interval|shrinkage|status",
           "model_based": "{value} (model-based)", "suppressed": "suppressed"},
    "fr": {"models": "Indicateur|Covariables|Méthode|A (variance du modèle)|R²|"
                     "Rétrécissement moyen|Écart-type des résidus standardisés|"
                     "W de Brown et al. (p)",
           "sources": "Covariable|Source", "moment": "moments (FH)", "reml": "REML",
           "table": "Indicateur|Région|n|Directe %|Sur modèle %|Intervalle à 95\u00a0%|"
                    "Rétrécissement|Statut",
           "model_based": "{value} (sur modèle)", "suppressed": "supprimé"},
}
"""The headings and words of the note's small-area tables, per language."""


def _sci(value: float, lang: str) -> str:
    """A small positive number in scientific notation (``1.23e-03``; French ``1,23e-03``)."""
    text = f"{value:.2e}"
    return text if lang == "en" else text.replace(".", ",")


def small_area_context(result: RunResult, lang: str = "en") -> dict[str, Any] | None:
    """What the note's small-area section prints, in ``lang`` (French headings, statuses and
    numbers ``12,3``), or None without small-area estimates: the models and their
    diagnostics, the covariates' sources, the regional estimates (Fay–Herriot 1979 EBLUP,
    MSE of Prasad–Rao 1990 / Datta–Lahiri 2000, as R's ``sae::mseFH``)."""
    t = result.tables().get("small_area_estimates")
    if t is None or t.empty:
        return None
    text = CONTEXT_TEXT[lang]
    diag = result.record.get("small_area", {}).get("diagnostics", {})

    def code(name: object) -> str:  # an indicator's id: plain in English, as code in French
        return str(name) if lang == "en" else f"`{name}`"

    def num(value: float, digits: int) -> str:
        return _localise(f"{value:.{digits}f}", lang)

    models = md_table(
        text["models"].split("|"),
        [[code(ind), ", ".join(f"`{c}`" for c in cov),
          text["moment"] if "(FH)" in str(diag.get(ind, {}).get("method", ""))
          else text["reml"],
          _sci(diag[ind]["refvar"], lang), num(diag[ind]["r2"], 2),
          num(diag[ind]["mean_gamma"], 2), num(diag[ind]["std_resid_sd"], 2),
          f"{num(diag[ind]['brown_w'], 1)} ({num(diag[ind]['brown_p'], 2)})"]
         for ind, cov in MODELS.items() if ind in diag])
    sources = md_table(text["sources"].split("|"),
                       [[f"`{k}`", v if lang == "en" else
                         COVARIATE_SOURCES_FR.get(k) or english(v, lang)]
                        for k, v in COVARIATE_SOURCES.items()])
    rows = []
    for _, r in t.iterrows():
        shown = r["status"] != "suppressed"
        status = str(r["status"])
        rows.append([code(r["indicator"]), r["region"],
                     int(r["n"]) if lang == "en" else fmt_int(r["n"], lang),
                     fmt_pct(r["direct"], lang=lang) if np.isfinite(r["direct"]) else "",
                     text["model_based"].format(value=fmt_pct(r["eblup"], lang=lang))
                     if shown else text["suppressed"],
                     f"{fmt_pct(r['ci_low'], lang=lang)} – {fmt_pct(r['ci_high'], lang=lang)}"
                     if shown else "",
                     num(r["shrinkage"], 2),
                     status if lang == "en" else NOTE_STATUS_FR.get(status, status)])
    table = md_table(text["table"].split("|"), rows)
    counts = {s: int((t["status"] == s).sum()) for s in ("published", "caution",
                                                         "suppressed")}
    gain = (1 - np.sqrt(t["mse"]) / t["direct_se"]).replace([np.inf, -np.inf], np.nan)
    return {"models": models, "sources": sources, "table": table, "counts": counts,
            "n_cells": len(t), "median_gain": float(np.nanmedian(gain)),
            "rules": result.record.get("catalogue", {}).get("rules", {})}


__all__ = ["small_area_chart", "small_area_context"]
