"""Validation: each kind of defect in a temp copy of an edition is reported, naming file,
column and value; all of them at once; and loading writes nothing."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from barometer.scoreboard.load import default_data_dir, load_edition
from barometer.scoreboard.problems import InputError, Problem, render_table

YEAR = 2016


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    sep = ";" if path.read_text(encoding="utf-8").split("\n", 1)[0].count(";") > 1 else ","
    return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep), sep


def _edit(root: Path, name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = root / str(YEAR) / name
    df, sep = _read(path)
    fn(df).to_csv(path, index=False, sep=sep, lineterminator="\n")


def _set(column: str, row: int, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Set a cell; ``row`` is the 1-based data record, as problems report it."""
    def fn(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[row - 1, column] = value
        return df
    return fn


def _first_row(df: pd.DataFrame, column: str, value: str) -> int:
    return int((df[column] == value).to_numpy().nonzero()[0][0]) + 1


@dataclass(frozen=True)
class Defect:
    """One planted defect and the problem it must produce."""

    name: str
    file: str
    apply: Callable[[Path], None]
    column: str
    value: object
    text: str


def _drop(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df.drop(columns=[column])


def _dup_id(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[9, "resp_id"] = df.loc[8, "resp_id"]
    return df


def _filter_violation(df: pd.DataFrame) -> pd.DataFrame:
    row = _first_row(df, "proc", "2")
    df.loc[row - 1, "online"] = "1"
    return df


def _no_small_towns(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[df["urban_size"] == "2k-20k", "urban_size"] = "20k-100k"
    return df


def _farmers_missing_from_margin(df: pd.DataFrame) -> pd.DataFrame:
    farmers = (df["margin"] == "pcs") & (df["category"] == "farmers")
    emp = (df["margin"] == "pcs") & (df["category"] == "employees")
    df.loc[emp, "count"] = str(int(df.loc[emp, "count"].iloc[0])
                               + int(df.loc[farmers, "count"].iloc[0]))
    return df.loc[~farmers]


def _region_off(df: pd.DataFrame) -> pd.DataFrame:
    r = (df["margin"] == "region") & (df["category"] == "11")
    df.loc[r, "count"] = str(int(df.loc[r, "count"].iloc[0]) + 1000)
    return df


def _dup_admin(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.iloc[[2]]], ignore_index=True)


def _defect(name: str, file: str, fn: Callable[[pd.DataFrame], pd.DataFrame], column: str,
            value: object, text: str) -> Defect:
    return Defect(name, f"{YEAR}/{file}", lambda root: _edit(root, file, fn), column, value,
                  text)


DEFECTS: list[Defect] = [
    _defect("missing column", "individuals.csv", _drop("internet_use"), "internet_use", None,
            "missing column"),
    _defect("missing calibration value", "individuals.csv", _set("sex", 5, ""), "sex", "",
            "missing value in a calibration variable"),
    _defect("unknown category code", "individuals.csv", _set("pcs", 3, "astronaut"), "pcs",
            "astronaut", "unknown code"),
    _defect("unknown item code", "individuals.csv", _set("relations", 11, "7"), "relations",
            "7", "unknown code"),
    _defect("duplicated id", "individuals.csv", _dup_id, "resp_id", None, "duplicated"),
    _defect("age out of range", "individuals.csv", _set("age", 7, "150"), "age", "150",
            "out of range"),
    _defect("wrong type", "individuals.csv", _set("pref_channel", 8, "web"), "pref_channel",
            "web", "wrong type"),
    _defect("filter violation", "individuals.csv", _filter_violation, "online", "1",
            "outside the item's filter"),
    _defect("employees out of range", "companies.csv", _set("employees", 4, "-3"),
            "employees", "-3", "out of range"),
    _defect("non-positive design weight", "companies.csv", _set("design_weight", 6, "0"),
            "design_weight", "0", "greater than 0"),
    _defect("bad date", "companies.csv", _set("interview_date", 2, "2016-13-45"),
            "interview_date", "2016-13-45", "bad date"),
    _defect("unknown sector", "companies.csv", _set("sector", 12, "mining"), "sector",
            "mining", "unknown code"),
    _defect("margin category absent from data", "individuals.csv", _no_small_towns,
            "category", "2k-20k", "no respondent"),
    _defect("data category absent from margin", "margins_individuals.csv",
            _farmers_missing_from_margin, "pcs", "farmers", "absent from margin"),
    _defect("margin not summing to total", "margins_individuals.csv", _region_off, "count",
            "region", "not to the population total"),
    _defect("negative admin count", "admin_counts.csv", _set("count", 2, "-5"), "count",
            "-5", "negative count"),
    _defect("duplicated admin row", "admin_counts.csv", _dup_admin, "service_id", None,
            "duplicated service"),
    _defect("unknown service", "admin_counts.csv", _set("service_id", 5, "teleportation"),
            "service_id", "teleportation", "unknown service"),
    _defect("unknown channel", "admin_counts.csv", _set("channel", 6, "pigeon"), "channel",
            "pigeon", "unknown channel"),
    _defect("admin year out of range", "admin_counts.csv", _set("year", 9, "2015"), "year",
            "2015", "year out of range"),
    _defect("bad admin date", "admin_counts.csv", _set("date_received", 10, "soon"),
            "date_received", "soon", "bad date"),
]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A temp data folder with the shipped services.csv and edition 2016."""
    src = default_data_dir()
    shutil.copyfile(src / "services.csv", tmp_path / "services.csv")
    shutil.copytree(src / str(YEAR), tmp_path / str(YEAR))
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _matches(p: Problem, d: Defect, file: str) -> bool:
    if p.file != file or p.column != d.column or d.text not in p.problem:
        return False
    return d.value is None or p.value == d.value or str(p.value) == str(d.value)


def _expected_file(d: Defect) -> str:
    if d.name == "margin category absent from data":
        return f"{YEAR}/margins_individuals.csv"
    if d.name == "data category absent from margin":  # the rows are the survey file's
        return f"{YEAR}/individuals.csv"
    return d.file


def test_clean_copy_loads(copy: Path) -> None:
    assert load_edition(YEAR, copy).year == YEAR


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.name for d in DEFECTS])
def test_each_defect_is_reported(copy: Path, defect: Defect) -> None:
    defect.apply(copy)
    before = _snapshot(copy)
    with pytest.raises(InputError) as info:
        load_edition(YEAR, copy)
    assert _snapshot(copy) == before, "loading must write nothing"
    err = info.value
    assert isinstance(err, ValueError)
    file = _expected_file(defect)
    hits = [p for p in err.problems if _matches(p, defect, file)]
    assert hits, f"{defect.name}: not reported; got\n{err}"
    text = str(err)
    assert file in text and defect.column in text
    if defect.value not in (None, ""):
        assert repr(hits[0].value) in text
    assert hits[0].hint


def test_all_defects_reported_at_once(copy: Path) -> None:
    for d in DEFECTS:
        d.apply(copy)
    before = _snapshot(copy)
    with pytest.raises(InputError) as info:
        load_edition(YEAR, copy)
    assert _snapshot(copy) == before
    problems = info.value.problems
    missing = [d.name for d in DEFECTS
               if not any(_matches(p, d, _expected_file(d)) for p in problems)]
    assert not missing, f"not reported together: {missing}\n{info.value}"
    assert len({(p.file, p.column, p.problem) for p in problems}) >= 15
    assert str(info.value).count("\n") >= len(DEFECTS)


def test_rows_name_the_record(copy: Path) -> None:
    _edit(copy, "individuals.csv", _set("pcs", 42, "astronaut"))
    with pytest.raises(InputError) as info:
        load_edition(YEAR, copy)
    (p,) = [p for p in info.value.problems if p.value == "astronaut"]
    assert p.rows == (42,)


def test_missing_file_and_missing_margin(copy: Path) -> None:
    (copy / str(YEAR) / "admin_counts.csv").unlink()
    _edit(copy, "margins_companies.csv", lambda df: df.loc[df["margin"] != "region"])
    with pytest.raises(InputError) as info:
        load_edition(YEAR, copy)
    probs = info.value.problems
    assert any(p.file.endswith("admin_counts.csv") and p.problem == "missing file"
               for p in probs)
    assert any(p.value == "region" and "missing margin" in p.problem for p in probs)


def test_late_supplier_is_a_warning_not_an_error(copy: Path) -> None:
    _edit(copy, "admin_counts.csv", lambda df: df.loc[df["service_id"] != "dpae"])
    ed = load_edition(YEAR, copy)
    assert [(w.value, w.severity) for w in ed.warnings] == [("dpae", "warning")]
    assert "no administrative count" in ed.warnings[0].problem


def test_unknown_sav_label_is_reported(tmp_path: Path) -> None:
    import pyreadstat

    src = default_data_dir()
    shutil.copyfile(src / "services.csv", tmp_path / "services.csv")
    shutil.copytree(src / "2025", tmp_path / "2025")
    path = tmp_path / "2025" / "individuals.sav"
    df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=True)
    labels = dict(meta.variable_value_labels)
    labels["pcs"] = {**labels["pcs"], 3.0: "Cosmonautes"}
    pyreadstat.write_sav(df, str(path), variable_value_labels=labels,
                         missing_ranges=meta.missing_ranges)
    with pytest.raises(InputError) as info:
        load_edition(2025, tmp_path)
    hits = [p for p in info.value.problems if "Cosmonautes" in p.problem]
    assert [(p.file, p.column, p.value) for p in hits] == [("2025/individuals.sav", "pcs", 3.0)]


def test_render_table_lists_every_field() -> None:
    p = Problem("2016/x.csv", "age", "out of range", "check it", rows=(3, 4), value="150")
    table = render_table([p])
    for s in ("2016/x.csv", "3, 4", "age", "'150'", "out of range", "check it"):
        assert s in table
