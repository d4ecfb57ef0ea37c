"""What loading a changed definition will do to a running campaign's stored state.

:func:`engine.spec.diff.diff` says what the text changes; this says what the store will do
about it at the next tick (``sync_obligations`` runs there, not at ``load``): which open
obligations move to new dates, which are closed as withdrawn, which come back, which closed
ones are left alone, and what becomes of letters already recorded for them. Read-only: it
previews, so staff can check an amendment before it is applied.

The comparison base is the text *stored* with the latest version, not the file it came from:
staff usually edit the loaded file in place, and :func:`engine.store.definitions.latest`
refuses a file changed since it was loaded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from engine.runtime.obligations import obligations
from engine.spec.diagnostics import Report
from engine.spec.loader import Definition, definition_from_text
from engine.store.db import Store, StoreError
from engine.store.tables import definitions, letters
from engine.store.tables import obligations as obligation_rows

REMINDER_RULE_ZH = (
    "提醒、催报、督办文书的幂等键为“报送义务＋文书类别＋序号”（如截止前7天的提醒、第1次催报），"
    "与截止日期无关：已记录的文书不会因改期而重发；尚未记录的各次提醒、催报按新的截止日期重新排定，"
    "新日期已过的一次只发最近的一份，其余记为已跳过。")
REMINDER_RULE_EN = (
    "Reminder, overdue and escalation letters are keyed by obligation, kind and step, not by due "
    "day: a step already recorded is never sent again after a change of date; the steps not yet "
    "recorded are planned on the new dates, and of those already past only the latest is sent.")


@dataclass(frozen=True)
class Loaded:
    """The latest stored version of a campaign, rebuilt from its stored text."""

    definition_id: int
    version: int
    sha256: str
    definition: Definition
    versions: dict[str, int] = field(default_factory=dict)  # sha256 -> version, all versions


@dataclass(frozen=True)
class Effect:
    """Stored obligations and letters an amendment touches (counts of rows)."""

    moving: int = 0  # open obligations whose due day changes
    withdrawn: int = 0  # open obligations the new version drops: closed as withdrawn
    reopened: int = 0  # withdrawn obligations the new version brings back
    created: int = 0  # obligations the store does not hold yet
    closed_untouched: int = 0  # fulfilled obligations dropped or moved: left as they are
    letters_kept: dict[str, int] = field(default_factory=dict)  # status -> letters of those
    undelivered: int = 0  # of those, recorded but not delivered yet (written on the old dates)

    def lines(self, lang: str = "zh") -> list[str]:
        """The effect on the store, one sentence each, for the change notice."""
        kept = sum(self.letters_kept.values())
        sent = self.letters_kept.get("sent", 0)
        if lang != "zh":
            out = [f"open obligations moving to new dates: {self.moving}",
                   f"open obligations withdrawn: {self.withdrawn}",
                   f"new obligations: {self.created}", f"withdrawn ones reopened: {self.reopened}",
                   f"fulfilled obligations left as they are: {self.closed_untouched}",
                   f"letters already recorded for the obligations that move or are withdrawn "
                   f"stay recorded: {kept} (delivered: {sent})"]
            if self.undelivered:
                out.append(f"note: {self.undelivered} of them are not delivered yet: those of "
                           "withdrawn obligations will not be; those of moved ones carry the old "
                           "dates")
            return [*out, REMINDER_RULE_EN]
        out = [f"未报送的报送义务改期：{self.moving} 项",
               f"撤销（记为 withdrawn）：{self.withdrawn} 项",
               f"新增：{self.created} 项", f"曾撤销、恢复为未报送：{self.reopened} 项",
               f"已报送的报送义务不受影响：{self.closed_untouched} 项",
               f"改期或撤销的报送义务已记录的文书 {kept} 份保持原状"
               f"（其中已投递 {sent} 份），不会重发"]
        if self.undelivered:
            out.append(f"注意：其中 {self.undelivered} 份已生成但尚未投递：撤销事项的不再投递，"
                       "改期事项的仍按原截止日期的内容投递")
        return [*out, REMINDER_RULE_ZH]


def rebuild(text: str, source_path: str, campaign_id: str) -> Definition:
    """Check a stored text again as if it were still the file at ``source_path`` (its
    registries and templates are found relative to that place)."""
    report = Report()
    built = definition_from_text(Path(source_path), text, f"{source_path}（已载入版本）", report)
    if built is None:
        first = report.sorted()[0].format() if report.errors else ""
        raise StoreError(f"已载入的专项“{campaign_id}”无法重新检查：{first}")
    return built


def loaded_version(store: Store, campaign_id: str) -> Loaded | None:
    """The latest loaded version of ``campaign_id``, or None when none was loaded."""
    t = definitions
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.version, t.c.sha256, t.c.text, t.c.source_path)
                            .where(t.c.campaign_id == campaign_id)
                            .order_by(t.c.version.desc())).all()
    if not rows:
        return None
    top = rows[0]
    return Loaded(top.id, top.version, top.sha256,
                  rebuild(top.text, top.source_path, campaign_id),
                  {r.sha256: r.version for r in rows})


def effect(store: Store, new: Definition) -> Effect:
    """What the next tick's ``sync_obligations`` will do with ``new``, counted on the store.

    Mirrors ``engine.runtime.state.sync_obligations``: open rows follow new dates, open rows
    the new version lacks are withdrawn, withdrawn rows it has again reopen, and fulfilled
    rows are never touched. Rows another mechanism created (``origin`` other than
    ``definition``, where the schema has that column) are not the definition's to change."""
    t = obligation_rows
    wanted = {(o.report, o.body, o.period): o for o in obligations(new)}
    query = select(t.c.id, t.c.report_id, t.c.body_id, t.c.period, t.c.due_on, t.c.status).where(
        t.c.campaign_id == new.campaign.id)
    if "origin" in t.c:
        query = query.where(t.c.origin == "definition")
    counts: Counter[str] = Counter()
    touched: list[int] = []
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        held = {(r.report_id, r.body_id, r.period) for r in rows}
        for r in rows:
            ob = wanted.get((r.report_id, r.body_id, r.period))
            if r.status == "open" and ob is None:
                counts["withdrawn"] += 1
                touched.append(r.id)
            elif r.status == "open" and ob.due != r.due_on:
                counts["moving"] += 1
                touched.append(r.id)
            elif r.status == "withdrawn" and ob is not None:
                counts["reopened"] += 1
            elif r.status not in ("open", "withdrawn") and (ob is None or ob.due != r.due_on):
                counts["closed_untouched"] += 1
        kept: dict[str, int] = {}
        for chunk in (touched[i:i + 500] for i in range(0, len(touched), 500)):
            for status, n in conn.execute(select(letters.c.status, func.count()).where(
                    letters.c.obligation_id.in_(chunk)).group_by(letters.c.status)).all():
                kept[status] = kept.get(status, 0) + n
    return Effect(counts["moving"], counts["withdrawn"], counts["reopened"],
                  sum(k not in held for k in wanted), counts["closed_untouched"], kept,
                  kept.get("planned", 0) + kept.get("claimed", 0) + kept.get("sending", 0))
