"""Many records moved in one go (the tick's ``fire`` timers), as if moved one at a time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, func, select, text, update

from engine.records.lifecycle import LifecycleMachine, Moved, Refused, lifecycle_machines
from engine.store import definitions, records
from engine.store.db import Store, connect
from engine.store.moves import MoveRequest, move_many_in
from engine.store.records import move_in
from engine.store.tables import events, leads
from tests.conftest import CAMPAIGNS
from tests.test_routing import COMPLETE, cli, two_leads  # noqa: F401 - the fixture

LeadsAndMachine = tuple[Store, LifecycleMachine, int, int]


@pytest.fixture
def leads_and_machine(two_leads: tuple[str, int, int]) -> LeadsAndMachine:  # noqa: F811
    """The store, sourcing_2017's lead machine, and two consolidated leads (ZJ and JS)."""
    db_url, zj, js = two_leads
    store = connect(db_url)
    _, definition = definitions.latest(store, "sourcing_2017")
    return store, lifecycle_machines(definition)["lead"], zj, js


def test_a_batch_moves_each_record_from_where_the_previous_request_left_it(
        leads_and_machine: LeadsAndMachine) -> None:
    store, machine, zj, js = leads_and_machine
    with store.engine.begin() as conn:
        outcomes = move_many_in(conn, "lead", [
            MoveRequest(zj, "report_to_office", "上报"), MoveRequest(js, "open_case"),
            MoveRequest(zj, "forward", "转办")], machine, actor="测试")
    assert [type(o) for o in outcomes] == [Moved, Refused, Moved]
    assert outcomes[2] == Moved("forward", "reported", "forwarded")
    with store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(leads))}
        trail = conn.execute(select(events.c.record_id, events.c.trigger, events.c.from_state,
                                    events.c.to_state, events.c.actor, events.c.reason).where(
            events.c.record_kind == "lead", events.c.trigger != "create").order_by(events.c.id)
        ).all()
    assert (rows[zj].state, rows[zj].row_version) == ("forwarded", 3)
    assert (rows[js].state, rows[js].row_version) == ("consolidated", 1)  # refused: untouched
    assert [tuple(t) for t in trail] == [
        (zj, "report_to_office", "consolidated", "reported", "测试", "上报"),
        (zj, "forward", "reported", "forwarded", "测试", "转办")]


def test_a_batch_stores_the_state_and_the_event_as_a_move_made_one_at_a_time(
        leads_and_machine: LeadsAndMachine) -> None:
    """The tick's batch writes straight to the driver on SQLite: what it stores must be what
    ``move_in`` stores through SQLAlchemy, down to the text of a timestamp and a NULL ``data``
    (not the JSON ``null`` SQLAlchemy writes for a None it is handed)."""
    store, machine, zj, js = leads_and_machine
    at = datetime(2017, 10, 30, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with store.engine.begin() as conn:
        assert isinstance(move_in(conn, "lead", zj, "report_to_office", machine, actor="测试",
                                  reason="上报", at=at), Moved)
        assert isinstance(move_many_in(conn, "lead", [MoveRequest(js, "report_to_office", "上报")],
                                       machine, actor="测试", at=at)[0], Moved)
    with store.engine.connect() as conn:
        stored = {r[0]: r[1:] for r in conn.execute(text(
            "SELECT id, state, CAST(state_since AS TEXT), CAST(updated_at AS TEXT), row_version "
            "FROM leads"))}
        trail = {r[0]: r[1:] for r in conn.execute(text(
            "SELECT record_id, trigger, from_state, to_state, actor, reason, definition_id, "
            "data IS NULL, CAST(occurred_at AS TEXT) FROM events "
            "WHERE trigger = 'report_to_office'"))}

    def shape(stamp: str) -> str:  # the instant differs (now), its stored form must not
        return re.sub(r"\d", "0", stamp)

    one, batch = stored[zj], stored[js]
    assert (one[0], one[1], one[3]) == (batch[0], batch[1], batch[3]) == (
        "reported", one[1], 2)
    assert trail[zj][:-1] == trail[js][:-1] and trail[js][6]  # data IS NULL
    if store.dialect == "sqlite":  # PostgreSQL's text drops trailing zeros of a fraction
        assert shape(one[2]) == shape(batch[2]) and shape(trail[zj][-1]) == shape(trail[js][-1])


class _Meddling:
    """The lead machine, but another writer moves ``lead`` just before each check, after the
    batch has read it: the batch's guarded write must then fail the transaction."""

    def __init__(self, machine: LifecycleMachine, conn: Connection, lead: int) -> None:
        self.machine, self.conn, self.lead = machine, conn, lead

    def reads_fields(self, trigger: str) -> bool:
        return self.machine.reads_fields(trigger)

    def fire(self, state: str, trigger: str, fields: Mapping[str, object]) -> Moved | Refused:
        self.conn.execute(update(leads).where(leads.c.id == self.lead).values(
            row_version=leads.c.row_version + 1))
        return self.machine.fire(state, trigger, fields)


def test_a_record_moved_by_someone_else_after_the_batch_read_it_fails_the_batch(
        leads_and_machine: LeadsAndMachine) -> None:
    store, machine, zj, js = leads_and_machine
    with pytest.raises(RuntimeError, match="changed concurrently"), store.engine.begin() as conn:
        move_many_in(conn, "lead", [MoveRequest(zj, "report_to_office"),
                                    MoveRequest(js, "report_to_office")],
                     _Meddling(machine, conn, js), actor="测试")  # type: ignore[arg-type]
    with store.engine.connect() as conn:  # rolled back: neither moved, no event
        assert set(conn.scalars(select(leads.c.state))) == {"consolidated"}
        assert conn.scalar(select(func.count()).select_from(events).where(
            events.c.trigger == "report_to_office")) == 0


def test_a_guarded_trigger_in_a_batch_is_checked_on_each_records_own_fields(
        db_url: str) -> None:
    """Rows of one state share the machine's answer only for a trigger without guards: where
    a guard reads fields (三、（二）: a lead is consolidated only when complete), each row is
    checked on its own, so a complete lead moves and an incomplete one beside it does not."""
    assert cli(db_url, "load", str(CAMPAIGNS / "sourcing_2017.yaml")).exit_code == 0
    store = connect(db_url)
    def_id, definition = definitions.latest(store, "sourcing_2017")
    records.insert_records(store, "lead", "sourcing_2017", def_id, [
        records.NewRecord("HZ-1", COMPLETE, "HZ-1", "zhejiang_amr"),
        records.NewRecord("HZ-2", {**COMPLETE, "mark": ""}, "HZ-2", "zhejiang_amr"),
        records.NewRecord("HZ-3", COMPLETE, "HZ-3", "zhejiang_amr")],
        actor="浙江省局", initial_state="collected")
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(leads.c.natural_key, leads.c.id)).all())
    with store.engine.begin() as conn:
        outcomes = move_many_in(conn, "lead", [
            MoveRequest(ids[ref], "consolidate") for ref in ("HZ-1", "HZ-2", "HZ-3")],
            lifecycle_machines(definition)["lead"], actor="测试")
    assert [type(o) for o in outcomes] == [Moved, Refused, Moved]
    refused = outcomes[1]
    assert isinstance(refused, Refused) and [f.field for f in refused.failures] == ["mark"]
    with store.engine.connect() as conn:
        assert dict(conn.execute(select(leads.c.natural_key, leads.c.state)).all()) == {
            "HZ-1": "consolidated", "HZ-2": "collected", "HZ-3": "consolidated"}


def test_a_remembered_answer_is_the_answer_for_the_state_the_record_is_in_by_then(
        leads_and_machine: LeadsAndMachine) -> None:
    """An unguarded trigger's answer is remembered per state within a batch: ZJ and JS are
    both reported up (二、（二）1), and ZJ, now reported, cannot be reported again."""
    store, machine, zj, js = leads_and_machine
    with store.engine.begin() as conn:
        outcomes = move_many_in(conn, "lead", [MoveRequest(zj, "report_to_office"),
                                               MoveRequest(js, "report_to_office"),
                                               MoveRequest(zj, "report_to_office")],
                                machine, actor="测试")
    assert outcomes[:2] == [Moved("report_to_office", "consolidated", "reported")] * 2
    again = outcomes[2]
    assert isinstance(again, Refused) and again.unknown_trigger and again.state == "reported"
