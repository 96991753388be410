"""Shared fixtures: the R reference cases, the API data sets, and one published run of the
latest shipped edition (the publishing tests read it)."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from barometer.publish.note import write_note_and_report
from barometer.publish.opendata import publish_atomically
from barometer.run import RunConfig, RunResult, compute, write_run
from barometer.verify import shipped_reference

# Property tests draw the same examples on every machine, so CI on a clean clone sees what a
# developer saw; `HYPOTHESIS_PROFILE=explore pytest` draws new random examples to search more.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BAROMETER_SHARED", REPO.parent / "shared"))
R_REFERENCE = SHARED / "reference" / "r-survey"
SHIPPED = shipped_reference()


def api(name: str) -> pd.DataFrame:
    """One of R's API samples (apisrs, apistrat, apiclus1, apipop), as shipped with the
    package's reference cases."""
    return pd.read_csv(SHIPPED / "data" / f"{name}.csv")


@pytest.fixture(scope="session")
def apistrat() -> pd.DataFrame:
    return api("apistrat")


@pytest.fixture(scope="session")
def apiclus1() -> pd.DataFrame:
    return api("apiclus1")


@pytest.fixture(scope="session")
def apisrs() -> pd.DataFrame:
    return api("apisrs")


@functools.cache
def published_run() -> tuple[RunResult, Path]:
    """The latest edition computed once and published into a temporary ``reports/`` folder."""
    from barometer.verify import verification_summary

    result = compute(RunConfig(command="barometer run"))
    result.record["verification"] = verification_summary()  # as `barometer run` records it
    reports = Path(tempfile.mkdtemp(prefix="barometer-note-test-"))
    atexit.register(shutil.rmtree, reports, ignore_errors=True)
    folder = publish_atomically(reports / str(result.year),
                                [lambda f: write_run(result, f),
                                 lambda f: write_note_and_report(result, f)])
    return result, folder


@pytest.fixture(scope="module")
def run() -> tuple[RunResult, Path]:
    """The latest edition, computed and published once (result, published folder)."""
    return published_run()
