"""Stage *calibrate*: the calibration record kept in a design.

The record stores what the variance needs to account for a calibration: the auxiliary
matrix ``X`` (one column per calibration constraint), the weights before calibration ``d``
and the g-weights ``g`` (final weight = g * d). Influence values are replaced by the
residuals of their regression on ``X`` weighted by ``d``, scaled back by the final weights:

    e = g d (z - X b),   b = (X' D X)^-1 X' D z,   z = influence / (g d)

(Deville & Särndal 1992, eq. 3.4; Särndal, Swensson & Wretman 1992, result 6.6.1; R's
``calibrate`` stores ``qr(X sqrt(d))`` and ``g sqrt(d)`` and ``svyrecvar`` applies
``qr.resid`` exactly so). Post-stratification is the case where ``X`` holds cell indicators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import linalg


@dataclass(frozen=True, eq=False)
class CalibrationRecord:
    """One calibration applied to a design (kept so variances account for it)."""

    method: str
    aux: np.ndarray
    names: tuple[str, ...]
    d: np.ndarray
    g: np.ndarray
    population: np.ndarray
    bounds: tuple[float, float] = (-np.inf, np.inf)
    iterations: int = 0
    converged: bool = True
    details: dict[str, object] = field(default_factory=dict)

    @cached_property
    def _basis(self) -> np.ndarray:
        """Orthonormal basis of the column space of X sqrt(d) (pivoted QR, R's rank rule)."""
        a = self.aux * np.sqrt(self.d)[:, None]
        q, r, _ = linalg.qr(a, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int((diag > 1e-7 * diag[0]).sum()) if diag.size else 0
        return q[:, :rank]

    def residuals(self, z: np.ndarray) -> np.ndarray:
        """Calibration residuals of influence values ``z`` (n x k), as in the docstring."""
        w = self.g * np.sqrt(self.d)
        y = z / w[:, None]
        q = self._basis
        return (y - q @ (q.T @ y)) * w[:, None]
