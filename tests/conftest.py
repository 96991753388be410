"""Shared fixtures: the R reference cases and the API data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from barometer.verify import shipped_reference

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
