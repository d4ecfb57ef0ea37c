"""The built-in fields of lead and case records, which guards and returns may name.

Leads carry what sourcing_2017 三、（二） asks of a complete lead; cases carry what the statistics
return of foreign_investment_2017 (附件) counts, plus national_2017 (十五)'s publication flag.
The Chinese label is the column header staff see in spreadsheets and letters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RecordField:
    name: str
    label: str
    type: str  # one of model.FieldType
    choices: tuple[str, ...] = ()


def _index(*fields: RecordField) -> Mapping[str, RecordField]:
    return MappingProxyType({fl.name: fl for fl in fields})


RIGHT_TYPES = ("trade_secret", "trademark", "patent", "copyright", "plant_variety",
               "geographical_indication")
HANDLING_KINDS = ("administrative", "police", "procuratorate")
FOCUS = ("well_known_mark", "geographical_indication", "foreign_related_mark",
         "time_honoured_brand")

LEAD_FIELDS = _index(
    RecordField("right_holder", "权利人", "string"),
    RecordField("mark", "商标", "string"),
    RecordField("registration_number", "商标注册号", "string"),
    RecordField("nice_class", "核定使用类别", "string"),
    RecordField("ownership_clear", "商标权属是否明晰", "boolean"),
    RecordField("right_holder_contact", "维权联系人及联系方式", "string"),
    RecordField("suspected_infringer", "涉嫌侵权人", "string"),
    RecordField("infringement_place", "涉嫌侵权行为地", "string"),
    RecordField("infringement_division", "侵权行为地行政区划代码", "division"),
    RecordField("mark_usage", "涉嫌侵权人标识使用情况", "text"),
    RecordField("collecting_body", "收集单位", "string"),
    RecordField("focus_category", "重点类别", "enum", FOCUS),
    RecordField("received_on", "收集日期", "date"),
    RecordField("summary", "线索简要情况", "text"),
)

CASE_FIELDS = _index(
    RecordField("right_type", "权利类型", "enum", RIGHT_TYPES),
    RecordField("handling_body", "办案单位", "string"),
    RecordField("handling_kind", "办案部门类别", "enum", HANDLING_KINDS),
    RecordField("amount_involved", "涉案金额（万元）", "decimal"),
    RecordField("suspects_caught", "抓获犯罪嫌疑人数", "integer"),
    RecordField("arrest_cases", "批捕案件数", "integer"),
    RecordField("arrest_persons", "批捕犯罪嫌疑人数", "integer"),
    RecordField("prosecution_cases", "起诉案件数", "integer"),
    RecordField("prosecution_persons", "起诉犯罪嫌疑人数", "integer"),
    RecordField("penalty_amount", "罚没金额（万元）", "decimal"),
    RecordField("penalty_published", "行政处罚信息是否已公示", "boolean"),
    RecordField("lead_id", "来源线索编号", "string"),
    RecordField("opened_on", "立案日期", "date"),
    RecordField("closed_on", "结案日期", "date"),
    RecordField("summary", "典型案例简述", "text"),
)

RECORD_FIELDS = MappingProxyType({"lead": LEAD_FIELDS, "case": CASE_FIELDS})

RESERVED_NAMES = frozenset({
    "id", "campaign_id", "definition_id", "natural_key", "external_id", "body", "body_id", "state",
    "state_since", "extra", "created_at", "updated_at", "row_version", "source_lead",
    "reported_by"})
"""A record's own bookkeeping, stored in columns of its own (and intake's number and sender):
a campaign field of one of these names would overwrite it, or be dropped, so it is refused
when the definition is checked (a test holds this set to the record tables' columns)."""

