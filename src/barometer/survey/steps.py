"""The weighting-step protocol: what a design records of each weighting step.

Calibration, trimming and nonresponse adjustment all record a step with this interface, so
that linearised variances (through ``residuals``) and replicate designs (through ``reapply``)
account for every step without knowing its kind (Lumley 2010, sec. 7.4; Deville and
Särndal 1992 for the calibration residuals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from barometer.survey.repweights import Layout


class WeightingStep(Protocol):
    """A weighting step recorded in a design (calibration, trimming, nonresponse adjustment).

    ``d`` are the weights before the step. ``residuals`` transforms influence values so that
    linearised variances account for the step; ``reapply`` performs the same step on other
    starting weights (each column of a replicate weight matrix).
    """

    method: str
    d: np.ndarray

    def residuals(self, z: np.ndarray) -> np.ndarray: ...

    def reapply(self, weights: Layout) -> Layout: ...


def rebuild(start: Layout, steps: Sequence[WeightingStep]) -> Layout:
    """Replicate weights with the weighting ``steps`` re-applied, in order, to the starting
    ones ``start``."""
    w = start
    for step in steps:
        w = step.reapply(w)
    return w
