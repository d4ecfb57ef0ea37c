"""``campaign simulate`` and daily ``campaign run`` agree letter for letter.

Simulation keeps its state in memory for speed, while ``run`` reads and writes the store; both
call the same planner. This test is what stops them drifting apart: the whole sourcing_2017
timeline, with a short submission and a forwarded lead, run day by day against a real SQLite
store, must record exactly the letters (key, status, day) the simulation yields.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.records.lifecycle import lifecycle_machines
from engine.runtime.simulate import SimulationData, Submission, simulate
from engine.runtime.tick import record_submission, tick
from engine.runtime.timers import TimedRecord
from engine.spec.loader import load_definition
from engine.store import definitions, records
from engine.store.db import connect
from engine.store.tables import leads, letters
from tests.conftest import CAMPAIGNS

SHANGHAI = ZoneInfo("Asia/Shanghai")
START, END = date(2017, 9, 20), date(2018, 2, 28)


def test_simulating_sourcing_2017_matches_running_it_every_day(tmp_path: Path) -> None:
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    short = Submission("cross_province_leads", "zhejiang_amr", date(2017, 10, 20), 3)
    forwarded_on = date(2017, 11, 2)

    store = connect(f"sqlite:///{tmp_path / 'run.db'}")
    reg = definitions.register(store, definition, actor="测试")
    records.insert_records(store, "lead", "sourcing_2017", reg.definition_id,
                           [records.NewRecord("FJ-1", {}, "FJ-1", "fujian_amr")],
                           actor="测试", initial_state="reported")
    with store.engine.connect() as conn:
        lead_id = conn.scalar(select(leads.c.id))
    data = SimulationData((short,), (TimedRecord("lead", lead_id, "FJ-1", "forwarded",
                                                 "fujian_amr", forwarded_on),))
    expected = {(lt.key, lt.status == "send", day if lt.status == "send" else lt.scheduled)
                for day, lt in simulate(definition, START, END, data)}  # sent: filed that day

    day = START
    machine = lifecycle_machines(definition)["lead"]
    while day <= END:
        morning = datetime.combine(day, time(8, 30), SHANGHAI)
        if day == short.day:
            record_submission(store, "sourcing_2017", short.report, short.body, "",
                              actor="浙江省局", at=morning, item_count=short.count)
        if day == forwarded_on:
            with store.engine.begin() as conn:
                records.move_in(conn, "lead", lead_id, "forward", machine, actor="商标局",
                                at=morning - timedelta(hours=1))
        tick(store, "sourcing_2017", morning)
        day += timedelta(days=1)
    with store.engine.connect() as conn:
        rows = conn.execute(select(letters.c.idempotency_key, letters.c.status,
                                   letters.c.created_at, letters.c.planned_for)).all()
    recorded = {(key, status == "planned", planned) for key, status, _, planned in rows}
    assert expected == recorded
    assert any(key.startswith("sourcing_2017:timer:") for key, *_ in rows)
    assert any(":zhejiang_amr:" in key and status == "planned" for key, status, *_ in rows)
    assert len(rows) > 31 * 4
