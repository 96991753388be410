"""Synthetic populations, administrative counts and editions (the embedded default data),
and the simulation check of interval coverage."""
