"""The campaign definition language: load, check and describe campaign files.

Everything downstream receives a :class:`Definition` from :func:`load_definition` (or many from
:func:`validate_paths`) and never reads YAML itself.
"""

from engine.spec.bodies import BodyIndex
from engine.spec.dates import Deadline, deadlines
from engine.spec.diagnostics import Diagnostic, Pos, Severity
from engine.spec.loader import (
    Definition,
    DefinitionError,
    Validation,
    load_definition,
    validate_paths,
)
from engine.spec.model import Campaign, effective_reminders
from engine.spec.schema import json_schema

__all__ = [
    "BodyIndex",
    "Campaign",
    "Deadline",
    "Definition",
    "DefinitionError",
    "Diagnostic",
    "Pos",
    "Severity",
    "Validation",
    "deadlines",
    "effective_reminders",
    "json_schema",
    "load_definition",
    "validate_paths",
]
