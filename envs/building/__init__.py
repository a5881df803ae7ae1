"""Building energy (HVAC) control (issue 11, in progress): so far the exogenous series
(``series.py``: weather, occupancy, a time-of-use price, a CSV reader and a sample week)."""
