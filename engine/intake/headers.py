"""Which spreadsheet column feeds which record field, and the Chinese words for enum values.

Staff do not copy the labels of :mod:`engine.spec.fields` letter for letter: they write 注册号 for
商标注册号, 侵权地 for 涉嫌侵权行为地, wrap long headers over two lines, and type full-width
brackets. So every field accepts its label, its code name and the aliases below, all compared
after :func:`normalise_header`. A campaign's own fields add their labels; an override file maps
whatever else a province's template says.

Money: the statistics return counts 万元, and so do ``amount_involved`` and ``penalty_amount``. A
column whose header says 元 is accepted only through an explicit ``Column.scale`` of 1/10000, so
a 元 figure can never be stored as 万元 by accident (an override must say ``unit: 元``).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import yaml

from engine.intake.readers import IntakeError
from engine.spec.fields import RECORD_FIELDS, RecordField
from engine.spec.model import FieldDef

RecordKind = Literal["lead", "case"]

YUAN_TO_WAN = Decimal("0.0001")
"""Multiplier from a 元 column to the 万元 the record fields hold."""

PSEUDO_FIELDS: Mapping[str, Mapping[str, RecordField]] = MappingProxyType({
    "lead": MappingProxyType({
        "external_id": RecordField("external_id", "线索编号", "string"),
        "body": RecordField("body", "报送单位", "string"),
    }),
    "case": MappingProxyType({
        "external_id": RecordField("external_id", "案件编号", "string"),
        "body": RecordField("body", "报送单位", "string"),
    }),
})
"""Columns every record has besides its fields: the sender's own number, and who sent it."""

ALIASES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "lead": MappingProxyType({
        "external_id": ("线索编码", "线索号"),
        "body": ("上报单位", "填报单位", "报送单位(盖章)", "填报单位(盖章)"),
        "right_holder": ("权利人名称", "商标权利人", "商标注册人", "注册人", "权利人(商标注册人)"),
        "mark": ("商标名称", "涉案商标", "商标标识", "被侵权商标"),
        "registration_number": ("注册号", "商标注册证号", "注册证号"),
        "nice_class": ("类别", "核定类别", "商品类别", "国际分类", "尼斯分类"),
        "ownership_clear": ("权属是否明晰", "权属明晰", "商标权属明晰"),
        "right_holder_contact": ("维权联系人", "联系人", "联系方式", "联系电话", "权利人联系方式",
                                 "维权联系方式", "维权联系电话"),
        "suspected_infringer": ("侵权人", "涉嫌侵权人名称", "涉嫌侵权主体", "侵权主体",
                                "侵权嫌疑人"),
        "infringement_place": ("侵权地", "侵权行为地", "侵权地点", "涉嫌侵权地", "涉嫌侵权地址",
                               "侵权地址"),
        "infringement_division": ("行政区划代码", "区划代码", "侵权地行政区划代码",
                                  "侵权行为地区划代码"),
        "mark_usage": ("标识使用情况", "侵权标识使用情况", "商标使用情况"),
        "focus_category": ("重点类型", "重点商标类别"),
        "received_on": ("收集时间", "线索收集日期"),
        "summary": ("简要情况", "线索内容", "线索情况"),
    }),
    "case": MappingProxyType({
        "external_id": ("案号", "案件编码", "立案编号"),
        "body": ("上报单位", "填报单位", "报送单位(盖章)", "填报单位(盖章)"),
        "right_type": ("知识产权类型", "侵权类型"),
        "handling_body": ("承办单位", "查处单位", "办案机关"),
        "handling_kind": ("部门类别", "办案部门类型"),
        "amount_involved": ("涉案金额", "案值", "案值(万元)"),
        "suspects_caught": ("抓获犯罪嫌疑人(人)", "抓获人数"),
        "arrest_cases": ("批捕案件(件)",),
        "arrest_persons": ("批捕犯罪嫌疑人(人)", "批捕人数"),
        "prosecution_cases": ("起诉案件(件)",),
        "prosecution_persons": ("起诉犯罪嫌疑人(人)", "起诉人数"),
        "penalty_amount": ("罚没金额", "罚没款(万元)", "罚没款"),
        "penalty_published": ("是否公示", "处罚信息是否公示", "是否已公示"),
        "lead_id": ("线索编号", "线索编码"),
        "opened_on": ("立案时间",),
        "closed_on": ("结案时间",),
        "summary": ("案情简介", "简要案情", "案情摘要"),
    }),
})
"""What staff actually write for each field, besides its label (compared normalised)."""

YUAN_HEADERS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "lead": MappingProxyType({}),
    "case": MappingProxyType({
        "amount_involved": ("涉案金额(元)", "案值(元)"),
        "penalty_amount": ("罚没金额(元)", "罚没款(元)"),
    }),
})
"""Columns in 元, converted to 万元 (× 0.0001) on the way in."""

JOINED_FIELDS = frozenset({"right_holder_contact"})
"""Fields several columns may feed together (联系人 + 联系方式); their texts are joined."""

VALUE_LABELS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # the first word is the label exports write; the rest are accepted on import
    "trade_secret": ("商业秘密",),
    "trademark": ("商标", "商标权", "注册商标"),
    "patent": ("专利", "专利权"),
    "copyright": ("著作权", "版权"),
    "plant_variety": ("植物新品种", "植物新品种权"),
    "geographical_indication": ("地理标志", "地理标志商标"),
    "administrative": ("行政执法部门", "行政执法", "行政部门", "行政"),
    "police": ("公安机关", "公安", "公安部门"),
    "procuratorate": ("检察机关", "检察院", "检察"),
    "well_known_mark": ("驰名商标",),
    "foreign_related_mark": ("涉外商标",),
    "time_honoured_brand": ("老字号", "中华老字号"),
})
"""Chinese words for the enum values of :mod:`engine.spec.fields`."""

_WAN_YUAN = re.compile(r"\((万?元)\)")


def normalise_header(text: object) -> str:
    """The form headers are compared in: NFKC (full-width to half-width), no spaces, lower case.

    Whitespace goes entirely because staff pad and wrap long headers; a trailing ``*`` (the usual
    "required" mark in templates) goes too.
    """
    s = unicodedata.normalize("NFKC", str(text))
    return "".join(s.split()).strip("*").lower()


def value_label(value: object) -> str:
    """The Chinese label of an enum code, or the code itself if it has none."""
    labels = VALUE_LABELS.get(str(value))
    return labels[0] if labels else str(value)


@dataclass(frozen=True, slots=True)
class Column:
    """Where one header's values go, and how a 元 column is brought to 万元."""

    field: RecordField
    scale: Decimal | None = None


@dataclass(frozen=True, slots=True)
class HeaderMap:
    """The headers a record kind accepts: normalised header -> column (None: ignore quietly)."""

    kind: RecordKind
    columns: Mapping[str, Column | None]
    fields: Mapping[str, RecordField]

    def lookup(self, header: str) -> Column | None:
        return self.columns.get(normalise_header(header))

    def ignores(self, header: str) -> bool:
        """True for a header an override marked ``null``: known, deliberately not imported."""
        key = normalise_header(header)
        return key in self.columns and self.columns[key] is None

    def for_kind(self, kind: str, extra_fields: Iterable[FieldDef] = ()) -> HeaderMap:
        """This mapping, checked to be one for ``kind`` records, plus the campaign's fields."""
        if kind != self.kind:
            raise IntakeError("bad-kind", f"列名对照是为 {self.kind} 建立的，不能用于 {kind}",
                              f"the mapping is for {self.kind} records, not {kind}")
        return self.with_extra(extra_fields)

    def with_extra(self, extra_fields: Iterable[FieldDef]) -> HeaderMap:
        """This mapping plus any campaign fields it does not have yet."""
        missing = [fd for fd in extra_fields if fd.name not in self.fields]
        if not missing:
            return self
        columns, fields = dict(self.columns), dict(self.fields)
        _add_extra(self.kind, columns, fields, missing)
        return HeaderMap(self.kind, MappingProxyType(columns), MappingProxyType(fields))


def _check_kind(kind: str) -> RecordKind:
    if kind not in RECORD_FIELDS:
        raise IntakeError("bad-kind", f"记录类型应为 lead（线索）或 case（案件），而不是“{kind}”",
                          f"record kind must be 'lead' or 'case', not '{kind}'")
    return kind  # type: ignore[return-value]


def _add_extra(kind: str, columns: dict[str, Column | None], fields: dict[str, RecordField],
               extra_fields: Iterable[FieldDef]) -> None:
    builtin_labels = {normalise_header(fl.label) for fl in fields.values()}
    for fd in extra_fields:
        if fd.name in fields:
            raise IntakeError("extra-clash", f"本专项增加的字段“{fd.name}”与内置字段同名",
                              f"campaign field '{fd.name}' clashes with a built-in {kind} field")
        key = normalise_header(fd.label)
        if key in builtin_labels:
            raise IntakeError("extra-clash",
                              f"本专项增加的字段“{fd.name}”的列名“{fd.label}”与内置字段的列名相同",
                              f"campaign field '{fd.name}' reuses the built-in header '{fd.label}'")
        field = RecordField(fd.name, fd.label, fd.type, tuple(fd.choices))
        fields[fd.name] = field
        columns[key] = columns[normalise_header(fd.name)] = Column(field)  # beats an alias


def default_mapping(kind: str, extra_fields: Iterable[FieldDef] = (),
                    override: str | os.PathLike[str] | Mapping[str, object] | None = None,
                    ) -> HeaderMap:
    """The headers a ``lead`` or ``case`` file may use, with the campaign's fields and overrides.

    ``override`` is a YAML file path or an already-loaded mapping ``{列名: field_name}``.
    """
    kind = _check_kind(kind)
    fields: dict[str, RecordField] = {**PSEUDO_FIELDS[kind], **RECORD_FIELDS[kind]}
    columns: dict[str, Column | None] = {}
    for name, field in fields.items():
        for header in (*ALIASES[kind].get(name, ()), name, field.label):
            columns[normalise_header(header)] = Column(field)
        for header in YUAN_HEADERS[kind].get(name, ()):
            columns[normalise_header(header)] = Column(field, YUAN_TO_WAN)
    _add_extra(kind, columns, fields, extra_fields)
    mapping = HeaderMap(kind, MappingProxyType(columns), MappingProxyType(fields))
    if override is not None:
        table = override if isinstance(override, Mapping) else load_override(override)
        mapping = apply_override(mapping, table)
    return mapping


def load_override(path: str | os.PathLike[str], max_bytes: int = 1 << 20) -> dict[str, object]:
    """Read an override file ``{列名: field_name}`` with ``yaml.safe_load`` (no custom tags)."""
    p = Path(path)
    try:
        if p.stat().st_size > max_bytes:
            raise IntakeError("too-large", f"列名对照文件过大（上限 {max_bytes} 字节）",
                              f"override file larger than {max_bytes} bytes")
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise IntakeError("unreadable", f"无法读取列名对照文件（{exc.strerror}）",
                          f"cannot read the override file ({exc.strerror})") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise IntakeError("bad-override", f"列名对照文件不是有效的 UTF-8 YAML（{exc}）",
                          f"the override file is not valid UTF-8 YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise IntakeError("bad-override", "列名对照文件应为“列名: 字段名”的映射",
                          "the override file must be a mapping {header: field_name}")
    return {str(k): v for k, v in data.items()}


def _target(header: str, spec: object, fields: Mapping[str, RecordField],
            unknown: list[str]) -> Column | None:
    """One override entry as a column; unknown field names are collected, not raised one by one."""
    unit: object = None
    if isinstance(spec, Mapping):
        name, unit = spec.get("field"), spec.get("unit")
        if set(spec) - {"field", "unit"}:
            raise IntakeError("bad-override", f"列“{header}”的对照只能写 field 和 unit",
                              f"override for '{header}' may only give 'field' and 'unit'")
    else:
        name = spec
    if name is None:
        return None
    if not isinstance(name, str):
        raise IntakeError("bad-override", f"列“{header}”对应的字段名应为文字",
                          f"override for '{header}': the field name must be text")
    if name not in fields:
        unknown.append(name)
        return None
    field = fields[name]
    is_wan = "万元" in field.label
    if unit not in (None, "元", "万元") or (unit is not None and not is_wan):
        raise IntakeError("bad-override",
                          f"列“{header}”的 unit 只能用于金额字段，取值为 元 或 万元",
                          f"override for '{header}': unit applies to amounts only, 元 or 万元")
    stated = _WAN_YUAN.search(normalise_header(header))
    if is_wan and unit is None and stated and stated.group(1) == "元":
        raise IntakeError(
            "override-unit",
            f"列“{header}”以元计，而字段 {name} 以万元计；请写成 {{field: {name}, unit: 元}}，"
            "导入时自动换算",
            f"column '{header}' is in 元 but {name} holds 万元; write {{field: {name}, unit: 元}}")
    return Column(field, YUAN_TO_WAN if unit == "元" else None)


def apply_override(mapping: HeaderMap, override: Mapping[str, object]) -> HeaderMap:
    """``mapping`` with the override's headers added or redirected (``null`` ignores a column).

    Every unknown target field is named in one error, so a template is fixed in one go.
    """
    columns = dict(mapping.columns)
    unknown: list[str] = []
    for header, spec in override.items():
        columns[normalise_header(header)] = _target(str(header), spec, mapping.fields, unknown)
    if unknown:
        names = "、".join(dict.fromkeys(unknown))
        known = ", ".join(mapping.fields)
        raise IntakeError("override-unknown-field",
                          f"列名对照文件中的字段名不存在：{names}；"
                          f"{mapping.kind} 的字段有：{known}",
                          f"unknown field names in the override: {', '.join(unknown)}; "
                          f"{mapping.kind} fields are: {known}")
    return HeaderMap(mapping.kind, MappingProxyType(columns), mapping.fields)


def headers_for(mapping: HeaderMap) -> dict[str, list[str]]:
    """Field name -> the normalised headers that reach it (for documentation and the CLI)."""
    out: dict[str, list[str]] = {name: [] for name in mapping.fields}
    for header, column in mapping.columns.items():
        if column is not None:
            out[column.field.name].append(header)
    return out
