"""Located problems found in a definition, and how they are worded.

Every problem the loader or a rule finds becomes one :class:`Diagnostic` that carries its file,
line and column, so a policy writer can jump straight to the offending line. Messages live in
one catalogue (:mod:`engine.spec.messages`) keyed by a stable code, in Chinese and English; the
code lets tests and tools match a problem without depending on its wording.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.spec.messages import MESSAGES


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """A place in a source file; line and column are 1-based, as editors count them."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: where it is, how bad it is, and what to do about it."""

    pos: Pos
    severity: Severity
    code: str
    args: tuple[tuple[str, Any], ...] = ()
    hint_code: str | None = None
    hint_args: tuple[tuple[str, Any], ...] = ()

    def message(self, lang: str = "zh") -> str:
        return render(self.code, dict(self.args), lang)

    def hint(self, lang: str = "zh") -> str | None:
        if self.hint_code is None:
            return None
        return render(self.hint_code, dict(self.hint_args), lang)

    def format(self, lang: str = "zh") -> str:
        """``FILE:LINE:COL: error|warning: message`` with the hint after it, on one line."""
        text = f"{self.pos}: {self.severity.value}: {self.message(lang)}"
        hint = self.hint(lang)
        if hint:
            text += ("  提示：" if lang == "zh" else "  hint: ") + hint
        return text

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        return {
            "file": self.pos.file,
            "line": self.pos.line,
            "column": self.pos.col,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message(lang),
            "hint": self.hint(lang),
        }


def render(code: str, args: dict[str, Any], lang: str) -> str:
    zh, en = MESSAGES[code]
    template = zh if lang == "zh" else en
    return template.format(**{k: _show(v, lang) for k, v in args.items()})


def _show(value: Any, lang: str) -> str:
    if isinstance(value, (list, tuple)):
        sep = "、" if lang == "zh" else ", "
        return sep.join(str(v) for v in value)
    return str(value)


@dataclass(slots=True)
class Report:
    """Collects diagnostics while loading; order of discovery is kept, output is sorted."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: Pos, code: str, /, hint: tuple[str, dict[str, Any]] | None = None,
              **args: Any) -> None:
        self._add(pos, Severity.ERROR, code, hint, args)

    def warning(self, pos: Pos, code: str, /, hint: tuple[str, dict[str, Any]] | None = None,
                **args: Any) -> None:
        self._add(pos, Severity.WARNING, code, hint, args)

    def _add(self, pos: Pos, severity: Severity, code: str,
             hint: tuple[str, dict[str, Any]] | None, args: dict[str, Any]) -> None:
        if code not in MESSAGES:  # a programming error, caught by the catalogue test
            raise KeyError(f"no message for diagnostic code {code!r}")
        hint_code, hint_args = hint if hint else (None, {})
        self.items.append(Diagnostic(pos, severity, code, _frozen(args), hint_code,
                                     _frozen(hint_args)))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple[Pos, str, tuple[tuple[str, Any], ...]]] = set()
        out = []
        for d in sorted(self.items, key=lambda d: (d.pos, d.code)):
            key = (d.pos, d.code, d.args)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def _frozen(args: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Arguments as hashable pairs, so diagnostics can be de-duplicated (lists become tuples)."""
    return tuple((k, tuple(v) if isinstance(v, (list, set, frozenset)) else v)
                 for k, v in args.items())


def did_you_mean(word: str, candidates: Iterable[str]) -> tuple[str, dict[str, Any]] | None:
    """A hint naming the closest known spelling, or None when nothing is close enough."""
    pool = [c for c in candidates if isinstance(c, str)]
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.7)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return ("did-you-mean", {"suggestion": match[0]}) if match else None
