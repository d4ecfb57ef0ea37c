"""JSON Schema of the definition language, generated from the model.

Editors (via yaml-language-server) use it to autocomplete keys, show the Chinese description on
hover and underline mistakes as the policy writer types. Because it is derived from the same
dataclasses the loader converts into, the schema cannot drift from what the engine accepts;
the loader's own rules (references, dates, lifecycles) go further than any schema can.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, NewType, Union

from engine.spec import model as m
from engine.spec.convert import hints

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def json_schema(root: type = m.Campaign) -> dict[str, Any]:
    """The schema of a campaign file (or, with ``root=BodyRegistry``, a registry file)."""
    defs: dict[str, Any] = {}
    top = _object(root, defs)
    title = "专项行动定义文件" if root is m.Campaign else "单位名录文件"
    return {"$schema": DIALECT, "$id": f"campaign-engine:{root.__name__}", "title": title,
            **top, "$defs": dict(sorted(defs.items()))}


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    types_ = hints(cls)
    for fl in m.public_fields(cls):
        key = m.yaml_key(fl)
        prop = _type(types_[fl.name], defs)
        if fl.metadata.get("one_or_many") and prop.get("type") == "array":
            prop = {"anyOf": [prop["items"], prop]}
        for bound, name in (("minimum", "minimum"), ("maximum", "maximum")):
            if fl.metadata.get(bound) is not None:
                prop[name] = fl.metadata[bound]
        prop = {"description": fl.metadata["zh"], **prop}
        if fl.default is not dataclasses.MISSING and fl.default is not None and isinstance(
                fl.default, (str, int, float, bool)):
            prop["default"] = fl.default
        props[key] = prop
        if fl.default is dataclasses.MISSING and fl.default_factory is dataclasses.MISSING:
            required.append(key)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if doc:
        out["description"] = doc
    if required:
        out["required"] = required
    return out


def _ref(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    name = cls.__name__
    if name not in defs:
        defs[name] = {}  # placeholder first: Phase refers to itself
        defs[name] = _object(cls, defs)
    return {"$ref": f"#/$defs/{name}"}


def _type(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(options) < len(typing.get_args(tp))
        parts = [_type(a, defs) for a in options]
        if nullable:
            parts.append({"type": "null"})
        return parts[0] if len(parts) == 1 else {"anyOf": parts}
    if origin is tuple:
        return {"type": "array", "items": _type(typing.get_args(tp)[0], defs)}
    if origin in (Mapping, dict):
        key_type, value_type = typing.get_args(tp)
        out: dict[str, Any] = {"type": "object", "additionalProperties": _type(value_type, defs)}
        if typing.get_origin(key_type) is Literal:
            out["propertyNames"] = {"enum": list(typing.get_args(key_type))}
        return out
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if dataclasses.is_dataclass(tp):
        return _ref(tp, defs)
    if tp is date:
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is m.AnyScalar:
        return {"type": ["string", "number", "boolean"]}
    if isinstance(tp, NewType) or tp is str:
        out = {"type": "string", "minLength": 1}
        if tp in m.PATTERNS:
            out["pattern"] = m.PATTERNS[tp]
        return out
    raise TypeError(f"no JSON Schema for {tp!r}")  # pragma: no cover - a model change missed here


def schema_keys(schema: dict[str, Any]) -> set[str]:
    """Every property name anywhere in the schema (the guide must document each)."""
    keys: set[str] = set()
    for obj in [schema, *schema.get("$defs", {}).values()]:
        keys.update(obj.get("properties", {}))
    return keys
