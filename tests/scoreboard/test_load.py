"""Loading: every shipped edition validates; formats (CSV ; and ,, Parquet, SPSS, Stata)
give the same frame; margins feed calibration; the codebook is the one source of labels."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from barometer.scoreboard.codebook import load_codebook
from barometer.scoreboard.load import available_years, default_data_dir, load_edition
from barometer.scoreboard.margins import crossed_column

YEARS = list(range(2014, 2026))


def test_available_years_are_the_shipped_editions() -> None:
    assert available_years() == YEARS


@pytest.mark.parametrize("year", YEARS)
def test_every_shipped_year_loads_cleanly(year: int) -> None:
    ed = load_edition(year)
    cb = ed.codebook
    assert ed.year == year
    assert 990 <= len(ed.individuals) <= 1015 and len(ed.companies) == 600
    assert list(ed.individuals.columns) == cb.columns("individuals")
    assert list(ed.companies.columns) == cb.columns("companies")
    for item in cb.items_for("individuals"):
        assert ed.individuals[item.id].dtype == np.int64
    assert ed.individuals["interview_date"].dt.year.eq(year).all()
    assert (ed.companies["design_weight"] > 0).all()
    # warnings only: the late supplier of the latest year
    expected = [("customs_payment", "warning")] if year == 2025 else []
    assert [(w.value, w.severity) for w in ed.warnings] == expected
    assert set(ed.admin_counts["channel"]) <= {"online", "mail", "counter", "phone"}
    assert len(ed.services) == {2014: 25, 2015: 27}.get(year, 30)
    for rel, digest in ed.sha256.items():
        assert hashlib.sha256((ed.data_dir / rel).read_bytes()).hexdigest() == digest
    assert {"individuals", "companies", "admin_counts", "services"} <= set(ed.files)


def test_default_is_latest_year_and_edition_is_frozen() -> None:
    ed = load_edition()
    assert ed.year == 2025
    assert ed.files["individuals"].endswith(".sav")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ed.year = 2000  # type: ignore[misc]


def test_sav_value_labels_are_mapped_to_codebook_codes() -> None:
    ed = load_edition(2025)
    cb = ed.codebook
    for var in ("sex", "age_band", "pcs", "region", "urban_size", "education"):
        assert set(ed.individuals[var]) <= set(cb.variable(var).codes)
    assert set(ed.individuals["satis"]) <= {1, 2, 3, 4, 97, 98, 99}


def _copy(tmp_path: Path, year: int) -> Path:
    src = default_data_dir()
    shutil.copyfile(src / "services.csv", tmp_path / "services.csv")
    shutil.copytree(src / str(year), tmp_path / str(year))
    return tmp_path


@pytest.mark.parametrize("fmt", ["parquet", "dta", "semicolon", "sav"])
def test_formats_give_the_same_frame(tmp_path: Path, fmt: str) -> None:
    import pyreadstat

    ref = load_edition(2016)
    root = _copy(tmp_path, 2016)
    csv = root / "2016" / "individuals.csv"
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    if fmt == "parquet":
        typed = raw.copy()
        for item in ref.codebook.items_for("individuals"):
            typed[item.id] = typed[item.id].astype("int64")
        typed["age"] = typed["age"].astype("int64")
        typed.to_parquet(root / "2016" / "individuals.parquet")
    elif fmt == "dta":
        typed = ref.individuals.copy()
        pyreadstat.write_dta(typed, str(root / "2016" / "individuals.dta"))
    elif fmt == "semicolon":
        raw.to_csv(root / "2016" / "individuals2.csv", sep=";", index=False)
    else:
        from barometer.synthetic.editions import write_sav

        write_sav(ref.individuals, root / "2016" / "individuals.sav", ref.codebook,
                  "individuals")
    csv.unlink()
    if fmt == "semicolon":
        (root / "2016" / "individuals2.csv").rename(csv)
    got = load_edition(2016, root).individuals
    pd.testing.assert_frame_equal(got, ref.individuals, check_dtype=False)


def test_margins_as_dicts_and_crossed_columns() -> None:
    ed = load_edition(2016)
    ms = ed.margins["individuals"]
    d = ms.to_dict()
    assert list(d) == ["sex*age_band", "pcs", "region", "urban_size"]
    assert "F*18-24" in d["sex*age_band"]
    for cats in d.values():
        assert sum(cats.values()) == pytest.approx(ms.total)
    assert 49e6 < ms.total < 53e6 and ms.reference_date.year == 2016 and ms.source
    framed = ms.add_crossed_columns(ed.individuals)
    assert set(framed["sex*age_band"]) == set(d["sex*age_band"])
    assert crossed_column(ed.individuals, "sex*age_band").equals(framed["sex*age_band"])
    mc = ed.margins["companies"]
    emp = mc.to_dict("employees")
    assert sum(emp["region"].values()) == pytest.approx(mc.total_for("employees"))
    assert emp["size_band*sector"]["0*services"] == 0


def test_margins_feed_calibration() -> None:
    from barometer import Design, calibrate

    ed = load_edition(2016)
    ms = ed.margins["individuals"]
    frame = ms.add_crossed_columns(ed.individuals)
    frame["w0"] = ms.total / len(frame)
    design = calibrate(Design.from_frame(frame, weights="w0"), categorical=ms.to_dict(),
                       method="raking")
    w = pd.Series(np.asarray(design.weights), index=frame.index)
    assert w.sum() == pytest.approx(ms.total, rel=1e-6)
    by_region = w.groupby(frame["region"]).sum()
    for cat, count in ms.to_dict()["region"].items():
        assert by_region[cat] == pytest.approx(count, rel=1e-5)


def test_codebook_is_the_single_source_of_labels() -> None:
    cb = load_codebook()
    assert cb.label("individuals", "satis", 1, "fr") == "Très satisfait"
    assert cb.label("individuals", "satis", 98) == "Don't know"
    assert cb.label("companies", "size_band", "10-49") == "10-49 employees"
    assert cb.missing_codes == {"not_asked": 97, "dont_know": 98, "refused": 99}
    online = cb.item("individuals", "satis")
    assert online.filter is not None and online.filter.name == "online"
    assert cb.valid_codes(cb.item("individuals", "proc")) == (1, 2, 98, 99)
    assert cb.calibration_variables("individuals") == [
        "sex", "age_band", "pcs", "region", "urban_size"]
    assert cb.calibration_variables("companies") == ["region", "size_band", "sector"]
    ids = [(i.population, i.id) for i in cb.items]
    assert len(ids) == len(set(ids))


def test_eligibility_follows_filter_chain() -> None:
    ed = load_edition(2016)
    cb, ind = ed.codebook, ed.individuals
    elig = cb.eligible(ind, "individuals", "satis")
    assert (elig == ind["online"].isin([1, 2]).to_numpy()).all()
    assert (ind.loc[~elig, "satis"] == 97).all()
    assert (ind.loc[elig, "satis"] != 97).all()


def test_loading_writes_nothing() -> None:
    root = default_data_dir()
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    load_edition(2025)
    load_edition(2016)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
