"""Every R reference case must agree with R's survey to 1e-6.

The cases shipped with the package (``barometer/data/reference``: the core cases, the extra
cases and the survey 4.5 design cases of ``parity-extra.json``) always run; the shared
folder's files (``../shared/reference/r-survey``) run too when that folder sits beside the
repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from barometer.verify import SHIPPED as DEFAULT_FILES
from barometer.verify import TOLERANCE, load_cases, run_case
from conftest import R_REFERENCE, SHIPPED

SHARED_FILES = [R_REFERENCE / "cases.json", R_REFERENCE / "cases-parity.json"]
SHIPPED_FILES = [SHIPPED / name for name in DEFAULT_FILES]


def _cases(files: list[Path]) -> list[tuple[Path, dict]]:
    return [(src, c) for src in files if src.exists() for c in load_cases(src)]


SHIPPED_CASES = _cases(SHIPPED_FILES)
SHARED_CASES = _cases(SHARED_FILES)
needs_shared = pytest.mark.skipif(not R_REFERENCE.exists(),
                                  reason=f"no shared R reference folder at {R_REFERENCE}")


def test_shipped_cases_present() -> None:
    assert len(SHIPPED_CASES) >= 24 + 18 + 123 + 41 + 96  # core, parity, extra, estimators, designs


@pytest.mark.parametrize(("source", "case"), SHIPPED_CASES,
                         ids=[f"{s.stem}:{c['id']}" for s, c in SHIPPED_CASES])
def test_shipped_case_matches_r(source: Path, case: dict) -> None:
    result = run_case(case, source.parent / "data")
    assert result.passed, result.line()
    assert result.max_rel_error <= TOLERANCE


@needs_shared
@pytest.mark.parametrize(("name", "shipped"), [("cases.json", "core.json"),
                                               ("cases-parity.json", "parity.json")])
def test_shipped_copy_equals_shared(name: str, shipped: str) -> None:
    assert load_cases(R_REFERENCE / name) == load_cases(SHIPPED / shipped), (
        f"{SHIPPED / shipped} differs from {R_REFERENCE / name}: copy the shared file")


@needs_shared
@pytest.mark.parametrize(("source", "case"), SHARED_CASES or [pytest.param(None, None)],
                         ids=[f"shared-{s.stem}:{c['id']}" for s, c in SHARED_CASES] or ["none"])
def test_shared_case_matches_r(source: Path, case: dict) -> None:
    result = run_case(case, source.parent / "data")
    assert result.passed, result.line()
    assert result.max_rel_error <= TOLERANCE
