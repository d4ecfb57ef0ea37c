"""Bodies, registries of bodies, and selectors that fan one obligation out to many."""

from __future__ import annotations

from datetime import date

from engine.spec.model.base import (
    BodyKind,
    Division,
    Id,
    Level,
    Node,
    Ref,
    f,
    model,
)


# --- bodies -----------------------------------------------------------------------------------
@model
class Contact(Node):
    """A person or office to contact (e.g. the contacts at the foot of sourcing_2017)."""

    name: str | None = f("联系人姓名或处室名称", default=None)
    role: str | None = f("职务或分工", default=None)
    phone: str | None = f("联系电话", default=None)
    email: str | None = f("电子邮箱", default=None)
    address: str | None = f("通信地址", default=None)


@model
class FormerName(Node):
    name: str = f("曾用名称（机构改革前的正式名称）")
    until: date | None = f("停止使用该名称的日期（确知时才填写）", default=None)


@model
class Body(Node):
    """Any organisation unit that can owe or receive something."""

    id: Id = f("单位标识，全局唯一，如 beijing_amr、suzhou_aic.trademark")
    name: str = f("单位正式名称（用于公文抬头和落款）")
    short_name: str | None = f("简称，如“总局商标局”", default=None)
    former_names: tuple[FormerName, ...] = f("曾用名称", factory=tuple)
    level: Level = f("层级：national 国家级、province 省级、city 市级、county 县级、department 内设机构")
    kind: BodyKind = f("单位类别，如 market_regulator 市场监管部门、police 公安机关", default="other")
    parent: Ref | None = f("上级单位标识（督办升级时发往此单位）", default=None)
    division: Division | None = f("GB/T 2260 行政区划代码（六位），仅限属地单位", default=None)
    contacts: Contact | None = f("联系方式", default=None)
    note: str | None = f("备注", default=None)


@model
class BodyRegistry(Node):
    """A reusable list of bodies, one file under ``campaigns/bodies/``."""

    registry: Id = f("名录标识，与文件名一致")
    title: str = f("名录名称")
    note: str | None = f("说明", default=None)
    requires: tuple[str, ...] = f("本名录中上级单位所在的其他名录文件（相对本文件的路径）",
                                  factory=tuple, one_or_many=True)
    bodies: tuple[Body, ...] = f("单位列表")


@model
class Selector(Node):
    """A set of bodies: explicit ids, or every body matching all given criteria.

    A selector with only ``name`` stands for addressees the registries do not list
    (e.g. 各省公安厅（局）); it is allowed as an addressee or partner, not as a reporter.
    """

    name: str | None = f("该组单位的中文统称，如“各省级工商、市场监管部门”", default=None)
    bodies: tuple[Ref, ...] = f("逐一列出的单位标识", factory=tuple, one_or_many=True)
    level: Level | None = f("按层级选取", default=None)
    kind: BodyKind | None = f("按单位类别选取", default=None)
    under: Ref | None = f("只选取该单位的下级（含各级下属）", default=None)
    registry: Id | None = f("只选取该名录中的单位", default=None)
    exclude: tuple[Ref, ...] = f("排除的单位标识", factory=tuple, one_or_many=True)


BodySet = Ref | Selector


