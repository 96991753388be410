"""The methodology note as a publication: key findings first (under 800 words, numbers equal
to the open data), a linked contents list whose every link resolves in the HTML, the AAPOR
and ESS disclosure items from the configuration, the verification against R, and claims
the run supports.

The published run is the one of ``test_note.published_run`` (the latest shipped edition,
published once as ``barometer run`` does, with the verification recorded)."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from barometer.publish.note import (
    _disclosure_config,
    _rates,
    anchor_headings,
    contents,
    headings,
    key_findings,
)
from barometer.publish.report import markdown_fragment
from barometer.run import RunResult
from barometer.survey.errors import BarometerError


@pytest.fixture(scope="module")
def note(run: tuple[RunResult, Path]) -> str:
    return (run[1] / "methodology-note.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html(run: tuple[RunResult, Path]) -> str:
    return (run[1] / "methodology-note.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def config() -> dict:
    text = resources.files("barometer").joinpath("data", "publication.toml").read_text(
        encoding="utf-8")
    return tomllib.loads(text)


def section(text: str, heading: str) -> str:
    """The body of the section ``heading`` (``## x`` or ``### x``) up to the next heading
    of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(heading)}\n", text, flags=re.M)
    assert m, f"no section {heading!r}"
    level = len(m.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", flags=re.M).search(text, m.end())
    return text[m.end():end.start() if end else len(text)]


def pct(v: float, digits: int = 1) -> str:
    return f"{100 * v:.{digits}f}"


# ---------------------------------------------------------------------------- key findings
def test_the_note_opens_with_key_findings_under_800_words(note: str) -> None:
    first = [m.group(1) for m in re.finditer(r"^## (.+)$", note, flags=re.M)][:2]
    assert first == ["Key findings", "Contents"]
    summary = key_findings(note)
    words = len(summary.split())
    assert 150 < words < 800, words
    assert "synthetic" in summary  # says what the figures describe


def test_key_findings_headline_figures_equal_the_open_data(note: str,
                                                           run: tuple[RunResult, Path]
                                                           ) -> None:
    from barometer.publish.report import _catalogue

    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    overall = est[est["by"] == "all"].set_index("indicator")
    summary = key_findings(note)
    cat = _catalogue(run[0])
    checked = 0
    for ind in cat.indicators:
        if not ind.headline:
            continue
        o = overall.loc[ind.id]
        line = next(ln for ln in summary.splitlines() if ln.startswith(f"* {ind.label_en}:"))
        if o["status"] not in ("published", "caution"):
            assert "not published" in line
            continue
        f = (lambda v: f"{pct(v)} %") if ind.kind == "share" else (lambda v: f"{v:.2f}")
        assert f"**{f(o['estimate'])}** ({f(o['ci_low'])} to {f(o['ci_high'])})" in line, \
            ind.id
        checked += 1
    assert checked >= 8


def test_key_findings_changes_equal_the_trends_table(note: str,
                                                     run: tuple[RunResult, Path]) -> None:
    tr = pd.read_csv(run[1] / "opendata" / "trends.csv", dtype={"domain": str})
    prev = tr[(tr["reference"] == "previous") & (tr["status"] == "published")
              & tr["p_value"].notna()]
    summary = key_findings(note)
    n_sig = int(prev["significant_5pct"].sum())
    word = {0: "none is", 1: "1 is"}.get(n_sig, f"{n_sig:,} are")
    assert f"Of the {len(prev):,} changes tested,\n**{word} significant at 5 % after " \
        "the adjustment**" in summary
    assert f"({int((prev['p_value'] < 0.05).sum()):,} before it)" in summary
    assert "Benjamini–Hochberg" in summary
    overall = prev[prev["by"] == "all"].set_index("indicator")
    rows = [ln for ln in summary.splitlines() if "→" in ln and ln.startswith("* ")]
    labels = {_label(run[0], i): i for i in overall.index}
    assert rows
    for ln in rows:
        label = ln[2:ln.index(": ")]
        r = overall.loc[labels[label]]
        f = (lambda v: f"{pct(v)} %") if "%" in ln else (lambda v: f"{v:.2f}")
        assert f"{f(r['reference_estimate'])} → {f(r['estimate'])}" in ln
        p = "< 0.001" if r["p_adjusted"] < 0.001 else f"{r['p_adjusted']:.3f}"
        assert f"p = {p}" in ln
        assert ("**significant**" in ln) == bool(r["significant_5pct"])


def _label(result: RunResult, indicator: str) -> str:
    from barometer.publish.report import _catalogue

    return _catalogue(result).get(indicator).label_en


def test_key_findings_admin_figures_equal_the_open_data(note: str,
                                                        run: tuple[RunResult, Path]) -> None:
    up = pd.read_csv(run[1] / "opendata" / "admin_uptake.csv")
    svc = up[up["level"] == "service"]
    total = up[up["level"] == "all"].iloc[0]
    aud = up[up["level"] == "audience"].set_index("audience")["uptake"]
    summary = " ".join(key_findings(note).split())
    status = svc["target_status"]
    assert f"**{pct(total['uptake'])} %** of procedures were completed online" in summary
    assert f"{pct(aud['individuals'])} % for the services to individuals" in summary
    assert f"{pct(aud['companies'])} % for the services to companies" in summary
    met, not_met = int((status == "met").sum()), int((status == "not met").sum())
    assert f"Of the {met + not_met} services with a target this year, **{met} met it and " \
        f"{not_met} did not**" in summary
    assert f"{int((svc['status'] == 'reported').sum())} of the {len(svc)} services" in summary


# ---------------------------------------------------------------------------- contents
class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.bare_headings = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.links.append(str(a["href"])[1:])
        if re.fullmatch(r"h[1-6]", tag) and not a.get("id"):
            self.bare_headings += 1


def test_every_contents_link_resolves_to_a_heading_anchor(note: str, html: str) -> None:
    parser = _Ids()
    parser.feed(html)
    assert parser.bare_headings == 0, "a heading without an anchor"
    assert len(parser.ids) == len(set(parser.ids)), "duplicate anchors"
    toc = section(note, "Contents")
    md_links = re.findall(r"\]\(#([^)]+)\)", toc)
    assert md_links and set(md_links) <= set(parser.ids)
    assert set(parser.links) <= set(parser.ids)
    assert len(parser.links) >= len(md_links)
    # every section of levels 2 and 3 is listed (drivers, trends, small area included)
    listed = {h for h in re.findall(r"\[(.+?)\]\(#", toc)}
    for level, text, _ in headings(note):
        if level in (2, 3) and text != "Contents":
            assert text in listed, text
    for must in ("Who is less likely to go online? Driver models",
                 "Trends and multiple testing", "Key findings", "Annex A. The questionnaire "
                 "in full", "Quality according to the ESS dimensions"):
        assert must in listed
    assert any(t.startswith("Regional estimates") for t in listed)


def test_anchors_are_unique_and_follow_the_headings() -> None:
    text = "# T\n\n## A b, c!\n\n```\n## not a heading\n```\n\n## A b, c\n\n### `x` y\n"
    assert [h[2] for h in headings(text)] == ["t", "a-b-c", "a-b-c-1", "x-y"]
    html = anchor_headings(markdown_fragment(text), text)
    assert re.findall(r'<h\d id="([^"]+)"', html) == ["t", "a-b-c", "a-b-c-1", "x-y"]
    assert contents(text) == "* [A b, c!](#a-b-c)\n* [A b, c](#a-b-c-1)\n  * [`x` y](#x-y)"


# ---------------------------------------------------------------------------- disclosure
def test_every_aapor_item_is_present(note: str, run: tuple[RunResult, Path],
                                     config: dict) -> None:
    sponsor = section(note, "Sponsor, funding and contact")
    survey = config["survey"]
    for key in ("sponsor", "funding", "conducted_by"):
        assert " ".join(survey[key].split()) in " ".join(sponsor.split()), key
    assert config["contact"]["email"] in sponsor
    assert "placeholders" in sponsor  # the synthetic default says so
    fw = section(note, "Interviewers, interview length and language")
    for key in ("interviewing", "interviewers", "checks", "language"):
        assert survey[key] in fw, key
    for pop, minutes in survey["interview_length"].items():
        assert f"{minutes} minutes" in fw, pop
    wording = section(note, "Wording of the demographic and weighting questions")
    cb = run[0].edition.codebook
    for v in cb.variables:
        if v.role in ("calibration", "domain"):
            assert f"**`{v.name}`**" in wording and f"« {v.fr} »" in wording, v.name
            if v.name in survey["wording"]:
                assert f"Wording: « {survey['wording'][v.name]} »" in wording
    calls = section(note, "Call outcomes and response rates")
    for formula in ("RR1 = I ÷ ((I + P) + (R + NC + O) + (UH + UO))",
                    "RR3 = I ÷ ((I + P) + (R + NC + O) + e (UH + UO))", "COOP1 = I ÷",
                    "REF1 = R ÷", "CON1 = ((I + P) + R + O)"):
        assert formula in " ".join(calls.split()), formula
    assert "Placeholder call outcomes of the synthetic edition" in calls


def test_response_rates_follow_the_aapor_formulas(note: str, run: tuple[RunResult, Path],
                                                  config: dict) -> None:
    calls = section(note, "Call outcomes and response rates")
    rows = {r.split(" | ")[0].strip("| "): r.strip("| ").split(" | ")
            for r in calls.splitlines() if r.startswith("| ") and "---" not in r}
    from barometer.publish.report import POPULATION_LABELS

    for pop, label in POPULATION_LABELS.items():
        d = config["fieldwork"][pop]
        i = len(getattr(run[0].edition, pop))
        base = i + d["P"] + d["R"] + d["NC"] + d["O"] + d["UH"] + d["UO"]
        base3 = i + d["P"] + d["R"] + d["NC"] + d["O"] + d["e"] * (d["UH"] + d["UO"])
        row = rows[f"{label} survey"]
        assert row[2] == f"{i:,}"
        assert row[11] == pct(i / base)  # RR1
        assert row[12] == pct((i + d["P"]) / base)  # RR2
        assert row[13] == pct(i / base3)  # RR3
        assert row[15] == pct(i / (i + d["P"] + d["R"] + d["O"]))  # COOP1


def test_aapor_rates_on_a_known_example_and_bad_dispositions() -> None:
    disp = {"P": 10, "R": 200, "NC": 300, "O": 40, "UH": 400, "UO": 50, "NE": 100, "e": 0.5}
    r = _rates(disp, 1000, "here", "individuals")
    assert r["RR1"] == pytest.approx(1000 / 2000)
    assert r["RR2"] == pytest.approx(1010 / 2000)
    assert r["RR3"] == pytest.approx(1000 / 1775)
    assert r["RR4"] == pytest.approx(1010 / 1775)
    assert r["COOP1"] == pytest.approx(1000 / 1250)
    assert r["REF1"] == pytest.approx(200 / 2000)
    assert r["CON1"] == pytest.approx(1250 / 2000)
    assert r["called"] == 2100
    with pytest.raises(BarometerError, match="lack entries") as err:
        _rates({k: v for k, v in disp.items() if k != "NC"}, 1000, "f.toml", "companies")
    assert "NC" in str(err.value) and "f.toml [fieldwork.companies]" in str(err.value)
    with pytest.raises(BarometerError, match="not valid"):
        _rates({**disp, "e": 1.5}, 1000, "f.toml", "companies")
    with pytest.raises(BarometerError, match="not valid"):
        _rates({**disp, "R": -3}, 1000, "f.toml", "companies")


def test_an_edition_fieldwork_file_replaces_the_default(tmp_path: Path) -> None:
    (tmp_path / "2031").mkdir()
    (tmp_path / "2031" / "fieldwork.toml").write_text(
        '[survey]\nsponsor = "Ministry X"\n[fieldwork.individuals]\nP = 1\n',
        encoding="utf-8")
    fake = SimpleNamespace(record={"data_dir": "embedded synthetic data"}, year=2031,
                           edition=SimpleNamespace(data_dir=tmp_path))
    conf, where = _disclosure_config(fake)  # type: ignore[arg-type]
    assert conf["survey"] == {"sponsor": "Ministry X"}
    assert conf["fieldwork"] == {"individuals": {"P": 1}}
    assert "calendar" in conf and "2031/fieldwork.toml" in where
    (tmp_path / "2031" / "fieldwork.toml").write_text("[survey\n", encoding="utf-8")
    with pytest.raises(BarometerError, match="not valid TOML"):
        _disclosure_config(fake)  # type: ignore[arg-type]


def test_ess_calendar_timeliness_and_punctuality(note: str, run: tuple[RunResult, Path],
                                                 config: dict) -> None:
    text = section(note, "Timeliness and punctuality")
    releases = {r["year"]: r for r in config["calendar"]["release"]}
    for year, r in releases.items():
        assert f"| {year} | {r['planned']} |" in text
    this = releases[run[0].year]
    end = max(getattr(run[0].edition, p)["interview_date"].max() for p in
              ("individuals", "companies"))
    days = (pd.Timestamp(this["published"]) - pd.Timestamp(end).normalize()).days
    assert f"fieldwork ended on {pd.Timestamp(end).date()}; the results were published on " \
        f"{this['published']}, **{days} days later**" in text
    assert "placeholder dates of the synthetic edition" in text
    late = (pd.Timestamp(this["published"]) - pd.Timestamp(this["planned"])).days
    assert ("published on the announced date" in text) == (late == 0)
    created = run[0].record["created"][:10]
    assert f"produced by the run of {created}" in text  # not counted as timeliness


# ---------------------------------------------------------------------------- verification
def test_the_verification_against_r_is_embedded(note: str, run: tuple[RunResult, Path]
                                                ) -> None:
    record = json.loads((run[1] / "run_record.json").read_text(encoding="utf-8"))
    v = record["verification"]
    assert v["cases"] >= 300 and v["failed"] == 0 and v["max_rel_error"] < 1e-6
    text = " ".join(section(note, "How we checked the method").split())
    assert f"**{v['passed']} of {v['cases']} cases passed**" in text
    assert f"largest relative difference from R over every compared number is " \
        f"{v['max_rel_error']:.1e}" in text
    assert "`barometer verify`" in text
    for f in v["files"]:
        assert f"`{f['file']}`: {f['passed']} of {f['cases']} passed" in text
        assert f["computed_with"] and f["computed_with"] in text
    assert "survey 4.5" in text


def test_without_a_recorded_verification_the_note_says_so(run: tuple[RunResult, Path],
                                                          tmp_path: Path) -> None:
    from test_note import _charts

    from barometer.publish.note import build_context, render_note

    record = {k: v for k, v in run[0].record.items() if k != "verification"}
    result = dataclasses.replace(run[0], record=record)
    text = render_note(build_context(result, tmp_path, _charts()))
    assert "did not record the check against R" in text
    assert "cases passed" not in text


# ---------------------------------------------------------------------------- claims
def test_claims_are_supported(note: str, run: tuple[RunResult, Path]) -> None:
    from barometer.publish.report import _catalogue

    cat = _catalogue(run[0])
    relevance = section(note, "Relevance")
    used = {i.item for i in cat.indicators}
    assert "difficulties, help" not in relevance
    for item in ("diff_info", "help_none"):
        assert item not in used and f"`{item}`" in relevance.split("No indicator")[1]
    assert "orders of magnitude" not in note
    coherence = section(note, "Coherence between the survey and the administrative counts")
    assert "the two sources are drawn independently" in coherence
    assert "drawn independently" in section(note, "Coherence and comparability")
    assert "Estimation is exact against R" not in note


def test_truth_table_covers_every_published_share_including_online_all(
        note: str, run: tuple[RunResult, Path]) -> None:
    est = pd.read_csv(run[1] / "opendata" / "estimates.csv", dtype={"domain": str})
    overall = est[est["by"] == "all"].set_index("indicator")
    marker = "| Indicator | Estimate | Interval | True value | Covered |"
    start = note.index(marker)
    rows = [ln for ln in note[start:].splitlines()[2:] if ln.startswith("|")]
    rows = rows[:next((k for k, r in enumerate(rows) if not r.startswith("| `")), len(rows))]
    ids = [r.split(" | ")[0].strip("| `") for r in rows]
    assert "online_all" in ids
    published = overall[overall["status"].isin(["published", "caution"])].index
    assert set(published) == set(ids)
    # online_all's truth: those who did a procedure online over everyone but the item
    # nonresponse among those asked (everyone not asked counts as "no")
    truth = pd.read_csv(run[0].edition.data_dir / str(run[0].year) / "truth.csv",
                        dtype={"code": int, "category": str})
    t = truth[(truth["population"] == "individuals") & (truth["domain"] == "all")
              & (truth["weighting"] == "persons")]
    online = t[t["item"] == "online"]
    n_all = t[t["item"] == "proc"]["n_eligible"].iloc[0]
    proc = t[t["item"] == "proc"]
    asked = proc[proc["code"] == 1]["share"].sum() * n_all
    valid = online["n_eligible"].iloc[0]
    population = run[0].edition.margins["individuals"].total
    value = online[online["code"].isin([1, 2])]["share"].sum() * valid \
        / (population - (asked - valid))
    row = rows[ids.index("online_all")]
    assert f"| {pct(value)} % |" in row


def test_a_configuration_without_disclosure_tables_is_said_so(
        run: tuple[RunResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real edition's publication.toml without [survey], [fieldwork] and [calendar]: the
    note says what is missing instead of printing the synthetic placeholders."""
    from test_note import _charts

    import barometer.publish.note as note_module

    conf, _ = _disclosure_config(run[0])
    bare = {k: v for k, v in conf.items() if k not in ("survey", "fieldwork", "calendar")}
    monkeypatch.setattr(note_module, "_disclosure_config", lambda result: (bare, "mine.toml"))
    text = note_module.render_note(note_module.build_context(run[0], tmp_path, _charts()))
    sponsor = section(text, "Sponsor, funding and contact")
    assert "**Sponsor**: not given in the configuration" in sponsor
    assert "placeholder" not in sponsor
    assert "no response rate can be given" in " ".join(
        section(text, "Call outcomes and response rates").split())
    timeliness = " ".join(section(text, "Timeliness and punctuality").split())
    assert "timeliness cannot be counted" in timeliness
    assert "none given" in timeliness
