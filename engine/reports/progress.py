"""Where the campaign's leads and cases stand: counts by state and body.

One ``GROUP BY body_id, state`` per record kind (the ``(campaign, body)`` and
``(campaign, state)`` indexes serve it), so the report costs the same for ten records or a
million. States are named in Chinese from the definition's lifecycles; a state the current
definition no longer has (records moved under an older version) is shown by its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from engine.spec.loader import Definition
from engine.store.db import Store
from engine.store.tables import RECORD_TABLES

KIND_WORDS = {"lead": "线索", "case": "案件"}
NO_BODY = "（未注明单位）"


@dataclass(frozen=True, slots=True)
class Count:
    kind: str
    body_id: str | None
    body_name: str
    state: str
    state_name: str
    count: int


def state_names(definition: Definition, kind: str) -> dict[str, str]:
    """State id → Chinese name, in lifecycle order (the order columns are shown in)."""
    lifecycles = definition.campaign.lifecycles
    life = getattr(lifecycles, kind, None) if lifecycles else None
    return {s.id: s.name for s in life.states} if life else {}


def progress(store: Store, definition: Definition) -> list[Count]:
    """Lead and case counts per (body, state), by kind, body registry order, state order."""
    c = definition.campaign
    bodies = definition.bodies
    order = {b: i for i, b in enumerate(bodies.bodies)}
    out: list[Count] = []
    with store.engine.connect() as conn:
        for kind, table in RECORD_TABLES.items():
            names = state_names(definition, kind)
            rank = {s: i for i, s in enumerate(names)}
            query = (select(table.c.body_id, table.c.state, func.count())
                     .where(table.c.campaign_id == c.id)
                     .group_by(table.c.body_id, table.c.state))
            found = [Count(kind, b, bodies[b].name if b in bodies else (b or NO_BODY), s,
                           names.get(s, s), int(n)) for b, s, n in conn.execute(query)]
            found.sort(key=lambda x: (order.get(x.body_id or "", len(order)), x.body_id or "",
                                      rank.get(x.state, len(rank)), x.state))
            out.extend(found)
    return out


def matrix(definition: Definition, counts: list[Count], kind: str
           ) -> tuple[list[str], list[list[str]]]:
    """One kind as a table: a row per body, a column per state, totals right and below."""
    names = state_names(definition, kind)
    mine = [x for x in counts if x.kind == kind]
    states = list(names) + sorted({x.state for x in mine} - set(names))
    bodies: dict[str, dict[str, int]] = {}
    for x in mine:
        bodies.setdefault(x.body_name, {})[x.state] = x.count
    head = ["单位", *(names.get(s, s) for s in states), "合计"]
    rows = [[body, *(str(per.get(s, 0)) for s in states), str(sum(per.values()))]
            for body, per in bodies.items()]
    totals = [sum(per.get(s, 0) for per in bodies.values()) for s in states]
    rows.append(["合计", *map(str, totals), str(sum(totals))])
    return head, rows


def as_data(counts: list[Count]) -> list[dict[str, object]]:
    return [{"kind": x.kind, "body": x.body_id, "body_name": x.body_name, "state": x.state,
             "state_name": x.state_name, "count": x.count} for x in counts]
