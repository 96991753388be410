"""The command-line interface."""

from __future__ import annotations

from pathlib import Path

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


# ------------------------------------------------------------- bad arguments, every command
def _bad_argument_cases(tmp: Path) -> list[list[str]]:
    empty = tmp / "empty"
    empty.mkdir()
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("not barometer's")
    a_file = tmp / "a_file.txt"
    a_file.write_text("x")
    bad_json = tmp / "bad.json"
    bad_json.write_text("{not json")
    return [
        ["verify", str(tmp / "nope.json")],
        ["verify", "--tol", "-1"],
        ["verify", str(bad_json)],
        ["run", "--data", str(empty)],
        ["run", "--data", str(tmp / "missing")],
        ["run", "--data", str(a_file)],
        ["run", "--variance", "jackknife", "--out", str(tmp / "o1")],
        ["run", "--year", "1999", "--out", str(tmp / "o2")],
        ["run", "--year", "abc"],
        ["run", "--out", str(foreign)],
        ["run", "--out", str(foreign), "--force"],
        ["run", "--out", str(a_file)],
        ["run", "--variance", "bootstrap", "--replicates", "1", "--out", str(tmp / "o3")],
        ["run", "--seed", "-1", "--out", str(tmp / "o4")],
        ["note", "--out", str(empty)],
        ["note", "--out", str(tmp / "missing")],
        ["weight", "--data", str(empty)],
        ["weight", "--year", "1999"],
        ["estimate", "nope"],
        ["estimate", "online_users", "--by", "planet"],
        ["estimate", "online_users", "--data", str(empty)],
        ["estimate", "online_users", "--year", "1999"],
        ["estimate"],
        ["synthesize", "--out", str(a_file), "--years", "2025"],
        ["synthesize", "--out", str(tmp / "s"), "--years", "twenty"],
        ["synthesize", "--out", str(tmp / "s"), "--years", "2025", "--seed", "-4"],
        ["simulate", "--reps", "0", "--out", str(tmp / "sim")],
        ["simulate", "--scenario", "nope", "--out", str(tmp / "sim")],
        ["simulate", "--year", "1999", "--out", str(tmp / "sim")],
        ["init", str(foreign)],
        ["init", str(a_file)],
        ["init", str(tmp / "new"), "--from-year", "1999"],
        ["check", str(tmp / "missing")],
        ["check", str(empty)],
        ["check", str(a_file)],
        ["nonsense-command"],
    ]


def test_no_traceback_on_any_bad_argument(tmp_path: Path) -> None:
    cases = _bad_argument_cases(tmp_path)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code != 0, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args, repr(result.exception))
        assert "Traceback" not in result.output, args
        assert "error" in result.output.lower() or "usage" in result.output.lower(), (
            args, result.output)
    after = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert after == before  # nothing written, nothing deleted
    assert (tmp_path / "foreign" / "mine.txt").read_text() == "not barometer's"


def test_force_never_deletes_a_file_barometer_did_not_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert runner.invoke(app, ["init", str(data)]).exit_code == 0
    out = tmp_path / "out"
    first = runner.invoke(app, ["run", "--data", str(data), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "barometer: loading and validating the 2025 edition" in first.output  # plain lines
    assert "warning: 2025/admin_counts.csv" in first.output  # warnings on the console
    (out / "my-notes.txt").write_text("mine")
    (out / "opendata" / "my-extra.csv").write_text("mine too")
    again = runner.invoke(app, ["run", "--data", str(data), "--out", str(out)])
    assert again.exit_code == 1 and "already published" in again.output
    forced = runner.invoke(app, ["run", "--data", str(data), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / "my-notes.txt").read_text() == "mine"
    assert (out / "opendata" / "my-extra.csv").read_text() == "mine too"
    assert (out / "run_record.json").is_file() and (out / "private").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "out"]


def test_run_into_an_empty_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert runner.invoke(app, ["init", str(data)]).exit_code == 0
    (tmp_path / "out").mkdir()
    result = runner.invoke(app, ["run", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "opendata" / "estimates.csv").is_file()


def test_simulate_small_area(tmp_path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--small-area", "--reps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "EBLUP RMSE below the direct" in result.output
    assert (out / "small_area_coverage.csv").exists()
