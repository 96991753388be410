"""Stage *publish*: open data (CSV + Parquet + Table Schema) written atomically.

Everything of an edition is written into a temporary folder beside the target, the data
package is validated with the ``frictionless`` library, and only then is the folder renamed
into place: a reader never sees half an edition. An existing edition is never replaced
unless ``force=True`` (then the old folder is swapped out and removed after the rename;
files barometer did not write there are carried over, never deleted). A non-empty folder
that is not an edition is never used.

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

OPEN_DATA = ("estimates", "admin_uptake", "admin_revisions", "coherence", "trends",
             "weighting_diagnostics", "drivers")
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
    "ci_method": ("Confidence-interval rule actually used for the cell: logit (shares, "
                  "the employee-weighted ratio included), clopper-pearson (exact interval "
                  "of a share exactly 0 or 1), wald (mean scores), none (undefined cell)", ""),
    "ci_level": ("Confidence level of the interval", "proportion"),
    "df": ("Degrees of freedom of the interval (inf = normal)", "count"),
    "deff": ("Design effect against simple random sampling without replacement", "ratio"),
    "n": ("Unweighted number of answers in the cell", "count"),
    "n_eff": ("Kish effective sample size of the cell", "count"),
    "method": ("Variance method (linearisation with weighting residuals, or replicates)", ""),
    "status": ("Publication status: published, caution, suppressed, undefined (0/0 by "
               "construction); for trends, published only if both cells are publishable; "
               "for counts, reported or missing", ""),
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
    "target": ("Target share online for the service and year (targets.csv; empty: no "
               "target, online-only service, or aggregate)", "proportion"),
    "gap_to_target": ("Uptake minus target", "proportion"),
    "target_status": ("met, not met, or not applicable (online-only service, no target, "
                      "no count, aggregate)", ""),
    "target_source": ("Document setting the target", ""),
    "target_date": ("Date of the document setting the target", "date"),
    "channels_reported": ("Channels the supplier reported (an unreported channel is "
                          "missing, never 0)", ""),
    "partial_channels": ("Whether some channel is unreported: the uptake is then computed "
                         "on the reported channels only (an upper bound)", ""),
    "online_only": ("Whether the service is offered online only that year (uptake 100% by "
                    "construction)", ""),
    "composition": ("All-services row: the audiences' numbers of services, shares of the "
                    "volume and uptakes", ""),
    "first_received": ("Date the first supply of the counts was received", "date"),
    "revised_received": ("Date the revised supply was received", "date"),
    "count_first": ("Count in the first supply", "count"),
    "count_revised": ("Count in the revised (latest) supply", "count"),
    "relative_change": ("Revision as a share of the first count", "ratio"),
    "uptake_first": ("Uptake of the service computed on the first supply", "proportion"),
    "uptake_revised": ("Uptake of the service computed on the revised supply",
                       "proportion"),
    "revised": ("Whether the counts used are a revision of an earlier supply (see "
                "admin_revisions)", ""),
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
    "p_value": ("Two-sided p-value of the change (raw, one test)", "probability"),
    "p_adjusted": ("Benjamini-Hochberg adjusted p-value (false discovery rate over the "
                   "published changes of the same comparison)", "probability"),
    "significant_5pct": ("Whether the change is significant at 5% after the "
                         "Benjamini-Hochberg adjustment (empty if not published)", ""),
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
             "first category in the codebook's order is the reference", ""),
    "reference_category": ("Reference category of the covariate (odds ratio 1)", ""),
    "odds_ratio": ("Odds ratio against the reference category: exp(coefficient)", "ratio"),
    "or_ci_low": ("Lower bound of the odds ratio's confidence interval", "ratio"),
    "or_ci_high": ("Upper bound of the odds ratio's confidence interval", "ratio"),
    "covariate_p_value": ("p-value of the design-based Wald F test that every coefficient "
                          "of the covariate is zero", "probability"),
    "n_level": ("Unweighted number of answers in the category", "count"),
    "warning": ("Reading warning of a coefficient: sparse category (n or either outcome "
                "below the threshold) or wide interval (odds-ratio interval wider than a "
                "factor of 20)", ""),
}
TABLE_TITLES = {
    "estimates": "Scoreboard indicators by domain, with design-based precision",
    "admin_uptake": "Digital uptake of public services from administrative counts",
    "admin_revisions": "Revisions of administrative counts: first and revised supply",
    "coherence": "Survey estimates beside administrative shares, per service",
    "trends": "Changes since the previous and the first edition",
    "weighting_diagnostics": "Weighting diagnostics per population",
    "drivers": "Drivers of online use and satisfaction: design-based logistic models",
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


MANIFEST = "barometer-files.txt"
"""The list of files an edition's publication wrote (relative paths, one per line)."""

KNOWN_ENTRIES = ("opendata", "figures", "private", "run_record.json",
                 "methodology-note.md", "methodology-note.html", "scoreboard.html")
"""Top-level entries an edition written without a manifest may hold (older editions)."""


def is_edition(folder: Path) -> bool:
    """True if ``folder`` holds an edition published by barometer (its manifest of
    written files, or, for an edition older than the manifest, its run record)."""
    return (Path(folder) / MANIFEST).is_file() or (Path(folder) / "run_record.json").is_file()


def _written_by_barometer(folder: Path) -> set[str]:
    """Relative paths of the files barometer wrote into an edition folder."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        return {line for line in manifest.read_text(encoding="utf-8").splitlines() if line}
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.relative_to(folder).parts[0] in KNOWN_ENTRIES}


def check_target(out: Path, *, force: bool = False) -> None:
    """Refuse an output folder that cannot take an edition: a file; a non-empty folder
    that is not a barometer edition (even with ``force``); an edition without ``force``.
    """
    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise PublishError("the output path is a file, not a folder", where=str(out),
                           hint="choose a folder for --out")
    if not any(out.iterdir()):
        return
    if not is_edition(out):
        raise PublishError(
            "the output folder is not empty and holds no barometer edition (no "
            "run_record.json); nothing was changed", where=str(out),
            hint="choose an empty or new folder for --out; --force replaces only an "
            "edition published by barometer")
    if not force:
        raise PublishError("this edition is already published; nothing was changed",
                           where=str(out),
                           hint="use --force to replace it, or choose another --out folder")


def publish_atomically(out: Path, writers: list[Callable[[Path], None]], *,
                       force: bool = False) -> Path:
    """Run ``writers`` into a temporary folder, then rename it to ``out``.

    Refuses what :func:`check_target` refuses; on any error nothing is left. Replacing an
    edition (``force``) removes only the files barometer wrote there (its manifest): any
    other file of the folder is carried over into the new edition, untouched.
    """
    out = Path(out).resolve()
    check_target(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for write in writers:
            write(tmp)
        written = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*")
                         if p.is_file())
        (tmp / MANIFEST).write_text("\n".join(written) + "\n", encoding="utf-8")
        if out.exists() and any(out.iterdir()):
            ours = _written_by_barometer(out) | {MANIFEST}
            for p in sorted(out.rglob("*")):
                rel = p.relative_to(out).as_posix()
                if p.is_file() and rel not in ours and not (tmp / rel).exists():
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(p, tmp / rel)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.exists():
                out.rmdir()  # an empty folder: no file is removed
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
