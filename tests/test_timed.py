"""Only leads and cases with a timer still to act on are read each day: records that got
their supervision letter for this stay cost the tick nothing, however long they sit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, select, update

from engine.cli import main
from engine.runtime.timed import _queries_for, local_day, timed_records
from engine.runtime.timers import TimedRecord, overstayed, timer_due, timer_key
from engine.spec.loader import Definition, load_definition
from engine.store import definitions, records
from engine.store.db import Store, connect
from engine.store.letter_rows import insert_letters
from engine.store.tables import leads
from tests.conftest_helpers import copy_example, insert_after, replace_once
from tests.test_routing import COMPLETE

TODAY = date(2017, 12, 20)
SECOND_TIMER = ("      - id: forwarded_escalate\n        state: forwarded\n        after_days: 30\n"
                "        action: escalate\n        source: 二、（二）4\n"
                "        assumption: 测试用：转发后30日仍未立案，报上级督办。\n")


def three_forwarded_leads(db_url: str, path: Path, entered: datetime) -> tuple[Store, Definition]:
    """ZJ-1..3, forwarded to Zhejiang at ``entered``, under the campaign at ``path``."""
    assert CliRunner().invoke(main, ["load", str(path), "--db", db_url]).exit_code == 0
    store = connect(db_url)
    def_id, definition = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id, [
        records.NewRecord(f"ZJ-{n}", COMPLETE, f"ZJ-{n}", "zhejiang_amr") for n in (1, 2, 3)],
        actor="测试", initial_state="forwarded")
    with store.engine.begin() as conn:
        conn.execute(update(leads).values(state_since=entered))
    return store, definition


def record_acted(conn: Connection, keys: list[str], entered: datetime) -> None:
    """The supervision letters of these timer keys, as sent."""
    insert_letters(conn, [{
        "idempotency_key": k, "campaign_id": "sourcing_2017", "kind": "supervision",
        "recipient_id": "zhejiang_amr", "record_kind": "lead",
        "record_id": int(k.split(":")[4]), "step": 0, "planned_for": TODAY - timedelta(9),
        "status": "sent", "subject": "督办", "body": "督办", "created_at": entered}
        for k in keys])


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_a_record_whose_every_timer_was_acted_on_is_not_read_again(
        db_url: str, tmp_path: Path, zone: str) -> None:
    path = copy_example(tmp_path)
    text = insert_after(path.read_text("utf-8"), "通知要求跟踪督办转发线索的立案情况", SECOND_TIMER)
    path.write_text(insert_after(text, "published: 2017-10-17", f"timezone: {zone}\n"), "utf-8")
    entered = datetime(2017, 11, 1, 23, 30, tzinfo=UTC)  # already 2 November in Shanghai
    store, definition = three_forwarded_leads(db_url, path, entered)
    tz = ZoneInfo(zone)
    with store.engine.begin() as conn:
        ids = dict(conn.execute(select(leads.c.natural_key, leads.c.id)).all())
        found, _ = timed_records(conn, definition, TODAY)
        assert sorted(r.ref for r in found) == ["ZJ-1", "ZJ-2",
                                                "ZJ-3"]
        assert {r.since for r in found} == {local_day(entered.replace(tzinfo=None), tz)}
        timers = {t.id: t for t in definition.campaign.lifecycles.lead.timers}  # type: ignore
        since = found[0].since

        def key(ref: str, timer: str) -> str:
            record = TimedRecord("lead", ids[ref], ref, "forwarded", "zhejiang_amr", since)
            return timer_key("sourcing_2017", timers[timer], record)

        acted = [key("ZJ-1", "forwarded_unopened"),
                 key("ZJ-1", "forwarded_escalate"),
                 key("ZJ-2", "forwarded_unopened")]
        record_acted(conn, acted, entered)
        found, recorded = timed_records(conn, definition, TODAY)
    refs = sorted(r.ref for r in found)
    filtered = conn.dialect.name == "postgresql" or zone == "Asia/Shanghai"
    if filtered:  # SQLite cannot convert a daylight-saving zone in SQL: it reads them all
        assert refs == ["ZJ-2", "ZJ-3"]
    due = list(overstayed(definition, found, recorded, TODAY))
    assert {k for _, _, k, _ in due} == {key("ZJ-2", "forwarded_escalate"),
                                         key("ZJ-3", "forwarded_unopened"),
                                         key("ZJ-3", "forwarded_escalate")}
    assert all(day == timer_due(timer, record.since) for timer, record, _, day in due)


def test_a_state_watched_by_one_timer_reads_only_the_records_it_has_not_acted_on(
        db_url: str, tmp_path: Path) -> None:
    """With one timer on the state, the filter alone says what is left: no letter keys are
    read back (the tick skips that join), and nothing acted on comes back."""
    entered = datetime(2017, 11, 2, 2, 0, tzinfo=UTC)
    store, definition = three_forwarded_leads(db_url, copy_example(tmp_path), entered)
    with store.engine.begin() as conn:
        found, _ = timed_records(conn, definition, TODAY)
        first = next(r for r in found if r.ref == "ZJ-1")
        timer = next(t for t in definition.campaign.lifecycles.lead.timers  # type: ignore
                     if t.state == "forwarded")
        record_acted(conn, [timer_key("sourcing_2017", timer, first)], entered)
        found, recorded = timed_records(conn, definition, TODAY)
    assert sorted(r.ref for r in found) == ["ZJ-2", "ZJ-3"] and recorded == set()
    assert {r.ref for _, r, _, _ in overstayed(definition, found, recorded, TODAY)} == {"ZJ-2",
                                                                                     "ZJ-3"}


@pytest.mark.parametrize("lead_first", [True, False], ids=["lead_first", "case_first"])
def test_a_lead_timer_and_a_case_timer_of_one_id_each_keep_their_own_days(
        tmp_path: Path, lead_first: bool) -> None:
    """Timer ids are unique within a lifecycle, so a case timer may carry a lead timer's id
    with another limit. A lead forwarded and a case opened on the same day must each be timed
    by their own rule: the lead's 15 days (二、（二）4), the case's 30 (三、（三）)."""
    path = copy_example(tmp_path)
    path.write_text(replace_once(path.read_text("utf-8"), "id: case_feedback",
                                 "id: forwarded_unopened"), "utf-8")
    definition = load_definition(path)
    entered = TODAY - timedelta(days=20)  # the lead's 15 days are up, the case's 30 are not
    lead = TimedRecord("lead", 1, "ZJ-1", "forwarded", "zhejiang_amr", entered)
    case = TimedRecord("case", 1, "AJ-1", "investigating", "zhejiang_amr", entered)
    found = [lead, case] if lead_first else [case, lead]
    due = {(record.kind, day) for _, record, _, day in overstayed(definition, found, set(),
                                                                   TODAY)}
    assert due == {("lead", entered + timedelta(days=15))}
    later = TODAY + timedelta(days=10)  # and on the 30th day, the case too, on its own day
    due = {(record.kind, day) for _, record, _, day in overstayed(definition, found, set(),
                                                                   later)}
    assert due == {("lead", entered + timedelta(days=15)), ("case", entered + timedelta(days=30))}


def test_on_postgresql_each_waiting_record_is_looked_up_not_every_letter_read(
        pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL would turn the "no letter yet" filter into an anti join that reads every
    letter ever written, a cost that grows with the campaign's history; each record's key is
    to be looked up in the letters' unique index instead."""
    store, definition = three_forwarded_leads(pg_url, copy_example(tmp_path),
                                              datetime(2017, 11, 2, 2, 0, tzinfo=UTC))
    with store.engine.connect() as conn:
        # a handful of rows: scanning would be cheapest, so ask for the plan of a big table
        conn.exec_driver_sql("SET enable_seqscan = off")
        for kind, state, _, query in _queries_for(definition, "postgresql"):
            compiled = query.compile(dialect=conn.dialect)
            params = {**compiled.params, "cutoff": datetime(2017, 12, 20, tzinfo=UTC)}
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}", params).scalars())
            probe = plan[plan.index("SubPlan"):] if "SubPlan" in plan else ""
            assert "Anti Join" not in plan, (kind, state, plan)
            assert "uq_letters_idempotency_key on letters done" in probe, (kind, state, plan)
