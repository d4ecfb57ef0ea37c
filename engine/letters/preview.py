"""Letters of a simulation written out as files, so policy staff can read every letter a
campaign will send before it starts (``campaign simulate --letters DIR``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

from engine.letters.channels import FileChannel, Outgoing
from engine.letters.context import letter_context
from engine.letters.render import renderer_for
from engine.runtime.planner import Letter
from engine.spec.bodies import name_on
from engine.spec.loader import Definition


def write_previews(definition: Definition, letters: Iterable[tuple[date, Letter]], root: Path,
                   formats: tuple[str, ...] = ("md",), counter: list[int] | None = None,
                   ) -> Iterator[tuple[date, Letter]]:
    """Pass ``letters`` through, writing each one to be sent under ``root`` on the way, laid
    out as the outbox lays out real ones (``<campaign>/<date>/<n>-<kind>-<recipient>``)."""
    renderer, channel, index = renderer_for(definition), FileChannel(root, formats), \
        definition.bodies
    written = counter if counter is not None else [0]
    for day, letter in letters:
        if letter.status == "send":
            text = renderer.render(letter.kind, letter_context(definition, letter, day))
            written[0] += 1
            name = name_on(index[letter.recipient], day) if letter.recipient in index \
                else letter.recipient
            channel.send(Outgoing(written[0], letter.key, letter.campaign, letter.kind,
                                  letter.recipient, name, day,
                                  text.lstrip("# ").splitlines()[0], text))
        yield day, letter
