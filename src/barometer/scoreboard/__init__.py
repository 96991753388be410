"""The annual scoreboard: a year's inputs, the indicator catalogue, weighting and estimation
of the two populations, administrative counts, trends and the publication rules."""
