"""The campaign itself: targets, phases, tasks, reports, and the policy they fall back to."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

from engine.spec.model.base import (
    Citation,
    FocusCategory,
    Id,
    LetterKind,
    Node,
    Ref,
    ReportKind,
    f,
    model,
)
from engine.spec.model.bodies import BodySet, Contact
from engine.spec.model.records import Lifecycles, ReturnForm
from engine.spec.model.timing import Dated, Due, ReminderPolicy, Window


# --- the campaign -----------------------------------------------------------------------------
@model
class Target(Node):
    """A numeric target, e.g. national_2017 (十五): penalty-publication rate 100%."""

    id: Id = f("指标标识")
    title: str = f("指标名称")
    metric: str = f("度量，如 penalty_publication_rate")
    value: float = f("目标值")
    unit: Literal["percent", "count"] = f("单位：percent 百分比、count 个数")
    scope: BodySet | None = f("适用单位", default=None)
    source: Citation = f("出处段落，如 五、（十五）")


@model
class Phase(Node):
    """A dated stage of the campaign; sub-phases may overlap each other."""

    id: Id = f("阶段标识")
    name: str = f("阶段名称，如“动员部署”")
    type: Literal["mobilise", "implement", "summarise", "other"] = f(
        "阶段类型：mobilise 动员部署、implement 组织实施、summarise 总结", default="other")
    window: Window | None = f("起止日期", default=None)
    phases: tuple[Phase, ...] = f("子阶段", factory=tuple)
    notify: BodySet | None = f("阶段开始时向哪些单位发部署通知", default=None)
    summary: str | None = f("本阶段工作内容（用自己的话概括，不要照抄原文）", default=None)
    source: Citation = f("出处段落，如 二、（二）1")


@model
class Task(Node):
    """A numbered item of work with its owner, or owners who each own their part."""

    id: Id = f("任务标识")
    title: str = f("任务名称")
    owner: BodySet | None = f("牵头单位", default=None)
    shared_owners: tuple[BodySet, ...] = f("按职责分工分别负责的单位", factory=tuple)
    partners: tuple[BodySet, ...] = f("配合单位", factory=tuple)
    phases: tuple[Ref, ...] = f("所属阶段", factory=tuple, one_or_many=True)
    focus: tuple[FocusCategory, ...] = f("重点类别", factory=tuple)
    summary: str | None = f("任务内容（用自己的话概括）", default=None)
    assumption: str | None = f("本地假定的理由（如通知未写明牵头单位）", default=None)
    source: Citation = f("出处段落，如 一、（三）")


@model
class Quota(Node):
    """A minimum count a reporting body must reach (``各省至少报送5个``)."""

    min: int = f("最低数量", minimum=1)
    of: Literal["leads", "cases", "items"] = f("计数对象：leads 线索、cases 案件、items 其他条目")
    source: Citation | None = f("出处段落", default=None)


@model
class Report(Node):
    """An obligation: every body in ``from`` owes ``to`` something by ``due``."""

    id: Id = f("报送事项标识")
    title: str = f("报送事项名称")
    kind: ReportKind = f("类别：lead_list 线索清单、interim_summary 阶段小结、annual_summary 年度总结、"
                         "final_report 专项工作报告、statistics_return 统计报表、major_cases 重大案件情况、"
                         "implementation_plan 实施方案、other 其他")
    from_: BodySet = f("报送单位（可用选择器一次指定多个单位）", key="from")
    to: Ref = f("接收单位")
    due: Due = f("截止时间：日期、月底、相对日期或每月周期")
    phase: Ref | None = f("所属阶段", default=None)
    quota: Quota | None = f("最低报送数量", default=None)
    return_form: Ref | None = f("所用统计表标识（见 returns）", key="return", default=None)
    feeds: Ref | None = f("本事项承接的上级方案报送事项标识（见 extends）：本事项的截止日不得晚于该事项", default=None)
    reminders: ReminderPolicy | None = f("本事项的提醒规则（覆盖全局设置）", default=None)
    content: str | None = f("报送内容说明（用自己的话概括）", default=None)
    assumption: str | None = f("本地假定的理由", default=None)
    source: Citation = f("出处段落，如 二、（二）1")



ROUTING_TRIGGERS = ("report_to_office", "forward", "assign")
"""The lead lifecycle moves routing fires: up to the office, down to the province of the
place, and a province's assignment to the local body (or to itself)."""


@model
class Routing(Node):
    """How leads cross jurisdictions: a lead about a place in another province goes up to
    ``office``, which forwards it to that province; whoever receives a lead owes feedback."""

    office: Ref = f("接收跨省线索并转办涉案地的单位，如 saic.tmo")
    feedback_days: int = f("收到转办线索后几日内反馈办理情况", minimum=1, maximum=365)
    reminders: ReminderPolicy | None = f("反馈期限的提醒规则（不填沿用全局设置）", default=None)
    assumption: str | None = f("本地假定的理由（通知未规定期限时必填）", default=None)
    source: Citation = f("出处段落，如 二、（二）2")


@model
class Campaign(Node):
    """One notice, encoded: what it asks of whom, and by when."""

    id: Id = f("专项标识，与文件名一致，如 sourcing_2017")
    title: str = f("方案名称")
    kind: Literal["campaign", "work_points"] = f("类型：campaign 专项行动、work_points 工作要点")
    doc_number: str | None = f("文号，如 办字〔2017〕165号", default=None)
    issuer: tuple[Ref, ...] = f("发文机关（联合发文时列出全部）", one_or_many=True)
    issued: date | Dated = f("印发日期")
    published: date | Dated | None = f("公开发布日期", default=None)
    timezone: str = f("时区", default="Asia/Shanghai")
    registries: tuple[str, ...] = f("使用的单位名录文件（相对本文件的路径）", one_or_many=True)
    implements: tuple[Ref, ...] = f("本方案贯彻落实的上级方案标识", factory=tuple, one_or_many=True)
    extends: Ref | None = f("本实施方案继承的上级方案标识（同目录下的 <标识>.yaml）：未写的阶段、报送事项、提醒规则等沿用上级方案", default=None)
    jurisdiction: BodySet | None = f("本方案管辖的单位（含其各级下级）；继承的报送事项只保留其中的报送单位", default=None)
    addressees: tuple[BodySet, ...] = f("主送机关", factory=tuple)
    copy_to: tuple[BodySet, ...] = f("抄送、抄报单位", factory=tuple)
    period: Window = f("专项起止日期")
    focus: tuple[FocusCategory, ...] = f("重点类别", factory=tuple)
    focus_products: tuple[str, ...] = f("重点商品或领域（中文）", factory=tuple)
    contacts: tuple[Contact, ...] = f("联系人", factory=tuple)
    targets: tuple[Target, ...] = f("量化目标", factory=tuple)
    phases: tuple[Phase, ...] = f("阶段安排", factory=tuple)
    tasks: tuple[Task, ...] = f("工作任务", factory=tuple)
    reports: tuple[Report, ...] = f("报送事项", factory=tuple)
    returns: tuple[ReturnForm, ...] = f("统计表", factory=tuple)
    reminders: ReminderPolicy | None = f("全局提醒规则", default=None)
    lifecycles: Lifecycles | None = f("线索、案件的生命周期", default=None)
    routing: Routing | None = f("线索跨辖区转办规则", default=None)
    templates: Mapping[LetterKind, str] = f("覆盖默认文书模板：文书类别 = 模板文件路径",
                                            factory=lambda: MappingProxyType({}))
    note: str | None = f("说明", default=None)


DEFAULT_REMINDERS = ReminderPolicy(calendar="calendar_days", before_due=(7, 3, 1), overdue_after=1,
                                   repeat_every=7, escalate_after=10, max_repeats=3)
"""What applies where neither the report nor the campaign says otherwise."""


def effective_reminders(campaign: Campaign, report: Report | None = None) -> ReminderPolicy:
    """The reminder policy for a report: the report's keys, then the campaign's, then defaults."""
    layers = [DEFAULT_REMINDERS, campaign.reminders, report.reminders if report else None]
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for fld in dataclasses.fields(ReminderPolicy):
            if fld.metadata.get("internal"):
                continue
            value = getattr(layer, fld.name)
            if value is not None:
                merged[fld.name] = value
    return ReminderPolicy(**merged)


