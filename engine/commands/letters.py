"""``campaign letters list|show|render|send|resend``: the letters a run recorded, and delivery."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy import select

from engine.clitypes import RECORD_ID, SafePath
from engine.commands.records import DB, fail, open_store
from engine.letters.channels import FORMATS, Channel, FileChannel, SmtpChannel, parse_formats
from engine.letters.delivery import deliver, resend
from engine.letters.outbox import KIND_WORDS
from engine.store.db import Store
from engine.store.tables import bodies, letters

STATUS_WORDS = {"planned": "待发送", "claimed": "待发送", "sending": "发送中", "sent": "已发送",
                "failed": "发送失败", "skipped": "已跳过", "done": "已执行", "refused": "未执行"}


@click.group("letters")
def letters_group() -> None:
    """Letters recorded by campaign run: list, read, render, deliver."""


def _row(store: Store, letter_id: int) -> Any:
    with store.engine.connect() as conn:
        row = conn.execute(select(letters, bodies.c.name.label("recipient_name"))
                           .outerjoin(bodies, bodies.c.id == letters.c.recipient_id)
                           .where(letters.c.id == letter_id)).first()
    if row is None:
        fail(f"没有编号为 {letter_id} 的文书")
    return row


@letters_group.command("list")
@click.option("--campaign")
@click.option("--status", type=click.Choice(sorted(STATUS_WORDS)))
@click.option("--kind", type=click.Choice(sorted(KIND_WORDS)))
@click.option("--recipient", help="Body id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@DB
def list_letters(campaign: str | None, status: str | None, kind: str | None,
                 recipient: str | None, limit: int, fmt: str, db_url: str | None) -> None:
    """List letters, newest first."""
    store = open_store(db_url)
    query = (select(letters.c.id, letters.c.campaign_id, letters.c.kind, letters.c.recipient_id,
                    bodies.c.name, letters.c.planned_for, letters.c.status, letters.c.subject)
             .outerjoin(bodies, bodies.c.id == letters.c.recipient_id)
             .order_by(letters.c.id.desc()).limit(limit))
    for column, value in ((letters.c.campaign_id, campaign), (letters.c.status, status),
                          (letters.c.kind, kind), (letters.c.recipient_id, recipient)):
        if value:
            query = query.where(column == value)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    for r in rows:
        if fmt == "json":
            click.echo(json.dumps({"id": r.id, "campaign": r.campaign_id, "kind": r.kind,
                                   "recipient": r.recipient_id, "recipient_name": r.name,
                                   "date": r.planned_for.isoformat(), "status": r.status,
                                   "subject": r.subject}, ensure_ascii=False))
        else:
            click.echo("\t".join([str(r.id), r.planned_for.isoformat(),
                                  KIND_WORDS.get(r.kind, r.kind), r.name or r.recipient_id,
                                  STATUS_WORDS.get(r.status, r.status), r.subject or ""]))


@letters_group.command("show")
@click.argument("letter_id", type=RECORD_ID)
@DB
def show(letter_id: int, db_url: str | None) -> None:
    """A letter's particulars and its text."""
    r = _row(open_store(db_url), letter_id)
    click.echo(f"文书编号：{r.id}（{r.idempotency_key}）")
    who = r.recipient_name or r.recipient_id
    click.echo(f"类别：{KIND_WORDS.get(r.kind, r.kind)}；收文单位：{who}")
    click.echo(f"日期：{r.planned_for.isoformat()}；状态：{STATUS_WORDS.get(r.status, r.status)}"
               + (f"（{r.last_error}）" if r.last_error else ""))
    if r.outbox_path or r.message_id:
        click.echo(f"送达：{r.outbox_path or r.message_id}")
    click.echo("")
    click.echo(r.body or "（已跳过的文书没有正文）")


@letters_group.command("render")
@click.argument("letter_id", type=RECORD_ID)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option("--output", type=SafePath(dir_okay=False, path_type=Path))
@DB
def render(letter_id: int, fmt: str, output: Path | None, db_url: str | None) -> None:
    """Write one letter as Markdown, HTML, Word or PDF (md and html print without --output)."""
    r = _row(open_store(db_url), letter_id)
    if r.body is None:
        fail("该文书已跳过，没有正文")
    if output is None:
        if fmt in ("docx", "pdf"):
            fail(f"--format {fmt} 需要 --output 文件名")
        if fmt == "html":
            from engine.letters.formats import to_html

            click.echo(to_html(r.body))
        else:
            click.echo(r.body)
        return
    if fmt == "md":
        output.write_text(r.body, encoding="utf-8")
    else:
        from engine.letters.formats import write_letter

        try:  # the file written, with the format's extension added where it lacked one
            output = write_letter(r.body, fmt, output)  # type: ignore[arg-type]
        except (OSError, RuntimeError) as exc:
            fail(f"无法生成 {fmt}：{exc}")
    click.echo(f"已写入 {output}")


def _addresses(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        fail(f"无法读取邮箱地址文件 {path}：{exc}")
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                             and "@" in v for k, v in data.items()):
        fail(f"{path}：应为“单位标识: 电子邮箱”的映射")
    return data


@letters_group.command("send")
@click.option("--campaign")
@click.option("--channel", type=click.Choice(["file", "smtp"]), default="file", show_default=True)
@click.option("--outbox", type=SafePath(file_okay=False, path_type=Path), default="outbox",
              show_default=True)
@click.option("--formats", default="md", show_default=True,
              help="Comma-separated file formats for the file channel: md,html,docx,pdf.")
@click.option("--smtp-host", envvar="CAMPAIGN_SMTP_HOST", default="localhost")
@click.option("--smtp-port", envvar="CAMPAIGN_SMTP_PORT", type=int, default=25)
@click.option("--smtp-from", envvar="CAMPAIGN_SMTP_FROM", default="campaign@localhost")
@click.option("--smtp-user", envvar="CAMPAIGN_SMTP_USER")
@click.option("--starttls", is_flag=True)
@click.option("--addresses", type=SafePath(dir_okay=False, path_type=Path),
              help="YAML mapping of body id to e-mail address.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--retry-after", type=click.IntRange(min=0), default=30, show_default=True,
              help="Minutes before a failed letter is tried again.")
@DB
def send(campaign: str | None, channel: str, outbox: Path, formats: str, smtp_host: str,
         smtp_port: int, smtp_from: str, smtp_user: str | None, starttls: bool,
         addresses: Path | None, max_attempts: int, retry_after: int, db_url: str | None) -> None:
    """Deliver every letter waiting to go out, each exactly once."""
    store = open_store(db_url)
    chosen: Channel
    if channel == "file":
        try:
            chosen = FileChannel(outbox, parse_formats(formats))
        except ValueError as exc:
            fail(str(exc))
            return
    else:
        chosen = SmtpChannel(smtp_host, smtp_port, smtp_from, _addresses(addresses),
                             smtp_user, os.environ.get("CAMPAIGN_SMTP_PASSWORD"), starttls)

    def progress(done: int) -> None:
        if done % 500 == 0:
            click.echo(f"已处理 {done} 份……", err=True)

    result = deliver(store, chosen, campaign=campaign, max_attempts=max_attempts,
                     retry_after=timedelta(minutes=retry_after), progress=progress)
    for error in result.errors[:20]:
        click.echo(error, err=True)
    click.echo(f"已发送 {result.sent} 份，待重试 {result.retrying} 份，失败 {result.failed} 份"
               + (f"，状态不明 {result.uncertain} 份（请核实后用 campaign letters resend 重发）"
                  if result.uncertain else ""))
    sys.exit(1 if result.failed else 0)


@letters_group.command("resend")
@click.argument("letter_id", type=RECORD_ID)
@click.option("--actor", required=True)
@click.option("--reason")
@DB
def resend_cmd(letter_id: int, actor: str, reason: str | None, db_url: str | None) -> None:
    """Put a failed or uncertain letter back in line (after checking it did not arrive)."""
    if not resend(open_store(db_url), letter_id, actor=actor, reason=reason):
        fail(f"文书 {letter_id} 不是“发送失败”或“发送中”状态，无需重发")
    click.echo(f"文书 {letter_id} 已重新排入待发送")
