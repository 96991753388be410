"""Hadamard matrices for balanced repeated replication (0/1 coding, 1 = +1).

``hadamard(n)`` returns a Hadamard matrix with at least n + 1 rows, *the same matrix* as
R's ``survey::hadamard(n)`` (survey 4.1.1; Lumley 2010, *Complex Surveys*, section 2.3.3),
so that BRR and Fay BRR replicates, and hence variances of non-linear statistics, agree with
R. The matrix is chosen as R chooses it:

1. R stores four "precooked" matrices of orders 4, 16, 28 and 36. With m = n - n mod 4, the
   smallest stored order in (m, m + 4] is returned if there is one (so n = 0..3, 12..15,
   24..27 and 32..35 get orders 4, 16, 28 and 36). The orders 4 and 16 are Sylvester's
   matrices; the stored 28 and 36 are embedded below as data.
2. Otherwise each stored order s is doubled up to s * 2^k >= n + 1 and the best fit (the
   smallest such order, the first of 4, 16, 28, 36 on ties) is taken.
3. If the best fit exceeds n by more than 4, Paley's construction is tried first
   (``paley``, below: R's ``paley(n, nmax = best fit)``), which may give a smaller order.
4. Otherwise, or if Paley finds no prime, the stored matrix of the best fit is doubled as
   Sylvester (1867) did: H -> [[H, H], [H, 1 - H]].

Paley (1933), construction I: for a prime q = 3 (mod 4), the q x q matrix with entry 1 at
(i, j) where (i + j) mod q is a non-zero quadratic non-residue and 0 elsewhere, bordered by a
first row and a first column of ones, is a Hadamard matrix of order q + 1 (0/1 coding). Rows
and columns are in R's order: i, j = 0..q-1, after the border.

Sources: J. J. Sylvester (1867), Phil. Mag. 34, 461-475; R. E. A. C. Paley (1933), J. Math.
Phys. 12, 311-320; T. Lumley, R package ``survey``, functions ``hadamard``, ``paley`` and
``hadamard.doubler`` (the choice rule and R's prime table are reimplemented here, the
stored matrices of orders 28 and 36 copied as data).
"""

from __future__ import annotations

import numpy as np

# R survey's stored Hadamard matrices of orders 28 and 36 (``survey:::hadamard.list[3:4]``),
# one row per hexadecimal string: the row's 0/1 entries read as a binary number.
_STORED_HEX = {
    28: """fffffff 9c71c78 83cd378 83b2e66 9a0f8d6 952c5ae 8cd239e 58aa7f0 45b59d4 46cbcac
           561774a 4b64e9a 5959b26 2d1eae8 3666b34 2b3b51c 31d74b2 32f89ca 2ced646 ea545e4
           f1632cc f09ce1c e54ad52 e6392b2 e8a792a dffe000 bf81f80 7f8007e""",
    36: """fffffffff 5c7dc8564 b8fb90ac8 71f721592 e3ee42b24 c7dc8564a 8fb90ac96 1f721592e
           3ee42b25c 7dc8564b8 fb90ac970 f721592e2 ee42b25c6 dc8564b8e b90ac971e 721592e3e
           e42b25c7c c8564b8fa 90ac971f6 21592e3ee 42b25c7dc 8564b8fb8 0ac971f72 1592e3ee4
           2b25c7dc8 564b8fb90 ac971f720 592e3ee42 b25c7dc84 64b8fb90a c971f7214 92e3ee42a
           25c7dc856 4b8fb90ac 971f72158 2e3ee42b2""",
}

#: the orders of R's stored matrices, in R's order (ties in the best fit go to the first)
STORED_SIZES = (4, 16, 28, 36)

#: R's ``paley`` knows the primes q = 3 (mod 4) up to 7919 (the 1000th prime)
_MAX_PRIME = 7919


def _is_prime(q: int) -> bool:
    if q < 2:
        return False
    d = 2
    while d * d <= q:
        if q % d == 0:
            return False
        d += 1
    return True


_SMALL_PRIMES = tuple(q for q in range(3, _MAX_PRIME + 1, 4) if _is_prime(q))


def sylvester(size: int) -> np.ndarray:
    """Sylvester's (1867) Hadamard matrix of a power-of-two ``size`` (0/1 coding).

    Entry 1 where the bits of the row and column indices share an even number of ones, the
    same matrix as doubling [[1]] with H -> [[H, H], [H, 1 - H]].
    """
    if size < 1 or size & (size - 1):
        raise ValueError(f"Sylvester's construction needs a power of two, not {size}")
    i = np.arange(size)
    bits = np.bitwise_and(i[:, None], i[None, :])
    parity = np.zeros_like(bits)
    while bits.any():
        parity ^= bits & 1
        bits >>= 1
    return (1 - parity).astype(np.int8)


def _double(h: np.ndarray) -> np.ndarray:
    """Sylvester's doubling H -> [[H, H], [H, 1 - H]] (R's ``hadamard.doubler``)."""
    return np.block([[h, h], [h, 1 - h]]).astype(np.int8)


def stored(size: int) -> np.ndarray:
    """R survey's stored Hadamard matrix of order ``size`` (4, 16, 28 or 36), 0/1 coding."""
    if size in (4, 16):
        return sylvester(size)
    if size not in _STORED_HEX:
        raise ValueError(f"R stores Hadamard matrices of orders {STORED_SIZES}, not {size}")
    rows = [bin(int(r, 16))[2:].zfill(size) for r in _STORED_HEX[size].split()]
    return np.array([[int(c) for c in r] for r in rows], dtype=np.int8)


def paley_prime(q: int) -> np.ndarray:
    """Paley's (1933) Hadamard matrix of order q + 1 for a prime q = 3 (mod 4), 0/1 coding.

    A first row and column of ones around the q x q matrix whose (i, j) entry is 1 where
    (i + j) mod q is a quadratic non-residue of q (R's ``paley(prime = q)``).
    """
    if q < 3 or q % 4 != 3 or not _is_prime(q):
        raise ValueError(f"Paley's construction needs a prime q = 3 (mod 4), not {q}")
    residue = np.zeros(q, dtype=bool)
    residue[0] = True
    residue[(np.arange(1, (q - 1) // 2 + 1) ** 2) % q] = True
    i = np.arange(q)
    core = np.where(residue[(i[:, None] + i[None, :]) % q], 0, 1)
    out = np.ones((q + 1, q + 1), dtype=np.int8)
    out[1:, 1:] = core
    return out


def paley(n: int, nmax: int | None = None) -> np.ndarray | None:
    """R's ``paley(n, nmax)``: a Hadamard matrix of order > n from Paley's construction.

    As R: if n mod 8 is 4..7, the next multiple of 4 above n is halved while it is a
    multiple of 8, and if one less is a prime q = 3 (mod 4) the Paley matrix of q is doubled
    back up. Otherwise the smallest prime q >= n (q = 3 mod 4, q <= 7919) is used, unless
    its order overshoots the next multiple of 4 by more than 4 (then R tries
    ``paley(nceil + 3)``) or q > nmax (then there is no matrix: ``None``).
    """
    if nmax is None:
        nmax = 2 * n
    nceil = nn = n + 4 - n % 4
    if n % 4 + 4 == n % 8:
        while nn % 8 == 0:
            nn //= 2
        if nn - 1 in _SMALL_PRIMES:
            h = paley_prime(nn - 1)
            while nn < nceil:
                h = _double(h)
                nn *= 2
            return h
    if n > _MAX_PRIME:
        return None
    q = next(p for p in _SMALL_PRIMES if p >= n)
    if q + 1 > nceil + 4 and nceil + 4 < nmax:
        return paley(nceil + 3)
    if q > nmax:
        return None
    return paley_prime(q)


def hadamard(n: int) -> np.ndarray:
    """The 0/1 Hadamard matrix (order > n) that R's ``survey::hadamard(n)`` returns.

    See the module docstring for R's choice among its stored matrices, Sylvester's doubling
    and Paley's construction. BRR uses rows 2..n+1 (one per stratum) and every column (one
    per replicate).
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"hadamard needs n >= 0, not {n}")
    m = n - n % 4
    for size in STORED_SIZES:
        if m < size <= m + 4:
            return stored(size)
    doublings = []
    for size in STORED_SIZES:
        k = 0
        while size << k < n + 1:
            k += 1
        doublings.append(k)
    fits = [size << k for size, k in zip(STORED_SIZES, doublings, strict=True)]
    best = min(range(len(fits)), key=lambda b: fits[b])  # first of equal fits, as which.min
    h = paley(n, fits[best]) if fits[best] - n > 4 else None
    if h is None:
        h = stored(STORED_SIZES[best])
        for _ in range(doublings[best]):
            h = _double(h)
    return h
