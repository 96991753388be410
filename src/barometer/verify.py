"""Conformance: run reference cases computed with R's ``survey`` through the public API.

The case format is the neutral JSON of ``shared/reference/r-survey`` (see its README): a
data file, a design, an optional replicate conversion, an optional calibration, an estimator
and an interval rule, and the ``expected`` numbers R printed. Every key present in
``expected`` is compared (every domain for ``by`` cases, every term for ``glm`` cases) by
relative error ``|ours - R| / max(|R|, tiny)``; a case passes when the largest is below
the tolerance. A case that cannot be run is a FAIL with the reason, never a crash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from barometer.survey.design import Design

TOLERANCE = 1e-6
# the shipped case files run by default (data/reference/README.md)
SHIPPED = ("core.json", "parity.json", "extra.json", "parity-estimators.json",
           "parity-extra.json")
# the R and survey versions that computed each shipped file (data/reference/README.md)
SHIPPED_VERSIONS = {
    "core.json": "R 4.2, survey 4.1 (survey 4.5 reproduces them to 1e-14)",
    "parity.json": "R 4.2.2, survey 4.5",
    "extra.json": "R 4.2.2, survey 4.1.1",
    "parity-estimators.json": "R 4.2.2, survey 4.5",
    "parity-extra.json": "R 4.2.2, survey 4.5",
}
VERIFY_COMMAND = "barometer verify"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one reference case."""

    id: str
    passed: bool
    max_rel_error: float
    field: str
    reason: str = ""

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        if self.reason:
            return f"{status} {self.id}: {self.reason}"
        return f"{status} {self.id}: max rel. error {self.max_rel_error:.3g} ({self.field})"


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a reference JSON file."""
    with open(path, encoding="utf-8") as fh:
        cases = json.load(fh)
    if not isinstance(cases, list):
        raise ValueError(f"{path}: expected a JSON list of cases")
    return cases


def read_case_data(path: Path) -> pd.DataFrame:
    """A case's data, keeping text columns as text (domain keys compare as written)."""
    return pd.read_csv(path, keep_default_na=True, na_values=["NA"], low_memory=False)


def build_design(case: Mapping[str, Any], data: pd.DataFrame) -> Design:
    """The design of a case: svydesign, then as.svrepdesign, then calibration."""
    from barometer.survey.calibrate import calibrate
    from barometer.survey.replicate import with_replicates

    d = case["design"]
    rw = d.get("repweights")
    if rw:  # replicate weights in the data: svrepdesign(..., combined.weights = TRUE)
        design = Design.from_replicates(
            data, repweights=rw["columns"] if rw.get("columns") else rw["prefix"],
            type=rw["type"], weights=d.get("weights"), scale=rw.get("scale"),
            rscales=rw.get("rscales"), rho=rw.get("rho"), mse=bool(rw.get("mse", False)),
            source=str(case.get("data")),
        )
    else:
        design = Design.from_frame(
            data, ids=d.get("ids"), strata=d.get("strata"), weights=d.get("weights"),
            probs=d.get("probs"), fpc=d.get("fpc"), nest=bool(d.get("nest", False)),
            lonely_psu=d.get("lonely_psu", "fail"), pps=d.get("pps"),
            source=str(case.get("data")),
        )
    rep = case.get("replicate")
    if rep:
        design = with_replicates(design, rep["type"], fay_rho=float(rep.get("fay_rho", 0.0)),
                                 mse=bool(rep.get("mse", False)))
    cal = case.get("calibration")
    if cal:
        method = cal["method"]
        design = calibrate(
            design,
            categorical=cal.get("categorical") or {},
            numeric=cal.get("numeric") or {},
            total=cal.get("total"),
            method="poststratify" if method == "poststratify" else method,
            bounds=tuple(cal["bounds"]) if cal.get("bounds") else None,
            max_iter=200, tol=1e-10,
        )
    return design


def compute(case: Mapping[str, Any], design: Design) -> dict[str, Any]:
    """Our numbers for a case, keyed like ``expected``."""
    from barometer.survey.estimate import estimate

    e = case["estimator"]
    ci = case.get("ci") or {}
    df = ci.get("df", "inf")
    df = df if isinstance(df, str) else float(df)
    level = float(ci.get("level", 0.95))
    stat = e["stat"]
    dom = e.get("domain")
    domain = {dom["column"]: dom["value"]} if dom else None
    if stat == "glm":
        from barometer.survey.regression import regress

        fit = regress(design, e["y"], list(e["x"]), family=e.get("family", "gaussian"),
                      level=e.get("level"), domain=domain)
        return {term: {"estimate": row.estimate, "se": row.se}
                for term, row in fit.to_frame().set_index("term").iterrows()}
    if stat == "crosstab":
        from barometer.survey.crosstab import crosstab

        tab = crosstab(design, e["y"], e["x"], domain=domain, test=e.get("test", "F"),
                       ci_level=level, df=df)
        t = tab.test
        out: dict[str, Any] = {"statistic": t.statistic, "p_value": t.p_value}
        if t.method == "F":
            out.update(ndf=t.ndf, ddf=t.ddf)
        else:
            out["df"] = t.ndf
        out["cells"] = {f"{r.row}|{r.col}": float(r.total)
                        for r in tab.cells.itertuples() if r.total > 0}
        return out
    if stat == "contrast":
        from barometer.survey.contrast import contrast

        of = e.get("of", "mean")
        res = estimate(design, of, e["y"], level=e.get("level") if of in ("proportion",
                       "total") else None, by=e.get("by"), domain=domain, ci="wald",
                       ci_level=level, df=df, covariance=True)
        row = contrast(res, {str(k): float(v) for k, v in e["coefficients"].items()}
                       ).table.iloc[0]
        return {"estimate": float(row["estimate"]), "se": float(row["se"])}
    method = ci.get("method")
    if stat == "quantile":
        method = "woodruff"
    all_levels = "level" in e and e["level"] is None and stat in ("proportion", "total")
    lev = e.get("level")
    if all_levels:
        col = design.column(e["y"]).dropna()
        lev = sorted(col.unique().tolist(), key=lambda v: str(_key(v)))
    res = estimate(design, stat, e["y"], x=e.get("x"), level=lev,
                   q=e.get("q", 0.5), qrule=e.get("qrule", "math"), by=e.get("by"),
                   domain=domain, ci=method, ci_level=level, df=df)
    table = res.to_frame()

    def as_dict(row: pd.Series) -> dict[str, float]:
        return {k: float(row[k]) for k in ("estimate", "se", "ci_low", "ci_high", "deff")}

    if all_levels and e.get("by"):  # keyed by domain, then level
        nested: dict[str, dict[str, Any]] = {}
        for _, r in table.iterrows():
            nested.setdefault(_key(r["domain"]), {})[_key(r["level"])] = as_dict(r)
        return nested
    if all_levels:
        return {_key(r["level"]): as_dict(r) for _, r in table.iterrows()}
    if e.get("by"):
        return {_key(r["domain"]): as_dict(r) for _, r in table.iterrows()}
    return as_dict(table.iloc[0])


def _key(value: object) -> str:
    """A domain value as text as R writes it (integral numbers without a decimal point)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(expected: Any, got: Any, path: str) -> Iterator[tuple[float, str]]:
    if isinstance(expected, Mapping):
        for key, sub in expected.items():
            if not isinstance(got, Mapping) or key not in got:
                yield math.inf, f"{path}{key} (missing)"
                continue
            yield from _compare(sub, got[key], f"{path}{key}.")
        return
    if expected is None:
        return
    e, g = float(expected), float(got)
    if math.isnan(e) and math.isnan(g):
        yield 0.0, path.rstrip(".")
        return
    denom = max(abs(e), 1e-300)
    err = abs(g - e) / denom if not (abs(e) < 1e-12 and abs(g) < 1e-12) else 0.0
    yield (err if not math.isnan(err) else math.inf), path.rstrip(".")


def run_case(case: Mapping[str, Any], data_dir: Path, tol: float = TOLERANCE) -> CaseResult:
    """Run one case; any exception becomes a FAIL with its reason."""
    cid = str(case.get("id", "?"))
    try:
        data = read_case_data(data_dir / case["data"])
        got = compute(case, build_design(case, data))
        errors = list(_compare(case["expected"], got, ""))
    except Exception as exc:  # a case that cannot run is reported, never a crash
        return CaseResult(cid, False, math.inf, "", f"cannot run: {type(exc).__name__}: {exc}")
    if not errors:
        return CaseResult(cid, False, math.inf, "", "nothing to compare in expected")
    worst, field = max(errors, key=lambda t: t[0])
    return CaseResult(cid, worst <= tol, worst, field)


def shipped_reference() -> Path:
    """The folder of the R reference cases shipped with the package (``data/reference``)."""
    return Path(str(resources.files("barometer") / "data" / "reference"))


def shipped_cases() -> list[Path]:
    """The shipped case files that ``barometer verify`` runs by default (see the folder's
    README): the shared core and parity cases, the extra cases (R 4.2.2, survey 4.1.1), the
    estimator parity cases (survey 4.5, ``parity-estimators.json``) and further design cases
    of survey 4.5 (``parity-extra.json``: supplied replicate weights, PPS without
    replacement, lonely PSUs)."""
    return [shipped_reference() / name for name in SHIPPED]


def verify(cases_path: Path | None = None, data_dir: Path | None = None,
           tol: float = TOLERANCE) -> list[CaseResult]:
    """Run every case of a reference file (data in ``data/`` beside it by default); with no
    file, every shipped case file."""
    if cases_path is None:
        return [r for path in shipped_cases() for r in verify(path, data_dir, tol)]
    cases_path = Path(cases_path)
    data_dir = Path(data_dir) if data_dir else cases_path.parent / "data"
    return [run_case(c, data_dir, tol) for c in load_cases(cases_path)]


def verification_summary(tol: float = TOLERANCE) -> dict[str, Any]:
    """Run every shipped reference case (as ``barometer verify`` does) and summarise it for
    the run record and the note: cases run, passed and failed, the largest relative error
    ``|ours - R| / |R|`` over every compared number, per file with the R and ``survey``
    versions that computed it, the tolerance, the time taken and the command to rerun it."""
    import time
    import warnings

    start = time.perf_counter()
    files = []
    with warnings.catch_warnings():  # the cases' own conversion notes, printed by the CLI
        warnings.simplefilter("ignore")
        for path in shipped_cases():
            results = verify(path, tol=tol)
            files.append({
                "file": path.name, "cases": len(results),
                "passed": sum(r.passed for r in results),
                "max_rel_error": max((r.max_rel_error for r in results), default=0.0),
                "computed_with": SHIPPED_VERSIONS.get(path.name, ""),
                "failed": [r.id for r in results if not r.passed]})
    return {
        "command": VERIFY_COMMAND, "tolerance": tol,
        "cases": sum(f["cases"] for f in files), "passed": sum(f["passed"] for f in files),
        "failed": sum(f["cases"] - f["passed"] for f in files),
        "max_rel_error": max((f["max_rel_error"] for f in files), default=0.0),
        "seconds": round(time.perf_counter() - start, 2), "files": files,
    }
