"""Readers: any supported file -> a *raw* frame where every cell is text ('' if missing).

Formats: CSV (UTF-8, ``;`` or ``,`` sniffed from the header line), Parquet, SPSS ``.sav``
and Stata ``.dta`` (pyreadstat). Labelled files are mapped to the codebook's codes through
their value labels: a value whose label matches a codebook label (French or English, case
and spacing ignored) or a missing-code label becomes that codebook code; a value without a
label is kept as it is; a label unknown to the codebook is reported. Types are parsed
later, by :mod:`barometer.scoreboard.validate`, the same way whatever the format.
"""

from __future__ import annotations

import datetime as dt
import hashlib
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


def sniff_delimiter(header: str) -> str:
    """``;`` if the header line has more semicolons than commas, else ``,``."""
    return ";" if header.count(";") > header.count(",") else ","


def _to_text(s: pd.Series) -> pd.Series:
    """A column as text: integer-valued numbers without decimals, dates ISO, NA -> ''."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_bool_dtype(s):
        return s.astype(int).astype(str)
    if pd.api.types.is_numeric_dtype(s):
        x = s.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(x) & (np.mod(x, 1) == 0)
        text = np.where(whole, np.char.mod("%d", np.where(whole, x, 0).astype(np.int64)),
                        np.char.mod("%r", x))
        return pd.Series(np.where(np.isnan(x), "", text), index=s.index, dtype=str)

    def cell(v: object) -> str:
        """One object cell as text."""
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return ""
        if isinstance(v, dt.datetime | dt.date):
            return v.strftime("%Y-%m-%d")
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return s.map(cell).astype(str)


def read_csv_text(path: Path, file: str, problems: Problems) -> pd.DataFrame | None:
    """Read a UTF-8 CSV as text, delimiter sniffed; report unreadable files."""
    try:
        with Path(path).open(encoding="utf-8-sig") as fh:
            header = fh.readline()
        return pd.read_csv(path, sep=sniff_delimiter(header), dtype=str,
                           keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.add(file, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                     "save the file as UTF-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        problems.add(file, "", f"unreadable CSV: {exc}", "check the file is a valid CSV")
    return None


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
    """Read a survey file of any supported format as a raw text frame (labels mapped)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return read_csv_text(path, file, problems)
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
            return pd.DataFrame({c: _to_text(df[c]) for c in df.columns})
        import pyreadstat

        reader = pyreadstat.read_sav if suffix == ".sav" else pyreadstat.read_dta
        kwargs = {"user_missing": True} if suffix == ".sav" else {}
        df, meta = reader(str(path), apply_value_formats=False, **kwargs)
    except Exception as exc:
        problems.add(file, "", f"unreadable {suffix} file: {exc}",
                     "check the file opens in its own software")
        return None
    text = pd.DataFrame({c: _to_text(df[c]) for c in df.columns})
    return apply_value_labels(text, dict(meta.variable_value_labels), codebook, population,
                              file, problems)
