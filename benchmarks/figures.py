"""Benchmark of the charts of a run, per language (plain Python, prints figures).

Computes the shipped latest edition once (``compute``), then draws every chart of the
scoreboard (``write_figures`` and the small-area chart, PNG and SVG) in each language of the
publication, ``--repeat`` times, into a temporary folder. Prints the median wall and CPU
time per language and for both, so that the cost of the French charts (issue 16: the
French page shows no English text in its images, so every chart is drawn twice) can be
watched. No timing assertions.

Usage: python benchmarks/figures.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from barometer.publish.report import LANGS, write_figures
from barometer.publish.small_area import small_area_chart
from barometer.run import RunConfig, compute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = compute(RunConfig(command="benchmark"))
    tables = result.tables()
    times: dict[str, list[tuple[float, float]]] = {lang: [] for lang in LANGS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):
            for lang in LANGS:
                wall, cpu = time.perf_counter(), time.process_time()
                write_figures(result, folder, lang)
                small_area_chart(tables, folder / "figures", lang)
                times[lang].append((time.perf_counter() - wall, time.process_time() - cpu))
        n_files = len(list((folder / "figures").iterdir()))
    print(f"charts of the {result.year} edition, {n_files} files, median of {args.repeat}:")
    for lang, runs in times.items():
        print(f"  {lang}: {statistics.median(w for w, _ in runs):6.2f} s wall, "
              f"{statistics.median(c for _, c in runs):6.2f} s CPU")
    both = [sum(t) for t in zip(*(([w for w, _ in r]) for r in times.values()), strict=True)]
    print(f"  all languages: {statistics.median(both):6.2f} s wall")


if __name__ == "__main__":
    main()
