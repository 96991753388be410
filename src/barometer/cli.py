"""Command-line interface: a thin layer over the library (typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="barometer: survey weighting, estimation and the annual scoreboard.")


@app.callback()
def _root() -> None:
    """barometer: survey weighting, estimation and the annual scoreboard."""


@app.command()
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
        typer.echo(f"error: cases file not found: {cases}", err=True)
        raise typer.Exit(2)
    results = run_verify(cases, data_dir, tol)
    for r in results:
        typer.echo(r.line())
    failed = sum(not r.passed for r in results)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


def _resolve_year(year: int | None, data: Path | None) -> int:
    from barometer.scoreboard.load import available_years

    years = available_years(data)
    if year is None:
        return max(years)
    if year not in years:
        typer.echo(f"error: no edition {year} in {data or 'the embedded data'} "
                   f"(available: {', '.join(map(str, years))})", err=True)
        raise typer.Exit(2)
    return year


@app.command()
def run(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder (default: embedded "
                                                   "synthetic editions)")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default: "
                                                  "reports/<year>)")] = None,
    variance: Annotated[str, typer.Option(help="linearization or bootstrap")] = "linearization",
    replicates: Annotated[int, typer.Option(help="bootstrap replicates")] = 200,
    seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 20161,
    force: Annotated[bool, typer.Option(help="replace an already published edition")] = False,
) -> None:
    """Run the annual scoreboard: weighting, estimation, admin join, open data, note."""
    import sys

    from rich.console import Console

    from barometer.publish.opendata import publish_atomically
    from barometer.run import RunConfig, compute, write_run
    from barometer.survey.errors import BarometerError

    console = Console(stderr=True)
    year = _resolve_year(year, data)
    target = out or Path("reports") / str(year)
    if target.exists() and not force:
        typer.echo(f"error: {target} already holds a published edition; nothing was "
                   "changed. Use --force to replace it.", err=True)
        raise typer.Exit(1)
    config = RunConfig(year=year, data_dir=data, out=target, variance=variance,
                       replicates=replicates, seed=seed, force=force,
                       command="barometer " + " ".join(sys.argv[1:]))
    try:
        with console.status("running") as status:
            result = compute(config, progress=lambda m: status.update(m))
            status.update("writing the outputs")
            from barometer.publish.note import write_note_and_report

            path = publish_atomically(
                target, [lambda f: write_run(result, f),
                         lambda f: write_note_and_report(result, f)], force=force)
    except BarometerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    cells = result.record["cells"]
    typer.echo(f"edition {year}: {len(result.estimates)} cells ({cells['published']} "
               f"published, {cells['caution']} caution, {cells['suppressed']} suppressed), "
               f"{int((result.admin_uptake['level'] == 'service').sum())} services")
    typer.echo(f"written to {path}")


@app.command()
def note(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest in "
                                                  "reports/)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder of the published edition "
                                                  "(default: reports/<year>)")] = None,
) -> None:
    """Regenerate the methodology note and the scoreboard report of a published edition."""
    from barometer.run import regenerate
    from barometer.survey.errors import BarometerError

    if out is None:
        reports = Path("reports")
        years = sorted(int(p.name) for p in reports.glob("[0-9][0-9][0-9][0-9]")
                       if (p / "run_record.json").is_file()) if reports.is_dir() else []
        if year is None and not years:
            typer.echo("error: no published edition in reports/; run `barometer run` first "
                       "or pass --out", err=True)
            raise typer.Exit(2)
        out = reports / str(year if year is not None else max(years))
    if not (out / "run_record.json").is_file():
        typer.echo(f"error: {out} holds no published edition (no run_record.json); run "
                   "`barometer run` first", err=True)
        raise typer.Exit(2)
    try:
        paths = regenerate(out)
    except BarometerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for p in paths:
        typer.echo(f"written {p}")


@app.command()
def weight(
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder")] = None,
) -> None:
    """Weight both populations of an edition and print the weighting diagnostics."""
    from barometer.scoreboard.indicators import load_weighting
    from barometer.scoreboard.load import load_edition
    from barometer.scoreboard.populations import weight_population

    year = _resolve_year(year, data)
    edition = load_edition(year, data)
    for pop, spec in load_weighting().items():
        wp = weight_population(getattr(edition, pop), edition.margins[pop], spec)
        typer.echo(f"== {pop} ({year}): {' > '.join(wp.design.history[1:])}")
        typer.echo(wp.diagnostics.summary())


@app.command("estimate")
def estimate_cmd(
    indicator: Annotated[str, typer.Argument(help="indicator id (see the catalogue)")],
    year: Annotated[int | None, typer.Option(help="edition (default: the latest)")] = None,
    data: Annotated[Path | None, typer.Option(help="inputs folder")] = None,
    by: Annotated[str | None, typer.Option(help="breakdown variable")] = None,
) -> None:
    """Estimate one indicator (overall and by a domain) and print the table."""
    from barometer.scoreboard.indicators import load_catalogue, load_weighting
    from barometer.scoreboard.load import load_edition
    from barometer.scoreboard.populations import estimate_indicators, weight_population

    catalogue = load_catalogue()
    try:
        ind = catalogue.get(indicator)
    except KeyError:
        typer.echo(f"error: unknown indicator {indicator!r}; known: "
                   f"{', '.join(i.id for i in catalogue.indicators)}", err=True)
        raise typer.Exit(2) from None
    year = _resolve_year(year, data)
    edition = load_edition(year, data)
    spec = load_weighting()[ind.population]
    wp = weight_population(getattr(edition, ind.population), edition.margins[ind.population],
                           spec)
    table = estimate_indicators({ind.population: wp}, catalogue)
    table = table[(table["indicator"] == indicator) & table["by"].isin(["all", by])]
    cols = ["by", "domain", "estimate", "se", "ci_low", "ci_high", "n", "deff", "status"]
    typer.echo(table[cols].to_string(index=False))


@app.command("synthesize")
def synthesize_cmd(
    out: Annotated[Path, typer.Option("--out", help="data folder to write (services.csv, "
                                                    "<year>/)")],
    years: Annotated[str, typer.Option(help="years: 2014-2025, 2016,2020 or 2025")] = (
        "2014-2025"),
    seed: Annotated[int, typer.Option(help="random seed (same seed -> same bytes)")] = 20161,
) -> None:
    """Write synthetic editions (survey samples, margins, admin counts, truth.csv)."""
    from barometer.synthetic.editions import parse_years, synthesize

    written = synthesize(out, parse_years(years), seed)
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

    from barometer.synthetic.simulate import simulate

    if scenario not in ("mar", "mnar") or variance not in ("linearization", "bootstrap"):
        typer.echo("error: --scenario takes mar or mnar; --variance linearization or "
                   "bootstrap", err=True)
        raise typer.Exit(2)
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
