"""The open data as data.gouv.fr publishes it: every column of every resource described
(French and English) as what the code writes, units that hold for the values, code lists
with keys, enums, and the package metadata (licence, sources, contact, version, created)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from barometer.publish.opendata import (
    RESOURCES,
    SHARED,
    UNITS,
    PublishError,
    load_publication,
    validate_package,
    write_open_data,
)
from conftest import published_run


@pytest.fixture(scope="module")
def package() -> tuple[dict[str, Any], Path]:
    folder = published_run()[1] / "opendata"
    return json.loads((folder / "datapackage.json").read_text(encoding="utf-8")), folder


def _read(folder: Path, res: dict[str, Any]) -> pd.DataFrame:
    strings = {f["name"]: str for f in res["schema"]["fields"] if f["type"] == "string"}
    return pd.read_csv(folder / res["path"], dtype=strings, keep_default_na=False,
                       na_values=[""])


def test_every_written_column_is_described_and_every_described_field_written(
        package: tuple[dict[str, Any], Path]) -> None:
    pkg, folder = package
    names = {r["name"] for r in pkg["resources"]}
    assert {"estimates", "series", "trends", "drivers", "admin-uptake", "coherence",
            "weighting-diagnostics", "indicators", "domains", "services"} <= names
    for res in pkg["resources"]:
        stem = res["path"].removesuffix(".csv")
        header = list(pd.read_csv(folder / res["path"], nrows=0).columns)
        fields = res["schema"]["fields"]
        assert [f["name"] for f in fields] == header, stem
        assert set(RESOURCES[stem].fields) == set(header), (
            f"{stem}: declared but not written {set(RESOURCES[stem].fields) - set(header)}")
        for f in fields:
            for key in ("title", "title_en", "description", "description_en"):
                assert f.get(key) and f[key] != f["name"], (stem, f["name"], key)
            assert f.get("unit", "") in ("", *UNITS), (stem, f["name"])
        descs = [f["description_en"] for f in fields]
        assert len(set(descs)) == len(descs), f"{stem}: two fields share a description"
        assert res["title"] and res["title_en"] and res["description"] != res["title"]


def test_fields_whose_meaning_differs_are_described_for_their_resource(
        package: tuple[dict[str, Any], Path]) -> None:
    pkg, _ = package
    field = {(r["name"], f["name"]): f for r in pkg["resources"] for f in r["schema"]["fields"]}
    assert field["drivers", "estimate"]["unit"] == "log-odds"
    assert "log-odds" in field["drivers", "estimate"]["description_en"]
    assert "coefficient" in field["drivers", "p_value"]["description_en"]
    assert "change" not in field["drivers", "p_value"]["description_en"]
    assert "change" in field["trends", "se"]["description_en"]
    assert "change" in field["trends", "p_value"]["description_en"]
    assert field["estimates", "estimate"]["unit"] == "indicator"  # share or score
    status = field["admin-uptake", "status"]
    assert "services" in status["description_en"] and "reported" in status["description_en"]
    assert field["series", "estimate"]["title"] == "Estimation"
    assert field["series", "year"]["title"] == "Année"


def test_units_hold_for_the_values_written(package: tuple[dict[str, Any], Path]) -> None:
    pkg, folder = package
    frames = {r["name"]: (_read(folder, r), r) for r in pkg["resources"]}
    inds = frames["indicators"][0].set_index("id")
    assert set(inds["unit"]) == {"proportion", "score"}
    assert (inds.loc[inds["kind"] == "mean", "scale_max"] > 1).all()  # the 1-4 score
    checked = 0
    for name, (frame, res) in frames.items():
        for f in res["schema"]["fields"]:
            unit, col = f.get("unit", ""), f["name"]
            v = pd.to_numeric(frame[col], errors="coerce") if unit not in ("", "date") \
                else None
            if unit in ("proportion", "probability"):
                assert v.dropna().between(0, 1).all(), (name, col)
            elif unit == "proportion difference":
                assert v.dropna().between(-1, 1).all(), (name, col)
            elif unit in ("count", "ratio", "degrees of freedom"):
                assert (v.dropna() >= -1e-12).all(), (name, col)  # deff of se 0: -1e-16
            elif unit == "year":
                assert v.dropna().between(1990, 2100).all(), (name, col)
            elif unit == "date":
                pd.to_datetime(frame[col].dropna(), format="ISO8601")
            elif unit in ("indicator", "indicator difference"):
                ind = frame["indicator"] if "indicator" in frame else frame["id"]
                lo = ind.map(inds["scale_min"]).to_numpy(float)
                hi = ind.map(inds["scale_max"]).to_numpy(float)
                x = v.to_numpy(float)
                ok = np.isfinite(x)
                span = hi - lo
                if col in ("ci_low", "ci_high"):  # a Wald interval may leave the scale
                    est = frame["estimate"].to_numpy(float)
                    side = x <= est + 1e-12 if col == "ci_low" else x >= est - 1e-12
                    assert side[ok].all(), (name, col)
                elif col == "se" or unit == "indicator difference":
                    assert (np.abs(x[ok]) <= span[ok] + 1e-12).all(), (name, col)
                else:
                    assert ((x[ok] >= lo[ok] - 1e-12) & (x[ok] <= hi[ok] + 1e-12)).all(), \
                        (name, col)
            checked += unit != ""
    assert checked > 40
    # a share is a proportion, a mean score is on its scale
    est = frames["estimates"][0]
    kind = est["indicator"].map(inds["kind"])
    assert est.loc[kind == "mean", "estimate"].dropna().gt(1).any()
    assert est.loc[kind == "share", "estimate"].dropna().le(1).all()


def test_code_lists_keys_and_enums(package: tuple[dict[str, Any], Path]) -> None:
    pkg, folder = package
    res = {r["name"]: r for r in pkg["resources"]}
    assert res["indicators"]["schema"]["primaryKey"] == ["id"]
    assert res["domains"]["schema"]["primaryKey"] == ["population", "by", "domain"]
    assert res["services"]["schema"]["primaryKey"] == ["service_id"]
    targets = {(r, k["reference"]["resource"]) for r, v in res.items()
               for k in v["schema"].get("foreignKeys", [])}
    assert {("estimates", "indicators"), ("estimates", "domains"), ("series", "domains"),
            ("trends", "indicators"), ("drivers", "indicators"),
            ("admin-uptake", "services"), ("coherence", "services")} <= targets
    enums = {(r, f["name"]): f["constraints"]["enum"] for r, v in res.items()
             for f in v["schema"]["fields"] if "enum" in f.get("constraints", {})}
    assert enums["estimates", "status"] == ["published", "caution", "suppressed", "undefined"]
    assert {("estimates", "population"), ("estimates", "ci_method"), ("trends", "reference"),
            ("admin-uptake", "level"), ("indicators", "kind")} <= set(enums)
    inds = _read(folder, res["indicators"])
    assert inds["wording_fr"].str.len().gt(0).all()
    est = _read(folder, res["estimates"])
    basis = est.drop_duplicates("indicator").set_index("indicator")["basis"]
    assert (inds.set_index("id")["basis"].reindex(basis.index) == basis).all()


@pytest.mark.parametrize(("resource", "column", "value"), [
    ("estimates", "status", "published-ish"),     # enum
    ("estimates", "indicator", "no_such_indicator"),  # foreign key to indicators
    ("admin_uptake", "service_id", "no_such_service"),  # foreign key to services
])
def test_validation_catches_a_broken_value(package: tuple[dict[str, Any], Path],
                                           tmp_path: Path, resource: str, column: str,
                                           value: str) -> None:
    copy = tmp_path / "opendata"
    shutil.copytree(package[1], copy)
    frame = pd.read_csv(copy / f"{resource}.csv", dtype=str, keep_default_na=False)
    frame.loc[0, column] = value
    frame.to_csv(copy / f"{resource}.csv", index=False)
    with pytest.raises(PublishError, match="does not validate"):
        validate_package(copy / "datapackage.json")


def test_package_metadata(package: tuple[dict[str, Any], Path]) -> None:
    pkg, _ = package
    run, folder = published_run()
    assert pkg["licenses"] == [{
        "name": "etalab-2.0", "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
        "title": "Licence Ouverte / Open Licence version 2.0"}]
    record = json.loads((folder / "run_record.json").read_text(encoding="utf-8"))
    assert pkg["created"] == record["created"]
    assert pkg["version"] and pkg["sources"] and str(run.year) in pkg["title"]
    assert pkg["title"] != pkg["title_en"] and pkg["description_en"]
    roles = {c["role"] for c in pkg["contributors"]}
    assert roles == {"publisher", "maintainer"}
    assert any("email" in c for c in pkg["contributors"])
    assert pkg["synthetic"] is True and "synthétiques" in pkg["description"]


def test_publication_metadata_from_the_data_folder(tmp_path: Path) -> None:
    assert load_publication(None)["synthetic"] is True
    (tmp_path / "publication.toml").write_text('version = "2.0.0"\n', encoding="utf-8")
    with pytest.raises(PublishError, match="lacks required entries"):
        load_publication(tmp_path)
    default = Path(__file__).parents[2] / "src/barometer/data/publication.toml"
    text = default.read_text(encoding="utf-8").replace("synthetic = true", "synthetic = false")
    (tmp_path / "publication.toml").write_text(text, encoding="utf-8")
    assert load_publication(tmp_path)["synthetic"] is False


def test_an_undeclared_column_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"indicator": ["a"], "mystery": [1.0]})
    with pytest.raises(PublishError, match="not declared"):
        write_open_data(tmp_path, {"estimates": frame}, name="t", title="t", description="t")
    with pytest.raises(PublishError, match="not declared"):
        write_open_data(tmp_path, {"mystery": frame}, name="t", title="t", description="t")
    assert set(SHARED) >= {"indicator", "status"}
