"""Letters written as Markdown, printable HTML, .docx and PDF, laid out as official documents.

The letter is a real one: the first reminder of a simulated sourcing_2017 run. The image tests
print it (LibreOffice opens the .docx as a reader's program would; WeasyPrint prints the HTML)
and look at the page: ink on it, more than one colour, the title centred. Without the tools
(scripts/install-doc-tools installs them) they skip, except where CI=true: there they fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.letters import LetterRenderer, letter_context
from engine.letters.context import cn_date_written
from engine.letters.formats import FormatUnavailable, to_html, write_letter
from engine.letters.layout import parse_letter
from engine.runtime.simulate import simulate
from engine.spec.loader import load_definition
from tests.backends import in_ci

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script>../../x"


def _first_reminder(**override: object) -> tuple[str, date]:
    definition = load_definition(ROOT / "campaigns" / "sourcing_2017.yaml")
    renderer = LetterRenderer(definition)
    for day, letter in simulate(definition, date(2017, 10, 18), date(2017, 11, 15)):
        if letter.status == "send" and letter.kind == "reminder":
            context = letter_context(definition, letter, day) | override
            return renderer.render(letter.kind, context), day
    raise AssertionError("sourcing_2017 sent no reminder in its first month")


@pytest.fixture(scope="module")
def reminder() -> tuple[str, date]:
    return _first_reminder()


def need(tool: str) -> str:
    """The tool's path; a missing tool skips the test, or fails it where CI=true."""
    path = shutil.which(tool)
    if path is None:
        why = f"{tool} is not installed (scripts/install-doc-tools installs it)"
        if in_ci():
            pytest.fail(f"{why}; CI=true, so this cannot be skipped")
        pytest.skip(why)
    return path


def test_a_real_reminder_parses_into_its_parts(reminder: tuple[str, date]) -> None:
    text, day = reminder
    layout = parse_letter(text)
    assert layout.title == "关于按时报送跨省商标侵权案件线索的提醒函"
    assert layout.addressee is not None and layout.addressee.endswith("：")
    assert any("2017年10月31日前报送" in p for p in layout.paragraphs)
    assert layout.contacts_label == "联系人："
    assert [c.split("，")[0] for c in layout.contacts] == ["王春晔", "符竹", "刘菲"]
    assert layout.sender == "国家工商行政管理总局商标局"
    assert layout.date == cn_date_written(day)
    assert not any(p in (layout.sender, layout.date) or p.startswith(("#", "- "))
                   for p in layout.paragraphs)


def test_markdown_is_the_text_and_the_suffix_is_added(reminder: tuple[str, date],
                                                       tmp_path: Path) -> None:
    text, _ = reminder
    written = write_letter(text, "md", tmp_path / "out" / "letter")
    assert written == tmp_path / "out" / "letter.md"
    assert written.read_text(encoding="utf-8") == text
    assert write_letter(text, "md", tmp_path / "a.md") == tmp_path / "a.md"
    with pytest.raises(ValueError, match="unknown letter format"):
        write_letter(text, "rtf", tmp_path / "a")  # type: ignore[arg-type]


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_a_printable_page_that_escapes_letter_data() -> None:
    text, _ = _first_reminder(recipient=HOSTILE)
    page = to_html(text)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;../../x：" in page
    assert "@page { size: A4; margin: 37mm 26mm 35mm 28mm; }" in page
    assert '<meta charset="utf-8">' in page and "Noto Serif CJK SC" in page
    assert "<link" not in page and "src=" not in page  # self-contained
    parsed = _Texts()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert parsed.tags.count("h1") == 1 and parsed.tags.count("li") == 3
    assert HOSTILE + "：" in "".join(parsed.text)


def test_docx_opens_with_a4_margins_a_centred_title_and_chinese_fonts(
        reminder: tuple[str, date], tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn

    text, _ = reminder
    doc = docx.Document(str(write_letter(text, "docx", tmp_path / "letter")))
    layout = parse_letter(text)
    assert doc.core_properties.title == layout.title
    section = doc.sections[0]
    sizes = [section.page_width, section.page_height, section.top_margin,
             section.right_margin, section.bottom_margin, section.left_margin]
    # .docx stores twips (1/1440 in), so a millimetre size comes back within a twip of itself
    assert [round(s.mm, 1) for s in sizes] == [210, 297, 37, 26, 35, 28]
    title, addressee, first = doc.paragraphs[:3]
    assert title.text == layout.title and title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert addressee.text == layout.addressee and not addressee.paragraph_format.first_line_indent
    assert first.paragraph_format.first_line_indent > 0
    assert [p.alignment for p in doc.paragraphs[-2:]] == [WD_ALIGN_PARAGRAPH.RIGHT] * 2
    assert [p.text for p in doc.paragraphs[-2:]] == [layout.sender, layout.date]
    runs = [r for p in doc.paragraphs for r in p.runs]
    fonts = {r._element.rPr.rFonts.get(qn("w:eastAsia")) for r in runs}
    assert fonts == {"方正小标宋简体", "仿宋_GB2312"}
    assert title.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"


def test_pdf_without_weasyprint_says_what_to_install(reminder: tuple[str, date],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import now raises ImportError
    with pytest.raises(FormatUnavailable, match="pip install 'weasyprint"):
        write_letter(reminder[0], "pdf", tmp_path / "letter")
    assert not list(tmp_path.iterdir())


def _png_grey(data: bytes) -> tuple[int, int, list[int]]:
    """A minimal reader for the 8-bit grey or RGB, non-interlaced PNG that pdftoppm writes.

    Used where Pillow is not installed, so the check never depends on an optional package.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + size]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + size
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    assert header[8] == 8 and header[9] in (0, 2) and header[12] == 0, "unsupported PNG"
    bpp = 1 if header[9] == 0 else 3
    stride, raw = width * bpp, zlib.decompress(idat)
    grey: list[int] = []
    prev = [0] * stride
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        row: list[int] = []
        for i, value in enumerate(line):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                predictor = (0, a, b, (a + b) // 2)[kind]
            row.append((value + predictor) & 0xFF)
        grey += [sum(row[x:x + bpp]) // bpp for x in range(0, stride, bpp)]
        prev = row
    return width, height, grey


def _grey_pixels(png: Path) -> tuple[int, int, list[int]]:
    """Width, height and 0–255 grey levels of a PNG page: Pillow if there, else the reader."""
    try:
        from PIL import Image
    except ImportError:
        return _png_grey(png.read_bytes())
    with Image.open(png) as image:
        grey = image.convert("L")
        return grey.width, grey.height, list(grey.tobytes())


def _assert_printed_page(pdf: Path) -> None:
    """The PDF's first page, as PNG, has ink, more than one colour and a centred title."""
    subprocess.run([need("pdftoppm"), "-png", "-gray", "-r", "50", "-f", "1", "-l", "1",
                    "-singlefile", str(pdf), str(pdf.with_suffix(""))],
                   check=True, capture_output=True, timeout=60)
    width, height, grey = _grey_pixels(pdf.with_suffix(".png"))
    assert width < height  # portrait A4
    assert len(set(grey)) > 1, "the page is one flat colour"
    dark = sum(g < 128 for g in grey) / len(grey)
    assert 0.005 < dark < 0.3, f"{dark:.2%} of the page is ink"
    rows = [grey[y * width:(y + 1) * width] for y in range(height)]
    first = next(y for y, row in enumerate(rows) if min(row) < 128)
    assert 0.08 < first / height < 0.25, "the title is not below the 37 mm top margin"
    inked = [x for y in range(first, first + 5) for x, g in enumerate(rows[y]) if g < 128]
    centre = (min(inked) + max(inked)) / 2 / width
    assert abs(centre - (28 + (210 - 26)) / 2 / 210) < 0.04, "the title is not centred"


def test_docx_converted_by_libreoffice_prints_a_page_that_is_not_blank(
        reminder: tuple[str, date], tmp_path: Path) -> None:
    soffice = need("soffice")
    docx = write_letter(reminder[0], "docx", tmp_path / "letter")
    profile = (tmp_path / "lo-profile").as_uri()  # never touch (or wait on) a user's profile
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
                   check=True, capture_output=True, timeout=120)
    _assert_printed_page(tmp_path / "letter.pdf")


def test_pdf_printed_by_weasyprint_is_not_blank(reminder: tuple[str, date],
                                                tmp_path: Path) -> None:
    try:
        pdf = write_letter(reminder[0], "pdf", tmp_path / "letter")
    except FormatUnavailable as exc:
        if in_ci():
            raise
        pytest.skip(str(exc))
    assert pdf.read_bytes().startswith(b"%PDF-")
    _assert_printed_page(pdf)
