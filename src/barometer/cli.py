"""Command-line interface: a thin layer over the library (typer).

Every user error (bad argument, bad input file, bad folder) ends in one ``error:`` message
naming what and where, and an exit status of 1 (2 for a bad argument), never a traceback.
Warnings go to the console (stderr); progress is a spinner on a terminal and plain lines
otherwise (a log, a CI job).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="barometer: survey weighting, estimation and the annual scoreboard.")

F = TypeVar("F", bound=Callable[..., Any])


def _err(message: str) -> None:
    """One line (or block) on stderr."""
    typer.echo(message, err=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` and return the Exit to raise."""
    _err(f"error: {message}")
    return typer.Exit(code)


def _report_input_error(exc: Any) -> None:
    """Print an InputError's table; when it cannot list every row, write the whole table
    to a file in the temporary folder and say where."""
    import tempfile

    from barometer.scoreboard.problems import needs_file, write_problems

    _err(f"error: {exc}")
    if needs_file(exc.problems):
        fd, name = tempfile.mkstemp(prefix="barometer-problems-", suffix=".csv")
        import os

        os.close(fd)
        path = write_problems(exc.problems, Path(name))
        _err(f"every problem with all its rows: {path}")


def user_errors(fn: F) -> F:
    """Turn the errors a user can cause into an ``error:`` message and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from barometer.scoreboard.problems import InputError
        from barometer.survey.errors import BarometerError

        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            _report_input_error(exc)
            raise typer.Exit(1) from None
        except BarometerError as exc:
            _err(f"error: {exc}")
            raise typer.Exit(1) from None
        except (OSError, UnicodeError) as exc:
            _err(f"error: {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


class Progress:
    """Progress messages: a spinner on a terminal, plain ``barometer: ...`` lines on
    stderr otherwise."""

    def __init__(self) -> None:
        self.status: Any = None

    def __enter__(self) -> Progress:
        if sys.stderr.isatty():
            from rich.console import Console

            self.status = Console(stderr=True).status("running")
            self.status.__enter__()
        return self

    def __call__(self, message: str) -> None:
        if self.status is not None:
            self.status.update(message)
        else:
            _err(f"barometer: {message}")

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)


@app.callback()
def _root() -> None:
    """barometer: survey weighting, estimation and the annual scoreboard."""


@app.command()
@user_errors
def verify(
    cases: Annotated[Path | None, typer.Argument(
        help="reference cases JSON (R survey format); default: the cases shipped with the "
        "package")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="data folder (default: data/ beside "
                                                       "the cases file)")] = None,
    tol: Annotated[float, typer.Option(help="relative tolerance")] = 1e-6,
) -> None:
    """Run reference cases computed with R's survey package and compare every number."""
    from barometer.verify import verify as run_verify

    if cases is not None and not cases.is_file():
        raise _fail(f"cases file not found: {cases}")
    if data_dir is not None and not data_dir.is_dir():
        raise _fail(f"data folder not found: {data_dir}")
    if not tol > 0:
        raise _fail(f"--tol must be > 0, not {tol}")
    try:
        results = run_verify(cases, data_dir, tol)
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail(f"cannot read the cases file {cases}: {exc}", 1) from None
    for r in results:
        typer.echo(r.line())
    failed = sum(not r.passed for r in results)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


def _check_data(data: Path | None) -> None:
    """Refuse a --data that is not a folder."""
    if data is not None and not data.is_dir():
        what = "is a file, not a folder" if data.exists() else "does not exist"
        raise _fail(f"--data {data} {what}; give the data folder (see docs/data-folder.md)")


def _resolve_year(year: int | None, data: Path | None) -> int:
    from barometer.scoreboard.load import available_years

    _check_data(data)
    years = available_years(data)
    if not years:
        inside = data is not None and any(data.glob("individuals.*"))
        raise _fail(f"no edition folder (<year>/) in {data or 'the embedded data'}; " + (
            f"this looks like an edition folder: give the folder above it, {data.parent}"
            if inside and data is not None
            else "`barometer init DIR` scaffolds a data folder"))
    if year is None:
        return max(years)
    if year not in years:
        raise _fail(f"no edition {year} in {data or 'the embedded data'} "
                    f"(available: {', '.join(map(str, years))})")
    return year


def _config(data: Path | None) -> Any:
    """The configuration of the data folder (or the package's)."""
    from barometer.scoreboard.config import load_configuration
    from barometer.scoreboard.load import default_data_dir

    return load_configuration(data if data is not None else default_data_dir())


def _print_warnings(warnings: Any) -> None:
    for w in warnings:
        _err(w.line())


@app.command()
@user_errors
def run(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder (default: embedded "
                                                   "synthetic editions)")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default: "
                                                  "reports/<year>)")] = None,
    variance: Annotated[str, typer.Option(help="linearization or bootstrap")] = "linearization",
    replicates: Annotated[int, typer.Option(help="bootstrap replicates")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 20161,
    force: Annotated[bool, typer.Option(help="replace an already published edition (files "
                                             "barometer did not write are kept)")] = False,
) -> None:
    """Run the annual scoreboard: weighting, estimation, admin join, open data, note."""
    from barometer.publish.note import write_note_and_report
    from barometer.publish.opendata import check_target, publish_atomically
    from barometer.run import VARIANCE_METHODS, RunConfig, compute, write_run
    from barometer.verify import verification_summary

    if variance not in VARIANCE_METHODS:
        raise _fail(f"--variance takes {' or '.join(VARIANCE_METHODS)}, not {variance!r}")
    if variance == "bootstrap" and replicates < 2:
        raise _fail(f"--replicates must be at least 2, not {replicates}")
    if seed < 0:
        raise _fail(f"--seed must be >= 0, not {seed}")
    year = _resolve_year(year, data)
    target = out or Path("reports") / str(year)
    check_target(target, force=force)
    config = RunConfig(year=year, data_dir=data, out=target, variance=variance,
                       replicates=replicates, seed=seed, force=force,
                       command="barometer " + " ".join(sys.argv[1:]))
    with Progress() as say:
        result = compute(config, progress=say)
        _print_warnings(result.edition.warnings if result.edition is not None else ())
        say("checking the estimators against the shipped R reference cases")
        result.record["verification"] = verification_summary()
        say("writing the outputs")
        path = publish_atomically(
            target, [lambda f: write_run(result, f),
                     lambda f: write_note_and_report(result, f)], force=force)
    cells = result.record["cells"]
    typer.echo(f"edition {year}: {len(result.estimates)} cells ({cells['published']} "
               f"published, {cells['caution']} caution, {cells['suppressed']} suppressed), "
               f"{int((result.admin_uptake['level'] == 'service').sum())} services")
    warned = len(result.edition.warnings) if result.edition is not None else 0
    if warned:
        typer.echo(f"{warned} input warning(s), listed above and in the methodology note")
    typer.echo(f"written to {path}")


@app.command()
@user_errors
def note(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest in "
                                                  "reports/)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder of the published edition "
                                                  "(default: reports/<year>)")] = None,
) -> None:
    """Regenerate the methodology note and the scoreboard report of a published edition."""
    from barometer.run import regenerate

    if out is None:
        reports = Path("reports")
        years = sorted(int(p.name) for p in reports.glob("[0-9][0-9][0-9][0-9]")
                       if (p / "run_record.json").is_file()) if reports.is_dir() else []
        if year is None and not years:
            raise _fail("no published edition in reports/; run `barometer run` first "
                        "or pass --out")
        out = reports / str(year if year is not None else max(years))
    if not (out / "run_record.json").is_file():
        raise _fail(f"{out} holds no published edition (no run_record.json); run "
                    "`barometer run` first")
    paths = regenerate(out)
    for p in paths:
        typer.echo(f"written {p}")


@app.command()
@user_errors
def weight(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder")] = None,
) -> None:
    """Weight both populations of an edition and print the weighting diagnostics."""
    from barometer.scoreboard.load import load_edition
    from barometer.scoreboard.populations import weight_population

    year = _resolve_year(year, data)
    setup = _config(data)
    edition = load_edition(year, data, config=setup)
    _print_warnings(edition.warnings)
    for pop, spec in setup.weighting.items():
        wp = weight_population(getattr(edition, pop), edition.margins[pop], spec)
        typer.echo(f"== {pop} ({year}): {' > '.join(wp.design.history[1:])}")
        typer.echo(wp.diagnostics.summary())


@app.command("estimate")
@user_errors
def estimate_cmd(
    indicator: Annotated[str, typer.Argument(help="indicator id (see the catalogue)")],
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder")] = None,
    by: Annotated[str | None, typer.Option(help="breakdown variable (a domain of the "
                                                "catalogue)")] = None,
) -> None:
    """Estimate one indicator (overall and by a domain) and print the table."""
    from barometer.scoreboard.load import load_edition
    from barometer.scoreboard.populations import estimate_indicators, weight_population

    _check_data(data)
    setup = _config(data)
    catalogue = setup.catalogue
    try:
        ind = catalogue.get(indicator)
    except KeyError:
        raise _fail(f"unknown indicator {indicator!r}; available: "
                    f"{', '.join(i.id for i in catalogue.indicators)}") from None
    domains = catalogue.domains.get(ind.population, ())
    if by is not None and by not in domains:
        raise _fail(f"unknown domain {by!r} for {indicator} ({ind.population}); available: "
                    f"{', '.join(domains)}")
    year = _resolve_year(year, data)
    edition = load_edition(year, data, config=setup)
    _print_warnings(edition.warnings)
    if ind.item not in edition.survey(ind.population).columns:
        item = setup.codebook.item(ind.population, ind.item)
        raise _fail(f"indicator {indicator} has no estimate in {year}: its item "
                    f"{ind.item!r} is asked {item.years_text()}", 1)
    spec = setup.weighting[ind.population]
    wp = weight_population(getattr(edition, ind.population), edition.margins[ind.population],
                           spec)
    table = estimate_indicators({ind.population: wp}, catalogue)
    table = table[(table["indicator"] == indicator) & table["by"].isin(["all", by])]
    cols = ["by", "domain", "estimate", "se", "ci_low", "ci_high", "n", "deff", "status"]
    typer.echo(table[cols].to_string(index=False))


@app.command("init")
@user_errors
def init_cmd(
    folder: Annotated[Path, typer.Argument(help="data folder to create (must be new or "
                                                "empty)")],
    from_year: Annotated[int | None, typer.Option(help="first edition to copy (default: "
                                                       "the latest only)")] = None,
) -> None:
    """Scaffold a data folder from the embedded edition: its configuration (codebook,
    indicator catalogue, weighting specification, services) and its editions from
    --from-year on, to edit and fill in (see docs/data-folder.md)."""
    from barometer.scoreboard.load import available_years, default_data_dir, scaffold

    years = available_years(default_data_dir())
    if from_year is not None and from_year not in years:
        raise _fail(f"--from-year {from_year}: no such embedded edition (available: "
                    f"{years[0]} to {years[-1]})")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise _fail(f"{folder} exists and is not an empty folder; nothing was written. "
                    "Choose a new folder.")
    written = scaffold(folder, from_year if from_year is not None else years[-1])
    typer.echo(f"wrote {len(written)} files to {folder}; edit them, then run "
               f"`barometer check {folder}`")


@app.command("check")
@user_errors
def check_cmd(
    folder: Annotated[Path, typer.Argument(help="data folder to validate")],
    year: Annotated[int | None, typer.Option(help="only this edition (default: all)")] = None,
) -> None:
    """Validate a data folder without running anything: configuration and every edition.
    Every problem in one table; exit status 1 if any is an error."""
    from barometer.scoreboard.load import available_years, check_folder
    from barometer.scoreboard.problems import InputError, render_table

    _check_data(folder)
    years = None
    if year is not None:
        found = available_years(folder)
        if year not in found:
            raise _fail(f"no edition {year} in {folder} (available: "
                        f"{', '.join(map(str, found)) or 'none'})")
        years = [year]
    checked, problems = check_folder(folder, years)
    errors = sum(p.severity == "error" for p in problems)
    if problems:
        if errors:
            _report_input_error(InputError(problems, context=f" of {folder}"))
        else:
            typer.echo(render_table(problems))
    if checked:
        span = f"{checked[0]} to {checked[-1]}" if len(checked) > 1 else str(checked[0])
        what = f"configuration and editions {span}"
    else:
        what = "configuration only: the editions are checked once it loads"
    typer.echo(f"checked {folder} ({what}): {errors} error(s), "
               f"{len(problems) - errors} warning(s)")
    raise typer.Exit(1 if errors else 0)


@app.command("synthesize")
@user_errors
def synthesize_cmd(
    out: Annotated[Path, typer.Option("--out", help="data folder to write (services.csv, "
                                                    "<year>/)")],
    years: Annotated[str, typer.Option(help="years: 2014-2025, 2016,2020 or 2025")] = (
        "2014-2025"),
    seed: Annotated[int, typer.Option(help="random seed (same seed -> same bytes)")] = 20161,
) -> None:
    """Write synthetic editions (survey samples, margins, admin counts, truth.csv)."""
    from barometer.synthetic.editions import parse_years, synthesize

    try:
        chosen = parse_years(years)
    except ValueError:
        chosen = []
    if not chosen or any(not 1900 <= y <= 2100 for y in chosen):
        raise _fail(f"--years {years!r}: write years as 2014-2025, 2016,2020 or 2025")
    if seed < 0:
        raise _fail(f"--seed must be >= 0, not {seed}")
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is a file, not a folder")
    written = synthesize(out, chosen, seed)
    typer.echo(f"wrote {len(written)} files to {out}")


def _simulate_small_area(reps: int, seed: int, out: Path, year: int | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from barometer.synthetic.small_area_sim import simulate_small_area

    bar = Progress(TextColumn("small areas"), BarColumn(), MofNCompleteColumn(),
                   console=Console(stderr=True))
    with bar:
        task = bar.add_task("samples", total=reps)
        result = simulate_small_area(reps=reps, seed=seed, year=year,
                                     progress=lambda d, t: bar.update(task, completed=d,
                                                                      total=t))
    paths = result.write(out)
    typer.echo(result.summary())
    typer.echo(f"written {', '.join(str(p) for p in paths)}")


@app.command("simulate")
@user_errors
def simulate_cmd(
    reps: Annotated[int, typer.Option(help="number of simulated samples")] = 1000,
    seed: Annotated[int, typer.Option(help="random seed (same seed -> same table)")] = 20161,
    variance: Annotated[str, typer.Option(help="linearization or bootstrap")] = (
        "linearization"),
    scenario: Annotated[str, typer.Option(help="mar (response on the calibration variables) "
                                               "or mnar (also on internet use)")] = "mar",
    out: Annotated[Path, typer.Option(help="output folder (coverage.csv, coverage.png...)")] = (
        Path("reports") / "simulation"),
    jobs: Annotated[int | None, typer.Option(help="worker processes (default: all cores)")] = (
        None),
    year: Annotated[int | None, typer.Option(help="population year (default: the latest)")] = (
        None),
    replicates: Annotated[int, typer.Option(help="bootstrap replicates")] = 200,
    small_area: Annotated[bool, typer.Option(
        "--small-area", help="check the regional Fay–Herriot estimates instead: coverage of "
        "their intervals, RMSE against the direct estimates, bias of the estimated MSE")] = (
        False),
) -> None:
    """Simulation check: coverage of the 95% intervals over repeated samples of a known
    synthetic population, weighted and estimated as in the annual run."""
    if small_area:
        _simulate_small_area(reps, seed, out, year)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from barometer.scoreboard.load import available_years
    from barometer.synthetic.simulate import simulate

    if scenario not in ("mar", "mnar") or variance not in ("linearization", "bootstrap"):
        raise _fail("--scenario takes mar or mnar; --variance linearization or bootstrap")
    if reps < 1 or seed < 0 or (jobs is not None and jobs < 1) or replicates < 2:
        raise _fail("--reps and --jobs must be >= 1, --replicates >= 2 and --seed >= 0")
    if year is not None and year not in available_years():
        raise _fail(f"no embedded edition {year} (available: "
                    f"{', '.join(map(str, available_years()))})")
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is a file, not a folder")
    bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
    with bar:
        task = bar.add_task("samples", total=reps)
        result = simulate(reps=reps, seed=seed, variance=variance, scenario=scenario,
                          jobs=jobs, year=year, replicates=replicates,
                          progress=lambda done, total: bar.update(task, completed=done,
                                                                  total=total))
    paths = result.write(out)
    typer.echo(result.summary().rsplit("\n", 1)[0])
    typer.echo(f"written {', '.join(str(p) for p in paths)} ({result.seconds:.1f} s)")
    typer.echo(result.summary_line())
