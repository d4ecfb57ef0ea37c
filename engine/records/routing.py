"""Where a lead goes next: kept in its province, sent up to the national office, or down.

Pure: the definition (its body registry and routing), the lead's state, who holds it and the
division code of the place of infringement in; a suggestion out. The province of a place is
its GB/T 2260 code's first two digits; the body that handles it locally is the most specific
registered body whose division covers the place (county, then city, then the province).

The lead lifecycle names the moves: ``report_to_office`` (a province sends a lead about
another province up to the office), ``forward`` (the office sends it to the province of the
place) and ``assign`` (a province hands it to the local body, or handles it itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.spec.bodies import BodyIndex
from engine.spec.loader import Definition
from engine.spec.model import ROUTING_TRIGGERS, Body

UP, DOWN, LOCAL = ROUTING_TRIGGERS


@dataclass(frozen=True, slots=True)
class Route:
    """A suggested move: fire ``trigger`` and hand the lead to ``to``."""

    trigger: str
    to: str
    reason: str  # Chinese, for the person confirming it

    @property
    def forwards(self) -> bool:
        """A move down to a body that must act on the lead: it gets a forwarding letter and
        owes feedback. Sending a lead up to the office is reporting, not forwarding."""
        return self.trigger in (DOWN, LOCAL)


class NoRoute(ValueError):
    """Why no destination can be suggested (Chinese)."""


def province_of(index: BodyIndex, body_id: str) -> Body | None:
    """The provincial-level body a body belongs to (itself, if it is one)."""
    for candidate in (body_id, *index.ancestors(body_id)):
        body = index.bodies.get(candidate)
        if body is not None and body.level == "province":
            return body
    return None


def province_for(definition: Definition, division: str) -> Body | None:
    """The provincial-level body that receives leads about a place: among the bodies that
    owe the campaign's lead lists (they are the provinces' regulators it deals with), else
    any provincial market regulator. Several registries may hold bodies with the same
    division (a province's regulator and its leading-group office)."""
    c, index = definition.campaign, definition.bodies
    code = division[:2] + "0000"
    owing = [b for r in c.reports if r.quota is not None and r.quota.of == "leads"
             for b in index.select(r.from_)]
    regulators = [b for b in index.bodies.values() if b.kind == "market_regulator"]
    return next((b for b in (*owing, *regulators)  # a plan may have narrowed the owing bodies
                 if b.level == "province" and b.division == code), None)


def local_body(index: BodyIndex, division: str, province: Body) -> Body:
    """The body that handles a place inside ``province``: the most specific one registered
    under it (a county bureau, then a city's), else the province itself."""
    for code in (division, division[:4] + "00"):
        for body in index.bodies.values():
            if body.division == code and body.id != province.id and \
                    province.id in index.ancestors(body.id) and body.kind == province.kind:
                return body
    return province


def suggest(definition: Definition, state: str, holder: str | None,
            division: str | None) -> Route:
    """The next move for a lead in ``state`` held by ``holder`` about a place at ``division``."""
    c, index = definition.campaign, definition.bodies
    if c.routing is None:
        raise NoRoute(f"专项“{c.id}”没有规定线索转办规则（routing）")
    if not division or len(division) != 6 or not division.isdigit():
        raise NoRoute("线索缺少侵权行为地行政区划代码，无法判断去向；请补充后再转办，"
                      "或用 --to 指定接收单位")
    target_province = province_for(definition, division)
    if target_province is None:
        raise NoRoute(f"单位名录中没有区划代码 {division[:2]}0000 对应的省级单位")
    office = c.routing.office
    where = f"侵权行为地（{division}）在{target_province.name}辖区"
    if state == "reported" or holder == office:
        return Route(DOWN, target_province.id, f"{where}，由{index[office].name}转办该省")
    home = province_of(index, holder) if holder else None
    if home is None:
        raise NoRoute("无法确定线索所在省份；请用 --to 指定接收单位")
    if home.id != target_province.id:
        if state == "forwarded":
            raise NoRoute(f"{where}，不在{home.name}辖区：请退回{index[office].name}")
        return Route(UP, office, f"{where}，与收集地不同省，上报{index[office].name}")
    local = local_body(index, division, home)
    if local.id == home.id:
        return Route(LOCAL, home.id, f"{where}，由{home.name}本级办理")
    return Route(LOCAL, local.id, f"{where}，交{local.name}办理")


def route_to(definition: Definition, state: str, to: str) -> Route:
    """The move that hands a lead in ``state`` to a body staff chose (``--to``)."""
    c, index = definition.campaign, definition.bodies
    if to not in index:
        raise NoRoute(f"未知的单位“{to}”")
    office = c.routing.office if c.routing else None
    if state == "reported":
        return Route(DOWN, to, f"按指定转办{index[to].name}")
    if to == office:
        return Route(UP, to, f"按指定上报{index[to].name}")
    return Route(LOCAL, to, f"按指定交{index[to].name}办理")
