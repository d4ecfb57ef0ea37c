"""``campaign doctor``: check a deployment and say what to fix (see :mod:`engine.ops.doctor`).

A thin shell: run the checks, print them as text lines or one JSON document, and exit 1 when
any is an error so that a provisioning script or a monitoring probe can act on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.clitypes import SafePath
from engine.commands.records import DB
from engine.ops.doctor import WORDS, diagnose, failed


@click.command("doctor")
@DB
@click.option("--outbox", type=SafePath(path_type=Path),
              help="Also check that letters can be written to this folder.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def doctor(db_url: str | None, outbox: Path | None, fmt: str) -> None:
    """Check the database, its schema version, the daemon's job, time zone, holiday calendar,
    templates and outbox; exit 1 if anything must be fixed before running."""
    checks = diagnose(db_url, outbox=outbox)
    bad = failed(checks)
    if fmt == "json":
        click.echo(json.dumps({"ok": not bad, "checks": [c.to_json() for c in checks]},
                              ensure_ascii=False, indent=2))
    else:
        for check in checks:
            line = f"[{WORDS[check.level]}] {check.name}：{check.message}"
            click.echo(f"{line}\n    处理：{check.fix}" if check.fix and check.level != "ok"
                       else line)
        errors = sum(c.level == "error" for c in checks)
        warnings = sum(c.level == "warning" for c in checks)
        click.echo(f"共 {len(checks)} 项：错误 {errors} 项，警告 {warnings} 项")
    if bad:
        sys.exit(1)
