"""The methodology note: generated from the run, complete, and true to the open data.

The tests read the latest shipped edition published once into a temporary folder, as
``barometer run`` does (``published_run`` and the ``run`` fixture in ``tests/conftest.py``).
"""

from __future__ import annotations

import filecmp
import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.publish.note import build_context, render_note
from barometer.publish.report import Chart, Charts
from barometer.run import RunResult

REPO = Path(__file__).resolve().parents[2]
PACKAGED = REPO / "src" / "barometer" / "publish" / "templates" / "methodology"

AAPOR_HEADINGS = (
    "Data-collection strategy",
    "Sponsor and data collection",
    "Population under study",
    "Sample design and recruitment",
    "Mode of data collection",
    "Dates of data collection",
    "Questionnaire: exact wording, response options and order",
    "Sample sizes and precision",
    "Weighting",
    "Data processing and quality control",
    "Limitations of the design",
)
ESS_HEADINGS = (
    "Relevance",
    "Accuracy",
    "Timeliness and punctuality",
    "Coherence and comparability",
    "Accessibility and clarity",
    "Cost and burden",
    "Confidentiality",
)
OTHER_HEADINGS = (
    "Variance estimation and confidence intervals",
    "Publication rules",
    "Administrative data",
    "How we checked the method",
    "Reproducibility",
    "References",
)
PLACEHOLDERS = ("TODO", "TBD", "lorem", "{{", "}}", "{%", "XXX", "FIXME")


@pytest.fixture(scope="module")
def note(run: tuple[RunResult, Path]) -> str:
    return (run[1] / "methodology-note.md").read_text(encoding="utf-8")


def headings(text: str) -> list[str]:
    return [m.group(2).strip() for m in re.finditer(r"^(#{2,3}) (.+)$", text, re.M)]


def table_after(text: str, marker: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``marker`` (header row excluded)."""
    start = text.rfind("\n", 0, text.index(marker)) + 1
    rows = []
    for line in text[start:].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]


def test_outputs_are_written(run: tuple[RunResult, Path]) -> None:
    folder = run[1]
    for name in ("methodology-note.md", "methodology-note.html", "scoreboard.html",
                 "run_record.json", "opendata/estimates.csv"):
        assert (folder / name).is_file(), name
    assert not any(p.name.startswith(".") for p in folder.parent.iterdir())


def test_every_aapor_item_and_ess_heading(note: str) -> None:
    found = headings(note)
    for h in (*AAPOR_HEADINGS, *ESS_HEADINGS, *OTHER_HEADINGS):
        assert h in found, f"missing section {h!r}"
    ess = found.index("Quality according to the ESS dimensions")
    assert all(found.index(h) > ess for h in ESS_HEADINGS)


def test_no_placeholder_text(note: str, run: tuple[RunResult, Path]) -> None:
    html = (run[1] / "methodology-note.html").read_text(encoding="utf-8")
    report = (run[1] / "scoreboard.html").read_text(encoding="utf-8")
    for text in (note, html, report):
        for word in PLACEHOLDERS:
            assert word.lower() not in text.lower(), f"placeholder {word!r}"
        assert not re.search(r"\b(nan|None|NaN)\b", text), "an unformatted value"


def test_states_the_data_are_synthetic(note: str) -> None:
    assert "The data of this edition are synthetic" in note
    assert "No sponsor and no fieldwork agency" in note


def test_quotes_every_item_in_french_with_its_options(note: str,
                                                     run: tuple[RunResult, Path]) -> None:
    cb = run[0].edition.codebook
    section = note[note.index("## Annex A. The questionnaire"):note.index("## Annex B")]
    for item in cb.items:
        assert f"« {item.fr} »" in section, item.id
        assert item.en in section, item.id
        options = "; ".join(f"{o.code} « {o.fr} » ({o.en})" for o in item.options)
        assert options in section, item.id
    body = note[note.index("## Questionnaire"):note.index("## Sample sizes")]
    for code in (97, 98, 99):
        assert f"{code} «" in body


def test_fieldwork_dates_come_from_the_data(note: str, run: tuple[RunResult, Path]) -> None:
    for pop in ("individuals", "companies"):
        dates = getattr(run[0].edition, pop)["interview_date"]
        assert f"{dates.min().date()} to {dates.max().date()}" in note


def test_admin_tables_have_a_row_for_every_service(note: str,
                                                   run: tuple[RunResult, Path]) -> None:
    services = set(run[0].edition.services["label_en"])
    assert len(services) == len(run[0].edition.services)
    for marker in ("**Definitions, per service:**", "**Figures, per service:**"):
        rows = table_after(note, marker)
        assert [r[0] for r in rows] == list(run[0].edition.services["label_en"]), marker
    for warning in run[0].edition.warnings:
        assert str(warning.value) in note  # the late supplier is listed


def test_headline_figures_equal_the_open_data(note: str, run: tuple[RunResult, Path]) -> None:
    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    overall = est[est["by"] == "all"].set_index("indicator")
    rows = table_after(note, "All indicators, whole populations:")
    assert len(rows) == len(overall)
    checked = 0
    for r in rows:
        ind = r[0].strip("`")
        o = overall.loc[ind]
        if o["status"] == "suppressed":
            assert r[2] == "suppressed"
            continue
        nums = [float(x) for x in re.findall(r"\d+\.\d+", " ".join(r[2:4]))]
        scale = 100 if "%" in r[2] else 1
        expected = [o["estimate"], o["ci_low"], o["ci_high"]]
        digits = 1 if scale == 100 else 2
        assert nums == [round(scale * v, digits) for v in expected], ind
        assert int(r[5].replace(",", "")) == o["n"]
        checked += 1
    assert checked >= 10


def test_admin_and_weighting_figures_equal_the_open_data(note: str,
                                                         run: tuple[RunResult, Path]) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    svc = up[up["level"] == "service"].set_index("label_en")
    for r in table_after(note, "**Figures, per service:**"):
        value = svc.loc[r[0], "uptake"]
        partial = bool(svc.loc[r[0], "partial_channels"])
        assert r[4] == ("missing" if pd.isna(value) else f"{100 * value:.1f}"
                        + (" *" if partial else "")), r[0]
    diag = pd.read_csv(run[1] / "opendata" / "weighting_diagnostics.csv")
    rows = {r[0]: r for r in table_after(note, "| Population | Interviews |")}
    for pop, label in (("individuals", "Individuals (adults 18+)"), ("companies", "Companies")):
        d = diag[(diag["population"] == pop) & (diag["kind"] == "weights")]
        stat = dict(zip(d["name"], d["value"].astype(float), strict=True))
        assert rows[label][2] == f"{stat['n_eff']:,.1f}"
        assert rows[label][3] == f"{stat['kish_deff']:,.3f}"


def test_publication_rule_counts_equal_the_open_data(note: str,
                                                     run: tuple[RunResult, Path]) -> None:
    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    counts = est.groupby(["population", "status", "rule"]).size()
    rows = table_after(note, "| Population | Status | Rule applied | Cells |")
    assert {(r[0], r[1], r[2].strip("`")): int(r[3].replace(",", "")) for r in rows} \
        == counts.to_dict()


def test_variance_method_and_references(note: str, run: tuple[RunResult, Path]) -> None:
    assert run[0].record["variance"] == "linearization"
    assert "Taylor linearisation with calibration" in note
    for ref in ("Deville, J.-C., & Särndal, C.-E. (1992)", "Särndal, C.-E., Swensson, B.",
                "Lumley, T. (2010)", "Korn, E. L., & Graubard, B. I. (1998)",
                "Rao, J. N. K., & Wu, C. F. J. (1988)", "Binder, D. A. (1983)",
                "Woodruff, R. S. (1952)"):
        assert ref in note


def test_reproducibility_section(note: str, run: tuple[RunResult, Path]) -> None:
    record = run[0].record
    assert record["version"] in note
    for digest in record["input_hashes"].values():
        assert digest in note
    assert "\nbarometer verify   # the R reference cases shipped with the package" in note
    assert f"barometer run --year {run[0].year}" in note


def _charts() -> Charts:
    """Chart names for rendering a note without drawing (the note only links them)."""
    c = Chart("headline", "title", "caption")
    return Charts(c, (c,), c, c, c, c)


def test_simulation_check_is_reported_or_explained(note: str, tmp_path: Path,
                                                   run: tuple[RunResult, Path]) -> None:
    assert "has not been run for this edition" in note and "barometer simulate" in note
    sim = tmp_path / "simulation"
    sim.mkdir()
    pd.DataFrame({"scenario": "mar", "variance": "linearization",
                  "indicator": ["proc_any", "proc_any"], "by": ["all", "age_band"],
                  "domain": ["all", "18-24"], "reps": 1000, "truth": [0.8021, 0.9],
                  "bias": [-0.0012, 0.01], "se_ratio": [0.9876, 1.0],
                  "coverage": [0.948, 0.9]}).to_csv(sim / "coverage.csv", index=False)
    (sim / "simulation.json").write_text('{"scenario": "mar", "reps": 1000, "findings": '
                                         '["Overall estimates: coverage 94.8%."]}')
    folder = tmp_path / str(run[0].year)
    text = render_note(build_context(run[0], folder, _charts()))
    assert "has not been run" not in text
    assert "| mar | linearization | proc_any | 1,000 | 80.2 | -0.1 | 0.988 | 94.8 |" in text
    assert "* Overall estimates: coverage 94.8%." in text
    assert "whole-population rows (1 of 2" in text
    assert "Overall estimates: coverage 94.8%." in text and "scenario mar, reps 1000" in text


def test_bootstrap_runs_are_described_as_such(run: tuple[RunResult, Path]) -> None:
    record = {**run[0].record, "variance": "bootstrap", "replicates": 50}
    text = render_note(build_context(replace(run[0], record=record), run[1], _charts()))
    assert "**50 Rao–Wu\nbootstrap replicates**" in text
    assert "Taylor linearisation with calibration" not in text


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"] or "")


def test_html_note_renders_tables_and_its_images_resolve(run: tuple[RunResult, Path]) -> None:
    html = (run[1] / "methodology-note.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<table>") >= 10 and '<h2 id="weighting">Weighting</h2>' in html
    parser = _Images()
    parser.feed(html)
    assert parser.sources
    for src in parser.sources:
        assert (run[1] / src).is_file(), src


def test_note_command_regenerates_a_published_edition(run: tuple[RunResult, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import barometer.run
    from barometer.cli import app

    result, folder = run
    copy = folder.parent / "copy" / str(result.year)
    shutil.copytree(folder, copy)
    (copy / "methodology-note.md").write_text("stale", encoding="utf-8")
    monkeypatch.setattr(barometer.run, "compute", lambda config: result)
    out = CliRunner().invoke(app, ["note", "--out", str(copy)])
    assert out.exit_code == 0, out.output
    assert (copy / "methodology-note.md").read_text(encoding="utf-8") == \
        (folder / "methodology-note.md").read_text(encoding="utf-8")
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]
    assert not [p for p in copy.iterdir() if p.name.startswith(".")]
    shutil.rmtree(copy.parent)


def test_note_command_refuses_changed_numbers(run: tuple[RunResult, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import barometer.run
    from barometer.cli import app

    result, folder = run
    copy = tmp_path / str(result.year)
    shutil.copytree(folder, copy)
    est = pd.read_csv(copy / "opendata" / "estimates.csv")
    est.loc[0, "estimate"] += 0.01
    est.to_csv(copy / "opendata" / "estimates.csv", index=False)
    monkeypatch.setattr(barometer.run, "compute", lambda config: result)
    out = CliRunner().invoke(app, ["note", "--out", str(copy)])
    assert out.exit_code == 1 and "does not give its published numbers" in out.output


def test_note_command_without_an_edition(tmp_path: Path) -> None:
    from barometer.cli import app

    out = CliRunner().invoke(app, ["note", "--out", str(tmp_path)])
    assert out.exit_code == 2 and "no published edition" in out.output


def test_methodology_parts_identical_to_packaged_copy() -> None:
    parts = sorted(p.name for p in (REPO / "methodology").glob("*.md") if p.name != "README.md")
    assert parts == sorted(p.name for p in PACKAGED.glob("*.md"))
    _, mismatch, errors = filecmp.cmpfiles(REPO / "methodology", PACKAGED, parts, shallow=False)
    assert not mismatch and not errors, (
        f"methodology/ and the packaged copy differ: {mismatch or errors}; copy the parts "
        "to src/barometer/templates/methodology/ (see methodology/README.md)")


def test_several_online_definitions_get_a_column(run: tuple[RunResult, Path]) -> None:
    from barometer.publish.report import admin_context

    result = run[0]
    one = admin_context(result, result.tables())
    assert "Online means" not in one["definitions"]  # one definition: stated once
    counts = result.edition.admin_counts.copy()
    counts.loc[counts["service_id"] == "dpae", "online_definition"] = "EDI only"
    changed = replace(result, edition=replace(result.edition, admin_counts=counts))
    two = admin_context(changed, result.tables())
    assert "| Online means |" in two["definitions"] and "| EDI only |" in two["definitions"]
