"""What a campaign asks of whom and by when, as plain data and as a Chinese summary.

``summarise`` is pure: it resolves selectors and due dates once into JSON-ready data that
``campaign show`` prints; ``render_text`` lays that data out for staff to read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.spec.bodies import BodyIndex, describe, name_on
from engine.spec.dates import all_phases, deadlines
from engine.spec.loader import Definition
from engine.spec.model import BodySet, Campaign, Dated, Node, Phase, Report

KIND_LABELS = {
    "campaign": "专项行动", "work_points": "工作要点",
    "lead_list": "线索清单", "interim_summary": "阶段小结", "annual_summary": "年度总结",
    "final_report": "专项工作报告", "statistics_return": "统计报表", "major_cases": "重大案件情况",
    "implementation_plan": "实施方案", "other": "其他",
    "leads": "条线索", "cases": "件案件", "items": "项",
}


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def issued_on(campaign: Campaign) -> date:
    return campaign.issued.date if isinstance(campaign.issued, Dated) else campaign.issued


def summarise(definition: Definition) -> dict[str, Any]:
    c, index = definition.campaign, definition.bodies
    day = issued_on(c)
    issued = c.issued if isinstance(c.issued, Dated) else None
    return {
        "id": c.id, "title": c.title, "kind": c.kind, "doc_number": c.doc_number,
        "issuer": [_body(index, i, day) for i in c.issuer],
        "issued": day.isoformat(),
        "issued_assumption": issued.assumption if issued else None,
        "period": {"start": c.period.start.isoformat(), "end": c.period.end.isoformat(),
                   "wording": c.period.wording},
        "addressees": [describe(a, index) for a in c.addressees],
        "focus": list(c.focus), "focus_products": list(c.focus_products),
        "contacts": [{"name": p.name, "phone": p.phone, "email": p.email} for p in c.contacts],
        "targets": [{"id": t.id, "title": t.title, "metric": t.metric, "value": t.value,
                     "unit": t.unit, "source": t.source} for t in c.targets],
        "phases": [_phase(p) for p in c.phases],
        "tasks": [{"id": t.id, "title": t.title,
                   "owner": _set(index, t.owner, day) if t.owner is not None else None,
                   "shared_owners": [_set(index, s, day) for s in t.shared_owners],
                   "partners": [_set(index, s, day) for s in t.partners],
                   "phases": list(t.phases), "source": t.source, "assumption": t.assumption}
                  for t in c.tasks],
        "reports": [_report(c, index, r, day) for r in c.reports],
        "assumptions": _assumptions(c),
    }


def _body(index: BodyIndex, body_id: str, day: date) -> dict[str, Any]:
    body = index[body_id]
    return {"id": body.id, "name": name_on(body, day)}


def _set(index: BodyIndex, chosen: BodySet, day: date) -> dict[str, Any]:
    return {"label": describe(chosen, index),
            "bodies": [_body(index, b.id, day)["id"] for b in index.select(chosen)]}


def _phase(p: Phase) -> dict[str, Any]:
    w = p.window
    return {"id": p.id, "name": p.name, "type": p.type,
            "start": w.start.isoformat() if w else None, "end": w.end.isoformat() if w else None,
            "wording": w.wording if w else None, "assumption": w.assumption if w else None,
            "source": p.source, "phases": [_phase(s) for s in p.phases]}


def _report(c: Campaign, index: BodyIndex, r: Report, day: date) -> dict[str, Any]:
    days = deadlines(c, r)
    reporters = index.select(r.from_)
    quota = {"min": r.quota.min, "of": r.quota.of} if r.quota else None
    return {
        "id": r.id, "title": r.title, "kind": r.kind, "source": r.source,
        "from": describe(r.from_, index), "to": _body(index, r.to, day),
        "phase": r.phase, "quota": quota, "return": r.return_form,
        "recurring": len(days) > 1 or days[0].period is not None,
        "assumption": r.assumption or getattr(r.due, "assumption", None),
        "deadlines": [{"due": d.due.isoformat(), "period": d.period, "wording": d.wording}
                      for d in days],
        "obligations": [{"body": b.id, "body_name": name_on(b, day), "due": d.due.isoformat(),
                         "period": d.period, "quota": r.quota.min if r.quota else None}
                        for d in days for b in reporters],
    }


def _assumptions(c: Campaign) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []

    def add(where: str, node: Node | None) -> None:
        text = getattr(node, "assumption", None) if node is not None else None
        if text:
            out.append({"where": where, "assumption": text})

    add("issued", c.issued if isinstance(c.issued, Dated) else None)
    add("period", c.period)
    for p in all_phases(c.phases):
        add(f"phases.{p.id}", p.window)
    for t in c.tasks:
        add(f"tasks.{t.id}", t)
    for r in c.reports:
        add(f"reports.{r.id}", r)
        add(f"reports.{r.id}.due", r.due if isinstance(r.due, Node) else None)
    if c.lifecycles:
        for name in ("lead", "case"):
            life = getattr(c.lifecycles, name)
            for timer in life.timers if life else ():
                add(f"lifecycles.{name}.timers.{timer.id}", timer)
    return out


# --- text -------------------------------------------------------------------------------------
NUMERALS = "一二三四五六七八九十"


def _span(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "（未定日期）"
    return f"{cn_date(date.fromisoformat(start))}至{cn_date(date.fromisoformat(end))}"


def _owners(task: dict[str, Any]) -> str:
    parts = []
    owner = task["owner"]
    if owner and len(owner["bodies"]) == 1:
        parts.append(f"牵头：{owner['label']}")
    elif owner:  # a group: each body does its own part
        parts.append(f"责任单位：{owner['label']}")
    if task["shared_owners"]:
        parts.append("分别负责：" + "、".join(s["label"] for s in task["shared_owners"]))
    if task["partners"]:
        parts.append("配合：" + "、".join(s["label"] for s in task["partners"]))
    return "；".join(parts)


def render_text(data: dict[str, Any]) -> str:
    """A summary in Chinese for staff: phases, tasks and owners, reports and due dates."""
    lines = [data["title"], ""]
    head = [f"类型：{KIND_LABELS[data['kind']]}"]
    if data["doc_number"]:
        head.append(f"文号：{data['doc_number']}")
    head.append("发文机关：" + "、".join(i["name"] for i in data["issuer"]))
    head.append(f"印发日期：{cn_date(date.fromisoformat(data['issued']))}")
    lines.append("　".join(head))
    period = data["period"]
    wording = f"（原文：{period['wording']}）" if period["wording"] else ""
    lines.append(f"起止：{_span(period['start'], period['end'])}{wording}")
    if data["addressees"]:
        lines.append("主送：" + "；".join(data["addressees"]))
    sections: list[tuple[str, list[str]]] = []

    phase_lines: list[str] = []

    def walk(phases: list[dict[str, Any]], depth: int) -> None:
        for p in phases:
            note = f"（原文：{p['wording']}）" if p["wording"] else ""
            phase_lines.append(f"{'　' * depth}{p['name']}　{_span(p['start'], p['end'])}{note}"
                               f"〔{p['source']}〕")
            walk(p["phases"], depth + 1)

    walk(data["phases"], 1)
    sections.append(("阶段安排", phase_lines))
    sections.append(("工作任务", [f"　{i}. {t['title']}（{_owners(t)}）〔{t['source']}〕"
                                  for i, t in enumerate(data["tasks"], 1)]))
    sections.append(("报送事项", [line for r in data["reports"] for line in _report_lines(r)]))
    if data["targets"]:
        sections.append(("量化目标", [
            f"　{t['title']}：{t['value']:g}{_unit(t)}〔{t['source']}〕" for t in data["targets"]]))
    if data["assumptions"]:
        sections.append(("本地假定（通知未明确，由本文件确定）",
                         [f"　{a['where']}：{a['assumption']}" for a in data["assumptions"]]))
    if data["contacts"]:
        sections.append(("联系人", ["　" + "　".join(x for x in (p["name"], p["phone"], p["email"])
                                                   if x) for p in data["contacts"]]))
    for i, (title, body) in enumerate(sections):
        lines += ["", f"{NUMERALS[i]}、{title}"] + (body or ["　（无）"])
    return "\n".join(lines)


def _unit(target: dict[str, Any]) -> str:
    return "%" if target["unit"] == "percent" else ""


def _report_lines(r: dict[str, Any]) -> list[str]:
    bodies = sorted({o["body"] for o in r["obligations"]})
    out = [f"　{r['title']}（{KIND_LABELS[r['kind']]}）〔{r['source']}〕",
           f"　　报送单位：{r['from']}（共{len(bodies)}个）→ 接收单位：{r['to']['name']}"]
    if r["recurring"]:
        dues = "、".join(f"{cn_date(date.fromisoformat(d['due']))}（报{d['period']}）"
                        for d in r["deadlines"])
    else:
        dues = "、".join(cn_date(date.fromisoformat(d["due"])) for d in r["deadlines"])
    wording = r["deadlines"][0]["wording"]
    out.append(f"　　截止：{dues}" + (f"（原文：{wording}）" if wording else ""))
    if r["quota"]:
        out.append(f"　　配额：每个报送单位至少{r['quota']['min']}{KIND_LABELS[r['quota']['of']]}")
    return out
