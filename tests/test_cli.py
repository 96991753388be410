"""The command-line interface."""

from __future__ import annotations

from typer.testing import CliRunner

from barometer.cli import app
from conftest import SHIPPED

runner = CliRunner()


def test_verify_prints_one_line_per_case_and_a_count() -> None:
    result = runner.invoke(app, ["verify", str(SHIPPED / "core.json")])
    lines = result.output.strip().splitlines()
    assert lines[-1].endswith("failed") and "passed" in lines[-1]
    assert sum(line.startswith(("PASS", "FAIL")) for line in lines) == len(lines) - 1
    assert result.exit_code == (0 if " 0 failed" in lines[-1] else 1)


def test_verify_reports_a_case_it_cannot_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data").mkdir()
    (tmp_path / "cases.json").write_text('[{"id": "broken", "data": "nope.csv", "design": {},'
                                         ' "estimator": {"stat": "mean", "y": "y"},'
                                         ' "expected": {"estimate": 1}}]')
    result = runner.invoke(app, ["verify", str(tmp_path / "cases.json")])
    assert "FAIL broken: cannot run" in result.output
    assert result.output.strip().endswith("0 passed, 1 failed") and result.exit_code == 1


def test_weight_command_prints_diagnostics() -> None:
    result = runner.invoke(app, ["weight", "--year", "2024"])
    assert result.exit_code == 0, result.output
    assert "== individuals (2024)" in result.output and "Kish deff" in result.output
    assert "== companies (2024)" in result.output


def test_estimate_command_and_unknown_indicator() -> None:
    result = runner.invoke(app, ["estimate", "online_users", "--by", "age_band"])
    assert result.exit_code == 0, result.output
    assert "age_band" in result.output and "18-24" in result.output
    bad = runner.invoke(app, ["estimate", "nope"])
    assert bad.exit_code == 2 and "unknown indicator" in bad.output


def test_run_rejects_an_unknown_year(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["run", "--year", "1999", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "no edition 1999" in result.output
    assert not (tmp_path / "x").exists()


def test_verify_without_argument_runs_the_shipped_cases() -> None:
    result = runner.invoke(app, ["verify"])
    last = result.output.strip().splitlines()[-1]
    assert last.endswith(" 0 failed"), last
    assert int(last.split()[0]) >= 24 + 123 and result.exit_code == 0


def test_simulate_small_area(tmp_path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--small-area", "--reps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "EBLUP RMSE below the direct" in result.output
    assert (out / "small_area_coverage.csv").exists()
