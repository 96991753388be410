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
OUTPUTS = (f"{NOTE_STEM}.md", f"{NOTE_STEM}.html", "scoreboard.html", "scoreboard.fr.html")
UNIT_NAMES = {"individuals": "adults", "companies": "companies"}
QUANTILES = (0, 1, 5, 25, 50, 75, 95, 99, 100)
G_NAMES = ("g_min", "g_p1", "g_p5", "g_p25", "g_p50", "g_p75", "g_p95", "g_p99", "g_max")


# ---------------------------------------------------------------------------- populations
def _fieldwork(frame: pd.DataFrame) -> dict[str, Any]:
    dates = pd.to_datetime(frame["interview_date"])
    modes = frame["mode"].astype(str).value_counts()
    return {"start": dates.min().date().isoformat(), "end": dates.max().date().isoformat(),
            "days": int(dates.dt.normalize().nunique()),
            "modes": ", ".join(f"{m} {fmt_int(c)} ({fmt_pct(c / len(frame))} %)"
                               for m, c in modes.items())}


def _margins_table(result: RunResult, pop: str) -> str:
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
            label = " + ".join(_category(result, pop, m.variables, c) for c in cats)
            rows.append([f"`{name}`", label, fmt_int(target), fmt_pct(target / ms.total),
                         fmt_pct(hit.mean()), fmt_int(achieved),
                         f"{(achieved - target) / target:.1e}" if target else ""])
    diag = wp.diagnostics.margins
    for _, r in diag[diag["constraint"].isin(wp.spec.numeric)].iterrows():
        rows.append([f"`{r['constraint']}` (total)", "all", fmt_int(r["target"]), "", "",
                     fmt_int(r["achieved"]), f"{r['rel_diff']:.1e}"])
    return md_table(["Margin", "Category", "Target", "Target %", "Sample % (unweighted)",
                     "Achieved (weighted)", "Relative difference"], rows, "llrrrrr")


def _collapse_text(result: RunResult, pop: str) -> str:
    cb = result.edition.codebook
    parts = [f"`{var}` {old} ({domain_label(cb, pop, var, old)}) with {new} "
             f"({domain_label(cb, pop, var, new)})"
             for var, mapping in result.weighted[pop].spec.collapse.items()
             for old, new in mapping.items()]
    return "; ".join(parts)


def _category(result: RunResult, pop: str, variables: tuple[str, ...], code: str) -> str:
    """A (possibly crossed) margin category with its labels: ``11 Île-de-France``."""
    cb = result.edition.codebook
    labels = [domain_label(cb, pop, v, c) for v, c in zip(variables, code.split("*"),
                                                             strict=False)]
    text = " × ".join(labels)
    return code if text == code.replace("*", " × ") else f"{code} ({text})"


def _distribution_table(result: RunResult, pop: str, stats: dict[str, float]) -> str:
    """Quantiles of the final weights and of the g-weights (from the diagnostics)."""
    design = result.weighted[pop].design
    w = design.weights[design.weights > 0]
    g = g_weights(design)
    rows = [["final weight", *(fmt_num(np.percentile(w, q), 1) for q in QUANTILES)],
            ["final / mean weight", *(fmt_num(np.percentile(w / w.mean(), q), 3)
                                      for q in QUANTILES)],
            ["g-weight", *(fmt_num(np.nanpercentile(g, q), 3) for q in QUANTILES)]]
    if "g_min" in stats:
        rows[-1] = ["g-weight", *(fmt_num(stats[n], 3) for n in G_NAMES)]
    heads = ["", "min", "P1", "P5", "P25", "median", "P75", "P95", "P99", "max"]
    return md_table(heads, rows, "l" + "r" * 9)


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
        })
    return out


def _design_df(result: RunResult, pop: str) -> float:
    """The design degrees of freedom of a population (#PSU - #strata; for replicates, the
    rank of the replicate weights - 1): recorded by the run, else from its design."""
    recorded = result.record.get("design_df", {})
    if pop in recorded:
        return float(recorded[pop])
    return float(result.weighted[pop].design.degf())


def _df_table(result: RunResult, est: pd.DataFrame) -> str:
    """Whole-population df of the indicators whose df differs from their population's."""
    rows = []
    for pop in POPULATION_LABELS:
        if pop not in result.weighted:
            continue
        design_df = _design_df(result, pop)
        sub = est[(est["population"] == pop) & (est["by"] == "all")]
        for _, r in sub.iterrows():
            if pd.notna(r["df"]) and float(r["df"]) != design_df:
                rows.append([POPULATION_LABELS[pop], f"`{r['indicator']}`", fmt_int(r["n"]),
                             fmt_int(r["df"]), fmt_int(design_df)])
    if not rows:
        return ""
    return md_table(["Population", "Indicator", "Answers", "df of the indicator",
                     "Design df"], rows, "llrrr")


def _trends_context(tables: dict[str, pd.DataFrame], record: dict[str, Any]
                    ) -> dict[str, Any]:
    """Counts of the trends table for the note (published, tested, significant)."""
    tr = tables.get("trends", pd.DataFrame())
    if tr.empty:
        return {"total": 0, "published": 0, "tested": 0, "chance": 0, "significant": 0,
                "raw_significant": 0, "method": record.get("trends_p_adjust", "")}
    pub = tr[tr["status"] == "published"]
    tested = pub[pub["p_value"].notna()]
    return {"total": fmt_int(len(tr)), "published": fmt_int(len(pub)),
            "tested": fmt_int(len(tested)), "chance": fmt_int(round(0.05 * len(tested))),
            "significant": fmt_int(int((tested["p_adjusted"] < 0.05).sum())),
            "raw_significant": fmt_int(int((tested["p_value"] < 0.05).sum())),
            "method": record.get("trends_p_adjust", "Benjamini-Hochberg")}


# ---------------------------------------------------------------------------- questionnaire
def _filter_text(cb: Codebook, item: Item) -> str:
    f = item.filter
    if f is None:
        return "everyone"
    if f.source == "item":
        parent = cb.item(item.population, f.name)
        answers = " or ".join(f"« {o.fr} »" for o in parent.options if o.code in f.codes)
        return f"those who answered `{f.name}` = {answers}"
    labels = ", ".join(cb.label(item.population, f.name, c) for c in f.codes)
    return f"units with `{f.name}` in {labels}"


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
                "asked": _filter_text(cb, it),
                "used": ", ".join(f"`{u}`" for u in used) or "not used by an indicator",
            })
        out.append({"population": pop, "label": POPULATION_LABELS[pop], "entries": items})
    return out


def _missing_codes(cb: Codebook) -> str:
    return "; ".join(f"{o.code} « {o.fr} » ({o.en})" for o in cb.missing.values())


def _item_nonresponse(result: RunResult) -> str:
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
            rows.append([pop, f"`{it.id}`", fmt_int(n), fmt_pct(dk / n), fmt_pct(ref / n)])
    return md_table(["Population", "Item", "Asked (n)", "Don't know %", "Refused %"], rows,
                    "llrrr")


# ---------------------------------------------------------------------------- estimates
def _headline_table(est: pd.DataFrame, cat: Catalogue, headline_only: bool = True) -> str:
    rows = []
    for ind in cat.indicators:
        if headline_only and not ind.headline:
            continue
        r = est[(est["indicator"] == ind.id) & (est["by"] == "all")].iloc[0]
        sup = r["status"] == "suppressed"
        k = ind.kind
        rows.append([
            f"`{ind.id}`", ind.label_en, "suppressed" if sup else fmt_estimate(r["estimate"], k),
            "" if sup else f"{fmt_estimate(r['ci_low'], k)} – {fmt_estimate(r['ci_high'], k)}",
            "" if sup else (fmt_pct(r["se"], 2) if k == "share" else fmt_num(r["se"], 3)),
            fmt_int(r["n"]), "" if sup else fmt_num(r["deff"], 2), r["status"]])
    return md_table(["Indicator", "Label", "Estimate", "Interval", "SE (points)", "n", "deff",
                     "Status"], rows, "llrrrrrl")


def _precision_table(est: pd.DataFrame, cb: Codebook) -> str:
    """Half-widths of the intervals of the published shares, per population and breakdown."""
    shares = est[(est["status"] != "suppressed") & est["ci_low"].notna()
                 & (est["ci_method"] != "wald")].copy()
    shares["half"] = 100 * (shares["ci_high"] - shares["ci_low"]) / 2
    rows = []
    for (pop, by), g in shares.groupby(["population", "by"], sort=False):
        rows.append([pop, by_label(cb, str(by)), fmt_int(len(g)), fmt_int(g["n"].min()),
                     fmt_int(g["n"].median()), fmt_num(g["half"].min(), 1),
                     fmt_num(g["half"].median(), 1), fmt_num(g["half"].max(), 1)])
    return md_table(["Population", "Breakdown", "Cells", "Min n", "Median n",
                     "Min half-width", "Median half-width", "Max half-width"], rows,
                    "llrrrrrr")


def _rule_counts(est: pd.DataFrame) -> str:
    counts = est.groupby(["population", "status", "rule"], sort=True).size()
    rows = [[pop, status, f"`{rule}`", fmt_int(n)] for (pop, status, rule), n in
            counts.items()]
    return md_table(["Population", "Status", "Rule applied", "Cells"], rows, "lllr")


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
SIMULATION_COLUMNS = {  # column of coverage.csv: (heading, format)
    "scenario": ("Scenario", str), "variance": ("Variance", str),
    "indicator": ("Indicator", str), "reps": ("Samples", fmt_int),
    "truth": ("True value %", fmt_pct), "mean_estimate": ("Mean estimate %", fmt_pct),
    "bias": ("Bias (points)", fmt_pct), "se_ratio": ("SE ratio", lambda v: fmt_num(v, 3)),
    "coverage": ("Coverage %", fmt_pct), "coverage_mcse": ("Coverage MC SE", fmt_pct)}


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
    frame = pd.read_csv(path)
    shown = frame[frame["by"] == "all"] if "by" in frame else frame
    known = [c for c in SIMULATION_COLUMNS if c in shown]
    if {"indicator", "coverage"} <= set(known):
        rows = [[SIMULATION_COLUMNS[c][1](r[c]) for c in known] for _, r in shown.iterrows()]
        heads = [SIMULATION_COLUMNS[c][0] for c in known]
        align = "".join("l" if SIMULATION_COLUMNS[c][1] is str else "r" for c in known)
    else:
        rows = [[fmt_num(v, 4) if isinstance(v, float) else v for v in r]
                for r in shown.itertuples(index=False)]
        heads, align = list(shown.columns), ""
    meta_path = path.with_name("simulation.json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    return {"found": True, "path": path.as_posix(), "table": md_table(heads, rows, align),
            "rows": len(frame), "shown": len(shown),
            "findings": [str(f) for f in meta.get("findings", [])],
            "about": ", ".join(f"{k} {meta[k]}" for k in ("scenario", "variance", "reps",
                                                          "seed", "year") if k in meta)}


def _truth(result: RunResult, est: pd.DataFrame, cat: Catalogue) -> str:
    """Synthetic editions: overall estimates against the true values of the population."""
    from barometer.scoreboard.load import load_truth

    path = result.edition.data_dir / str(result.year) / "truth.csv"
    if not path.is_file():
        return ""
    truth = load_truth(result.year, result.edition.data_dir)
    truth = truth[(truth["domain"] == "all")]
    rows = []
    for ind in cat.indicators:
        if ind.not_asked == "zero":
            continue
        weighting = "persons" if ind.population == "individuals" else ind.basis
        t = truth[(truth["population"] == ind.population) & (truth["item"] == ind.item)
                  & (truth["weighting"] == weighting)]
        if t.empty:
            continue
        codes = t["code"].astype(int)
        if ind.universe == "codes":
            t = t[codes.isin(ind.universe_codes)]
            codes = t["code"].astype(int)
            t = t.assign(share=t["share"] / t["share"].sum())
        value = (float(t.loc[codes.isin(ind.codes), "share"].sum()) if ind.kind == "share"
                 else float((t["share"] * codes.map(ind.scores)).sum()))
        r = est[(est["indicator"] == ind.id) & (est["by"] == "all")].iloc[0]
        if r["status"] == "suppressed":
            continue
        inside = float(r["ci_low"]) <= value <= float(r["ci_high"])
        k = ind.kind
        rows.append([f"`{ind.id}`", fmt_estimate(r["estimate"], k),
                     f"{fmt_estimate(r['ci_low'], k)} – {fmt_estimate(r['ci_high'], k)}",
                     fmt_estimate(value, k), "yes" if inside else "no"])
    return md_table(["Indicator", "Estimate", "Interval", "True value", "Covered"], rows,
                    "lrrrl")


def _drivers(result: RunResult, tables: dict[str, pd.DataFrame], cat: Catalogue
             ) -> list[dict[str, Any]]:
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
                body.append([f"`{r.covariate}`", level, fmt_int(r.n_level), "suppressed",
                             "", ""])
                continue
            body.append([f"`{r.covariate}`", level, fmt_int(r.n_level),
                         fmt_num(r.odds_ratio, 2) + warn,
                         f"[{fmt_num(r.or_ci_low, 2)} ; {fmt_num(r.or_ci_high, 2)}]",
                         _p_text(r.covariate_p_value)])
        coefs = rows[rows["covariate"] != "(Intercept)"]
        refs = ", ".join(f"`{c}` (reference {r})" for c, r in dict.fromkeys(
            zip(coefs["covariate"], coefs["reference_category"], strict=True)))
        out.append({
            "model": model, "indicator": ind.id, "label": ind.label_en,
            "population": POPULATION_LABELS[ind.population], "covariates": refs,
            "n": fmt_int(rows["n"].iloc[0]), "df": fmt_int(rows["df"].iloc[0]),
            "method": str(rows["method"].iloc[0]),
            "table": md_table(["covariate", "category", "n", "odds ratio", "interval",
                               "p (covariate)"], body, "llrrrr"),
        })
    return out


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else fmt_num(p, 3)


def _hashes(record: dict[str, Any]) -> str:
    rows = [[f"`{k}`", f"`{v}`"] for k, v in record.get("input_hashes", {}).items()]
    config = record.get("configuration")
    if config:  # the configuration files actually used (the data folder's or the package's)
        names = {"codebook": "codebook", "catalogue": "indicator catalogue",
                 "weighting": "weighting specification"}
        rows += [[f"{names.get(role, role)} `{c['file']}`", f"`{c['sha256']}`"]
                 for role, c in config.items()]
    else:  # a run record older than the configuration entry
        rows.append(["indicator catalogue `indicators.toml`",
                     f"`{record['catalogue']['sha256']}`"])
        rows.append(["weighting specification `weighting.toml`",
                     f"`{record['weighting_sha256']}`"])
    return md_table(["Input", "SHA-256"], rows)


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
    }


def render_note(context: dict[str, Any]) -> str:
    """The methodology note as Markdown (template ``note.md.j2``)."""
    text = environment().get_template("note.md.j2").render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def markdown_to_html(text: str, title: str, charts: Charts | None = None) -> str:
    """A standalone HTML page from the note's Markdown (CommonMark + tables): each chart
    with its alt text, caption and data table, tables captioned, French quotations marked."""
    body = mark_french(caption_tables(embed_charts(markdown_fragment(text), charts)))
    return reflow_tables(environment().get_template("note.html.j2").render(
        title=title, body=body))


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
    text = render_note(context)
    (folder / f"{NOTE_STEM}.md").write_text(text, encoding="utf-8")
    title = f"Methodology note — digital public-services scoreboard {result.year}"
    (folder / f"{NOTE_STEM}.html").write_text(markdown_to_html(text, title, charts),
                                              encoding="utf-8")
    for lang in LANGS:
        write_scoreboard(result, folder, charts_of[lang], context, lang)


__all__ = ["NOTE_STEM", "OUTPUTS", "build_context", "markdown_to_html", "render_note",
           "write_note_and_report"]
