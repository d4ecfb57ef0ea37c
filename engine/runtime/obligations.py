"""Obligations: each report fanned out to every reporting body and every period it covers.

Pure: a definition in, a tuple of obligations out. The planner, the store and ``simulate`` all
start from here, so what is owed is computed one way only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from engine.spec.dates import deadlines
from engine.spec.loader import Definition, per_definition
from engine.spec.model import ReminderPolicy, effective_reminders


@dataclass(frozen=True, slots=True)
class Obligation:
    """One body owes one report (for one period) to one recipient by one day."""

    campaign: str
    report: str
    body: str
    period: str  # "" for a one-off report, "2017-09" for the month a recurring one covers
    due: date
    recipient: str
    superior: str | None
    quota: int | None
    policy: ReminderPolicy
    title: str | None = None  # what is owed, where it is not a report of the definition
    key: str = field(init=False, compare=False)  # the idempotency key's stem, computed once

    def __post_init__(self) -> None:
        # A stored field, not a property: a national tick looks it up ~100k times.
        object.__setattr__(self, "key",
                           f"{self.campaign}:{self.report}:{self.body}:{self.period or '-'}")


@per_definition
def obligations(definition: Definition) -> tuple[Obligation, ...]:
    """Every obligation of the campaign, ordered by due day, report and body (computed once
    per definition)."""
    c, index = definition.campaign, definition.bodies
    out = []
    for report in c.reports:
        policy = effective_reminders(c, report)
        quota = report.quota.min if report.quota else None
        for deadline in deadlines(c, report):
            for body in index.select(report.from_):
                superior = index.superior(body.id)
                out.append(Obligation(c.id, report.id, body.id, deadline.period or "",
                                      deadline.due, report.to,
                                      superior.id if superior else None, quota, policy))
    return tuple(sorted(out, key=lambda o: (o.due, o.report, o.body, o.period)))
