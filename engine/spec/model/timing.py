"""Dates as notices state them: windows, the forms of a due date, and reminder policy."""

from __future__ import annotations

from datetime import date
from typing import Literal

from engine.spec.model.base import (
    Month,
    Node,
    Ref,
    f,
    model,
)


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
    overdue_after: int | None = f("截止后第几天发第一份催报通知（1 为截止次日）", default=None, minimum=1)
    repeat_every: int | None = f("仍未报送时每隔几天再次催报", default=None, minimum=1)
    escalate_after: int | None = f("逾期几天后向其上级单位发督办函", default=None, minimum=0)
    max_repeats: int | None = f("催报最多重复几次", default=None, minimum=0)


