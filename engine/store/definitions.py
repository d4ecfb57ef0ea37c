"""Campaign definitions in the store: every loaded version kept, with its text and hash.

Loading the same text twice is a no-op; a changed text becomes the next version. Bodies are
upserted from the definition's registries so records and letters can name them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from engine.spec.loader import Definition, DefinitionError, load_definition
from engine.store.db import Store, StoreError
from engine.store.tables import bodies, definitions


@dataclass(frozen=True)
class Registered:
    definition_id: int
    campaign_id: str
    version: int
    created: bool


def register(store: Store, definition: Definition, *, actor: str) -> Registered:
    """Record ``definition`` (a new version only if its text changed) and its bodies."""
    cid = definition.campaign.id
    with store.engine.begin() as conn:
        latest_row = conn.execute(select(definitions.c.id, definitions.c.version,
                                         definitions.c.sha256).where(
            definitions.c.campaign_id == cid).order_by(definitions.c.version.desc())
            .limit(1)).first()
        if latest_row is not None and latest_row.sha256 == definition.sha256:
            return Registered(latest_row.id, cid, latest_row.version, False)
        # a text seen in an older version becomes current again: a new version, so the
        # history says when the amendment was reverted
        version = (latest_row.version if latest_row is not None else 0) + 1
        new_id = conn.execute(insert(definitions).returning(definitions.c.id).values(
            campaign_id=cid, version=version, sha256=definition.sha256,
            source_path=str(definition.path.resolve()), text=definition.text,
            loaded_at=datetime.now(UTC), loaded_by=actor)).scalar_one()
        index = definition.bodies
        known = set(conn.scalars(select(bodies.c.id)))
        for body in index.bodies.values():
            values = {"name": body.name, "level": body.level, "kind": body.kind,
                      "parent_id": body.parent, "division": body.division,
                      "registry": index.registry_of[body.id]}
            if body.id in known:
                conn.execute(update(bodies).where(bodies.c.id == body.id).values(**values))
            else:
                conn.execute(insert(bodies).values(id=body.id, **values))
        return Registered(new_id, cid, version, True)


def latest(store: Store, campaign_id: str) -> tuple[int, Definition]:
    """The newest loaded version of a campaign, as a checked :class:`Definition`."""
    with store.engine.connect() as conn:
        row = conn.execute(select(definitions).where(definitions.c.campaign_id == campaign_id)
                           .order_by(definitions.c.version.desc()).limit(1)).first()
    if row is None:
        raise StoreError(f"专项“{campaign_id}”尚未载入：请先运行 campaign load 文件")
    return row.id, _reload(row.source_path, row.sha256, campaign_id)


def by_id(store: Store, definition_id: int) -> Definition:
    with store.engine.connect() as conn:
        row = conn.execute(select(definitions).where(definitions.c.id == definition_id)).first()
    if row is None:
        raise StoreError(f"no definition {definition_id}")
    return _reload(row.source_path, row.sha256, row.campaign_id)


_loaded: dict[tuple[str, str], tuple[tuple[int, int], Definition]] = {}
"""Definitions already checked in this process, by (path, sha256), with the file's (mtime,
size) when they were read: a daemon or a day-by-day run must not re-parse and re-validate an
unchanged file on every tick (that was ~70 ms a tick, most of it YAML parsing)."""


def _reload(path: str, sha256: str, campaign_id: str) -> Definition:
    """Re-read the loaded file, refusing to act on a file that changed since it was loaded."""
    source = Path(path)
    try:
        stat = source.stat()
    except OSError:
        stat = None
    if stat is None or not source.is_file():
        raise StoreError(f"专项“{campaign_id}”的定义文件 {path} 已不存在：请重新 campaign load")
    seen = _loaded.get((path, sha256))
    if seen is not None and seen[0] == (stat.st_mtime_ns, stat.st_size):
        return seen[1]
    text = source.read_text(encoding="utf-8-sig")
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
        raise StoreError(f"定义文件 {path} 在载入后被修改：请先运行 campaign load {path}")
    try:
        definition = load_definition(source)
    except DefinitionError as exc:  # a file it uses (a body registry) was edited since: one
        # campaign's fault, to be reported as such, never a traceback that stops every run
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"专项“{campaign_id}”载入后，它引用的文件被修改，现已不能通过检查"
                         f"（{first}）：请修正后重新 campaign load {path}") from exc
    _loaded[(path, sha256)] = ((stat.st_mtime_ns, stat.st_size), definition)
    return definition
