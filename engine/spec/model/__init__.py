"""The campaign definition language as immutable typed objects.

These dataclasses are the one statement of the language: the loader converts YAML into them
(:mod:`engine.spec.convert`), the JSON Schema is generated from them (:mod:`engine.spec.schema`)
and the guide for policy staff is tested against that schema. A key's Chinese description sits
in its field's metadata so editors can show it on hover.

Nothing downstream reads YAML dicts: it reads these objects. Each object remembers where it came
from (``pos``) and where each of its values stands (``spans``), so a rule that finds a problem
in a value can point at that value's line and column.
"""


from engine.spec.model.base import (
    FIRST_YEAR,
    LAST_YEAR,
    PATTERNS,
    AnyScalar,
    BodyKind,
    Citation,
    Division,
    FieldType,
    FocusCategory,
    Id,
    LetterKind,
    Level,
    Month,
    Node,
    Ref,
    ReportKind,
    f,
    model,
    public_fields,
    yaml_key,
)
from engine.spec.model.bodies import Body, BodyRegistry, BodySet, Contact, FormerName, Selector
from engine.spec.model.campaign import (
    DEFAULT_REMINDERS,
    ROUTING_TRIGGERS,
    Campaign,
    Phase,
    Quota,
    Report,
    Routing,
    Target,
    Task,
    effective_reminders,
)
from engine.spec.model.records import (
    Condition,
    FieldDef,
    Lifecycle,
    Lifecycles,
    Measure,
    ReturnForm,
    ReturnRow,
    ReturnSection,
    ReturnText,
    State,
    Timer,
    Transition,
)
from engine.spec.model.timing import (
    Anchor,
    Dated,
    Due,
    EndOfMonth,
    OnDate,
    Recurring,
    Relative,
    ReminderPolicy,
    Window,
)

__all__ = [
    "DEFAULT_REMINDERS", "FIRST_YEAR", "LAST_YEAR", "PATTERNS", "ROUTING_TRIGGERS", "Anchor",
    "AnyScalar", "Body", "BodyKind", "BodyRegistry", "BodySet", "Campaign", "Citation", "Condition", "Contact", "Dated",
    "Division", "Due", "EndOfMonth", "FieldDef", "FieldType", "FocusCategory", "FormerName", "Id",
    "LetterKind", "Level", "Lifecycle", "Lifecycles", "Measure", "Month", "Node", "OnDate",
    "Phase", "Quota", "Recurring", "Ref", "Relative", "ReminderPolicy", "Report", "ReportKind",
    "ReturnForm", "ReturnRow", "ReturnSection", "ReturnText", "Routing", "Selector", "State",
    "Target", "Task", "Timer", "Transition", "Window", "effective_reminders", "f", "model",
    "public_fields", "yaml_key",
]
