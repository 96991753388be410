"""Input problems collected lazily and raised together as one :class:`InputError`.

Validation never stops at the first failure: every check adds :class:`Problem` rows to a
:class:`Problems` collector (like pandera's lazy mode), and the loader raises a single
:class:`InputError` listing all of them as a readable table. Warnings (e.g. a service of
the catalogue with no administrative counts for the year) are kept apart and end up in
``Edition.warnings`` and the methodology note. Row numbers are 1-based data records
(the first record after a CSV header is row 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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

    def rows_text(self, limit: int = 5) -> str:
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

        ``values`` is the column as read (its index is the 0-based record position).
        """
        mask = np.asarray(bad, dtype=bool)
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        offending = values.to_numpy()[positions]
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


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(problems: Sequence[Problem], *, max_rows: int = 200) -> str:
    """A fixed-width text table of problems: #, file, row(s), column, value, problem, hint."""
    head = ("#", "file", "row(s)", "column", "value", "problem", "what to do")
    caps = (4, 36, 28, 22, 24, 64, 200)
    body = [
        (str(i), p.file, p.rows_text(), p.column or "-",
         "-" if p.value is None else repr(p.value), p.problem, p.hint)
        for i, p in enumerate(problems[:max_rows], start=1)
    ]
    widths = [min(cap, max([len(h)] + [len(r[j]) for r in body]))
              for j, (h, cap) in enumerate(zip(head, caps, strict=True))]
    lines = ["  ".join(_clip(c, w).ljust(w) for c, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in body:
        lines.append("  ".join(_clip(c, w).ljust(w) for c, w in zip(r, widths, strict=True)))
    if len(problems) > max_rows:
        lines.append(f"... and {len(problems) - max_rows} more problems")
    return "\n".join(line.rstrip() for line in lines)


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
