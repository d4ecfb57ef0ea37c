"""The parts of a rendered letter, read once from its text so every format lays out the same thing.

Templates render to a small, fixed Markdown-ish shape (``# 标题``, an addressee line ending in
``：``, paragraphs, an optional ``联系人：`` list, then the sender and the written date). The
HTML and .docx writers must not each guess at that shape on their own: a template change would
then break one format silently. So the text is parsed here, into ``LetterLayout``, and the
writers only place its fields.

Parsing is forgiving on purpose: a campaign's own template may drop the addressee or the sender,
and then the letter still lays out (those fields are simply empty), rather than failing to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTACTS_LABEL = "联系人"
WRITTEN_DATE = re.compile(r"^[〇零一二三四五六七八九十\d]{4}年[〇一二三四五六七八九十\d]{1,3}月"
                          r"[〇一二三四五六七八九十\d]{1,3}日$")
"""The date at a letter's foot (二〇一七年十月二十四日, or 2017年10月24日 in a custom template)."""

SENDER_MAX = 60
"""Longer than this, a last line is body text rather than a sender's name."""


@dataclass(frozen=True)
class LetterLayout:
    """One letter's parts, as an official document places them (all plain, unescaped text)."""

    title: str
    addressee: str | None
    paragraphs: tuple[str, ...]
    contacts_label: str | None = None
    contacts: tuple[str, ...] = ()
    sender: str | None = None
    date: str | None = None


def _blocks(text: str) -> list[list[str]]:
    """Runs of non-blank lines (stripped), in order: a blank line ends a block."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _is_contacts(block: list[str]) -> bool:
    return block[0].rstrip("：:").strip() == CONTACTS_LABEL and \
        all(line.startswith("- ") for line in block[1:])


def _item(line: str) -> str:
    return line[2:].strip() if line.startswith("- ") else line


def parse_letter(text: str) -> LetterLayout:
    """Split a rendered letter into its parts; text that fits no part becomes a paragraph.

    Each line of a body block is its own paragraph: templates write one paragraph per line,
    and Chinese has no spaces to rejoin wrapped lines with anyway.
    """
    blocks = _blocks(text)
    title = ""
    if blocks and blocks[0][0].startswith("#"):
        title = blocks[0][0].lstrip("#").strip()
        rest = blocks[0][1:]
        blocks = ([rest] if rest else []) + blocks[1:]

    addressee = None
    if blocks and len(blocks[0]) == 1 and blocks[0][0].endswith(("：", ":")):
        addressee = blocks.pop(0)[0]

    date = None
    if blocks and len(blocks[-1]) == 1 and WRITTEN_DATE.match(blocks[-1][0]):
        date = blocks.pop()[0]

    sender = None
    if date is not None and blocks and len(blocks[-1]) == 1 and not _is_contacts(blocks[-1]):
        last = blocks[-1][0]
        if len(last) <= SENDER_MAX and not last.endswith(("。", "：", ":")) and \
                not last.startswith("- "):
            sender = blocks.pop()[0]

    paragraphs: list[str] = []
    contacts_label: str | None = None
    contacts: list[str] = []
    for block in blocks:
        if contacts_label is None and _is_contacts(block):
            contacts_label = block[0]
            contacts = [_item(line) for line in block[1:]]
        else:
            paragraphs.extend(block)
    return LetterLayout(title=title, addressee=addressee, paragraphs=tuple(paragraphs),
                        contacts_label=contacts_label, contacts=tuple(contacts),
                        sender=sender, date=date)
