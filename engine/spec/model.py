"""The campaign definition language as immutable typed objects.

These dataclasses are the one statement of the language: the loader converts YAML into them
(:mod:`engine.spec.convert`), the JSON Schema is generated from them (:mod:`engine.spec.schema`)
and the guide for policy staff is tested against that schema. A key's Chinese description sits
in its field's metadata so editors can show it on hover.

Nothing downstream reads YAML dicts: it reads these objects. Each object remembers where it came
from (``pos``) and where each of its values stands (``spans``), so a rule that finds a problem
in a value can point at that value's line and column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, NewType

from engine.spec.diagnostics import Pos

# --- scalar kinds with a meaning beyond their Python type -------------------------------------
Id = NewType("Id", str)
"""An identifier: lowercase letters, digits and ``_``, dotted segments allowed (``suzhou_aic.trademark``)."""
Ref = NewType("Ref", str)
"""A reference to an id defined elsewhere; checked by the rules, so a typo fails at load time."""
Month = NewType("Month", str)
"""A calendar month, ``YYYY-MM``."""
Division = NewType("Division", str)
"""A six-digit GB/T 2260 administrative division code."""
Citation = NewType("Citation", str)
"""A paragraph of the notice, e.g. ``二、（二）1``; never the notice's sentences themselves."""


class AnyScalar:
    """Marker type: any YAML scalar (text, number, boolean or date)."""


FIRST_YEAR, LAST_YEAR = 1900, 2199
"""Dates outside these years are typing mistakes, and would overflow date arithmetic."""

PATTERNS: dict[object, str] = {
    Id: r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
    Ref: r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
    Month: r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])$",
    Division: r"^[0-9]{6}$",
}

Level = Literal["national", "province", "city", "county", "department"]
BodyKind = Literal[
    "market_regulator", "leading_group_office", "ministry", "police", "procuratorate", "court",
    "customs", "ip_office", "trademark_office", "agriculture", "commerce", "press_publication",
    "forestry", "postal", "department", "other",
]
FocusCategory = Literal[
    "well_known_mark", "geographical_indication", "foreign_related_mark", "time_honoured_brand",
]
ReportKind = Literal[
    "lead_list", "interim_summary", "annual_summary", "final_report", "statistics_return",
    "major_cases", "implementation_plan", "other",
]
LetterKind = Literal["reminder", "overdue", "escalation", "supervision", "forwarding", "phase_notice"]
FieldType = Literal["string", "text", "integer", "decimal", "boolean", "date", "division", "enum"]


def f(zh: str, *, key: str | None = None, default: Any = dataclasses.MISSING,
      factory: Any = dataclasses.MISSING, one_or_many: bool = False,
      minimum: int | None = None, maximum: int | None = None) -> Any:
    """A model field with its Chinese description and how it is spelt in YAML.

    ``one_or_many`` lets a single item stand where a list is expected (``from: beijing_amr``).
    """
    meta = {"zh": zh, "key": key, "one_or_many": one_or_many, "minimum": minimum,
            "maximum": maximum}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _spans() -> Any:
    return dataclasses.field(default_factory=lambda: MappingProxyType({}), compare=False,
                             repr=False, metadata={"internal": True})


def _pos() -> Any:
    return dataclasses.field(default=Pos("<built>"), compare=False, repr=False,
                             metadata={"internal": True})


model = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)


@model
class Node:
    """Base of every definition object: where it was written."""

    pos: Pos = _pos()
    spans: Mapping[str, Pos] = _spans()

    def at(self, name: str, index: int | None = None) -> Pos:
        """Where the value of field ``name`` (or its ``index``-th item) was written."""
        key = name if index is None else f"{name}[{index}]"
        return self.spans.get(key) or self.spans.get(name) or self.pos


# --- bodies -----------------------------------------------------------------------------------
@model
class Contact(Node):
    """A person or office to contact (e.g. the contacts at the foot of sourcing_2017)."""

    name: str | None = f("联系人姓名或处室名称", default=None)
    role: str | None = f("职务或分工", default=None)
    phone: str | None = f("联系电话", default=None)
    email: str | None = f("电子邮箱", default=None)
    address: str | None = f("通信地址", default=None)


@model
class FormerName(Node):
    name: str = f("曾用名称（机构改革前的正式名称）")
    until: date | None = f("停止使用该名称的日期（确知时才填写）", default=None)


@model
class Body(Node):
    """Any organisation unit that can owe or receive something."""

    id: Id = f("单位标识，全局唯一，如 beijing_amr、suzhou_aic.trademark")
    name: str = f("单位正式名称（用于公文抬头和落款）")
    short_name: str | None = f("简称，如“总局商标局”", default=None)
    former_names: tuple[FormerName, ...] = f("曾用名称", factory=tuple)
    level: Level = f("层级：national 国家级、province 省级、city 市级、county 县级、department 内设机构")
    kind: BodyKind = f("单位类别，如 market_regulator 市场监管部门、police 公安机关", default="other")
    parent: Ref | None = f("上级单位标识（督办升级时发往此单位）", default=None)
    division: Division | None = f("GB/T 2260 行政区划代码（六位），仅限属地单位", default=None)
    contacts: Contact | None = f("联系方式", default=None)
    note: str | None = f("备注", default=None)


@model
class BodyRegistry(Node):
    """A reusable list of bodies, one file under ``campaigns/bodies/``."""

    registry: Id = f("名录标识，与文件名一致")
    title: str = f("名录名称")
    note: str | None = f("说明", default=None)
    requires: tuple[str, ...] = f("本名录中上级单位所在的其他名录文件（相对本文件的路径）",
                                  factory=tuple, one_or_many=True)
    bodies: tuple[Body, ...] = f("单位列表")


@model
class Selector(Node):
    """A set of bodies: explicit ids, or every body matching all given criteria.

    A selector with only ``name`` stands for addressees the registries do not list
    (e.g. 各省公安厅（局）); it is allowed as an addressee or partner, not as a reporter.
    """

    name: str | None = f("该组单位的中文统称，如“各省级工商、市场监管部门”", default=None)
    bodies: tuple[Ref, ...] = f("逐一列出的单位标识", factory=tuple, one_or_many=True)
    level: Level | None = f("按层级选取", default=None)
    kind: BodyKind | None = f("按单位类别选取", default=None)
    under: Ref | None = f("只选取该单位的下级（含各级下属）", default=None)
    registry: Id | None = f("只选取该名录中的单位", default=None)
    exclude: tuple[Ref, ...] = f("排除的单位标识", factory=tuple, one_or_many=True)


BodySet = Ref | Selector


# --- dates ------------------------------------------------------------------------------------
@model
class Window(Node):
    """A span of days, inclusive at both ends, with the notice's own wording kept."""

    start: date = f("开始日期（含）")
    end: date = f("结束日期（含）")
    wording: str | None = f("通知原文对时间的表述，如“7月中旬至11月”", default=None)
    assumption: str | None = f("通知未明确、由本文件自行确定时，写明理由（本地假定）", default=None)


@model
class Dated(Node):
    """A date with the notice's wording, or with the reason it was assumed."""

    date: date = f("日期")
    wording: str | None = f("通知原文对该日期的表述", default=None)
    assumption: str | None = f("本地假定的理由", default=None)


@model
class Anchor(Node):
    """What a relative due date counts from: a phase edge, another report, or a date."""

    phase: Ref | None = f("以某阶段为基准", default=None)
    edge: Literal["start", "end"] = f("阶段的开始（start）或结束（end）", default="end")
    report: Ref | None = f("以另一报送事项的截止日为基准（该事项不得为周期性）", default=None)
    date: date | None = f("以某一日期为基准", default=None)


@model
class OnDate(Node):
    """Due on a given day, through the end of that day (``10月31日前``)."""

    date: date = f("截止日期（当日24时前）")
    wording: str | None = f("通知原文表述，如“10月底前”", default=None)
    assumption: str | None = f("本地假定的理由", default=None)


@model
class EndOfMonth(Node):
    """Due on the last day of a month (``X月底前``)."""

    end_of_month: Month = f("截止月份（YYYY-MM），截止于该月最后一日")
    wording: str | None = f("通知原文表述", default=None)
    assumption: str | None = f("本地假定的理由", default=None)


@model
class Relative(Node):
    """Due a number of days before or after an anchor."""

    relative_to: Anchor = f("基准")
    offset_days: int = f("相对基准的天数，负数表示之前", minimum=-3660, maximum=3660)
    wording: str | None = f("通知原文表述", default=None)
    assumption: str | None = f("本地假定的理由", default=None)


@model
class Recurring(Node):
    """A report repeated every month (``每月15日前报送上月情况``)."""

    every: Literal["month"] = f("周期，目前支持 month（每月）")
    day: int = f("每期截止日（当月第几日）", minimum=1, maximum=31)
    covers: Literal["previous_month", "current_month"] = f(
        "每期所报内容覆盖的月份：previous_month 上月、current_month 当月", default="previous_month")
    first: Month = f("第一期所覆盖的月份（YYYY-MM）")
    last: Month = f("最后一期所覆盖的月份（YYYY-MM）")
    wording: str | None = f("通知原文表述", default=None)
    assumption: str | None = f("本地假定的理由", default=None)


Due = date | OnDate | EndOfMonth | Relative | Recurring


# --- reminders --------------------------------------------------------------------------------
@model
class ReminderPolicy(Node):
    """When to remind, chase and escalate. Unset keys fall back to the campaign, then the default."""

    calendar: Literal["calendar_days", "working_days"] | None = f(
        "天数口径：calendar_days 自然日、working_days 工作日（按国家法定节假日和调休）", default=None)
    before_due: tuple[int, ...] | None = f("截止前第几天发提醒函，如 [7, 3, 1]", default=None)
    overdue_after: int | None = f("逾期几天后发催报通知（0 为截止次日）", default=None, minimum=0)
    repeat_every: int | None = f("仍未报送时每隔几天再次催报", default=None, minimum=1)
    escalate_after: int | None = f("逾期几天后向其上级单位发督办函", default=None, minimum=0)
    max_repeats: int | None = f("催报最多重复几次", default=None, minimum=0)


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
    reminders: ReminderPolicy | None = f("本事项的提醒规则（覆盖全局设置）", default=None)
    content: str | None = f("报送内容说明（用自己的话概括）", default=None)
    assumption: str | None = f("本地假定的理由", default=None)
    source: Citation = f("出处段落，如 二、（二）1")


@model
class Measure(Node):
    """One figure of a return row, computed from case records."""

    id: Id = f("数值标识，如 count、amount")
    label: str | None = f("栏目名称", default=None)
    unit: str = f("计量单位，如 件、人、万元")
    aggregate: Literal["count", "sum"] = f("计算方式：count 计数、sum 求和")
    field: Ref | None = f("求和的案件字段（aggregate 为 sum 时必填）", default=None)
    where: Mapping[str, AnyScalar] = f("筛选条件：案件字段 = 取值", factory=lambda: MappingProxyType({}))


@model
class ReturnRow(Node):
    id: Id = f("行标识")
    label: str = f("项目名称，与表样一致")
    where: Mapping[str, AnyScalar] = f("本行的筛选条件", factory=lambda: MappingProxyType({}))
    measures: tuple[Measure, ...] = f("本行各栏数值")


@model
class ReturnSection(Node):
    id: Id = f("部分标识")
    name: str = f("部门或部分名称，如“行政执法部门”")
    where: Mapping[str, AnyScalar] = f("本部分的筛选条件", factory=lambda: MappingProxyType({}))
    rows: tuple[ReturnRow, ...] = f("各行")


@model
class ReturnText(Node):
    id: Id = f("文字栏标识")
    label: str = f("栏目名称，如“查处典型案例情况简述”")


@model
class ReturnForm(Node):
    """A statistics return (统计表) as data: its header, sections, rows and units."""

    id: Id = f("统计表标识")
    title: str = f("统计表名称")
    header: tuple[str, ...] = f("表头填写项，如“报送单位（盖章）”", factory=tuple)
    sections: tuple[ReturnSection, ...] = f("各部分")
    texts: tuple[ReturnText, ...] = f("文字说明栏", factory=tuple)
    source: Citation = f("出处，如 附件")


@model
class State(Node):
    id: Id = f("状态标识")
    name: str = f("状态中文名称")
    terminal: bool = f("是否为终止状态", default=False)
    assumption: str | None = f("通知未提及、由本文件增设该状态时，写明理由", default=None)


@model
class Condition(Node):
    """A declarative guard on a record's field."""

    field: Ref = f("字段名")
    op: Literal["present", "eq", "ne", "gt", "ge", "lt", "le", "in"] = f(
        "比较方式：present 已填写、eq 等于、ne 不等于、gt/ge/lt/le 大小比较、in 属于")
    value: AnyScalar | tuple[AnyScalar, ...] | None = f("比较值（present 时不填）", default=None)


@model
class Transition(Node):
    trigger: Id = f("触发动作标识，如 consolidate")
    name: str = f("动作中文名称，如“汇总上报”")
    from_: tuple[Ref, ...] = f("起始状态", key="from", one_or_many=True)
    to: Ref = f("目标状态")
    requires: tuple[Ref, ...] = f("必须已填写的字段（缺一不可）", factory=tuple)
    conditions: tuple[Condition, ...] = f("其他条件", factory=tuple)
    assumption: str | None = f("通知未规定、由本文件确定该动作或其条件时，写明理由", default=None)
    source: Citation | None = f("出处段落", default=None)


@model
class Timer(Node):
    """After N days in a state, something must happen (a supervision letter, a move)."""

    id: Id = f("计时规则标识")
    state: Ref = f("计时的状态")
    after_days: int = f("在该状态停留超过几天", minimum=1)
    calendar: Literal["calendar_days", "working_days"] = f("天数口径", default="calendar_days")
    action: Literal["supervise", "escalate", "fire"] = f(
        "到期动作：supervise 向承办单位发督办函、escalate 向其上级发督办函、fire 触发状态变更")
    trigger: Ref | None = f("action 为 fire 时触发的动作", default=None)
    assumption: str | None = f("本地假定的理由（通知未规定天数时必填）", default=None)
    source: Citation | None = f("出处段落", default=None)


@model
class FieldDef(Node):
    """An extra field a campaign adds to its lead or case records."""

    name: Id = f("字段名")
    label: str = f("中文名称（导入表格的列名）")
    type: FieldType = f("类型")
    choices: tuple[str, ...] = f("可选值（type 为 enum 时）", factory=tuple)


@model
class Lifecycle(Node):
    """States and moves of a lead or case record; executed by the records layer."""

    initial: Ref = f("初始状态")
    states: tuple[State, ...] = f("状态列表")
    transitions: tuple[Transition, ...] = f("状态变更")
    timers: tuple[Timer, ...] = f("计时规则", factory=tuple)
    fields: tuple[FieldDef, ...] = f("本专项增加的字段", factory=tuple)


@model
class Lifecycles(Node):
    lead: Lifecycle | None = f("线索的生命周期", default=None)
    case: Lifecycle | None = f("案件的生命周期", default=None)


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


def yaml_key(fld: dataclasses.Field[Any]) -> str:
    """How a field is spelt in YAML (``from_`` is written ``from``)."""
    return fld.metadata.get("key") or fld.name


def public_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [fl for fl in dataclasses.fields(cls) if not fl.metadata.get("internal")]
