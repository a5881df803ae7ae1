"""Reading numeric tables from CSV for the envs' user-supplied series, with errors that name the
row and column of the first bad cell."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np

Check = Callable[[str, float], "str | None"]


def read_table(
    source: str | os.PathLike | IO[str] | Any,
    columns: Sequence[str],
    what: str,
    check: Check,
    hint: str,
    optional: Sequence[str] = (),
) -> tuple[np.ndarray, list[str], list[int]]:
    """The named ``columns`` (then those of ``optional`` that the header has) of a CSV with a
    header row, as a float array ``(rows, columns)``; with the names read and each row's number
    (1 = the first row after the header; blank rows are skipped).

    ``source``: a path, an ``importlib.resources`` Traversable or an open text file. ``what``
    names the table in errors ("series", "weather"); ``check(name, value)`` returns what is
    wrong with a value (None: fine); ``hint`` follows the list of missing columns. Every error
    is a ``ValueError``.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, newline="") as fh:
            return read_table(fh, columns, what, check, hint, optional)
    if hasattr(source, "joinpath"):  # a resources Traversable, not a file system path
        with source.open("r", newline="") as fh:
            return read_table(fh, columns, what, check, hint, optional)
    reader = csv.reader(source)
    header = next(reader, None)
    if not header:
        raise ValueError(f"the {what} CSV is empty: it needs a header row")
    header = [h.strip() for h in header]
    missing = [name for name in columns if name not in header]
    if missing:
        raise ValueError(f"the {what} CSV lacks column(s) {', '.join(missing)}; {hint}")
    names = [*columns, *(name for name in optional if name in header)]
    where = [header.index(name) for name in names]
    rows, numbers = [], []
    for r, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue
        values = []
        for name, col in zip(names, where, strict=True):
            if col >= len(row):
                raise ValueError(f"{what} CSV row {r}: column {name!r} is missing")
            try:
                v = float(row[col])
            except ValueError:
                raise ValueError(
                    f"{what} CSV row {r}, column {name!r}: {row[col]!r} is not a number"
                ) from None
            problem = check(name, v)
            if problem:
                raise ValueError(f"{what} CSV row {r}, column {name!r}: {v} {problem}")
            values.append(v)
        rows.append(values)
        numbers.append(r)
    if not rows:
        raise ValueError(f"the {what} CSV has a header but no rows")
    return np.array(rows), names, numbers
