"""Stage *publish* (note): the methodology note of a run, and the call that writes it all.

:func:`write_note_and_report` is what ``barometer run`` calls inside its atomic publication:
it draws the charts (:mod:`barometer.publish.report`), renders ``methodology-note.md`` from the
Jinja2 template ``templates/note.md.j2`` (which includes the hand-written, versioned parts
under ``templates/methodology/``: principles, formulas, limitations, references...),
converts it to ``methodology-note.html`` and writes ``scoreboard.html``.

Every number the note prints is read from the run: the open-data tables (publication rules
applied, so a suppressed value can never appear), the weighted designs and their
diagnostics, the edition (codebook, margins, services, counts, warnings) and the run record.
The note covers the AAPOR Transparency Initiative disclosure items and the ESS quality
headings; for the synthetic default data it says plainly that the data are synthetic.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from barometer.publish.report import (
    INLINE_ENGLISH,
    NOTE_STATUS_FR,
    POPULATION_LABELS,
    Charts,
    _catalogue,
    admin_context,
    by_label,
    caption_tables,
    domain_label,
    embed_charts,
    environment,
    fmt_estimate,
    fmt_int,
    fmt_num,
    fmt_pct,
    g_weights,
    mark_french,
    markdown_fragment,
    md_table,
    reflow_tables,
    write_figures,
    write_scoreboard,
)
from barometer.publish.small_area import small_area_chart, small_area_context
from barometer.scoreboard.populations import SPARSE_OUTCOME, WIDE_OR

if TYPE_CHECKING:
    from barometer.scoreboard.codebook import Codebook, Item
    from barometer.scoreboard.indicators import Catalogue
    from barometer.scoreboard.result import RunResult

NOTE_STEM = "methodology-note"
SIMULATION_FILE = Path("simulation") / "coverage.csv"
OUTPUTS = (f"{NOTE_STEM}.md", f"{NOTE_STEM}.html", f"{NOTE_STEM}.fr.md", f"{NOTE_STEM}.fr.html",
           "scoreboard.html", "scoreboard.fr.html")
NOTE_TEMPLATES = {"en": "note.md.j2", "fr": "note.fr.md.j2"}
NOTE_TITLES = {"en": "Methodology note — digital public-services scoreboard {year}",
               "fr": "Note méthodologique — baromètre des services publics numériques {year}"}
UNIT_NAMES = {"individuals": "adults", "companies": "companies"}
QUANTILES = (0, 1, 5, 25, 50, 75, 95, 99, 100)
G_NAMES = ("g_min", "g_p1", "g_p5", "g_p25", "g_p50", "g_p75", "g_p95", "g_p99", "g_max")


# ---------------------------------------------------------------------------- languages
FRENCH = {  # headings and cell words of the tables built here, English -> French
    "Indicator": "Indicateur", "Label": "Libellé", "Estimate": "Estimation",
    "Interval": "Intervalle", "SE (points)": "Écart-type (points)", "n": "n",
    "deff": "Effet de plan", "Status": "Statut", "Population": "Population",
    "Breakdown": "Ventilation", "Cells": "Cellules", "Min n": "n minimal",
    "Median n": "n médian", "Min half-width": "Demi-largeur minimale",
    "Median half-width": "Demi-largeur médiane", "Max half-width": "Demi-largeur maximale",
    "Rule applied": "Règle appliquée", "Item": "Question", "Asked (n)": "Posée (n)",
    "Don't know %": "Ne sait pas %", "Refused %": "Refus %", "Answers": "Réponses",
    "df of the indicator": "Degrés de liberté de l'indicateur",
    "Design df": "Degrés de liberté du plan", "True value": "Vraie valeur",
    "Covered": "Couverte", "yes": "oui", "no": "non", "Margin": "Marge",
    "Category": "Modalité", "Target": "Cible", "Target %": "Cible %",
    "Sample % (unweighted)": "Échantillon % (non pondéré)",
    "Achieved (weighted)": "Atteint (pondéré)", "Relative difference": "Écart relatif",
    "all": "ensemble", "final weight": "poids final",
    "final / mean weight": "poids final / poids moyen", "g-weight": "rapport g",
    "min": "min", "median": "médiane", "max": "max", "covariate": "covariable",
    "category": "modalité", "odds ratio": "rapport de cotes", "interval": "intervalle",
    "p (covariate)": "p (covariable)", "Input": "Entrée", "SHA-256": "SHA-256",
    **NOTE_STATUS_FR, "individuals": "particuliers",
    "companies": "entreprises", "codebook": "dictionnaire des codes",
    "indicator catalogue": "catalogue des indicateurs",
    "weighting specification": "spécification de la pondération",
    "landline": "téléphone fixe", "mobile": "téléphone mobile",
}
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre")
POPULATION_LABELS_FR = {"individuals": "Particuliers (adultes de 18 ans ou plus)",
                        "companies": "Entreprises"}
DERIVED_LABELS_FR = {"size_10plus": ("Taille (moins de 10 / 10 salariés ou plus)",
                                     {"<10": "moins de 10 salariés",
                                      "10+": "10 salariés ou plus"})}


def _tr(text: str, lang: str) -> str:
    """A heading or cell word of a table in ``lang`` (unchanged in English or if unknown)."""
    return text if lang == "en" else FRENCH.get(text, text)


def _heads(headers: list[str], lang: str) -> list[str]:
    return [_tr(h, lang) for h in headers]


def _pop_label(pop: str, lang: str) -> str:
    return POPULATION_LABELS[pop] if lang == "en" else POPULATION_LABELS_FR[pop]


def _by_label(cb: Codebook, by: str, lang: str) -> str:
    """A breakdown's label in ``lang`` (the codebook's French label in French)."""
    if lang == "en":
        return by_label(cb, by)
    if by == "all":
        return "Ensemble"
    if by in DERIVED_LABELS_FR:
        return DERIVED_LABELS_FR[by][0]
    return next((v.fr for v in cb.variables if v.name == by), by)


def _domain_label(cb: Codebook, pop: str, by: str, domain: str, lang: str) -> str:
    """A domain's label in ``lang`` (the codebook's French category label in French)."""
    if lang == "en":
        return domain_label(cb, pop, by, domain)
    if by == "all":
        return "Ensemble"
    if by in DERIVED_LABELS_FR:
        return DERIVED_LABELS_FR[by][1].get(domain, domain)
    try:
        return cb.label(pop, by, domain, lang="fr")
    except (KeyError, ValueError):
        return domain


# ---------------------------------------------------------------------------- populations
def _fieldwork(frame: pd.DataFrame) -> dict[str, Any]:
    dates = pd.to_datetime(frame["interview_date"])
    modes = frame["mode"].astype(str).value_counts()
    return {"start": dates.min().date().isoformat(), "end": dates.max().date().isoformat(),
            "days": int(dates.dt.normalize().nunique()),
            "mode_counts": [{"mode": str(m), "mode_fr": _tr(str(m), "fr"), "count": int(c),
                             "share": float(c / len(frame))} for m, c in modes.items()],
            "modes": ", ".join(f"{m} {fmt_int(c)} ({fmt_pct(c / len(frame))} %)"
                               for m, c in modes.items())}


def _margins_table(result: RunResult, pop: str, lang: str = "en") -> str:
    """Target vs achieved per calibration category (with the unweighted sample share);
    categories merged for calibration (``collapse`` in the specification) in one row."""
    ms = result.edition.margins[pop]
    wp = result.weighted[pop]
    data = ms.add_crossed_columns(wp.design.data)
    w = wp.design.weights
    collapse = wp.spec.collapse
    rows = []
    for name, m in ms.margins.items():
        groups: dict[str, list[str]] = {}
        for cat in m.counts.index.astype(str):
            new = "*".join(collapse.get(v, {}).get(c, c)
                           for v, c in zip(m.variables, cat.split("*"), strict=True))
            groups.setdefault(new, []).append(cat)
        col = data[name].astype(str)
        for cats in groups.values():
            target = float(m.counts.loc[cats].sum())
            hit = col.isin(cats).to_numpy()
            achieved = float(w[hit].sum())
            label = " + ".join(_category(result, pop, m.variables, c, lang) for c in cats)
            rows.append([f"`{name}`", label, fmt_int(target, lang),
                         fmt_pct(target / ms.total, lang=lang),
                         fmt_pct(hit.mean(), lang=lang), fmt_int(achieved, lang),
                         _sci((achieved - target) / target, lang) if target else ""])
    diag = wp.diagnostics.margins
    for _, r in diag[diag["constraint"].isin(wp.spec.numeric)].iterrows():
        rows.append([f"`{r['constraint']}` (total)",
                     _tr("all", lang), fmt_int(r["target"], lang), "", "",
                     fmt_int(r["achieved"], lang), _sci(r["rel_diff"], lang)])
    return md_table(_heads(["Margin", "Category", "Target", "Target %", "Sample % (unweighted)",
                            "Achieved (weighted)", "Relative difference"], lang), rows,
                    "llrrrrr")


def _sci(value: float, lang: str = "en") -> str:
    """A small number in scientific notation (``1.2e-09``; French ``1,2e-09``)."""
    text = f"{value:.1e}"
    return text if lang == "en" else text.replace(".", ",")


def _collapse_text(result: RunResult, pop: str, lang: str = "en") -> str:
    cb = result.edition.codebook
    word = "with" if lang == "en" else "avec"
    parts = [f"`{var}` {old} ({_domain_label(cb, pop, var, old, lang)}) {word} {new} "
             f"({_domain_label(cb, pop, var, new, lang)})"
             for var, mapping in result.weighted[pop].spec.collapse.items()
             for old, new in mapping.items()]
    return ("; " if lang == "en" else " ; ").join(parts)


def _category(result: RunResult, pop: str, variables: tuple[str, ...], code: str,
              lang: str = "en") -> str:
    """A (possibly crossed) margin category with its labels: ``11 Île-de-France``."""
    cb = result.edition.codebook
    labels = [_domain_label(cb, pop, v, c, lang) for v, c in zip(variables, code.split("*"),
                                                                    strict=False)]
    text = " × ".join(labels)
    return code if text == code.replace("*", " × ") else f"{code} ({text})"


def _distribution_table(result: RunResult, pop: str, stats: dict[str, float],
                        lang: str = "en") -> str:
    """Quantiles of the final weights and of the g-weights (from the diagnostics)."""
    design = result.weighted[pop].design
    w = design.weights[design.weights > 0]
    g = g_weights(design)
    rows = [[_tr("final weight", lang),
             *(fmt_num(np.percentile(w, q), 1, lang) for q in QUANTILES)],
            [_tr("final / mean weight", lang),
             *(fmt_num(np.percentile(w / w.mean(), q), 3, lang) for q in QUANTILES)],
            [_tr("g-weight", lang),
             *(fmt_num(np.nanpercentile(g, q), 3, lang) for q in QUANTILES)]]
    if "g_min" in stats:
        rows[-1] = [_tr("g-weight", lang), *(fmt_num(stats[n], 3, lang) for n in G_NAMES)]
    heads = ["", "min", "P1", "P5", "P25", "median", "P75", "P95", "P99", "max"]
    return md_table(_heads(heads, lang), rows, "l" + "r" * 9)


def _populations(result: RunResult, tables: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    out = []
    diag = tables["weighting_diagnostics"]
    for pop, wp in result.weighted.items():
        frame = getattr(result.edition, pop)
        ms = result.edition.margins[pop]
        rec = result.record["weighting"][pop]
        d = diag[(diag["population"] == pop) & (diag["kind"] == "weights")]
        stat = dict(zip(d["name"], d["value"], strict=True))
        margins = diag[(diag["population"] == pop) & (diag["kind"] == "margin")]
        spec = wp.spec
        out.append({
            "name": pop, "label": POPULATION_LABELS[pop], "unit": UNIT_NAMES[pop],
            "n": len(frame), "n_text": f"{fmt_int(len(frame))} {UNIT_NAMES[pop]}",
            "fieldwork": _fieldwork(frame),
            "total": fmt_int(ms.total),
            "employees_total": fmt_int(ms.employees_total) if ms.employees_total else "",
            "margins_source": rec["margins_source"],
            "margins_date": rec["margins_reference_date"],
            "margins": [{"name": n, "source": m.source, "date": m.reference_date.isoformat(),
                         "categories": len(m.counts)} for n, m in ms.margins.items()],
            "method": spec.method, "numeric": list(spec.numeric),
            "collapse": _collapse_text(result, pop),
            "margin_names": ", ".join(f"`{m}`" for m in ms.margins)
            + "".join(f" and the total of `{v}`" for v in spec.numeric),
            "bounds": f"[{spec.bounds[0]}, {spec.bounds[1]}]" if spec.bounds else "none",
            "trim": f"[{spec.trim[0]}, {spec.trim[1]}] × mean weight" if spec.trim
            else "none",
            "design": spec.design, "history": rec["history"],
            "iterations": fmt_int(stat.get("iterations")),
            "constraints": len(margins),
            "max_rel_diff": f"{margins['rel_diff'].abs().max():.1e}" if len(margins) else "",
            "kish_deff": fmt_num(stat["kish_deff"], 3), "n_eff": fmt_num(stat["n_eff"], 1),
            "weight_cv": fmt_num(stat["cv"], 3),
            "g_min": fmt_num(stat.get("g_min", np.nanmin(g_weights(wp.design))), 3),
            "g_max": fmt_num(stat.get("g_max", np.nanmax(g_weights(wp.design))), 3),
            "margins_table": _margins_table(result, pop),
            "distribution_table": _distribution_table(result, pop, stat),
            "df": fmt_int(_design_df(result, pop)),
            "raw": {"total": float(ms.total), "employees_total": float(ms.employees_total or 0),
                    "kish_deff": float(stat["kish_deff"]), "n_eff": float(stat["n_eff"]),
                    "weight_cv": float(stat["cv"]),
                    "g_min": float(stat.get("g_min", np.nanmin(g_weights(wp.design)))),
                    "g_max": float(stat.get("g_max", np.nanmax(g_weights(wp.design)))),
                    "df": _design_df(result, pop),
                    "trim": list(spec.trim) if spec.trim else None,
                    "bounds": list(spec.bounds) if spec.bounds else None,
                    "max_rel_diff": float(margins["rel_diff"].abs().max()) if len(margins)
                    else None},
        })
    return out


def _design_df(result: RunResult, pop: str) -> float:
    """The design degrees of freedom of a population (#PSU - #strata; for replicates, the
    rank of the replicate weights - 1): recorded by the run, else from its design."""
    recorded = result.record.get("design_df", {})
    if pop in recorded:
        return float(recorded[pop])
    return float(result.weighted[pop].design.degf())


def _df_table(result: RunResult, est: pd.DataFrame, lang: str = "en") -> str:
    """Whole-population df of the indicators whose df differs from their population's."""
    rows = []
    for pop in POPULATION_LABELS:
        if pop not in result.weighted:
            continue
        design_df = _design_df(result, pop)
        sub = est[(est["population"] == pop) & (est["by"] == "all")]
        for _, r in sub.iterrows():
            if pd.notna(r["df"]) and float(r["df"]) != design_df:
                rows.append([_pop_label(pop, lang), f"`{r['indicator']}`",
                             fmt_int(r["n"], lang), fmt_int(r["df"], lang),
                             fmt_int(design_df, lang)])
    if not rows:
        return ""
    return md_table(_heads(["Population", "Indicator", "Answers", "df of the indicator",
                            "Design df"], lang), rows, "llrrr")


def _trends_context(tables: dict[str, pd.DataFrame], record: dict[str, Any]
                    ) -> dict[str, Any]:
    """Counts of the trends table for the note (published, tested, significant)."""
    tr = tables.get("trends", pd.DataFrame())
    if tr.empty:
        zero = {"total": 0, "published": 0, "tested": 0, "chance": 0, "significant": 0,
                "raw_significant": 0}
        return {**zero, "raw": zero, "method": record.get("trends_p_adjust", "")}
    pub = tr[tr["status"] == "published"]
    tested = pub[pub["p_value"].notna()]
    raw = {"total": len(tr), "published": len(pub), "tested": len(tested),
           "chance": round(0.05 * len(tested)),
           "significant": int((tested["p_adjusted"] < 0.05).sum()),
           "raw_significant": int((tested["p_value"] < 0.05).sum())}
    return {"raw": raw, "total": fmt_int(len(tr)), "published": fmt_int(len(pub)),
            "tested": fmt_int(len(tested)), "chance": fmt_int(round(0.05 * len(tested))),
            "significant": fmt_int(int((tested["p_adjusted"] < 0.05).sum())),
            "raw_significant": fmt_int(int((tested["p_value"] < 0.05).sum())),
            "method": record.get("trends_p_adjust", "Benjamini-Hochberg")}


# ---------------------------------------------------------------------------- questionnaire
def _filter_text(cb: Codebook, item: Item, lang: str = "en") -> str:
    f = item.filter
    fr = lang == "fr"
    if f is None:
        return "tout le monde" if fr else "everyone"
    if f.source == "item":
        parent = cb.item(item.population, f.name)
        answers = (" ou " if fr else " or ").join(f"« {o.fr} »" for o in parent.options
                                                  if o.code in f.codes)
        return (f"les personnes ayant répondu `{f.name}` = {answers}" if fr
                else f"those who answered `{f.name}` = {answers}")
    labels = ", ".join(cb.label(item.population, f.name, c, lang=lang) for c in f.codes)
    return (f"les unités dont `{f.name}` vaut {labels}" if fr
            else f"units with `{f.name}` in {labels}")


def _questionnaire(cb: Codebook, cat: Catalogue, year: int | None = None
                   ) -> list[dict[str, Any]]:
    out = []
    for pop in POPULATION_LABELS:
        items = []
        for pos, it in enumerate(cb.items_for(pop, year), start=1):
            used = [i.id for i in cat.for_population(pop) if i.item == it.id]
            items.append({
                "position": pos, "id": it.id, "fr": it.fr, "en": it.en, "group": it.group,
                "options": "; ".join(f"{o.code} « {o.fr} » ({o.en})" for o in it.options),
                "options_fr": " ; ".join(f"{o.code} « {o.fr} »" for o in it.options),
                "asked": _filter_text(cb, it), "asked_fr": _filter_text(cb, it, "fr"),
                "used": ", ".join(f"`{u}`" for u in used) or "not used by an indicator",
            })
        out.append({"population": pop, "label": POPULATION_LABELS[pop], "entries": items})
    return out


def _missing_codes(cb: Codebook) -> str:
    return "; ".join(f"{o.code} « {o.fr} » ({o.en})" for o in cb.missing.values())


def _item_nonresponse(result: RunResult, lang: str = "en") -> str:
    cb = result.edition.codebook
    miss = cb.missing_codes
    rows = []
    for pop in POPULATION_LABELS:
        frame = getattr(result.edition, pop)
        for it in cb.items_for(pop, result.year):
            code = pd.to_numeric(frame[it.id], errors="coerce")
            asked = code != miss["not_asked"]
            n = int(asked.sum())
            if not n:
                continue
            dk = int((code == miss["dont_know"]).sum())
            ref = int((code == miss["refused"]).sum())
            rows.append([_tr(pop, lang), f"`{it.id}`", fmt_int(n, lang),
                         fmt_pct(dk / n, lang=lang), fmt_pct(ref / n, lang=lang)])
    return md_table(_heads(["Population", "Item", "Asked (n)", "Don't know %", "Refused %"],
                           lang), rows, "llrrr")


# ---------------------------------------------------------------------------- estimates
def _headline_table(est: pd.DataFrame, cat: Catalogue, headline_only: bool = True,
                    lang: str = "en") -> str:
    rows = []
    for ind in cat.indicators:
        if headline_only and not ind.headline:
            continue
        r = est[(est["indicator"] == ind.id) & (est["by"] == "all")].iloc[0]
        sup = r["status"] == "suppressed"
        k = ind.kind
        rows.append([
            f"`{ind.id}`", ind.label_en if lang == "en" else ind.label_fr,
            _tr("suppressed", lang) if sup else fmt_estimate(r["estimate"], k, lang),
            "" if sup else f"{fmt_estimate(r['ci_low'], k, lang)} – "
            f"{fmt_estimate(r['ci_high'], k, lang)}",
            "" if sup else (fmt_pct(r["se"], 2, lang) if k == "share"
                            else fmt_num(r["se"], 3, lang)),
            fmt_int(r["n"], lang), "" if sup else fmt_num(r["deff"], 2, lang),
            _tr(str(r["status"]), lang)])
    return md_table(_heads(["Indicator", "Label", "Estimate", "Interval", "SE (points)", "n",
                            "deff", "Status"], lang), rows, "llrrrrrl")


def _precision_table(est: pd.DataFrame, cb: Codebook, lang: str = "en") -> str:
    """Half-widths of the intervals of the published shares, per population and breakdown."""
    shares = est[(est["status"] != "suppressed") & est["ci_low"].notna()
                 & (est["ci_method"] != "wald")].copy()
    shares["half"] = 100 * (shares["ci_high"] - shares["ci_low"]) / 2
    rows = []
    for (pop, by), g in shares.groupby(["population", "by"], sort=False):
        rows.append([_tr(str(pop), lang), _by_label(cb, str(by), lang), fmt_int(len(g), lang),
                     fmt_int(g["n"].min(), lang), fmt_int(g["n"].median(), lang),
                     fmt_num(g["half"].min(), 1, lang), fmt_num(g["half"].median(), 1, lang),
                     fmt_num(g["half"].max(), 1, lang)])
    return md_table(_heads(["Population", "Breakdown", "Cells", "Min n", "Median n",
                            "Min half-width", "Median half-width", "Max half-width"], lang),
                    rows, "llrrrrrr")


def _rule_counts(est: pd.DataFrame, lang: str = "en") -> str:
    counts = est.groupby(["population", "status", "rule"], sort=True).size()
    rows = [[_tr(pop, lang), _tr(status, lang), f"`{rule}`", fmt_int(n, lang)]
            for (pop, status, rule), n in counts.items()]
    return md_table(_heads(["Population", "Status", "Rule applied", "Cells"], lang), rows,
                    "lllr")


def _rules(result: RunResult) -> dict[str, Any]:
    r = dict(result.record["catalogue"]["rules"])
    r["cv_caution_pct"] = fmt_pct(r["cv_caution"])
    r["cv_suppress_pct"] = fmt_pct(r["cv_suppress"])
    r["level_pct"] = f"{r['ci_level']:.0%}"
    return r


def _variance(result: RunResult, est: pd.DataFrame) -> dict[str, Any]:
    method = result.record["variance"]
    methods = sorted(est["method"].dropna().astype(str).unique())
    fallbacks = result.record.get("replicate_fallbacks", {})
    parts = []
    for pop, f in fallbacks.items():
        if not f.get("replicates"):
            continue
        text = (f"{pop}: {f.get('relaxed', 0)} of {f['replicates']} replicates could not "
                "meet the trimming bounds and were calibrated without them")
        if f.get("dropped_constraints"):
            text += (f", and {f['dropped_constraints']} calibration constraints were dropped "
                     "in replicates with no unit in the cell")
        parts.append(text)
    fallback_text = ("Replicates re-weighted otherwise than the full sample (counted in the "
                     "run record, `replicate_fallbacks`): " + "; ".join(parts) + ". Their "
                     "weights are less extreme-bounded than the full sample's, which makes "
                     "the replicate variance slightly conservative where the bounds bind."
                     if parts else "")
    return {"bootstrap": method == "bootstrap", "name": method,
            "fallback_text": fallback_text,
            "replicates": result.record.get("replicates"), "seed": result.record.get("seed"),
            "methods": ", ".join(f"`{m}`" for m in methods),
            "series": result.record.get("series_variance", "")}


# ---------------------------------------------------------------------------- checks
SIMULATION_COLUMNS = {  # column of coverage.csv: (heading, French heading, format)
    "scenario": ("Scenario", "Scénario", str), "variance": ("Variance", "Variance", str),
    "indicator": ("Indicator", "Indicateur", str), "reps": ("Samples", "Échantillons", "int"),
    "truth": ("True value %", "Vraie valeur %", "pct"),
    "mean_estimate": ("Mean estimate %", "Estimation moyenne %", "pct"),
    "bias": ("Bias (points)", "Biais (points)", "pct"),
    "se_ratio": ("SE ratio", "Rapport des écarts-types", "num3"),
    "coverage": ("Coverage %", "Couverture %", "pct"),
    "coverage_mcse": ("Coverage MC SE", "Erreur Monte-Carlo de la couverture", "pct")}


def _simulation_cell(value: object, form: object, lang: str) -> str:
    """A cell of the simulation table: a code as it is, a count, a share in %, a ratio."""
    if form is str:
        return str(value)
    return {"int": lambda: fmt_int(value, lang), "pct": lambda: fmt_pct(value, lang=lang),
            "num3": lambda: fmt_num(value, 3, lang)}[str(form)]()


def _simulation_table(path: Path, lang: str = "en") -> tuple[str, int, int]:
    """The overall rows of a simulation's ``coverage.csv`` as a table in ``lang`` (shares in
    %), with the number of rows shown and in the file."""
    frame = pd.read_csv(path)
    shown = frame[frame["by"] == "all"] if "by" in frame else frame
    known = [c for c in SIMULATION_COLUMNS if c in shown]
    if {"indicator", "coverage"} <= set(known):
        rows = [[_simulation_cell(r[c], SIMULATION_COLUMNS[c][2], lang) for c in known]
                for _, r in shown.iterrows()]
        heads = [SIMULATION_COLUMNS[c][0 if lang == "en" else 1] for c in known]
        align = "".join("l" if SIMULATION_COLUMNS[c][2] is str else "r" for c in known)
    else:
        rows = [[fmt_num(v, 4, lang) if isinstance(v, float) else v for v in r]
                for r in shown.itertuples(index=False)]
        heads, align = list(shown.columns), ""
    return md_table(heads, rows, align), len(shown), len(frame)


def _simulation(result: RunResult, folder: Path) -> dict[str, Any]:
    """The latest simulation table, if one was written (``reports/simulation``): the overall
    rows of ``coverage.csv`` (shares in %) and the findings of ``simulation.json``."""
    import json

    recorded = result.record.get("simulation")
    if isinstance(recorded, dict):
        recorded = recorded.get("coverage") or recorded.get("path")
    candidates = [Path(str(recorded))] if recorded else []
    candidates += [folder.parent / SIMULATION_FILE, Path("reports") / SIMULATION_FILE]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return {"found": False}
    table, shown, rows = _simulation_table(path)
    meta_path = path.with_name("simulation.json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return {"found": True, "path": path.as_posix(), "table": table,
            "rows": rows, "shown": shown,
            "findings": [str(f) for f in meta.get("findings", [])],
            "findings_fr": [str(f) for f in meta.get("findings_fr", [])],
            "about": ", ".join(f"{k} {meta[k]}" for k in ("scenario", "variance", "reps",
                                                          "seed", "year") if k in meta)}


def _truth(result: RunResult, est: pd.DataFrame, cat: Catalogue, lang: str = "en") -> str:
    """Synthetic editions: overall estimates against the true values of the population."""
    from barometer.scoreboard.load import load_truth

    path = result.edition.data_dir / str(result.year) / "truth.csv"
    if not path.is_file():
        return ""
    truth = load_truth(result.year, result.edition.data_dir)
    truth = truth[(truth["domain"] == "all")]
    rows = []
    for ind in cat.indicators:
        weighting = "persons" if ind.population == "individuals" else ind.basis
        same = truth[(truth["population"] == ind.population)
                     & (truth["weighting"] == weighting)]
        t = same[same["item"] == ind.item]
        if t.empty:
            continue
        codes = t["code"].astype(int)
        if ind.universe == "codes":
            t = t[codes.isin(ind.universe_codes)]
            codes = t["code"].astype(int)
            t = t.assign(share=t["share"] / t["share"].sum())
        value = (float(t.loc[codes.isin(ind.codes), "share"].sum()) if ind.kind == "share"
                 else float((t["share"] * codes.map(ind.scores)).sum()))
        if ind.not_asked == "zero":
            value = _over_everyone(result, ind, value, same)
            if value is None:
                continue
        r = est[(est["indicator"] == ind.id) & (est["by"] == "all")].iloc[0]
        if r["status"] == "suppressed":
            continue
        inside = float(r["ci_low"]) <= value <= float(r["ci_high"])
        k = ind.kind
        rows.append([f"`{ind.id}`", fmt_estimate(r["estimate"], k, lang),
                     f"{fmt_estimate(r['ci_low'], k, lang)} – "
                     f"{fmt_estimate(r['ci_high'], k, lang)}",
                     fmt_estimate(value, k, lang), _tr("yes" if inside else "no", lang)])
    return md_table(_heads(["Indicator", "Estimate", "Interval", "True value", "Covered"],
                           lang), rows, "lrrrl")


def _over_everyone(result: RunResult, ind: Any, value: float, truth: pd.DataFrame
                   ) -> float | None:
    """The true value of a share over everyone of an item asked of some (``not_asked =
    "zero"``), from its share among the valid answers of those asked. With N the
    population (its calibration total: the synthetic margins are those of the true
    population), V the valid answers of the item (``n_eligible``) and A those asked
    (the filter item's share of the filter codes times its valid answers), those not asked
    count as "no" and the nonresponse A - V is left out, as the estimator does:
    value x V / (N - (A - V)). ``None`` when the filter is not on an item."""
    cb = result.edition.codebook
    f = cb.item(ind.population, ind.item).filter
    margins = result.edition.margins[ind.population]
    total = margins.employees_total if ind.basis == "employees" else margins.total
    if f is None or f.source != "item" or not total:
        return value if f is None else None
    parent = truth[truth["item"] == f.name]
    item = truth[truth["item"] == ind.item]
    if parent.empty or item.empty:
        return None
    valid = float(item["n_eligible"].iloc[0])
    asked = float(parent.loc[parent["code"].astype(int).isin(f.codes), "share"].sum()) \
        * float(parent["n_eligible"].iloc[0])
    return value * valid / (float(total) - (asked - valid))


def _drivers(result: RunResult, tables: dict[str, pd.DataFrame], cat: Catalogue,
             lang: str = "en") -> list[dict[str, Any]]:
    """One table per driver model: odds ratios with their intervals, read from the open
    data (suppressed coefficients shown as such)."""
    drivers = tables.get("drivers")
    if drivers is None or drivers.empty:
        return []
    out = []
    for model, rows in drivers.groupby("model", sort=False):
        ind = cat.get(str(rows["indicator"].iloc[0]))
        body = []
        for r in rows[rows["covariate"] != "(Intercept)"].itertuples():
            level = str(r.term)[len(str(r.covariate)):]
            warn = " †" if isinstance(getattr(r, "warning", ""), str) and r.warning else ""
            if r.status == "suppressed":
                body.append([f"`{r.covariate}`", level, fmt_int(r.n_level, lang),
                             _tr("suppressed", lang), "", ""])
                continue
            body.append([f"`{r.covariate}`", level, fmt_int(r.n_level, lang),
                         fmt_num(r.odds_ratio, 2, lang) + warn,
                         f"[{fmt_num(r.or_ci_low, 2, lang)} ; "
                         f"{fmt_num(r.or_ci_high, 2, lang)}]",
                         _p_text(r.covariate_p_value, lang)])
        coefs = rows[rows["covariate"] != "(Intercept)"]
        ref_word = "reference" if lang == "en" else "référence"
        refs = ", ".join(f"`{c}` ({ref_word} {r})" for c, r in dict.fromkeys(
            zip(coefs["covariate"], coefs["reference_category"], strict=True)))
        out.append({
            "model": model, "indicator": ind.id,
            "label": ind.label_en if lang == "en" else ind.label_fr,
            "population": _pop_label(ind.population, lang), "covariates": refs,
            "n": fmt_int(rows["n"].iloc[0]), "df": fmt_int(rows["df"].iloc[0]),
            "method": str(rows["method"].iloc[0]),
            "table": md_table(_heads(["covariate", "category", "n", "odds ratio", "interval",
                                      "p (covariate)"], lang), body, "llrrrr"),
        })
    return out


def _p_text(p: float, lang: str = "en") -> str:
    return ("< " + fmt_num(0.001, 3, lang)) if p < 0.001 else fmt_num(p, 3, lang)


def _hashes(record: dict[str, Any], lang: str = "en") -> str:
    rows = [[f"`{k}`", f"`{v}`"] for k, v in record.get("input_hashes", {}).items()]
    config = record.get("configuration")
    if config:  # the configuration files actually used (the data folder's or the package's)
        names = {"codebook": "codebook", "catalogue": "indicator catalogue",
                 "weighting": "weighting specification"}
        rows += [[f"{_tr(names.get(role, role), lang)} `{c['file']}`", f"`{c['sha256']}`"]
                 for role, c in config.items()]
    else:  # a run record older than the configuration entry
        rows.append([f"{_tr('indicator catalogue', lang)} `indicators.toml`",
                     f"`{record['catalogue']['sha256']}`"])
        rows.append([f"{_tr('weighting specification', lang)} `weighting.toml`",
                     f"`{record['weighting_sha256']}`"])
    return md_table(_heads(["Input", "SHA-256"], lang), rows)


def _rerun_command(result: RunResult) -> str:
    """The ``barometer run`` command that reproduces the run's open data."""
    rec = result.record
    parts = ["barometer run", f"--year {result.year}"]
    if rec.get("data_dir") not in (None, "", "embedded synthetic data"):
        parts.append(f"--data {rec['data_dir']}")
    if rec.get("variance") == "bootstrap":
        parts.append(f"--variance bootstrap --replicates {rec.get('replicates')}")
    parts += [f"--seed {rec.get('seed')}", f"--out rerun/{result.year}"]
    return " ".join(parts)


def _survey_description(result: RunResult) -> tuple[bool, str]:
    """Whether the edition is synthetic, and the user's survey description (if any)."""
    root = result.edition.data_dir
    synthetic = (root / str(result.year) / "truth.csv").is_file() or \
        result.record.get("data_dir") == "embedded synthetic data"
    for path in (root / str(result.year) / "survey.md", root / "survey.md"):
        if path.is_file():
            return synthetic, path.read_text(encoding="utf-8")
    return synthetic, ""


def _survey_text_in(result: RunResult, lang: str) -> str:
    """The user's survey description written in ``lang`` (``survey.<lang>.md`` beside
    ``survey.md``), or ``""``: the note in ``lang`` then prints ``survey.md`` marked as
    English."""
    root = result.edition.data_dir
    for path in (root / str(result.year) / f"survey.{lang}.md", root / f"survey.{lang}.md"):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return ""


# ---------------------------------------------------------------------------- key findings
def _headline_findings(est: pd.DataFrame, cat: Catalogue) -> list[dict[str, Any]]:
    """The headline indicators, whole populations, as raw numbers (formatted per language
    by the template's filters): estimate and interval, or ``None`` when not published."""
    out = []
    for ind in cat.indicators:
        if not ind.headline:
            continue
        r = est[(est["indicator"] == ind.id) & (est["by"] == "all")].iloc[0]
        shown = r["status"] in ("published", "caution")
        out.append({"id": ind.id, "label_en": ind.label_en, "label_fr": ind.label_fr,
                    "population": ind.population, "kind": ind.kind,
                    "status": str(r["status"]), "n": int(r["n"]),
                    "estimate": float(r["estimate"]) if shown else None,
                    "ci_low": float(r["ci_low"]) if shown else None,
                    "ci_high": float(r["ci_high"]) if shown else None})
    return out


def _change_row(r: Any, cat: Catalogue, cb: Codebook) -> dict[str, Any]:
    ind = cat.get(str(r.indicator))
    by, dom = str(r.by), str(r.domain)
    return {"indicator": ind.id, "label_en": ind.label_en, "label_fr": ind.label_fr,
            "kind": ind.kind, "population": ind.population, "by": by, "domain": dom,
            "by_label": by_label(cb, by) if by != "all" else "",
            "domain_label": domain_label(cb, ind.population, by, dom) if by != "all" else "",
            "by_label_fr": _by_label(cb, by, "fr") if by != "all" else "",
            "domain_label_fr": _domain_label(cb, ind.population, by, dom, "fr")
            if by != "all" else "",
            "year": int(r.year), "reference_year": int(r.reference_year),
            "estimate": float(r.estimate), "reference_estimate": float(r.reference_estimate),
            "change": float(r.change), "se": float(r.se), "p_value": float(r.p_value),
            "p_adjusted": float(r.p_adjusted), "significant": bool(r.significant_5pct)}


def _score_range(ind: Any) -> float:
    """The range of an indicator's values: 1 for a share, max - min score for a mean."""
    if ind.kind == "share" or not ind.scores:
        return 1.0
    scores = [float(v) for v in ind.scores.values()]
    return (max(scores) - min(scores)) or 1.0


def _changes(tables: dict[str, pd.DataFrame], cat: Catalogue, cb: Codebook,
             largest: int = 5) -> dict[str, Any]:
    """What changed, per comparison (previous edition, first edition): the tested changes
    (published, with a *p*-value), how many are significant at 5 % after the
    Benjamini–Hochberg adjustment (Benjamini & Hochberg 1995; column ``significant_5pct``
    of the open data) and before it, the headline indicators' changes and the largest
    changes: the significant ones if any, else all tested, ranked by the absolute change
    as a share of the indicator's range (1 for a share, max - min score for a mean)."""
    tr = tables.get("trends", pd.DataFrame())
    headline = {i.id for i in cat.indicators if i.headline}
    out: dict[str, Any] = {}
    for ref in ("previous", "first"):
        sub = tr[tr["reference"] == ref] if len(tr) else tr
        tested = sub[(sub["status"] == "published") & sub["p_value"].notna()] \
            if len(sub) else sub
        if tested.empty:
            out[ref] = {"tested": 0, "significant": 0, "raw_significant": 0,
                        "reference_year": None, "headline": [], "largest": [],
                        "largest_significant": False}
            continue
        sig = tested[tested["significant_5pct"].astype(bool)]
        pool = sig if len(sig) else tested
        span = pool["indicator"].map(lambda i: _score_range(cat.get(str(i))))
        top = pool.reindex((pool["change"].abs() / span).sort_values(ascending=False).index)
        head = tested[(tested["by"] == "all") & tested["indicator"].isin(headline)]
        order = {i.id: k for k, i in enumerate(cat.indicators)}
        head = head.sort_values("indicator", key=lambda c: c.map(order))
        out[ref] = {
            "tested": len(tested), "significant": len(sig),
            "raw_significant": int((tested["p_value"] < 0.05).sum()),
            "reference_year": int(tested["reference_year"].iloc[0]),
            "headline": [_change_row(r, cat, cb) for r in head.itertuples()],
            "largest": [_change_row(r, cat, cb) for r in top.head(largest).itertuples()],
            "largest_significant": bool(len(sig)),
        }
    return out


def _admin_findings(tables: dict[str, pd.DataFrame], services: pd.DataFrame
                    ) -> dict[str, Any]:
    """What the administrative counts say, as raw numbers: uptake over all services and per
    audience, and the target status of every service of the catalogue."""
    up = tables["admin_uptake"]
    svc = up[up["level"] == "service"]
    status = svc["target_status"].astype(str)
    total = up[up["level"] == "all"]
    aud = up[up["level"] == "audience"]
    not_met = svc[status == "not met"].sort_values("gap_to_target")
    french = dict(zip(services["service_id"], services.get("label_fr", services["label_en"]),
                      strict=True))
    return {
        "services": len(svc), "reported": int((svc["status"] == "reported").sum()),
        "uptake_all": float(total["uptake"].iloc[0]) if len(total) else None,
        "uptake_audience": {str(r.audience): float(r.uptake) for r in aud.itertuples()},
        "met": int((status == "met").sum()), "not_met": int((status == "not met").sum()),
        "not_applicable": int(status.str.startswith("not applicable").sum()),
        "online_only": int(svc["online_only"].astype(bool).sum()),
        "no_target": int(status.str.contains("no target").sum()),
        "no_count": int(status.str.contains("no count").sum()),
        "with_target": int(status.isin(["met", "not met"]).sum()),
        "furthest": [{"service": str(r.service_id), "label_en": str(r.label_en),
                      "label_fr": str(french.get(r.service_id, r.label_en)),
                      "uptake": float(r.uptake), "target": float(r.target),
                      "gap": float(r.gap_to_target)} for r in not_met.head(3).itertuples()],
    }


# ---------------------------------------------------------------------------- disclosure
AAPOR_DISPOSITIONS = ("P", "R", "NC", "O", "UH", "UO", "NE", "e")
FIELDWORK_FILE = "fieldwork.toml"


def _disclosure_config(result: RunResult) -> tuple[dict[str, Any], str]:
    """The ``[survey]``, ``[fieldwork]`` and ``[calendar]`` tables of the publication
    configuration (``publication.toml`` of the data folder, else the package's), with
    ``<year>/fieldwork.toml`` of the data folder replacing ``[survey]`` and ``[fieldwork]``
    for that edition; and where the values came from."""
    import tomllib

    from barometer.publish.opendata import PublishError, load_publication

    data = result.record.get("data_dir")
    own = None if data in (None, "", "embedded synthetic data") else Path(str(data))
    conf = dict(load_publication(own))
    where = f"{own / 'publication.toml'}" if own and (own / "publication.toml").is_file() \
        else "barometer/data/publication.toml"
    year_file = result.edition.data_dir / str(result.year) / FIELDWORK_FILE
    if year_file.is_file():
        try:
            extra = tomllib.loads(year_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise PublishError("the edition's fieldwork file is not valid TOML",
                               where=str(year_file), value=str(exc),
                               hint="fix the file's syntax (docs/data-folder.md)") from exc
        conf.update({k: v for k, v in extra.items() if k in ("survey", "fieldwork")})
        where = f"{where} and {year_file}"
    return conf, where


def _rates(disp: dict[str, Any], interviews: int, where: str, pop: str) -> dict[str, Any]:
    """AAPOR outcome rates (Standard Definitions, 2023) from the final dispositions:

    * RR1 = I / ((I + P) + (R + NC + O) + (UH + UO)),  RR2 = (I + P) / (same);
    * RR3 = I / ((I + P) + (R + NC + O) + e (UH + UO)), RR4 = (I + P) / (same);
    * COOP1 = I / ((I + P) + R + O);  REF1 = R / ((I + P) + (R + NC + O) + (UH + UO));
    * CON1 = ((I + P) + R + O) / ((I + P) + (R + NC + O) + (UH + UO)).

    I (complete interviews) is the number of interviews in the survey file."""
    from barometer.publish.opendata import PublishError

    missing = [k for k in AAPOR_DISPOSITIONS if k not in disp]
    if missing:
        raise PublishError(f"the call outcomes of the {pop} survey lack entries",
                           where=f"{where} [fieldwork.{pop}]", value=missing,
                           hint="give every AAPOR disposition: " + ", ".join(
                               AAPOR_DISPOSITIONS) + " (docs/data-folder.md)")
    vals = {}
    for k in AAPOR_DISPOSITIONS:
        v = disp[k]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 and (
            k != "e" or v <= 1) and (k == "e" or float(v).is_integer())
        if not ok:
            raise PublishError(f"call outcome {k} of the {pop} survey is not valid",
                               where=f"{where} [fieldwork.{pop}]", value=v,
                               hint="counts are whole numbers >= 0; e is a share in [0, 1]")
        vals[k] = float(v)
    i, p = float(interviews), vals["P"]
    r, nc, o, uh, uo, e = (vals[k] for k in ("R", "NC", "O", "UH", "UO", "e"))
    base = (i + p) + (r + nc + o) + (uh + uo)
    base3 = (i + p) + (r + nc + o) + e * (uh + uo)
    coop = (i + p) + r + o
    return {"I": interviews, **{k: (vals[k] if k == "e" else int(vals[k]))
                                for k in AAPOR_DISPOSITIONS},
            "called": int(i + p + r + nc + o + uh + uo + vals["NE"]),
            "RR1": i / base, "RR2": (i + p) / base, "RR3": i / base3, "RR4": (i + p) / base3,
            "COOP1": i / coop, "REF1": r / base, "CON1": coop / base}


def _demographic_questions(cb: Codebook, wording: dict[str, str]) -> list[dict[str, Any]]:
    """The demographic and weighting variables of the codebook (calibration and domain
    variables), with their labels, categories and the wording read out (configuration)."""
    out = []
    for v in cb.variables:
        if v.role not in ("calibration", "domain"):
            continue
        out.append({"name": v.name, "populations": list(v.populations), "fr": v.fr,
                    "en": v.en, "role": v.role,
                    "categories": "; ".join(f"{c.code} « {c.fr} » ({c.en})"
                                            for c in v.categories),
                    "categories_fr": " ; ".join(f"{c.code} « {c.fr} »" for c in v.categories),
                    "range": "" if v.categories else f"{v.min:g}–{v.max:g}"
                    if v.min is not None and v.max is not None else "",
                    "wording": wording.get(v.name, "")})
    return out


def _days(start: object, end: object) -> int | None:
    """Days from ``start`` to ``end`` (ISO dates), ``None`` if either is missing."""
    if not start or not end:
        return None
    return int((pd.Timestamp(str(end)) - pd.Timestamp(str(start))).days)


def _disclosure(result: RunResult, pops: list[dict[str, Any]]) -> dict[str, Any]:
    """The AAPOR items the data cannot tell and the ESS release calendar, from the
    configuration; call outcomes turned into AAPOR rates; timeliness counted from the end
    of fieldwork to the publication date of the calendar (not to the day of the run),
    punctuality from the announced date to the publication date."""
    conf, where = _disclosure_config(result)
    survey = dict(conf.get("survey", {}))
    fieldwork = conf.get("fieldwork", {})
    rates = {}
    for p in pops:
        disp = fieldwork.get(p["name"])
        if disp:
            rates[p["name"]] = {**_rates(disp, int(p["n"]), where, p["name"]),
                                "placeholder": bool(disp.get("placeholder", False)),
                                "label": p["label"]}
    calendar = conf.get("calendar", {})
    releases = sorted(calendar.get("release", []), key=lambda r: int(r["year"]))
    this = next((r for r in releases if int(r["year"]) == result.year), None)
    end = max(p["fieldwork"]["end"] for p in pops)
    timeliness = _days(end, this.get("published")) if this else None
    punctuality = _days(this.get("planned"), this.get("published")) if this else None
    lengths = survey.get("interview_length", {})
    return {
        "source": where, "survey": survey,
        "survey_placeholder": bool(survey.get("placeholder", False)),
        "interview_length": {p["name"]: lengths.get(p["name"]) for p in pops},
        "demographic_questions": _demographic_questions(result.edition.codebook,
                                                        survey.get("wording", {})),
        "rates": rates,
        "calendar": [{"year": int(r["year"]), "planned": str(r.get("planned", "")),
                      "published": str(r.get("published", "")),
                      "delay": _days(r.get("planned"), r.get("published"))}
                     for r in releases],
        "publication": {"publisher": dict(conf["publisher"]),
                        "contact": dict(conf["contact"])},
        "calendar_placeholder": bool(calendar.get("placeholder", False)),
        "release": ({"planned": str(this.get("planned", "")),
                     "published": str(this.get("published", ""))} if this else None),
        "fieldwork_end": end, "timeliness_days": timeliness,
        "punctuality_days": punctuality,
    }


def _relevance(cb: Codebook, cat: Catalogue, year: int) -> dict[str, Any]:
    """What the indicators cover (the survey items they are computed from) and which items
    of the questionnaire no indicator covers (so the note claims no more)."""
    covered, uncovered = [], []
    for pop in POPULATION_LABELS:
        used = {i.item for i in cat.for_population(pop)}
        for it in cb.items_for(pop, year):
            entry = {"population": pop, "item": it.id, "en": it.en, "fr": it.fr,
                     "group": it.group or ""}
            (covered if it.id in used else uncovered).append(entry)
    by_pop: dict[str, list[str]] = {}
    for e in uncovered:
        by_pop.setdefault(e["population"], []).append(e["item"])
    return {"covered": covered, "uncovered": uncovered, "uncovered_by_population": by_pop}


def _verification(record: dict[str, Any]) -> dict[str, Any] | None:
    """The result of ``barometer verify`` on the shipped R reference cases, as recorded by
    the run (``verification`` of the run record), or ``None`` if the run did not record it."""
    v = record.get("verification")
    return dict(v) if isinstance(v, dict) else None


# ---------------------------------------------------------------------------- contents
def _slug(text: str) -> str:
    """A heading's anchor, as GitHub writes it: lower case, punctuation dropped (letters,
    digits, ``_`` and ``-`` kept), spaces to hyphens."""
    text = re.sub(r"[`*]", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(text: str) -> list[tuple[int, str, str]]:
    """Every heading of a Markdown text, in order: (level, text, anchor). The anchors are
    unique (a repeated one gets ``-1``, ``-2``... as on GitHub); the HTML page gives each
    heading the same ``id``, so the contents' links work in both."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    seen: dict[str, int] = {}
    out = []
    for k, tok in enumerate(tokens):
        if tok.type != "heading_open":
            continue
        content = tokens[k + 1].content
        slug = _slug(content) or "section"
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.append((int(tok.tag[1]), content, slug if n == 0 else f"{slug}-{n}"))
    return out


CONTENTS_MARK = "<!-- contents -->"
CONTENTS_SLUGS = ("contents", "sommaire")  # the contents list's own heading, per language
KEY_FINDINGS = {"en": "Key findings", "fr": "Principaux résultats"}
ENGLISH_MARK = "{lang=en}"
"""A paragraph of its own in a template: the next block (a table or paragraph left in
English in another language's note) is marked ``lang="en"`` in the HTML (WCAG 3.1.2)."""


def strip_marks(text: str) -> str:
    """The Markdown of a note without its language marks (as written to the ``.md`` file)."""
    text = re.sub(r"^" + re.escape(ENGLISH_MARK) + r"\n\n", "", text, flags=re.M)
    for mark in INLINE_ENGLISH:
        text = text.replace(mark, "")
    return text


def contents(text: str, deepest: int = 3) -> str:
    """The linked table of contents of a Markdown text (headings of level 2 to
    ``deepest``, nested), for the line ``<!-- contents -->`` of the template."""
    lines = []
    for level, content, slug in headings(text):
        if 2 <= level <= deepest and slug not in CONTENTS_SLUGS:
            lines.append(f"{'  ' * (level - 2)}* [{content}](#{slug})")
    return "\n".join(lines)


def anchor_headings(html: str, text: str) -> str:
    """Give the headings of the HTML of ``text`` their anchors (``id``), in order."""
    anchors = iter(headings(text))

    def add(m: re.Match[str]) -> str:
        _, _, slug = next(anchors)
        return f'<h{m.group(1)} id="{slug}">'

    return re.sub(r"<h([1-6])>", add, html)


# ---------------------------------------------------------------------------- rendering
def build_context(result: RunResult, folder: Path, charts: Charts | None = None
                  ) -> dict[str, Any]:
    """Everything the note and the report print, computed from the run."""
    cat = _catalogue(result)
    tables = result.tables()
    est = tables["estimates"]
    cb = result.edition.codebook
    record = result.record
    synthetic, survey_text = _survey_description(result)
    pops = _populations(result, tables)
    ends = [p["fieldwork"]["end"] for p in pops]
    created = str(record.get("created", ""))[:10]
    received = pd.to_datetime(result.edition.admin_counts.get(
        "date_received", pd.Series([], dtype=str)), errors="coerce")
    return {
        "year": result.year, "synthetic": synthetic, "survey_text": survey_text,
        "version": record.get("version", ""), "created": record.get("created", ""),
        "command": record.get("command", ""), "record": record,
        "python": record.get("python", ""),
        "libraries": ", ".join(f"{k} {v}" for k, v in record.get("libraries", {}).items()),
        "data_dir": record.get("data_dir", ""),
        "populations": pops, "questionnaire": _questionnaire(cb, cat, result.year),
        "codebook_title": cb.title, "codebook_version": cb.version,
        "missing_codes": _missing_codes(cb),
        "headline_table": _headline_table(est, cat),
        "all_indicators_table": _headline_table(est, cat, headline_only=False),
        "precision_table": _precision_table(est, cb),
        "rule_counts": _rule_counts(est), "rules": _rules(result),
        "cells": record.get("cells", {}), "variance": _variance(result, est),
        "domains": {p: ", ".join(f"`{d}`" for d in cat.domains.get(p, ()))
                    for p in POPULATION_LABELS},
        "admin": admin_context(result, tables),
        "nonresponse_table": _item_nonresponse(result),
        "series_years": record.get("series_years", []),
        "fieldwork_end": max(ends), "created_date": created,
        "days_to_publication": (pd.Timestamp(created) - pd.Timestamp(max(ends))).days
        if created else "",
        "admin_received_last": received.max().date().isoformat() if received.notna().any()
        else "",
        "drivers": _drivers(result, tables, cat),
        "drivers_rules": {"sparse": SPARSE_OUTCOME, "wide": f"{WIDE_OR:g}"},
        "df_table": _df_table(result, est),
        "trends": _trends_context(tables, record),
        "simulation": _simulation(result, folder), "truth_table": _truth(result, est, cat),
        "hashes": _hashes(record), "charts": charts,
        "rerun_command": _rerun_command(result),
        "catalogue_version": cat.version, "n_indicators": len(cat.indicators),
        "n_cells": len(est),
        "small_area": small_area_context(result),
        "findings": {"headline": _headline_findings(est, cat),
                     "changes": _changes(tables, cat, cb),
                     "admin": _admin_findings(tables, result.edition.services)},
        "disclosure": _disclosure(result, pops),
        "relevance": _relevance(cb, cat, result.year),
        "verification": _verification(record),
        "level": float(record["catalogue"]["rules"]["ci_level"]),
    }


def localise(context: dict[str, Any], result: RunResult, lang: str) -> dict[str, Any]:
    """The note's context for ``lang``: the same numbers (the context is computed once, by
    :func:`build_context`), with the tables that are built as Markdown text here (headings,
    labels and number formatting) built again in ``lang``."""
    if lang == "en":
        return context
    cat = _catalogue(result)
    tables = result.tables()
    est = tables["estimates"]
    cb = result.edition.codebook
    diag = tables["weighting_diagnostics"]
    pops = []
    for p in context["populations"]:
        d = diag[(diag["population"] == p["name"]) & (diag["kind"] == "weights")]
        stat = dict(zip(d["name"], d["value"], strict=True))
        pops.append({**p, "label": _pop_label(p["name"], lang),
                     "collapse": _collapse_text(result, p["name"], lang),
                     "margins_table": _margins_table(result, p["name"], lang),
                     "distribution_table": _distribution_table(result, p["name"], stat, lang)})
    return {**context, "lang": lang, "populations": pops,
            "headline_table": _headline_table(est, cat, lang=lang),
            "all_indicators_table": _headline_table(est, cat, headline_only=False, lang=lang),
            "precision_table": _precision_table(est, cb, lang),
            "rule_counts": _rule_counts(est, lang),
            "nonresponse_table": _item_nonresponse(result, lang),
            "drivers": _drivers(result, tables, cat, lang),
            "df_table": _df_table(result, est, lang),
            "truth_table": _truth(result, est, cat, lang),
            "hashes": _hashes(context["record"], lang),
            "admin": admin_context(result, tables, lang),
            "small_area": small_area_context(result, lang),
            "simulation": _simulation_in(context["simulation"], lang),
            "survey_text_own": _survey_text_in(result, lang),
            "missing_codes": " ; ".join(f"{o.code} « {o.fr} »" for o in cb.missing.values()),
            "domains": {p: ", ".join(f"{_by_label(cb, d, lang).lower()} (`{d}`)"
                                     for d in cat.domains.get(p, ()))
                        for p in POPULATION_LABELS}}


def _simulation_in(simulation: dict[str, Any], lang: str) -> dict[str, Any]:
    """The simulation entry of the context with its table in ``lang``."""
    if not simulation.get("found"):
        return simulation
    return {**simulation, "table": _simulation_table(Path(simulation["path"]), lang)[0]}


def note_environment(lang: str = "en") -> Any:
    """The templates' environment with number filters in ``lang`` (the context holds raw
    numbers; each language's template formats them): ``pct`` (a proportion in %, without
    the sign), ``est`` (an indicator value: ``kind`` share in %, mean score), ``points``
    (a change: percentage points for a share), ``num``, ``count`` and ``p`` (a p-value)."""
    env = environment()

    def points(value: float, kind: str = "share") -> str:
        return fmt_pct(value, lang=lang) if kind == "share" else fmt_num(value, lang=lang)

    def p_value(value: float) -> str:
        return ("< " + fmt_num(0.001, 3, lang)) if value < 0.001 else fmt_num(value, 3, lang)

    def date(value: object) -> str:
        """An ISO date (``2025-10-31``) as written in ``lang`` (``31 octobre 2025``)."""
        text = str(value or "")
        m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text[:10])
        if lang == "en" or not m:
            return text
        day = int(m.group(3))
        return (f"{'1er' if day == 1 else day} {FRENCH_MONTHS[int(m.group(2)) - 1]} "
                f"{m.group(1)}")

    env.filters.update(
        date=date,
        pct=lambda v, digits=1: fmt_pct(v, digits, lang),
        est=lambda v, kind="share": fmt_estimate(v, kind, lang),
        points=points, p=p_value,
        num=lambda v, digits=2: fmt_num(v, digits, lang),
        count=lambda v: fmt_int(v, lang))
    return env


def render_note(context: dict[str, Any], template: str | None = None,
                lang: str = "en") -> str:
    """The methodology note as Markdown in ``lang`` (template ``note.md.j2``, French
    ``note.fr.md.j2``), its contents list (``<!-- contents -->``) linked to every section."""
    template = template or NOTE_TEMPLATES[lang]
    text = note_environment(lang).get_template(template).render(**context)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text.replace(CONTENTS_MARK, contents(text))


def key_findings(text: str, lang: str = "en") -> str:
    """The *Key findings* section (French *Principaux résultats*) of a rendered note (from
    its heading to the next)."""
    m = re.search(rf"^## {KEY_FINDINGS[lang]}\n(.*?)(?=^## )", text, flags=re.S | re.M)
    return m.group(1) if m else ""


def markdown_to_html(text: str, title: str, charts: Charts | None = None,
                     lang: str = "en") -> str:
    """A standalone HTML page in ``lang`` (``<html lang>``, with a link to the other
    language's version, ``hreflang``) from the note's Markdown (CommonMark + tables): each
    chart with its alt text, caption and data table, tables captioned, French quotations
    marked. In French every block that follows a ``{lang=en}`` paragraph is marked
    ``lang="en"`` (the charts are drawn in each language)."""
    body = caption_tables(embed_charts(anchor_headings(markdown_fragment(text), text),
                                       charts))
    if lang != "en":
        body = re.sub(r"<p>" + re.escape(ENGLISH_MARK) + r"</p>\s*<(\w+)", r'<\1 lang="en"',
                      body)
        body = body.replace(INLINE_ENGLISH[0], '<span lang="en">').replace(
            INLINE_ENGLISH[1], "</span>")
    if lang == "en":
        body = mark_french(body)
    page = reflow_tables(environment().get_template("note.html.j2").render(
        title=title, body=body, lang=lang,
        alternates=[(other, _note_file(other, "html")) for other in NOTE_TEMPLATES
                    if other != lang]))
    if lang == "fr":
        page = page.replace('aria-label="Table (scrolls horizontally on narrow screens)"',
                            'aria-label="Tableau (défile horizontalement sur petit écran)"')
    return page


def _note_file(lang: str, ext: str) -> str:
    """The note's file name in ``lang``: ``methodology-note.md``, ``methodology-note.fr.md``."""
    return f"{NOTE_STEM}.{ext}" if lang == "en" else f"{NOTE_STEM}.{lang}.{ext}"


def write_note_and_report(result: RunResult, folder: Path) -> None:
    """Write the note (Markdown, HTML), the scoreboard pages (``scoreboard.html``,
    ``scoreboard.fr.html``) and their figures (drawn once per language) in ``folder``."""
    from barometer.publish.report import LANGS

    folder = Path(folder)
    charts_of = {}
    for lang in LANGS:
        drawn = write_figures(result, folder, lang)
        charts_of[lang] = dataclasses.replace(drawn, small_area=small_area_chart(
            result.tables(), folder / "figures", lang))
    charts = charts_of["en"]
    context = build_context(result, folder, charts)
    for lang in NOTE_TEMPLATES:
        text = render_note(localise({**context, "charts": charts_of[lang]}, result, lang),
                           lang=lang)
        (folder / _note_file(lang, "md")).write_text(strip_marks(text), encoding="utf-8")
        title = NOTE_TITLES[lang].format(year=result.year)
        (folder / _note_file(lang, "html")).write_text(
            markdown_to_html(text, title, charts_of[lang], lang), encoding="utf-8")
    for lang in LANGS:
        write_scoreboard(result, folder, charts_of[lang], context, lang)


__all__ = ["NOTE_STEM", "OUTPUTS", "anchor_headings", "build_context", "contents",
           "headings", "key_findings", "localise", "markdown_to_html", "note_environment",
           "render_note", "strip_marks", "write_note_and_report"]
