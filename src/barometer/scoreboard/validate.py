"""Validation of an edition's inputs against the codebook, collecting every problem.

Each ``validate_*`` function takes a *raw* frame (every cell as text, blank for missing,
as produced by :mod:`barometer.scoreboard.readers`), adds what is wrong to a :class:`Problems`
collector and returns the typed frame (category codes as ``str``, items and integers as
``int64``, numbers as ``float64``, dates as ``datetime64``). Nothing stops at the first
failure; the loader raises one :class:`InputError` at the end.

Checks: missing file or column, blank cell, wrong type, unknown code, duplicated id,
out-of-range value, inconsistent age/age band and employees/size band, filter violations
(answered although filtered out, "not asked" although eligible), bad dates, margin
categories absent from the data or from the codebook and data categories absent from the
margins, margins that do not sum to the population total, non-positive counts and design
weights, and for administrative counts: negative or non-integer counts, duplicated
service × year × channel rows, unknown services or channels, wrong year; a catalogue
service with no count for the year is a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from barometer.scoreboard.codebook import Codebook, Variable
from barometer.scoreboard.problems import InputError, Problem, Problems

__all__ = [
    "ADMIN_COLUMNS",
    "AGE_BOUNDS",
    "CHANNELS",
    "MARGIN_COLUMNS",
    "MAX_NUMBER",
    "SERVICE_COLUMNS",
    "SERVICE_OPTIONAL",
    "SIZE_BOUNDS",
    "InputError",
    "Problem",
    "Problems",
    "in_scope",
    "validate_admin",
    "validate_margins",
    "validate_services",
    "validate_survey",
]

CHANNELS: tuple[str, ...] = ("online", "mail", "counter", "phone")
"""Channels of the administrative counts (EDI counts as online)."""

ADMIN_COLUMNS: tuple[str, ...] = (
    "service_id", "year", "channel", "count", "supplier", "counting_unit",
    "online_definition", "coverage", "date_received", "revised")
"""Columns of ``admin_counts.csv``."""

SERVICE_COLUMNS: tuple[str, ...] = (
    "service_id", "label_fr", "label_en", "ministry", "audience", "target_2016",
    "survey_item", "first_year")
"""Required columns of the service catalogue ``services.csv``."""

SERVICE_OPTIONAL: tuple[str, ...] = ("last_year",)
"""Optional columns of ``services.csv`` (``last_year`` blank or absent: still running)."""

MARGIN_COLUMNS: dict[str, tuple[str, ...]] = {
    "individuals": ("margin", "category", "count", "source", "reference_date"),
    "companies": ("margin", "category", "count", "employees", "source", "reference_date"),
}
"""Columns of ``margins_<population>.csv``."""

TOTAL_MARGIN = "total"
"""The margin row holding the population total (its category is ``all``)."""

AGE_BOUNDS: dict[str, tuple[int, int]] = {
    "18-24": (18, 24), "25-34": (25, 34), "35-49": (35, 49), "50-64": (50, 64),
    "65+": (65, 110)}
"""Ages allowed in each age band."""

SIZE_BOUNDS: dict[str, tuple[int, int]] = {
    "0": (0, 0), "1-9": (1, 9), "10-49": (10, 49), "50-249": (50, 249),
    "250+": (250, 500_000)}
"""Employees allowed in each size band."""

MAX_NUMBER = 1e12
"""Largest magnitude accepted for any number of an input file (a weight, a count, a
population total): larger or non-finite values are refused at validation."""


def _blank(s: pd.Series) -> np.ndarray:
    """True where a text cell is empty or only spaces."""
    return (s.astype(str).str.strip() == "").to_numpy()


def _require(raw: pd.DataFrame, columns: list[str] | tuple[str, ...], file: str,
             problems: Problems, what: str) -> list[str]:
    """Report missing columns; return those present."""
    present = []
    for c in columns:
        if c in raw.columns:
            present.append(c)
        else:
            problems.add(file, c, f"missing column ({what})",
                         f"add the column {c!r} (see the codebook / input formats)")
    return present


def _parse_numbers(text: pd.Series) -> pd.Series:
    """Text to float64 (NaN where not a number), never raising: ``inf``, ``nan`` and
    20-digit numbers are parsed as floats, for the checks to refuse them."""
    return pd.to_numeric(text, errors="coerce").astype(float)


def _too_big(num: pd.Series) -> np.ndarray:
    """True where a parsed number is infinite or larger in magnitude than MAX_NUMBER."""
    x = num.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(x) & ~(np.abs(x) <= MAX_NUMBER)


def _integers(raw: pd.Series, file: str, column: str, problems: Problems,
              *, allow_blank: bool = False) -> pd.Series:
    """Parse integers; report blanks, non-integers and numbers too large to be real
    (above MAX_NUMBER or infinite). Bad cells become NA (Int64)."""
    text = raw.astype(str).str.strip()
    num = _parse_numbers(text)
    blank = (text == "").to_numpy()
    if not allow_blank:
        problems.add_mask(file, column, raw, blank, "blank cell",
                          "fill the cell with a valid code or value")
    huge = _too_big(num)
    problems.add_mask(file, column, raw, huge,
                      f"number too large or not finite (limit {MAX_NUMBER:.0e})",
                      "check the value: a data-entry or export error?")
    with np.errstate(invalid="ignore"):
        frac = (num.notna().to_numpy() & ~huge & ((num.fillna(0) % 1) != 0).to_numpy())
    bad = (~blank & num.isna().to_numpy()) | frac
    problems.add_mask(file, column, raw, bad, "wrong type: not an integer",
                      "write a whole number (no text, no decimals)")
    num = num.where(~pd.Series(bad | huge, index=num.index))
    return num.round().astype("Int64")


def _numbers(raw: pd.Series, file: str, column: str, problems: Problems) -> pd.Series:
    """Parse real numbers; report blanks and text."""
    text = raw.astype(str).str.strip()
    num = _parse_numbers(text)
    blank = (text == "").to_numpy()
    problems.add_mask(file, column, raw, blank, "blank cell", "fill the cell with a number")
    problems.add_mask(file, column, raw, ~blank & num.isna().to_numpy(),
                      "wrong type: not a number", "write a number with a decimal point")
    huge = _too_big(num)
    problems.add_mask(file, column, raw, huge,
                      f"number too large or not finite (limit {MAX_NUMBER:.0e})",
                      "check the value: a data-entry or export error?")
    return num.where(~pd.Series(huge, index=num.index))


def _dates(raw: pd.Series, file: str, column: str, problems: Problems,
           lo: pd.Timestamp | None = None, hi: pd.Timestamp | None = None) -> pd.Series:
    """Parse ISO dates (YYYY-MM-DD); report unparsable ones and dates outside [lo, hi]."""
    text = raw.astype(str).str.strip()
    d = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    problems.add_mask(file, column, raw, d.isna().to_numpy(), "bad date",
                      "write the date as YYYY-MM-DD")
    if lo is not None and hi is not None:
        out = (d.notna() & ((d < lo) | (d > hi))).to_numpy()
        problems.add_mask(file, column, raw, out,
                          f"date out of range (expected {lo.date()} to {hi.date()})",
                          "check the date or the edition year of the file")
    return d


def _categories(raw: pd.Series, var: Variable, file: str, problems: Problems) -> pd.Series:
    """Check category codes against the codebook; report blanks and unknown codes."""
    text = raw.astype(str).str.strip()
    blank = (text == "").to_numpy()
    if var.role == "calibration":
        hint = "calibration variables must be complete: impute the value or drop the unit"
        problems.add_mask(file, var.name, raw, blank,
                          "missing value in a calibration variable", hint)
    else:
        problems.add_mask(file, var.name, raw, blank, "blank cell",
                          f"use one of {', '.join(var.codes)}")
    unknown = ~blank & ~text.isin(var.codes).to_numpy()
    problems.add_mask(file, var.name, raw, unknown, "unknown code (not in the codebook)",
                      f"use one of {', '.join(var.codes)}")
    return text


def validate_survey(raw: pd.DataFrame, codebook: Codebook, population: str, file: str,
                    year: int, problems: Problems) -> pd.DataFrame:
    """Validate a raw survey frame of ``population`` and return it typed.

    Columns are those of the codebook in ``year`` (items asked that year: ``first_year``
    <= year <= ``last_year``). Extra columns are kept, with a warning; a column of an item
    not asked in ``year`` is dropped, with a warning. Dates must fall between 1 January
    of ``year`` and 31 March of the next year (fieldwork).
    """
    out: dict[str, pd.Series] = {}
    variables = codebook.variables_for(population)
    items = codebook.items_for(population, year)
    expected = codebook.columns(population, year)
    if raw.empty:
        problems.add(file, "", "no data row", "send the file with its data rows")
        return pd.DataFrame(columns=expected)
    present = set(_require(raw, expected, file, problems,
                           f"required in the {population} survey of {year}"))
    other_years = {i.id: i for i in codebook.items_for(population)}
    for extra in [c for c in raw.columns if c not in expected]:
        if extra in other_years:
            it = other_years[extra]
            problems.add(file, extra, f"item not asked in {year} (asked {it.years_text()}); "
                         "column ignored", "remove the column, or widen the item's "
                         "first_year/last_year in the codebook", severity="warning")
            continue
        problems.add(file, extra, "column not in the codebook (kept, not used)",
                     "remove it or add it to the codebook", severity="warning")
        out[extra] = raw[extra]
    for var in variables:
        if var.name not in present:
            continue
        col = raw[var.name]
        if var.kind == "id":
            text = col.astype(str).str.strip()
            problems.add_mask(file, var.name, col, _blank(col), "blank identifier",
                              "give every unit an identifier")
            dup = text.duplicated(keep="first").to_numpy() & (text != "").to_numpy()
            problems.add_mask(file, var.name, col, dup, "duplicated identifier",
                              "keep one record per unit (remove or renumber duplicates)")
            out[var.name] = text
        elif var.kind == "category":
            out[var.name] = _categories(col, var, file, problems)
        elif var.kind == "integer":
            num = _integers(col, file, var.name, problems)
            lo = -np.inf if var.min is None else var.min
            hi = np.inf if var.max is None else var.max
            bad = (num.notna() & ((num < lo) | (num > hi))).to_numpy(dtype=bool,
                                                                     na_value=False)
            problems.add_mask(file, var.name, col, bad,
                              f"out of range (allowed {var.min} to {var.max})",
                              "check the value (data-entry error?)")
            out[var.name] = num
        elif var.kind == "number":
            num = _numbers(col, file, var.name, problems)
            if var.min_exclusive is not None:
                problems.add_mask(file, var.name, col, (num <= var.min_exclusive).to_numpy(),
                                  f"must be greater than {var.min_exclusive:g}",
                                  "a design weight is 1 / selection probability: > 0")
            out[var.name] = num
        else:  # date
            out[var.name] = _dates(col, file, var.name, problems,
                                   pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 3, 31))
    for item in items:
        if item.id not in present:
            continue
        col = raw[item.id]
        num = _integers(col, file, item.id, problems)
        valid = codebook.valid_codes(item)
        unknown = (num.notna() & ~num.isin(valid)).to_numpy(dtype=bool, na_value=False)
        problems.add_mask(file, item.id, col, unknown, "unknown code (not in the codebook)",
                          f"use one of {', '.join(str(c) for c in valid)}")
        out[item.id] = num
    typed = pd.DataFrame(out, index=raw.index)
    _check_consistency(typed, raw, codebook, population, file, year, problems)
    return _finalise(typed, codebook, population, year)


def _check_consistency(typed: pd.DataFrame, raw: pd.DataFrame, codebook: Codebook,
                       population: str, file: str, year: int, problems: Problems) -> None:
    """Cross-column checks: age vs band, employees vs size band, item filters."""
    pairs = (("age", "age_band", AGE_BOUNDS), ("employees", "size_band", SIZE_BOUNDS))
    for num_col, band_col, bounds in pairs:
        if num_col in typed and band_col in typed:
            band = typed[band_col]
            lo = band.map({k: v[0] for k, v in bounds.items()}).astype(float)
            hi = band.map({k: v[1] for k, v in bounds.items()}).astype(float)
            x = typed[num_col].astype("Float64")
            bad = (x.notna() & lo.notna() & ((x < lo) | (x > hi))).to_numpy(
                dtype=bool, na_value=False)
            problems.add_mask(file, num_col, raw[num_col], bad,
                              f"inconsistent with {band_col}",
                              f"{num_col} must fall within the {band_col} of the same row")
    not_asked = codebook.missing_codes["not_asked"]
    for item in codebook.items_for(population, year):
        f = item.filter
        if f is None or item.id not in typed:
            continue
        if f.name not in typed:
            continue
        try:
            eligible = codebook.eligible(typed, population, item.id)
        except KeyError:  # an ancestor of the filter is missing: reported already
            continue
        code = typed[item.id]
        known = code.notna().to_numpy()
        is_na = (code == not_asked).to_numpy(dtype=bool, na_value=False)
        problems.add_mask(file, item.id, raw[item.id], known & ~eligible & ~is_na,
                          "answered although outside the item's filter",
                          f"code {not_asked} (not asked) for units outside the filter "
                          f"({f.name} in {list(f.codes)})")
        problems.add_mask(file, item.id, raw[item.id], known & eligible & is_na,
                          "coded 'not asked' although the unit is inside the filter",
                          "code the answer, or 98 (don't know) / 99 (refused)")


def _finalise(typed: pd.DataFrame, codebook: Codebook, population: str, year: int
              ) -> pd.DataFrame:
    """Put codebook columns first and use plain numpy dtypes where no value is missing."""
    expected = codebook.columns(population, year)
    cols = [c for c in expected if c in typed] + [c for c in typed.columns
                                                  if c not in expected]
    typed = typed[cols].copy()
    for c in typed.columns:
        if str(typed[c].dtype) == "Int64" and not typed[c].isna().any():
            typed[c] = typed[c].astype("int64")
    return typed.reset_index(drop=True)


def validate_margins(raw: pd.DataFrame, codebook: Codebook, population: str, file: str,
                     data: pd.DataFrame | None, data_file: str, problems: Problems
                     ) -> pd.DataFrame:
    """Validate a raw margins frame (long format) and return it typed.

    One row per margin × category; a crossed margin is named ``a*b`` and its categories
    ``x*y`` (same order). The row ``total`` / ``all`` gives the population total; every
    margin must sum to it (companies: for ``count`` and for ``employees``). Categories are
    checked against the codebook, against ``data`` (the survey frame, both ways: no margin
    category without respondents, no respondent category without a margin) and every
    calibration variable must have a margin.
    """
    columns = MARGIN_COLUMNS[population]
    present = set(_require(raw, columns, file, problems, "margins file"))
    if not {"margin", "category", "count"} <= present:
        return pd.DataFrame(columns=list(columns))
    margin = raw["margin"].astype(str).str.strip()
    category = raw["category"].astype(str).str.strip()
    count = _numbers(raw["count"], file, "count", problems)
    problems.add_mask(file, "count", raw["count"], (count <= 0).to_numpy(),
                      "non-positive population count",
                      "a margin count must be > 0 (collapse empty categories)")
    typed = pd.DataFrame({"margin": margin, "category": category, "count": count})
    measures = ["count"]
    if "employees" in present:
        emp = _numbers(raw["employees"], file, "employees", problems)
        problems.add_mask(file, "employees", raw["employees"], (emp < 0).to_numpy(),
                          "negative employee count", "employee counts must be >= 0")
        typed["employees"] = emp
        measures.append("employees")
    for c in ("source", "reference_date"):
        if c in present:
            problems.add_mask(file, c, raw[c], _blank(raw[c]), "blank cell",
                              "state the source and reference date of every margin")
    typed["source"] = raw["source"].astype(str) if "source" in present else ""
    if "reference_date" in present:
        typed["reference_date"] = _dates(raw["reference_date"], file, "reference_date",
                                         problems)
    dup = typed.duplicated(["margin", "category"]).to_numpy()
    problems.add_mask(file, "category", raw["category"], dup,
                      "duplicated margin × category row", "keep one row per category")
    is_total = (margin == TOTAL_MARGIN).to_numpy()
    if not is_total.any():
        problems.add(file, "margin", "no population total row",
                     f"add a row margin={TOTAL_MARGIN!r}, category='all'")
    cal_vars = codebook.calibration_variables(population)
    covered: set[str] = set()
    known = {v.name for v in codebook.variables_for(population) if v.kind == "category"}
    for name in dict.fromkeys(margin[~is_total]):
        rows = np.flatnonzero((margin == name).to_numpy())
        parts = name.split("*")
        bad_vars = [p for p in parts if p not in known]
        if bad_vars:
            problems.add(file, "margin", "margin on an unknown variable",
                         f"use category variables of the codebook: {', '.join(sorted(known))}",
                         rows=rows + 1, value=name)
            continue
        covered.update(parts)
        _check_one_margin(typed, raw, rows, name, parts, codebook, file, data, data_file,
                          problems)
        if is_total.any():
            for m in measures:
                total = float(typed.loc[is_total, m].iloc[0])
                s = float(typed[m].iloc[rows].sum())
                if np.isfinite(total) and abs(s - total) > 1e-6 * max(1.0, abs(total)):
                    problems.add(file, m, f"margin {name!r} sums to {s:,.0f}, not to the "
                                 f"population total {total:,.0f}",
                                 "make every margin add up to the total row",
                                 rows=rows + 1, value=name)
    for v in cal_vars:
        if v not in covered:
            problems.add(file, "margin", f"missing margin for calibration variable {v!r}",
                         f"add the rows of margin {v!r} (or a crossed margin containing it)",
                         value=v)
    return typed


def _check_one_margin(typed: pd.DataFrame, raw: pd.DataFrame, rows: np.ndarray, name: str,
                      parts: list[str], codebook: Codebook, file: str,
                      data: pd.DataFrame | None, data_file: str, problems: Problems) -> None:
    """Categories of one margin against the codebook and the survey data (both ways)."""
    cats = typed["category"].iloc[rows]
    split = cats.str.split("*")
    wrong_arity = (split.str.len() != len(parts)).to_numpy()
    problems.add_mask(file, "category", raw["category"].iloc[rows], wrong_arity,
                      f"category of crossed margin {name!r} needs {len(parts)} parts "
                      "joined by '*'", "write e.g. 'F*18-24' for margin 'sex*age_band'")
    valid = pd.Series(True, index=cats.index)
    for j, p in enumerate(parts):
        part = split.str[j].fillna("")
        ok = part.isin(codebook.variable(p).codes)
        valid &= ok
    problems.add_mask(file, "category", raw["category"].iloc[rows],
                      (~valid).to_numpy() & ~wrong_arity,
                      f"unknown category of margin {name!r} (not in the codebook)",
                      "use the codebook's category codes")
    if data is None or any(p not in data for p in parts):
        return
    if any(data[p].isna().any() for p in parts):
        return
    observed = data[parts[0]].astype(str)
    coded = data[parts[0]].isin(codebook.variable(parts[0]).codes)
    for p in parts[1:]:
        observed = observed + "*" + data[p].astype(str)
        coded &= data[p].isin(codebook.variable(p).codes)
    in_data = set(observed[coded])  # unknown codes are reported by the survey checks
    in_margin = set(cats)
    absent = (~cats.isin(in_data)).to_numpy() & valid.to_numpy()
    problems.add_mask(file, "category", raw["category"].iloc[rows], absent,
                      f"margin category with no respondent in {data_file}",
                      "collapse this category with a neighbour in the margins and data")
    for value in sorted(in_data - in_margin):
        where = np.flatnonzero((observed == value).to_numpy()) + 1
        problems.add(data_file, name, f"category absent from margin {name!r} of {file}",
                     "add the category to the margins or recode the data",
                     rows=where, value=value)


def in_scope(services: pd.DataFrame, year: int) -> np.ndarray:
    """Services of the catalogue in scope for ``year``: ``first_year <= year`` and, when
    ``last_year`` is given, ``year <= last_year``."""
    first = pd.to_numeric(services.get("first_year"), errors="coerce")
    ok = (first.fillna(9999) <= year).to_numpy(dtype=bool)
    if "last_year" in services:
        last = pd.to_numeric(services["last_year"], errors="coerce")
        ok &= (last.isna() | (last >= year)).to_numpy(dtype=bool)
    return ok


def validate_services(raw: pd.DataFrame, codebook: Codebook, file: str,
                      problems: Problems) -> pd.DataFrame:
    """Validate the service catalogue and return it typed (``target_2016`` float,
    ``first_year`` int, ``last_year`` Int64 (NA: still running; the column is optional),
    ``survey_item`` blank when no survey item is linked).

    Every descriptive column must be filled (a service without a ministry would be
    published under a blank heading)."""
    present = set(_require(raw, SERVICE_COLUMNS, file, problems, "service catalogue"))
    if "service_id" not in present:
        return pd.DataFrame(columns=list(SERVICE_COLUMNS))
    optional = [c for c in SERVICE_OPTIONAL if c in raw.columns]
    out = raw[[c for c in SERVICE_COLUMNS if c in present] + optional].copy()
    sid = out["service_id"].astype(str).str.strip()
    problems.add_mask(file, "service_id", raw["service_id"],
                      (sid.duplicated() & (sid != "")).to_numpy(),
                      "duplicated service", "keep one row per service")
    for c in ("service_id", "label_fr", "label_en", "ministry"):
        if c in present:
            problems.add_mask(file, c, raw[c], _blank(raw[c]), "blank cell",
                              "fill every service's identifier, labels and ministry")
            out[c] = raw[c].astype(str).str.strip()
    if "audience" in present:
        bad = ~out["audience"].isin(["individuals", "companies"]).to_numpy()
        problems.add_mask(file, "audience", raw["audience"], bad, "unknown audience",
                          "use 'individuals' or 'companies'")
    if "target_2016" in present:
        t = _numbers(raw["target_2016"], file, "target_2016", problems)
        problems.add_mask(file, "target_2016", raw["target_2016"],
                          ((t < 0) | (t > 1)).to_numpy(), "target share out of range",
                          "write the target online share between 0 and 1")
        out["target_2016"] = t
    if "first_year" in present:
        out["first_year"] = _integers(raw["first_year"], file, "first_year", problems)
    if "last_year" in raw.columns:
        last = _integers(raw["last_year"], file, "last_year", problems, allow_blank=True)
        if "first_year" in present:
            before = (last.notna() & out["first_year"].notna()
                      & (last < out["first_year"])).to_numpy(dtype=bool, na_value=False)
            problems.add_mask(file, "last_year", raw["last_year"], before,
                              "last_year before first_year",
                              "leave last_year blank for a running service, or give the "
                              "last year it has administrative counts")
        out["last_year"] = last
    else:
        out["last_year"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    if {"survey_item", "audience"} <= present:
        for i in np.flatnonzero(_blank(raw["survey_item"]) == 0):
            item, aud = str(out["survey_item"].iloc[i]), str(out["audience"].iloc[i])
            if aud in ("individuals", "companies") and item not in {
                    it.id for it in codebook.items_for(aud)}:
                problems.add(file, "survey_item", f"no such item for {aud} in the codebook",
                             "name an item of the codebook or leave blank",
                             rows=[i + 1], value=item)
    out["service_id"] = sid
    return out.reset_index(drop=True)


def validate_admin(raw: pd.DataFrame, services: pd.DataFrame | None, year: int, file: str,
                   problems: Problems) -> pd.DataFrame:
    """Validate administrative counts (one row per service × year × channel), typed.

    Services of the catalogue in scope for ``year`` (see :func:`in_scope`) with no row
    are reported as warnings (a late supplier), not errors; a service out of scope (not
    yet started, or ended) has no row to give. ``services=None`` means the catalogue could
    not be read (its problem is reported already): service ids are then not checked.
    """
    present = set(_require(raw, ADMIN_COLUMNS, file, problems, "administrative counts"))
    out = raw[[c for c in ADMIN_COLUMNS if c in present]].copy()
    for c in ("service_id", "channel"):
        if c in present:
            out[c] = raw[c].astype(str).str.strip()
    for c in ("supplier", "counting_unit", "online_definition", "coverage"):
        if c in present:
            problems.add_mask(file, c, raw[c], _blank(raw[c]), "blank cell",
                              "state the supplier, counting unit, what counts as online "
                              "and the coverage for every count")
    if services is not None and "service_id" in present and "service_id" in services:
        known = set(services["service_id"])
        sid = raw["service_id"].astype(str).str.strip()
        problems.add_mask(file, "service_id", raw["service_id"], ~sid.isin(known).to_numpy(),
                          "unknown service (not in the catalogue)",
                          "use a service_id of services.csv or add it to the catalogue")
        scope = set(services.loc[in_scope(services, year), "service_id"])
        out_of_scope = sid.isin(known).to_numpy() & ~sid.isin(scope).to_numpy()
        problems.add_mask(file, "service_id", raw["service_id"], out_of_scope,
                          f"service not in scope in {year} (see its first_year and "
                          "last_year in services.csv)",
                          "remove the rows, or change first_year/last_year in services.csv")
    if "channel" in present:
        problems.add_mask(file, "channel", raw["channel"],
                          ~out["channel"].isin(CHANNELS).to_numpy(), "unknown channel",
                          f"use one of {', '.join(CHANNELS)}")
    if "year" in present:
        yr = _integers(raw["year"], file, "year", problems)
        problems.add_mask(file, "year", raw["year"],
                          (yr.notna() & (yr != year)).to_numpy(dtype=bool, na_value=False),
                          f"year out of range (this edition is {year})",
                          "move the row to the file of its own edition")
        out["year"] = yr
    if "count" in present:
        cnt = _integers(raw["count"], file, "count", problems)
        problems.add_mask(file, "count", raw["count"],
                          (cnt < 0).to_numpy(dtype=bool, na_value=False), "negative count",
                          "counts are numbers of requests, files or payments: >= 0")
        out["count"] = cnt
    if "revised" in present:
        problems.add_mask(file, "revised", raw["revised"],
                          ~raw["revised"].isin(["0", "1"]).to_numpy(),
                          "unknown code", "use 1 for a revised count, 0 otherwise")
        out["revised"] = raw["revised"] == "1"
    if "date_received" in present:
        out["date_received"] = _dates(raw["date_received"], file, "date_received", problems)
    # a year's counts may come in several vintages (date_received): one row per vintage
    key = [c for c in ("service_id", "year", "channel", "date_received") if c in present]
    if len(key) >= 3 and "date_received" not in key[:3]:
        cols = ["service_id", "channel"] + (["date_received"] if len(key) == 4 else [])
        dup = out[cols].assign(year=raw["year"]).duplicated().to_numpy()
        problems.add_mask(file, "service_id", raw["service_id"], dup,
                          "duplicated service × year × channel row (same date received)",
                          "keep one count per service, year, channel and vintage "
                          "(date_received)")
    if services is not None and {"service_id", "first_year"} <= set(services.columns) \
            and "service_id" in present:
        scope = services.loc[in_scope(services, year), "service_id"]
        for sid in scope[~scope.isin(set(out["service_id"]))]:
            problems.add(file, "service_id", f"no administrative count for {year}",
                         "chase the supplier; the service is left out of this edition's "
                         "table and listed in the methodology note", value=sid,
                         severity="warning")
    return out.reset_index(drop=True)


def raise_if_errors(problems: Problems, context: str = "") -> None:
    """Raise :class:`InputError` with every problem (errors and warnings) if any error."""
    if problems.errors:
        raise InputError(problems.items, context=context)
