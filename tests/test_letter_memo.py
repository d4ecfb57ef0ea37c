"""Remembering pure shared macros over a day's letters: only when the text cannot differ."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jinja2 import DictLoader

from engine.letters import LetterRenderer, letter_context
from engine.letters.memo import pure_macros
from engine.runtime.simulate import simulate
from engine.spec.loader import load_definition
from tests.conftest import CAMPAIGNS


def env() -> LetterRenderer:
    return LetterRenderer(load_definition(CAMPAIGNS / "sourcing_2017.yaml"))


@pytest.mark.parametrize(("source", "pure"), [
    ("{% macro m(a) %}{{ a.title }}{% if a.no %}（{{ a.no }}）{% endif %}{% endmacro %}", {"m"}),
    ("{% macro m(xs) %}{% for x in xs %}{{ loop.index }}{{ x.name or '' }}{% endfor %}"
     "{% endmacro %}", {"m"}),
    ("{% macro m(xs) %}{% set n = xs|length %}{{ n }}{{ xs|join('、') }}{% endmacro %}", {"m"}),
    ("{% macro m(a) %}{{ a if a is defined else '' }}{{ range(3)|list }}{% endmacro %}", {"m"}),
    ("{% macro inner(a) %}{{ a }}{% endmacro %}{% macro m(a) %}{{ inner(a) }}{% endmacro %}",
     {"inner", "m"}),
    ("{% macro m(a='无') %}{{ a }}{% endmacro %}", {"m"}),
    # module-level variables, including ones set after the macro
    ("{% set n = 1 %}{% macro m() %}{{ n }}{% endmacro %}", set()),
    ("{% macro m() %}{{ n }}{% endmacro %}{% set n = 1 %}", set()),
    ("{% set n = 1 %}{% macro m(a=n) %}{{ a }}{% endmacro %}", set()),
    ("{% set n = 1 %}{% macro m() %}{{ n }}{% set n = 2 %}{% endmacro %}", set()),
    ("{% set ns = namespace(i=0) %}{% macro m() %}{% set ns.i = ns.i + 1 %}{{ ns.i }}"
     "{% endmacro %}", set()),
    # stateful or random globals and filters
    ("{% macro m() %}{{ cycler('a', 'b').next() }}{% endmacro %}", set()),
    ("{% macro m() %}{{ lipsum(1) }}{% endmacro %}", set()),
    ("{% macro m(xs) %}{{ xs|random }}{% endmacro %}", set()),
    ("{% macro m(xs) %}{{ xs|map('random')|list }}{% endmacro %}", set()),
    # calls a method (a cycler passed in, loop.cycle), the caller, an impure sibling
    ("{% macro m(c) %}{{ c.next() }}{% endmacro %}", set()),
    ("{% macro m(xs) %}{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}{% endmacro %}",
     set()),
    ("{% macro m() %}{{ caller() }}{% endmacro %}", set()),
    ("{% macro m() %}{{ varargs }}{% endmacro %}", set()),
    ("{% macro bad() %}{{ lipsum(1) }}{% endmacro %}{% macro m() %}{{ bad() }}{% endmacro %}",
     set()),
    # filters and tests named by an argument: only Jinja's own, named as constants
    ("{% macro m(xs) %}{{ xs|map('upper')|join }}{{ xs|selectattr('a', 'equalto', 1)|list }}"
     "{% endmacro %}", {"m"}),
    ("{% macro m(xs, f) %}{{ xs|map(f)|join }}{% endmacro %}", set()),
    ("{% macro m(xs, t) %}{{ xs|select(t)|list }}{% endmacro %}", set()),
    # a module-level name shadowing what a macro takes for granted
    ("{% set loop = namespace(n=1) %}{% macro m(xs) %}{% for x in xs %}{{ loop.n }}{% endfor %}"
     "{% endmacro %}", set()),
    ("{% macro m() %}{{ loop.index }}{% endmacro %}", set()),
    ("{% set range = cycler(1, 2) %}{% macro m() %}{{ range(2) }}{% endmacro %}", set()),
    # includes and imports inside the macro
    ('{% macro m() %}{% include "x.j2" %}{% endmacro %}', set()),
    ('{% import "x.j2" as x %}{% macro m() %}{{ x.y }}{% endmacro %}', set()),
])
def test_a_shared_macro_is_remembered_only_when_its_text_follows_from_its_arguments(
        source: str, pure: set[str]) -> None:
    assert pure_macros(env().env, source) == pure


def test_a_filter_or_global_replaced_by_the_deployment_is_not_trusted() -> None:
    renderer = env()
    renderer.env.filters["upper"] = lambda s: s  # not Jinja's own any more
    renderer.env.globals["range"] = lambda n: [n]
    assert pure_macros(renderer.env, "{% macro m(a) %}{{ a|upper }}{% endmacro %}"
                                     "{% macro r() %}{{ range(2) }}{% endmacro %}") == set()


def render_twice(parts: str, letter: str, **ctx: object) -> tuple[str, str]:
    """Render ``letter`` in a batch and outside one, with ``parts`` importable."""
    renderer = env()
    renderer.env.loader = DictLoader({"parts.j2": parts, "letter.j2": letter})
    renderer.overrides["reminder"] = "letter.j2"
    plain = renderer.render("reminder", dict(ctx))
    renderer.refresh()
    with renderer.batch():
        batched = renderer.render("reminder", dict(ctx))
    return plain, batched


def test_a_macro_advancing_a_cycler_it_is_handed_is_called_every_time() -> None:
    plain, batched = render_twice(
        "{% macro next_of(c) %}{{ c.next() }}{% endmacro %}",
        '{% from "parts.j2" import next_of %}{% set c = cycler("甲", "乙") %}'
        "{{ next_of(c) }}{{ next_of(c) }}")
    assert plain == batched == "甲乙"


@pytest.mark.parametrize(("args", "expected"), [
    ("1, 1.0, True", "1|1.0|True"),
    ("'1', 1, none", "1|1|None"),
])
def test_equal_arguments_of_different_types_are_not_confused(args: str, expected: str) -> None:
    plain, batched = render_twice(
        "{% macro show(a) %}{{ a }}{% endmacro %}",
        '{% from "parts.j2" import show %}{% for a in [' + args + '] %}'
        "{{ show(a) }}{{ '|' if not loop.last }}{% endfor %}")
    assert plain == batched == expected


@pytest.mark.parametrize(("letter", "ctx", "expected"), [
    # arguments the letter changes between two calls: a loop, a namespace, a cycler
    ("{% for x in [1, 2, 3] %}{{ show(loop.index) }}{{ show2(loop) }}{% endfor %}", {},
     "112233"),
    ("{% set ns = namespace(index=1) %}{{ show2(ns) }}{% set ns.index = 2 %}{{ show2(ns) }}",
     {}, "12"),
    ("{% set c = cycler('甲', '乙') %}{{ show3(c) }}{{ c.next() and '' }}{{ show3(c) }}", {},
     "甲乙"),
    # equal, printed differently
    ("{{ show(0.0) }}|{{ show(-0.0) }}", {}, "0.0|-0.0"),
    ("{{ show(a) }}|{{ show(b) }}", {"a": datetime(2024, 1, 1, 8, tzinfo=timezone(
        timedelta(hours=8))), "b": datetime(2024, 1, 1, tzinfo=UTC)},
     "2024-01-01 08:00:00+08:00|2024-01-01 00:00:00+00:00"),
    # the caller's autoescape, both ways round
    ("{{ show('<b>') }}|{% autoescape true %}{{ show('<b>') }}{% endautoescape %}", {},
     "<b>|<b>"),
    ("{% autoescape true %}{{ show('<b>') }}{% endautoescape %}|{{ show('<b>')|e }}", {},
     "<b>|&lt;b&gt;"),
    # plain data in a container: remembered, and still right
    ("{{ show2(d) }}{{ show2(d) }}", {"d": {"index": ["甲", {"乙": 1}]}},
     "['甲', {'乙': 1}]['甲', {'乙': 1}]"),
])
def test_a_remembered_call_says_what_a_real_one_would(
        letter: str, ctx: dict[str, object], expected: str) -> None:
    plain, batched = render_twice(
        "{% macro show(a) %}{{ a }}{% endmacro %}{% macro show2(a) %}{{ a.index }}{% endmacro %}"
        "{% macro show3(a) %}{{ a.current }}{% endmacro %}",
        '{% from "parts.j2" import show, show2, show3 %}' + letter, **ctx)
    assert plain == batched == expected


def test_a_batch_inside_a_batch_keeps_the_outer_ones_memory() -> None:
    memo = env().env.memo
    with memo.active():
        outer = memo.said
        with memo.active():
            assert memo.said is outer
        assert memo.said is outer
    assert memo.said is None


def test_a_letters_own_macros_are_not_held_after_it_is_rendered() -> None:
    renderer = env()
    renderer.env.loader = DictLoader({"letter.j2": "{% macro m() %}甲{% endmacro %}{{ m() }}"})
    renderer.overrides["reminder"] = "letter.j2"
    with renderer.batch():
        for _ in range(50):
            assert renderer.render("reminder", {}) == "甲"
    gc.collect()
    assert len(renderer.env.memo._pure) <= 1  # the last one may linger until collected


def test_keyword_and_positional_calls_are_not_confused() -> None:
    plain, batched = render_twice(
        "{% macro m(a, b='乙', c='丙') %}{{ a }}{{ b }}{{ c }}{% endmacro %}",
        '{% from "parts.j2" import m %}{{ m("甲", "c", "丁") }}/{{ m("甲", c="丁") }}')
    assert plain == batched == "甲c丁/甲乙丁"


def test_a_days_letters_share_the_contact_block_and_nothing_is_kept_after() -> None:
    """sourcing_2017's reminders of 24 October: 31 letters, one ``basis`` and one ``foot``
    text between them (they differ only in recipient and shortfall); the memory is dropped when
    the day's batch ends, so a later day's letters are never answered from it."""
    definition = load_definition(CAMPAIGNS / "sourcing_2017.yaml")
    renderer = LetterRenderer(definition)
    day = date(2017, 10, 24)
    reminders = [lt for _, lt in simulate(definition, day, day) if lt.kind == "reminder"]
    assert len(reminders) == 31
    with renderer.batch():
        texts = [renderer.render("reminder", letter_context(definition, lt, day))
                 for lt in reminders]
        said = renderer.env.memo.said
        assert said is not None and len(said) == 2
    assert renderer.env.memo.said is None
    assert texts == [renderer.render("reminder", letter_context(definition, lt, day))
                     for lt in reminders]


def test_a_template_edited_between_batches_is_reread(tmp_path: Path) -> None:
    (tmp_path / "parts.j2").write_text("{% macro m() %}旧{% endmacro %}", encoding="utf-8")
    renderer = env()
    from jinja2 import FileSystemLoader

    renderer.env.loader = FileSystemLoader(str(tmp_path))
    (tmp_path / "letter.j2").write_text('{% from "parts.j2" import m %}{{ m() }}',
                                        encoding="utf-8")
    renderer.overrides["reminder"] = "letter.j2"
    renderer.env.auto_reload = True
    with renderer.batch():
        assert renderer.render("reminder", {}) == "旧"
    (tmp_path / "parts.j2").write_text("{% macro m() %}新新{% endmacro %}", encoding="utf-8")
    renderer.refresh()
    with renderer.batch():
        assert renderer.render("reminder", {}) == "新新"


def test_an_imported_module_still_sees_the_globals_a_template_carries_itself() -> None:
    """Imports skip Jinja's per-letter check for template-level globals when a letter has
    none (all of ours); a template loaded with its own globals must still hand them on."""
    renderer = env()
    renderer.env.loader = DictLoader({"parts.j2": "{% macro m() %}{{ who }}{% endmacro %}",
                                      "letter.j2": '{% from "parts.j2" import m %}{{ m() }}'})
    renderer.overrides["reminder"] = "letter.j2"
    renderer.env.get_template("letter.j2", globals={"who": "甲"})
    with renderer.batch():
        assert renderer.render("reminder", {}) == "甲"
