"""Real deliveries: a corpus of defective data folders, built from the embedded 2025
edition. Each gives a clear error (file, row as counted in the file, column, value, what
to do) and `barometer run` writes nothing, or, where the input is acceptable, a warning on
the console and in the run. Acceptable variants (BOM, CRLF, semicolons, typed Parquet and
Stata files with decimal weights) load exactly as the original."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.run import RunConfig, compute, write_run
from barometer.scoreboard.load import default_data_dir, load_edition, scaffold
from barometer.scoreboard.problems import InputError, Problem
from barometer.scoreboard.readers import sniff_delimiter

runner = CliRunner()
YEAR = 2025
Y = str(YEAR)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("base") / "data"
    scaffold(root, YEAR)
    return root


# ---------------------------------------------------------------------------- editing
def _read(path: Path) -> tuple[pd.DataFrame, str]:
    header = path.read_text(encoding="utf-8").splitlines()[0]
    sep = sniff_delimiter(header)
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False), sep


def frame(rel: str, fn: Callable[[pd.DataFrame], pd.DataFrame | None]
          ) -> Callable[[Path], None]:
    """Edit a CSV as a frame of text (its delimiter kept)."""
    def apply(root: Path) -> None:
        df, sep = _read(root / rel)
        out = fn(df)
        (df if out is None else out).to_csv(root / rel, sep=sep, index=False)
    return apply


def cell(rel: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell (``row`` 1-based, as counted in the file after the header)."""
    def fn(df: pd.DataFrame) -> None:
        df.loc[row - 1, column] = value
    return frame(rel, fn)


def text(rel: str, fn: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        p = root / rel
        p.write_text(fn(p.read_text(encoding="utf-8")), encoding="utf-8")
    return apply


def raw_bytes(rel: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        p = root / rel
        p.write_bytes(fn(p.read_bytes()))
    return apply


def as_directory(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).unlink()
        (root / rel).mkdir()
        (root / rel / "inside.csv").write_text("a,b\n1,2\n")
    return apply


def remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def _margin_row(rel: str, margin: str, root: Path) -> int:
    df, _ = _read(root / rel)
    return int((df["margin"] == margin).to_numpy().nonzero()[0][3]) + 1


def margin_cell(rel: str, margin: str, column: str, value: str) -> Callable[[Path], None]:
    """Set a cell of the 4th row of ``margin`` in a margins file."""
    def apply(root: Path) -> None:
        cell(rel, _margin_row(rel, margin, root), column, value)(root)
    return apply


@dataclass(frozen=True)
class Defect:
    name: str
    apply: Callable[[Path], None]
    file: str
    column: str | None
    text: str
    value: object = None
    rows: tuple[int, ...] | None = None
    severity: str = "error"


ADMIN = f"{Y}/admin_counts.csv"
COMP = f"{Y}/companies.csv"
IND = f"{Y}/individuals.sav"
MI = f"{Y}/margins_individuals.csv"
MC = f"{Y}/margins_companies.csv"
SVC = "services.csv"
BIG = "12345678901234567890"
# the data record (1-based) a duplicate of the first admin row lands on
ADMIN_APPENDED = len(pd.read_csv(default_data_dir() / ADMIN)) + 1


def _dup_first_row(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.iloc[[0]]], ignore_index=True)


def _drop_service(sid: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: df[df["service_id"] != sid]


def _latin1(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        p = root / rel
        p.write_bytes(p.read_text(encoding="utf-8").encode("latin-1", errors="replace"))
    return apply


def _separated(rel: str, sep: str) -> Callable[[Path], None]:
    """The file written again with another field separator."""
    def apply(root: Path) -> None:
        df, _ = _read(root / rel)
        df.to_csv(root / rel, sep=sep, index=False)
    return apply


def _tabs(rel: str) -> Callable[[Path], None]:
    return _separated(rel, "\t")


def _ragged(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        lines[5] = lines[5].rstrip("\n") + ",extra,fields\n"
        (root / rel).write_text("".join(lines), encoding="utf-8")
    return apply


def _garbage(rel: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_bytes(b"PAR1" + b"\x00" * 64)
    return apply


def _second_format(root: Path) -> None:
    df, _ = _read(root / COMP)
    df.to_parquet(root / f"{Y}/companies.parquet")


DEFECTS: list[Defect] = [
    # configuration
    Defect("malformed codebook.toml", text("codebook.toml", lambda t: t + "\n[[item]\nid =\n"),
           "codebook.toml", None, "not valid TOML"),
    Defect("codebook item without scale", text("codebook.toml", lambda t: t + (
        '\n[[item]]\nid = "x"\npopulation = "individuals"\nfr = "x"\nen = "x"\n')),
        "codebook.toml", None, "missing key 'scale'"),
    Defect("codebook item with a text year", text("codebook.toml", lambda t: t + (
        '\n[[item]]\nid = "x"\npopulation = "individuals"\nscale = "yes_no"\n'
        'first_year = "2025"\nfr = "x"\nen = "x"\n')), "codebook.toml", None,
        "first_year must be a year"),
    Defect("malformed indicators.toml", text("indicators.toml", lambda t: t + "\nid = = 3\n"),
           "indicators.toml", None, "not valid TOML"),
    Defect("indicator on an unknown item", text("indicators.toml", lambda t: t + (
        '\n[[indicator]]\nid = "x"\nlabel_fr = "x"\nlabel_en = "x"\npopulation = '
        '"individuals"\nitem = "nope"\nkind = "share"\ncodes = [1]\n')),
        "indicators.toml", "item", "no such individuals item", value="nope"),
    Defect("weighting margin on an unknown variable", text(
        "weighting.toml", lambda t: t.replace('"pcs", "region"', '"pcs", "planet"')),
        "weighting.toml", "margins", "not a category variable", value="planet"),
    Defect("item id defined twice", text("codebook.toml", lambda t: t + (
        '\n[[item]]\nid = "proc"\npopulation = "individuals"\nscale = "yes_no"\nfr = "x"\n'
        'en = "x"\n')), "codebook.toml", None, "defined twice"),
    Defect("codebook is a directory", lambda root: ((root / "codebook.toml").unlink(),
                                                    (root / "codebook.toml").mkdir()),
           "codebook.toml", None, "is a directory"),
    Defect("indicator codes not of its item", text("indicators.toml", lambda t: t.replace(
        'codes = [1]\nuniverse = "all"\nheadline = true',
        'codes = [7]\nuniverse = "all"\nheadline = true', 1)), "indicators.toml", "codes",
        "response codes of item 'proc'", value=7),
    Defect("indicator codes as text", text("indicators.toml", lambda t: t.replace(
        'codes = [1]\nuniverse = "all"\nheadline = true',
        'codes = "1"\nuniverse = "all"\nheadline = true', 1)), "indicators.toml", "codes",
        "response codes"),
    Defect("trimming bounds reversed", text("weighting.toml", lambda t: t.replace(
        "trim = [0.25, 4.0]", "trim = [4.0, 0.25]")), "weighting.toml", "trim",
        "lower < 1 < upper"),
    Defect("weighting without companies", text("weighting.toml",
                                               lambda t: t.split("[companies]")[0]),
           "weighting.toml", None, "no weighting specification for companies"),
    # service catalogue
    Defect("blank ministry", cell(SVC, 3, "ministry", ""), SVC, "ministry", "blank cell",
           rows=(3,)),
    Defect("blank service label", cell(SVC, 5, "label_en", " "), SVC, "label_en",
           "blank cell", rows=(5,)),
    Defect("duplicated service", frame(SVC, _dup_first_row), SVC, "service_id",
           "duplicated service"),
    Defect("last_year before first_year", frame(SVC, lambda df: df.assign(
        last_year=["2010"] + [""] * (len(df) - 1))), SVC, "last_year",
        "last_year before first_year", value="2010", rows=(1,)),
    Defect("Latin-1 service catalogue", _latin1(SVC), SVC, None, "not UTF-8"),
    Defect("missing service catalogue", remove(SVC), SVC, None, "missing file"),
    Defect("target out of range", cell(SVC, 2, "target_2016", "45"), SVC, "target_2016",
           "out of range", value="45", rows=(2,)),
    # administrative counts
    Defect("20-digit admin count", cell(ADMIN, 7, "count", BIG), ADMIN, "count",
           "too large", value=BIG, rows=(7,)),
    Defect("infinite admin count", cell(ADMIN, 8, "count", "inf"), ADMIN, "count",
           "too large or not finite", value="inf", rows=(8,)),
    Defect("decimal admin count", cell(ADMIN, 9, "count", "12.5"), ADMIN, "count",
           "not an integer", value="12.5", rows=(9,)),
    Defect("text admin count", cell(ADMIN, 10, "count", "n/a"), ADMIN, "count",
           "not an integer", value="n/a", rows=(10,)),
    Defect("negative admin count", cell(ADMIN, 11, "count", "-4"), ADMIN, "count",
           "negative count", value="-4", rows=(11,)),
    Defect("header-only admin file", text(ADMIN, lambda t: t.splitlines()[0] + "\n"), ADMIN,
           None, "no data row"),
    Defect("duplicated admin row", frame(ADMIN, _dup_first_row), ADMIN, "service_id",
           "duplicated service × year × channel", rows=(ADMIN_APPENDED,)),
    Defect("unknown channel", cell(ADMIN, 4, "channel", "fax"), ADMIN, "channel",
           "unknown channel", value="fax", rows=(4,)),
    Defect("admin row of another year", cell(ADMIN, 6, "year", "2024"), ADMIN, "year",
           "year out of range", value="2024", rows=(6,)),
    Defect("unknown service", cell(ADMIN, 12, "service_id", "teleportation"), ADMIN,
           "service_id", "unknown service", value="teleportation", rows=(12,)),
    Defect("blank supplier", cell(ADMIN, 13, "supplier", ""), ADMIN, "supplier",
           "blank cell", rows=(13,)),
    Defect("bad revised flag", cell(ADMIN, 14, "revised", "yes"), ADMIN, "revised",
           "unknown code", value="yes", rows=(14,)),
    Defect("bad date received", cell(ADMIN, 15, "date_received", "15/02/2026"), ADMIN,
           "date_received", "bad date", value="15/02/2026", rows=(15,)),
    Defect("Latin-1 admin file", _latin1(ADMIN), ADMIN, None, "not UTF-8"),
    Defect("UTF-16 admin file", raw_bytes(ADMIN, lambda b: b.decode().encode("utf-16")),
           ADMIN, None, "UTF-16"),
    Defect("ragged admin row", _ragged(ADMIN), ADMIN, None, "unreadable CSV"),
    Defect("pipe-delimited admin file", text(ADMIN, lambda t: t.replace(",", "|")), ADMIN,
           None, "delimiter '|' not recognised"),
    Defect("duplicated column name", text(ADMIN, lambda t: t.replace(
        "supplier,counting_unit", "supplier,supplier", 1)), ADMIN, "supplier",
        "duplicated column name"),
    Defect("admin file is a directory", as_directory(ADMIN), ADMIN, None, "is a directory"),
    # survey files
    Defect("empty survey file", raw_bytes(COMP, lambda b: b""), COMP, None, "empty file"),
    Defect("header-only survey file", text(COMP, lambda t: t.splitlines()[0] + "\n"), COMP,
           None, "no data row"),
    Defect("survey file is a directory", as_directory(COMP), COMP, None, "is a directory"),
    Defect("infinite weight", cell(COMP, 3, "design_weight", "inf"), COMP, "design_weight",
           "not finite", value="inf", rows=(3,)),
    Defect("1e300 weight", cell(COMP, 4, "design_weight", "1e300"), COMP, "design_weight",
           "too large", value="1e300", rows=(4,)),
    Defect("NaN weight", cell(COMP, 5, "design_weight", "NaN"), COMP, "design_weight",
           "not a number", value="NaN", rows=(5,)),
    Defect("non-positive weight", cell(COMP, 6, "design_weight", "-3"), COMP,
           "design_weight", "greater than 0", value="-3", rows=(6,)),
    Defect("zero weight", cell(COMP, 7, "design_weight", "0"), COMP, "design_weight",
           "greater than 0", value="0", rows=(7,)),
    Defect("duplicated firm id", cell(COMP, 9, "firm_id", "E2025-0001"), COMP, "firm_id",
           "duplicated identifier", rows=(9,)),
    Defect("unknown answer code", cell(COMP, 10, "relations", "7"), COMP, "relations",
           "unknown code", value="7", rows=(10,)),
    Defect("blank calibration variable", cell(COMP, 11, "region", ""), COMP, "region",
           "missing value in a calibration variable", rows=(11,)),
    Defect("employees outside the size band", cell(COMP, 1, "employees", "100000"), COMP,
           "employees", "inconsistent with size_band", rows=(1,)),
    Defect("interview date out of the fieldwork", cell(COMP, 12, "interview_date",
                                                       "2019-01-01"),
           COMP, "interview_date", "out of range", value="2019-01-01", rows=(12,)),
    Defect("missing survey column", frame(COMP, lambda df: df.drop(columns=["mode"])),
           COMP, "mode", "missing column"),
    Defect("two formats of one survey", _second_format, f"{Y}/companies.*", None,
           "several files"),
    Defect("corrupt Parquet file", lambda root: (remove(COMP)(root),
                                                 _garbage(f"{Y}/companies.parquet")(root)),
           f"{Y}/companies.parquet", None, "unreadable .parquet"),
    Defect("decimal comma in a weight", cell(COMP, 2, "design_weight", "8640,5"), COMP,
           "design_weight", "not a number", value="8640,5", rows=(2,)),
    Defect("SPSS file that is not SPSS", raw_bytes(IND, lambda b: b"$FL2" + b"\x00" * 40),
           IND, None, "unreadable .sav"),
    Defect("only a byte-order mark", raw_bytes(MI, lambda b: b"\xef\xbb\xbf"), MI, None,
           "no header line"),
    Defect("audience in capitals", cell(SVC, 1, "audience", "Individuals"), SVC,
           "audience", "unknown audience", value="Individuals", rows=(1,)),
    Defect("blank first_year", cell(SVC, 2, "first_year", ""), SVC, "first_year",
           "blank cell", rows=(2,)),
    Defect("Latin-1 survey file", lambda root: (cell(COMP, 2, "mode", "fixe-téléphone")(root),
                                                _latin1(COMP)(root)),
           COMP, None, "not UTF-8"),
    # margins
    Defect("unknown category in a margin", margin_cell(MI, "region", "category", "99"), MI,
           "category", "unknown category of margin 'region'", value="99"),
    Defect("non-numeric margin count", margin_cell(MI, "pcs", "count", "lots"), MI, "count",
           "not a number", value="lots"),
    Defect("1e300 margin count", margin_cell(MC, "region", "count", "1e300"), MC, "count",
           "too large", value="1e300"),
    Defect("margins without the total row", frame(MI, lambda df: df[df["margin"] != "total"]),
           MI, "margin", "no population total row"),
    Defect("duplicated margin row", frame(MI, _dup_first_row), MI, "category",
           "duplicated margin × category row"),
    Defect("margins file is a directory", as_directory(MC), MC, None, "is a directory"),
    Defect("blank margin source", margin_cell(MI, "region", "source", ""), MI, "source",
           "blank cell"),
    # accepted, with a warning
    Defect("extra survey column", frame(COMP, lambda df: df.assign(note="x")), COMP, "note",
           "column not in the codebook", severity="warning"),
    Defect("late supplier", frame(ADMIN, _drop_service("income_tax_return")), ADMIN,
           "service_id", "no administrative count", value="income_tax_return",
           severity="warning"),
    Defect("tab-delimited admin file", _tabs(ADMIN), ADMIN, None, "tab-delimited",
           severity="warning"),
    Defect("tab-delimited margins", _tabs(MI), MI, None, "tab-delimited", severity="warning"),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _matches(p: Problem, d: Defect) -> bool:
    return (p.file == d.file and p.severity == d.severity
            and (d.column is None or p.column == d.column) and d.text in p.problem
            and (d.value is None or str(p.value) == str(d.value))
            and (d.rows is None or p.rows == d.rows) and bool(p.hint))


def test_the_corpus_is_large_enough() -> None:
    assert len(DEFECTS) >= 40 and len({d.name for d in DEFECTS}) == len(DEFECTS)


@pytest.mark.parametrize("defect", [d for d in DEFECTS if d.severity == "error"],
                         ids=lambda d: d.name)
def test_defect_gives_a_clear_error_and_writes_nothing(base: Path, tmp_path: Path,
                                                       defect: Defect) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    defect.apply(root)
    before = _snapshot(root)
    with pytest.raises(InputError) as info:
        load_edition(YEAR, root)
    hits = [p for p in info.value.problems if _matches(p, defect)]
    assert hits, f"{defect.name}: not reported as expected; got\n{info.value}"
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--data", str(root), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and defect.file in result.output
    assert not out.exists() and _snapshot(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_an_encoding_error_is_one_problem_not_a_cascade(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    _latin1(SVC)(root)
    with pytest.raises(InputError) as info:
        load_edition(YEAR, root)
    errors = [p for p in info.value.problems if p.severity == "error"]
    assert len(errors) == 1 and "Latin-1" in errors[0].problem
    assert "line" in errors[0].problem


@pytest.mark.parametrize("defect", [d for d in DEFECTS if d.severity == "warning"],
                         ids=lambda d: d.name)
def test_acceptable_defect_gives_a_warning(base: Path, tmp_path: Path,
                                           defect: Defect) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    defect.apply(root)
    edition = load_edition(YEAR, root)
    assert [p for p in edition.warnings if _matches(p, defect)], edition.warnings
    result = runner.invoke(app, ["check", str(root)])
    assert result.exit_code == 0 and defect.text in result.output, result.output


def test_warnings_reach_the_console_and_the_note(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    _tabs(ADMIN)(root)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--data", str(root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: 2025/admin_counts.csv" in result.output and "tab-delimited" in (
        result.output)
    assert "tab-delimited" in (out / "methodology-note.md").read_text(encoding="utf-8")


def test_check_lists_every_problem_and_fails(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    cell(ADMIN, 7, "count", BIG)(root)
    cell(SVC, 3, "ministry", "")(root)
    result = runner.invoke(app, ["check", str(root)])
    assert result.exit_code == 1
    assert BIG in result.output and "ministry" in result.output
    assert "2 error(s)" in result.output


def test_problem_table_keeps_long_values_and_every_row(base: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    long_value = "x" * 90
    frame(COMP, lambda df: df.assign(relations=long_value))(root)
    result = runner.invoke(app, ["check", str(root)])
    assert result.exit_code == 1
    assert result.output.count("x") >= len(long_value) and "…" not in result.output
    path = result.output.split("every problem with all its rows: ")[1].split()[0]
    table = pd.read_csv(path, dtype=str)
    rows = table.loc[table["column"] == "relations", "rows"].iloc[0].split()
    assert rows == [str(i) for i in range(1, 601)]
    Path(path).unlink()


# ------------------------------------------------------------------ acceptable variants
def _edition_frames(root: Path) -> dict[str, pd.DataFrame]:
    ed = load_edition(YEAR, root)
    return {"individuals": ed.individuals, "companies": ed.companies,
            "admin": ed.admin_counts, "services": ed.services}


def _bom(rel: str) -> Callable[[Path], None]:
    return raw_bytes(rel, lambda b: b"\xef\xbb\xbf" + b)


def _crlf(rel: str) -> Callable[[Path], None]:
    return raw_bytes(rel, lambda b: b.replace(b"\n", b"\r\n"))


def _typed(fmt: str) -> Callable[[Path], None]:
    """companies.csv as a typed file: numbers as numbers (decimal weights), dates as dates."""
    def apply(root: Path) -> None:
        df, _ = _read(root / COMP)
        typed = df.copy()
        for c in typed.columns:
            if c not in ("firm_id", "region", "size_band", "sector", "mode",
                         "interview_date"):
                typed[c] = pd.to_numeric(typed[c])
        typed["interview_date"] = pd.to_datetime(typed["interview_date"])
        (root / COMP).unlink()
        if fmt == "parquet":
            typed.to_parquet(root / f"{Y}/companies.parquet")
        else:
            import pyreadstat

            pyreadstat.write_dta(typed, str(root / f"{Y}/companies.dta"))
    return apply


VARIANTS = {
    "BOM": _bom(ADMIN), "CRLF": _crlf(MI), "BOM and CRLF": lambda r: (_bom(SVC)(r),
                                                                      _crlf(SVC)(r)),
    "semicolons": _separated(ADMIN, ";"), "Parquet, decimal weights": _typed("parquet"),
    "Stata, decimal weights": _typed("dta"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_acceptable_variant_loads_as_the_original(base: Path, tmp_path: Path,
                                                  variant: str) -> None:
    root = tmp_path / "data"
    shutil.copytree(base, root)
    VARIANTS[variant](root)
    got, want = _edition_frames(root), _edition_frames(base)
    for key in want:
        pd.testing.assert_frame_equal(got[key], want[key], check_dtype=False)
    assert not [w for w in load_edition(YEAR, root).warnings
                if "delimited" in w.problem and w.file != COMP]


# ------------------------------------------------------------------- format round trip
def _store(frame_: pd.DataFrame, folder: Path, stem: str, fmt: str) -> None:
    """Write a typed survey frame in one of the four survey formats."""
    path = folder / f"{stem}.{fmt}"
    if fmt == "csv":
        out = frame_.copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c]):
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        out.to_csv(path, index=False)
    elif fmt == "parquet":
        frame_.to_parquet(path, index=False)
    else:
        import pyreadstat

        writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
        writer(frame_, str(path))


def test_one_edition_in_four_formats_gives_byte_identical_open_data(
        base: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    edition = load_edition(YEAR, base)
    outputs = {}
    for fmt in ("csv", "parquet", "sav", "dta"):
        root = tmp_path_factory.mktemp(fmt) / "data"
        shutil.copytree(base, root)
        for pop in ("individuals", "companies"):
            for old in (root / Y).glob(f"{pop}.*"):
                old.unlink()
            _store(edition.survey(pop), root / Y, pop, fmt)
        out = root.parent / "out"
        out.mkdir()
        write_run(compute(RunConfig(year=YEAR, data_dir=root)), out)  # what `run` writes
        snap = _snapshot(out / "opendata")
        # the package's creation time is the only byte allowed to differ
        snap["datapackage.json"] = re.sub(rb'"created": "[^"]*"', b'"created": ""',
                                          snap["datapackage.json"])
        outputs[fmt] = snap
    assert outputs["csv"] and all(len(v) > 10 for v in outputs.values())
    for fmt in ("parquet", "sav", "dta"):
        assert outputs[fmt] == outputs["csv"], fmt


def test_typed_columns_become_exact_text() -> None:
    from barometer.scoreboard.readers import _to_text

    cases = [
        (pd.Series([22645.6071, float("inf"), 1e300, float("nan"), 3.0]),
         ["22645.6071", "inf", "1e+300", "", "3"]),
        (pd.Series([1, 2**63 + 5], dtype="uint64"), ["1", "9223372036854775813"]),
        (pd.Series([7, None], dtype="Int64"), ["7", ""]),
        (pd.Series(["a", None], dtype="category"), ["a", ""]),
        (pd.Series([True, None], dtype="boolean"), ["1", ""]),
        (pd.Series(pd.to_datetime(["2025-09-15", None])), ["2025-09-15", ""]),
    ]
    for series, want in cases:
        assert list(_to_text(series)) == want


def test_an_edition_folder_given_as_data_is_explained(base: Path) -> None:
    result = runner.invoke(app, ["run", "--data", str(base / Y)])
    assert result.exit_code == 2 and "looks like an edition folder" in result.output


def test_margin_problems_count_rows_in_the_margins_file(base: Path, tmp_path: Path) -> None:
    """A margin problem's row is the row of the margins file (not within the margin's
    block), and a survey-side problem is filed under the survey file with its rows."""
    root = tmp_path / "data"
    shutil.copytree(base, root)
    row = _margin_row(MI, "region", root)
    assert row > 20  # well after the start of the region block
    cell(MI, row, "category", "99")(root)
    with pytest.raises(InputError) as info:
        load_edition(YEAR, root)
    unknown = [p for p in info.value.problems if p.value == "99"]
    assert [(p.file, p.column, p.rows) for p in unknown] == [(MI, "category", (row,))]
    survey_side = [p for p in info.value.problems if "absent from margin" in p.problem]
    assert survey_side and all(p.file == IND and p.rows for p in survey_side)
