"""Publishing: open data with a Table Schema descriptor, the methodology note and the report.
It writes only what has passed the scoreboard's publication rules."""
