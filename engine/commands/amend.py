"""``campaign diff FILE``: what loading a changed definition would change, before it is applied.

Reads like a change notice: the campaign, then what changes in the text in reading order, then
what happens to stored obligations and letters at the next ``campaign run``. Exit 0 whether or
not there are differences (a difference is not an error; scripts use ``--format json`` and look
at ``identical``); 1 when FILE has errors or the loaded version cannot be read again.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import click

from engine.clitypes import SafePath
from engine.commands.records import DB, fail, open_store
from engine.runtime.amend import Effect, Loaded, effect, loaded_version
from engine.runtime.obligations import obligations
from engine.spec.diff import (
    SECTION_NAMES,
    SECTION_ORDER,
    Change,
    cn_date,
    diff,
    obligation_summary,
)
from engine.spec.loader import Definition, validate_paths
from engine.store.db import Store, StoreError

NUMERALS = "一二三四五六七八九十"


def _check(path: Path) -> Definition:
    """FILE checked exactly as ``campaign load`` checks it; errors printed, exit 1."""
    from engine.letters.check import check_templates

    result = validate_paths([path])
    check_templates(result)
    if not result.ok or not result.definitions:
        for d in result.report.sorted():
            click.echo(d.format(), err=True)
        fail("定义文件有错误，无法比较")
    return result.definitions[0]


def _creates(definition: Definition) -> list[dict[str, Any]]:
    """Per report, the obligations a first load would create."""
    days: dict[str, list[date]] = defaultdict(list)
    for ob in obligations(definition):
        days[ob.report].append(ob.due)
    titles = {r.id: r.title for r in definition.campaign.reports}
    return [{"report": r, "title": titles[r], "count": len(d), "first_due": min(d).isoformat(),
             "last_due": max(d).isoformat()} for r, d in days.items()]


def _numbered(changes: list[Change], lang: str) -> list[str]:
    lines: list[str] = []
    for n, section in enumerate(s for s in SECTION_ORDER if any(c.section == s
                                                                 for c in changes)):
        head = SECTION_NAMES[section][0] if lang == "zh" else SECTION_NAMES[section][1]
        lines.append(f"{NUMERALS[n]}、{head}" if lang == "zh" else f"{n + 1}. {head}")
        lines += [f"  {i}. {c.text(lang)}" for i, c in
                  enumerate((c for c in changes if c.section == section), 1)]
    return lines


def _text(new: Definition, loaded: Loaded | None, changes: list[Change], fx: Effect | None,
          lang: str) -> list[str]:
    c = new.campaign
    zh = lang == "zh"
    out = [f"变更说明：{c.title}（{c.id}）" if zh else f"Changes to {c.id}: {c.title}"]
    if loaded is None:
        out.append("尚未载入：载入后为第 1 版，将产生以下报送义务：" if zh
                   else "Not loaded yet: loading makes version 1, with these obligations:")
        for item in _creates(new):
            span = item["first_due"] if item["first_due"] == item["last_due"] else \
                f"{item['first_due']}..{item['last_due']}"
            if zh:
                span = "至".join(cn_date(date.fromisoformat(d)) for d in span.split(".."))
                out.append(f"  {item['title']}：{item['count']} 项，截止 {span}")
            else:
                out.append(f"  {item['report']}: {item['count']}, due {span}")
        return out
    same_as = loaded.versions.get(new.sha256)
    if same_as == loaded.version:
        return [*out, f"与已载入的第 {loaded.version} 版相同，无变化；载入不会产生新版本" if zh
                else f"Identical to loaded version {loaded.version}: nothing to change"]
    if same_as is not None:
        out.append(f"注意：此文本与较早的第 {same_as} 版相同，campaign load 会视为已载入，"
                   "不会产生新版本，改动不会生效" if zh else
                   f"warning: this text equals older version {same_as}; campaign load treats it "
                   "as loaded and the change would not take effect")
    out.append(f"对照已载入的第 {loaded.version} 版；载入后为第 {loaded.version + 1} 版" if zh
               else f"Against loaded version {loaded.version}; loading makes version "
                    f"{loaded.version + 1}")
    if not changes:
        return [*out, "文本有改动（如注释、排版），内容无变化" if zh
                else "The text differs (comments, layout) but nothing it says changes"]
    out += _numbered(changes, lang)
    if fx is not None:
        out.append("对已记录状态的影响（下次 campaign run 时生效）：" if zh
                   else "Effect on the store (at the next campaign run):")
        out += [f"  - {line}" for line in fx.lines(lang)]
    return out


def _json(new: Definition, loaded: Loaded | None, changes: list[Change], fx: Effect | None,
          lang: str) -> dict[str, Any]:
    identical = loaded is not None and loaded.versions.get(new.sha256) == loaded.version
    return {"campaign": new.campaign.id, "identical": identical,
            "loaded_version": loaded.version if loaded else None,
            "next_version": None if identical else (loaded.version + 1 if loaded else 1),
            "changes": [c.to_json(lang) for c in changes],
            "obligations": obligation_summary(changes),
            "effect": fx.__dict__ if fx is not None else None,
            "creates": _creates(new) if loaded is None else []}


def compare(store: Store, new: Definition) -> tuple[Loaded | None, list[Change], Effect | None]:
    """The loaded version, the changes to it and their effect on the store (None, [], None
    when nothing is loaded; no effect is computed when the text is unchanged)."""
    loaded = loaded_version(store, new.campaign.id)
    if loaded is None or loaded.sha256 == new.sha256:
        return loaded, [], None
    return loaded, diff(loaded.definition, new), effect(store, new)


@click.command("diff")
@click.argument("path", type=SafePath(path_type=Path))
@DB
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def diff_command(path: Path, db_url: str | None, fmt: str, lang: str) -> None:
    """Show what loading FILE would change against the loaded version (exit 0 either way)."""
    new = _check(path)
    store = open_store(db_url)
    try:
        loaded, changes, fx = compare(store, new)
    except StoreError as exc:
        fail(str(exc))
        return
    if fmt == "json":
        click.echo(json.dumps(_json(new, loaded, changes, fx, lang), ensure_ascii=False,
                              indent=2))
    else:
        click.echo("\n".join(_text(new, loaded, changes, fx, lang)))
    sys.exit(0)


def load_note(store: Store, new: Definition) -> str | None:
    """For ``campaign load``: one line on the obligation effect of a new version of a campaign
    that was loaded before (computed before registering it); None for a first load, an
    unchanged text, or a loaded version that can no longer be read (load itself goes on)."""
    try:
        loaded, changes, _ = compare(store, new)
    except StoreError:
        return None
    if loaded is None or loaded.sha256 == new.sha256:
        return None
    n = obligation_summary(changes)
    return (f"  报送义务：改期 {n['moved']} 项，新增 {n['added']} 项，撤销 {n['withdrawn']} 项"
            "（下次 campaign run 时生效；详见 campaign diff）")
