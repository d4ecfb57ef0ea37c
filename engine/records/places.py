"""Resolve a place of infringement, written as text, to a GB/T 2260 division code.

Staff write places as addresses (浙江省杭州市余杭区…). Routing needs the division code. The
codes come from the territorial bodies of the registries a campaign uses: every province
everywhere, and cities and counties where a registry lists them (Suzhou, Xuchang). The most
specific name found in the text wins, and a county found inside a province must agree with it.
This is deliberately conservative: a place it cannot place gets no code rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.spec.bodies import BodyIndex

_BUREAU = re.compile(r"(工商行政管理局|市场监督管理局|市场监督管理厅|市场监督管理委员会|"
                     r"市场和质量监督管理委员会|市场监管局)$")
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市", "区",
             "县")


@dataclass(frozen=True)
class Gazetteer:
    """Place names (full and short) to division codes, longest names tried first."""

    names: tuple[tuple[str, str], ...]

    @classmethod
    def from_bodies(cls, index: BodyIndex) -> Gazetteer:
        pairs: dict[str, str] = {}
        for body in index.bodies.values():
            if body.division is None or body.level not in ("province", "city", "county"):
                continue
            for name in (body.name, *(f.name for f in body.former_names)):
                place = _BUREAU.sub("", name)
                if not place or place == name:
                    continue
                for variant in _variants(place):
                    pairs.setdefault(variant, body.division)
        ordered = sorted(pairs.items(), key=lambda kv: (-len(kv[0]), kv[0]))
        return cls(tuple(ordered))

    def resolve(self, text: str | None) -> str | None:
        """The most specific code whose place name appears in ``text``, if consistent."""
        if not text:
            return None
        found = [code for name, code in self.names if name in text]
        if not found:
            return None
        specific = max(found, key=_depth)
        province = next((c for c in found if c.endswith("0000")), None)
        if province is not None and specific[:2] != province[:2]:
            return province  # a county name from another province: trust the province
        return specific


def with_division(values: dict[str, object], gazetteer: Gazetteer) -> dict[str, object]:
    """``values`` with ``infringement_division`` filled from the place text when not given."""
    place = values.get("infringement_place")
    if isinstance(place, str) and not values.get("infringement_division"):
        code = gazetteer.resolve(place)
        if code is not None:
            return {**values, "infringement_division": code}
    return values


def _variants(place: str) -> Iterable[str]:
    yield place
    for suffix in _SUFFIXES:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            yield place[: -len(suffix)]
            break


def _depth(code: str) -> int:
    return 0 if code.endswith("0000") else 1 if code.endswith("00") else 2
