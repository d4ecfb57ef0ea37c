"""Letters: what the planner decided, put into words from ``templates/`` (an edge adapter)."""

from engine.letters.context import letter_context
from engine.letters.render import LetterRenderer, TemplateProblem

__all__ = ["LetterRenderer", "TemplateProblem", "letter_context"]
