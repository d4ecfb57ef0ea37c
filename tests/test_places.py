"""Places of infringement resolved to GB/T 2260 codes from the registries' territorial bodies."""

from __future__ import annotations

import pytest

from engine.records.places import Gazetteer, with_division
from engine.spec import load_definition
from tests.conftest import CAMPAIGNS


def gazetteer(campaign: str) -> Gazetteer:
    return Gazetteer.from_bodies(load_definition(CAMPAIGNS / f"{campaign}.yaml").bodies)


@pytest.mark.parametrize("text, code", [
    ("浙江省杭州市余杭区某街道", "330000"), ("江苏省苏州市常熟市虞山镇", "320000"),
    ("内蒙古呼和浩特市", "150000"), ("新疆乌鲁木齐", "650000"), ("广西南宁", "450000"),
    ("陕西省西安市", "610000"), ("山西省太原市", "140000"), ("北京市朝阳区", "110000"),
])
def test_every_province_is_recognised_by_its_full_or_short_name(text: str, code: str) -> None:
    assert gazetteer("sourcing_2017").resolve(text) == code


@pytest.mark.parametrize("text", ["杭州", "某地", "", None])
def test_a_place_it_cannot_place_gets_no_code_rather_than_a_guess(text: str | None) -> None:
    assert gazetteer("sourcing_2017").resolve(text) is None


def test_counties_are_resolved_where_a_registry_lists_them() -> None:
    assert gazetteer("suzhou_2018").resolve("江苏省苏州市常熟市虞山镇") == "320581"
    assert gazetteer("xuchang_2022").resolve("河南省许昌市禹州市") == "411081"


def test_a_county_name_under_another_province_does_not_override_the_province() -> None:
    assert gazetteer("suzhou_2018").resolve("浙江省某地常熟市场") == "330000"


def test_a_division_given_by_staff_is_kept() -> None:
    values = {"infringement_place": "浙江省杭州市", "infringement_division": "330100"}
    assert with_division(values, gazetteer("sourcing_2017")) == values
    filled = with_division({"infringement_place": "浙江省杭州市"}, gazetteer("sourcing_2017"))
    assert filled["infringement_division"] == "330000"
