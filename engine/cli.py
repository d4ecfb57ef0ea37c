"""The ``campaign`` command: a thin shell over the library. Only this module prints.

Exit codes: 0 success, 1 the input is wrong (a definition with errors), 2 the command line is
wrong (click's own usage errors).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine import __version__
from engine.clitypes import SafePath
from engine.commands.lazy import LazyGroup
from engine.spec import model
from engine.spec.dates import DateError
from engine.spec.diagnostics import render
from engine.spec.loader import Definition, Validation, validate_paths
from engine.spec.schema import json_schema

if TYPE_CHECKING:
    from engine.runtime.planner import Letter

LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                    help="Language of messages.")


def _fmt(choices: list[str], default: str) -> Any:
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True, help="Output format.")


COMMANDS: dict[str, tuple[str, str]] = {
    # Imported on first use, each on its own: they pull in SQLAlchemy, Alembic, openpyxl,
    # Jinja2 and APScheduler, none of which ``campaign validate`` (run by policy staff many
    # times a day) needs; a ``lead import`` needs no scheduler. ~0.6 s saved for validate.
    "db": ("engine.commands.records", "db"),
    "load": ("engine.commands.records", "load"),
    "lead": ("engine.commands.records", "lead_group"),
    "case": ("engine.commands.records", "case_group"),
    "run": ("engine.commands.runtime", "run"),
    "submit": ("engine.commands.runtime", "submit"),
    "daemon": ("engine.commands.daemon", "daemon"),
    "report": ("engine.commands.reports", "report"),
    "letters": ("engine.commands.letters", "letters_group"),
    "diff": ("engine.commands.amend", "diff_command"),
    "doctor": ("engine.commands.doctor", "doctor"),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="campaign")
def main() -> None:
    """Run enforcement-campaign notices encoded as YAML campaign definitions."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=SafePath(path_type=Path))
@_fmt(["text", "json"], "text")
@LANG
def validate(paths: tuple[Path, ...], fmt: str, lang: str) -> None:
    """Check campaign definitions and body registries; list every problem at once."""
    from engine.letters.check import check_templates

    result = validate_paths(paths)
    check_templates(result)
    diagnostics = result.report.sorted()
    errors = sum(d.severity.value == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    summary = _summary(result, errors, warnings, lang)
    if fmt == "json":
        click.echo(json.dumps({"ok": errors == 0, "files": result.files, "errors": errors,
                               "warnings": warnings, "summary": summary,
                               "diagnostics": [d.to_json(lang) for d in diagnostics]},
                              ensure_ascii=False, indent=2))
    else:
        for d in diagnostics:
            click.echo(d.format(lang), err=d.severity.value == "error")
        click.echo(summary, err=errors > 0)
    sys.exit(1 if errors else 0)


def _summary(result: Validation, errors: int, warnings: int, lang: str) -> str:
    code = "summary-failed" if errors else "summary-ok"
    return render(code, {"files": result.files, "errors": errors, "warnings": warnings}, lang)


@main.command()
@click.option("--kind", type=click.Choice(["campaign", "bodies"]), default="campaign",
              show_default=True, help="Schema of a campaign file or of a body registry file.")
def schema(kind: str) -> None:
    """Print the JSON Schema of the definition language (Chinese descriptions)."""
    root = model.Campaign if kind == "campaign" else model.BodyRegistry
    click.echo(json.dumps(json_schema(root), ensure_ascii=False, indent=2))


def _load_one(path: Path, lang: str) -> Definition:
    result = validate_paths([path])
    if not result.ok or not result.definitions:
        for d in result.report.sorted():
            click.echo(d.format(lang), err=True)
        if result.ok:
            click.echo(f"{path}: not a campaign definition", err=True)
        sys.exit(1)
    return result.definitions[0]


@main.command()
@click.argument("path", type=SafePath(path_type=Path))
@_fmt(["text", "json"], "text")
@LANG
def show(path: Path, fmt: str, lang: str) -> None:
    """Summarise a campaign: phases, tasks and owners, reports with due dates per body."""
    from engine.summary import render_text, summarise

    data = summarise(_load_one(path, lang))
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(data))


@main.command()
@click.argument("path", type=SafePath(path_type=Path))
@click.option("--lifecycle", type=click.Choice(["lead", "case"]), default="lead",
              show_default=True)
@_fmt(["mermaid", "dot"], "mermaid")
@LANG
def graph(path: Path, lifecycle: str, fmt: str, lang: str) -> None:
    """Draw a lifecycle as a Mermaid or Graphviz state diagram."""
    from engine.graph import to_dot, to_mermaid

    definition = _load_one(path, lang)
    life = getattr(definition.campaign.lifecycles, lifecycle, None) \
        if definition.campaign.lifecycles else None
    if life is None:
        click.echo(f"{path}: 没有定义 {lifecycle} 生命周期 / no {lifecycle} lifecycle", err=True)
        sys.exit(1)
    click.echo(to_mermaid(life) if fmt == "mermaid" else to_dot(life, lifecycle))


@main.command()
@click.argument("path", type=SafePath(path_type=Path))
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--data", type=SafePath(path_type=Path), help="Submissions (YAML/JSON).")
@click.option("--include-skipped", is_flag=True, help="Also list superseded letters.")
@click.option("--letters", "letters_dir", type=SafePath(file_okay=False, path_type=Path),
              help="Also write the text of every letter under this folder.")
@click.option("--letter-formats", default="md", show_default=True,
              help="Formats written with --letters: md,html,docx,pdf.")
@_fmt(["table", "json"], "table")
@LANG
def simulate(path: Path, start: Any, end: Any, data: Path | None, include_skipped: bool,
             letters_dir: Path | None, letter_formats: str, fmt: str, lang: str) -> None:
    """Show every letter a campaign would send between two dates (simulated clock)."""
    from engine.runtime.simulate import SimulationDataError, load_data
    from engine.runtime.simulate import simulate as run_simulation

    definition = _load_one(path, lang)
    if end < start:
        click.echo("--to 早于 --from", err=True)
        sys.exit(1)
    try:
        supplied = load_data(data, definition) if data else None
    except SimulationDataError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    planned = run_simulation(definition, start.date(), end.date(), supplied)
    written = [0]
    if letters_dir is not None:
        from engine.letters.preview import write_previews

        formats = tuple(f.strip() for f in letter_formats.split(",") if f.strip())
        planned = write_previews(definition, planned, letters_dir, formats, written)
    try:
        _print_simulation(planned, definition, fmt, include_skipped)
    except DateError as exc:  # a working-day count in a year the calendar does not know
        click.echo(str(exc), err=True)
        sys.exit(1)
    except Exception as exc:  # a template or a file the letters could not be written with
        from engine.letters.channels import DeliveryError
        from engine.letters.render import TemplateProblem

        if not isinstance(exc, TemplateProblem | DeliveryError):
            raise
        click.echo(f"无法写出文书：{exc}", err=True)
        sys.exit(1)
    if letters_dir is not None:
        click.echo(f"已写出 {written[0]} 份文书到 {letters_dir}", err=True)


def _print_simulation(letters: Iterable[tuple[date, Letter]], definition: Definition, fmt: str,
                      include_skipped: bool) -> None:
    from engine.summary import cn_date

    index = definition.bodies
    words = {"phase_start": "部署通知", "reminder": "提醒函", "overdue": "催报通知",
             "escalation": "督办函", "supervision": "督办函"}
    for day, letter in letters:
        if letter.status == "skip" and not include_skipped:
            continue
        name = index[letter.recipient].name if letter.recipient in index else letter.recipient
        if fmt == "json":
            click.echo(json.dumps({
                "date": day.isoformat(), "kind": letter.kind, "status": letter.status,
                "campaign": letter.campaign, "report": letter.report,
                "recipient": letter.recipient, "recipient_name": name,
                "due": letter.due.isoformat() if letter.due else None,
                "owing_body": letter.body, "period": letter.period,
                "shortfall": letter.shortfall, "phase": letter.phase,
                "record": letter.record.ref if letter.record else None, "key": letter.key},
                ensure_ascii=False))
        else:
            note = f"差{letter.shortfall}" if letter.shortfall else ""
            due = f"截止{cn_date(letter.due)}" if letter.due else ""
            click.echo("\t".join(x for x in (day.isoformat(), words[letter.kind], name,
                                              letter.report or letter.phase or
                                              (letter.record.ref if letter.record else ""),
                                              due, note,
                                              "（已跳过）" if letter.status == "skip" else "")
                                  if x is not None))


if __name__ == "__main__":  # pragma: no cover
    main()
