"""``campaign lead forward`` and ``campaign lead feedback``: routing leads across jurisdictions."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from sqlalchemy import select

from engine.clitypes import RECORD_ID, at_moment
from engine.commands.records import ACTOR, DB, fail, open_store
from engine.runtime.forwarding import (
    Forwarded,
    ForwardingError,
    awaiting,
    forward_lead,
    record_feedback,
)
from engine.store.db import StoreError
from engine.store.tables import leads

WHEN = click.option("--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
                    help="When it happened (default now, Asia/Shanghai).")


def _say(done: Forwarded, fmt: str, dry_run: bool) -> None:
    if fmt == "json":
        click.echo(json.dumps({"lead": done.lead_id, "ref": done.ref, "trigger": done.route.trigger,
                               "to": done.route.to, "reason": done.route.reason,
                               "feedback_due": done.feedback_due.isoformat()
                               if done.feedback_due else None,
                               "letter": done.letter_written, "dry_run": dry_run},
                              ensure_ascii=False))
        return
    verb = "建议" if dry_run else "已"
    tail = f"；转办函已生成，{done.feedback_due.isoformat()} 前反馈" if done.feedback_due else ""
    click.echo(f"线索 {done.ref}：{verb}{done.route.reason}{tail}")


@click.command("forward")
@click.argument("lead_id", type=RECORD_ID, required=False)
@click.option("--all", "every", is_flag=True, help="Route every lead awaiting it.")
@click.option("--campaign", help="The campaign (default: the lead's own).")
@click.option("--to", "to", help="Send it to this body instead of the suggested one.")
@click.option("--dry-run", is_flag=True, help="Only say where it would go.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@WHEN
@ACTOR
@DB
def forward(lead_id: int | None, every: bool, campaign: str | None, to: str | None,
            dry_run: bool, fmt: str, at: datetime | None, actor: str,
            db_url: str | None) -> None:
    """Forward a lead where its place of infringement sends it (letter + feedback owed)."""
    store = open_store(db_url)
    if every == (lead_id is not None):
        fail("请指定一条线索的编号，或用 --all --campaign 转办全部待转办线索")
    if every and (campaign is None or to is not None):
        fail("--all 需要 --campaign，且不能与 --to 同用")
    if lead_id is not None and campaign is None:
        with store.engine.connect() as conn:
            campaign = conn.scalar(select(leads.c.campaign_id).where(leads.c.id == lead_id))
        if campaign is None:
            fail(f"没有编号为 {lead_id} 的线索")
    assert campaign is not None
    ids = awaiting(store, campaign) if every else [lead_id]
    failed = 0
    for i, one in enumerate(ids, 1):
        assert one is not None
        try:
            done = forward_lead(store, campaign, one, actor=actor, at=at_moment(at), to=to,
                                dry_run=dry_run)
        except (ForwardingError, StoreError) as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        _say(done, fmt, dry_run)
        if every and i % 200 == 0:
            click.echo(f"已处理 {i}/{len(ids)} 条……", err=True)
    if every:
        click.echo(f"共 {len(ids)} 条待转办线索，{'可' if dry_run else '已'}转办 "
                   f"{len(ids) - failed} 条，未能转办 {failed} 条", err=fmt == "json")
    sys.exit(1 if failed else 0)


@click.command("feedback")
@click.argument("lead_id", type=RECORD_ID)
@click.option("--campaign", required=True)
@click.option("--body", help="The body reporting back (default: the lead's holder).")
@click.option("--note", help="What was done (recorded with the submission).")
@WHEN
@ACTOR
@DB
def feedback(lead_id: int, campaign: str, body: str | None, note: str | None,
             at: datetime | None, actor: str, db_url: str | None) -> None:
    """Record that a body reported back on a lead forwarded to it."""
    try:
        who = record_feedback(open_store(db_url), campaign, lead_id, body=body, actor=actor,
                              at=at_moment(at), note=note)
    except ForwardingError as exc:
        fail(str(exc))
        return
    click.echo(f"已登记 {who} 对线索 {lead_id} 的办理情况反馈")
