"""Stage *publish*: open data (CSV + Parquet + Table Schema) written atomically.

Everything of an edition is written into a temporary folder beside the target, the data
package is validated with the ``frictionless`` library, and only then is the folder renamed
into place: a reader never sees half an edition. An existing edition is never replaced
unless ``force=True`` (then the old folder is swapped out and removed after the rename).

Open data hold no microdata, and no number of a cell that the publication rules suppress:
such a row keeps its keys, its unweighted n, its status and the rule, with empty numbers.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from barometer.survey.errors import BarometerError

OPEN_DATA = ("estimates", "admin_uptake", "coherence", "trends", "weighting_diagnostics",
             "drivers", "small_area_estimates")
# Field descriptions and units of the open data (Table Schema "description"/"unit").
FIELDS: dict[str, tuple[str, str]] = {
    "indicator": ("Indicator identifier (see the indicator catalogue)", ""),
    "population": ("Surveyed population: individuals (adults 18+) or companies", ""),
    "basis": ("Unit counted: individuals, companies, or companies weighted by employees", ""),
    "by": ("Breakdown variable (all = whole population)", ""),
    "domain": ("Category of the breakdown variable (all = whole population)", ""),
    "estimate": ("Weighted estimate (share as a proportion 0-1, or mean score)", "proportion"),
    "se": ("Design-based standard error of the estimate", "proportion"),
    "cv": ("Coefficient of variation: se / estimate", "ratio"),
    "ci_low": ("Lower bound of the confidence interval", "proportion"),
    "ci_high": ("Upper bound of the confidence interval", "proportion"),
    "ci_method": ("Confidence-interval rule (wald, logit, beta, wilson...)", ""),
    "ci_level": ("Confidence level of the interval", "proportion"),
    "df": ("Degrees of freedom of the interval (inf = normal)", "count"),
    "deff": ("Design effect against simple random sampling without replacement", "ratio"),
    "n": ("Unweighted number of answers in the cell", "count"),
    "n_eff": ("Kish effective sample size of the cell", "count"),
    "method": ("Variance method (linearisation with weighting residuals, or replicates)", ""),
    "status": ("Publication status: published, caution, suppressed (or data status)", ""),
    "rule": ("Publication rule that decided the status", ""),
    "year": ("Edition (survey year, or year of the administrative counts)", "year"),
    "level": ("Aggregation level: service, ministry, or all services", ""),
    "service_id": ("Service identifier (see the service catalogue)", ""),
    "label_en": ("Label in English", ""),
    "ministry": ("Ministry or agency running the service", ""),
    "audience": ("Users of the service: individuals or companies", ""),
    "online": ("Number of procedures completed online (EDI included)", "count"),
    "mail": ("Number of procedures completed by mail", "count"),
    "counter": ("Number of procedures completed at a counter", "count"),
    "phone": ("Number of procedures completed by phone", "count"),
    "total": ("Number of procedures, all channels", "count"),
    "uptake": ("Digital uptake: online / all channels", "proportion"),
    "target": ("Target share online (2016-style target)", "proportion"),
    "gap_to_target": ("Uptake minus target", "proportion"),
    "target_met": ("Whether the uptake reaches the target", ""),
    "revised": ("Whether a count of the year was revised by its supplier", ""),
    "supplier": ("Supplier of the administrative counts", ""),
    "date_received": ("Date the counts were received", "date"),
    "survey_item": ("Questionnaire item measuring the same procedure", ""),
    "survey_estimate": ("Survey estimate of the online share among users", "proportion"),
    "survey_ci_low": ("Lower bound of the survey estimate's interval", "proportion"),
    "survey_ci_high": ("Upper bound of the survey estimate's interval", "proportion"),
    "survey_status": ("Publication status of the survey estimate", ""),
    "admin_uptake": ("Administrative digital uptake of the service", "proportion"),
    "difference": ("Survey estimate minus administrative uptake", "proportion"),
    "admin_within_survey_ci": ("Whether the admin share lies in the survey interval", ""),
    "admin_status": ("Status of the administrative counts (reported, missing)", ""),
    "reference": ("Reference edition of the change: previous or first", ""),
    "reference_year": ("Year of the reference edition", "year"),
    "reference_estimate": ("Estimate of the reference edition", "proportion"),
    "change": ("Change: estimate minus reference estimate", "proportion"),
    "z": ("Test statistic of the change (independent samples)", "ratio"),
    "p_value": ("Two-sided p-value of the change", "probability"),
    "significant_5pct": ("Whether the change is significant at 5%", ""),
    "kind": ("Kind of row: weights statistic or calibration margin", ""),
    "name": ("Name of the statistic", ""),
    "value": ("Value of the statistic", ""),
    "constraint": ("Calibration constraint (margin category)", ""),
    "target_count": ("Population target of the constraint", "count"),
    "achieved": ("Weighted total achieved by the calibrated weights", "count"),
    "rel_diff": ("Relative difference achieved vs target", "ratio"),
    "model": ("Driver model identifier (see the indicator catalogue)", ""),
    "covariate": ("Covariate of the model ((Intercept) for the constant)", ""),
    "term": ("Coefficient: the covariate followed by its category (R's naming); the "
             "first category in sorted order is the reference", ""),
    "reference_category": ("Reference category of the covariate (odds ratio 1)", ""),
    "odds_ratio": ("Odds ratio against the reference category: exp(coefficient)", "ratio"),
    "or_ci_low": ("Lower bound of the odds ratio's confidence interval", "ratio"),
    "or_ci_high": ("Upper bound of the odds ratio's confidence interval", "ratio"),
    "covariate_p_value": ("p-value of the design-based Wald F test that every coefficient "
                          "of the covariate is zero", "probability"),
    "n_level": ("Unweighted number of answers in the category", "count"),
    "region": ("Region (INSEE code)", ""),
    "direct": ("Direct (design-based) estimate in the region: the model's input (see "
               "direct_status before quoting it on its own)", "proportion"),
    "direct_status": ("Status of the direct estimate under the direct publication rules",
                      ""),
    "direct_se": ("Design-based standard error of the direct estimate", "proportion"),
    "smoothed_var": ("Sampling variance the model used: the direct variance smoothed by a "
                     "pooled-design-effect generalised variance function", "proportion"),
    "admin_tax_online": ("Covariate: online share of income-tax returns in the region "
                         "(administrative counts)", "proportion"),
    "admin_vat_online": ("Covariate: online share of company VAT returns in the region "
                         "(administrative counts)", "proportion"),
    "internet_daily": ("Covariate: share of adults using the internet daily (census)",
                       "proportion"),
    "age_65plus": ("Covariate: share of adults aged 65+ (census)", "proportion"),
    "firms_10plus": ("Covariate: share of companies with 10+ employees (SIRENE)",
                     "proportion"),
    "synthetic": ("Model-based: the regression prediction from the covariates",
                  "proportion"),
    "eblup": ("Model-based estimate (Fay–Herriot EBLUP)", "proportion"),
    "mse": ("Estimated mean squared error of the model-based estimate", "proportion"),
    "shrinkage": ("Weight of the direct estimate in the model-based one: A / (A + D)",
                  "ratio"),
    "rrmse": ("Relative root-MSE of the model-based estimate: sqrt(mse) / eblup", "ratio"),
}
TABLE_TITLES = {
    "estimates": "Scoreboard indicators by domain, with design-based precision",
    "admin_uptake": "Digital uptake of public services from administrative counts",
    "coherence": "Survey estimates beside administrative shares, per service",
    "trends": "Changes since the previous and the first edition",
    "weighting_diagnostics": "Weighting diagnostics per population",
    "drivers": "Drivers of online use and satisfaction: design-based logistic models",
    "small_area_estimates": "Regional estimates, model-based (Fay–Herriot) beside direct",
}


class PublishError(BarometerError):
    """Outputs cannot be written (an edition already published, an invalid package...)."""


def _field_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _schema(frame: pd.DataFrame) -> dict[str, Any]:
    fields = []
    for col in frame.columns:
        desc, unit = FIELDS.get(col, (col, ""))
        f: dict[str, Any] = {"name": col, "type": _field_type(frame[col]), "description": desc}
        if unit:
            f["unit"] = unit
        fields.append(f)
    return {"fields": fields, "missingValues": [""]}


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Types that CSV, Parquet and Table Schema agree on (objects with booleans/None...)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            non_null = s.dropna()
            if len(non_null) and non_null.map(lambda v: isinstance(v, bool)).all():
                out[col] = s.astype("boolean")
            else:
                out[col] = s.astype("string")
    return out


def write_open_data(folder: Path, tables: Mapping[str, pd.DataFrame], *, name: str,
                    title: str, description: str) -> Path:
    """Write each table as CSV and Parquet under ``folder`` with a ``datapackage.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for stem, frame in tables.items():
        frame = _normalise(frame)
        frame.to_csv(folder / f"{stem}.csv", index=False, encoding="utf-8")
        frame.to_parquet(folder / f"{stem}.parquet", index=False)
        resources.append({
            "name": stem.replace("_", "-"), "path": f"{stem}.csv",
            "profile": "tabular-data-resource",
            "title": TABLE_TITLES.get(stem, stem), "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "schema": _schema(frame),
        })
    package = {
        "profile": "tabular-data-package", "name": name, "title": title,
        "description": description,
        "licenses": [{"name": "etalab-2.0", "title": "Licence Ouverte / Open Licence 2.0",
                      "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence"}],
        "resources": resources,
    }
    path = folder / "datapackage.json"
    path.write_text(json.dumps(package, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def validate_package(path: Path) -> None:
    """Validate a data package with ``frictionless``; raise with its errors if invalid."""
    from frictionless import validate

    report = validate(str(path))
    if not report.valid:
        errors = report.flatten(["rowNumber", "fieldName", "type", "message"])
        raise PublishError("the open-data package does not validate", where=str(path),
                           value=errors[:5], hint="this is a bug: report it")


def publish_atomically(out: Path, writers: list[Callable[[Path], None]], *,
                       force: bool = False) -> Path:
    """Run ``writers`` into a temporary folder, then rename it to ``out``.

    Refuses to replace an existing ``out`` unless ``force``; on any error nothing is left.
    """
    out = Path(out).resolve()
    if out.exists() and not force:
        raise PublishError(
            "this edition is already published", where=str(out),
            hint="use --force to replace it, or choose another --out folder",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for write in writers:
            write(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
