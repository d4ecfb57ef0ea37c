"""Many records moved in one go (the tick's ``fire`` timers), as if moved one at a time."""

from __future__ import annotations

from sqlalchemy import select

from engine.records.lifecycle import Moved, Refused, lifecycle_machines
from engine.store import definitions
from engine.store.db import connect
from engine.store.moves import MoveRequest, move_many_in
from engine.store.tables import events, leads
from tests.test_routing import two_leads  # noqa: F401 - the fixture


def test_a_batch_moves_each_record_from_where_the_previous_request_left_it(
        two_leads: tuple[str, int, int]) -> None:  # noqa: F811
    db_url, zj, js = two_leads
    store = connect(db_url)
    _, definition = definitions.latest(store, "sourcing_2017")
    machine = lifecycle_machines(definition)["lead"]
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
