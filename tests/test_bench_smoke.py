"""The benchmark at tiny scale, so its code cannot rot: every measure runs and reports.

The full national-scale run (``python -m bench --scale 1000000``) is not part of the suite; this
only checks that the table and the RESULTS file come out, not that the targets are met.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
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


def test_the_floor_writes_the_very_letters_the_tick_writes(tmp_path: Path) -> None:
    """The floor is the tick's database work with nothing else: the same keys, and the same
    texts (f-strings where the engine renders templates), so that the ratio to it measures
    the engine and not a difference in what is written. A template change that this fails on
    needs the floor's f-strings changed with it."""
    from bench.generate import CAMPAIGN, TICK_AT, TICK_DAY, generate
    from bench.references import floor_tick, floor_words
    from bench.timing import fresh_copy
    from engine.runtime.tick import tick
    from engine.store.db import connect

    scenario = generate(tmp_path / "tiny", 2_000, per_province=3)
    engine_db = fresh_copy(scenario.db_path, "engine")
    store = connect(f"sqlite:///{engine_db}")
    tick(store, CAMPAIGN, TICK_AT)
    store.engine.dispose()
    floor_db = fresh_copy(scenario.db_path, "floor")
    conn = sqlite3.connect(floor_db, isolation_level=None)
    assert floor_tick(conn, TICK_DAY, floor_words(scenario)) == sum(scenario.due.values())
    conn.close()

    with closing(sqlite3.connect(scenario.db_path)) as c:
        before = c.execute("SELECT max(id) FROM letters").fetchone()[0]

    def written(db: Path) -> dict[str, tuple[str, str | None, str | None]]:
        with closing(sqlite3.connect(db)) as c:
            return {key: (status, subject, body) for key, status, subject, body in c.execute(
                "SELECT idempotency_key, status, subject, body FROM letters "
                "WHERE id > ? AND kind != 'fire'", (before,))}

    ours, floor = written(engine_db), written(floor_db)
    assert len(ours) == sum(n for what, n in scenario.due.items() if "fire" not in what)
    assert floor == ours
