"""Hadamard matrices for balanced repeated replication (0/1 coding, 1 = +1).

``hadamard(n)`` returns a matrix with at least n + 1 rows, the same choice as R's
``survey::hadamard`` so that BRR replicates (and hence variances of non-linear statistics)
agree with R: Sylvester's construction H_{2m} = [[H, H], [H, 1 - H]] (entry 1 where the bits
of the row and column indices share an even number of ones).
"""

from __future__ import annotations

import numpy as np


def sylvester(size: int) -> np.ndarray:
    """Sylvester's Hadamard matrix of a power-of-two ``size`` (0/1 coding)."""
    if size < 1 or size & (size - 1):
        raise ValueError(f"Sylvester's construction needs a power of two, not {size}")
    i = np.arange(size)
    bits = np.bitwise_and(i[:, None], i[None, :])
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return (1 - parity).astype(np.int8)


def hadamard(n: int) -> np.ndarray:
    """A 0/1 Hadamard matrix with more than ``n`` rows, as R's ``hadamard(n)``."""
    size = 4
    while size < n + 1:
        size *= 2
    return sylvester(size)
