"""The scoreboard as configuration: what the statistician preparing the next edition does,
by editing a data folder only (a new item and indicator from 2025, a new service from
2025, a service ended in 2023), then `barometer run` for 2014 and for 2025."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from barometer.cli import app
from barometer.scoreboard.config import load_configuration
from barometer.scoreboard.load import check_folder, load_edition, scaffold
from barometer.scoreboard.problems import InputError
from barometer.scoreboard.readers import sha256

runner = CliRunner()
KEEP = (2014, 2023, 2024, 2025)  # fewer earlier editions: the series stays quick to run

FRANCECONNECT_ITEM = """
[[item]]
id = "franceconnect"
population = "individuals"
scale = "yes_no"
first_year = 2025
fr = "Avez-vous utilisé FranceConnect pour vous identifier lors d'une démarche en ligne ?"
en = "Did you use FranceConnect to log in for an online procedure?"
"""

FRANCECONNECT_INDICATOR = """
[[indicator]]
id = "franceconnect_use"
label_fr = "A utilisé FranceConnect"
label_en = "Used FranceConnect"
population = "individuals"
item = "franceconnect"
kind = "share"
codes = [1]
universe = "all"
"""

NEW_SERVICE = ("franceconnect_login", "Connexion FranceConnect", "FranceConnect log-in",
               "Direction interministérielle du numérique (DINUM)", "individuals", "0.90", "",
               "2025")
ENDED = "local_tax_payment"


def _add_franceconnect_answers(path: Path) -> None:
    """Add the new item to the 2025 individuals' SPSS file, keeping its labels."""
    df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False, user_missing=True)
    rng = np.random.default_rng(7)
    df["franceconnect"] = rng.choice([1.0, 2.0, 98.0], size=len(df), p=[0.55, 0.43, 0.02])
    labels = dict(meta.variable_value_labels)
    labels["franceconnect"] = {1.0: "Oui", 2.0: "Non", 98.0: "Ne sait pas"}
    pyreadstat.write_sav(df, str(path), variable_value_labels=labels,
                         missing_ranges=meta.missing_ranges)


def _edit_services(root: Path) -> None:
    """Add last_year (at the end of the header), end one service in 2023, add one."""
    services = pd.read_csv(root / "services.csv", dtype=str, keep_default_na=False)
    services["last_year"] = ""
    services.loc[services["service_id"] == ENDED, "last_year"] = "2023"
    services.loc[len(services)] = [*NEW_SERVICE, ""]
    services.to_csv(root / "services.csv", index=False)


def _edit_admin(root: Path) -> None:
    """Counts for the new service in 2025; none for the ended one after 2023."""
    for year in (2024, 2025):
        path = root / str(year) / "admin_counts.csv"
        admin = pd.read_csv(path, dtype=str, keep_default_na=False)
        admin = admin[admin["service_id"] != ENDED]
        if year == 2025:
            new = pd.DataFrame({
                "service_id": NEW_SERVICE[0], "year": "2025",
                "channel": ["online", "mail", "counter", "phone"],
                "count": ["41000000", "0", "0", "0"], "supplier": "DINUM",
                "counting_unit": "log-in", "online_definition": "website or app",
                "coverage": "all log-ins", "date_received": "2026-02-01", "revised": "0"})
            admin = pd.concat([admin, new], ignore_index=True)
        admin.to_csv(path, index=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "barometer-data"
    result = runner.invoke(app, ["init", str(root), "--from-year", "2014"])
    assert result.exit_code == 0, result.output
    for year in range(2015, 2023):
        shutil.rmtree(root / str(year))
    with (root / "codebook.toml").open("a", encoding="utf-8") as fh:
        fh.write(FRANCECONNECT_ITEM)
    with (root / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write(FRANCECONNECT_INDICATOR)
    _add_franceconnect_answers(root / "2025" / "individuals.sav")
    _edit_services(root)
    _edit_admin(root)
    return root


@pytest.fixture(scope="module")
def runs(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("out")
    done = {}
    for year in (2014, 2025):
        target = out / str(year)
        result = runner.invoke(app, ["run", "--data", str(folder), "--year", str(year),
                                     "--out", str(target)])
        assert result.exit_code == 0, result.output
        done[year] = target
    return done


def test_the_folder_checks_clean(folder: Path) -> None:
    years, problems = check_folder(folder)
    assert years == list(KEEP)
    assert not [p for p in problems if p.severity == "error"], problems


def test_the_data_folder_configuration_is_used(folder: Path) -> None:
    config = load_configuration(folder)
    assert config.files["codebook"] == "codebook.toml"
    assert config.files["catalogue"] == "indicators.toml"
    assert config.sha256["catalogue"] == sha256(folder / "indicators.toml")
    assert config.catalogue.get("franceconnect_use").item == "franceconnect"


def test_item_required_only_from_its_first_year(folder: Path) -> None:
    assert "franceconnect" not in load_edition(2014, folder).individuals
    assert "franceconnect" in load_edition(2025, folder).individuals


def test_estimate_explains_an_indicator_not_yet_asked(folder: Path) -> None:
    early = runner.invoke(app, ["estimate", "franceconnect_use", "--data", str(folder),
                                "--year", "2014"])
    assert early.exit_code == 1 and "asked 2025 on" in early.output
    now = runner.invoke(app, ["estimate", "franceconnect_use", "--data", str(folder),
                              "--year", "2025", "--by", "age_band"])
    assert now.exit_code == 0 and "18-24" in now.output


def test_both_runs_succeed_and_record_the_files_used(runs: dict[int, Path],
                                                     folder: Path) -> None:
    record = json.loads((runs[2025] / "run_record.json").read_text())
    assert record["catalogue"]["file"] == "indicators.toml"
    assert record["catalogue"]["sha256"] == sha256(folder / "indicators.toml")
    assert record["codebook"]["sha256"] == sha256(folder / "codebook.toml")
    assert record["input_hashes"]["indicators.toml"] == sha256(folder / "indicators.toml")
    assert set(record["series_input_hashes"]) == {"2014", "2023", "2024"}
    assert record["series_input_hashes"]["2014"]["2014/admin_counts.csv"] == sha256(
        folder / "2014" / "admin_counts.csv")
    assert "git_commit" in record and record["version"]
    ind, comp = record["weighting"]["individuals"], record["weighting"]["companies"]
    assert ind["starting_weights"].startswith("equal starting weights")
    assert comp["starting_weights"] == "design weights from column 'design_weight'"
    assert ind["calibration"]["tolerance"] == 1e-7 and ind["calibration"]["max_iter"] == 100
    assert ind["trimming"]["bounds_relative_to_mean_weight"] == [0.25, 4.0]
    assert "bounds.const" in ind["trimming"]["algorithm"]
    assert ind["collapse_rules"] == {"region": {"94": "93"},
                                     "pcs": {"farmers": "self_employed"}}
    assert record["catalogue"]["rules"]["df"] == "design"
    assert "PSUs minus number of strata" in record["catalogue"]["df_rule"]
    assert record["weighting_sha256"] == sha256(folder / "weighting.toml")


def test_new_indicator_in_2025_only_and_its_trends_start_there(runs: dict[int, Path]
                                                               ) -> None:
    est25 = pd.read_csv(runs[2025] / "opendata" / "estimates.csv", dtype=str)
    est14 = pd.read_csv(runs[2014] / "opendata" / "estimates.csv", dtype=str)
    fc = est25[est25["indicator"] == "franceconnect_use"]
    assert len(fc) > 1 and fc.loc[fc["by"] == "all", "estimate"].astype(float).between(
        0.45, 0.7).all()
    assert "franceconnect_use" not in set(est14["indicator"])
    trends = pd.read_csv(runs[2025] / "opendata" / "trends.csv", dtype=str)
    assert "franceconnect_use" not in set(trends["indicator"])
    assert "online_users" in set(trends["indicator"])
    series = pd.read_csv(runs[2025] / "opendata" / "series.csv", dtype=str)
    assert set(series.loc[series["indicator"] == "franceconnect_use", "year"]) == {"2025"}


def test_services_enter_and_leave_by_their_years(runs: dict[int, Path]) -> None:
    up25 = pd.read_csv(runs[2025] / "opendata" / "admin_uptake.csv", dtype=str)
    up14 = pd.read_csv(runs[2014] / "opendata" / "admin_uptake.csv", dtype=str)
    assert ENDED not in set(up25["service_id"].dropna())
    assert NEW_SERVICE[0] in set(up25["service_id"].dropna())
    assert ENDED in set(up14["service_id"].dropna())
    assert NEW_SERVICE[0] not in set(up14["service_id"].dropna())
    record = json.loads((runs[2025] / "run_record.json").read_text())
    assert not any(ENDED in w for w in record["input_warnings"])
    note = (runs[2025] / "methodology-note.md").read_text()
    assert "local_tax_payment" not in note


def test_ended_service_counts_after_its_last_year_are_an_error(folder: Path,
                                                               tmp_path: Path) -> None:
    copy = tmp_path / "d"
    shutil.copytree(folder, copy)
    path = copy / "2025" / "admin_counts.csv"
    admin = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = admin.iloc[[0]].assign(service_id=ENDED)
    pd.concat([admin, row]).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_edition(2025, copy)
    hit = [p for p in info.value.problems if p.value == ENDED]
    assert hit and "not in scope in 2025" in hit[0].problem and hit[0].rows == (len(admin) + 1,)


def test_private_weights_beside_never_in_open_data(runs: dict[int, Path]) -> None:
    out = runs[2025]
    w = pd.read_csv(out / "private" / "weights_individuals.csv")
    assert list(w.columns) == ["id", "starting_weight", "final_weight"]
    assert w["final_weight"].gt(0).all() and w["id"].is_unique
    assert not list((out / "opendata").glob("weights*"))


def test_scaffold_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2 and "not an empty folder" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    with pytest.raises(InputError):
        scaffold(tmp_path, 2025)


def test_an_item_filled_with_dont_know_names_the_indicator_and_the_year(
        folder: Path, tmp_path: Path) -> None:
    """The old workaround (the new item in every year, 98 where it was not asked) gets
    a message naming the indicator, the item, the year and the right way to do it."""
    copy = tmp_path / "d"
    shutil.copytree(folder, copy)
    cb = (copy / "codebook.toml").read_text(encoding="utf-8")
    (copy / "codebook.toml").write_text(cb.replace("first_year = 2025\n", ""),
                                        encoding="utf-8")
    for y in (2014, 2023, 2024):
        path = copy / str(y) / "individuals.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df["franceconnect"] = "98"
        df.to_csv(path, index=False)
    result = runner.invoke(app, ["run", "--data", str(copy), "--year", "2014", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "indicator 'franceconnect_use'" in flat and "edition 2014" in flat
    assert "first_year" in flat and not (tmp_path / "o").exists()


def test_check_reports_the_targets_file(tmp_path: Path) -> None:
    root = tmp_path / "data"
    written = scaffold(root, 2025)
    assert root / "targets.csv" in written
    assert not [p for p in check_folder(root)[1] if p.file == "targets.csv"]
    with (root / "targets.csv").open("a", encoding="utf-8") as fh:
        fh.write("teleportation,2025,0.5,0,plan,2024-01-01\n")
    bad = [p for p in check_folder(root)[1] if p.file == "targets.csv"]
    assert [(p.column, p.value, p.problem) for p in bad] == [
        ("service_id", "teleportation", "unknown service")]
    text = (root / "targets.csv").read_text(encoding="utf-8")
    (root / "targets.csv").write_text(text.replace(",0.5,", ",150%,"), encoding="utf-8")
    bad = [p for p in check_folder(root)[1] if p.file == "targets.csv"]
    assert len(bad) == 1 and "unreadable target" in bad[0].problem and bad[0].value == "150%"
