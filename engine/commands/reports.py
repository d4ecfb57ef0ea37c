"""``campaign report stats|compliance|progress``: returns and reports from the store.

A thin shell over :mod:`engine.reports`: resolve the campaign, compute, write. Every refusal
(unknown campaign, a campaign without a return form, a malformed period) is one Chinese line
on stderr and exit status 1.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from engine.clitypes import SafePath
from engine.commands.records import DB, fail, open_store
from engine.reports import compliance as compliance_
from engine.reports import formats, returns, xlsx
from engine.reports import progress as progress_
from engine.spec.loader import Definition
from engine.store import definitions
from engine.store.db import Store, StoreError

CAMPAIGN = click.option("--campaign", required=True, help="专项标识，如 foreign_investment_2017")
AS_OF = click.option("--at", "at", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="截至哪一天（默认今天，按专项时区）")
TABULAR = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                       default="table", show_default=True)


def _as_of(definition: Definition, at: datetime | None) -> date:
    return at.date() if at else datetime.now(ZoneInfo(definition.campaign.timezone)).date()


def _tabular(fmt: str, headers: list[str], rows: list[list[str]], data: object, title: str,
             closing: str) -> None:
    """One report in the three forms: a titled table for people, JSON, or CSV."""
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        click.echo(formats.csv_text(headers, rows), nl=False)
    else:
        click.echo(title)
        if rows:
            click.echo(formats.text_table(headers, rows))
        click.echo(closing)


def _definition(store: Store, campaign: str) -> Definition:
    try:
        return definitions.latest(store, campaign)[1]
    except StoreError as exc:
        fail(str(exc))
        raise


def _emit(content: str, output: Path | None, what: str) -> None:
    """Print, or write a file (CSV with the BOM Excel needs to read Chinese)."""
    if output is None:
        click.echo(content, nl=not content.endswith("\n"))
        return
    encoding = "utf-8-sig" if output.suffix.lower() == ".csv" else "utf-8"
    try:
        output.write_text(content, encoding=encoding)
    except OSError as exc:
        fail(f"无法写入 {output}：{exc.strerror or exc}")
    click.echo(f"已写出{what}：{output}")


@click.group("report")
def report() -> None:
    """统计报表、报送情况与工作进度。"""


@report.command("stats")
@CAMPAIGN
@click.option("--period", default=None, metavar="YYYY-MM",
              help="统计月份（按立案日期）；不填为全程")
@click.option("--body", default=None, help="只统计该单位及其下级单位的案件")
@click.option("--return", "form_id", default=None, help="统计表标识（专项有多张表时）")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "json", "md"]),
              default="xlsx", show_default=True)
@click.option("--output", type=SafePath(dir_okay=False, path_type=Path), default=None,
              help="输出文件（xlsx 必填，其他格式不填则打印）")
@DB
def stats(campaign: str, period: str | None, body: str | None, form_id: str | None, fmt: str,
          output: Path | None, db_url: str | None) -> None:
    """Fill the campaign's statistics return from its case records."""
    if fmt == "xlsx" and output is None:
        fail("xlsx 格式须用 --output 指定输出文件")
    try:
        month = returns.parse_period(period) if period is not None else None
    except returns.ReportError as exc:
        fail(str(exc))
        return
    store = open_store(db_url)
    definition = _definition(store, campaign)
    try:
        filled = returns.compute(store, definition, period=month, body=body, form_id=form_id)
    except returns.ReportError as exc:
        fail(str(exc))
        return
    what = f"{filled.form.title}（{filled.period_label}）"
    if fmt == "xlsx":
        assert output is not None
        try:
            xlsx.write_xlsx(filled, output)
        except OSError as exc:
            fail(f"无法写入 {output}：{exc.strerror or exc}")
        click.echo(f"已写出{what}：{output}")
        return
    writer = {"csv": formats.to_csv, "json": formats.to_json, "md": formats.to_markdown}[fmt]
    _emit(writer(filled), output, what)


@report.command("compliance")
@CAMPAIGN
@AS_OF
@TABULAR
@DB
def compliance(campaign: str, at: datetime | None, fmt: str, db_url: str | None) -> None:
    """Per body and report: submitted on time, late, missing or not yet due; quota attained."""
    store = open_store(db_url)
    definition = _definition(store, campaign)
    today = _as_of(definition, at)
    items = compliance_.compliance(store, definition, today)
    _tabular(fmt, compliance_.HEADERS, compliance_.rows(items), compliance_.as_data(items),
             f"{definition.campaign.title} 报送情况（截至 {today.isoformat()}）",
             compliance_.summary(items))


@report.command("progress")
@CAMPAIGN
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@DB
def progress(campaign: str, fmt: str, db_url: str | None) -> None:
    """Leads and cases by state and body."""
    store = open_store(db_url)
    definition = _definition(store, campaign)
    counts = progress_.progress(store, definition)
    if fmt == "json":
        click.echo(json.dumps(progress_.as_data(counts), ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        head = ["类别", "单位", "状态", "状态名称", "数量"]
        rows = [[progress_.KIND_WORDS[x.kind], x.body_name, x.state, x.state_name, str(x.count)]
                for x in counts]
        click.echo(formats.csv_text(head, rows), nl=False)
        return
    click.echo(f"{definition.campaign.title} 工作进度")
    for kind, word in progress_.KIND_WORDS.items():
        if not progress_.state_names(definition, kind):
            continue
        head, rows = progress_.matrix(definition, counts, kind)
        click.echo(f"\n{word}（按单位、状态）：")
        click.echo(formats.text_table(head, rows))


@report.command("timeline")
@click.option("--campaign", help="专项标识（取已载入的最新版本）")
@click.option("--file", "path", type=SafePath(dir_okay=False, path_type=Path),
              help="或直接用定义文件（未载入的方案也可先看）")
@click.option("--output", type=SafePath(dir_okay=False, path_type=Path), required=True,
              help="SVG 文件")
@DB
def timeline(campaign: str | None, path: Path | None, output: Path, db_url: str | None) -> None:
    """A chart of phases and deadlines (SVG)."""
    from engine.reports.timeline import timeline_svg
    from engine.spec.loader import DefinitionError, load_definition

    if (campaign is None) == (path is None):
        fail("请指定 --campaign 或 --file 之一")
    if path is not None:
        try:
            definition = load_definition(path)
        except DefinitionError as exc:
            fail(f"定义文件有错误：{exc}")
            return
    else:
        definition = _definition(open_store(db_url), campaign or "")
    _emit(timeline_svg(definition), output, "时间安排图")


@report.command("supervision")
@CAMPAIGN
@AS_OF
@TABULAR
@DB
def supervision(campaign: str, at: datetime | None, fmt: str, db_url: str | None) -> None:
    """Per body: forwarded leads owing feedback and open cases, by age; overdue first."""
    from engine.reports import supervision as supervision_

    store = open_store(db_url)
    definition = _definition(store, campaign)
    today = _as_of(definition, at)
    items = supervision_.supervision(store, definition, today)
    late = sum(1 for i in items if i.days_overdue)
    _tabular(fmt, supervision_.HEADERS, supervision_.rows(items), supervision_.as_data(items),
             f"{definition.campaign.title} 督办情况（截至 {today.isoformat()}）",
             f"共 {len(items)} 项，其中逾期未反馈 {late} 项")
