"""The French methodology note (``methodology-note.fr.md`` / ``.html``): written by every run
beside the English one from its own template and the same context, its key findings equal to
the open data once the French number formatting (``88,9 %``, ``12 345``) is parsed, its
contents list linked to every section, ``lang="fr"`` with the English parts marked
``lang="en"``, and the two versions linked to each other (``hreflang``).

The published run is the one of ``test_note.published_run``."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pandas as pd
import pytest
from test_note import table_after

from barometer.publish.note import (
    ENGLISH_MARK,
    INLINE_ENGLISH,
    OUTPUTS,
    headings,
    key_findings,
    note_environment,
    strip_marks,
)
from barometer.publish.opendata import KNOWN_ENTRIES, MANIFEST
from barometer.publish.report import _catalogue
from barometer.run import RunResult

FR_NUMBER = r"-?\d{1,3}(?:[\u202f\u00a0 ]\d{3})*(?:,\d+)?"


def fr_number(text: str) -> float:
    """A number written the French way (``12 345,6``; ``88,9 %``) as a float."""
    text = text.strip().rstrip("%").strip()
    assert re.fullmatch(FR_NUMBER, text), f"not a French number: {text!r}"
    return float(re.sub(r"[\u202f\u00a0 ]", "", text).replace(",", "."))


def en_number(text: str) -> float:
    return float(text.strip().rstrip("%").strip().replace(",", ""))


def shown(value: float, kind: str = "share", digits: int = 1) -> float:
    """The value as the note rounds it (a share in % to ``digits`` decimals)."""
    return float(f"{100 * value:.{digits}f}") if kind == "share" else float(f"{value:.2f}")


@pytest.fixture(scope="module")
def note(run: tuple[RunResult, Path]) -> str:
    return (run[1] / "methodology-note.fr.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html(run: tuple[RunResult, Path]) -> str:
    return (run[1] / "methodology-note.fr.html").read_text(encoding="utf-8")


def test_french_note_is_written_and_registered(run: tuple[RunResult, Path]) -> None:
    folder = run[1]
    written = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    for name in ("methodology-note.fr.md", "methodology-note.fr.html"):
        assert (folder / name).is_file(), name
        assert name in OUTPUTS and name in KNOWN_ENTRIES and name in written, name


def test_key_findings_in_french_under_800_words(note: str) -> None:
    assert note.startswith("# Note méthodologique")
    first = re.search(r"^## (.+)$", note, re.M)
    assert first is not None and first.group(1) == "Principaux résultats"
    summary = key_findings(note, "fr")
    assert 150 < len(summary.split()) < 800, len(summary.split())
    for words in ("intervalle de confiance à 95 %", "Ce qui a changé depuis",
                  "Ce que disent les données administratives", "Benjamini–Hochberg"):
        assert words in " ".join(summary.split()), words


def test_french_headline_figures_equal_the_open_data(note: str,
                                                     run: tuple[RunResult, Path]) -> None:
    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    overall = est[est["by"] == "all"].set_index("indicator")
    summary = key_findings(note, "fr")
    checked = 0
    for ind in _catalogue(run[0]).indicators:
        if not ind.headline:
            continue
        o = overall.loc[ind.id]
        line = next(ln for ln in summary.splitlines() if ln.startswith(f"* {ind.label_fr} :"))
        if o["status"] not in ("published", "caution"):
            assert "non publié" in line
            continue
        m = re.search(r"\*\*(.+?)\*\* \((.+?) à (.+?)\)", line)
        assert m, line
        got = [fr_number(g) for g in m.groups()]
        assert got == [shown(o[c], ind.kind) for c in ("estimate", "ci_low", "ci_high")], line
        checked += 1
    assert checked >= 8


def test_french_changes_equal_the_trends_table(note: str, run: tuple[RunResult, Path]
                                               ) -> None:
    tr = pd.read_csv(run[1] / "opendata" / "trends.csv", dtype={"domain": str})
    prev = tr[(tr["reference"] == "previous") & (tr["status"] == "published")
              & tr["p_value"].notna()]
    summary = " ".join(key_findings(note, "fr").split())
    m = re.search(r"Sur les (\S+) évolutions testées, \*\*(.+?) au seuil de 5 % après "
                  r"correction\*\* \((\S+) avant correction\)", summary)
    assert m, "the count of changes tested is missing"
    assert fr_number(m.group(1)) == len(prev)
    n_sig = int(prev["significant_5pct"].sum())
    assert m.group(2) == {0: "aucune n'est significative", 1: "1 est significative"}.get(
        n_sig, f"{n_sig} sont significatives")
    assert fr_number(m.group(3)) == int((prev["p_value"] < 0.05).sum())
    labels = {i.label_fr: i for i in _catalogue(run[0]).indicators}
    overall = prev[prev["by"] == "all"].set_index("indicator")
    rows = [ln for ln in key_findings(note, "fr").splitlines()
            if "→" in ln and ln.startswith("* ")]
    assert rows
    for ln in rows:
        ind = labels[ln[2:ln.index(" : ")]]
        r = overall.loc[ind.id]
        m = re.search(r" : (\S+)(?:\s%)? → (\S+)(?:\s%)? \((\S+?)(?: points?)? ; "
                      r"p = (< 0,001|\d+,\d+)", ln)
        assert m, ln
        before, after, change, p = m.groups()
        assert fr_number(before) == shown(r["reference_estimate"], ind.kind)
        assert fr_number(after) == shown(r["estimate"], ind.kind)
        assert fr_number(change.lstrip("+")) == shown(r["change"], ind.kind)
        assert p == ("< 0,001" if r["p_adjusted"] < 0.001
                     else f"{r['p_adjusted']:.3f}".replace(".", ","))
        assert ("**significative**" in ln) == bool(r["significant_5pct"])


def test_french_admin_figures_equal_the_open_data(note: str, run: tuple[RunResult, Path]
                                                  ) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    svc = up[up["level"] == "service"]
    summary = " ".join(key_findings(note, "fr").split())
    m = re.search(r"(\d+) des (\d+) services ont transmis leurs comptages", summary)
    assert m and int(m.group(1)) == int((svc["status"] == "reported").sum())
    assert int(m.group(2)) == len(svc)
    m = re.search(r"\*\*(\S+) %\*\* des démarches ont été réalisées en ligne : (\S+) % pour "
                  r"les services aux particuliers et (\S+) % pour les services aux entreprises",
                  summary)
    assert m, "the uptake sentence is missing"
    total = float(up.loc[up["level"] == "all", "uptake"].iloc[0])
    aud = up[up["level"] == "audience"].set_index("audience")["uptake"]
    assert [fr_number(g) for g in m.groups()] == [
        shown(total), shown(aud["individuals"]), shown(aud["companies"])]
    status = svc["target_status"].astype(str)
    m = re.search(r"\*\*(\d+) l'ont atteinte et (\d+) ne l'ont pas atteinte\*\*", summary)
    assert m and int(m.group(1)) == int((status == "met").sum())
    assert int(m.group(2)) == int((status == "not met").sum())


def test_same_numbers_as_the_english_note(note: str, run: tuple[RunResult, Path]) -> None:
    """One source of numbers: the headline table of both notes, cell by cell."""
    english = (run[1] / "methodology-note.md").read_text(encoding="utf-8")
    en_rows = table_after(english, "### Headline results")
    fr_rows = table_after(note, "### Résultats clés")
    assert len(en_rows) == len(fr_rows) > 0
    for en, fr in zip(en_rows, fr_rows, strict=True):
        assert en[0] == fr[0]  # the indicator id
        for col in (2, 4, 5, 6):  # estimate, SE, n, deff
            if en[col] in ("", "suppressed"):
                continue
            assert en_number(en[col]) == fr_number(fr[col]), (en, fr)
        lo_en, hi_en = en[3].split(" – ")
        lo_fr, hi_fr = fr[3].split(" – ")
        assert (en_number(lo_en), en_number(hi_en)) == (fr_number(lo_fr), fr_number(hi_fr))


def test_french_labels_and_number_formatting(note: str, run: tuple[RunResult, Path]) -> None:
    cb = run[0].edition.codebook
    rows = table_after(note, "### Résultats clés")
    labels = {i.id: i.label_fr for i in _catalogue(run[0]).indicators}
    for r in rows:
        assert r[1] == labels[r[0].strip("`")]
        assert r[7] in ("publié", "à utiliser avec précaution", "supprimé", "non défini")
        if r[2] != "supprimé":
            fr_number(r[2])  # French formatting, or it raises
    # tables built by note.py: French headings, French decimals, thousands with a narrow space
    precision = table_after(note, "### Précision par ventilation")
    assert precision and all(fr_number(c) is not None for r in precision for c in r[2:])
    assert any(r[1] == next(v.fr for v in cb.variables if v.name == "age_band")
               for r in precision)
    section = note[note.index("## Effectifs et précision"):]
    pops = table_after(section, "| Population | Entretiens")
    n = len(run[0].edition.individuals)
    assert fr_number(pops[0][1]) == n and (n < 1000 or "\u202f" in pops[0][1])
    assert "Ne sait pas %" in note and "| poids final |" in note and "| final weight |" not in note


def test_french_contents_links_every_section(note: str, html: str) -> None:
    toc = note[note.index("## Sommaire"):note.index("## À propos de cette note")]
    links = dict(re.findall(r"\[(.+?)\]\(#([^)]+)\)", toc))
    for level, text, _ in headings(note):
        if level in (2, 3) and text != "Sommaire":
            assert text in links, text
    for must in ("Principaux résultats", "Qui recourt moins au numérique ? Modèles explicatifs",
                 "Évolutions et tests multiples", "Annexe A. Le questionnaire complet",
                 "Qualité selon les dimensions du Système statistique européen"):
        assert must in links, must
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', html))
    assert len(ids) == len(re.findall(r"<h[1-6][ >]", html)), "a heading without an anchor"
    hrefs = [unquote(h) for h in re.findall(r'href="#([^"]+)"', html)]
    assert len(hrefs) >= len(links) and set(hrefs) <= ids
    assert "principaux-résultats" in ids


class _Lang(HTMLParser):
    """The language of every text node of a page (the nearest ``lang`` attribute)."""

    VOID: ClassVar[set[str]] = {"meta", "link", "img", "br", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.texts: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        lang = dict(attrs).get("lang") or (self.stack[-1][1] if self.stack else "")
        self.stack.append((tag, str(lang)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if data.strip() and self.stack:
            self.texts.append((self.stack[-1][1], " ".join(data.split())))


def test_french_page_language_and_links_between_versions(run: tuple[RunResult, Path],
                                                         html: str, note: str) -> None:
    assert '<html lang="fr">' in html
    assert '<link rel="alternate" hreflang="en" href="methodology-note.html">' in html
    assert 'href="methodology-note.html" hreflang="en" lang="en"' in html
    english = (run[1] / "methodology-note.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english
    assert '<link rel="alternate" hreflang="fr" href="methodology-note.fr.html">' in english
    for text in (note, html):  # the language marks never reach a reader
        assert ENGLISH_MARK not in text and not any(m in text for m in INLINE_ENGLISH)
    parser = _Lang()
    parser.feed(html)
    langs = dict(parser.texts)
    # Every table is French (the admin, coherence, revisions, definitions and small-area
    # tables included); only texts written in English by a supplier or in the configuration
    # (counting units, coverages, what "online" means, fieldwork, margin sources) are
    # marked as English, inline.
    assert not re.findall(r'<table lang="en">', html)
    assert "Ministry or agency" not in html and "Survey item" not in html
    english = [text for lang, text in parser.texts if lang == "en"]
    assert "website, app or EDI (a downloaded form sent by post is mail)" in english
    assert "tax return (tax household)" in english
    for lang, text in parser.texts:
        if text.startswith(("Data table:", "No sponsor")):
            assert lang == "en", text
        if text.startswith(("Principaux résultats", "Sommaire", "Annexe A")):
            assert lang == "fr", text
        if text.startswith(("Ministère ou organisme", "Question de l'enquête",
                            "services aux particuliers", "Covariable", "Unité de compte",
                            "aucun comptage administratif")):
            assert lang != "en", text
    assert langs


FORMERLY_ENGLISH = ("admin.composition", "admin.online_text", "admin.ministries",
                    "admin.revisions", "admin.warnings", "w }}", "admin.coherence",
                    "admin.definitions", "admin.figures", "simulation.table",
                    "small_area.sources", "small_area.models", "small_area.table")


def test_no_table_of_the_french_note_is_marked_english() -> None:
    """The templates: no ``{lang=en}`` block before the tables computed for the note, and no
    "tableau en anglais" left; the remaining marks are the user's own English survey
    description (``survey.md`` without ``survey.fr.md``) and the simulation's findings."""
    from barometer.publish.report import environment

    loader = environment().loader
    assert loader is not None
    for name in ("note.fr.md.j2", "methodology/small-area.fr.md"):
        source = loader.get_source(environment(), name)[0]
        assert "tableau en anglais" not in source.lower(), name
        assert "messages en anglais" not in source, name
        marked = re.findall(r"^" + re.escape(ENGLISH_MARK) + r"\n\s*\n(.*)$", source, re.M)
        assert source.count(ENGLISH_MARK) == len(marked)
        for block in marked:
            assert not any(key in block for key in FORMERLY_ENGLISH), block
        assert marked == (["{{ survey_text }}", "{{ f }}"] if name == "note.fr.md.j2"
                          else []), marked


def _french_table(note: str, marker: str) -> tuple[list[str], list[list[str]]]:
    """The heading row and the cells of the first table after ``marker``."""
    start = note.index(marker)
    line = next(ln for ln in note[start:].splitlines() if ln.startswith("|"))
    return [c.strip() for c in line.strip().strip("|").split(" | ")], table_after(note, marker)


def test_french_ministry_table_equals_the_open_data(note: str, run: tuple[RunResult, Path]
                                                   ) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    agg = up[up["level"].isin(["ministry", "audience", "all"])]
    heads, rows = _french_table(note, "**Par ministère ou organisme")
    assert heads == ["Ministère ou organisme ; public ; ensemble des services", "Services",
                     "Démarches", "Taux en ligne %"]
    assert len(rows) == len(agg) > 3
    names = {"individuals": "services aux particuliers", "companies": "services aux entreprises"}
    for row, (_, r) in zip(rows, agg.iterrows(), strict=True):
        label = (r["label_en"] if r["level"] == "ministry" else names[r["audience"]]
                 if r["level"] == "audience" else "ensemble des services")
        assert row[0] == label
        n = int(str(r["status"]).split()[0])
        assert row[1] == f"{n} service{'s' if n > 1 else ''}"
        assert fr_number(row[2]) == round(r["total"])
        assert (r["total"] < 1000) or "\u202f" in row[2]
        assert fr_number(row[3]) == shown(r["uptake"])


def test_french_services_tables_equal_the_open_data(note: str, run: tuple[RunResult, Path]
                                                   ) -> None:
    """Definitions and figures per service (Annex C): French labels (the services file's
    ``label_fr``), French channels, uptake and target as in the open data."""
    services = pd.read_csv(run[1] / "opendata" / "services.csv")
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    svc = up[up["level"] == "service"].set_index("service_id")
    heads, defs = _french_table(note, "**Définitions, par service**")
    assert heads[:5] == ["Service", "Fournisseur", "Unité de compte", "Canaux déclarés",
                         "Champ"]
    heads, figs = _french_table(note, "**Chiffres, par service**")
    assert heads[4] == "Taux en ligne %"
    assert len(defs) == len(figs) == len(services)
    channels = {"en ligne", "courrier", "guichet", "téléphone"}
    for d, f, (_, s) in zip(defs, figs, services.iterrows(), strict=True):
        assert d[0] == f[0] == s["label_fr"]
        u = svc.loc[s["service_id"]]
        if u["status"] != "reported":
            assert f[4] == "manquant" and d[3] == "aucun reçu"
            continue
        listed = d[3].split(" (")[0].split(", ")
        assert set(listed) <= channels and len(listed) == len(u["channels_reported"].split(","))
        assert fr_number(f[4].rstrip(" *")) == shown(u["uptake"])
        assert f[4].endswith("*") == bool(u["partial_channels"])
        if pd.notna(u["target"]):
            assert fr_number(f[5]) == round(100 * u["target"])
        assert f[6] in ("atteinte", "non atteinte", "sans objet (service uniquement en ligne)",
                        "sans objet (sans cible)")


def test_french_revisions_and_coherence_equal_the_open_data(note: str,
                                                           run: tuple[RunResult, Path]) -> None:
    revs = pd.read_csv(run[1] / "opendata" / "admin_revisions.csv")
    assert len(revs), "the default data have revised counts"
    heads, rows = _french_table(note, "**Révisions des comptages.**")
    assert heads[:3] == ["Service", "Année", "Canal"]
    assert len(rows) == len(revs)
    fr_channel = {"online": "en ligne", "mail": "courrier", "counter": "guichet",
                  "phone": "téléphone"}
    for row, (_, r) in zip(rows, revs.iterrows(), strict=True):
        assert row[0] == f"`{r['service_id']}`" and row[1] == str(r["year"])
        assert row[2] == fr_channel[r["channel"]]
        assert [fr_number(c) for c in row[5:8]] == [
            round(r["count_first"]), round(r["count_revised"]), round(r["change"])]
        assert fr_number(row[8]) == round(100 * r["relative_change"], 1)
        assert [fr_number(c) for c in row[9:11]] == [shown(r["uptake_first"]),
                                                     shown(r["uptake_revised"])]
    coh = pd.read_csv(run[1] / "opendata" / "coherence.csv")
    labels = pd.read_csv(run[1] / "opendata" / "services.csv").set_index(
        "service_id")["label_fr"]
    heads, rows = _french_table(note, "### Cohérence entre l'enquête et les données")
    assert heads[1] == "Question de l'enquête" and heads[7] == "Comptages dans l'intervalle"
    assert len(rows) == len(coh) > 0
    compared = 0
    for row, (_, r) in zip(rows, coh.iterrows(), strict=True):
        assert row[0] == labels[r["service_id"]]
        assert row[2] == (f"`{r['indicator']}`" if isinstance(r["indicator"], str)
                          else "aucun")
        if pd.notna(r["survey_estimate"]):
            assert fr_number(row[3]) == shown(r["survey_estimate"])
            lo, hi = row[4].split(" – ")
            assert (fr_number(lo), fr_number(hi)) == (shown(r["survey_ci_low"]),
                                                      shown(r["survey_ci_high"]))
        else:
            assert row[3] == "aucune estimation"
        if pd.notna(r["difference"]):
            assert fr_number(row[5]) == shown(r["admin_uptake"])
            assert fr_number(row[6]) == round(100 * r["difference"], 1)
            assert row[7] == ("oui" if str(r["admin_within_survey_ci"]) == "True" else "non")
            compared += 1
    assert compared >= 2


def test_french_warnings_and_composition(note: str, run: tuple[RunResult, Path]) -> None:
    warnings = run[0].edition.warnings
    assert warnings, "the default data have a late count"
    section = note[note.index("**Données manquantes ou tardives.**"):]
    for w in warnings:
        assert f"`{w.file}` colonne `{w.column}`" in section
    assert "aucun comptage administratif pour" in section and "what to do" not in section
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    aud = up[up["level"] == "audience"].set_index("audience")
    total = float(up.loc[up["level"] == "all", "total"].iloc[0])
    text = " ".join(note[note.index("Composition de"):].split()[:60])
    for audience, word in (("individuals", "particuliers"), ("companies", "entreprises")):
        m = re.search(rf"services aux {word} : (\d+) services, (\S+) % du volume, taux en "
                      rf"ligne (\S+) %", text)
        assert m, (word, text)
        r = aud.loc[audience]
        assert int(m.group(1)) == int(str(r["status"]).split()[0])
        assert fr_number(m.group(2)) == shown(r["total"] / total)
        assert fr_number(m.group(3)) == shown(r["uptake"])


def test_french_warning_texts() -> None:
    """A known input warning in French; any other in English, marked as such."""
    from barometer.publish.report import _warning_text
    from barometer.scoreboard.problems import Problem

    late = Problem("2025/admin_counts.csv", "service_id", "no administrative count for 2025",
                   "chase the supplier; the service is left out of this edition's table and "
                   "listed in the methodology note", value="customs_payment",
                   severity="warning")
    assert _warning_text(late, "fr") == (
        "`2025/admin_counts.csv` colonne `service_id` aucun comptage administratif pour 2025 "
        "(`customs_payment`) ; que faire : relancer le fournisseur ; le service est exclu du "
        "tableau de cette édition et signalé dans la note méthodologique")
    assert _warning_text(late).startswith("`2025/admin_counts.csv` column `service_id` no "
                                          "administrative count for 2025 (`customs_payment`);")
    other = Problem("a.csv", "", "semicolon-delimited; read as such", "save with commas",
                    value=";", severity="warning")
    assert _warning_text(other, "fr") == (
        f"`a.csv` {INLINE_ENGLISH[0]}semicolon-delimited; read as such{INLINE_ENGLISH[1]} "
        f"(`;`) ; que faire : {INLINE_ENGLISH[0]}save with commas{INLINE_ENGLISH[1]}")


def test_french_small_area_tables_equal_the_open_data(note: str, run: tuple[RunResult, Path]
                                                     ) -> None:
    sae = pd.read_csv(run[1] / "opendata" / "small_area_estimates.csv")
    assert len(sae), "the default data have regional estimates"
    heads, rows = _french_table(note, "**Règle de publication des cellules issues du modèle.**")
    assert heads == ["Indicateur", "Région", "n", "Directe %", "Sur modèle %",
                     "Intervalle à 95\u00a0%", "Rétrécissement", "Statut"]
    assert len(rows) == len(sae)
    status = {"published": "publié", "caution": "à utiliser avec précaution",
              "suppressed": "supprimé"}
    for row, (_, r) in zip(rows, sae.iterrows(), strict=True):
        assert row[0] == f"`{r['indicator']}`" and row[1] == str(r["region"])
        assert fr_number(row[2]) == r["n"]
        assert fr_number(row[3]) == shown(r["direct"])
        assert row[7] == status[r["status"]]
        assert fr_number(row[6]) == round(r["shrinkage"], 2)
        if r["status"] == "suppressed":
            assert row[4] == "supprimé" and row[5] == ""
            continue
        assert row[4].endswith(" (sur modèle)")
        assert fr_number(row[4].removesuffix(" (sur modèle)")) == shown(r["eblup"])
        lo, hi = row[5].split(" – ")
        assert (fr_number(lo), fr_number(hi)) == (shown(r["ci_low"]), shown(r["ci_high"]))
    # the models table: the English note's numbers, written the French way
    english = (run[1] / "methodology-note.md").read_text(encoding="utf-8")
    en = table_after(english, "**Models and diagnostics.**")
    heads, fr = _french_table(note, "**Modèles et diagnostics.**")
    assert heads[0] == "Indicateur" and heads[2] == "Méthode"
    assert len(en) == len(fr) > 0
    for e, f in zip(en, fr, strict=True):
        assert f[0] == f"`{e[0]}`" and f[1] == e[1]
        assert f[3] == e[3].replace(".", ",")
        assert [fr_number(c) for c in f[4:7]] == [float(c) for c in e[4:7]]
        w_en, p_en = re.fullmatch(r"(\S+) \((\S+)\)", e[7]).groups()  # type: ignore[union-attr]
        w_fr, p_fr = re.fullmatch(r"(\S+) \((\S+)\)", f[7]).groups()  # type: ignore[union-attr]
        assert (fr_number(w_fr), fr_number(p_fr)) == (float(w_en), float(p_en))
    heads, sources = _french_table(note, "**Covariables et leurs sources**")
    assert heads == ["Covariable", "Source"] and sources
    assert all(INLINE_ENGLISH[0] not in c and "share of" not in c for r in sources for c in r)


def test_strip_marks_and_french_dates() -> None:
    text = f"a\n\n{ENGLISH_MARK}\n\n| x |\n\n{INLINE_ENGLISH[0]}words{INLINE_ENGLISH[1]}.\n"
    assert strip_marks(text) == "a\n\n| x |\n\nwords.\n"
    date = note_environment("fr").filters["date"]
    assert date("2025-10-01") == "1er octobre 2025"
    assert date("2026-03-29") == "29 mars 2026"
    assert date("2026-12-01T02:58:13+00:00") == "1er décembre 2026"
    assert note_environment("en").filters["date"]("2025-10-01") == "2025-10-01"
    assert note_environment("fr").filters["pct"](0.8889) == "88,9"


def test_a_french_survey_description_is_used_in_the_french_note(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from barometer.publish.note import _survey_text_in

    result = SimpleNamespace(year=2025, edition=SimpleNamespace(data_dir=tmp_path))
    assert _survey_text_in(result, "fr") == ""  # type: ignore[arg-type]
    (tmp_path / "survey.fr.md").write_text("Enquête commandée par la DITP.", encoding="utf-8")
    assert _survey_text_in(result, "fr") == "Enquête commandée par la DITP."  # type: ignore[arg-type]
    (tmp_path / "2025").mkdir()
    (tmp_path / "2025" / "survey.fr.md").write_text("Édition 2025.", encoding="utf-8")
    assert _survey_text_in(result, "fr") == "Édition 2025."  # type: ignore[arg-type]


def test_simulation_table_in_french(tmp_path: Path) -> None:
    """The simulation's coverage table (``reports/simulation/coverage.csv``) in French:
    headings, and the same numbers as the English table written the French way."""
    from barometer.publish.note import _simulation_table

    path = tmp_path / "coverage.csv"
    pd.DataFrame({"scenario": ["mar", "mar"], "variance": ["linearization"] * 2,
                  "indicator": ["online_all", "satisfied"], "by": ["all", "all"],
                  "reps": [1200, 1200], "truth": [0.51234, 0.8], "mean_estimate": [0.5101, 0.81],
                  "bias": [-0.00224, 0.01], "se_ratio": [1.0234, 0.98],
                  "coverage": [0.9475, 0.93], "coverage_mcse": [0.0064, 0.0071]}).to_csv(
                      path, index=False)
    en, shown_en, rows_en = _simulation_table(path)
    fr, shown_fr, rows_fr = _simulation_table(path, "fr")
    assert (shown_en, rows_en) == (shown_fr, rows_fr) == (2, 2)
    assert en.splitlines()[0].startswith("| Scenario | Variance | Indicator | Samples |")
    assert fr.splitlines()[0].startswith("| Scénario | Variance | Indicateur | Échantillons |")
    assert "Couverture %" in fr and "Coverage" not in fr
    for e, f in zip(en.splitlines()[2:], fr.splitlines()[2:], strict=True):
        ec, fc = e.strip("| ").split(" | "), f.strip("| ").split(" | ")
        assert ec[:3] == fc[:3]
        assert [en_number(c) for c in ec[3:]] == [fr_number(c) for c in fc[3:]]
    assert "1\u202f200" in fr and "94,8" in fr and "1,023" in fr


def test_french_note_prints_the_simulation_in_french(tmp_path: Path,
                                                     run: tuple[RunResult, Path]) -> None:
    """A simulation's table and findings in the French note: French when ``simulation.json``
    has ``findings_fr`` (``barometer simulate`` writes both); findings written only in
    English (an older simulation) are printed marked as English."""
    import json

    from test_note import _charts

    from barometer.publish.note import build_context, localise, render_note

    sim = tmp_path / "simulation"
    sim.mkdir()
    pd.DataFrame({"scenario": "mar", "variance": "linearization",
                  "indicator": ["proc_any", "proc_any"], "by": ["all", "age_band"],
                  "domain": ["all", "18-24"], "reps": 1000, "truth": [0.8021, 0.9],
                  "bias": [-0.0012, 0.01], "se_ratio": [0.9876, 1.0],
                  "coverage": [0.948, 0.9]}).to_csv(sim / "coverage.csv", index=False)
    meta = {"scenario": "mar", "reps": 1000, "findings": ["Overall estimates: coverage 94.8%."],
            "findings_fr": ["Estimations sur l'ensemble de la population : couverture 94,8 %."]}
    (sim / "simulation.json").write_text(json.dumps(meta), encoding="utf-8")
    folder = tmp_path / str(run[0].year)
    context = build_context(run[0], folder, _charts())
    text = render_note(localise(context, run[0], "fr"), lang="fr")
    assert "| mar | linearization | proc_any | 1\u202f000 | 80,2 | -0,1 | 0,988 | 94,8 |" in text
    assert "| Scénario | Variance | Indicateur | Échantillons |" in text
    assert "tableau en anglais" not in text
    section = text[text.index("Conclusions de la simulation"):]
    assert section.startswith("Conclusions de la simulation :\n\nEstimations sur l'ensemble")
    assert ENGLISH_MARK not in section.split("## ")[0]
    del meta["findings_fr"]
    (sim / "simulation.json").write_text(json.dumps(meta), encoding="utf-8")
    text = render_note(localise(build_context(run[0], folder, _charts()), run[0], "fr"),
                       lang="fr")
    assert f"{ENGLISH_MARK}\n\nOverall estimates: coverage 94.8%." in text
