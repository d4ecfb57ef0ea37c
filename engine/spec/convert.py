"""Turn a YAML node graph into model objects, reporting every shape error on the way.

The conversion is driven by the dataclasses' type hints, so the model in :mod:`engine.spec.model`
is the only statement of which keys exist and what they hold. Errors do not stop the walk: every
unknown key, wrong type and missing field in a file is reported in one pass.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal, NewType, Union

import yaml

from engine.spec import model as m
from engine.spec.diagnostics import Pos, Report, did_you_mean
from engine.spec.yamlread import pos_of

INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "<invalid>"})()
"""Stands for a value that failed to convert; the error has already been reported."""

T = typing.TypeVar("T")


def convert_document(root: yaml.Node, cls: type[T], file: str, report: Report) -> T | None:
    """The model object for ``root``, or None when any error was reported for it."""
    before = len(report.errors)
    value = _Converter(file, report).convert(root, cls, "")
    if value is INVALID or len(report.errors) > before:
        return None
    return typing.cast(T, value)


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def describe(tp: Any) -> str:
    """A short name of a type for messages (``日期`` / ``a date`` are chosen by the catalogue)."""
    if tp is date:
        return "date"
    if tp is bool:
        return "boolean"
    if tp in (int,):
        return "integer"
    if tp is float:
        return "number"
    if isinstance(tp, NewType) or tp is str:
        return {m.Month: "month", m.Division: "division"}.get(tp, "text")
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "list"
    if origin in (Mapping, dict):
        return "mapping"
    if origin is Literal:
        return "choice"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    if tp is m.AnyScalar:
        return "scalar"
    if origin in (Union, types.UnionType):
        return " | ".join(describe(a) for a in typing.get_args(tp) if a is not type(None))
    return str(tp)


class _Converter:
    def __init__(self, file: str, report: Report) -> None:
        self.file = file
        self.report = report
        self.spans: dict[str, Pos] = {}
        # One constructor per document: PyYAML caches every constructed node in it, so a
        # shared one would keep every file ever validated alive in a long-running process.
        self.constructor = yaml.SafeLoader("")

    def pos(self, node: yaml.Node) -> Pos:
        return pos_of(self.file, node)

    def type_error(self, node: yaml.Node, path: str, tp: Any) -> Any:
        self.report.error(self.pos(node), "wrong-type", key=path or "(root)",
                          expected=describe(tp), got=_node_kind(node))
        return INVALID

    # -- dispatch ----------------------------------------------------------------------------
    def convert(self, node: yaml.Node, tp: Any, path: str, one_or_many: bool = False) -> Any:
        origin = typing.get_origin(tp)
        if origin in (Union, types.UnionType):
            return self.union(node, tp, path)
        if origin is tuple:
            return self.sequence(node, typing.get_args(tp)[0], path, one_or_many)
        if origin in (Mapping, dict):
            return self.mapping(node, typing.get_args(tp), path)
        if dataclasses.is_dataclass(tp):
            return self.record(node, tp, path)
        return self.scalar(node, tp, path)

    def union(self, node: yaml.Node, tp: Any, path: str) -> Any:
        options = typing.get_args(tp)
        if _is_null(node) and type(None) in options:
            return None
        options = tuple(o for o in options if o is not type(None))
        records = [o for o in options if dataclasses.is_dataclass(o)]
        if isinstance(node, yaml.MappingNode) and records:
            chosen = records[0] if len(records) == 1 else self.pick_record(node, records, path)
            return INVALID if chosen is None else self.record(node, chosen, path)
        if isinstance(node, yaml.SequenceNode):
            seqs = [o for o in options if typing.get_origin(o) is tuple]
            if seqs:
                return self.sequence(node, typing.get_args(seqs[0])[0], path, False)
        scalars = [o for o in options if not dataclasses.is_dataclass(o)
                   and typing.get_origin(o) is not tuple]
        if isinstance(node, yaml.ScalarNode) and scalars:
            return self.scalar(node, scalars[0], path) if len(scalars) == 1 else \
                self.scalar(node, m.AnyScalar, path)
        return self.type_error(node, path, tp)

    def pick_record(self, node: yaml.MappingNode, records: list[type], path: str) -> type | None:
        """Choose among alternative mapping shapes by the key that only one of them has."""
        keys = {k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
        marks = {cls: _distinctive_key(cls, records) for cls in records}
        for cls, mark in marks.items():
            if mark in keys:
                return cls
        self.report.error(self.pos(node), "ambiguous-shape", key=path,
                          choices=sorted(marks.values()))
        return None

    # -- containers --------------------------------------------------------------------------
    def sequence(self, node: yaml.Node, item: Any, path: str, one_or_many: bool) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            if one_or_many and not _is_null(node):
                value = self.convert(node, item, path)
                self.spans[f"{path}[0]"] = self.pos(node)
                return INVALID if value is INVALID else (value,)
            return self.type_error(node, path, tuple[item, ...])
        out = []
        for index, child in enumerate(node.value):
            self.spans[f"{path}[{index}]"] = self.pos(child)
            out.append(self.convert(child, item, f"{path}[{index}]"))
        return INVALID if any(v is INVALID for v in out) else tuple(out)

    def mapping(self, node: yaml.Node, args: tuple[Any, Any], path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.type_error(node, path, Mapping[str, Any])
        key_type, value_type = args
        out: dict[str, Any] = {}
        ok = True
        for knode, vnode in node.value:
            key = self.scalar(knode, key_type, path)
            if key is INVALID:
                ok = False
                continue
            if key in out:
                self.report.error(self.pos(knode), "duplicate-key", key=key)
                ok = False
            self.spans[f"{path}.{key}"] = self.pos(vnode)
            value = self.convert(vnode, value_type, f"{path}.{key}")
            ok = ok and value is not INVALID
            out[key] = value
        return MappingProxyType(out) if ok else INVALID

    def record(self, node: yaml.Node, cls: type, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.type_error(node, path, cls)
        outer_spans, self.spans = self.spans, {}
        fields = {m.yaml_key(fl): fl for fl in m.public_fields(cls)}
        types_ = hints(cls)
        values: dict[str, Any] = {}
        ok = True
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode) or not isinstance(knode.value, str):
                self.report.error(self.pos(knode), "bad-key")
                ok = False
                continue
            key = knode.value
            where = f"{path}.{key}" if path else key
            fl = fields.get(key)
            if fl is None:
                self.report.error(self.pos(knode), "unknown-key", did_you_mean(key, fields),
                                  key=where, owner=cls.__name__)
                ok = False
                continue
            if fl.name in values:
                self.report.error(self.pos(knode), "duplicate-key", key=where)
                ok = False
                continue
            self.spans[fl.name] = self.pos(vnode)
            value = self.convert(vnode, types_[fl.name], fl.name, fl.metadata.get("one_or_many"))
            if value is not INVALID:
                value = self.check_bounds(vnode, fl, value, where)
            ok = ok and value is not INVALID
            values[fl.name] = value
        for key, fl in fields.items():
            if _required(fl) and fl.name not in values:
                self.report.error(self.pos(node), "missing-key", key=key, owner=cls.__name__,
                                  where=path or "(root)")
                ok = False
        spans, self.spans = self.spans, outer_spans
        if not ok:
            return INVALID
        return cls(pos=self.pos(node), spans=MappingProxyType(spans), **values)

    def check_bounds(self, node: yaml.Node, fl: dataclasses.Field[Any], value: Any,
                     where: str) -> Any:
        low, high = fl.metadata.get("minimum"), fl.metadata.get("maximum")
        if not isinstance(value, int) or isinstance(value, bool):
            return value
        too_low = low is not None and value < low
        too_high = high is not None and value > high
        if too_low or too_high:
            self.report.error(self.pos(node), "out-of-range", key=where, value=value,
                              low=low if low is not None else "-", high=high or "-")
            return INVALID
        return value

    # -- scalars -----------------------------------------------------------------------------
    def scalar(self, node: yaml.Node, tp: Any, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return self.type_error(node, path, tp)
        try:
            # a lone "=" is text, not PyYAML's "value" key; it then meets the usual type checks
            raw = node.value if node.tag.endswith(":value") else \
                self.constructor.construct_object(node)
        except (ValueError, TypeError, OverflowError, yaml.YAMLError) as exc:
            self.constructor.constructed_objects.pop(node, None)
            if node.tag.endswith(":timestamp"):
                self.report.error(self.pos(node), "bad-date", key=path, value=node.value,
                                  reason=str(exc))
            else:
                self.report.error(self.pos(node), "bad-scalar", key=path, value=node.value)
            return INVALID
        if tp is m.AnyScalar:
            if raw is None or isinstance(raw, datetime):
                return self.type_error(node, path, tp)
            return raw
        if tp is date:
            return self.as_date(node, raw, path)
        if typing.get_origin(tp) is Literal:
            choices = typing.get_args(tp)
            if raw in choices and type(raw) is type(choices[0]):
                return raw
            self.report.error(self.pos(node), "bad-choice", did_you_mean(str(raw), choices),
                              key=path, value=node.value, choices=choices)
            return INVALID
        if tp is bool:
            return raw if isinstance(raw, bool) else self.type_error(node, path, tp)
        if tp is int:
            ok = isinstance(raw, int) and not isinstance(raw, bool)
            return raw if ok else self.type_error(node, path, tp)
        if tp is float:
            ok = isinstance(raw, (int, float)) and not isinstance(raw, bool) \
                and math.isfinite(raw)
            return float(raw) if ok else self.type_error(node, path, tp)
        return self.as_text(node, raw, tp, path)

    def as_date(self, node: yaml.ScalarNode, raw: Any, path: str) -> Any:
        if isinstance(raw, datetime):
            self.report.error(self.pos(node), "bad-date", key=path, value=node.value,
                              reason="a date has no time of day")
            return INVALID
        if isinstance(raw, date):
            if not m.FIRST_YEAR <= raw.year <= m.LAST_YEAR:
                self.report.error(self.pos(node), "bad-date", key=path, value=node.value,
                                  reason=f"year outside {m.FIRST_YEAR}-{m.LAST_YEAR}")
                return INVALID
            return raw
        if isinstance(raw, str):
            try:
                parsed = date.fromisoformat(raw.strip())
            except ValueError as exc:
                self.report.error(self.pos(node), "bad-date", key=path, value=raw,
                                  reason=str(exc))
                return INVALID
            return self.as_date(node, parsed, path)
        return self.type_error(node, path, date)

    def as_text(self, node: yaml.ScalarNode, raw: Any, tp: Any, path: str) -> Any:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and tp is m.Division:
            raw = node.value  # a division code written without quotes is still a code
        if not isinstance(raw, str):
            return self.type_error(node, path, tp)
        if not raw.strip():
            self.report.error(self.pos(node), "empty-value", key=path)
            return INVALID
        pattern = m.PATTERNS.get(tp)
        if pattern and not re.match(pattern, raw):
            code = {m.Month: "bad-month", m.Division: "bad-division"}.get(tp, "bad-id")
            self.report.error(self.pos(node), code, key=path, value=raw)
            return INVALID
        return raw


def _required(fl: dataclasses.Field[Any]) -> bool:
    return fl.default is dataclasses.MISSING and fl.default_factory is dataclasses.MISSING


def _distinctive_key(cls: type, others: list[type]) -> str:
    keys = [m.yaml_key(fl) for fl in m.public_fields(cls)]
    shared = {m.yaml_key(fl) for o in others if o is not cls for fl in m.public_fields(o)}
    return next((k for k in keys if k not in shared), keys[0])


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return f"{node.tag.rsplit(':', 1)[-1]} '{node.value}'"
