"""Load definition files: campaigns with the registries they use, checked once, all problems kept.

This is the only entry point from files to the model. A :class:`Definition` is what everything
downstream (planner, store, letters, summaries) receives: an immutable campaign plus the body
index its selectors resolve against.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml

from engine.spec import cascade
from engine.spec.bodies import BodyIndex
from engine.spec.cascade import Lineage
from engine.spec.convert import convert_document
from engine.spec.diagnostics import Pos, Report, did_you_mean
from engine.spec.model import BodyRegistry, Campaign
from engine.spec.rules import Context, check_campaign
from engine.spec.yamlread import Source, compose, is_file, read_source


class DefinitionError(Exception):
    """Raised by :func:`load_definition` when a file has errors; carries the diagnostics."""

    def __init__(self, report: Report) -> None:
        self.report = report
        first = report.sorted()[0].format("en") if report.errors else "invalid definition"
        super().__init__(first)


@dataclass(frozen=True)
class Definition:
    """A checked campaign, ready to run: the campaign, its bodies, and the text it came from."""

    campaign: Campaign
    bodies: BodyIndex
    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass
class Validation:
    """What :func:`validate_paths` found across all files."""

    report: Report = field(default_factory=Report)
    definitions: list[Definition] = field(default_factory=list)
    registries: list[BodyRegistry] = field(default_factory=list)
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.report.errors


class _Loader:
    """Caches registries by path so twenty campaigns sharing one registry read it once."""

    def __init__(self, report: Report, template_dirs: tuple[Path, ...] = ()) -> None:
        self.report = report
        self.template_dirs = template_dirs
        self.registries: dict[Path, BodyRegistry | None] = {}
        self.parents: dict[Path, Campaign | None] = {}

    def read(self, path: Path, display: str) -> tuple[Source, yaml.Node] | None:
        source = read_source(path, self.report, display)
        if source is None:
            return None
        root = compose(source, self.report)
        return None if root is None else (source, root)

    def registry(self, path: Path, display: str) -> BodyRegistry | None:
        key = path.resolve()
        if key not in self.registries:
            loaded = self.read(path, display)
            reg = None
            if loaded is not None:
                reg = convert_document(loaded[1], BodyRegistry, display, self.report)
                if reg is not None and reg.registry != path.stem:
                    self.report.error(reg.at("registry"), "registry-id-mismatch",
                                      id=reg.registry, stem=path.stem)
            self.registries[key] = reg
        return self.registries[key]

    def with_requirements(self, owner: Campaign | BodyRegistry, name: str,
                          path: Path) -> list[BodyRegistry]:
        """The registries ``owner`` names, and the ones those require, each once."""
        out: dict[Path, BodyRegistry] = {}
        todo: list[tuple[Campaign | BodyRegistry, str, Path]] = [(owner, name, path)]
        while todo:
            node, field_name, base = todo.pop(0)
            for i, rel in enumerate(getattr(node, field_name)):
                reg_path = base.parent / rel
                if not is_file(reg_path):
                    self.report.error(node.at(field_name, i), "registry-missing", path=rel)
                    continue
                key = reg_path.resolve()
                if key in out or key == path.resolve():
                    continue
                reg = self.registry(reg_path, _display(reg_path))
                if reg is not None:
                    out[key] = reg
                    todo.append((reg, "requires", reg_path))
        return list(out.values())

    def campaign(self, path: Path, display: str, source: Source, root: yaml.Node,
                 known: frozenset[str]) -> Definition | None:
        before = len(self.report.errors)
        campaign = convert_document(root, Campaign, display, self.report)
        if campaign is None:
            return None
        self.parents.setdefault(path.resolve(), campaign)
        effective, index, lineage = self.effective(campaign, path, display, (campaign.id,))
        check_campaign(Context(effective, index, self.report, path, known,
                               (*self.template_dirs, path.parent.parent / "templates"),
                               lineage))
        if len(self.report.errors) > before:
            return None
        return Definition(effective, index, path, source.text)

    def effective(self, campaign: Campaign, path: Path, display: str,
                  chain: tuple[str, ...]) -> tuple[Campaign, BodyIndex, Lineage]:
        """The campaign as it runs: merged with its parent (if it extends one), with the body
        index of all the registries it then uses, and narrowed to its jurisdiction."""
        lineage = Lineage(own_reports=frozenset(r.id for r in campaign.reports))
        merged = campaign
        if campaign.extends is not None:
            lineage = self.lineage(campaign, path, display, chain, lineage)
            if lineage.parent is not None:
                merged = cascade.merge(lineage.parent, campaign)
        regs = self.with_requirements(merged, "registries", path)
        index = check_registries(regs, self.report)
        if lineage.parent is not None:
            merged, dropped = cascade.narrow(merged, lineage.own_reports, index)
            lineage = dataclasses.replace(lineage, dropped=dropped)
        return merged, index, lineage

    def lineage(self, campaign: Campaign, path: Path, display: str, chain: tuple[str, ...],
                base: Lineage) -> Lineage:
        """Find and load the parent named in ``extends``: ``<id>.yaml`` beside the child."""
        parent_id = campaign.extends
        assert parent_id is not None
        parent_path = path.parent / f"{parent_id}.yaml"
        if parent_id in chain:
            return dataclasses.replace(base, problem="cycle", chain=(*chain, parent_id))
        if not is_file(parent_path):
            try:
                siblings = frozenset(p.stem for p in path.parent.glob("*.yaml"))
            except OSError:
                siblings = frozenset()
            return dataclasses.replace(base, problem="unknown", candidates=siblings)
        parent_display = str(Path(display).parent / parent_path.name)
        parent = self.parent_campaign(parent_path, parent_display)
        if parent is None:
            return dataclasses.replace(base, problem="broken")
        effective, _, above = self.effective(parent, parent_path, parent_display,
                                             (*chain, parent_id))
        if above.problem is not None:
            return dataclasses.replace(base, problem=above.problem if above.problem == "cycle"
                                       else "broken", chain=above.chain)
        return dataclasses.replace(base, parent=effective, chain=(*chain, parent_id))

    def parent_campaign(self, path: Path, display: str) -> Campaign | None:
        """A parent's model, converted once however many children extend it."""
        key = path.resolve()
        if key not in self.parents:
            loaded = self.read(path, display)
            self.parents[key] = None if loaded is None else convert_document(
                loaded[1], Campaign, display, self.report)
        return self.parents[key]


def check_registries(regs: Sequence[BodyRegistry], report: Report) -> BodyIndex:
    """Index the bodies, reporting duplicate ids, unknown parents and cycles."""
    first: dict[str, Pos] = {}
    for reg in regs:
        for body in reg.bodies:
            if body.id in first and first[body.id] != body.pos:
                report.error(body.at("id"), "duplicate-id", id=body.id, what="body",
                             line=first[body.id].line)
            first.setdefault(body.id, body.pos)
    index = BodyIndex.build(regs)
    for body in index.bodies.values():
        if body.parent is not None and body.parent not in index:
            report.error(body.at("parent"), "unknown-body",
                         did_you_mean(body.parent, index.bodies), id=body.parent)
        elif body.parent == body.id or (
                body.parent is not None and body.id in index.ancestors(body.parent)):
            report.error(body.at("parent"), "parent-cycle", id=body.id)
    return index


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _kind_of(root: yaml.Node) -> str | None:
    if isinstance(root, yaml.MappingNode):
        keys = {k.value for k, _ in root.value if isinstance(k, yaml.ScalarNode)}
        if "registry" in keys:
            return "registry"
        if "id" in keys:
            return "campaign"
    return None


def validate_paths(paths: Iterable[Path | str], template_dirs: tuple[Path, ...] = ()) -> Validation:
    """Check every file; campaigns and body registries are told apart by their keys."""
    result = Validation()
    loader = _Loader(result.report, template_dirs)
    loaded = []
    for raw in paths:
        path = Path(raw)
        result.files += 1
        got = loader.read(path, str(raw))
        if got is not None:
            loaded.append((path, str(raw), *got))
    known = frozenset(p.stem for p, _, _, root in loaded if _kind_of(root) == "campaign")
    for path, display, source, root in loaded:
        kind = _kind_of(root)
        if kind == "registry":
            reg = loader.registry(path, display)
            if reg is not None:
                result.registries.append(reg)
                check_registries([reg, *loader.with_requirements(reg, "requires", path)],
                                 result.report)
        elif kind == "campaign":
            definition = loader.campaign(path, display, source, root, known)
            if definition is not None:
                result.definitions.append(definition)
        else:
            result.report.error(Pos(display, 1, 1), "not-a-campaign")
    return result


def load_definition(path: Path | str) -> Definition:
    """Load one campaign or raise :class:`DefinitionError` with every problem found."""
    result = validate_paths([path])
    if not result.ok or not result.definitions:
        raise DefinitionError(result.report)
    return result.definitions[0]


def definition_from_text(path: Path, text: str, display: str, report: Report) -> Definition | None:
    """Check ``text`` as if it were the campaign file at ``path`` (its registries, parent and
    templates are found relative to that place). Used to re-check a stored version whose file
    has since been edited; problems go to ``report``."""
    source = Source(display, text)
    root = compose(source, report)
    if root is None:
        return None
    return _Loader(report).campaign(path, display, source, root, frozenset({path.stem}))


T = TypeVar("T")


def per_definition(build: Callable[[Definition], T]) -> Callable[[Definition], T]:
    """Memoise ``build`` per definition object. A definition is immutable and the daemon or a
    day-by-day run asks for the same one every tick; the object is held with its result, so
    its id cannot be reused for another while cached."""
    cache: dict[int, tuple[Definition, T]] = {}

    @functools.wraps(build)
    def cached(definition: Definition) -> T:
        hit = cache.get(id(definition))
        if hit is not None and hit[0] is definition:
            return hit[1]
        if len(cache) > 64:
            cache.clear()
        result = build(definition)
        cache[id(definition)] = (definition, result)
        return result

    return cached
