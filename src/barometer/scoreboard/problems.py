"""Input problems collected lazily and raised together as one :class:`InputError`.

Validation never stops at the first failure: every check adds :class:`Problem` rows to a
:class:`Problems` collector (like pandera's lazy mode), and the loader raises a single
:class:`InputError` listing all of them as a readable table. Warnings (e.g. a service of
the catalogue with no administrative counts for the year) are kept apart and end up in
``Edition.warnings``, on the console and in the methodology note. Row numbers are counted
in the file, as 1-based data records (the first record after a CSV header is row 1).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from barometer.survey.errors import BarometerError

MAX_VALUES_PER_CHECK = 20
"""Distinct offending values reported one by one per (file, column, check); more are
summarised in one extra problem."""


@dataclass(frozen=True)
class Problem:
    """One input problem: where it is, the offending value, what is wrong, what to do."""

    file: str
    column: str
    problem: str
    hint: str
    rows: tuple[int, ...] = ()
    value: object = None
    severity: str = "error"

    @property
    def row(self) -> int | None:
        """The first row concerned (1-based data record), or None for a file-level issue."""
        return self.rows[0] if self.rows else None

    def rows_text(self, limit: int = 20) -> str:
        """The rows as text: ``3, 17, 42 (+12 more)``, or ``-`` for a file-level problem."""
        if not self.rows:
            return "-"
        shown = ", ".join(str(r) for r in self.rows[:limit])
        more = len(self.rows) - limit
        return f"{shown} (+{more} more)" if more > 0 else shown

    def line(self) -> str:
        """The problem on one line (used in logs and the methodology note)."""
        val = "" if self.value is None else f" value {self.value!r};"
        return (f"{self.severity}: {self.file} [rows {self.rows_text()}] column "
                f"{self.column or '-'}:{val} {self.problem} — {self.hint}")


class Problems:
    """A collector of problems: checks append to it, the loader decides what to raise."""

    def __init__(self) -> None:
        """Start with no problem."""
        self.items: list[Problem] = []

    def add(self, file: str, column: str, problem: str, hint: str, *,
            rows: Iterable[int] = (), value: object = None, severity: str = "error") -> None:
        """Record one problem (``severity`` is ``"error"`` or ``"warning"``)."""
        self.items.append(Problem(file=file, column=column, problem=problem, hint=hint,
                                  rows=tuple(int(r) for r in rows), value=value,
                                  severity=severity))

    def add_mask(self, file: str, column: str, values: pd.Series, bad: np.ndarray | pd.Series,
                 problem: str, hint: str, *, severity: str = "error") -> None:
        """Record the rows where ``bad`` is true, one problem per distinct offending value.

        ``values`` is the column as read, or a slice of it: its index is the 0-based
        position of the record in the file, so rows are counted in the file even for a
        slice (e.g. one margin's block of the margins file).
        """
        mask = np.asarray(bad, dtype=bool)
        if not mask.any():
            return
        local = np.flatnonzero(mask)
        index = values.index
        positions = (index.to_numpy()[local].astype(np.int64)
                     if pd.api.types.is_integer_dtype(index) else local)
        offending = values.to_numpy()[local]
        keys = pd.Series(offending, dtype=object).astype(str).to_numpy()
        uniques, first = np.unique(keys, return_index=True)
        order = np.argsort(first)
        for n, k in enumerate(order):
            if n == MAX_VALUES_PER_CHECK:
                rest = positions[~np.isin(keys, uniques[order[:n]])]
                self.add(file, column, f"{problem} ({len(order) - n} more distinct values)",
                         hint, rows=rest + 1, severity=severity)
                break
            rows = positions[keys == uniques[k]] + 1
            self.add(file, column, problem, hint, rows=rows, value=offending[first[k]],
                     severity=severity)

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop loading."""
        return [p for p in self.items if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that are only reported."""
        return [p for p in self.items if p.severity == "warning"]


ROW_LIMIT = 20
"""Rows listed per problem in the console table; every row is in :func:`write_problems`."""


def _wrap(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` (long words broken), never cut."""
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def render_table(problems: Sequence[Problem], *, max_rows: int | None = None,
                 row_limit: int = ROW_LIMIT) -> str:
    """A text table of problems: #, file, row(s), column, value, problem, what to do.

    Cells are wrapped, never cut: a long file name or value continues on the next lines.
    Rows are counted in the file, the first record after the header being row 1; a
    problem on more than ``row_limit`` rows says how many more (all of them are in the
    file written by :func:`write_problems`).
    """
    head = ("#", "file", "row(s)", "column", "value", "problem", "what to do")
    caps = (4, 40, 30, 24, 30, 56, 64)
    shown = problems if max_rows is None else problems[:max_rows]
    body = [
        (str(i), p.file, p.rows_text(row_limit), p.column or "-",
         "-" if p.value is None else repr(p.value), f"{p.severity}: {p.problem}", p.hint)
        for i, p in enumerate(shown, start=1)
    ]
    widths = [min(cap, max([len(h)] + [len(r[j]) for r in body]))
              for j, (h, cap) in enumerate(zip(head, caps, strict=True))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in body:
        cells = [_wrap(c, w) for c, w in zip(r, widths, strict=True)]
        for k in range(max(len(c) for c in cells)):
            lines.append("  ".join((c[k] if k < len(c) else "").ljust(w)
                                   for c, w in zip(cells, widths, strict=True)).rstrip())
    if max_rows is not None and len(problems) > max_rows:
        lines.append(f"... and {len(problems) - max_rows} more problems")
    return "\n".join(lines)


def needs_file(problems: Sequence[Problem], row_limit: int = ROW_LIMIT) -> bool:
    """True when the console table does not list every row of every problem."""
    return any(len(p.rows) > row_limit for p in problems)


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    """Every problem with every row, one line per problem (for :func:`write_problems`)."""
    return pd.DataFrame({
        "severity": [p.severity for p in problems], "file": [p.file for p in problems],
        "rows": [" ".join(str(r) for r in p.rows) for p in problems],
        "column": [p.column for p in problems],
        "value": ["" if p.value is None else str(p.value) for p in problems],
        "problem": [p.problem for p in problems], "what_to_do": [p.hint for p in problems],
    })


def write_problems(problems: Sequence[Problem], path: Path) -> Path:
    """Write every problem, with all its rows, to a UTF-8 CSV at ``path``."""
    path = Path(path)
    problems_frame(problems).to_csv(path, index=False, encoding="utf-8")
    return path


class InputError(BarometerError):
    """The input files of an edition have problems; ``problems`` lists every one of them.

    ``str()`` is a table naming, for each problem, the file, row(s), column, offending
    value, what is wrong and what to do. Nothing has been written when it is raised.
    """

    def __init__(self, problems: Sequence[Problem], *, context: str = "") -> None:
        """Hold ``problems`` (all of them, errors first) and build the readable message."""
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: p.severity != "error"))
        n = sum(p.severity == "error" for p in self.problems)
        self.context = context
        super().__init__(f"{n} problem(s) in the input files{context}",
                         where=", ".join(sorted({p.file for p in self.problems})),
                         hint="fix every row listed, then load again")

    def __str__(self) -> str:
        """The problems as a table, after a one-line summary."""
        n = sum(p.severity == "error" for p in self.problems)
        return (f"{n} problem(s) in the input files{self.context} (nothing was written):\n"
                + render_table(self.problems))
