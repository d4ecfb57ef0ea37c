"""Timing on a shared machine: best-of-N in turns, and a fresh copy of the data per run."""

from __future__ import annotations

import os
import shutil
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    """The best and median of several runs; the best is what the table compares."""

    best: float
    median: float
    runs: int


def interleaved(measures: dict[str, Callable[[], float]], runs: int) -> dict[str, Timing]:
    """Each measure once per round, for ``runs`` rounds; each one's best and median.

    On this shared machine a slow spell lasts longer than a run: measured five runs at a time,
    one whole run of the benchmark found the tick at 73-75 ms in all ten of its runs (100k and
    1M) and the floor, measured after them, at its usual 24 ms; the next whole run found the
    tick at 50-53. Taken in turns, a figure and its reference share such spells; the order
    turns too, round by round, so that none of them always runs first (or just after the
    costly one)."""
    times: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(measures[name]())
    return {name: Timing(min(t), statistics.median(t), runs) for name, t in times.items()}


def fresh_copy(src: Path, tag: str) -> Path:
    dst = src.with_name(f"{src.stem}.{tag}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    os.sync()  # the copy's writeback (half a GB at 1M) would otherwise land in the timed run
    return dst


def repeat(fn: Callable[[int], float], runs: int) -> Timing:
    times = [fn(i) for i in range(runs)]
    return Timing(min(times), statistics.median(times), runs)
