"""The scoreboard report: valid chart files, a self-contained page, numbers from open data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from barometer.publish.report import FIGURE_FORMATS, Chart, md_table
from barometer.run import RunResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects the local references of a page and checks that its tags are balanced."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(folder: Path, name: str = "scoreboard.html") -> _Page:
    page = _Page()
    page.feed((folder / name).read_text(encoding="utf-8"))
    page.close()
    return page


def test_every_chart_file_is_a_valid_image(run: tuple[RunResult, Path]) -> None:
    figures = run[1] / "figures"
    every = sorted({p.stem for p in figures.iterdir()})
    stems = [s for s in every if not s.endswith(".fr")]
    assert {"headline", "trends", "uptake", "coherence", "weights"} <= set(stems)
    assert any(s.startswith("domains_") for s in stems)
    assert len(stems) <= 15  # a reasonable number of charts (per language)
    assert set(every) == set(stems) | {f"{s}.fr" for s in stems}  # each one in French too
    for stem in every:
        png = figures / f"{stem}.png"
        assert png.read_bytes()[:8] == PNG_SIGNATURE, stem
        with Image.open(png) as img:
            img.verify()
        with Image.open(png) as img:
            assert img.size[0] >= 400 and img.size[1] >= 200, stem
        root = ET.parse(figures / f"{stem}.svg").getroot()
        assert root.tag.endswith("svg"), stem


@pytest.mark.parametrize("name", ["scoreboard.html", "scoreboard.fr.html"])
def test_scoreboard_page_parses_and_every_reference_resolves(
        run: tuple[RunResult, Path], name: str) -> None:
    page = _page(run[1], name)
    assert page.stack == []
    assert page.images
    local = [h for h in page.links if not h.startswith(("#", "http://", "https://"))]
    for ref in [*page.images, *local]:
        assert not ref.startswith("/"), ref  # relative: opens from disk
        assert (run[1] / ref).is_file(), ref
    anchors = {h[1:] for h in page.links if h.startswith("#")}
    html = (run[1] / name).read_text(encoding="utf-8")
    for a in anchors:
        assert f'id="{a}"' in html, a


def test_every_written_figure_is_shown(run: tuple[RunResult, Path]) -> None:
    shown = {Path(src).stem for name in ("scoreboard.html", "scoreboard.fr.html")
             for src in _page(run[1], name).images}
    written = {p.stem for p in (run[1] / "figures").glob("*.png")}
    assert shown == written


def test_headline_table_equals_the_open_data(run: tuple[RunResult, Path]) -> None:
    html = (run[1] / "scoreboard.html").read_text(encoding="utf-8")
    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    overall = est[est["by"] == "all"].set_index("indicator")
    rows = re.findall(r"<code>(\w+)</code></td>\s*<td>\w+</td><td class=\"r\">([^<]*)</td>\s*"
                      r"<td class=\"r\">([^<]*)</td>", html)
    assert len(rows) >= 8
    for ind, value, interval in rows:
        o = overall.loc[ind]
        nums = [float(x) for x in re.findall(r"\d+\.\d+", f"{value} {interval}")]
        assert nums == [round(100 * v, 1) for v in (o["estimate"], o["ci_low"],
                                                     o["ci_high"])], ind


def test_uptake_summary_equals_the_open_data(run: tuple[RunResult, Path]) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    total = up[up["level"] == "all"].iloc[0]
    text = " ".join(" ".join(_page(run[1]).text).split())
    assert f"({100 * total['uptake']:.1f} % over all services:" in text
    aud = up[up["level"] == "audience"].set_index("audience")["uptake"]
    assert (f"{100 * aud['individuals']:.1f} % of the procedures of individuals' services "
            f"and {100 * aud['companies']:.1f} % of those of companies' services") in text


def test_suppressed_cells_are_named_not_drawn() -> None:
    from matplotlib.collections import PathCollection

    from barometer.publish.report import STATUS_COLOURS, _figure, _interval_rows

    frame = pd.DataFrame({"estimate": [0.5, np.nan, 0.2], "ci_low": [0.4, np.nan, 0.1],
                          "ci_high": [0.6, np.nan, 0.35],
                          "status": ["published", "suppressed", "caution"]})
    ax = _figure(4, 2).add_subplot()
    _interval_rows(ax, frame, ["a", "b", "c"], 100)
    assert [t.get_text() for t in ax.texts] == ["suppressed"]
    assert ax.texts[0].get_position()[1] == 1  # the middle row
    drawn = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections
                            if isinstance(c, PathCollection)])
    assert sorted(drawn) == [0.0, 2.0]
    assert STATUS_COLOURS["suppressed"] == ax.texts[0].get_color()


def test_chart_paths_and_markdown_tables() -> None:
    c = Chart("uptake", "Uptake", "caption")
    assert [c.path(f) for f in FIGURE_FORMATS] == ["figures/uptake.png", "figures/uptake.svg"]
    table = md_table(["a", "b"], [["x|y", 1]], "lr")
    assert table.splitlines() == ["| a | b |", "| :-- | --: |", "| x\\|y | 1 |"]
