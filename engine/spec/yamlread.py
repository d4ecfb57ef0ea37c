"""Read a YAML file into a node graph, safely, with every problem located.

Only composition is done here (``yaml.compose`` with the safe loader): no Python object is ever
constructed from a tag, so ``!!python/object`` and friends are reported, never executed. Limits on
file size, node count (alias expansion, the "billion laughs") and nesting depth keep a hostile
file from exhausting memory or time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.spec.diagnostics import Pos, Report

MAX_BYTES = 2 * 1024 * 1024
"""A campaign definition is a few dozen KB; anything near this is a mistake or an attack."""
MAX_NODES = 200_000
"""Nodes visited after alias expansion."""
MAX_DEPTH = 64

STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq", "value")
)


@dataclass(frozen=True, slots=True)
class Source:
    """A file's name as shown in messages, and its text."""

    name: str
    text: str


def is_file(path: Path) -> bool:
    """``Path.is_file`` for names taken from a definition: an over-long or otherwise impossible
    name is simply not a file (``is_file`` itself raises on ENAMETOOLONG)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def read_source(path: Path, report: Report, display: str | None = None) -> Source | None:
    """The decoded text of ``path``, or None after reporting why it cannot be read."""
    name = display or str(path)
    pos = Pos(name, 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            report.error(pos, "file-too-large", size=size, limit=MAX_BYTES)
            return None
        raw = path.read_bytes()
    except IsADirectoryError:
        report.error(pos, "file-unreadable", reason="is a directory")
        return None
    except OSError as exc:
        report.error(pos, "file-unreadable", reason=exc.strerror or str(exc))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.error(Pos(name, line, 1), "not-utf8", offset=exc.start)
        return None
    if "\x00" in text:
        at = text.index("\x00")
        report.error(_pos_at(name, text, at), "control-character", code="U+0000")
        return None
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        report.error(pos, "empty-file")
        return None
    return Source(name, text)


FAST_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (about 10x faster at composing); the same
safe loader either way: only composition happens here."""


def compose(source: Source, report: Report) -> yaml.Node | None:
    """The root node of the single YAML document in ``source``, or None after reporting.

    A valid file goes through libyaml; a broken one is composed again by the pure-Python
    parser, whose errors say exactly where the problem is (libyaml counts positions in bytes),
    so speeding up the common case changes no diagnostic."""
    if FAST_LOADER is not yaml.SafeLoader:
        try:
            nodes = list(yaml.compose_all(source.text, Loader=FAST_LOADER))
        except (yaml.YAMLError, RecursionError):
            pass
        else:
            return _single(source, nodes, report)
    try:
        nodes = list(yaml.compose_all(source.text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(source.name, mark.line + 1, mark.column + 1) if mark else Pos(source.name, 1, 1)
        report.error(pos, "yaml-syntax", problem=exc.problem or str(exc))
        return None
    except yaml.reader.ReaderError as exc:  # a control character: located by position only
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        report.error(_pos_at(source.name, source.text, exc.position), "control-character",
                     code=f"U+{code:04X}")
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - every other error carries a mark
        report.error(Pos(source.name, 1, 1), "yaml-syntax", problem=str(exc))
        return None
    except RecursionError:
        report.error(Pos(source.name, 1, 1), "too-deep", limit=MAX_DEPTH)
        return None
    return _single(source, nodes, report)


def _single(source: Source, nodes: list[yaml.Node | None], report: Report) -> yaml.Node | None:
    """The one document of a file, within the size limits; anything else is reported."""
    docs = [n for n in nodes if n is not None]
    if not docs:
        report.error(Pos(source.name, 1, 1), "empty-file")
        return None
    if len(docs) > 1:
        report.error(pos_of(source.name, docs[1]), "multiple-documents")
        return None
    root = docs[0]
    if not _within_limits(source.name, root, report):
        return None
    return root


def _pos_at(name: str, text: str, index: int) -> Pos:
    """Line and column of character ``index`` of ``text``."""
    before = text[:index]
    return Pos(name, before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def pos_of(name: str, node: yaml.Node) -> Pos:
    mark = node.start_mark
    return Pos(name, mark.line + 1, mark.column + 1)


def _within_limits(name: str, root: yaml.Node, report: Report) -> bool:
    """Reject foreign tags, cycles, and graphs that alias expansion would blow up."""
    count = 0
    stack: list[tuple[yaml.Node, int, frozenset[int]]] = [(root, 0, frozenset())]
    while stack:
        node, depth, ancestors = stack.pop()
        count += 1
        if count > MAX_NODES:
            report.error(pos_of(name, root), "too-many-nodes", limit=MAX_NODES)
            return False
        if depth > MAX_DEPTH:
            report.error(pos_of(name, node), "too-deep", limit=MAX_DEPTH)
            return False
        if node.tag == "tag:yaml.org,2002:merge":
            report.error(pos_of(name, node), "merge-key")
            return False
        if node.tag not in STANDARD_TAGS:
            report.error(pos_of(name, node), "unsafe-tag", tag=node.tag)
            return False
        if isinstance(node, yaml.ScalarNode):
            continue
        if id(node) in ancestors:
            report.error(pos_of(name, node), "recursive-alias")
            return False
        inner = ancestors | {id(node)}
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                children.extend((key, value))
        stack.extend((child, depth + 1, inner) for child in children)
    return True
