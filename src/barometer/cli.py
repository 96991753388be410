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
    cases: Annotated[Path, typer.Argument(help="reference cases JSON (R survey format)")],
    data_dir: Annotated[Path | None, typer.Option(help="data folder (default: data/ beside "
                                                       "the cases file)")] = None,
    tol: Annotated[float, typer.Option(help="relative tolerance")] = 1e-6,
) -> None:
    """Run reference cases computed with R's survey package and compare every number."""
    from barometer.verify import verify as run_verify

    if not cases.is_file():
        typer.echo(f"error: cases file not found: {cases}", err=True)
        raise typer.Exit(2)
    results = run_verify(cases, data_dir, tol)
    for r in results:
        typer.echo(r.line())
    failed = sum(not r.passed for r in results)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)
