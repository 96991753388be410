"""The French scoreboard page and the French charts: the same numbers as the open data
(French formatting, 88,9 % -> 0.889), French labels from the codebook, the catalogue and the
services file, French text in the images, and the two pages linked to each other."""

from __future__ import annotations

import html
import re
import string
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from test_charts import _parse

from barometer.publish import small_area
from barometer.publish.note import OUTPUTS
from barometer.publish.opendata import KNOWN_ENTRIES, MANIFEST
from barometer.publish.report import (
    CHART_TEXT,
    NBSP,
    NNBSP,
    SCOREBOARD_PAGES,
    TARGET_STATUS_FR,
    composition_text,
    figure_name,
    fmt_estimate,
    fmt_int,
    fmt_pct,
    tr,
)
from conftest import published_run

FR = "scoreboard.fr.html"
EN = "scoreboard.html"


def parse_fr(text: str) -> float:
    """A number as the French page prints it (``88,9 %`` -> 0.889, ``12 345`` -> 12345)."""
    t = text.strip().replace(NNBSP, "").replace(NBSP, " ")
    pct = t.endswith("%")
    t = t.rstrip("% ").replace(" ", "").replace(",", ".").replace("−", "-")
    return float(t) / 100 if pct else float(t)


def fr_numbers(text: str) -> list[float]:
    """Every decimal number of French text (decimal comma)."""
    return [float(x.replace(",", ".")) for x in re.findall(r"-?\d+,\d+", text)]


@pytest.fixture(scope="module")
def folder() -> Path:
    return published_run()[1]


@pytest.fixture(scope="module")
def fr_html(folder: Path) -> str:
    return (folder / FR).read_text(encoding="utf-8")


class _Text(HTMLParser):
    """The page's text outside any element marked ``lang="en"`` (and outside ``<code>``,
    which holds identifiers and commands)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.text: list[str] = []
        self.alts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.alts.append(a.get("alt") or "")
            return
        if tag in ("meta", "br", "link", "input", "hr"):
            return
        self.stack.append(a.get("lang") == "en" or tag in ("code", "style"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("img", "meta", "br", "link", "input", "hr"):
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.text.append(data)


def _french_text(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    p.close()
    return p


def test_parse_fr() -> None:
    assert parse_fr(f"88,9{NBSP}%") == pytest.approx(0.889)
    assert parse_fr(f"12{NNBSP}345") == 12345
    assert parse_fr(fmt_estimate(0.7912, "share", "fr")) == pytest.approx(0.791)
    assert fr_numbers(f"79,1{NBSP}% (77,0{NBSP}% – 81,2{NBSP}%)") == [79.1, 77.0, 81.2]


def test_both_pages_are_written_and_registered(folder: Path) -> None:
    assert SCOREBOARD_PAGES == {"en": EN, "fr": FR}
    assert set(SCOREBOARD_PAGES.values()) <= set(OUTPUTS) and FR in KNOWN_ENTRIES
    written = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    assert FR in written
    assert {figure_name("headline", f, "fr") for f in ("png", "svg")} <= {
        Path(p).name for p in written if p.startswith("figures/")}


def test_languages_and_language_switch(folder: Path, fr_html: str) -> None:
    en_html = (folder / EN).read_text(encoding="utf-8")
    assert re.search(r'<html lang="fr">', fr_html)
    assert re.search(r'<html lang="en">', en_html)
    assert re.search(r'<a href="scoreboard\.html" hreflang="en" lang="en">', fr_html)
    assert re.search(r'<a href="scoreboard\.fr\.html" hreflang="fr" lang="fr">', en_html)
    # English words inside the French page are marked lang="en"
    assert '<span lang="en">methodology note</span>' in fr_html or \
        'href="methodology-note.fr.html"' in fr_html
    # French quotations are marked on the English page, not needed on the French one
    assert '<span lang="fr">' not in fr_html


def test_french_headline_table_equals_the_open_data(folder: Path, fr_html: str) -> None:
    est = pd.read_csv(folder / "opendata" / "estimates.csv", dtype={"domain": str})
    inds = pd.read_csv(folder / "opendata" / "indicators.csv").set_index("id")
    overall = est[est["by"] == "all"].set_index("indicator")
    rows = re.findall(r"<td>([^<]*) <code>(\w+)</code></td>\s*<td>(\w+)</td>"
                      r"<td class=\"r\">([^<]*)</td>\s*<td class=\"r\">([^<]*)</td>"
                      r"<td class=\"r\">([^<]*)</td><td>([^<]*)</td>", fr_html)
    assert len(rows) >= 8
    for label, ind, pop, value, interval, n, status in rows:
        o = overall.loc[ind]
        assert html.unescape(label) == inds.loc[ind, "label_fr"]
        assert pop in ("particuliers", "entreprises")
        low, high = interval.split(" – ")
        assert [parse_fr(v) for v in (value, low, high)] == pytest.approx(
            [round(100 * o[c], 1) / 100 for c in ("estimate", "ci_low", "ci_high")]), ind
        assert parse_fr(n) == o["n"]
        assert status in ("diffusé", "avec prudence")
        assert value.endswith(f"{NBSP}%") and "," in value  # 88,9 %


def test_french_uptake_summary_equals_the_open_data(folder: Path, fr_html: str) -> None:
    up = pd.read_csv(folder / "opendata" / "admin_uptake.csv")
    total = up[up["level"] == "all"].iloc[0]
    aud = up[up["level"] == "audience"].set_index("audience")["uptake"]
    text = " ".join(" ".join(_french_text(fr_html).text).split())
    m = re.search(r"En \d{4}, ([\d,]+) % des démarches des services aux particuliers et "
                  r"([\d,]+) % de celles des services aux entreprises ont été effectuées "
                  r"en ligne \(([\d,]+) % pour l’ensemble des services", text.replace(NBSP, " "))
    assert m, text[:2000]
    assert [parse_fr(v + " %") for v in m.groups()] == pytest.approx(
        [round(100 * v, 1) / 100 for v in (aud["individuals"], aud["companies"],
                                           total["uptake"])])
    # the composition states the same numbers as the English one
    assert fr_numbers(composition_text(up, "fr")) == [
        float(x) for x in re.findall(r"\d+\.\d+", str(total["composition"]))]


def test_french_page_shows_french_labels_only(folder: Path, fr_html: str) -> None:
    """No English label of an indicator, a service, a target status or a chart outside
    lang="en"; French punctuation (a space before ";" and ":")."""
    parsed = _french_text(fr_html)
    text = "\n".join(parsed.text)
    for t in [text, *parsed.alts]:
        assert not re.search(r"\w[;:] ", t.replace("http:", "").replace("https:", "")), \
            re.findall(r".{30}\w[;:] .{10}", t)[:3]
    inds = pd.read_csv(folder / "opendata" / "indicators.csv")
    svc = published_run()[0].edition.services
    for label in [*inds["label_en"], *svc["label_en"]]:
        assert label not in text, label
    for label in [*inds["label_fr"]]:
        assert label in text, label
    for fragment in _english_fragments():
        assert fragment not in text, fragment


def _english_fragments() -> set[str]:
    """The fixed parts (12 characters or more) of the English chart texts that are not also
    French text."""
    french = " ".join(CHART_TEXT["fr"].values()) + " ".join(small_area.TEXT["fr"].values())
    out = set()
    for value in [*CHART_TEXT["en"].values(), *small_area.TEXT["en"].values(),
                  *TARGET_STATUS_FR]:
        for part in re.split(r"\{[^}]*\}", value):
            part = part.strip(" ,.;:()")
            if len(part) >= 12 and part not in french:
                out.add(part)
    return out


def _svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()
    return "\n".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))


def test_french_images_hold_no_english_text(folder: Path) -> None:
    figures = folder / "figures"
    fr = sorted(figures.glob("*.fr.svg"))
    en = sorted(p for p in figures.glob("*.svg") if not p.name.endswith(".fr.svg"))
    assert len(fr) == len(en) >= 6
    fragments = _english_fragments()
    inds = pd.read_csv(folder / "opendata" / "indicators.csv")
    for path in fr:
        text = _svg_text(path)
        assert text.strip(), path.name
        for fragment in fragments:
            assert fragment not in text, (path.name, fragment)
        for label in inds["label_en"]:
            assert label.split()[0:4] != [] and " ".join(label.split()[:4]) not in text, (
                path.name, label)
        # decimal comma, never a decimal point, in the French charts' numbers
        assert not re.search(r"\d\.\d", text), (path.name, re.findall(r"\S*\d\.\d\S*", text))


def test_every_figure_has_a_french_twin_shown_on_the_french_page(folder: Path) -> None:
    figures = folder / "figures"
    en = {p.name[:-4] for p in figures.glob("*.png") if not p.name.endswith(".fr.png")}
    fr = {p.name[:-7] for p in figures.glob("*.fr.png")}
    assert en == fr
    shown_fr = {Path(str(i["src"])).name for i in _parse(folder, FR).images}
    shown_en = {Path(str(i["src"])).name for i in _parse(folder, EN).images}
    assert shown_fr == {f"{s}.fr.png" for s in fr}
    assert shown_en == {f"{s}.png" for s in en}


def test_french_alt_texts_state_a_finding_in_french(folder: Path) -> None:
    fr = _parse(folder, FR)
    en = _parse(folder, EN)
    assert len(fr.images) == len(en.images)
    for f, e in zip(fr.images, en.images, strict=True):
        alt_f, alt_e = str(f["alt"]), str(e["alt"])
        assert alt_f != alt_e
        assert re.search(r"\d,\d", alt_f), alt_f  # French decimal comma
        assert not re.search(r"\d\.\d", alt_f), alt_f
        assert " : " in alt_f  # French typography
    for t in fr.tables:
        assert str(t["caption"]).strip()
    summaries = re.findall(r'<details class="data"><summary>([^<]*)</summary>',
                           (folder / FR).read_text(encoding="utf-8"))
    assert summaries and all(s.startswith("Tableau de données : ") for s in summaries)


def test_french_data_tables_hold_the_open_data_numbers(folder: Path) -> None:
    od = folder / "opendata"
    est = pd.read_csv(od / "estimates.csv", dtype={"domain": str}, keep_default_na=False,
                      na_values=[""])
    inds = pd.read_csv(od / "indicators.csv").set_index("label_fr")
    overall = est[est["by"] == "all"].set_index("indicator")
    parsed = _parse(folder, FR)

    def table(stem: str) -> list[list[str]]:
        k = next(i for i, im in enumerate(parsed.images) if f"/{stem}.fr.png" in str(im["src"]))
        return next(t["rows"] for t in parsed.tables if t["image"] == k)  # type: ignore

    rows = table("headline")[1:]
    assert len(rows) >= 8
    for label, _pop, cell, n in rows:
        o = overall.loc[inds.loc[label, "id"]]
        assert fr_numbers(cell) == [round(100 * float(o[c]), 1)
                                    for c in ("estimate", "ci_low", "ci_high")], label
        assert parse_fr(n) == o["n"]
    up = pd.read_csv(od / "admin_uptake.csv")
    services = published_run()[0].edition.services.set_index("label_fr")
    svc = up[up["level"] == "service"].set_index("service_id")
    rows = table("uptake")[1:]
    assert len(rows) == len(svc)
    for label, uptake, target, met in rows:
        r = svc.loc[services.loc[label, "service_id"]]
        assert uptake == ("manquant" if pd.isna(r["uptake"])
                          else fmt_pct(r["uptake"], lang="fr"))
        assert target == ("aucune" if pd.isna(r["target"])
                          else fmt_int(100 * r["target"], "fr"))
        assert met == ("" if pd.isna(r["uptake"])
                       else TARGET_STATUS_FR[r["target_status"]])
    trends = pd.read_csv(od / "trends.csv", dtype={"domain": str}, keep_default_na=False,
                         na_values=[""])
    header, *rows = table("trends")
    change = rows[-1]
    assert change[0] == "Évolution depuis l’édition précédente"
    for j, label in enumerate(header[1:], start=1):
        ind = inds.loc[label]
        scale = 100 if ind["kind"] == "share" else 1
        t = trends[(trends["indicator"] == ind["id"]) & (trends["by"] == "all")
                   & (trends["reference"] == "previous")].iloc[0]
        assert fr_numbers(change[j])[0] == round(scale * t["change"], 1)
        assert ("non significatif" in change[j]) == (not bool(t["significant_5pct"]))


def test_chart_texts_have_the_same_keys_and_placeholders_in_both_languages() -> None:
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for texts in (CHART_TEXT, small_area.TEXT):
        assert set(texts["en"]) == set(texts["fr"])
        for key, en in texts["en"].items():
            assert fields(en) == fields(texts["fr"][key]), key
    assert set(small_area.TITLES) == set(small_area.TITLES_FR)
    assert tr("fr", "significant") == "significatif"
    with pytest.raises(ValueError, match="unknown language"):
        tr("de", "significant")
