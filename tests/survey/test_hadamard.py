"""hadamard(n) must be exactly R survey 4.1.1's hadamard(n) (tests/reference/hadamard.R)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from barometer.survey.hadamard import hadamard, paley_prime, stored, sylvester
from conftest import REPO

REF = json.loads((REPO / "tests" / "reference" / "hadamard.json").read_text())


def _from_hex(rows: list[str]) -> np.ndarray:
    size = len(rows)
    return np.array([[int(c) for c in bin(int(r, 16))[2:].zfill(size)] for r in rows],
                    dtype=np.int8)


def _is_hadamard(h: np.ndarray) -> bool:
    pm = 2 * h.astype(np.int64) - 1
    return h.shape[0] == h.shape[1] and np.array_equal(pm @ pm.T, h.shape[0] * np.eye(h.shape[0]))


def test_reference_file() -> None:
    assert REF["survey_version"] == "4.1.1"
    assert [int(n) for n in REF["full"]] == [*range(1, 101), 127, 200, 255]
    assert [int(n) for n in REF["md5"]] == list(range(101, 601))


@pytest.mark.parametrize("n", [int(n) for n in REF["full"]])
def test_equals_r(n: int) -> None:
    expected = _from_hex(REF["matrices"][REF["full"][str(n)]])
    got = hadamard(n)
    assert got.shape == expected.shape, f"order {got.shape[0]}, R {expected.shape[0]}"
    assert np.array_equal(got, expected)
    assert got.shape[0] > n
    assert _is_hadamard(got)


def test_equals_r_md5_101_to_600() -> None:
    wrong = []
    for key, (order, digest) in REF["md5"].items():
        h = hadamard(int(key))
        text = np.hstack([h + ord("0"), np.full((h.shape[0], 1), ord("\n"))]).astype(np.uint8)
        if h.shape[0] != order or hashlib.md5(text.tobytes()).hexdigest() != digest:
            wrong.append((int(key), h.shape[0], order))
    assert not wrong, f"(n, order, R's order) differing from R: {wrong}"


@pytest.mark.parametrize("n", [0, *range(1, 80), 100, 127, 255, 600, 1000])
def test_orthogonal(n: int) -> None:
    h = hadamard(n)
    assert set(np.unique(h)) <= {0, 1}
    assert h.shape[0] > n
    assert _is_hadamard(h)


@pytest.mark.parametrize("size", [4, 16, 28, 36])
def test_stored_are_hadamard(size: int) -> None:
    assert _is_hadamard(stored(size))


def test_sylvester_and_paley() -> None:
    assert all(_is_hadamard(sylvester(2**k)) for k in range(8))
    for q in (3, 7, 11, 19, 23, 31, 43, 47, 59, 67, 71, 79, 83, 103, 107, 127):
        h = paley_prime(q)
        assert _is_hadamard(h)
        assert (h[0] == 1).all() and (h[:, 0] == 1).all()
    with pytest.raises(ValueError):
        paley_prime(13)  # 13 = 1 (mod 4)
    with pytest.raises(ValueError):
        paley_prime(15)  # not prime
    with pytest.raises(ValueError):
        sylvester(12)
