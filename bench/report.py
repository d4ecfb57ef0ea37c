"""One table of figures, each beside its reference and target; and ``RESULTS.md``.

A row's ``met`` is computed from the numbers, never typed in, so a regression shows as ``no``.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One measure: its value, the reference it is read against, and whether it meets target."""

    measure: str
    value: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None  # None: informational, no target

    @property
    def met_text(self) -> str:
        return "" if self.met is None else ("yes" if self.met else "NO")


HEAD = ("measure", "value", "reference", "ratio", "target", "met?")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.measure, row.value, row.reference, row.ratio, row.target, row.met_text)


def table(rows: list[Row]) -> str:
    """A plain-text table for the terminal."""
    cells = [HEAD, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEAD))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEAD))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    out = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    return "\n".join(out)


def machine() -> dict[str, str]:
    """CPU, cores, RAM and the versions that decide the figures."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    here = Path(__file__).resolve().parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=here).stdout.strip()
    edited = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                             "engine", "bench", "templates", "campaigns"],
                            capture_output=True, text=True, cwd=here).stdout.strip()
    if commit and edited:  # the figures are of code no commit holds
        commit += " with uncommitted changes"
    return {"CPU": cpu, "cores": str(os.cpu_count()), "RAM": ram,
            "OS": f"{platform.system()} {platform.release()}",
            "Python": platform.python_version(), "SQLite": sqlite3.sqlite_version,
            "SQLAlchemy": version("sqlalchemy"), "transitions": version("transitions"),
            "openpyxl": version("openpyxl"), "commit": commit or "?"}


def results_md(rows: list[Row], *, command: str, scenario: list[str], notes: list[str],
               elapsed: float) -> str:
    """The text of ``RESULTS.md``: how it was run, on what, and the table."""
    info = machine()
    parts = [
        "# Benchmark results", "",
        f"Run `{command}` on {datetime.now():%Y-%m-%d %H:%M} ({elapsed:.0f} s in all, "
        "generation included).", "",
        "## Machine", "",
        *(f"- {k}: {v}" for k, v in info.items()), "",
        "## Data", "",
        *(f"- {line}" for line in scenario), "",
        "## Figures", "",
        markdown(rows), "",
    ]
    if notes:
        parts += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    return "\n".join(parts)
