"""Charts as a reader meets them: legible at the size shown, an alt text that states the
chart's finding, a data table with the open data's numbers, colours with enough contrast
(WCAG 2.1 relative luminance), and every table captioned."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from barometer.publish.report import (
    ADMIN_COLOURS,
    MIN_TEXT_PX,
    PAGE_WIDTH_PX,
    STATUS_COLOURS,
    _figure,
    _fit,
    _set_limits,
    _wrap,
    caption_tables,
    mark_french,
)
from conftest import published_run

PAGES = ("scoreboard.html", "scoreboard.fr.html", "methodology-note.html")
CSS = Path(__file__).parents[2] / "src/barometer/publish/templates/style.css.j2"


class _Figures(HTMLParser):
    """Images (with their attributes) and the data tables that follow them."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.tables: list[dict[str, object]] = []  # caption, rows, after image k
        self._in: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._details = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        elif tag == "details" and a.get("class") == "data":
            self._details = True
            self.tables.append({"caption": "", "rows": [], "image": len(self.images) - 1})
        elif self._details and tag == "caption":
            self._in = "caption"
        elif self._details and tag == "tr":
            self._row = []
        elif self._details and tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._details = False
        elif tag == "caption":
            self._in = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)  # type: ignore[union-attr]
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in == "caption":
            self.tables[-1]["caption"] = str(self.tables[-1]["caption"]) + data
        if self._cell is not None:
            self._cell.append(data)


def _parse(folder: Path, page: str) -> _Figures:
    p = _Figures()
    p.feed((folder / page).read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture(scope="module")
def folder() -> Path:
    return published_run()[1]


@pytest.mark.parametrize("page", PAGES)
def test_every_image_states_a_finding_and_has_a_data_table(folder: Path, page: str) -> None:
    parsed = _parse(folder, page)
    assert parsed.images
    for k, img in enumerate(parsed.images):
        alt = img.get("alt") or ""
        assert re.search(r"\d", alt), f"{img['src']}: the alt text states no number: {alt!r}"
        assert len(alt.split()) >= 8, alt
        tables = [t for t in parsed.tables if t["image"] == k]
        assert len(tables) == 1, f"{img['src']} has no data table"
        assert tables[0]["caption"] and len(tables[0]["rows"]) >= 2  # type: ignore[arg-type]
    assert "`" not in (folder / page).read_text(encoding="utf-8").split("<figcaption>", 1)[-1]\
        .split("</figcaption>", 1)[0]


@pytest.mark.parametrize("page", PAGES)
def test_chart_text_is_at_least_11_px_as_shown(folder: Path, page: str) -> None:
    for img in _parse(folder, page).images:
        width = float(img["width"] or 0)
        assert 0 < width <= PAGE_WIDTH_PX, img["src"]
        svg = folder / str(img["src"]).replace(".png", ".svg")
        root = ET.parse(svg).getroot()
        view_width = float(root.get("viewBox", "").split()[2])
        sizes = [float(s) for s in re.findall(r"font-size:\s*([\d.]+)px",
                                              svg.read_text(encoding="utf-8"))]
        assert sizes, svg.name
        assert min(sizes) * width / view_width >= MIN_TEXT_PX, (svg.name, min(sizes))


def _table(folder: Path, stem: str) -> list[list[str]]:
    parsed = _parse(folder, "scoreboard.html")
    k = next(i for i, im in enumerate(parsed.images) if f"/{stem}.png" in str(im["src"]))
    return next(t["rows"] for t in parsed.tables if t["image"] == k)  # type: ignore[return-value]


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_data_tables_hold_the_open_data_numbers(folder: Path) -> None:
    od = folder / "opendata"
    est = pd.read_csv(od / "estimates.csv", dtype={"domain": str}, keep_default_na=False,
                      na_values=[""])
    inds = pd.read_csv(od / "indicators.csv").set_index("label_en")
    overall = est[est["by"] == "all"].set_index("indicator")
    rows = _table(folder, "headline")[1:]
    assert len(rows) >= 8
    for label, _pop, cell, _n in rows:
        o = overall.loc[inds.loc[label, "id"]]
        assert _numbers(cell) == [round(100 * float(o[c]), 1)
                                  for c in ("estimate", "ci_low", "ci_high")], label
    up = pd.read_csv(od / "admin_uptake.csv")
    svc = up[up["level"] == "service"].set_index("label_en")
    rows = _table(folder, "uptake")[1:]
    assert len(rows) == len(svc)
    for label, uptake, target, met in rows:
        r = svc.loc[label]
        assert uptake == ("missing" if pd.isna(r["uptake"]) else f"{100 * r['uptake']:.1f}")
        assert target == ("none" if pd.isna(r["target"])
                          else f"{round(100 * r['target'])}")
        assert met == ("" if pd.isna(r["uptake"]) else r["target_status"])
    # a domain chart: every published cell of its first indicator
    parsed = _parse(folder, "scoreboard.html")
    k = next(i for i, im in enumerate(parsed.images) if "domains_individuals_1" in
             str(im["src"]))
    table = next(t for t in parsed.tables if t["image"] == k)
    header, *cells = table["rows"]  # type: ignore[misc]
    ind_id = next(i for i, lab in zip(inds["id"], inds.index, strict=True)
                  if header[1].startswith(lab))
    sub = est[(est["indicator"] == ind_id) & (est["status"] != "suppressed")]
    shown = [c[1] for c in cells if c[1] != "suppressed"]
    assert len(shown) == len(sub)
    assert sorted(_numbers(" ".join(shown))[::3]) == sorted(
        round(100 * v, 1) for v in sub["estimate"])


def test_trend_table_marks_the_change_and_equals_the_series(folder: Path) -> None:
    od = folder / "opendata"
    series = pd.read_csv(od / "series.csv", dtype={"domain": str}, keep_default_na=False,
                         na_values=[""])
    trends = pd.read_csv(od / "trends.csv", dtype={"domain": str}, keep_default_na=False,
                         na_values=[""])
    inds = pd.read_csv(od / "indicators.csv").set_index("label_en")
    header, *rows = _table(folder, "trends")
    change = rows[-1]
    assert change[0].startswith("Change since")
    for j, label in enumerate(header[1:], start=1):
        ind = inds.loc[label]
        s = series[(series["indicator"] == ind["id"]) & (series["by"] == "all")]
        scale = 100 if ind["kind"] == "share" else 1
        for r in rows[:-1]:
            v = s.loc[s["year"] == int(r[0]), "estimate"]
            if r[j] != "suppressed":
                assert float(r[j]) == pytest.approx(round(scale * float(v.iloc[0]),
                                                          1 if scale == 100 else 2)), label
        t = trends[(trends["indicator"] == ind["id"]) & (trends["by"] == "all")
                   & (trends["reference"] == "previous")].iloc[0]
        assert _numbers(change[j])[0] == round(scale * t["change"], 1)
        assert ("not significant" in change[j]) == (not bool(t["significant_5pct"]))


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = []
    for k in (0, 2, 4):
        c = int(h[k:k + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio (L1 + 0.05) / (L2 + 0.05)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#e08a00", "#ffffff") < 3  # the former "caution" orange


def test_palette_contrast() -> None:
    for name, colour in {**STATUS_COLOURS, **ADMIN_COLOURS}.items():
        assert contrast(colour, "#ffffff") >= 3, name  # graphics (WCAG 1.4.11)
    assert contrast(STATUS_COLOURS["suppressed"], "#ffffff") >= 4.5  # written as text
    css = CSS.read_text(encoding="utf-8")
    texts = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})\b", css)
    backgrounds = re.findall(r"background:\s*(#[0-9a-fA-F]{3,6})\b", css)
    assert len(texts) >= 5 and len(backgrounds) >= 4
    for t in texts:
        for b in backgrounds:
            assert contrast(t, b) >= 4.5, (t, b)


@pytest.mark.parametrize("page", PAGES)
def test_tables_are_captioned(folder: Path, page: str) -> None:
    html = (folder / page).read_text(encoding="utf-8")
    tables = re.findall(r"<table>\s*(<caption>[^<]+</caption>)?", html)
    assert tables and all(tables), f"{tables.count('')} tables without a caption"


def test_french_quotations_are_marked() -> None:
    html = mark_french("<p>« Avez-vous effectué une démarche ? » <em>Did you</em></p>")
    assert '<span lang="fr">« Avez-vous effectué une démarche ? »</span>' in html
    note = (published_run()[1] / "methodology-note.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<span lang="fr">«', note)) >= 20
    assert not re.search(r"(?<!>)«", note)


def test_caption_tables_names_each_table_after_its_heading() -> None:
    html = caption_tables("<h2>Alpha</h2><table><tr><td>1</td></tr></table>"
                          "<table>\n<caption>Kept</caption></table>")
    assert html.count("<caption>") == 2 and "<caption>Alpha</caption>" in html


def test_axes_fit_the_data_and_keep_edge_points_whole() -> None:
    assert _fit([62.0, 70.0], [80.0, 88.0], top=100) == (60.0, 90.0)
    assert _fit([5.0], [40.0], top=100)[0] == 0.0  # close to zero: zero is shown
    assert _fit([90.0], [104.0], top=100)[1] == 100.0  # a share's axis stops at 100 %
    ax = _figure(4, 2).add_subplot()
    _set_limits(ax, 60.0, 100.0)
    assert ax.get_xlim()[1] > 100 and max(ax.get_xticks()) == 100
    assert ax.get_xlim()[0] < 60


def test_labels_are_wrapped_never_truncated() -> None:
    label = "PCS: Executives and higher intellectual professions and a very long tail"
    wrapped = _wrap(label, 20)
    assert wrapped.replace("\n", " ") == label
    assert max(len(line) for line in wrapped.splitlines()) <= 20
    assert "…" not in wrapped
