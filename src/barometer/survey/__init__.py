"""The survey-statistics library: designs, weighting, estimation, variance and models.

It depends on numpy, pandas, scipy and statsmodels only, and on nothing above it in
``barometer``; ``from barometer import Design, calibrate, estimate, ...`` re-exports its
public API. See ARCHITECTURE.md for its modules and their layers.
"""
