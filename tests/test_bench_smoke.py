"""The benchmark at tiny scale, so its code cannot rot: every measure runs and reports.

The full national-scale run (``python -m bench --scale 1000000``) is not part of the suite; this
only checks that the table and the RESULTS file come out, not that the targets are met.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import main
from bench.report import HEAD


def test_quick_benchmark_prints_the_table_and_writes_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "RESULTS.md"
    assert main(["--quick", "--results", str(results), "--workdir", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == list(HEAD)
    for measure in ("tick, ", "sqlite3 floor", "naive", "import CSV", "import XLSX",
                    "simulate sourcing_2017", "simulate foreign_investment_2017",
                    "validate campaigns", "peak RSS, tick worker", "streaming CSV import",
                    "PostgreSQL"):
        assert measure in out
    text = results.read_text(encoding="utf-8")
    for heading in ("## Machine", "## Figures", "SQLAlchemy", "transitions", "| measure |"):
        assert heading in text
