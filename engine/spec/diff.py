"""What changes between two versions of one campaign definition, said the way staff read it.

Pure: two :class:`Definition` objects in, a list of :class:`Change` out. Loading a changed file
silently moves deadlines for dozens of bodies, so ``campaign diff`` has to say beforehand, in the
order a reader needs it: the campaign's own fields, phases, reports, then the effect that matters
most to staff — which obligations appear, disappear or get a new due day, summarised per report —
and last lifecycles, templates and the rest, briefly. Comparison ignores where things were
written (positions are not part of model equality), so moving lines around is no change.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from engine.runtime.obligations import Obligation, obligations
from engine.spec.dates import all_phases
from engine.spec.loader import Definition
from engine.spec.model import Campaign, Phase, Report
from engine.spec.model.base import Node, public_fields, yaml_key

Section = Literal["campaign", "phase", "report", "obligations", "lifecycle", "template", "other"]
Action = Literal["added", "removed", "changed", "moved", "withdrawn"]

SECTION_ORDER: tuple[Section, ...] = ("campaign", "phase", "report", "obligations", "lifecycle",
                                      "template", "other")
SECTION_NAMES: dict[Section, tuple[str, str]] = {
    "campaign": ("方案", "campaign"), "phase": ("阶段", "phases"),
    "report": ("报送事项", "reports"), "obligations": ("报送义务", "obligations"),
    "lifecycle": ("生命周期", "lifecycles"), "template": ("文书模板", "templates"),
    "other": ("其他", "other"),
}
# Collections of the campaign that are compared item by item in their own sections.
_DEDICATED = {"id", "phases", "reports", "lifecycles", "templates", "tasks", "targets", "returns",
              "contacts", "routing"}
_OTHER_LISTS = {"tasks": "工作任务", "targets": "量化目标", "returns": "统计表",
                "contacts": "联系人"}
_MAX_VALUE = 60


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Change:
    """One difference. ``subject`` is the id it concerns (a report id for obligation changes);
    ``old``/``new`` are display values; ``count`` is how many obligations, for that section."""

    section: Section
    action: Action
    subject: str
    title: str = ""
    field: str | None = None
    label: str | None = None
    old: str | None = None
    new: str | None = None
    count: int = 0

    def text(self, lang: str = "zh") -> str:
        return _text_zh(self) if lang == "zh" else _text_en(self)

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        return {**dataclasses.asdict(self), "text": self.text(lang)}


def _text_zh(c: Change) -> str:
    name = c.title or c.subject
    if c.section == "obligations":
        old, new = _days(c.old, "zh"), _days(c.new, "zh")
        if c.action == "moved":
            return f"{name}：{c.count} 个单位的截止日期由 {old} 改为 {new}"
        if c.action == "added":
            return f"{name}：新增 {c.count} 项报送义务（截止 {new}）"
        return f"{name}：{c.count} 项报送义务将撤销（原截止 {old}）"
    if c.action == "added":
        return f"新增{SECTION_NAMES[c.section][0]}：{name}" + (f"（{c.new}）" if c.new else "")
    if c.action == "removed":
        return f"删除{SECTION_NAMES[c.section][0]}：{name}"
    where = f"{name}的" if c.section != "campaign" else ""
    what = c.label or c.field or ""
    if c.old is None and c.new is None:
        return f"{where}{what}有修改"
    return f"{where}{what}：{c.old or '（无）'} → {c.new or '（无）'}"


def _text_en(c: Change) -> str:
    name = c.subject
    if c.section == "obligations":
        verb = {"moved": f"{c.count} bodies' due day moves from {c.old} to {c.new}",
                "added": f"{c.count} new obligations (due {c.new})",
                "withdrawn": f"{c.count} obligations withdrawn (were due {c.old})"}[c.action]
        return f"{name}: {verb}"
    kind = SECTION_NAMES[c.section][1]
    if c.action in ("added", "removed"):
        return f"{kind} {c.action}: {name}"
    where = f"{name}." if c.section != "campaign" else ""
    if c.old is None and c.new is None:
        return f"{where}{c.field} changed"
    return f"{where}{c.field}: {c.old or '-'} -> {c.new or '-'}"


# --- showing values ---------------------------------------------------------------------------
def label(cls: type, name: str) -> str:
    """The Chinese name of a model field: its description up to the first explanation."""
    fld = next((fl for fl in dataclasses.fields(cls) if fl.name == name), None)
    zh = fld.metadata.get("zh", name) if fld else name
    for stop in ("（", "，", "："):
        zh = zh.split(stop)[0]
    return zh or name


def show(value: Any) -> str | None:
    """A short display form of any model value; long text is cut, not copied at length."""
    if value is None or value == () or value == {}:
        return None
    if isinstance(value, date):
        return cn_date(value)
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE - 1] + "…"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, tuple | list):
        return show("、".join(s for s in (show(v) for v in value) if s))
    if isinstance(value, Mapping):
        return show("；".join(f"{k}={show(v)}" for k, v in value.items()))
    if isinstance(value, Node):
        for main in ("date", "end_of_month"):
            if getattr(value, main, None) is not None and not hasattr(value, "start"):
                return show(getattr(value, main))
        if hasattr(value, "start") and hasattr(value, "end"):
            return f"{show(value.start)}至{show(value.end)}"
        parts = [f"{yaml_key(fl)}={show(getattr(value, fl.name))}" for fl in public_fields(
            type(value)) if fl.name not in ("wording", "assumption", "source")
            and show(getattr(value, fl.name)) is not None]
        return show("，".join(parts))
    return show(str(value))


# --- comparing --------------------------------------------------------------------------------
def _key(item: Any) -> str:
    for attr in ("id", "trigger", "name"):
        if isinstance(getattr(item, attr, None), str):
            return str(getattr(item, attr))
    return show(item) or "?"


def _fields(section: Section, subject: str, title: str, cls: type, old: Any, new: Any,
            skip: Iterable[str] = ()) -> list[Change]:
    out = []
    for fld in public_fields(cls):
        if fld.name in skip:
            continue
        a, b = getattr(old, fld.name), getattr(new, fld.name)
        if a != b and _nested(a, b):
            for ch in _fields(section, subject, title, type(a), a, b):
                out.append(dataclasses.replace(
                    ch, field=f"{yaml_key(fld)}.{ch.field}",
                    label=f"{label(cls, fld.name)}·{ch.label}"))
        elif a != b:
            out.append(Change(section, "changed", subject, title, yaml_key(fld),
                              label(cls, fld.name), show(a), show(b)))
    return out


def _nested(a: Any, b: Any) -> bool:
    """Compare a policy or selector key by key: its one-line form would be cut off."""
    return (type(a) is type(b) and isinstance(a, Node)
            and not any(hasattr(a, k) for k in ("date", "end_of_month", "start")))


def _keyed(section: Section, old: Sequence[Any], new: Sequence[Any],
           title: Any = lambda item: "") -> list[Change]:
    """Items matched by id: added, removed, and (briefly) changed."""
    before, after = {_key(i): i for i in old}, {_key(i): i for i in new}
    out = [Change(section, "added", k, title(i)) for k, i in after.items() if k not in before]
    out += [Change(section, "removed", k, title(i)) for k, i in before.items() if k not in after]
    out += [Change(section, "changed", k, title(i)) for k, i in after.items()
            if k in before and before[k] != i]
    return out


def campaign_changes(old: Campaign, new: Campaign) -> list[Change]:
    return _fields("campaign", new.id, new.title, Campaign, old, new, skip=_DEDICATED)


def phase_changes(old: Campaign, new: Campaign) -> list[Change]:
    before = {p.id: p for p in all_phases(old.phases)}
    after = {p.id: p for p in all_phases(new.phases)}
    out = [Change("phase", "added", k, p.name, new=_window(p)) for k, p in after.items()
           if k not in before]
    out += [Change("phase", "removed", k, p.name) for k, p in before.items() if k not in after]
    for k, p in after.items():
        if k in before and before[k] != p:
            out += _fields("phase", k, p.name, Phase, before[k], p, skip={"phases"})
    return out


def _window(p: Phase) -> str | None:
    return show(p.window)


def report_changes(old: Campaign, new: Campaign) -> list[Change]:
    before, after = {r.id: r for r in old.reports}, {r.id: r for r in new.reports}
    out = [Change("report", "added", k, r.title, new=show(r.due)) for k, r in after.items()
           if k not in before]
    out += [Change("report", "removed", k, r.title) for k, r in before.items() if k not in after]
    for k, r in after.items():
        if k in before and before[k] != r:
            out += _fields("report", k, r.title, Report, before[k], r)
    return out


def obligation_changes(old: Iterable[Obligation], new: Iterable[Obligation],
                       titles: Mapping[str, str]) -> list[Change]:
    """The effect on who owes what by when, one line per report and date move."""
    before = {(o.report, o.body, o.period): o for o in old}
    after = {(o.report, o.body, o.period): o for o in new}
    moved: Counter[tuple[str, date, date]] = Counter()
    added: dict[str, list[date]] = defaultdict(list)
    gone: dict[str, list[date]] = defaultdict(list)
    for k, o in after.items():
        if k not in before:
            added[o.report].append(o.due)
        elif before[k].due != o.due:
            moved[(o.report, before[k].due, o.due)] += 1
    for k, o in before.items():
        if k not in after:
            gone[o.report].append(o.due)
    out = [Change("obligations", "moved", r, titles.get(r, r), old=a.isoformat(),
                  new=b.isoformat(), count=n) for (r, a, b), n in sorted(moved.items())]
    out += [Change("obligations", "added", r, titles.get(r, r), new=_span(days), count=len(days))
            for r, days in sorted(added.items())]
    out += [Change("obligations", "withdrawn", r, titles.get(r, r), old=_span(days),
                   count=len(days)) for r, days in sorted(gone.items())]
    return out


def _span(days: list[date]) -> str:
    first, last = min(days), max(days)
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def _days(span: str | None, lang: str) -> str:
    """An ISO day or ``first..last`` span, in the reader's language."""
    if lang != "zh" or not span:
        return span or ""
    return "至".join(cn_date(date.fromisoformat(d)) for d in span.split(".."))


def lifecycle_changes(old: Campaign, new: Campaign) -> list[Change]:
    out = []
    for kind, word in (("lead", "线索"), ("case", "案件")):
        a = getattr(old.lifecycles, kind, None) if old.lifecycles else None
        b = getattr(new.lifecycles, kind, None) if new.lifecycles else None
        if a == b:
            continue
        if a is None or b is None:
            out.append(Change("lifecycle", "added" if a is None else "removed", kind,
                              f"{word}生命周期"))
            continue
        for part, name in (("states", "状态"), ("transitions", "状态变更"), ("timers", "计时规则"),
                           ("fields", "字段")):
            for ch in _keyed("lifecycle", getattr(a, part), getattr(b, part)):
                out.append(dataclasses.replace(ch, subject=f"{kind}.{part}.{ch.subject}",
                                               title=f"{word}{name} {ch.subject}"))
        if a.initial != b.initial:
            out.append(Change("lifecycle", "changed", kind, f"{word}生命周期", "initial",
                              "初始状态", a.initial, b.initial))
    return out


def template_changes(old: Campaign, new: Campaign) -> list[Change]:
    out = []
    for kind in sorted(set(old.templates) | set(new.templates)):
        a, b = old.templates.get(kind), new.templates.get(kind)
        if a != b:
            out.append(Change("template", "changed", kind, f"{kind} 模板", "template", "模板文件",
                              a or "默认模板", b or "默认模板"))
    return out


def other_changes(old: Campaign, new: Campaign) -> list[Change]:
    out = []
    for name, word in _OTHER_LISTS.items():
        for ch in _keyed("other", getattr(old, name), getattr(new, name),
                         lambda i, w=word: f"{w} {_key(i)}"):
            out.append(dataclasses.replace(ch, subject=f"{name}.{ch.subject}"))
    if old.routing != new.routing:
        out.append(Change("other", "changed", "routing", "线索转办规则", "routing", "线索转办规则",
                          show(old.routing), show(new.routing)))
    return out


def diff(old: Definition, new: Definition) -> list[Change]:
    """Every change from ``old`` to ``new`` (two versions of one campaign), in reading order."""
    a, b = old.campaign, new.campaign
    titles = {r.id: r.title for r in (*a.reports, *b.reports)}
    return [*campaign_changes(a, b), *phase_changes(a, b), *report_changes(a, b),
            *obligation_changes(obligations(old), obligations(new), titles),
            *lifecycle_changes(a, b), *template_changes(a, b), *other_changes(a, b)]


def obligation_summary(changes: Iterable[Change]) -> dict[str, int]:
    """Counts for a one-line summary: obligations moved, added and withdrawn."""
    out = {"moved": 0, "added": 0, "withdrawn": 0}
    for c in changes:
        if c.section == "obligations":
            out[c.action] += c.count
    return out
