"""``campaign db|load|lead|case``: the store and the records, from the command line.

A thin shell: each command opens the store, calls the library, and prints. ``lead`` and
``case`` are one factory, so both record kinds always offer the same verbs.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from itertools import tee
from pathlib import Path
from typing import Any

import click
from sqlalchemy import create_engine

from engine.clitypes import RECORD_ID, SafePath
from engine.commands.lazy import LazyGroup
from engine.intake import (
    Accepted,
    Intake,
    IntakeError,
    Problem,
    Rejected,
    RowParser,
    default_mapping,
    record_table,
    write_csv,
    write_rejects,
    write_xlsx,
)
from engine.intake.cells import _nfkc
from engine.intake.rows import MAX_KEY
from engine.records.lifecycle import LifecycleMachine, Refused
from engine.records.places import Gazetteer, with_division
from engine.spec.bodies import BodyIndex
from engine.spec.diagnostics import did_you_mean
from engine.spec.loader import Definition, validate_paths
from engine.store import definitions, migrate, records
from engine.store.db import Store, StoreError, connect, resolve_url, safe_url

DB = click.option("--db", "db_url", envvar="CAMPAIGN_DB", default=None,
                  help="Database URL (default sqlite:///campaign.db; env CAMPAIGN_DB).")
ACTOR = click.option("--actor", required=True, help="Who does this (recorded in the audit trail).")
KIND_WORDS = {"lead": "线索", "case": "案件"}


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def open_store(db_url: str | None, *, upgrade: bool = True) -> Store:
    try:
        return connect(db_url, upgrade=upgrade)
    except StoreError as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


@click.group()
def db() -> None:
    """Database schema: create or upgrade it, and show where it stands."""


@db.command("upgrade")
@DB
def db_upgrade(db_url: str | None) -> None:
    """Bring the database to the newest schema (a fresh one is created)."""
    try:
        before, after = migrate.upgrade(create_engine(resolve_url(db_url)))
    except Exception as exc:  # an unreachable server or unwritable file, said plainly
        fail(f"无法升级数据库 {safe_url(resolve_url(db_url))}：{str(exc).splitlines()[0]}")
        return
    word = "已是最新" if before == after else f"{before or '（空库）'} → {after}"
    click.echo(f"数据库 {safe_url(resolve_url(db_url))}：结构版本 {word}")


@db.command("status")
@DB
def db_status(db_url: str | None) -> None:
    """Show the database's schema version against the newest one."""
    try:
        now = migrate.current(create_engine(resolve_url(db_url)))
    except Exception as exc:  # unreachable server
        fail(f"无法连接数据库 {safe_url(resolve_url(db_url))}：{str(exc).splitlines()[0]}")
        return
    advice = "" if now == migrate.head() else "；请运行 campaign db upgrade"
    click.echo(f"数据库 {safe_url(resolve_url(db_url))}：结构版本 {now or '（空库）'}"
               f"（最新 {migrate.head()}）{advice}")


@click.command("load")
@click.argument("paths", nargs=-1, required=True, type=SafePath(path_type=Path))
@DB
@click.option("--actor", default="campaign load", show_default=True)
def load(paths: tuple[Path, ...], db_url: str | None, actor: str) -> None:
    """Register campaign definitions (a changed file becomes a new version)."""
    from engine.commands.amend import load_note
    from engine.letters.check import check_templates

    result = validate_paths(paths)
    check_templates(result)
    if not result.ok:
        for d in result.report.sorted():
            click.echo(d.format(), err=True)
        fail("定义文件有错误，未载入")
    store = open_store(db_url)
    for definition in result.definitions:
        note = load_note(store, definition)  # before registering: against the old version
        reg = definitions.register(store, definition, actor=actor)
        state = "已载入为新版本" if reg.created else "与已载入版本相同，未变化"
        click.echo(f"{reg.campaign_id}：第 {reg.version} 版，{state}")
        if note and reg.created:
            click.echo(note)


def _definition(store: Store, campaign: str) -> tuple[int, Definition]:
    try:
        return definitions.latest(store, campaign)
    except StoreError as exc:
        fail(str(exc))
        raise


def _machine(definition: Definition, kind: str) -> LifecycleMachine:
    life = getattr(definition.campaign.lifecycles, kind, None) \
        if definition.campaign.lifecycles else None
    if life is None:
        fail(f"专项“{definition.campaign.id}”没有定义{KIND_WORDS[kind]}的生命周期")
    return LifecycleMachine(life, kind)


def _names(index: BodyIndex) -> dict[str, str]:
    """Every id, name, short name and former name of the registry's bodies, as NFKC text
    (staff type "(虎丘区)" with ASCII brackets where the registry has "（虎丘区）"), to its id."""
    found: dict[str, str] = {}
    for b in index.bodies.values():
        for text in (b.id, b.name, b.short_name, *(f.name for f in b.former_names)):
            if text:
                found.setdefault(_nfkc(text), b.id)
    return found


def _new_records(rows: Iterator[Accepted | Rejected], index: BodyIndex,
                 rejected: list[Rejected], body_column: str = "报送单位",
                 key_column: str = "编号") -> Iterator[records.NewRecord]:
    """The accepted rows as records to insert; a row naming a sender the campaign's registry
    does not know is refused like any other filled-in value that means nothing: its record
    would have no body to remind, and its key would change once the name is known.

    A row that is the same record as an earlier row of the file, once its sender is known
    (one row may give the sender's name, another its id), is refused pointing at that row:
    the store would otherwise keep the first and count the second as already stored."""
    places = Gazetteer.from_bodies(index)
    names: dict[str, str] | None = None  # built at the first sender that is not an id
    bodies: dict[Any, str | None] = {}  # the file's 报送单位 texts -> body ids, looked up once
    first_row: dict[str, int] = {}  # record's key -> its first row; ~100 MB per 1M rows
    new_record = records.NewRecord
    for row in rows:
        if isinstance(row, Rejected):
            rejected.append(row)
            continue
        given = row.values
        values = dict(given)
        external = values.pop("external_id", None)
        named = values.pop("body", None)
        if named is None:
            body = None
        elif (body := bodies.get(named, "")) == "":
            text = str(named).strip()
            if text in index:
                body = text
            else:
                names = _names(index) if names is None else names
                body = names.get(_nfkc(text))
            bodies[named] = body
        if body is None and named is not None:
            rejected.append(Rejected(row.kind, row.row, (Problem(
                body_column, f"“{named}”不是本专项单位名录中的单位；请填写名录中的单位全称、"
                             "简称或编号"),)))
            continue
        if not values.get("infringement_division"):
            values = with_division(values, places)
        # Senders number their own records: two provinces may both have a lead "001".
        key = f"{body or '-'}/{row.natural_key}" if external else row.natural_key
        if len(key) > MAX_KEY:  # as stored: a longer one would fail the whole import
            rejected.append(Rejected(row.kind, row.row, (Problem(
                key_column, f"编号连同报送单位标识共 {len(key)} 字，超过上限 {MAX_KEY} 字"),)))
            continue
        if (earlier := first_row.setdefault(key, row.row)) != row.row:
            same = f"（{row.natural_key}）" if external else "（权利人、商标、涉嫌侵权人相同）"
            rejected.append(Rejected(row.kind, row.row, (Problem(
                key_column, f"与第 {earlier} 行是同一条记录{same}"),)))
            continue
        yield new_record(key, values, external, body)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while rows stream through: an import allocates millions of
    short-lived, acyclic objects, and the collector's passes over them cost it about a tenth of
    its time. Whatever cycles do form are collected when it resumes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def record_group(kind: str, lazy: Mapping[str, tuple[str, str]] | None = None) -> click.Group:
    """The commands of one record kind; ``lazy`` adds others imported on first use."""
    word = KIND_WORDS[kind]

    @click.group(name=kind, cls=LazyGroup, lazy=lazy or {},
                 help=f"{word}记录：登记、导入、查询、导出、状态变更。")
    def group() -> None:
        pass

    @group.command("import")
    @click.argument("path", type=SafePath(path_type=Path))
    @click.option("--campaign", required=True)
    @click.option("--mapping", type=SafePath(path_type=Path), help="列名对照表（YAML）")
    @click.option("--sheet", default=None, help="XLSX 工作表名（默认第一个未隐藏的）")
    @click.option("--header-row", type=click.IntRange(min=1), default=None,
                  help="表头所在行（默认第 1 行；第 1 行是标题时自动向下查找）")
    @click.option("--rejects", type=SafePath(path_type=Path), help="写出被拒行（CSV）")
    @ACTOR
    @DB
    def import_(path: Path, campaign: str, mapping: Path | None, sheet: str | None,
                header_row: int | None, rejects: Path | None, actor: str,
                db_url: str | None) -> None:
        """Import a CSV or XLSX file: valid rows in one transaction, bad rows listed."""
        if rejects is not None and not rejects.parent.is_dir():  # before anything is stored
            fail(f"无法写入被拒行文件 {rejects}：文件夹 {rejects.parent} 不存在")
        store = open_store(db_url)
        def_id, definition = _definition(store, campaign)
        life = _machine(definition, kind).life
        rejected: list[Rejected] = []
        size = path.stat().st_size if path.is_file() else 0
        with click.progressbar(length=max(size, 1), label=f"导入{word}", file=sys.stderr,
                               show_pos=False) as bar:
            last = [0.0]

            def progress(_count: int, fraction: float | None) -> None:
                if fraction is not None:
                    bar.update(int(fraction * size) - int(last[0] * size))
                    last[0] = fraction

            try:
                # a file's repeated records are found by _new_records, by sender id
                with Intake(path, kind, extra_fields=life.fields, override=mapping, sheet=sheet,
                            header_row=header_row, on_progress=progress,
                            detect_duplicates=False) as intake, \
                        _no_cycle_collection():
                    done = records.insert_records(
                        store, kind, campaign, def_id,
                        _new_records(iter(intake), definition.bodies, rejected,
                                     intake.column_of("body"), intake.column_of("external_id")),
                        actor=actor, initial_state=life.initial)
                    notes = intake.warnings
            except IntakeError as exc:
                hint = "（可用 --header-row 指定表头所在的行）" \
                    if exc.code == "no-identity-columns" and header_row is None else ""
                fail(f"{exc}{hint}")
                return
        for note in notes:
            click.echo(f"提示：{note}", err=True)
        for row in rejected:
            for problem in row.problems:
                click.echo(f"第 {row.row} 行，列“{problem.column}”：{problem.reason}", err=True)
        unwritten = None
        if rejects is not None and rejected:
            try:
                write_rejects(rejects, rejected)
            except OSError as exc:  # no permission, a full disk: the rows above still say it
                unwritten = (f"无法写入被拒行文件 {rejects}：{exc.strerror or exc}"
                             "（被拒行已在上方列出）")
        where = f"（见 {rejects}）" if rejects and rejected and unwritten is None else ""
        click.echo(f"导入{word}：新增 {done.inserted} 条，已存在 {len(done.duplicates)} 条，"
                   f"拒收 {len(rejected)} 行{where}")
        if unwritten is not None:
            fail(unwritten)

    @group.command("add")
    @click.option("--campaign", required=True)
    @click.option("--field", "-f", "pairs", multiple=True, metavar="列名=值",
                  help="字段值，可用中文列名或字段名，可重复")
    @ACTOR
    @DB
    def add(campaign: str, pairs: tuple[str, ...], actor: str, db_url: str | None) -> None:
        """Register one record from name=value pairs (validated like an imported row)."""
        store = open_store(db_url)
        def_id, definition = _definition(store, campaign)
        life = _machine(definition, kind).life
        raw: dict[str, Any] = {}
        for pair in pairs:
            name, sep, value = pair.partition("=")
            if not sep:
                fail(f"“{pair}”应写作 列名=值")
            raw[name.strip()] = value
        parser = RowParser(default_mapping(kind, life.fields))
        try:
            row = parser.parse(1, raw)
        except IntakeError as exc:  # two names given for one field
            fail(str(exc))
            return
        if parser.unknown_columns:  # a misspelt name would register the record without it
            known = [w for name, f in parser.mapping.fields.items() for w in (f.label, name)]
            for name in parser.unknown_columns:
                hint = did_you_mean(name, known)
                fail(f"没有名为“{name}”的字段" + (f"；是否应为“{hint[1]['suggestion']}”？"
                                                  if hint else ""))
        rejected: list[Rejected] = []
        done = records.insert_records(store, kind, campaign, def_id,
                                      _new_records(iter([row]), definition.bodies, rejected),
                                      actor=actor, initial_state=life.initial)
        if rejected:
            fail("；".join(f"“{p.column}”：{p.reason}" for p in rejected[0].problems))
        if done.duplicates:
            fail(f"该{word}已登记（{done.duplicates[0]}）")
        assert isinstance(row, Accepted)
        click.echo(f"已登记{word}（识别码 {row.natural_key}）")

    @group.command("list")
    @click.option("--campaign")
    @click.option("--state")
    @click.option("--body")
    @click.option("--limit", type=int)
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @DB
    def list_(campaign: str | None, state: str | None, body: str | None, limit: int | None,
              fmt: str, db_url: str | None) -> None:
        """List records with filters."""
        store = open_store(db_url)
        for row in records.listing(store, kind, campaign=campaign, state=state, body=body,
                                   limit=limit):
            if fmt == "json":
                click.echo(json.dumps(row, ensure_ascii=False, default=str))
            else:
                name = row.get("right_holder") or row.get("handling_body") or ""
                click.echo(f"{row['id']}\t{row['campaign_id']}\t{row['state']}\t"
                           f"{row['external_id'] or ''}\t{row['body_id'] or ''}\t{name}")

    def fetch(store: Store, record_id: int) -> dict[str, Any]:
        try:
            return records.get(store, kind, record_id)
        except records.RecordNotFound:
            fail(f"没有编号为 {record_id} 的{word}")
            raise

    @group.command("show")
    @click.argument("record_id", type=RECORD_ID)
    @DB
    def show(record_id: int, db_url: str | None) -> None:
        """Show one record and its audit trail."""
        store = open_store(db_url)
        row = fetch(store, record_id)
        click.echo(json.dumps({"record": row, "history": records.history(store, kind, record_id)},
                              ensure_ascii=False, indent=2, default=str))

    @group.command("move")
    @click.argument("record_id", type=RECORD_ID)
    @click.argument("trigger")
    @ACTOR
    @click.option("--reason", default=None)
    @DB
    def move(record_id: int, trigger: str, actor: str, reason: str | None,
             db_url: str | None) -> None:
        """Fire a lifecycle trigger; refused unless its guards hold."""
        store = open_store(db_url)
        row = fetch(store, record_id)
        machine = _machine(definitions.by_id(store, row["definition_id"]), kind)
        outcome = records.move(store, kind, record_id, trigger, machine, actor=actor,
                               reason=reason)
        if isinstance(outcome, Refused):
            fail(outcome.message())
        click.echo(f"{word} {record_id}：{outcome.source} → {outcome.dest}")

    @group.command("export")
    @click.argument("path", type=SafePath(path_type=Path))
    @click.option("--campaign")
    @click.option("--state")
    @click.option("--body")
    @DB
    def export(path: Path, campaign: str | None, state: str | None, body: str | None,
               db_url: str | None) -> None:
        """Export records to CSV or XLSX (formula-safe), re-importable as is."""
        store = open_store(db_url)
        writer: Callable[..., Any] = write_xlsx if path.suffix.lower() == ".xlsx" else write_csv
        listed = ({**r, **(r.get("extra") or {}), "body": r["body_id"]}
                  for r in records.listing(store, kind, campaign=campaign, state=state, body=body))
        for_states, for_table = tee(listed)
        headers, table = record_table(default_mapping(kind), for_table)
        count = [0]

        def rows() -> Iterator[list[Any]]:
            for record, row in zip(for_states, table, strict=True):
                count[0] += 1
                yield [record["id"], record["state"], *row]

        try:
            writer(path, ["记录号", "状态", *headers], rows())
        except OSError as exc:  # a folder, a missing folder, no permission, a full disk
            fail(f"无法写入 {path}：{exc.strerror or exc}")
        click.echo(f"已导出{word} {count[0]} 条到 {path}")

    return group


lead_group = record_group("lead", lazy={"forward": ("engine.commands.routing", "forward"),
                                        "feedback": ("engine.commands.routing", "feedback")})
case_group = record_group("case")
