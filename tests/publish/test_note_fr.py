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
from test_note import published_run, table_after

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
def run() -> tuple[RunResult, Path]:
    return published_run()


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
    # English parts left as they are (tables of the admin data, configuration texts, charts)
    # are marked as English; the French text is French.
    english_tables = re.findall(r'<table lang="en">.*?</table>', html, flags=re.S)
    assert any("Ministry or agency" in t for t in english_tables)
    assert any("Survey item" in t for t in english_tables)
    for lang, text in parser.texts:
        if text.startswith(("Ministry or agency", "Data table:", "No sponsor")):
            assert lang == "en", text
        if text.startswith(("Principaux résultats", "Sommaire", "Annexe A")):
            assert lang == "fr", text
    assert langs


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
