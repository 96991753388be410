"""Every R reference case (shared and extra) must agree with R's survey to 1e-6."""

from __future__ import annotations

from pathlib import Path

import pytest

from barometer.verify import TOLERANCE, load_cases, run_case
from conftest import R_REFERENCE, REPO

SOURCES = [R_REFERENCE / "cases.json", REPO / "tests" / "reference" / "extra" / "cases.json"]


def _cases() -> list[tuple[Path, dict]]:
    out = []
    for src in SOURCES:
        if src.exists():
            out.extend((src, c) for c in load_cases(src))
    return out


CASES = _cases()


def test_shared_reference_present() -> None:
    assert (R_REFERENCE / "cases.json").exists(), f"missing {R_REFERENCE}/cases.json"
    assert len([c for s, c in CASES if s == SOURCES[0]]) >= 24


@pytest.mark.parametrize(("source", "case"), CASES, ids=[c["id"] for _, c in CASES])
def test_case_matches_r(source: Path, case: dict) -> None:
    result = run_case(case, source.parent / "data")
    assert result.passed, result.line()
    assert result.max_rel_error <= TOLERANCE
