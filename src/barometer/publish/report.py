"""Stage *publish* (report): the scoreboard's charts and its self-contained HTML page.

Charts are drawn with matplotlib (Agg canvas, no pyplot state) and seaborn, and written as
PNG and SVG under ``figures/``: headline indicators with their intervals, every indicator by
domain (suppressed cells marked, never drawn), trends across editions with interval bands,
digital uptake per service against its target, survey vs administrative shares, and the
weight and g-weight distributions. ``scoreboard.html`` shows them with the headline table;
images are referenced by relative paths under ``figures/``, so the page opens from disk.

Every number drawn comes from the run's open-data tables (``RunResult.tables()``: the
publication rules applied), never from the raw estimates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd

from barometer.survey.calibrate import calibrations

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from barometer.scoreboard.codebook import Codebook
    from barometer.scoreboard.result import RunResult

FIGURE_FORMATS = ("png", "svg")
POPULATION_LABELS = {"individuals": "Individuals (adults 18+)", "companies": "Companies"}
DERIVED_LABELS = {"size_10plus": ("Size (fewer than 10 / 10 or more employees)",
                                  {"<10": "fewer than 10 employees",
                                   "10+": "10 employees or more"})}
SHORT_BY = {"sex": "Sex", "age_band": "Age", "pcs": "PCS", "region": "Region",
            "urban_size": "Urban unit", "education": "Education", "internet_use": "Internet",
            "size_band": "Size", "size_10plus": "Size", "sector": "Sector"}
STATUS_COLOURS = {"published": "#1f5fa8", "caution": "#e08a00", "suppressed": "#9a9a9a"}
_RC = {"svg.hashsalt": "barometer", "svg.fonttype": "none", "font.size": 9,
       "axes.titlesize": 10, "axes.labelsize": 9}


# ------------------------------------------------------------------------------ formatting
def fmt_pct(value: object, digits: int = 1) -> str:
    """A proportion as a percentage without the sign (``0.7912`` -> ``"79.1"``)."""
    v = _num(value)
    return "" if v is None else f"{100 * v:.{digits}f}"


def fmt_num(value: object, digits: int = 2) -> str:
    """A number with ``digits`` decimals (empty for a missing value)."""
    v = _num(value)
    return "" if v is None else f"{v:,.{digits}f}"


def fmt_int(value: object) -> str:
    """An integer with thousands separators (empty for a missing value)."""
    v = _num(value)
    return "" if v is None else f"{round(v):,}"


def fmt_estimate(value: object, kind: str) -> str:
    """An indicator value as printed: a share in % (1 decimal), a mean score (2)."""
    return f"{fmt_pct(value)} %" if kind == "share" and _num(value) is not None \
        else fmt_num(value)


def _num(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def by_label(codebook: Codebook, by: str) -> str:
    """The label of a breakdown variable (``all`` = whole population)."""
    if by == "all" or by in DERIVED_LABELS:
        return DERIVED_LABELS[by][0] if by != "all" else "All"
    return next((v.en for v in codebook.variables if v.name == by), by)


def domain_label(codebook: Codebook, population: str, by: str, domain: str) -> str:
    """The label of a domain (a category of a breakdown variable)."""
    if by == "all" or by in DERIVED_LABELS:
        return DERIVED_LABELS[by][1].get(domain, domain) if by != "all" else "All"
    try:
        return codebook.label(population, by, domain)
    except (KeyError, ValueError):
        return domain


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
             align: str = "") -> str:
    """A Markdown pipe table; ``align`` holds one of ``l``/``r``/``c`` per column."""
    align = align.ljust(len(headers), "l")
    marks = {"l": ":--", "r": "--:", "c": ":-:"}

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def markdown_fragment(text: str) -> str:
    """HTML of Markdown text (CommonMark with tables; right-aligned cells get class "r")."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return re.sub(r'<(t[hd]) style="text-align:right">', r'<\1 class="r">', body)


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the packaged templates (``barometer/templates``)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("barometer.publish", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(int=fmt_int)
    return env


# ------------------------------------------------------------------------- admin tables
def _join(values: Iterable[object]) -> str:
    vals = [str(v) for v in dict.fromkeys(values) if pd.notna(v) and str(v)]
    return "; ".join(vals)


def admin_context(result: RunResult, tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The administrative data of a run as the note and the report print them: one row per
    service of the catalogue (definitions; figures), per ministry, warnings, coherence."""
    counts = result.edition.admin_counts
    up = tables["admin_uptake"]
    svc_up = up[up["level"] == "service"].set_index("service_id")
    definitions, figures = [], []
    online_defs = set()
    for _, s in result.edition.services.iterrows():
        sid = s["service_id"]
        c = counts[counts["service_id"] == sid] if len(counts) else counts
        u = svc_up.loc[sid] if sid in svc_up.index else None
        received = len(c) > 0
        channels = ", ".join(ch for ch, n in zip(c["channel"], c["count"], strict=True)
                             if n > 0) if received else "none received"
        if received:
            online_defs.update(c["online_definition"].astype(str))
        no = f"not received for {result.year}"
        definitions.append([
            s["label_en"], _join(c["supplier"]) if received else f"{s['ministry']} ({no})",
            _join(c["counting_unit"]) if received else no, channels,
            _join(c["coverage"]) if received else no,
            _join(c["online_definition"]) if received else no])
        revised = received and bool(pd.to_numeric(c["revised"], errors="coerce").max())
        figures.append([
            s["label_en"], f"{result.year}",
            _join(c["date_received"].astype(str).str[:10]) if received else "not received",
            "revised by the supplier" if revised else ("none" if received else ""),
            fmt_pct(u["uptake"]) if u is not None and received else "missing",
            fmt_pct(s["target_2016"], 0),
            ("met" if bool(u["target_met"]) else "not met") if received and u is not None
            and pd.notna(u["target_met"]) else ""])
    total = up[up["level"] == "all"].iloc[0]
    svc = up[up["level"] == "service"]
    heads = ["Service", "Supplier", "Counting unit", "Channels reported", "Coverage",
             "Online means"]
    if len(online_defs) <= 1:  # one definition for all: stated once in the text
        heads, definitions = heads[:-1], [r[:-1] for r in definitions]
    return {
        "definitions": md_table(heads, definitions),
        "figures": md_table(["Service", "Reference period (year)", "Date received",
                             "Revisions", "Uptake %", "Target %", "Target"], figures,
                            "llllrrl"),
        "online_text": "; ".join(f"*{d}*" for d in sorted(online_defs)) or "none received",
        "n_services": len(result.edition.services),
        "n_reported": int((svc["status"] == "reported").sum()),
        "n_met": int(svc["target_met"].astype("boolean").fillna(False).sum()),
        "uptake_all": fmt_pct(total["uptake"]), "target_all": fmt_pct(total["target"]),
        "warnings": [_warning_text(w) for w in result.edition.warnings],
        "coherence": _coherence_table(tables["coherence"]),
        "ministries": _ministry_table(up),
    }


def _warning_text(w: object) -> str:
    parts = [f"`{getattr(w, 'file', '')}`", str(getattr(w, "problem", w))]
    value = getattr(w, "value", None)
    if value not in (None, ""):
        parts.append(f"(`{value}`)")
    hint = getattr(w, "hint", "")
    return " ".join(parts) + (f"; what to do: {hint}" if hint else "")


def _ministry_table(up: pd.DataFrame) -> str:
    rows = [[r["label_en"], r["status"], fmt_int(r["total"]), fmt_pct(r["uptake"]),
             fmt_pct(r["target"])] for _, r in up[up["level"] != "service"].iterrows()]
    return md_table(["Ministry or agency", "Services", "Procedures", "Uptake %",
                     "Target % (volume weighted)"], rows, "llrrr")


def _coherence_table(coh: pd.DataFrame) -> str:
    rows = []
    for _, r in coh.iterrows():
        has = pd.notna(r["survey_estimate"])
        within = r["admin_within_survey_ci"]
        rows.append([
            r["label_en"], f"`{r['survey_item']}`",
            f"`{r['indicator']}`" if isinstance(r["indicator"], str) else "none",
            fmt_pct(r["survey_estimate"]) if has else r["survey_status"],
            f"{fmt_pct(r['survey_ci_low'])} – {fmt_pct(r['survey_ci_high'])}" if has else "",
            fmt_pct(r["admin_uptake"]) if pd.notna(r["admin_uptake"]) else r["admin_status"],
            fmt_num(100 * r["difference"], 1) if pd.notna(r["difference"]) else "",
            "" if pd.isna(within) else ("yes" if bool(within) else "no")])
    return md_table(["Service", "Survey item", "Indicator", "Survey %", "Survey interval",
                     "Admin %", "Difference (points)", "Admin inside interval"], rows,
                    "lllrrrrl")


# ------------------------------------------------------------------------------ figures
@dataclass(frozen=True)
class Chart:
    """One chart written under ``figures/``: its stem, title and caption."""

    stem: str
    title: str
    caption: str

    def path(self, fmt: str = "png") -> str:
        """The chart's path relative to the output folder."""
        return f"figures/{self.stem}.{fmt}"


def _figure(width: float, height: float, *, left: float | None = None, top: float = 0.4
            ) -> Figure:
    """A figure on an Agg canvas; ``left``: a fixed left margin in inches (a fixed layout,
    much faster than the constrained layout for charts with many labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if left is None:
        fig = Figure(figsize=(width, height), layout="constrained")
    else:
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - 0.25 / width,
                            top=1 - top / height, bottom=0.5 / height)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, folder: Path, stem: str) -> None:
    import matplotlib as mpl

    with mpl.rc_context(_RC):
        for fmt in FIGURE_FORMATS:
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(folder / f"{stem}.{fmt}", format=fmt, dpi=100, metadata=meta)


def _interval_rows(ax: Axes, frame: pd.DataFrame, labels: Sequence[str], scale: float
                   ) -> None:
    """Point + interval per row (top to bottom); suppressed rows are written, not drawn."""
    y = np.arange(len(frame))[::-1].astype(float)
    status = frame["status"].astype(str).to_numpy()
    est = pd.to_numeric(frame["estimate"], errors="coerce").to_numpy(float) * scale
    lo = pd.to_numeric(frame["ci_low"], errors="coerce").to_numpy(float) * scale
    hi = pd.to_numeric(frame["ci_high"], errors="coerce").to_numpy(float) * scale
    hidden = (status == "suppressed") | ~np.isfinite(est)
    for name in ("published", "caution"):
        m = (status == name) & ~hidden
        if not m.any():
            continue
        colour = STATUS_COLOURS[name]
        ax.hlines(y[m], lo[m], hi[m], color=colour, lw=1.6)
        ax.scatter(est[m], y[m], s=22, color=colour, zorder=3,
                   facecolors="white" if name == "caution" else colour)
    for yi in y[hidden]:
        ax.text(0.01, yi, "suppressed", transform=ax.get_yaxis_transform(), va="center",
                ha="left", color=STATUS_COLOURS["suppressed"], fontsize=7, style="italic")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(frame) - 0.3)


def _headline(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    cat = _catalogue()
    est = tables["estimates"]
    heads = [i for i in cat.indicators if i.headline and i.kind == "share"]
    pops = [p for p in ("individuals", "companies") if any(i.population == p for i in heads)]
    sizes = [sum(i.population == p for i in heads) for p in pops]
    fig = _figure(8.2, 0.9 + 0.38 * sum(sizes) + 0.4 * len(pops))
    axes = fig.subplots(len(pops), 1, sharex=True, height_ratios=sizes, squeeze=False)[:, 0]
    for ax, pop in zip(axes, pops, strict=True):
        inds = [i for i in heads if i.population == pop]
        rows = pd.DataFrame([_overall(est, i.id) for i in inds])
        _interval_rows(ax, rows, [_wrap(i.label_en, 48) for i in inds], 100)
        for yi, (_, r) in zip(range(len(rows))[::-1], rows.iterrows(), strict=True):
            if r["status"] != "suppressed":
                ax.annotate(f"{fmt_pct(r['estimate'])} %", (float(r["ci_high"]) * 100, yi),
                            xytext=(4, 0), textcoords="offset points", va="center",
                            fontsize=7)
        ax.set_title(POPULATION_LABELS[pop], loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlim(0, 100)
    axes[-1].set_xlabel(f"% (with {_level(result)} confidence interval)")
    _save(fig, folder, "headline")
    return Chart("headline", "Headline indicators",
                 f"Headline indicators of the {result.year} edition, with their confidence "
                 "intervals (open circles: use with caution).")


def _overall(est: pd.DataFrame, indicator: str) -> pd.Series:
    rows = est[(est["indicator"] == indicator) & (est["by"] == "all")]
    return rows.iloc[0]


def _short(label: str, width: int = 60) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _level(result: RunResult) -> str:
    return f"{result.record['catalogue']['rules']['ci_level']:.0%}"


DOMAIN_PANELS = 4
"""Indicators drawn side by side in one chart of the indicators by domain."""


def _domains(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path
             ) -> list[Chart]:
    """Indicators by domain: per population, charts of up to four indicators side by side
    sharing the domain labels (one chart per indicator would take seconds more to draw)."""
    cat = _catalogue()
    cb = result.edition.codebook
    est = tables["estimates"]
    charts = []
    for pop in POPULATION_LABELS:
        inds = [i for i in cat.for_population(pop) if (est["indicator"] == i.id).any()]
        keys = _domain_keys(est[est["population"] == pop], cb)
        labels = [domain_label(cb, pop, b, d) if b == "all" else
                  f"{SHORT_BY.get(b, b)}: {_short(domain_label(cb, pop, b, d), 30)}"
                  for b, d in zip(keys["by"], keys["domain"], strict=True)]
        groups = [inds[k:k + DOMAIN_PANELS] for k in range(0, len(inds), DOMAIN_PANELS)]
        for number, group in enumerate(groups, start=1):
            fig = _figure(11.0, 1.3 + 0.16 * len(keys), left=2.4, top=0.75)
            fig.subplots_adjust(wspace=0.12)
            axes = fig.subplots(1, DOMAIN_PANELS)
            for k, (ax, ind) in enumerate(zip(axes, group, strict=False)):
                rows = keys.merge(est[est["indicator"] == ind.id], on=["by", "domain"],
                                  how="left")
                rows["status"] = rows["status"].fillna("suppressed")
                scale = 100 if ind.kind == "share" else 1
                _interval_rows(ax, rows, labels if k == 0 else [""] * len(rows), scale)
                _separators(ax, keys["by"].to_numpy())
                if ind.kind == "share":
                    ax.set_xlim(0, 100)
                    ax.set_xticks([0, 25, 50, 75, 100])
                ax.set_xlabel("%" if ind.kind == "share" else "mean score")
                ax.set_title(_wrap(ind.label_en, 34), fontsize=8, loc="left")
                ax.tick_params(axis="y", labelsize=7, length=0)
                ax.grid(axis="x", alpha=0.3)
                ax.grid(axis="y", visible=False)
            for ax in axes[len(group):]:
                ax.set_visible(False)
            stem = f"domains_{pop}_{number}"
            _save(fig, folder, stem)
            names = ", ".join(f"`{i.id}`" for i in group)
            charts.append(Chart(stem, f"{POPULATION_LABELS[pop]}: "
                                + "; ".join(i.label_en for i in group),
                                f"{POPULATION_LABELS[pop]}, indicators {names} by domain, "
                                "with their confidence intervals; open circles: use with "
                                "caution; suppressed cells are named, not drawn."))
    return charts


def _domain_keys(est: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """The (by, domain) rows of a population, breakdowns in catalogue order and categories
    in codebook order."""
    keys = est[["by", "domain"]].drop_duplicates().reset_index(drop=True)
    order = []
    for b, d in zip(keys["by"], keys["domain"], strict=True):
        codes: Sequence[str] = (list(DERIVED_LABELS[b][1]) if b in DERIVED_LABELS else ())
        if not codes and b != "all":
            try:
                codes = cb.variable(b).codes
            except KeyError:
                codes = ()
        order.append(list(codes).index(d) if d in codes else len(codes))
    keys["_by"] = pd.factorize(keys["by"])[0]
    keys["_order"] = order
    return keys.sort_values(["_by", "_order"], kind="stable")[["by", "domain"]] \
        .reset_index(drop=True)


def _separators(ax: Axes, by: np.ndarray) -> None:
    """Light lines between the breakdown variables of a domain chart."""
    y = np.arange(len(by))[::-1]
    for k in range(1, len(by)):
        if by[k] != by[k - 1]:
            ax.axhline(y[k] + 0.5, color="#bbb", lw=0.6)


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:3])


def _trends(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    cat = _catalogue()
    series = tables["series"]
    heads = [i for i in cat.indicators if i.headline]
    ncol = 3
    nrow = math.ceil(len(heads) / ncol)
    from matplotlib.ticker import MaxNLocator

    fig = _figure(8.2, 2.2 * nrow + 0.3, left=0.45)
    fig.subplots_adjust(hspace=0.6, wspace=0.22, right=0.97)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True).ravel()
    for ax, ind in zip(axes, heads, strict=False):
        s = series[(series["indicator"] == ind.id) & (series["by"] == "all")]
        s = s[s["status"] != "suppressed"].sort_values("year")
        scale = 100 if ind.kind == "share" else 1
        colour = STATUS_COLOURS["published"]
        ax.fill_between(s["year"], s["ci_low"] * scale, s["ci_high"] * scale, color=colour,
                        alpha=0.2, lw=0)
        ax.plot(s["year"], s["estimate"] * scale, "o-", color=colour, ms=2.5, lw=1.2)
        ax.set_title(_wrap(ind.label_en, 40), fontsize=7.5, loc="left")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.tick_params(labelsize=7)
        if ind.kind == "share":
            ax.set_ylim(0, 100)
    for ax in axes[len(heads):]:
        ax.set_visible(False)
    _save(fig, folder, "trends")
    years = result.record.get("series_years", [])
    span = f"{min(years)}–{max(years)}" if years else str(result.year)
    return Chart("trends", "Trends across editions",
                 f"Headline indicators, editions {span}, with {_level(result)} confidence "
                 "bands (%, or mean score).")


def _uptake(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    up = tables["admin_uptake"]
    svc = up[up["level"] == "service"].copy()
    svc["sort"] = svc["uptake"].fillna(-1)
    svc = svc.sort_values("sort").reset_index(drop=True)
    fig = _figure(8.2, 0.9 + 0.2 * len(svc), left=2.9)
    ax = fig.add_subplot()
    y = np.arange(len(svc))
    met = svc["target_met"].astype("boolean").fillna(False).to_numpy(bool)
    colours = np.where(met, "#2e8b57", "#c0392b")
    ax.barh(y, svc["uptake"].fillna(0) * 100, color=colours, height=0.7)
    ax.plot(svc["target"] * 100, y, "|", color="black", ms=11, mew=2, label="target")
    for yi, (_, r) in zip(y, svc.iterrows(), strict=True):
        if _num(r["uptake"]) is None:
            ax.text(1, yi, "no count received", va="center", fontsize=7, style="italic",
                    color=STATUS_COLOURS["suppressed"])
    ax.set_yticks(y, [_short(str(v), 45) for v in svc["label_en"]], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"% of procedures completed online, {result.year}")
    ax.legend(loc="lower right", fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    _save(fig, folder, "uptake")
    return Chart("uptake", "Digital uptake by service",
                 "Share of procedures completed online per service (green: target met; "
                 "red: not met; black tick: target).")


def _coherence(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    coh = tables["coherence"]
    ok = coh[coh["survey_estimate"].notna() & coh["admin_uptake"].notna()
             & (coh["survey_status"] != "suppressed")]
    fig = _figure(5.6, 4.6)
    ax = fig.add_subplot()
    ax.plot([0, 100], [0, 100], color="#888", lw=0.8, ls="--")
    for _, r in ok.iterrows():
        x, e = 100 * float(r["admin_uptake"]), 100 * float(r["survey_estimate"])
        lo, hi = 100 * float(r["survey_ci_low"]), 100 * float(r["survey_ci_high"])
        ax.errorbar([x], [e], yerr=[[e - lo], [hi - e]], fmt="o", ms=5, capsize=3,
                    color=STATUS_COLOURS["published"])
        right = x > 60
        ax.annotate(_short(str(r["label_en"]), 30), (x, e), textcoords="offset points",
                    xytext=(-6 if right else 6, 4), ha="right" if right else "left",
                    fontsize=7)
    if ok.empty:
        ax.text(50, 50, "no service with both a survey estimate and a count",
                ha="center", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("administrative digital uptake (%)")
    ax.set_ylabel("survey: online share among users (%)")
    ax.grid(alpha=0.3)
    _save(fig, folder, "coherence")
    return Chart("coherence", "Survey vs administrative counts",
                 "Survey estimate (with its interval) against the administrative share, "
                 "per service measured by both; dashed line: equality.")


def g_weights(design: Any) -> np.ndarray:
    """The g-weights of a design's last calibration, with the weights before calibration
    rescaled to the calibrated total: g = w / d * sum(d) / sum(w).

    Unscaled, g = w / d depends on the scale of the initial weights (the individuals'
    equal initial weights of 1 would give g = w); rescaled, g = 1 means "unchanged by the
    calibration" whatever that scale.
    """
    w = design.weights
    pos = w > 0
    cals = calibrations(design)
    if not cals:
        return np.ones(int(pos.sum()))
    d = cals[-1].d
    g = (w / np.where(d > 0, d, np.nan))[pos]
    return g * d[pos].sum() / w[pos].sum()


def _weights(result: RunResult, folder: Path) -> Chart:
    pops = list(result.weighted)
    fig = _figure(8.2, 2.3 * len(pops) + 0.3)
    axes = fig.subplots(len(pops), 2, squeeze=False)
    for row, pop in zip(axes, pops, strict=True):
        design = result.weighted[pop].design
        w = design.weights[design.weights > 0]
        rel = w / w.mean()
        spread = rel.max() / rel.min() > 50
        bins = np.geomspace(rel.min(), rel.max(), 41) if spread else 40
        row[0].hist(rel, bins=bins, color="#1f5fa8", alpha=0.85)
        if spread:
            row[0].set_xscale("log")
        row[0].set_xlabel("final weight / mean weight" + (" (log scale)" if spread else ""))
        row[0].set_ylabel("units")
        row[0].set_title(f"{POPULATION_LABELS[pop]}: final weights", loc="left")
        row[1].hist(g_weights(design), bins=40, color="#e08a00", alpha=0.85)
        row[1].set_xlabel("g-weight (final / initial weight, initial scaled to the total)")
        row[1].set_title(f"{POPULATION_LABELS[pop]}: g-weights", loc="left")
    _save(fig, folder, "weights")
    return Chart("weights", "Weight diagnostics",
                 "Distribution of the final weights (relative to the mean weight) and of "
                 "the g-weights, per population.")


def _catalogue() -> Any:
    from barometer.scoreboard.indicators import load_catalogue

    return load_catalogue()


@dataclass(frozen=True)
class Charts:
    """Every chart of a run, by role."""

    headline: Chart
    domains: tuple[Chart, ...]
    trends: Chart
    uptake: Chart
    coherence: Chart
    weights: Chart
    small_area: Chart | None = None


def write_figures(result: RunResult, folder: Path) -> Charts:
    """Draw every chart of the run into ``folder/figures`` (PNG and SVG)."""
    import matplotlib as mpl
    import seaborn as sns

    out = folder / "figures"
    out.mkdir(parents=True, exist_ok=True)
    tables = result.tables()
    with mpl.rc_context(_RC), sns.axes_style("whitegrid"):
        return Charts(
            headline=_headline(tables, result, out),
            domains=tuple(_domains(tables, result, out)),
            trends=_trends(tables, result, out),
            uptake=_uptake(tables, result, out),
            coherence=_coherence(tables, result, out),
            weights=_weights(result, out),
        )


# ------------------------------------------------------------------------------ the page
def write_scoreboard(result: RunResult, folder: Path, charts: Charts,
                     context: dict[str, Any]) -> Path:
    """Write ``scoreboard.html`` (charts by relative path, tables from the note's context)."""
    est = result.tables()["estimates"]
    headline = []
    for ind in (i for i in _catalogue().indicators if i.headline):
        r, k = _overall(est, ind.id), ind.kind
        shown = r["status"] != "suppressed"
        headline.append({
            "id": ind.id, "label": ind.label_en, "population": ind.population,
            "status": r["status"], "n": fmt_int(r["n"]),
            "estimate": fmt_estimate(r["estimate"], k) if shown else "suppressed",
            "ci": f"{fmt_estimate(r['ci_low'], k)} – {fmt_estimate(r['ci_high'], k)}"
            if shown else ""})
    html = environment().get_template("scoreboard.html.j2").render(
        year=result.year, charts=charts, headline=headline, ctx=context,
        admin=context["admin"], services_table=markdown_fragment(context["admin"]["figures"]),
        level=_level(result))
    path = folder / "scoreboard.html"
    path.write_text(html, encoding="utf-8")
    return path
