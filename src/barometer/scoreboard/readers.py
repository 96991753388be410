"""Readers: any supported file -> a *raw* frame where every cell is text ('' if missing).

Formats: CSV (UTF-8, a BOM and CRLF line ends accepted; the delimiter ``,``, ``;`` or tab
sniffed from the header line, a warning for a tab: the documented ones are ``,`` and
``;``), Parquet, SPSS ``.sav`` and Stata ``.dta`` (pyreadstat). Labelled files are mapped
to the codebook's codes through their value labels: a value whose label matches a
codebook label (French or English, case and spacing ignored) or a missing-code label
becomes that codebook code; a value without a label is kept as it is; a label unknown to
the codebook is reported. Types are parsed later, by :mod:`barometer.scoreboard.validate`,
the same way whatever the format. A directory, an empty file, a header without rows and a
file in another encoding than UTF-8 are each one problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.scoreboard.codebook import Codebook
from barometer.scoreboard.problems import Problems

SURVEY_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".sav", ".dta")
"""File formats accepted for survey microdata, in order of preference."""


def sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


DELIMITERS: tuple[str, ...] = (",", ";", "\t")
"""Delimiters recognised in a CSV header line."""

DOCUMENTED_DELIMITERS: tuple[str, ...] = (",", ";")
"""The documented delimiters: comma, and semicolon (what a French spreadsheet writes)."""

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

MAX_EXACT_INTEGER = 2 ** 53
"""Largest magnitude at which every integer is exact as a float."""


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: whichever of ``,``, ``;`` and tab occurs most
    (outside double quotes); ``,`` on a tie or when none occurs."""
    bare = re.sub(r'"[^"]*"', "", header)
    counts = {d: bare.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _to_text(s: pd.Series) -> pd.Series:
    """A column as text: integers exactly, other numbers as the shortest text that reads
    back as the same float (``22645.6071``, ``inf``, ``1e+300``), dates ISO, NA -> ''."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_bool_dtype(s):
        return s.astype("Int64").astype(str).where(s.notna(), "").astype(str)
    if pd.api.types.is_integer_dtype(s):  # numpy or nullable integers: every digit kept
        return s.astype(str).where(s.notna(), "").astype(str)
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(x) & (np.mod(x, 1) == 0) & (np.abs(x) < MAX_EXACT_INTEGER)
        ints = np.where(whole, x, 0).astype(np.int64).astype(str)
        text = np.where(whole, ints, x.astype(str))
        return pd.Series(np.where(np.isnan(x), "", text), index=s.index, dtype=str)

    def cell(v: object) -> str:
        """One object cell as text."""
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, dt.datetime | dt.date):
            return v.strftime("%Y-%m-%d")
        if isinstance(v, float | np.floating):
            f = float(v)
            return str(int(f)) if f.is_integer() and abs(f) < MAX_EXACT_INTEGER else repr(f)
        if isinstance(v, bytes):
            return v.decode("utf-8", errors="replace")
        return str(v)

    return s.map(cell).astype(str)


def check_path(path: Path, file: str, problems: Problems, hint: str) -> bool:
    """True if ``path`` is a readable, non-empty file; otherwise one problem saying what
    it is (missing, a directory, empty)."""
    p = Path(path)
    if p.is_dir():
        problems.add(file, "", "is a directory, not a file", hint)
        return False
    if not p.exists():
        problems.add(file, "", "missing file", hint)
        return False
    if p.stat().st_size == 0:
        problems.add(file, "", "empty file (0 bytes)", "send the file again with its data")
        return False
    return True


def decode_text(data: bytes, file: str, problems: Problems) -> str | None:
    """The bytes of a text file as a string: UTF-8 (a BOM is accepted). Any other
    encoding is one problem naming the encoding it looks like and the first bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        guess = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else (
            "Windows-1252 / Latin-1 (ISO-8859-1)")
        byte = data[exc.start: exc.start + 1].hex().upper()
        problems.add(file, "", f"not UTF-8 text: it looks like {guess} (byte 0x{byte} on "
                     f"line {line} of the file)",
                     "save the file as UTF-8 (in Excel: Save As > CSV UTF-8); nothing else "
                     "in the file was checked", value=f"0x{byte}")
        return None


def read_csv_text(path: Path, file: str, problems: Problems, *, hint: str = "",
                  require_rows: bool = True) -> pd.DataFrame | None:
    """Read a CSV as text (delimiter sniffed; UTF-8, BOM and CRLF accepted).

    Problems: missing file, directory, empty file, another encoding (one problem), not
    CSV, duplicated column names, no data row (``require_rows``). A delimiter other than
    the documented comma is a warning.
    """
    if not check_path(path, file, problems, hint or f"provide {Path(path).name}"):
        return None
    text = decode_text(Path(path).read_bytes(), file, problems)
    if text is None:
        return None
    header = text.partition("\n")[0].rstrip("\r")
    if not header.strip():
        problems.add(file, "", "no header line (the first line is blank)",
                     "put the column names on the first line")
        return None
    sep = sniff_delimiter(header)
    bare = re.sub(r'"[^"]*"', "", header)
    if not any(d in bare for d in DELIMITERS):
        other = [c for c in "|:^~" if c in bare]
        if other:
            problems.add(file, "", f"delimiter {other[0]!r} not recognised (the header "
                         "line has no comma, semicolon or tab)",
                         "save the file with commas (or semicolons)", value=other[0])
            return None
    if sep not in DOCUMENTED_DELIMITERS:
        problems.add(file, "", f"{DELIMITER_NAMES[sep]}-delimited (the documented "
                     "delimiters are the comma and the semicolon); read as such",
                     "save the file with commas", value=sep, severity="warning")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        problems.add(file, "", f"unreadable CSV: {exc}",
                     "check the quotes and the number of fields on that line")
        return None
    names = [str(c) for c in next(csv.reader([header], delimiter=sep))]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            problems.add(file, n, "duplicated column name", "keep one column of that name",
                         value=n)
        seen.add(n)
    if len(seen) != len(names):
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    if require_rows and frame.empty:
        problems.add(file, "", "no data row (header only)",
                     "send the file with its data rows")
        return None
    return frame.fillna("").reset_index(drop=True)


def _norm(label: str) -> str:
    """A label normalised for matching: case-folded, spaces collapsed."""
    return " ".join(str(label).casefold().split())


def _label_maps(codebook: Codebook, population: str) -> dict[str, dict[str, str]]:
    """For each column of a population: normalised label -> codebook code (as text)."""
    maps: dict[str, dict[str, str]] = {}
    missing = {_norm(o.fr): str(o.code) for o in codebook.missing.values()}
    missing |= {_norm(o.en): str(o.code) for o in codebook.missing.values()}
    for v in codebook.variables_for(population):
        if v.categories:
            maps[v.name] = {_norm(lab): str(o.code) for o in v.categories
                            for lab in (o.fr, o.en, str(o.code))}
    for it in codebook.items_for(population):
        m = {_norm(lab): str(o.code) for o in it.options for lab in (o.fr, o.en)}
        maps[it.id] = missing | m
    return maps


def apply_value_labels(frame: pd.DataFrame, value_labels: dict[str, dict[object, str]],
                       codebook: Codebook, population: str, file: str,
                       problems: Problems) -> pd.DataFrame:
    """Replace labelled values by the codebook codes their labels name (see module doc)."""
    maps = _label_maps(codebook, population)
    out = frame.copy()
    for col, labels in value_labels.items():
        if col not in out or col not in maps or not labels:
            continue
        text = out[col]
        lookup: dict[str, str] = {}
        for value, label in labels.items():
            key = _to_text(pd.Series([value])).iloc[0]
            code = maps[col].get(_norm(label))
            if code is None:
                rows = np.flatnonzero((text == key).to_numpy()) + 1
                problems.add(file, col, f"value label {label!r} not in the codebook",
                             "relabel the value with a codebook label, or recode it",
                             rows=rows, value=value)
                continue
            lookup[key] = code
        out[col] = text.map(lambda v, lk=lookup: lk.get(v, v)).astype(str)
    return out


def read_table(path: Path, codebook: Codebook, population: str, file: str,
               problems: Problems) -> pd.DataFrame | None:
    """Read a survey file of any supported format as a raw text frame (labels mapped).

    Typed columns (Parquet, SPSS, Stata) are turned into text exactly (see ``_to_text``),
    so that every format goes through the same validation.
    """
    suffix = Path(path).suffix.lower()
    hint = f"provide {population}.csv (or .parquet, .sav, .dta)"
    if suffix == ".csv":
        return read_csv_text(path, file, problems, hint=hint)
    if not check_path(path, file, problems, hint):
        return None
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
            labels: dict[str, dict[object, str]] = {}
        else:
            import pyreadstat

            reader = pyreadstat.read_sav if suffix == ".sav" else pyreadstat.read_dta
            kwargs = {"user_missing": True} if suffix == ".sav" else {}
            df, meta = reader(str(path), apply_value_formats=False, **kwargs)
            labels = dict(meta.variable_value_labels)
    except Exception as exc:  # any reader failure is a property of the file
        problems.add(file, "", f"unreadable {suffix} file: {type(exc).__name__}: {exc}",
                     "check the file opens in its own software and is not truncated")
        return None
    if df.empty:
        problems.add(file, "", "no data row (the file has columns but no record)",
                     "send the file with its data rows")
        return None
    text = pd.DataFrame({str(c): _to_text(df[c]) for c in df.columns}).reset_index(drop=True)
    return apply_value_labels(text, labels, codebook, population, file, problems)
