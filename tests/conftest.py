"""Shared fixtures: the R reference cases and the API data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BAROMETER_SHARED", REPO.parent / "shared"))
R_REFERENCE = SHARED / "reference" / "r-survey"


def api(name: str) -> pd.DataFrame:
    """One of R's API samples (apisrs, apistrat, apiclus1, apipop)."""
    path = R_REFERENCE / "data" / f"{name}.csv"
    if not path.exists():
        pytest.fail(f"R reference data missing: {path} (clone shared/ beside the repo)")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def apistrat() -> pd.DataFrame:
    return api("apistrat")


@pytest.fixture(scope="session")
def apiclus1() -> pd.DataFrame:
    return api("apiclus1")


@pytest.fixture(scope="session")
def apisrs() -> pd.DataFrame:
    return api("apisrs")
