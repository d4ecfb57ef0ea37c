"""What the definition says about records: returns computed from cases, and lifecycles."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from engine.spec.model.base import (
    AnyScalar,
    Citation,
    FieldType,
    Id,
    Node,
    Ref,
    f,
    model,
)


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


