"""A letter as a Word document (.docx) that Word, WPS and LibreOffice open as an official letter.

Word picks the face for Chinese characters from ``w:rFonts/@w:eastAsia``, not from the font name
python-docx sets (``ascii``/``hAnsi``): without it, a letter set in 仿宋 shows up in the reader's
default 宋体 or, where that is missing, in boxes. So every run and the styles carry it.
"""

from __future__ import annotations

from io import BytesIO

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.text.font import CT_RPr
from docx.shared import Mm, Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from engine.letters.formats import PAGE_MARGINS_MM
from engine.letters.layout import LetterLayout, parse_letter

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
LATIN_FONT = "Times New Roman"
"""Digits and Latin letters in official documents are set in Times New Roman."""

BODY_SIZE = Pt(16)  # 三号
TITLE_SIZE = Pt(22)  # 二号
LINE = Pt(28.9)  # 22 lines in the 225 mm text block
INDENT = Pt(32)  # two characters of 三号


def mark_chinese(r_pr: CT_RPr) -> None:
    """Declare the text Simplified Chinese (``w:lang``), call it last on a run's properties.

    A reader without the named face gets a substitute chosen by language: without this,
    LibreOffice picks a Japanese CJK face, whose forms of some characters differ from Chinese.
    ``w:lang`` comes late in the schema's order of run properties, hence appended last.
    """
    lang = OxmlElement("w:lang", {qn("w:val"): "zh-CN", qn("w:eastAsia"): "zh-CN"})
    r_pr.append(lang)


def set_fonts(run: Run, east_asia: str, size: Pt) -> None:
    """Give ``run`` its Chinese face (``w:eastAsia``) as well as its Latin one."""
    run.font.name = LATIN_FONT
    run.font.size = size
    r_pr = run._element.get_or_add_rPr()
    r_fonts = r_pr.get_or_add_rFonts()
    r_fonts.set(qn("w:eastAsia"), east_asia)
    r_fonts.set(qn("w:hint"), "eastAsia")
    mark_chinese(r_pr)


def _paragraph(doc: DocxDocument, text: str, *, indent: bool = True, align: int | None = None,
               right_chars: int = 0) -> Paragraph:
    """A body paragraph: 仿宋 三号, exact 28.9 pt lines, first line indented two characters."""
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = INDENT
    if right_chars:
        fmt.right_indent = Pt(16 * right_chars)
    if align is not None:
        p.alignment = align  # type: ignore[assignment]
    set_fonts(p.add_run(text), BODY_FONT, BODY_SIZE)
    return p


def layout_docx(layout: LetterLayout) -> bytes:
    """The .docx bytes for a parsed letter: A4, GB/T 9704 margins, title property set."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = Mm(PAGE_MARGINS_MM["top"])
    section.right_margin = Mm(PAGE_MARGINS_MM["right"])
    section.bottom_margin = Mm(PAGE_MARGINS_MM["bottom"])
    section.left_margin = Mm(PAGE_MARGINS_MM["left"])

    normal = doc.styles["Normal"]
    normal.font.name = LATIN_FONT  # type: ignore[attr-defined]
    normal.font.size = BODY_SIZE  # type: ignore[attr-defined]
    normal_rpr = normal.element.get_or_add_rPr()
    normal_rpr.get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    mark_chinese(normal_rpr)

    props = doc.core_properties
    props.title = layout.title
    props.author = layout.sender or ""
    props.language = "zh-CN"

    if layout.title:
        title = doc.add_paragraph()
        title.alignment = WD_ALIGN_PARAGRAPH.CENTER
        fmt = title.paragraph_format
        fmt.space_before, fmt.space_after = Pt(0), LINE
        set_fonts(title.add_run(layout.title), TITLE_FONT, TITLE_SIZE)
    if layout.addressee:
        _paragraph(doc, layout.addressee, indent=False, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    for text in layout.paragraphs:
        _paragraph(doc, text, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    if layout.contacts_label is not None:
        _paragraph(doc, layout.contacts_label)
        for contact in layout.contacts:
            p = _paragraph(doc, contact, indent=False)
            p.paragraph_format.left_indent = Pt(64)  # under the label's text
    if layout.sender or layout.date:
        _paragraph(doc, "", indent=False)  # one blank line before the signature
        for text in (layout.sender, layout.date):
            if text:
                _paragraph(doc, text, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT, right_chars=2)

    out = BytesIO()
    doc.save(out)
    return out.getvalue()


def to_docx(text: str) -> bytes:
    """The rendered letter ``text`` as .docx bytes."""
    return layout_docx(parse_letter(text))
