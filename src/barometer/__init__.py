"""barometer: design-based survey statistics for a public-services scoreboard.

The public API (a small one; see ARCHITECTURE.md for the stages):

* :class:`Design` — a survey design (``Design.from_frame(df, ids=, strata=, weights=, fpc=)``)
* :func:`calibrate` — post-stratification, raking, linear, logit and truncated calibration
* :func:`with_replicates` — JK1, JKn, BRR, Fay and Rao–Wu bootstrap replicate designs
* :func:`estimate` (and :func:`mean`, :func:`total`, :func:`ratio`, :func:`proportion`,
  :func:`quantile`) — estimates with SE, CI, df, deff, n and effective n, as
  :class:`Estimates` with ``.to_frame()`` and ``.summary()``; also :func:`var`; several
  variables, several ``by`` columns, ``domain=`` subsets and ``covariance=True`` (the
  covariance of all the estimates)
* :func:`contrast` — linear combinations of estimates with SE, CI and df (R's
  ``svycontrast``)
* :func:`crosstab` — weighted two-way tables with SEs of totals and shares and Rao–Scott
  tests (R's ``svytable``, ``svychisq``), as :class:`Crosstab`
* :func:`regress` — design-based linear, logistic and Poisson regression (R's ``svyglm``),
  as :class:`Regression` with ``.to_frame()``, ``.summary()`` and ``.wald_test()``
* :func:`fay_herriot` — area-level small-area estimation (Fay–Herriot EBLUP, MSE, bootstrap,
  benchmarking), as :class:`FayHerriot` with ``.to_frame()`` and ``.summary()``
"""

from barometer.survey.calibrate import calibrate
from barometer.survey.contrast import contrast
from barometer.survey.crosstab import Crosstab, RaoScott, crosstab
from barometer.survey.design import Design, LonelyPSU
from barometer.survey.errors import (
    BarometerError,
    CalibrationError,
    DesignError,
    EstimationError,
)
from barometer.survey.estimate import (
    Estimates,
    estimate,
    mean,
    proportion,
    quantile,
    ratio,
    total,
    var,
)
from barometer.survey.regression import Regression, regress
from barometer.survey.replicate import with_replicates
from barometer.survey.small_area import FayHerriot, fay_herriot

__version__ = "0.1.0"

__all__ = [
    "BarometerError",
    "CalibrationError",
    "Crosstab",
    "Design",
    "DesignError",
    "Estimates",
    "EstimationError",
    "FayHerriot",
    "LonelyPSU",
    "RaoScott",
    "Regression",
    "__version__",
    "calibrate",
    "contrast",
    "crosstab",
    "estimate",
    "fay_herriot",
    "mean",
    "proportion",
    "quantile",
    "ratio",
    "regress",
    "total",
    "var",
    "with_replicates",
]
