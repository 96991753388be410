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
# Colours (contrast on white, WCAG 2.1 relative luminance, checked by the tests): every
# colour that draws text is >= 4.5:1, every colour that draws data >= 3:1; colour is never
# the only carrier of meaning (open circles for caution, hatching for "not met", labels).
STATUS_COLOURS = {"published": "#1f5fa8", "caution": "#9a5b00", "suppressed": "#6b6b6b"}
ADMIN_COLOURS = {"met": "#2b7a4b", "not met": "#b3261e", "not applicable": "#6b6b6b"}
HIDDEN = ("suppressed", "undefined")
"""Cell statuses that show no number (the disclosure gate's, scoreboard/rules.py)."""
_RC = {"svg.hashsalt": "barometer", "svg.fonttype": "none", "font.size": 8.5,
       "axes.titlesize": 9.5, "axes.labelsize": 8.5, "xtick.labelsize": 8.5,
       "ytick.labelsize": 8.5, "legend.fontsize": 8.5, "figure.titlesize": 9.5,
       "text.color": "#222222", "axes.labelcolor": "#222222", "xtick.color": "#222222",
       "ytick.color": "#222222", "hatch.linewidth": 1.2}


# ------------------------------------------------------------------------------ formatting
LANGS = ("en", "fr")
"""The languages of the publication: every page and note is written in both."""
NBSP = "\u00a0"  # no-break space: French "88,9 %"
NNBSP = "\u202f"  # narrow no-break space: French thousands "12 345"


def _localise(text: str, lang: str) -> str:
    """English-formatted digits (``12,345.6``) in ``lang``'s convention (French: ``12 345,6``
    with a narrow no-break space, the Imprimerie nationale's rule)."""
    if lang == "en":
        return text
    if lang != "fr":
        raise ValueError(f"unknown language {lang!r}: use one of {LANGS}")
    return text.replace(",", NNBSP).replace(".", ",")


def fmt_pct(value: object, digits: int = 1, lang: str = "en") -> str:
    """A proportion as a percentage without the sign (``0.7912`` -> ``"79.1"``; French
    ``"79,1"``)."""
    v = _num(value)
    return "" if v is None else _localise(f"{100 * v:.{digits}f}", lang)


def fmt_num(value: object, digits: int = 2, lang: str = "en") -> str:
    """A number with ``digits`` decimals (empty for a missing value)."""
    v = _num(value)
    return "" if v is None else _localise(f"{v:,.{digits}f}", lang)


def fmt_int(value: object, lang: str = "en") -> str:
    """An integer with thousands separators (empty for a missing value)."""
    v = _num(value)
    return "" if v is None else _localise(f"{round(v):,}", lang)


def fmt_estimate(value: object, kind: str, lang: str = "en") -> str:
    """An indicator value as printed: a share in % (1 decimal), a mean score (2)."""
    if kind == "share" and _num(value) is not None:
        return f"{fmt_pct(value, lang=lang)}{NBSP if lang == 'fr' else ' '}%"
    return fmt_num(value, lang=lang)


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


def reflow_tables(html: str) -> str:
    """Wrap every table of a page in a keyboard-focusable region that scrolls on its own, so
    that the page itself reflows at 320 CSS px without horizontal scrolling (WCAG 2.1
    success criterion 1.4.10, Reflow; data tables may scroll in two dimensions)."""
    return re.sub(r"(<table\b.*?</table>)",
                  r'<div class="table-wrap" role="region" tabindex="0" '
                  r'aria-label="Table (scrolls horizontally on narrow screens)">\1</div>',
                  html, flags=re.S)


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
    service of the catalogue (definitions; figures), per ministry and audience, warnings,
    revisions, coherence."""
    from barometer.scoreboard.admin import latest_vintage

    counts = result.edition.admin_counts
    counts = latest_vintage(counts[counts["year"] == result.year]) if len(counts) else counts
    up = tables["admin_uptake"]
    revs = tables.get("admin_revisions", pd.DataFrame())
    svc_up = up[up["level"] == "service"].set_index("service_id")
    definitions, figures = [], []
    online_defs = set()
    for _, s in result.edition.services.iterrows():
        sid = s["service_id"]
        c = counts[counts["service_id"] == sid] if len(counts) else counts
        u = svc_up.loc[sid] if sid in svc_up.index else None
        received = len(c) > 0
        channels = (u["channels_reported"] + (" (online only)" if u["online_only"] else
                                              " (others not reported)"
                                              if u["partial_channels"] else "")
                    if received and u is not None else "none received")
        if received:
            online_defs.update(c["online_definition"].astype(str))
        no = f"not received for {result.year}"
        definitions.append([
            s["label_en"], _join(c["supplier"]) if received else f"{s['ministry']} ({no})",
            _join(c["counting_unit"]) if received else no, channels,
            _join(c["coverage"]) if received else no,
            _join(c["online_definition"]) if received else no])
        r = revs[(revs["service_id"] == sid) & (revs["year"] == result.year)] \
            if len(revs) else revs
        revised = (f"revised, received {r['revised_received'].iloc[0]}" if len(r)
                   else "none" if received else "")
        status = str(u["target_status"]) if u is not None else ""
        figures.append([
            s["label_en"], f"{result.year}",
            _join(c["date_received"].astype(str).str[:10]) if received else "not received",
            revised,
            (fmt_pct(u["uptake"]) + (" *" if u["partial_channels"] else ""))
            if u is not None and received else "missing",
            fmt_pct(u["target"], 0) if u is not None and pd.notna(u["target"]) else "",
            status])
    total = up[up["level"] == "all"].iloc[0]
    aud = up[up["level"] == "audience"].set_index("audience")
    svc = up[up["level"] == "service"]
    heads = ["Service", "Supplier", "Counting unit", "Channels reported", "Coverage",
             "Online means"]
    if len(online_defs) <= 1:  # one definition for all: stated once in the text
        heads, definitions = heads[:-1], [r[:-1] for r in definitions]
    return {
        "definitions": md_table(heads, definitions),
        "figures": md_table(["Service", "Reference period (year)", "Date received",
                             "Revisions", "Uptake %", "Target %", "Target status"], figures,
                            "llllrrl"),
        "online_text": "; ".join(f"*{d}*" for d in sorted(online_defs)) or "none received",
        "n_services": len(result.edition.services),
        "n_reported": int((svc["status"] == "reported").sum()),
        "n_met": int((svc["target_status"] == "met").sum()),
        "n_not_met": int((svc["target_status"] == "not met").sum()),
        "n_online_only": int(svc["online_only"].astype(bool).sum()),
        "n_no_target": int(svc["target_status"].astype(str).str.contains("no target").sum()),
        "n_partial": int(svc["partial_channels"].astype(bool).sum()),
        "uptake_all": fmt_pct(total["uptake"]), "composition": str(total["composition"]),
        "uptake_audience": {str(a): fmt_pct(r["uptake"]) for a, r in aud.iterrows()},
        "warnings": [_warning_text(w) for w in result.edition.warnings],
        "coherence": _coherence_table(tables["coherence"]),
        "ministries": _ministry_table(up),
        "revisions": _revisions_table(revs), "n_revisions": len(revs),
        "targets_sources": _join(svc["target_source"]),
    }


def _revisions_table(revs: pd.DataFrame) -> str:
    """What changed, when, by how much: one row per revised count."""
    rows = [[f"`{r['service_id']}`", str(int(r["year"])), r["channel"],
             str(r["first_received"]), str(r["revised_received"]), fmt_int(r["count_first"]),
             fmt_int(r["count_revised"]), fmt_int(r["change"]),
             fmt_num(100 * r["relative_change"], 1), fmt_pct(r["uptake_first"]),
             fmt_pct(r["uptake_revised"])] for _, r in revs.iterrows()]
    return md_table(["Service", "Year", "Channel", "First received", "Revision received",
                     "First count", "Revised count", "Change", "Change %",
                     "Uptake % (first)", "Uptake % (revised)"], rows, "lllllrrrrrr")


def _warning_text(w: object) -> str:
    column = getattr(w, "column", "")
    parts = [f"`{getattr(w, 'file', '')}`" + (f" column `{column}`" if column else ""),
             str(getattr(w, "problem", w))]
    value = getattr(w, "value", None)
    if value not in (None, ""):
        parts.append(f"(`{value}`)")
    hint = getattr(w, "hint", "")
    return " ".join(parts) + (f"; what to do: {hint}" if hint else "")


def _ministry_table(up: pd.DataFrame) -> str:
    rows = [[r["label_en"], r["status"], fmt_int(r["total"]), fmt_pct(r["uptake"])]
            for _, r in up[up["level"].isin(["ministry", "audience", "all"])].iterrows()]
    return md_table(["Ministry or agency; audience; all services", "Services", "Procedures",
                     "Uptake %"], rows, "llrr")


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
# Legibility: a figure of W inches is shown DPI * W CSS px wide (the <img> width; the PNG
# holds PNG_SCALE times more pixels for sharp high-density screens), at most PAGE_WIDTH_PX
# (the pages' content width: 60rem - 2 x 1.5rem of padding), so a font of p points is
# p * DPI / 72 * min(1, PAGE_WIDTH_PX / (DPI * W)) px on the page. Every chart is at most
# PAGE_WIDTH_PX wide and its smallest font is FONT_PT = 8.5 pt = 11.8 px >= MIN_TEXT_PX.
DPI = 100
PNG_SCALE = 2
PAGE_WIDTH_PX = 912
MIN_TEXT_PX = 11.0
FONT_PT = 8.5
FIG_WIDTH = PAGE_WIDTH_PX / DPI


@dataclass(frozen=True)
class DataTable:
    """The numbers of a chart as a table (its text alternative): caption, headers, rows."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def html(self) -> str:
        """A ``<details>`` element holding the table (with its ``<caption>``)."""
        e = html_escape

        def cells(row: Sequence[str], tag: str) -> str:
            scope = ' scope="col"' if tag == "th" else ""
            return "".join(f"<{tag}{scope}>{e(c)}</{tag}>" for c in row)

        body = "\n".join(f"<tr><th scope=\"row\">{e(r[0])}</th>{cells(r[1:], 'td')}</tr>"
                         for r in self.rows)
        return (f"<details class=\"data\"><summary>Data table: {e(self.caption)}</summary>\n"
                f"<table>\n<caption>{e(self.caption)}</caption>\n"
                f"<thead><tr>{cells(self.headers, 'th')}</tr></thead>\n<tbody>\n{body}\n"
                "</tbody>\n</table>\n</details>")


@dataclass(frozen=True)
class Chart:
    """One chart written under ``figures/``: its stem, title, caption, alt text (the
    chart's main message, computed from its numbers), data table and size on the page."""

    stem: str
    title: str
    caption: str
    alt: str = ""
    table: DataTable | None = None
    width_px: int = 0
    height_px: int = 0
    min_text_px: float = 0.0

    def path(self, fmt: str = "png") -> str:
        """The chart's path relative to the output folder."""
        return f"figures/{self.stem}.{fmt}"

    def html(self) -> str:
        """The chart as HTML: a figure (image, caption, link to the SVG) and its data
        table in a ``<details>`` element."""
        e = html_escape
        size = f' width="{self.width_px}" height="{self.height_px}"' if self.width_px else ""
        # On a narrow screen the chart keeps its drawn size (text >= 11 px) and scrolls
        # inside its own box; the page itself reflows (see style.css.j2).
        out = (f'<figure><div class="chart"><a href="{self.path("svg")}">'
               f'<img src="{self.path("png")}" alt="{e(self.alt or self.title)}"{size}>'
               '</a></div>\n'
               f'<figcaption>{e(self.caption)} (<a href="{self.path("svg")}">SVG</a>)'
               "</figcaption></figure>")
        return out + ("\n" + self.table.html() if self.table is not None else "")


def html_escape(text: object) -> str:
    """HTML-escape text (quotes included)."""
    import html

    return html.escape(str(text), quote=True)


def _figure(width: float, height: float, *, left: float | None = None, top: float = 0.4,
            bottom: float = 0.55) -> Figure:
    """A figure on an Agg canvas; ``left``: a fixed left margin in inches (a fixed layout,
    much faster than the constrained layout for charts with many labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if left is None:
        fig = Figure(figsize=(width, height), layout="constrained")
    else:
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - 0.3 / width,
                            top=1 - top / height, bottom=bottom / height)
    FigureCanvasAgg(fig)
    return fig


def text_px(fig: Figure) -> float:
    """The smallest text of a drawn figure, in CSS px as shown on the page."""
    from matplotlib.text import Text

    width_in = fig.get_figwidth()
    scale = min(1.0, PAGE_WIDTH_PX / (DPI * width_in))
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()
             and (t.axes is None or t.axes.get_visible())]
    return min(sizes) * DPI / 72 * scale if sizes else float("inf")


def _save(fig: Figure, folder: Path, stem: str, title: str, caption: str, alt: str,
          table: DataTable) -> Chart:
    import matplotlib as mpl

    for ax in fig.axes:  # minor tick labels (log scales) default to 70 % of the size
        ax.tick_params(which="minor", labelsize=FONT_PT)
    with mpl.rc_context(_RC):
        for fmt in FIGURE_FORMATS:
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(folder / f"{stem}.{fmt}", format=fmt, dpi=DPI * PNG_SCALE,
                        metadata=meta)
    w, h = fig.get_size_inches()
    return Chart(stem, title, caption, alt, table, round(w * DPI), round(h * DPI),
                 round(text_px(fig), 2))


def _wrap(text: str, width: int) -> str:
    """Text wrapped at ``width`` characters, never truncated."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _fit(low: Sequence[float] | np.ndarray, high: Sequence[float] | np.ndarray, *,
         top: float | None = None, zero_below: float = 0.15) -> tuple[float, float]:
    """Axis limits fitted to the data (intervals included) on round steps, with zero
    shown when the data come within ``zero_below`` of it (in shares of the range), and
    never above ``top`` (100 % for a share)."""
    lo_v = np.asarray(low, float)
    hi_v = np.asarray(high, float)
    finite = np.concatenate([lo_v[np.isfinite(lo_v)], hi_v[np.isfinite(hi_v)]])
    if not finite.size:
        return (0.0, top if top is not None else 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    span = max(hi - lo, 1e-9)
    step = 10 ** math.floor(math.log10(span)) / 2
    a, b = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if lo >= 0 and a <= zero_below * max(b, 1e-9):
        a = 0.0
    if top is not None:
        b = min(b, top)
    if b <= a:
        b = a + step
    return a, b


def _set_limits(ax: Axes, lo: float, hi: float, axis: str = "x") -> None:
    """Limits with a small margin, so that points on the edge (at 100 %) are whole."""
    from matplotlib.ticker import MaxNLocator

    ticks = [t for t in MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
             if lo - 1e-9 <= t <= hi + 1e-9]
    pad = 0.04 * (hi - lo)
    if axis == "x":
        ax.set_xlim(lo - (pad if lo != 0 else 0), hi + pad)
        ax.set_xticks(ticks)
    else:
        ax.set_ylim(lo - (pad if lo != 0 else 0), hi + pad)
        ax.set_yticks(ticks)


def _row_positions(labels: Sequence[str], line: float = 0.55) -> tuple[np.ndarray, float]:
    """y of each row (top to bottom) for wrapped labels: a row is 1 + ``line`` per extra
    line of its label; returns the positions and the total height in rows."""
    heights = np.array([1.0 + line * (lab.count("\n")) for lab in labels])
    tops = np.concatenate([[0.0], np.cumsum(heights)[:-1]])
    total = float(heights.sum())
    return total - (tops + heights / 2), total


def _legend_handles(level: str, *, caution: bool = True, suppressed: bool = True
                    ) -> list[Any]:
    from matplotlib.lines import Line2D

    colour = STATUS_COLOURS["published"]
    out = [Line2D([], [], color=colour, marker="o", lw=1.6, ms=5,
                  label=f"estimate, {level} interval")]
    if caution:
        out.append(Line2D([], [], color=STATUS_COLOURS["caution"], marker="o", lw=1.6,
                          ms=5, markerfacecolor="white",
                          label="open circle: use with caution"))
    if suppressed:
        out.append(Line2D([], [], color="none", label="“suppressed”: not drawn"))
    return out


def _interval_rows(ax: Axes, frame: pd.DataFrame, labels: Sequence[str], scale: float,
                   y: np.ndarray | None = None) -> None:
    """Point + interval per row (top to bottom); suppressed rows are written, not drawn.
    Caution is shown by an open circle (not by colour alone)."""
    if y is None:
        y = np.arange(len(frame))[::-1].astype(float)
        span = (-0.7, len(frame) - 0.3)
    else:
        span = (float(y.min()) - 0.7, float(y.max()) + 0.7)
    status = frame["status"].astype(str).to_numpy()
    est = pd.to_numeric(frame["estimate"], errors="coerce").to_numpy(float) * scale
    lo = pd.to_numeric(frame["ci_low"], errors="coerce").to_numpy(float) * scale
    hi = pd.to_numeric(frame["ci_high"], errors="coerce").to_numpy(float) * scale
    hidden = np.isin(status, HIDDEN) | ~np.isfinite(est)
    for name in ("published", "caution"):
        m = (status == name) & ~hidden
        if not m.any():
            continue
        colour = STATUS_COLOURS[name]
        ax.hlines(y[m], lo[m], hi[m], color=colour, lw=1.6)
        ax.scatter(est[m], y[m], s=26, color=colour, zorder=3, clip_on=False,
                   facecolors="white" if name == "caution" else colour, linewidths=1.4)
    for yi, st in zip(y[hidden], status[hidden], strict=True):
        ax.text(0.02, yi, "undefined (0/0)" if st == "undefined" else "suppressed",
                transform=ax.get_yaxis_transform(), va="center", ha="left",
                color=STATUS_COLOURS["suppressed"], style="italic")
    ax.set_yticks(y, labels)
    ax.set_ylim(*span)


def _pct_text(v: object) -> str:
    return f"{fmt_pct(v)} %"


def _value_text(v: object, kind: str) -> str:
    return fmt_estimate(v, kind)


def _cell(r: pd.Series | None, kind: str) -> str:
    """A cell of a data table: estimate (interval), or its status."""
    if r is not None and str(r["status"]) == "undefined":
        return "undefined (0/0)"
    if r is None or str(r["status"]) == "suppressed" or _num(r["estimate"]) is None:
        return "suppressed"
    text = (f"{_value_text(r['estimate'], kind)} ({_value_text(r['ci_low'], kind)} – "
            f"{_value_text(r['ci_high'], kind)})")
    return text + (", use with caution" if str(r["status"]) == "caution" else "")


def _headline(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    cat = _catalogue(result)
    est = tables["estimates"]
    heads = [i for i in cat.indicators if i.headline and i.kind == "share"]
    pops = [p for p in ("individuals", "companies") if any(i.population == p for i in heads)]
    rows_of = {p: pd.DataFrame([_overall(est, i.id) for i in heads if i.population == p])
               for p in pops}
    labels_of = {p: [_wrap(i.label_en, 44) for i in heads if i.population == p]
                 for p in pops}
    heights = [_row_positions(labels_of[p])[1] for p in pops]
    fig = _figure(FIG_WIDTH, 1.5 + 0.3 * sum(heights) + 0.45 * len(pops))
    axes = fig.subplots(len(pops), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    shown = pd.concat(list(rows_of.values()))
    shown = shown[~shown["status"].isin(HIDDEN)]
    lo, hi = _fit(shown["ci_low"] * 100, shown["ci_high"] * 100, top=100)
    for ax, pop in zip(axes, pops, strict=True):
        rows = rows_of[pop]
        y, _ = _row_positions(labels_of[pop])
        _interval_rows(ax, rows, labels_of[pop], 100, y)
        for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
            if r["status"] not in HIDDEN:
                ax.annotate(_pct_text(r["estimate"]), (float(r["ci_high"]) * 100, yi),
                            xytext=(5, 0), textcoords="offset points", va="center",
                            annotation_clip=False)
        ax.set_title(POPULATION_LABELS[pop], loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", visible=False)
    _set_limits(axes[-1], lo, hi + 0.12 * (hi - lo))  # room for the value labels
    axes[-1].set_xlabel(f"% (with {_level(result)} confidence interval)")
    fig.legend(handles=_legend_handles(_level(result)), loc="outside lower center", ncol=1,
               frameon=False)
    table_rows = []
    messages = []
    for pop in pops:
        inds = [i for i in heads if i.population == pop]
        for ind, (_, r) in zip(inds, rows_of[pop].iterrows(), strict=True):
            table_rows.append((ind.label_en, POPULATION_LABELS[pop], _cell(r, "share"),
                               fmt_int(r["n"])))
        ok = [(i, r) for i, (_, r) in zip(inds, rows_of[pop].iterrows(), strict=True)
              if r["status"] not in HIDDEN and _num(r["estimate"]) is not None]
        if ok:
            top_i, top_r = max(ok, key=lambda t: float(t[1]["estimate"]))
            low_i, low_r = min(ok, key=lambda t: float(t[1]["estimate"]))
            messages.append(f"{POPULATION_LABELS[pop]}: highest, {top_i.label_en.lower()} "
                            f"({_pct_text(top_r['estimate'])}); lowest, "
                            f"{low_i.label_en.lower()} ({_pct_text(low_r['estimate'])})")
    alt = (f"Headline indicators, {result.year}. " + ". ".join(messages) + ".")
    table = DataTable(f"Headline indicators, {result.year}: estimate % ({_level(result)} "
                      "interval)", ("Indicator", "Population", "Estimate % (interval)",
                                    "n"), tuple(table_rows))
    return _save(fig, folder, "headline", "Headline indicators",
                 f"Headline indicators of the {result.year} edition, with their confidence "
                 "intervals (open circles: use with caution).", alt, table)


def _overall(est: pd.DataFrame, indicator: str) -> pd.Series:
    rows = est[(est["indicator"] == indicator) & (est["by"] == "all")]
    return rows.iloc[0]


def _level(result: RunResult) -> str:
    return f"{result.record['catalogue']['rules']['ci_level']:.0%}"


DOMAIN_PANELS = 4
"""Indicators drawn side by side in one chart of the indicators by domain."""


def _domains(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path
             ) -> list[Chart]:
    """Indicators by domain: per population, charts of up to four indicators side by side
    sharing the domain labels (one chart per indicator would take seconds more to draw)."""
    cat = _catalogue(result)
    cb = result.edition.codebook
    est = tables["estimates"]
    level = _level(result)
    charts = []
    for pop in POPULATION_LABELS:
        inds = [i for i in cat.for_population(pop) if (est["indicator"] == i.id).any()]
        keys = _domain_keys(est[est["population"] == pop], cb)
        names = [domain_label(cb, pop, b, d) if b == "all" else
                 f"{SHORT_BY.get(b, b)}: {domain_label(cb, pop, b, d)}"
                 for b, d in zip(keys["by"], keys["domain"], strict=True)]
        labels = [_wrap(n, 38) for n in names]
        y, total = _row_positions(labels)
        groups = [inds[k:k + DOMAIN_PANELS] for k in range(0, len(inds), DOMAIN_PANELS)]
        for number, group in enumerate(groups, start=1):
            titles = [_wrap(i.label_en, 19) for i in group]
            top = 0.35 + 0.16 * max([t.count("\n") + 1 for t in titles] + [4])
            fig = _figure(FIG_WIDTH, top + 0.75 + 0.2 * total, left=2.75, top=top)
            fig.subplots_adjust(wspace=0.18)
            axes = fig.subplots(1, DOMAIN_PANELS)
            frames = []
            for k, (ax, ind) in enumerate(zip(axes, group, strict=False)):
                rows = keys.merge(est[est["indicator"] == ind.id], on=["by", "domain"],
                                  how="left")
                rows["status"] = rows["status"].fillna("suppressed")
                frames.append(rows)
                scale = 100 if ind.kind == "share" else 1
                _interval_rows(ax, rows, labels if k == 0 else [""] * len(rows), scale, y)
                _separators(ax, keys["by"].to_numpy(), y)
                shown = rows[~rows["status"].isin(HIDDEN)]
                lo, hi = _fit(shown["ci_low"] * scale, shown["ci_high"] * scale,
                              top=100 if ind.kind == "share" else None)
                _set_limits(ax, lo, hi)
                ax.set_xlabel("%" if ind.kind == "share" else "mean score")
                ax.set_title(titles[k], loc="left")
                ax.tick_params(axis="y", length=0)
                ax.grid(axis="x", alpha=0.3)
                ax.grid(axis="y", visible=False)
            for ax in axes[len(group):]:
                ax.set_visible(False)
            fig.legend(handles=_legend_handles(level), loc="upper left",
                       bbox_to_anchor=(0.005, 0.995), frameon=False)
            stem = f"domains_{pop}_{number}"
            alt_parts, table_rows = [], []
            for ind, rows in zip(group, frames, strict=True):
                sub = rows[(rows["by"] != "all") & ~rows["status"].isin(HIDDEN)
                           & rows["estimate"].notna()]
                if len(sub):
                    hi_r = sub.loc[sub["estimate"].idxmax()]
                    lo_r = sub.loc[sub["estimate"].idxmin()]
                    nm = dict(zip(zip(keys["by"], keys["domain"], strict=True), names,
                                  strict=True))
                    alt_parts.append(
                        f"{ind.label_en}: highest for {nm[hi_r['by'], hi_r['domain']]} "
                        f"({_value_text(hi_r['estimate'], ind.kind)}), lowest for "
                        f"{nm[lo_r['by'], lo_r['domain']]} "
                        f"({_value_text(lo_r['estimate'], ind.kind)})")
            for j, name in enumerate(names):
                table_rows.append((name, *(_cell(f.iloc[j], ind.kind)
                                           for f, ind in zip(frames, group, strict=True))))
            title = f"{POPULATION_LABELS[pop]}: " + "; ".join(i.label_en for i in group)
            heads = tuple(f"{i.label_en} ({'%' if i.kind == 'share' else 'mean score'})"
                          for i in group)
            table = DataTable(f"{title}, by domain, {result.year}: estimate ({level} "
                              "interval)", ("Domain", *heads), tuple(table_rows))
            charts.append(_save(
                fig, folder, stem, title,
                f"{POPULATION_LABELS[pop]}: " + "; ".join(i.label_en.lower() for i in group)
                + f", by domain, with their {level} confidence intervals; open circles: "
                "use with caution; suppressed cells are named, not drawn.",
                f"{POPULATION_LABELS[pop]}, {result.year}, by domain. "
                + ". ".join(alt_parts) + ".", table))
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


def _separators(ax: Axes, by: np.ndarray, y: np.ndarray | None = None) -> None:
    """Light lines between the breakdown variables of a domain chart."""
    y = np.arange(len(by))[::-1].astype(float) if y is None else y
    for k in range(1, len(by)):
        if by[k] != by[k - 1]:
            ax.axhline((y[k] + y[k - 1]) / 2, color="#767676", lw=0.6)


def significant_change(trend_row: pd.Series) -> bool:
    """Whether a change is marked significant on the charts (the open data's test)."""
    return bool(trend_row.get("significant_5pct", False))


def _trends(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cat = _catalogue(result)
    series = tables["series"]
    trend = tables["trends"]
    heads = [i for i in cat.indicators if i.headline]
    ncol = 3
    nrow = math.ceil(len(heads) / ncol)
    level = _level(result)
    colour = STATUS_COLOURS["published"]
    fig = _figure(FIG_WIDTH, 2.75 * nrow + 1.3, left=0.55, top=0.8, bottom=1.05)
    fig.subplots_adjust(hspace=0.95, wspace=0.3, right=0.97)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True).ravel()
    years_all: list[int] = sorted(int(y) for y in series["year"].unique())
    table: dict[str, dict[int, str]] = {}
    messages, change_row = [], []
    for ax, ind in zip(axes, heads, strict=False):
        s = series[(series["indicator"] == ind.id) & (series["by"] == "all")]
        s = s[~s["status"].isin(HIDDEN)].sort_values("year")
        scale = 100 if ind.kind == "share" else 1
        ax.fill_between(s["year"], s["ci_low"] * scale, s["ci_high"] * scale, color=colour,
                        alpha=0.15, lw=0)
        for bound in ("ci_low", "ci_high"):
            ax.plot(s["year"], s[bound] * scale, color=colour, lw=0.7, ls=":")
        ax.plot(s["year"], s["estimate"] * scale, "o-", color=colour, ms=3.5, lw=1.4,
                clip_on=False)
        t = trend[(trend["indicator"] == ind.id) & (trend["by"] == "all")
                  & (trend["reference"] == "previous")]
        note = ""
        if len(t) and t.iloc[0]["status"] not in HIDDEN and _num(t.iloc[0]["change"]):
            r = t.iloc[0]
            sig = significant_change(r)
            unit = " pts" if ind.kind == "share" else ""
            note = (f"{int(r['reference_year'])}→{int(r['year'])}: "
                    f"{float(r['change']) * scale:+.1f}{unit}"
                    f"{', significant' if sig else ', not significant'}")
            if sig:
                last = s[s["year"] == int(r["year"])]
                ax.scatter(last["year"], last["estimate"] * scale, marker="*", s=150,
                           color="black", zorder=4, clip_on=False)
            change_row.append(note)
        else:
            change_row.append("not available")
        ax.set_title(_wrap(ind.label_en, 36) + (f"\n{note}" if note else ""), loc="left")
        ax.grid(alpha=0.3)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        lo, hi = _fit(s["ci_low"] * scale, s["ci_high"] * scale,
                      top=100 if ind.kind == "share" else None, zero_below=0.5)
        _set_limits(ax, lo, hi, axis="y")
        ax.tick_params(axis="x", labelbottom=True)
        table[ind.id] = {int(y): _value_text(e, ind.kind) if ind.kind != "share"
                         else fmt_pct(e) for y, e in zip(s["year"], s["estimate"],
                                                         strict=True)}
        if len(s) >= 2:
            first, last_r = s.iloc[0], s.iloc[-1]
            messages.append(f"{ind.label_en.lower()} from "
                            f"{_value_text(first['estimate'], ind.kind)} in "
                            f"{int(first['year'])} to "
                            f"{_value_text(last_r['estimate'], ind.kind)} in "
                            f"{int(last_r['year'])}")
    for ax in axes[len(heads):]:
        ax.set_visible(False)
    fig.legend(handles=[
        Line2D([], [], color=colour, marker="o", lw=1.4, ms=4, label="estimate"),
        Patch(facecolor=colour, alpha=0.15, edgecolor=colour, ls=":",
              label=f"{level} confidence band"),
        Line2D([], [], color="black", marker="*", ls="none", ms=11,
               label="change since the previous edition significant at 5%")],
        loc="lower center", ncol=2, frameon=False)
    span = f"{years_all[0]}–{years_all[-1]}" if years_all else str(result.year)
    rows = [(str(y), *(table[i.id].get(y, "suppressed") for i in heads)) for y in years_all]
    rows.append(("Change since the previous edition", *change_row))
    data = DataTable(f"Headline indicators by edition, {span} (% for shares, mean score)",
                     ("Edition", *(i.label_en for i in heads)), tuple(rows))
    n_sig = sum("significant" in c and "not significant" not in c for c in change_row)
    alt = (f"Headline indicators, editions {span}: " + "; ".join(messages) + ". "
           f"{n_sig} of {len(heads)} changed significantly since the previous edition.")
    return _save(fig, folder, "trends", "Trends across editions",
                 f"Headline indicators, editions {span}, with {level} confidence bands "
                 "(%, or mean score); a star marks a change since the previous edition "
                 "significant at 5%.", alt, data)


def _uptake(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    up = tables["admin_uptake"]
    svc = up[up["level"] == "service"].copy()
    svc["sort"] = svc["uptake"].astype(float).fillna(-1)
    svc = svc.sort_values("sort", ascending=False).reset_index(drop=True)
    labels = [_wrap(str(v), 40) for v in svc["label_en"]]
    y, total = _row_positions(labels, line=0.6)
    fig = _figure(FIG_WIDTH, 1.4 + 0.24 * total, left=2.8, top=0.3, bottom=1.0)
    ax = fig.add_subplot()
    uptake = pd.to_numeric(svc["uptake"], errors="coerce").to_numpy(float)
    status = svc["target_status"].astype(str).to_numpy()
    met, not_met = status == "met", status == "not met"
    has = np.isfinite(uptake)
    for mask, colour, hatch in ((met & has, ADMIN_COLOURS["met"], ""),
                                (not_met & has, ADMIN_COLOURS["not met"], "///"),
                                (~met & ~not_met & has, ADMIN_COLOURS["not applicable"], "")):
        ax.barh(y[mask], uptake[mask] * 100, color=colour, height=0.7, hatch=hatch,
                edgecolor="white" if hatch else colour, lw=0)
    ax.plot(svc["target"] * 100, y, "|", color="black", ms=12, mew=2.2, clip_on=False)
    for yi, u, st, only in zip(y, uptake, status, svc["online_only"].astype(bool),
                               strict=True):
        if np.isfinite(u):
            what = "online only" if only else st if st in ("met", "not met") else "no target"
            ax.text(u * 100 + 1.5, yi, f"{fmt_pct(u)} %, {what}", va="center")
        else:
            ax.text(1, yi, "no count received", va="center", style="italic",
                    color=STATUS_COLOURS["suppressed"])
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.5, total + 0.1)
    ax.set_xlim(0, 125)  # bars start at zero; room for the value labels
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel(f"% of procedures completed online, {result.year}")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    fig.legend(handles=[Patch(color=ADMIN_COLOURS["met"], label="target met"),
                        Patch(facecolor=ADMIN_COLOURS["not met"], hatch="///",
                              edgecolor="white", label="target not met (hatched)"),
                        Patch(color=ADMIN_COLOURS["not applicable"],
                              label="not applicable (online only, or no target)"),
                        Line2D([], [], color="black", marker="|", ls="none", ms=12, mew=2.2,
                               label="target")],
               loc="lower center", ncol=2, frameon=False)
    n_has = int(has.sum())
    n_target = int(((met | not_met) & has).sum())
    alt = (f"Digital uptake by service, {result.year}: {int((met & has).sum())} of "
           f"{n_target} services with a target and counts met it")
    if n_has:
        i_hi, i_lo = int(np.nanargmax(uptake)), int(np.nanargmin(uptake))
        alt += (f"; highest uptake: {svc.loc[i_hi, 'label_en']} ({fmt_pct(uptake[i_hi])} %), "
                f"lowest: {svc.loc[i_lo, 'label_en']} ({fmt_pct(uptake[i_lo])} %)")
    missing = int((~has).sum())
    alt += f"; {missing} without counts." if missing else "."
    rows = tuple((str(r["label_en"]), fmt_pct(r["uptake"]) if _num(r["uptake"]) is not None
                  else "missing",
                  fmt_pct(r["target"], 0) if _num(r["target"]) is not None else "none",
                  str(st) if h else "")
                 for (_, r), st, h in zip(svc.iterrows(), status, has, strict=True))
    table = DataTable(f"Digital uptake by service, {result.year}",
                      ("Service", "Uptake %", "Target %", "Target"), rows)
    return _save(fig, folder, "uptake", "Digital uptake by service",
                 "Share of procedures completed online per service (solid green bars: "
                 "target met; hatched red bars: not met; grey bars: not applicable, an "
                 "online-only service or no target; black tick: target of the year).", alt,
                 table)


def _coherence(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path) -> Chart:
    from matplotlib.lines import Line2D

    coh = tables["coherence"]
    ok = coh[coh["survey_estimate"].notna() & coh["admin_uptake"].notna()
             & ~coh["survey_status"].isin(HIDDEN)]
    fig = _figure(6.4, 5.6)
    ax = fig.add_subplot()
    colour = STATUS_COLOURS["published"]
    for _, r in ok.iterrows():
        x, e = 100 * float(r["admin_uptake"]), 100 * float(r["survey_estimate"])
        lo, hi = 100 * float(r["survey_ci_low"]), 100 * float(r["survey_ci_high"])
        ax.errorbar([x], [e], yerr=[[e - lo], [hi - e]], fmt="o", ms=5, capsize=3,
                    color=colour, clip_on=False)
        right = x > 80
        ax.annotate(_wrap(str(r["label_en"]), 22), (x, e), textcoords="offset points",
                    xytext=(-8 if right else 8, 0), ha="right" if right else "left",
                    va="center", annotation_clip=False)
    if ok.empty:
        ax.text(0.5, 0.5, "no service with both a survey estimate and a count",
                ha="center", transform=ax.transAxes)
        lo_ax, hi_ax = 0.0, 100.0
    else:
        vals = np.concatenate([ok["admin_uptake"], ok["survey_ci_low"],
                               ok["survey_ci_high"]]).astype(float) * 100
        lo_ax, hi_ax = _fit(vals, vals, top=100)
    ax.plot([lo_ax, hi_ax], [lo_ax, hi_ax], color="#595959", lw=1, ls="--")
    _set_limits(ax, lo_ax, hi_ax)
    _set_limits(ax, lo_ax, hi_ax, axis="y")
    ax.set_xlabel("administrative digital uptake (%)")
    ax.set_ylabel("survey: online share among users (%)")
    ax.grid(alpha=0.3)
    ax.legend(handles=[Line2D([], [], color=colour, marker="o", ls="-", ms=5,
                              label=f"survey estimate, {_level(result)} interval"),
                       Line2D([], [], color="#595959", ls="--", label="equal shares")],
              loc="lower right")
    within = ok["admin_within_survey_ci"].astype("boolean").fillna(False)
    alt = (f"Survey vs administrative shares, {result.year}: for {int(within.sum())} of "
           f"{len(ok)} services measured by both, the administrative share lies inside the "
           "survey interval")
    if len(ok):
        gap = (ok["survey_estimate"] - ok["admin_uptake"]).abs().astype(float)
        g = ok.loc[gap.idxmax()]
        alt += (f"; largest gap: {g['label_en']} (survey {fmt_pct(g['survey_estimate'])} %, "
                f"administrative {fmt_pct(g['admin_uptake'])} %)")
    rows = tuple((str(r["label_en"]), fmt_pct(r["survey_estimate"]),
                  f"{fmt_pct(r['survey_ci_low'])} – {fmt_pct(r['survey_ci_high'])}",
                  fmt_pct(r["admin_uptake"]),
                  fmt_num(100 * float(r["survey_estimate"] - r["admin_uptake"]), 1))
                 for _, r in ok.iterrows())
    table = DataTable(f"Survey and administrative shares per service, {result.year}",
                      ("Service", "Survey %", "Survey interval", "Administrative %",
                       "Difference (points)"), rows)
    return _save(fig, folder, "coherence", "Survey vs administrative counts",
                 "Survey estimate (with its interval) against the administrative share, "
                 "per service measured by both; dashed line: equal shares.", alt + ".", table)


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
    fig = _figure(FIG_WIDTH, 2.8 * len(pops) + 0.3)
    axes = fig.subplots(len(pops), 2, squeeze=False)
    rows, messages = [], []
    for row, pop in zip(axes, pops, strict=True):
        design = result.weighted[pop].design
        w = design.weights[design.weights > 0]
        rel = w / w.mean()
        g = g_weights(design)
        spread = rel.max() / rel.min() > 50
        bins = np.geomspace(rel.min(), rel.max(), 41) if spread else 40
        row[0].hist(rel, bins=bins, color=STATUS_COLOURS["published"])
        if spread:  # plain numbers (superscripts of 10^k would be too small to read)
            from matplotlib.ticker import FuncFormatter, NullFormatter

            row[0].set_xscale("log")
            row[0].xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            row[0].xaxis.set_minor_formatter(NullFormatter())
        row[0].set_xlabel("final weight / mean weight" + (" (log scale)" if spread else ""))
        row[0].set_ylabel("units")
        row[0].set_title(f"{POPULATION_LABELS[pop]}: final weights", loc="left")
        row[1].hist(g, bins=40, color=STATUS_COLOURS["caution"])
        row[1].set_xlabel(_wrap("g-weight (final / initial weight, initial scaled to the "
                                "total)", 40))
        row[1].set_title(f"{POPULATION_LABELS[pop]}: g-weights", loc="left")
        rows.append((POPULATION_LABELS[pop], fmt_int(len(w)), fmt_num(rel.min()),
                     fmt_num(float(np.median(rel))), fmt_num(rel.max()), fmt_num(g.min()),
                     fmt_num(g.max())))
        messages.append(f"{POPULATION_LABELS[pop].lower()}: final weights from "
                        f"{fmt_num(rel.min())} to {fmt_num(rel.max())} times the mean, "
                        f"g-weights from {fmt_num(g.min())} to {fmt_num(g.max())}")
    table = DataTable("Final weights (relative to the mean weight) and g-weights",
                      ("Population", "Units", "Min weight / mean", "Median weight / mean",
                       "Max weight / mean", "Min g", "Max g"), tuple(rows))
    return _save(fig, folder, "weights", "Weight diagnostics",
                 "Distribution of the final weights (relative to the mean weight) and of "
                 "the g-weights, per population.",
                 "Weight distributions: " + "; ".join(messages) + ".", table)


def _catalogue(result: RunResult) -> Any:
    """The catalogue the run used (the data folder's own, or the package's), restricted
    to the indicators estimated this year (an indicator whose item was not asked in the
    edition's year has no estimate, and is left out of the note and the report)."""
    import dataclasses

    config = getattr(result.edition, "config", None)
    if config is not None:
        cat = config.catalogue
    else:
        from barometer.scoreboard.indicators import load_catalogue

        cat = load_catalogue()
    done = set(result.estimates["indicator"])
    if all(i.id in done for i in cat.indicators):
        return cat
    return dataclasses.replace(
        cat, indicators=tuple(i for i in cat.indicators if i.id in done),
        drivers=tuple(d for d in cat.drivers if d.indicator in done))


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

    def all(self) -> list[Chart]:
        """Every chart, in page order."""
        return [self.headline, *self.domains, self.trends, self.uptake, self.coherence,
                *([self.small_area] if self.small_area is not None else []), self.weights]


def write_figures(result: RunResult, folder: Path) -> Charts:
    """Draw every chart of the run into ``folder/figures`` (PNG and SVG)."""
    import matplotlib as mpl
    import seaborn as sns

    out = folder / "figures"
    out.mkdir(parents=True, exist_ok=True)
    tables = result.tables()
    with sns.axes_style("whitegrid"), mpl.rc_context(_RC):
        return Charts(
            headline=_headline(tables, result, out),
            domains=tuple(_domains(tables, result, out)),
            trends=_trends(tables, result, out),
            uptake=_uptake(tables, result, out),
            coherence=_coherence(tables, result, out),
            weights=_weights(result, out),
        )


def embed_charts(html: str, charts: Charts | None) -> str:
    """Replace each chart's Markdown image in a page (``<p><img src="figures/x.png" ...
    /></p>``) by the chart's figure: alt text, caption and data table."""
    if charts is None:
        return html
    for chart in charts.all():
        pattern = (r'<p>\s*<img src="' + re.escape(chart.path("png")) + r'"[^>]*>\s*</p>')
        html = re.sub(pattern, lambda _m, c=chart: c.html(), html)
    return html


def caption_tables(html: str) -> str:
    """Give every table without a ``<caption>`` one: the nearest heading before it."""
    out, last = [], ""
    pos = 0
    for m in re.finditer(r"<h[1-6][^>]*>(.*?)</h[1-6]>|<table>(?!\s*<caption>)", html,
                         flags=re.S):
        if m.group(0).startswith("<h"):
            last = re.sub(r"<[^>]+>", "", m.group(1)).strip()
            continue
        out.append(html[pos:m.end()])
        out.append(f"\n<caption>{last or 'Table'}</caption>")
        pos = m.end()
    out.append(html[pos:])
    return "".join(out)


def mark_french(html: str) -> str:
    """French quotations (« ... ») marked ``lang="fr"`` (WCAG 3.1.2, language of parts)."""
    return re.sub(r"«([^«»<]*)»", r'<span lang="fr">«\1»</span>', html)


# ------------------------------------------------------------------------------ the page
def write_scoreboard(result: RunResult, folder: Path, charts: Charts,
                     context: dict[str, Any]) -> Path:
    """Write ``scoreboard.html`` (charts by relative path, tables from the note's context)."""
    est = result.tables()["estimates"]
    headline = []
    for ind in (i for i in _catalogue(result).indicators if i.headline):
        r, k = _overall(est, ind.id), ind.kind
        shown = r["status"] not in HIDDEN
        headline.append({
            "id": ind.id, "label": ind.label_en, "population": ind.population,
            "status": r["status"], "n": fmt_int(r["n"]),
            "estimate": fmt_estimate(r["estimate"], k) if shown else str(r["status"]),
            "ci": f"{fmt_estimate(r['ci_low'], k)} – {fmt_estimate(r['ci_high'], k)}"
            if shown else ""})
    html = environment().get_template("scoreboard.html.j2").render(
        year=result.year, charts=charts, headline=headline, ctx=context,
        admin=context["admin"],
        services_table=markdown_fragment(context["admin"]["figures"]).replace(
            "<table>", f"<table>\n<caption>Every service, {result.year}: date received, "
            "revisions, uptake and target</caption>", 1),
        level=_level(result))
    path = folder / "scoreboard.html"
    path.write_text(reflow_tables(mark_french(caption_tables(html))), encoding="utf-8")
    return path
