"""A runner killed with SIGKILL mid-tick leaves nothing half-done, and the next run finishes.

The tick is one transaction per campaign, so a kill at any point leaves either none or all of
that campaign's letters; the rerun then records exactly the set a single clean run would.
Kills land at spread-out moments (start-up, connecting, planning, writing): which one is hit
varies from machine to machine, which is the point; the invariant must hold for all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import main
from engine.store.db import connect
from engine.store.tables import campaign_phases, letters
from tests.conftest import CAMPAIGNS

CAMPAIGN_SCRIPT = Path(sys.executable).with_name("campaign")
AT = "2017-11-20"  # overdue notices, escalations, superseded reminders for 31 provinces


def counts(db_url: str) -> tuple[int, int, int]:
    with connect(db_url).engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(letters))
        keys = conn.scalar(select(func.count(letters.c.idempotency_key.distinct())))
        phases = conn.scalar(select(func.count()).select_from(campaign_phases))
    return total, keys, phases


def test_a_runner_killed_at_any_point_leaves_all_or_nothing_and_the_rerun_completes(
        db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"),
                                "--db", db_url]).exit_code == 0
    reference = tmp_path / "reference.db"
    ref_url = f"sqlite:///{reference}"
    runner.invoke(main, ["load", str(CAMPAIGNS / "sourcing_2017.yaml"), "--db", ref_url])
    assert runner.invoke(main, ["run", "--at", AT, "--db", ref_url]).exit_code == 0
    full = counts(ref_url)
    assert full[0] > 0 and full[0] == full[1]

    env = {**os.environ, "CAMPAIGN_DB": db_url}
    for delay in (0.05, 0.3, 0.5, 0.7, 0.9, 1.1, 1.4):
        proc = subprocess.Popen([str(CAMPAIGN_SCRIPT), "run", "--at", AT, "--campaign",
                                 "sourcing_2017"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        now = counts(db_url)
        assert now in {(0, 0, 0), full}, f"half a tick survived a kill after {delay}s: {now}"
        if now == full:
            break
    done = runner.invoke(main, ["run", "--at", AT, "--db", db_url])
    assert done.exit_code == 0, done.output
    assert counts(db_url) == full  # every letter once, whether or not a killed run finished
