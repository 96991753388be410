"""Synthetic editions of the barometer: populations, margins, samples, counts, truth.

For each year, :func:`synthesize` builds a synthetic population of adults and of companies
(:mod:`barometer.synthetic.population`) standing for the real totals, derives the population
margins from it (so margins and truth are exactly consistent), draws the two samples as
the real surveys behave, makes the administrative counts (:mod:`barometer.synthetic.admin`)
and writes everything the loader reads, plus ``truth.csv``:

* individuals: ≈1,000 adults, telephone quota survey with quotas on region only and a
  response propensity that rises with age, education and *low* internet use, so the
  unweighted sample is biased; calibration on sex × age, PCS, region and urban size
  removes most of the bias but not the part due to education and internet use;
* companies: 600, stratified by size band with disproportionate allocation (large
  companies over-sampled), systematic sampling within strata from the frame sorted by
  sector and region (implicit stratification: every sector and region, even Corsica, is
  very likely to be represented; with another seed an empty cell remains possible and
  the loader then reports it), design weight N_h / n_h on the real scale;
* files: CSV (companies with ``;``), the individuals of :data:`SAV_YEARS` as SPSS ``.sav``
  with value labels; byte-for-byte deterministic for a given seed (each year has its own
  generator ``default_rng([seed, year])``, so one year can be regenerated alone).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.scoreboard.codebook import Codebook, load_codebook
from barometer.scoreboard.indicators import load_catalogue
from barometer.scoreboard.small_area import MODELS as SMALL_AREA_MODELS
from barometer.synthetic.admin import admin_counts, online_share, targets
from barometer.synthetic.population import (
    adults_total,
    apply_missing,
    companies_covariates,
    companies_items,
    companies_total,
    individuals_covariates,
    individuals_items,
    largest_remainder,
    sigmoid,
    truth_table,
)
from barometer.synthetic.regions import admin_regions, census_regions, truth_regions

N_ADULTS = 200_000
N_COMPANIES = 100_000
TARGET_YEARS = range(2014, 2026)
"""Years of ``targets.csv`` (written whole, whichever editions are synthesised)."""
SAV_YEARS: tuple[int, ...] = (2025,)
"""Years whose individuals file is written as SPSS .sav with value labels."""
COMPANY_ALLOCATION = (140, 150, 130, 100, 80)
"""Companies sampled per size band 0, 1-9, 10-49, 50-249, 250+ (600 in all)."""
SAV_STAMP = b"01 Jan 00" + b"00:00:00"
"""Fixed creation date and time written into .sav headers (bytes 92-109)."""

MARGINS = {"individuals": ("sex*age_band", "pcs", "region", "urban_size"),
           "companies": ("size_band*sector", "region")}
SOURCES = {
    "sex*age_band": "synthetic, modelled on INSEE population estimates at 1 January",
    "pcs": "synthetic, modelled on INSEE Labour Force Survey (PCS of the respondent)",
    "region": "synthetic, modelled on INSEE population estimates by region (2014 counts)",
    "urban_size": "synthetic, modelled on INSEE census (urban units, 2010 delineation)",
    "size_band*sector": "synthetic, modelled on INSEE SIRENE / ESANE business registers",
    "total": "synthetic, sum of the population frame",
}


def _service_shares(year: int) -> dict[str, float]:
    """Online share among users of the services linked to a survey item (capped at 0.97:
    some users of an online-only service say they used another channel)."""
    links = {"svc_tax": "income_tax_return", "svc_vehicle": "vehicle_registration",
             "svc_address": "change_of_address", "svc_dpae": "dpae",
             "svc_vat": "company_vat"}
    return {k: min(online_share(v, year), 0.97) for k, v in links.items()}


def _categories(codebook: Codebook, name: str) -> list[str]:
    """Categories of a (possibly crossed) margin in codebook order, e.g. ``F*18-24``."""
    parts = name.split("*")
    cats = [[c] for c in codebook.variable(parts[0]).codes]
    for p in parts[1:]:
        cats = [[*a, c] for a in cats for c in codebook.variable(p).codes]
    return ["*".join(c) for c in cats]


def margins_frame(pop: pd.DataFrame, codebook: Codebook, population: str, year: int,
                  scale: float) -> pd.DataFrame:
    """Long margins (margin, category, count[, employees], source, reference_date) of a
    population frame whose units each stand for ``scale`` real units."""
    total = round(len(pop) * scale)
    emp_total = round(pop["employees"].sum() * scale) if population == "companies" else 0
    rows = [{"margin": "total", "category": "all", "count": total, "employees": emp_total,
             "source": SOURCES["total"]}]
    for name in MARGINS[population]:
        key = pop[name.split("*")[0]].astype(str)
        for p in name.split("*")[1:]:
            key = key + "*" + pop[p].astype(str)
        cats = _categories(codebook, name)
        counts = key.value_counts().reindex(cats, fill_value=0).to_numpy(float)
        cnt = largest_remainder(counts, total)
        emp = np.zeros(len(cats), np.int64)
        if population == "companies":
            e = pop.groupby(key)["employees"].sum().reindex(cats, fill_value=0).to_numpy(float)
            emp = largest_remainder(e, emp_total)
        rows += [{"margin": name, "category": c, "count": int(n), "employees": int(m),
                  "source": SOURCES[name]} for c, n, m in zip(cats, cnt, emp, strict=True)]
    out = pd.DataFrame(rows)
    out["reference_date"] = f"{year}-01-01"
    cols = ["margin", "category", "count", "employees", "source", "reference_date"]
    return out[cols if population == "companies" else [c for c in cols if c != "employees"]]


def _fieldwork(rng: np.random.Generator, year: int, n: int) -> pd.Series:
    """Interview dates spread over the fieldwork window (15 September - 31 October)."""
    start = pd.Timestamp(year, 9, 15)
    return pd.Series(start + pd.to_timedelta(rng.integers(0, 47, n), unit="D"))


def sample_individuals(rng: np.random.Generator, year: int, pop: pd.DataFrame) -> pd.DataFrame:
    """A telephone quota sample of ≈1,000 adults (quotas by region, biased propensity)."""
    n = 1000 + int(rng.integers(-6, 13))
    a_i, e_i, i_i = (pop[c].to_numpy() for c in ("_age", "_edu", "_net"))
    rho = np.exp(np.array([-0.6, -0.35, 0.0, 0.25, 0.45])[a_i]
                 + np.array([-0.25, 0.0, 0.15, 0.3])[e_i]
                 + np.array([-0.5, -0.1, 0.25, 0.45])[i_i])
    regions = pop["region"].to_numpy()
    codes, counts = np.unique(regions, return_counts=True)
    quota = largest_remainder(counts.astype(float), n)
    chosen = []
    for code, q in zip(codes, quota, strict=True):
        idx = np.flatnonzero(regions == code)
        chosen.append(rng.choice(idx, size=int(q), replace=False, p=rho[idx] / rho[idx].sum()))
    take = np.sort(np.concatenate(chosen))
    s = pop.iloc[take].reset_index(drop=True)
    t = year - 2014
    mobile = rng.random(len(s)) < sigmoid(-1.2 + 0.2 * t + np.array(
        [1.0, 0.8, 0.3, -0.3, -1.2])[s["_age"].to_numpy()])
    s["mode"] = np.where(mobile, "mobile", "landline")
    s["interview_date"] = _fieldwork(rng, year, len(s))
    order = np.lexsort((rng.random(len(s)), s["interview_date"].to_numpy()))
    s = s.iloc[order].reset_index(drop=True)
    s["resp_id"] = [f"I{year}-{k:04d}" for k in range(1, len(s) + 1)]
    return s


def sample_companies(rng: np.random.Generator, year: int, pop: pd.DataFrame,
                     scale: float) -> pd.DataFrame:
    """A size-stratified systematic sample of 600 companies (frame sorted by sector and
    region within each size band), with design weights N_h / n_h."""
    size = pop["_size"].to_numpy()
    region = pop["region"].to_numpy()
    sector = pop["_sector"].to_numpy()
    parts, weights = [], []
    for h, n_h in enumerate(COMPANY_ALLOCATION):
        idx = np.flatnonzero(size == h)
        idx = idx[np.lexsort((rng.random(len(idx)), region[idx], sector[idx]))]
        step = len(idx) / n_h
        take = idx[np.floor(rng.random() * step + step * np.arange(n_h)).astype(int)]
        parts.append(np.sort(take))
        weights.append(np.full(len(take), len(idx) * scale / len(take)))
    take = np.concatenate(parts)
    s = pop.iloc[take].reset_index(drop=True)
    s["design_weight"] = np.round(np.concatenate(weights), 4)
    s["mode"] = np.where(rng.random(len(s)) < 0.15 + 0.03 * (year - 2014), "mobile",
                         "landline")
    s["interview_date"] = _fieldwork(rng, year, len(s))
    order = np.lexsort((rng.random(len(s)), s["interview_date"].to_numpy()))
    s = s.iloc[order].reset_index(drop=True)
    s["firm_id"] = [f"E{year}-{k:04d}" for k in range(1, len(s) + 1)]
    return s


def write_sav(frame: pd.DataFrame, path: Path, codebook: Codebook, population: str) -> None:
    """Write a survey frame as SPSS .sav: categories as numbered values with French value
    labels, items with their codes and labels (97-99 user-missing), French variable
    labels; the header's creation time is replaced by :data:`SAV_STAMP`."""
    import pyreadstat

    out = frame.copy()
    value_labels: dict[str, dict[int | float, str]] = {}
    col_labels: dict[str, str | None] = {}
    missing: dict[str, list[int | float | str]] = {}
    for v in codebook.variables_for(population):
        col_labels[v.name] = v.fr
        if v.kind == "category":
            num = {c: k for k, c in enumerate(v.codes, start=1)}
            out[v.name] = out[v.name].map(num).astype(float)
            value_labels[v.name] = {float(k): o.fr for k, o in
                                    enumerate(v.categories, start=1)}
    for it in codebook.items_for(population):
        col_labels[it.id] = it.fr
        value_labels[it.id] = {float(o.code): o.fr for o in
                               (*it.options, *codebook.missing.values())}
        missing[it.id] = [float(c) for c in codebook.missing_codes.values()]
        out[it.id] = out[it.id].astype(float)
    pyreadstat.write_sav(out, str(path), column_labels=col_labels, row_compress=True,
                         variable_value_labels=value_labels, missing_ranges=missing,
                         file_label=f"barometre {population}")
    data = bytearray(path.read_bytes())
    data[92:92 + len(SAV_STAMP)] = SAV_STAMP
    path.write_bytes(bytes(data))


def _write_csv(frame: pd.DataFrame, path: Path, sep: str = ",",
               float_format: str | None = None) -> None:
    """Write a CSV deterministically (UTF-8, ``\\n`` line ends, ISO dates)."""
    frame.to_csv(path, index=False, sep=sep, lineterminator="\n", float_format=float_format,
                 date_format="%Y-%m-%d", encoding="utf-8")


def synthesize_year(out: Path, year: int, seed: int, codebook: Codebook,
                    services: pd.DataFrame, n_adults: int = N_ADULTS,
                    n_companies: int = N_COMPANIES) -> list[Path]:
    """Build and write one edition into ``out/<year>/``; return the files written."""
    rng = np.random.default_rng([seed, year])
    shares = _service_shares(year)
    ind = individuals_covariates(rng, year, n_adults)
    ind = apply_missing(rng, ind, individuals_items(rng, year, ind, shares), codebook,
                        "individuals", older=(ind["_age"].to_numpy() == 4).astype(float))
    comp = companies_covariates(rng, year, n_companies)
    comp = apply_missing(rng, comp, companies_items(rng, year, comp, shares), codebook,
                         "companies", older=(comp["_size"].to_numpy() == 0).astype(float))
    w_ind = adults_total(year) / n_adults
    w_comp = companies_total(year) / n_companies
    truth = pd.concat([
        truth_table(ind, codebook, "individuals", {"persons": np.full(n_adults, w_ind)},
                    codebook.domain_variables("individuals")),
        truth_table(comp, codebook, "companies",
                    {"companies": np.full(n_companies, w_comp),
                     "employees": comp["employees"].to_numpy(float) * w_comp},
                    [*codebook.domain_variables("companies"), "size_10plus"]),
    ], ignore_index=True)
    volumes = {
        "income_tax_return": adults_total(year) * 0.73,
        "vehicle_registration": w_ind * float((ind["svc_vehicle"] != 3).sum()),
        "change_of_address": w_ind * float((ind["svc_address"] != 3).sum()),
    }
    admin = admin_counts(rng, year, services, volumes)
    s_ind = sample_individuals(rng, year, ind)
    s_comp = sample_companies(rng, year, comp, w_comp)

    folder = out / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("individuals.*"):
        stale.unlink()
    written = []
    ind_cols = codebook.columns("individuals")
    if year in SAV_YEARS:
        path = folder / "individuals.sav"
        write_sav(s_ind[ind_cols], path, codebook, "individuals")
    else:
        path = folder / "individuals.csv"
        _write_csv(s_ind[ind_cols], path)
    written.append(path)
    path = folder / "companies.csv"
    _write_csv(s_comp[codebook.columns("companies")], path, sep=";", float_format="%.4f")
    written.append(path)
    for pop, frame, scale in (("individuals", ind, w_ind), ("companies", comp, w_comp)):
        path = folder / f"margins_{pop}.csv"
        _write_csv(margins_frame(frame, codebook, pop, year, scale), path)
        written.append(path)
    path = folder / "admin_counts.csv"
    _write_csv(admin, path)
    written.append(path)
    path = folder / "truth.csv"
    _write_csv(truth, path, float_format="%.6f")
    written.append(path)
    catalogue = load_catalogue()
    regional = [catalogue.get(i) for i in SMALL_AREA_MODELS]
    for name, table in (("census_regions", census_regions(ind, comp, year, w_ind, w_comp)),
                        ("admin_regions", admin_regions(ind, comp, admin, year)),
                        ("truth_regions", truth_regions(ind, comp, year, regional))):
        path = folder / f"{name}.csv"
        _write_csv(table, path, float_format="%.6f")
        written.append(path)
    return written


def synthesize(out: Path, years: Iterable[int] = range(2014, 2026), seed: int = 20161,
               *, n_adults: int = N_ADULTS, n_companies: int = N_COMPANIES) -> list[Path]:
    """Write synthetic editions for ``years`` into ``out`` (a data folder the loader
    reads: ``services.csv``, ``targets.csv`` plus one folder per year); return the paths
    written.

    Same ``seed`` -> the same bytes; each year depends only on (seed, year).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codebook = load_codebook()
    src = Path(__file__).parent.parent / "data" / "editions" / "services.csv"
    services = pd.read_csv(src, dtype=str, keep_default_na=False)
    written = []
    target = out / "services.csv"
    if not (target.exists() and target.resolve() == src.resolve()):
        shutil.copyfile(src, target)
    written.append(target)
    path = out / "targets.csv"  # every year of the catalogue, whatever ``years`` is
    _write_csv(targets(services, TARGET_YEARS), path)
    written.append(path)
    for year in years:
        written += synthesize_year(out, int(year), seed, codebook, services, n_adults,
                                   n_companies)
    return written


def parse_years(text: str) -> list[int]:
    """Years from ``"2014-2025"``, ``"2016,2020"`` or ``"2025"`` (ranges inclusive)."""
    years: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = (int(x) for x in part.split("-", 1))
            years.extend(range(lo, hi + 1))
        elif part:
            years.append(int(part))
    return years
