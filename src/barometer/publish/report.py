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
POPULATION_LABELS_FR = {"individuals": "Particuliers (adultes de 18 ans ou plus)",
                        "companies": "Entreprises"}
DERIVED_LABELS_FR = {"size_10plus": ("Taille (moins de 10 / 10 salariés ou plus)",
                                     {"<10": "moins de 10 salariés",
                                      "10+": "10 salariés ou plus"})}
SHORT_BY_FR = {"sex": "Sexe", "age_band": "Âge", "pcs": "PCS", "region": "Région",
               "urban_size": "Unité urbaine", "education": "Diplôme",
               "internet_use": "Internet", "size_band": "Taille", "size_10plus": "Taille",
               "sector": "Secteur"}
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
       "ytick.color": "#222222", "hatch.linewidth": 1.2,
       # titles at the top of their axes, without matplotlib's search for overlapping tick
       # labels at draw time (no chart has ticks at the top; the search took ~15 % of the
       # drawing time)
       "axes.titley": 1.0}


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


def population_label(population: str, lang: str = "en") -> str:
    """The label of a population in ``lang``."""
    return (POPULATION_LABELS_FR if lang == "fr" else POPULATION_LABELS)[population]


def by_label(codebook: Codebook, by: str, lang: str = "en") -> str:
    """The label of a breakdown variable (``all`` = whole population) in ``lang``."""
    derived = DERIVED_LABELS_FR if lang == "fr" else DERIVED_LABELS
    if by == "all" or by in derived:
        return derived[by][0] if by != "all" else ("Ensemble" if lang == "fr" else "All")
    return next((v.label(lang) for v in codebook.variables if v.name == by), by)


def domain_label(codebook: Codebook, population: str, by: str, domain: str,
                 lang: str = "en") -> str:
    """The label of a domain (a category of a breakdown variable) in ``lang``."""
    derived = DERIVED_LABELS_FR if lang == "fr" else DERIVED_LABELS
    if by == "all" or by in derived:
        return derived[by][1].get(domain, domain) if by != "all" else (
            "Ensemble" if lang == "fr" else "All")
    try:
        return codebook.label(population, by, domain, lang)
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


def reflow_tables(html: str, lang: str = "en") -> str:
    """Wrap every table of a page in a keyboard-focusable region that scrolls on its own, so
    that the page itself reflows at 320 CSS px without horizontal scrolling (WCAG 2.1
    success criterion 1.4.10, Reflow; data tables may scroll in two dimensions)."""
    label = ("Tableau (défile horizontalement sur les écrans étroits)" if lang == "fr"
             else "Table (scrolls horizontally on narrow screens)")
    return re.sub(r"(<table\b.*?</table>)",
                  rf'<div class="table-wrap" role="region" tabindex="0" '
                  rf'aria-label="{label}">\1</div>', html, flags=re.S)


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the packaged templates (``barometer/templates``)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("barometer.publish", "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters.update(int=fmt_int)
    return env


# ------------------------------------------------------------------------- admin tables
def _join(values: Iterable[object], sep: str = "; ") -> str:
    vals = [str(v) for v in dict.fromkeys(values) if pd.notna(v) and str(v)]
    return sep.join(vals)


INLINE_ENGLISH = ("⟦en⟧", "⟦/en⟧")
"""Around English words inside another language's sentence: ``<span lang="en">`` in the
HTML. Both marks are removed from the Markdown file (``note.strip_marks``)."""


def english(text: object, lang: str) -> str:
    """Free text written in English by a supplier or in a configuration file (a counting
    unit, a coverage, a definition of *online*, an input warning): as it is in English, and
    marked as English (``INLINE_ENGLISH``, ``<span lang="en">`` in the HTML, WCAG 3.1.2)
    inside another language's text."""
    text = str(text)
    return text if lang == "en" or not text else f"{INLINE_ENGLISH[0]}{text}{INLINE_ENGLISH[1]}"


NOTE_STATUS_FR = {"published": "publié", "caution": "à utiliser avec précaution",
                  "suppressed": "supprimé", "undefined": "non défini"}
"""The statuses of a cell as the French note words them (the scoreboard page has its own,
shorter, :data:`STATUS_FR`)."""
CHANNELS_FR = {"online": "en ligne", "mail": "courrier", "counter": "guichet",
               "phone": "téléphone"}
"""The channels of the administrative counts, in French (as the open data's field titles)."""
ADMIN_TEXT: dict[str, dict[str, str]] = {
    "en": {"revised": "revised, received {date}", "none": "none", "not_received": "not "
           "received", "missing": "missing",
           "heads": "Service|Reference period (year)|Date received|Revisions|Uptake %|"
                    "Target %|Target status",
           "composition": "{audience}' services: {n} services, {volume} of the volume, "
                          "uptake {uptake}"},
    "fr": {"revised": "révisé, reçu le {date}", "none": "aucune", "not_received": "non reçu",
           "missing": "manquant",
           "heads": "Service|Période de référence (année)|Date de réception|Révisions|"
                    "Taux en ligne %|Cible %|Statut de la cible",
           "composition": "services aux {audience} : {n} services, {volume} du volume, taux "
                          "en ligne {uptake}",
           # the definitions of the services
           "def_heads": "Service|Fournisseur|Unité de compte|Canaux déclarés|Champ|"
                        "« En ligne » signifie",
           "online_only": " (uniquement en ligne)", "others": " (autres non déclarés)",
           "none_received": "aucun reçu", "not_received_for": "non reçu pour {year}",
           "no_definition": "aucune reçue",
           # per ministry or agency, per audience, all services
           "ministry_heads": "Ministère ou organisme ; public ; ensemble des services|"
                             "Services|Démarches|Taux en ligne %",
           "audience_row": "services aux {audience}", "all_row": "ensemble des services",
           "n_services": "{n} service|{n} services",
           # revisions
           "revision_heads": "Service|Année|Canal|Première réception|Réception de la "
                             "révision|Premier comptage|Comptage révisé|Écart|Écart %|"
                             "Taux en ligne % (premier)|Taux en ligne % (révisé)",
           # coherence
           "coherence_heads": "Service|Question de l'enquête|Indicateur|Enquête %|"
                              "Intervalle de l'enquête|Comptages %|Écart (points)|"
                              "Comptages dans l'intervalle",
           "no_indicator": "aucun", "yes": "oui", "no": "non",
           "no estimate": "aucune estimation", "reported": "transmis",
           "online-only service (100% by construction, not compared)":
               "service uniquement en ligne (100 % par construction, non comparé)",
           # input warnings
           "column": " colonne ", "what_to_do": " ; que faire : "},
}
"""The texts of the administrative tables (services, definitions, ministries, revisions,
coherence) and of the composition, per language."""
AUDIENCES_FR = {"individuals": "particuliers", "companies": "entreprises"}
TARGET_STATUS_FR = {"met": "atteinte", "not met": "non atteinte",
                    "not applicable (online-only service)":
                        "sans objet (service uniquement en ligne)",
                    "not applicable (no target)": "sans objet (sans cible)",
                    "not applicable (no count)": "sans objet (aucun comptage)",
                    "not applicable (aggregate)": "sans objet (agrégat)",
                    "missing": "manquant"}
WARNINGS_FR: tuple[tuple[str, str, str, str], ...] = (
    # (problem pattern, French problem, hint, French hint) of the known input warnings
    (r"no administrative count for (\d{4})", r"aucun comptage administratif pour \1",
     "chase the supplier; the service is left out of this edition's table and listed in "
     "the methodology note", "relancer le fournisseur ; le service est exclu du tableau de "
     "cette édition et signalé dans la note méthodologique"),
    (r"column not in the codebook \(kept, not used\)",
     "colonne absente du dictionnaire des codes (conservée, non utilisée)",
     "remove it or add it to the codebook",
     "la supprimer ou l'ajouter au dictionnaire des codes"),
    (r"item not asked in (\d{4}) \(asked ([^)]*)\); column ignored",
     r"question non posée en \1 (posée : ⟦en⟧\2⟦/en⟧) ; colonne ignorée",
     "remove the column, or widen the item's first_year/last_year in the codebook",
     "supprimer la colonne, ou élargir first_year/last_year de la question dans le "
     "dictionnaire des codes"),
)
"""French wording of the input warnings :mod:`barometer.scoreboard.validate` emits; any
other warning is printed in English, marked as such."""


def target_status_label(status: object, lang: str = "en") -> str:
    """A target status (``met``, ``not met``, ``not applicable (...)``) in ``lang``."""
    text = "" if status is None or (isinstance(status, float) and math.isnan(status)) \
        else str(status)
    return TARGET_STATUS_FR.get(text, text) if lang == "fr" else text


def channels_label(channels: object, lang: str = "en") -> str:
    """A list of channels (``online, mail, counter``) in ``lang``."""
    text = str(channels)
    if lang == "en":
        return text
    return ", ".join(CHANNELS_FR.get(c.strip(), c.strip()) for c in text.split(","))


def composition_text(up: pd.DataFrame, lang: str = "en") -> str:
    """The audiences' shares of the all-services volume and their uptake, from the
    ``admin_uptake`` table's audience rows (number of services, share of the volume,
    uptake), in ``lang``."""
    total = up[up["level"] == "all"]
    aud = up[up["level"] == "audience"].sort_values("audience")
    if total.empty or not float(total["total"].iloc[0]):
        return ""
    all_volume = float(total["total"].iloc[0])
    unit = f"{NBSP}%" if lang == "fr" else "%"
    parts = []
    for _, r in aud.iterrows():
        audience = str(r["audience"])
        n = re.match(r"\d+", str(r["status"]))
        parts.append(ADMIN_TEXT[lang]["composition"].format(
            audience=AUDIENCES_FR.get(audience, audience) if lang == "fr" else audience,
            n=n.group(0) if n else "", volume=fmt_pct(r["total"] / all_volume, 1, lang) + unit,
            uptake=fmt_pct(r["uptake"], 1, lang) + unit))
    return _sep(lang).join(parts)


def admin_context(result: RunResult, tables: dict[str, pd.DataFrame], lang: str = "en"
                  ) -> dict[str, Any]:
    """The administrative data of a run as the note and the report print them, in ``lang``:
    one row per service of the catalogue (definitions; figures), per ministry and audience,
    warnings, revisions, coherence. In French the headings, service labels (the services
    file's ``label_fr``), channels, statuses and numbers are French; the suppliers' own
    English texts (counting unit, coverage, what *online* means) and unknown warnings stay
    as written, marked as English (:func:`english`)."""
    from barometer.scoreboard.admin import latest_vintage

    counts = result.edition.admin_counts
    counts = latest_vintage(counts[counts["year"] == result.year]) if len(counts) else counts
    up = tables["admin_uptake"]
    revs = tables.get("admin_revisions", pd.DataFrame())
    svc_up = up[up["level"] == "service"].set_index("service_id")
    text = ADMIN_TEXT[lang]
    fr = lang == "fr"
    names = service_labels(result, lang)
    definitions, figures = [], []
    online_defs = set()
    for _, s in result.edition.services.iterrows():
        sid = s["service_id"]
        c = counts[counts["service_id"] == sid] if len(counts) else counts
        u = svc_up.loc[sid] if sid in svc_up.index else None
        received = len(c) > 0
        if fr:
            channels = (channels_label(u["channels_reported"], lang)
                        + (text["online_only"] if u["online_only"] else text["others"]
                           if u["partial_channels"] else "")
                        if received and u is not None else text["none_received"])
            no = text["not_received_for"].format(year=result.year)
        else:
            channels = (u["channels_reported"] + (" (online only)" if u["online_only"] else
                                                  " (others not reported)"
                                                  if u["partial_channels"] else "")
                        if received and u is not None else "none received")
            no = f"not received for {result.year}"
        if received:
            online_defs.update(c["online_definition"].astype(str))
        definitions.append([
            names.get(str(sid), s["label_en"]),
            _join(c["supplier"], _sep(lang)) if received else f"{s['ministry']} ({no})",
            english(_join(c["counting_unit"]), lang) if received else no, channels,
            english(_join(c["coverage"]), lang) if received else no,
            english(_join(c["online_definition"]), lang) if received else no])
        r = revs[(revs["service_id"] == sid) & (revs["year"] == result.year)] \
            if len(revs) else revs
        revised = (text["revised"].format(date=r["revised_received"].iloc[0]) if len(r)
                   else text["none"] if received else "")
        status = target_status_label(u["target_status"], lang) if u is not None else ""
        figures.append([
            names.get(str(sid), s["label_en"]), f"{result.year}",
            _join(c["date_received"].astype(str).str[:10]) if received
            else text["not_received"],
            revised,
            (fmt_pct(u["uptake"], lang=lang) + (" *" if u["partial_channels"] else ""))
            if u is not None and received else text["missing"],
            fmt_pct(u["target"], 0, lang) if u is not None and pd.notna(u["target"]) else "",
            status])
    total = up[up["level"] == "all"].iloc[0]
    aud = up[up["level"] == "audience"].set_index("audience")
    svc = up[up["level"] == "service"]
    heads = (text["def_heads"].split("|") if fr else
             ["Service", "Supplier", "Counting unit", "Channels reported", "Coverage",
              "Online means"])
    if len(online_defs) <= 1:  # one definition for all: stated once in the text
        heads, definitions = heads[:-1], [r[:-1] for r in definitions]
    online_text = ("; ".join(f"*{d}*" for d in sorted(online_defs)) or "none received"
                   if not fr else _sep(lang).join(f"*{english(d, lang)}*"
                                                  for d in sorted(online_defs))
                   or text["no_definition"])
    return {
        "definitions": md_table(heads, definitions),
        "figures": md_table(text["heads"].split("|"), figures, "llllrrl"),
        "online_text": online_text,
        "n_services": len(result.edition.services),
        "n_reported": int((svc["status"] == "reported").sum()),
        "n_met": int((svc["target_status"] == "met").sum()),
        "n_not_met": int((svc["target_status"] == "not met").sum()),
        "n_online_only": int(svc["online_only"].astype(bool).sum()),
        "n_no_target": int(svc["target_status"].astype(str).str.contains("no target").sum()),
        "n_partial": int(svc["partial_channels"].astype(bool).sum()),
        "uptake_all": fmt_pct(total["uptake"], lang=lang),
        "composition": str(total["composition"]) if lang == "en"
        else composition_text(up, lang),
        "uptake_audience": {str(a): fmt_pct(r["uptake"], lang=lang)
                            for a, r in aud.iterrows()},
        "warnings": [_warning_text(w, lang) for w in result.edition.warnings],
        "coherence": _coherence_table(tables["coherence"], names, lang),
        "ministries": _ministry_table(up, lang),
        "revisions": _revisions_table(revs, lang), "n_revisions": len(revs),
        "targets_sources": _join(svc["target_source"]),
    }


def _revisions_table(revs: pd.DataFrame, lang: str = "en") -> str:
    """What changed, when, by how much: one row per revised count, in ``lang``."""
    fr = lang == "fr"
    rows = [[f"`{r['service_id']}`", str(int(r["year"])),
             CHANNELS_FR.get(r["channel"], r["channel"]) if fr else r["channel"],
             str(r["first_received"]), str(r["revised_received"]),
             fmt_int(r["count_first"], lang), fmt_int(r["count_revised"], lang),
             fmt_int(r["change"], lang), fmt_num(100 * r["relative_change"], 1, lang),
             fmt_pct(r["uptake_first"], lang=lang), fmt_pct(r["uptake_revised"], lang=lang)]
            for _, r in revs.iterrows()]
    heads = (ADMIN_TEXT[lang]["revision_heads"].split("|") if fr else
             ["Service", "Year", "Channel", "First received", "Revision received",
              "First count", "Revised count", "Change", "Change %", "Uptake % (first)",
              "Uptake % (revised)"])
    return md_table(heads, rows, "lllllrrrrrr")


def _warning_text(w: object, lang: str = "en") -> str:
    """An input warning (file, column, problem, value, what to do) as one line in ``lang``:
    the known warnings in French (:data:`WARNINGS_FR`), any other in English, marked."""
    column = getattr(w, "column", "")
    problem, hint = str(getattr(w, "problem", w)), getattr(w, "hint", "")
    value = getattr(w, "value", None)
    if lang == "en":
        parts = [f"`{getattr(w, 'file', '')}`" + (f" column `{column}`" if column else ""),
                 problem]
        if value not in (None, ""):
            parts.append(f"(`{value}`)")
        return " ".join(parts) + (f"; what to do: {hint}" if hint else "")
    text = ADMIN_TEXT[lang]
    known = next(((re.sub(pattern, fr_problem, problem), fr_hint)
                  for pattern, fr_problem, en_hint, fr_hint in WARNINGS_FR
                  if re.fullmatch(pattern, problem) and hint == en_hint), None)
    problem, hint = known if known else (english(problem, lang), english(hint, lang))
    parts = [f"`{getattr(w, 'file', '')}`" + (f"{text['column']}`{column}`" if column else ""),
             problem]
    if value not in (None, ""):
        parts.append(f"(`{value}`)")
    return " ".join(parts) + (f"{text['what_to_do']}{hint}" if hint else "")


def _ministry_table(up: pd.DataFrame, lang: str = "en") -> str:
    """Uptake per ministry or agency, per audience and for all services, in ``lang`` (the
    ministries' names are the services file's own, French, names)."""
    rows = []
    for _, r in up[up["level"].isin(["ministry", "audience", "all"])].iterrows():
        label, status = r["label_en"], r["status"]
        if lang == "fr":
            if r["level"] == "audience":
                label = ADMIN_TEXT[lang]["audience_row"].format(
                    audience=AUDIENCES_FR.get(str(r["audience"]), r["audience"]))
            elif r["level"] == "all":
                label = ADMIN_TEXT[lang]["all_row"]
            n = re.fullmatch(r"(\d+) services", str(status))
            if n:
                one, many = ADMIN_TEXT[lang]["n_services"].split("|")
                status = (one if int(n.group(1)) == 1 else many).format(
                    n=fmt_int(int(n.group(1)), lang))
        rows.append([label, status, fmt_int(r["total"], lang), fmt_pct(r["uptake"], lang=lang)])
    heads = (ADMIN_TEXT[lang]["ministry_heads"].split("|") if lang == "fr" else
             ["Ministry or agency; audience; all services", "Services", "Procedures",
              "Uptake %"])
    return md_table(heads, rows, "llrr")


def _coherence_table(coh: pd.DataFrame, names: dict[str, str] | None = None,
                     lang: str = "en") -> str:
    """The survey's estimate beside the administrative uptake, per linked service, in
    ``lang`` (service labels from ``names``, ``{service_id: label}``)."""
    fr = lang == "fr"
    text = ADMIN_TEXT[lang]
    names = names or {}

    def word(value: object) -> str:
        v = str(value)
        return (NOTE_STATUS_FR.get(v) or text.get(v) or v) if fr else v

    rows = []
    for _, r in coh.iterrows():
        has = pd.notna(r["survey_estimate"])
        within = r["admin_within_survey_ci"]
        rows.append([
            names.get(str(r["service_id"]), r["label_en"]), f"`{r['survey_item']}`",
            f"`{r['indicator']}`" if isinstance(r["indicator"], str)
            else (text["no_indicator"] if fr else "none"),
            fmt_pct(r["survey_estimate"], lang=lang) if has else word(r["survey_status"]),
            f"{fmt_pct(r['survey_ci_low'], lang=lang)} – "
            f"{fmt_pct(r['survey_ci_high'], lang=lang)}" if has else "",
            fmt_pct(r["admin_uptake"], lang=lang) if pd.notna(r["admin_uptake"])
            else word(r["admin_status"]),
            fmt_num(100 * r["difference"], 1, lang) if pd.notna(r["difference"]) else "",
            "" if pd.isna(within) else word("yes" if bool(within) else "no")])
    heads = (text["coherence_heads"].split("|") if fr else
             ["Service", "Survey item", "Indicator", "Survey %", "Survey interval",
              "Admin %", "Difference (points)", "Admin inside interval"])
    return md_table(heads, rows, "lllrrrrl")

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
    lang: str = "en"

    def html(self) -> str:
        """A ``<details>`` element holding the table (with its ``<caption>``)."""
        e = html_escape

        def cells(row: Sequence[str], tag: str) -> str:
            scope = ' scope="col"' if tag == "th" else ""
            return "".join(f"<{tag}{scope}>{e(c)}</{tag}>" for c in row)

        body = "\n".join(f"<tr><th scope=\"row\">{e(r[0])}</th>{cells(r[1:], 'td')}</tr>"
                         for r in self.rows)
        summary = tr(self.lang, "data_table", caption=e(self.caption))
        return (f"<details class=\"data\"><summary>{summary}</summary>\n"
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
    lang: str = "en"

    def path(self, fmt: str = "png") -> str:
        """The chart's path relative to the output folder (``figures/<stem>.<fmt>`` in
        English, ``figures/<stem>.<lang>.<fmt>`` in another language)."""
        return f"figures/{figure_name(self.stem, fmt, self.lang)}"

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


def figure_name(stem: str, fmt: str, lang: str = "en") -> str:
    """The file name of a chart: ``<stem>.<fmt>`` in English, ``<stem>.<lang>.<fmt>``."""
    return f"{stem}.{fmt}" if lang == "en" else f"{stem}.{lang}.{fmt}"


def _decimal_comma(fig: Figure) -> None:
    """Tick labels with a decimal comma (French): each axis's formatter wrapped."""
    from matplotlib.ticker import Formatter

    class _Comma(Formatter):
        def __init__(self, inner: Formatter) -> None:
            self.inner = inner

        def __call__(self, x: float, pos: int | None = None) -> str:
            return _localise(str(self.inner(x, pos)), "fr")

        def format_ticks(self, values: Any) -> list[str]:
            return [_localise(str(t), "fr") for t in self.inner.format_ticks(values)]

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            inner = axis.get_major_formatter()
            if not isinstance(inner, _Comma):
                axis.set_major_formatter(_Comma(inner))
                inner.set_axis(axis)


def _save(fig: Figure, folder: Path, stem: str, title: str, caption: str, alt: str,
          table: DataTable, lang: str = "en") -> Chart:
    import matplotlib as mpl

    for ax in fig.axes:  # minor tick labels (log scales) default to 70 % of the size
        ax.tick_params(which="minor", labelsize=FONT_PT)
    if lang != "en":
        _decimal_comma(fig)
    with mpl.rc_context(_RC):
        for fmt in FIGURE_FORMATS:
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            # zlib level 3: the same size as the default 6 (+0.5 %), a third faster
            extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
            fig.savefig(folder / figure_name(stem, fmt, lang), format=fmt,
                        dpi=DPI * PNG_SCALE, metadata=meta, **extra)
    w, h = fig.get_size_inches()
    return Chart(stem, title, caption, alt, table, round(w * DPI), round(h * DPI),
                 round(text_px(fig), 2), lang)


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


# Every text a chart draws or states, per language (one drawing code path, the language a
# parameter): ``tr(lang, key, **values)``. The two dictionaries hold the same keys and the
# same placeholders (checked by the tests).
CHART_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "estimate_interval": "estimate, {level} interval",
        "open_circle": "open circle: use with caution",
        "suppressed_legend": "“suppressed”: not drawn",
        "undefined": "undefined (0/0)",
        "suppressed": "suppressed",
        "caution_cell": ", use with caution",
        "pct_ci": "% (with {level} confidence interval)",
        "highest_lowest": "{pop}: highest, {top} ({top_v}); lowest, {low} ({low_v})",
        "headline_alt": "Headline indicators, {year}. {messages}.",
        "headline_table": "Headline indicators, {year}: estimate % ({level} interval)",
        "h_indicator": "Indicator", "h_population": "Population",
        "h_estimate_interval": "Estimate % (interval)", "h_n": "n",
        "headline_title": "Headline indicators",
        "headline_caption": "Headline indicators of the {year} edition, with their "
                            "confidence intervals (open circles: use with caution).",
        "pct": "%", "mean_score": "mean score",
        "domain_alt_part": "{label}: highest for {top} ({top_v}), lowest for {low} ({low_v})",
        "domain_table": "{title}, by domain, {year}: estimate ({level} interval)",
        "h_domain": "Domain",
        "domain_caption": "{pop}: {labels}, by domain, with their {level} confidence "
                          "intervals; open circles: use with caution; suppressed cells are "
                          "named, not drawn.",
        "domain_alt": "{pop}, {year}, by domain. {parts}.",
        "points": " pts",
        "change_note": "{ref}→{year}: {change}{unit}, {sig}",
        "significant": "significant", "not_significant": "not significant",
        "not_available": "not available",
        "estimate": "estimate", "band": "{level} confidence band",
        "star": "change since the previous edition significant at 5%",
        "change_row": "Change since the previous edition",
        "trend_table": "Headline indicators by edition, {span} (% for shares, mean score)",
        "h_edition": "Edition",
        "trend_message": "{label} from {first} in {first_year} to {last} in {last_year}",
        "trend_alt": "Headline indicators, editions {span}: {messages}. {n_sig} of {n} "
                     "changed significantly since the previous edition.",
        "trend_title": "Trends across editions",
        "trend_caption": "Headline indicators, editions {span}, with {level} confidence "
                         "bands (%, or mean score); a star marks a change since the "
                         "previous edition significant at 5%.",
        "online_only": "online only", "met": "met", "not met": "not met",
        "no_target": "no target", "no_count": "no count received",
        "uptake_x": "% of procedures completed online, {year}",
        "target_met": "target met", "target_not_met": "target not met (hatched)",
        "not_applicable": "not applicable (online only, or no target)",
        "target": "target",
        "uptake_alt": "Digital uptake by service, {year}: {met} of {n} services with a "
                      "target and counts met it",
        "uptake_alt_range": "; highest uptake: {hi} ({hi_v}), lowest: {lo} ({lo_v})",
        "uptake_alt_missing": "; {n} without counts.",
        "missing": "missing", "none": "none",
        "uptake_table": "Digital uptake by service, {year}",
        "h_service": "Service", "h_uptake": "Uptake %", "h_target": "Target %",
        "h_target_status": "Target",
        "uptake_title": "Digital uptake by service",
        "uptake_caption": "Share of procedures completed online per service (solid green "
                          "bars: target met; hatched red bars: not met; grey bars: not "
                          "applicable, an online-only service or no target; black tick: "
                          "target of the year).",
        "no_both": "no service with both a survey estimate and a count",
        "admin_x": "administrative digital uptake (%)",
        "survey_y": "survey: online share among users (%)",
        "survey_estimate": "survey estimate, {level} interval", "equal": "equal shares",
        "coherence_alt": "Survey vs administrative shares, {year}: for {inside} of {n} "
                         "services measured by both, the administrative share lies inside "
                         "the survey interval",
        "coherence_gap": "; largest gap: {label} (survey {survey}, administrative {admin})",
        "coherence_table": "Survey and administrative shares per service, {year}",
        "h_survey": "Survey %", "h_survey_interval": "Survey interval",
        "h_admin": "Administrative %", "h_difference": "Difference (points)",
        "coherence_title": "Survey vs administrative counts",
        "coherence_caption": "Survey estimate (with its interval) against the "
                             "administrative share, per service measured by both; dashed "
                             "line: equal shares.",
        "weight_x": "final weight / mean weight", "log": " (log scale)", "units": "units",
        "final_weights": "{pop}: final weights", "g_weights": "{pop}: g-weights",
        "g_x": "g-weight (final / initial weight, initial scaled to the total)",
        "weights_message": "{pop}: final weights from {lo} to {hi} times the mean, "
                           "g-weights from {g_lo} to {g_hi}",
        "weights_table": "Final weights (relative to the mean weight) and g-weights",
        "h_units": "Units", "h_min_w": "Min weight / mean", "h_med_w": "Median weight / mean",
        "h_max_w": "Max weight / mean", "h_min_g": "Min g", "h_max_g": "Max g",
        "weights_title": "Weight diagnostics",
        "weights_caption": "Distribution of the final weights (relative to the mean "
                           "weight) and of the g-weights, per population.",
        "weights_alt": "Weight distributions: {messages}.",
        "data_table": "Data table: {caption}",
    },
    "fr": {
        "estimate_interval": "estimation, intervalle à {level}",
        "open_circle": "cercle vide : avec prudence",
        "suppressed_legend": "« non diffusé » : non tracé",
        "undefined": "non défini (0/0)",
        "suppressed": "non diffusé",
        "caution_cell": ", à utiliser avec prudence",
        "pct_ci": "% (avec intervalle de confiance à {level})",
        "highest_lowest": "{pop} : le plus élevé, {top} ({top_v}) ; le plus bas, {low} "
                          "({low_v})",
        "headline_alt": "Indicateurs principaux, {year}. {messages}.",
        "headline_table": "Indicateurs principaux, {year} : estimation en % (intervalle à "
                          "{level})",
        "h_indicator": "Indicateur", "h_population": "Population",
        "h_estimate_interval": "Estimation % (intervalle)", "h_n": "n",
        "headline_title": "Indicateurs principaux",
        "headline_caption": "Indicateurs principaux de l’édition {year}, avec leurs "
                            "intervalles de confiance (cercles vides : à utiliser avec "
                            "prudence).",
        "pct": "%", "mean_score": "score moyen",
        "domain_alt_part": "{label} : le plus élevé pour {top} ({top_v}), le plus bas "
                           "pour {low} ({low_v})",
        "domain_table": "{title}, par domaine, {year} : estimation (intervalle à {level})",
        "h_domain": "Domaine",
        "domain_caption": "{pop} : {labels}, par domaine, avec leurs intervalles de "
                          "confiance à {level} ; cercles vides : à utiliser avec prudence ; "
                          "les cellules non diffusées sont nommées, non tracées.",
        "domain_alt": "{pop}, {year}, par domaine. {parts}.",
        "points": " pts",
        "change_note": "{ref}→{year} : {change}{unit}, {sig}",
        "significant": "significatif", "not_significant": "non significatif",
        "not_available": "non disponible",
        "estimate": "estimation", "band": "bande de confiance à {level}",
        "star": "évolution depuis l’édition précédente significative au seuil de 5 %",
        "change_row": "Évolution depuis l’édition précédente",
        "trend_table": "Indicateurs principaux par édition, {span} (% pour les parts, "
                       "score moyen)",
        "h_edition": "Édition",
        "trend_message": "{label} de {first} en {first_year} à {last} en {last_year}",
        "trend_alt": "Indicateurs principaux, éditions {span} : {messages}. {n_sig} sur {n} "
                     "ont évolué significativement depuis l’édition précédente.",
        "trend_title": "Évolutions entre éditions",
        "trend_caption": "Indicateurs principaux, éditions {span}, avec leurs bandes de "
                         "confiance à {level} (%, ou score moyen) ; une étoile marque une "
                         "évolution depuis l’édition précédente significative au seuil de "
                         "5 %.",
        "online_only": "en ligne uniquement", "met": "atteinte", "not met": "non atteinte",
        "no_target": "sans cible", "no_count": "aucun comptage reçu",
        "uptake_x": "% des démarches effectuées en ligne, {year}",
        "target_met": "cible atteinte", "target_not_met": "cible non atteinte (hachuré)",
        "not_applicable": "sans objet (en ligne uniquement, ou sans cible)",
        "target": "cible",
        "uptake_alt": "Taux de dématérialisation par service, {year} : {met} des {n} "
                      "services ayant une cible et des comptages l’ont atteinte",
        "uptake_alt_range": " ; taux le plus élevé : {hi} ({hi_v}), le plus bas : {lo} "
                            "({lo_v})",
        "uptake_alt_missing": " ; {n} sans comptage.",
        "missing": "manquant", "none": "aucune",
        "uptake_table": "Taux de dématérialisation par service, {year}",
        "h_service": "Service", "h_uptake": "Taux en ligne %", "h_target": "Cible %",
        "h_target_status": "Cible",
        "uptake_title": "Taux de dématérialisation par service",
        "uptake_caption": "Part des démarches effectuées en ligne par service (barres "
                          "vertes pleines : cible atteinte ; barres rouges hachurées : non "
                          "atteinte ; barres grises : sans objet, service uniquement en "
                          "ligne ou sans cible ; trait noir : cible de l’année).",
        "no_both": "aucun service mesuré à la fois par l’enquête et par un comptage",
        "admin_x": "taux de dématérialisation administratif (%)",
        "survey_y": "enquête : part en ligne parmi les usagers (%)",
        "survey_estimate": "estimation de l’enquête, intervalle à {level}",
        "equal": "parts égales",
        "coherence_alt": "Enquête et données administratives, {year} : pour {inside} des {n} "
                         "services mesurés par les deux, la part administrative est dans "
                         "l’intervalle de l’enquête",
        "coherence_gap": " ; plus grand écart : {label} (enquête {survey}, administratif "
                         "{admin})",
        "coherence_table": "Parts de l’enquête et des données administratives par "
                           "service, {year}",
        "h_survey": "Enquête %", "h_survey_interval": "Intervalle de l’enquête",
        "h_admin": "Administratif %", "h_difference": "Écart (points)",
        "coherence_title": "Enquête et comptages administratifs",
        "coherence_caption": "Estimation de l’enquête (avec son intervalle) et part "
                             "administrative, par service mesuré par les deux ; tirets : "
                             "parts égales.",
        "weight_x": "poids final / poids moyen", "log": " (échelle logarithmique)",
        "units": "unités",
        "final_weights": "{pop} : poids finaux", "g_weights": "{pop} : rapports g",
        "g_x": "rapport g (poids final / poids initial, initial ramené au total)",
        "weights_message": "{pop} : poids finaux de {lo} à {hi} fois la moyenne, rapports "
                           "g de {g_lo} à {g_hi}",
        "weights_table": "Poids finaux (rapportés au poids moyen) et rapports g",
        "h_units": "Unités", "h_min_w": "Poids min. / moyenne",
        "h_med_w": "Poids médian / moyenne", "h_max_w": "Poids max. / moyenne",
        "h_min_g": "g min.", "h_max_g": "g max.",
        "weights_title": "Diagnostics de pondération",
        "weights_caption": "Distribution des poids finaux (rapportés au poids moyen) et "
                           "des rapports g, par population.",
        "weights_alt": "Distribution des poids : {messages}.",
        "data_table": "Tableau de données : {caption}",
    },
}


def tr(lang: str, key: str, **values: object) -> str:
    """The text ``key`` of the charts in ``lang``, its placeholders filled."""
    if lang not in CHART_TEXT:
        raise ValueError(f"unknown language {lang!r}: use one of {LANGS}")
    return CHART_TEXT[lang][key].format(**values)


def _sep(lang: str) -> str:
    """The separator of a list of clauses: ``"; "`` (French: ``" ; "``, a space before)."""
    return " ; " if lang == "fr" else "; "


def _lower_first(text: str) -> str:
    """Text with its first letter in lower case (acronyms such as "PCS" kept)."""
    if len(text) > 1 and text[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _legend_handles(level: str, *, caution: bool = True, suppressed: bool = True,
                    lang: str = "en") -> list[Any]:
    from matplotlib.lines import Line2D

    colour = STATUS_COLOURS["published"]
    out = [Line2D([], [], color=colour, marker="o", lw=1.6, ms=5,
                  label=tr(lang, "estimate_interval", level=level))]
    if caution:
        out.append(Line2D([], [], color=STATUS_COLOURS["caution"], marker="o", lw=1.6,
                          ms=5, markerfacecolor="white",
                          label=tr(lang, "open_circle")))
    if suppressed:
        out.append(Line2D([], [], color="none", label=tr(lang, "suppressed_legend")))
    return out


def _interval_rows(ax: Axes, frame: pd.DataFrame, labels: Sequence[str] | None,
                   scale: float, y: np.ndarray | None = None, lang: str = "en") -> None:
    """Point + interval per row (top to bottom); suppressed rows are written, not drawn.
    Caution is shown by an open circle (not by colour alone). ``labels=None``: no y ticks
    (a panel sharing the labels of the panel on its left)."""
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
        ax.text(0.02, yi, tr(lang, "undefined" if st == "undefined" else "suppressed"),
                transform=ax.get_yaxis_transform(), va="center", ha="left",
                color=STATUS_COLOURS["suppressed"], style="italic")
    if labels is None:
        ax.set_yticks([])
    else:
        ax.set_yticks(y, labels)
    ax.set_ylim(*span)


def _pct_text(v: object, lang: str = "en") -> str:
    return fmt_estimate(v, "share", lang)


def _cell(r: pd.Series | None, kind: str, lang: str = "en") -> str:
    """A cell of a data table: estimate (interval), or its status."""
    if r is not None and str(r["status"]) == "undefined":
        return tr(lang, "undefined")
    if r is None or str(r["status"]) == "suppressed" or _num(r["estimate"]) is None:
        return tr(lang, "suppressed")
    text = (f"{fmt_estimate(r['estimate'], kind, lang)} "
            f"({fmt_estimate(r['ci_low'], kind, lang)} – "
            f"{fmt_estimate(r['ci_high'], kind, lang)})")
    return text + (tr(lang, "caution_cell") if str(r["status"]) == "caution" else "")


def indicator_label(ind: Any, lang: str = "en") -> str:
    """An indicator's label in ``lang`` (the catalogue's ``label_fr`` / ``label_en``)."""
    return str(ind.label_fr if lang == "fr" else ind.label_en)


def service_labels(result: RunResult, lang: str = "en") -> dict[str, str]:
    """``{service_id: label}`` in ``lang`` (the services file's ``label_fr``/``label_en``)."""
    svc = result.edition.services
    column = "label_fr" if lang == "fr" and "label_fr" in svc else "label_en"
    return dict(zip(svc["service_id"].astype(str), svc[column].astype(str), strict=True))


def _service_label(row: pd.Series, labels: dict[str, str]) -> str:
    return labels.get(str(row["service_id"]), str(row["label_en"]))


def _headline(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path,
              lang: str = "en") -> Chart:
    cat = _catalogue(result)
    est = tables["estimates"]
    level = _level(result, lang)
    heads = [i for i in cat.indicators if i.headline and i.kind == "share"]
    pops = [p for p in ("individuals", "companies") if any(i.population == p for i in heads)]
    rows_of = {p: pd.DataFrame([_overall(est, i.id) for i in heads if i.population == p])
               for p in pops}
    labels_of = {p: [_wrap(indicator_label(i, lang), 44) for i in heads
                     if i.population == p] for p in pops}
    heights = [_row_positions(labels_of[p])[1] for p in pops]
    fig = _figure(FIG_WIDTH, 1.5 + 0.3 * sum(heights) + 0.45 * len(pops))
    axes = fig.subplots(len(pops), 1, sharex=True, height_ratios=heights, squeeze=False)[:, 0]
    shown = pd.concat(list(rows_of.values()))
    shown = shown[~shown["status"].isin(HIDDEN)]
    lo, hi = _fit(shown["ci_low"] * 100, shown["ci_high"] * 100, top=100)
    for ax, pop in zip(axes, pops, strict=True):
        rows = rows_of[pop]
        y, _ = _row_positions(labels_of[pop])
        _interval_rows(ax, rows, labels_of[pop], 100, y, lang)
        for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
            if r["status"] not in HIDDEN:
                ax.annotate(_pct_text(r["estimate"], lang), (float(r["ci_high"]) * 100, yi),
                            xytext=(5, 0), textcoords="offset points", va="center",
                            annotation_clip=False)
        ax.set_title(population_label(pop, lang), loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", visible=False)
    _set_limits(axes[-1], lo, hi + 0.12 * (hi - lo))  # room for the value labels
    axes[-1].set_xlabel(tr(lang, "pct_ci", level=level))
    fig.legend(handles=_legend_handles(level, lang=lang), loc="outside lower center",
               ncol=1, frameon=False)
    table_rows = []
    messages = []
    for pop in pops:
        inds = [i for i in heads if i.population == pop]
        for ind, (_, r) in zip(inds, rows_of[pop].iterrows(), strict=True):
            table_rows.append((indicator_label(ind, lang), population_label(pop, lang),
                               _cell(r, "share", lang), fmt_int(r["n"], lang)))
        ok = [(i, r) for i, (_, r) in zip(inds, rows_of[pop].iterrows(), strict=True)
              if r["status"] not in HIDDEN and _num(r["estimate"]) is not None]
        if ok:
            top_i, top_r = max(ok, key=lambda t: float(t[1]["estimate"]))
            low_i, low_r = min(ok, key=lambda t: float(t[1]["estimate"]))
            messages.append(tr(lang, "highest_lowest", pop=population_label(pop, lang),
                               top=_lower_first(indicator_label(top_i, lang)),
                               top_v=_pct_text(top_r["estimate"], lang),
                               low=_lower_first(indicator_label(low_i, lang)),
                               low_v=_pct_text(low_r["estimate"], lang)))
    alt = tr(lang, "headline_alt", year=result.year, messages=". ".join(messages))
    table = DataTable(tr(lang, "headline_table", year=result.year, level=level),
                      (tr(lang, "h_indicator"), tr(lang, "h_population"),
                       tr(lang, "h_estimate_interval"), tr(lang, "h_n")), tuple(table_rows),
                      lang)
    return _save(fig, folder, "headline", tr(lang, "headline_title"),
                 tr(lang, "headline_caption", year=result.year), alt, table, lang)


def _overall(est: pd.DataFrame, indicator: str) -> pd.Series:
    rows = est[(est["indicator"] == indicator) & (est["by"] == "all")]
    return rows.iloc[0]


def _level(result: RunResult, lang: str = "en") -> str:
    level = float(result.record["catalogue"]["rules"]["ci_level"])
    return f"{fmt_num(100 * level, 0, lang)}{NBSP if lang == 'fr' else ''}%"


DOMAIN_PANELS = 4
"""Indicators drawn side by side in one chart of the indicators by domain."""


def _domains(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path,
             lang: str = "en") -> list[Chart]:
    """Indicators by domain: per population, charts of up to four indicators side by side
    sharing the domain labels (one chart per indicator would take seconds more to draw)."""
    cat = _catalogue(result)
    cb = result.edition.codebook
    est = tables["estimates"]
    level = _level(result, lang)
    short = SHORT_BY_FR if lang == "fr" else SHORT_BY
    colon = " : " if lang == "fr" else ": "
    charts = []
    for pop in POPULATION_LABELS:
        inds = [i for i in cat.for_population(pop) if (est["indicator"] == i.id).any()]
        keys = _domain_keys(est[est["population"] == pop], cb)
        names = [domain_label(cb, pop, b, d, lang) if b == "all" else
                 f"{short.get(b, b)}{colon}{domain_label(cb, pop, b, d, lang)}"
                 for b, d in zip(keys["by"], keys["domain"], strict=True)]
        labels = [_wrap(n, 38) for n in names]
        y, total = _row_positions(labels)
        groups = [inds[k:k + DOMAIN_PANELS] for k in range(0, len(inds), DOMAIN_PANELS)]
        for number, group in enumerate(groups, start=1):
            titles = [_wrap(indicator_label(i, lang), 19) for i in group]
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
                _interval_rows(ax, rows, labels if k == 0 else None, scale, y, lang)
                _separators(ax, keys["by"].to_numpy(), y)
                shown = rows[~rows["status"].isin(HIDDEN)]
                lo, hi = _fit(shown["ci_low"] * scale, shown["ci_high"] * scale,
                              top=100 if ind.kind == "share" else None)
                _set_limits(ax, lo, hi)
                ax.set_xlabel(tr(lang, "pct" if ind.kind == "share" else "mean_score"))
                ax.set_title(titles[k], loc="left")
                ax.tick_params(axis="y", length=0)
                ax.grid(axis="x", alpha=0.3)
                ax.grid(axis="y", visible=False)
            for ax in axes[len(group):]:
                ax.set_visible(False)
            fig.legend(handles=_legend_handles(level, lang=lang), loc="upper left",
                       bbox_to_anchor=(0.005, 0.995), frameon=False)
            stem = f"domains_{pop}_{number}"
            alt_parts, table_rows = [], []
            nm = dict(zip(zip(keys["by"], keys["domain"], strict=True), names, strict=True))
            for ind, rows in zip(group, frames, strict=True):
                sub = rows[(rows["by"] != "all") & ~rows["status"].isin(HIDDEN)
                           & rows["estimate"].notna()]
                if len(sub):
                    hi_r = sub.loc[sub["estimate"].idxmax()]
                    lo_r = sub.loc[sub["estimate"].idxmin()]
                    alt_parts.append(tr(
                        lang, "domain_alt_part", label=indicator_label(ind, lang),
                        top=nm[hi_r["by"], hi_r["domain"]],
                        top_v=fmt_estimate(hi_r["estimate"], ind.kind, lang),
                        low=nm[lo_r["by"], lo_r["domain"]],
                        low_v=fmt_estimate(lo_r["estimate"], ind.kind, lang)))
            for j, name in enumerate(names):
                table_rows.append((name, *(_cell(f.iloc[j], ind.kind, lang)
                                           for f, ind in zip(frames, group, strict=True))))
            pop_text = population_label(pop, lang)
            title = f"{pop_text}{colon}" + _sep(lang).join(indicator_label(i, lang)
                                                           for i in group)
            heads = tuple(f"{indicator_label(i, lang)} "
                          f"({tr(lang, 'pct' if i.kind == 'share' else 'mean_score')})"
                          for i in group)
            table = DataTable(tr(lang, "domain_table", title=title, year=result.year,
                                 level=level),
                              (tr(lang, "h_domain"), *heads), tuple(table_rows), lang)
            charts.append(_save(
                fig, folder, stem, title,
                tr(lang, "domain_caption", pop=pop_text, level=level,
                   labels=_sep(lang).join(_lower_first(indicator_label(i, lang))
                                          for i in group)),
                tr(lang, "domain_alt", pop=pop_text, year=result.year,
                   parts=". ".join(alt_parts)), table, lang))
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


def _trends(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path,
            lang: str = "en") -> Chart:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    cat = _catalogue(result)
    series = tables["series"]
    trend = tables["trends"]
    heads = [i for i in cat.indicators if i.headline]
    ncol = 3
    nrow = math.ceil(len(heads) / ncol)
    level = _level(result, lang)
    colour = STATUS_COLOURS["published"]
    fig = _figure(FIG_WIDTH, 2.75 * nrow + 1.3, left=0.55, top=0.8, bottom=1.05)
    fig.subplots_adjust(hspace=0.95, wspace=0.3, right=0.97)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True).ravel()
    years_all: list[int] = sorted(int(y) for y in series["year"].unique())
    table: dict[str, dict[int, str]] = {}
    messages, change_row = [], []
    n_sig = 0
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
            n_sig += sig
            note = tr(lang, "change_note", ref=int(r["reference_year"]), year=int(r["year"]),
                      change=_localise(f"{float(r['change']) * scale:+.1f}", lang),
                      unit=tr(lang, "points") if ind.kind == "share" else "",
                      sig=tr(lang, "significant" if sig else "not_significant"))
            if sig:
                last = s[s["year"] == int(r["year"])]
                ax.scatter(last["year"], last["estimate"] * scale, marker="*", s=150,
                           color="black", zorder=4, clip_on=False)
            change_row.append(note)
        else:
            change_row.append(tr(lang, "not_available"))
        ax.set_title(_wrap(indicator_label(ind, lang), 36) + (f"\n{note}" if note else ""),
                     loc="left")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        lo, hi = _fit(s["ci_low"] * scale, s["ci_high"] * scale,
                      top=100 if ind.kind == "share" else None, zero_below=0.5)
        _set_limits(ax, lo, hi, axis="y")
        ax.tick_params(axis="x", labelbottom=True)
        table[ind.id] = {int(y): fmt_estimate(e, ind.kind, lang) if ind.kind != "share"
                         else fmt_pct(e, lang=lang)
                         for y, e in zip(s["year"], s["estimate"], strict=True)}
        if len(s) >= 2:
            first, last_r = s.iloc[0], s.iloc[-1]
            messages.append(tr(lang, "trend_message",
                               label=_lower_first(indicator_label(ind, lang)),
                               first=fmt_estimate(first["estimate"], ind.kind, lang),
                               first_year=int(first["year"]),
                               last=fmt_estimate(last_r["estimate"], ind.kind, lang),
                               last_year=int(last_r["year"])))
    for ax in axes[len(heads):]:
        ax.set_visible(False)
    fig.legend(handles=[
        Line2D([], [], color=colour, marker="o", lw=1.4, ms=4, label=tr(lang, "estimate")),
        Patch(facecolor=colour, alpha=0.15, edgecolor=colour, ls=":",
              label=tr(lang, "band", level=level)),
        Line2D([], [], color="black", marker="*", ls="none", ms=11, label=tr(lang, "star"))],
        loc="lower center", ncol=2, frameon=False)
    span = f"{years_all[0]}–{years_all[-1]}" if years_all else str(result.year)
    rows = [(str(y), *(table[i.id].get(y, tr(lang, "suppressed")) for i in heads))
            for y in years_all]
    rows.append((tr(lang, "change_row"), *change_row))
    data = DataTable(tr(lang, "trend_table", span=span),
                     (tr(lang, "h_edition"), *(indicator_label(i, lang) for i in heads)),
                     tuple(rows), lang)
    alt = tr(lang, "trend_alt", span=span, messages=_sep(lang).join(messages), n_sig=n_sig,
             n=len(heads))
    return _save(fig, folder, "trends", tr(lang, "trend_title"),
                 tr(lang, "trend_caption", span=span, level=level), alt, data, lang)


def _uptake(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path,
            lang: str = "en") -> Chart:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = service_labels(result, lang)
    up = tables["admin_uptake"]
    svc = up[up["level"] == "service"].copy()
    svc["sort"] = svc["uptake"].astype(float).fillna(-1)
    svc = svc.sort_values("sort", ascending=False).reset_index(drop=True)
    svc_names = [_service_label(r, names) for _, r in svc.iterrows()]
    labels = [_wrap(v, 40) for v in svc_names]
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
    right = 0.0
    targets = pd.to_numeric(svc["target"], errors="coerce").to_numpy(float)
    for yi, u, st, only, tg in zip(y, uptake, status, svc["online_only"].astype(bool),
                                   targets, strict=True):
        if np.isfinite(u):
            what = tr(lang, "online_only" if only else st if st in ("met", "not met")
                      else "no_target")
            text = f"{_pct_text(u, lang)}, {what}"
            x = 100 * max(u, tg if np.isfinite(tg) else u) + 1.5  # clear of the target tick
            right = max(right, x + 1.4 * len(text))
            ax.text(x, yi, text, va="center")
        else:
            ax.text(1, yi, tr(lang, "no_count"), va="center", style="italic",
                    color=STATUS_COLOURS["suppressed"])
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.5, total + 0.1)
    # bars start at zero; room for the value labels (about 1.4 axis units a character)
    ax.set_xlim(0, max(125.0, right))
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel(tr(lang, "uptake_x", year=result.year))
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    fig.legend(handles=[Patch(color=ADMIN_COLOURS["met"], label=tr(lang, "target_met")),
                        Patch(facecolor=ADMIN_COLOURS["not met"], hatch="///",
                              edgecolor="white", label=tr(lang, "target_not_met")),
                        Patch(color=ADMIN_COLOURS["not applicable"],
                              label=tr(lang, "not_applicable")),
                        Line2D([], [], color="black", marker="|", ls="none", ms=12, mew=2.2,
                               label=tr(lang, "target"))],
               loc="lower center", ncol=2, frameon=False)
    n_has = int(has.sum())
    n_target = int(((met | not_met) & has).sum())
    alt = tr(lang, "uptake_alt", year=result.year, met=int((met & has).sum()), n=n_target)
    if n_has:
        i_hi, i_lo = int(np.nanargmax(uptake)), int(np.nanargmin(uptake))
        alt += tr(lang, "uptake_alt_range", hi=svc_names[i_hi],
                  hi_v=_pct_text(uptake[i_hi], lang), lo=svc_names[i_lo],
                  lo_v=_pct_text(uptake[i_lo], lang))
    missing = int((~has).sum())
    alt += tr(lang, "uptake_alt_missing", n=missing) if missing else "."
    rows = tuple((name, fmt_pct(r["uptake"], lang=lang) if _num(r["uptake"]) is not None
                  else tr(lang, "missing"),
                  fmt_pct(r["target"], 0, lang) if _num(r["target"]) is not None
                  else tr(lang, "none"),
                  target_status_label(st, lang) if h else "")
                 for name, (_, r), st, h in zip(svc_names, svc.iterrows(), status, has,
                                                strict=True))
    table = DataTable(tr(lang, "uptake_table", year=result.year),
                      (tr(lang, "h_service"), tr(lang, "h_uptake"), tr(lang, "h_target"),
                       tr(lang, "h_target_status")), rows, lang)
    return _save(fig, folder, "uptake", tr(lang, "uptake_title"),
                 tr(lang, "uptake_caption"), alt, table, lang)


def _coherence(tables: dict[str, pd.DataFrame], result: RunResult, folder: Path,
               lang: str = "en") -> Chart:
    from matplotlib.lines import Line2D

    names = service_labels(result, lang)
    level = _level(result, lang)
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
        ax.annotate(_wrap(_service_label(r, names), 22), (x, e), textcoords="offset points",
                    xytext=(-8 if right else 8, 0), ha="right" if right else "left",
                    va="center", annotation_clip=False)
    if ok.empty:
        ax.text(0.5, 0.5, tr(lang, "no_both"), ha="center", transform=ax.transAxes)
        lo_ax, hi_ax = 0.0, 100.0
    else:
        vals = np.concatenate([ok["admin_uptake"], ok["survey_ci_low"],
                               ok["survey_ci_high"]]).astype(float) * 100
        lo_ax, hi_ax = _fit(vals, vals, top=100)
    ax.plot([lo_ax, hi_ax], [lo_ax, hi_ax], color="#595959", lw=1, ls="--")
    _set_limits(ax, lo_ax, hi_ax)
    _set_limits(ax, lo_ax, hi_ax, axis="y")
    ax.set_xlabel(tr(lang, "admin_x"))
    ax.set_ylabel(tr(lang, "survey_y"))
    ax.grid(alpha=0.3)
    ax.legend(handles=[Line2D([], [], color=colour, marker="o", ls="-", ms=5,
                              label=tr(lang, "survey_estimate", level=level)),
                       Line2D([], [], color="#595959", ls="--", label=tr(lang, "equal"))],
              loc="lower right")
    within = ok["admin_within_survey_ci"].astype("boolean").fillna(False)
    alt = tr(lang, "coherence_alt", year=result.year, inside=int(within.sum()), n=len(ok))
    if len(ok):
        gap = (ok["survey_estimate"] - ok["admin_uptake"]).abs().astype(float)
        g = ok.loc[gap.idxmax()]
        alt += tr(lang, "coherence_gap", label=_service_label(g, names),
                  survey=_pct_text(g["survey_estimate"], lang),
                  admin=_pct_text(g["admin_uptake"], lang))
    rows = tuple((_service_label(r, names), fmt_pct(r["survey_estimate"], lang=lang),
                  f"{fmt_pct(r['survey_ci_low'], lang=lang)} – "
                  f"{fmt_pct(r['survey_ci_high'], lang=lang)}",
                  fmt_pct(r["admin_uptake"], lang=lang),
                  fmt_num(100 * float(r["survey_estimate"] - r["admin_uptake"]), 1, lang))
                 for _, r in ok.iterrows())
    table = DataTable(tr(lang, "coherence_table", year=result.year),
                      (tr(lang, "h_service"), tr(lang, "h_survey"),
                       tr(lang, "h_survey_interval"), tr(lang, "h_admin"),
                       tr(lang, "h_difference")), rows, lang)
    return _save(fig, folder, "coherence", tr(lang, "coherence_title"),
                 tr(lang, "coherence_caption"), alt + ".", table, lang)


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


def _weights(result: RunResult, folder: Path, lang: str = "en") -> Chart:
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
        row[0].set_xlabel(tr(lang, "weight_x") + (tr(lang, "log") if spread else ""))
        row[0].set_ylabel(tr(lang, "units"))
        pop_text = population_label(pop, lang)
        row[0].set_title(tr(lang, "final_weights", pop=pop_text), loc="left")
        row[1].hist(g, bins=40, color=STATUS_COLOURS["caution"])
        row[1].set_xlabel(_wrap(tr(lang, "g_x"), 40))
        row[1].set_title(tr(lang, "g_weights", pop=pop_text), loc="left")
        rows.append((pop_text, fmt_int(len(w), lang), fmt_num(rel.min(), lang=lang),
                     fmt_num(float(np.median(rel)), lang=lang), fmt_num(rel.max(), lang=lang),
                     fmt_num(g.min(), lang=lang), fmt_num(g.max(), lang=lang)))
        messages.append(tr(lang, "weights_message", pop=_lower_first(pop_text),
                           lo=fmt_num(rel.min(), lang=lang), hi=fmt_num(rel.max(), lang=lang),
                           g_lo=fmt_num(g.min(), lang=lang), g_hi=fmt_num(g.max(), lang=lang)))
    table = DataTable(tr(lang, "weights_table"),
                      (tr(lang, "h_population"), tr(lang, "h_units"), tr(lang, "h_min_w"),
                       tr(lang, "h_med_w"), tr(lang, "h_max_w"), tr(lang, "h_min_g"),
                       tr(lang, "h_max_g")), tuple(rows), lang)
    return _save(fig, folder, "weights", tr(lang, "weights_title"),
                 tr(lang, "weights_caption"),
                 tr(lang, "weights_alt", messages=_sep(lang).join(messages)), table, lang)


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


def write_figures(result: RunResult, folder: Path, lang: str = "en") -> Charts:
    """Draw every chart of the run into ``folder/figures`` (PNG and SVG) in ``lang``:
    titles, labels, legends, alt texts and data tables from :data:`CHART_TEXT` and the
    codebook's and catalogue's labels in that language, numbers formatted for it. The
    English files are ``<stem>.png``, the others ``<stem>.<lang>.png``."""
    import matplotlib as mpl
    import seaborn as sns

    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use one of {LANGS}")
    out = folder / "figures"
    out.mkdir(parents=True, exist_ok=True)
    tables = result.tables()
    with sns.axes_style("whitegrid"), mpl.rc_context(_RC):
        return Charts(
            headline=_headline(tables, result, out, lang),
            domains=tuple(_domains(tables, result, out, lang)),
            trends=_trends(tables, result, out, lang),
            uptake=_uptake(tables, result, out, lang),
            coherence=_coherence(tables, result, out, lang),
            weights=_weights(result, out, lang),
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
SCOREBOARD_PAGES = {"en": "scoreboard.html", "fr": "scoreboard.fr.html"}
"""The scoreboard page of each language (template ``<page>.j2``), linked to each other."""
STATUS_FR = {"published": "diffusé", "caution": "avec prudence", "suppressed": "non diffusé",
             "undefined": "non défini"}
POPULATION_SHORT_FR = {"individuals": "particuliers", "companies": "entreprises"}
UNIT_NAMES_FR = {"individuals": "adultes", "companies": "entreprises"}


def _weighting_rows(context: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The weighting summary per population (from the note's context), in ``lang``."""
    if lang == "en":
        return list(context["populations"])
    out = []
    for p in context["populations"]:
        row = dict(p)
        row["label"] = population_label(p["name"], lang)
        row["n"] = fmt_int(p["n"], lang)
        row["n_text"] = f"{row['n']} {UNIT_NAMES_FR.get(p['name'], p['name'])}"
        for key in ("kish_deff", "n_eff", "g_min", "g_max"):
            row[key] = _localise(str(p[key]), lang)
        out.append(row)
    return out


def _rules_text(result: RunResult, lang: str) -> dict[str, str]:
    """The publication rules as the page prints them (``min_n``, CVs in %)."""
    r = result.record["catalogue"]["rules"]
    return {"min_n": fmt_int(r["min_n"], lang), "cv_caution_pct": fmt_pct(r["cv_caution"],
                                                                          lang=lang),
            "cv_suppress_pct": fmt_pct(r["cv_suppress"], lang=lang)}


def write_scoreboard(result: RunResult, folder: Path, charts: Charts,
                     context: dict[str, Any], lang: str = "en") -> Path:
    """Write the scoreboard page of ``lang`` (``scoreboard.html``, ``scoreboard.fr.html``)
    from its template: charts by relative path (those drawn in ``lang``), numbers from the
    open-data tables and the note's context, formatted for ``lang`` (French: 88,9 %),
    labels from the catalogue, codebook and services file in ``lang``."""
    if lang not in SCOREBOARD_PAGES:
        raise ValueError(f"unknown language {lang!r}: use one of {LANGS}")
    tables = result.tables()
    est = tables["estimates"]
    headline = []
    for ind in (i for i in _catalogue(result).indicators if i.headline):
        r, k = _overall(est, ind.id), ind.kind
        shown = r["status"] not in HIDDEN
        status = str(r["status"])
        status_text = STATUS_FR.get(status, status) if lang == "fr" else status
        headline.append({
            "id": ind.id, "label": indicator_label(ind, lang),
            "population": POPULATION_SHORT_FR.get(ind.population, ind.population)
            if lang == "fr" else ind.population,
            "status": status, "status_text": status_text, "n": fmt_int(r["n"], lang),
            "estimate": fmt_estimate(r["estimate"], k, lang) if shown else status_text,
            "ci": f"{fmt_estimate(r['ci_low'], k, lang)} – {fmt_estimate(r['ci_high'], k, lang)}"
            if shown else ""})
    admin = context["admin"] if lang == "en" else admin_context(result, tables, lang)
    caption = ({"en": "Every service, {year}: date received, revisions, uptake and target",
                "fr": "Tous les services, {year} : date de réception, révisions, taux en "
                      "ligne et cible"}[lang]).format(year=result.year)
    page = SCOREBOARD_PAGES[lang]
    html = environment().get_template(f"{page}.j2").render(
        year=result.year, charts=charts, headline=headline, ctx=context, admin=admin,
        services_table=markdown_fragment(admin["figures"]).replace(
            "<table>", f"<table>\n<caption>{caption}</caption>", 1),
        level=_level(result, lang), populations=_weighting_rows(context, lang),
        pages=SCOREBOARD_PAGES, rules=_rules_text(result, lang),
        note_fr=(folder / "methodology-note.fr.html").is_file())
    if lang == "en":
        html = mark_french(html)
    path = folder / page
    path.write_text(reflow_tables(caption_tables(html), lang), encoding="utf-8")
    return path
