"""Shared fixtures: the R reference cases and the API data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

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
