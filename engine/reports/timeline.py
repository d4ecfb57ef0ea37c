"""A campaign's timeline as an SVG chart: phases as bars, deadlines as marks, in Chinese.

Pure: a definition in, SVG text out. Hand-written SVG rather than a plotting library: the
chart is a handful of rectangles and labels, and SVG opens in any browser, prints at any
size and embeds in Word. Every label is XML-escaped (phase and report titles are data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape

from engine.spec.dates import DateError, deadlines
from engine.spec.loader import Definition

FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', SimHei, sans-serif"
LEFT, ROW, TOP, WIDTH = 230, 26, 70, 1100
COLOURS = ("#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948")


@dataclass(frozen=True)
class Bar:
    label: str
    start: date
    end: date
    depth: int


@dataclass(frozen=True)
class Mark:
    label: str
    day: date
    count: int  # how many due days the report has (a monthly return has several)


def timeline_items(definition: Definition) -> tuple[list[Bar], list[Mark]]:
    c = definition.campaign
    bars = []

    def walk(phases: tuple, depth: int) -> None:  # type: ignore[type-arg]
        for p in phases:
            if p.window is not None:
                bars.append(Bar(p.name, p.window.start, p.window.end, depth))
            walk(p.phases, depth + 1)

    walk(c.phases, 0)
    marks = []
    for report in c.reports:
        try:
            days = sorted({d.due for d in deadlines(c, report)})
        except DateError:
            continue
        marks.extend(Mark(report.title, day, len(days)) for day in days)
    return bars, marks


def _fit(label: str, limit: int = 15) -> str:
    """A label that fits the left column (the full text stays in the tooltip)."""
    return label if len(label) <= limit else label[:limit - 1] + "…"


def timeline_svg(definition: Definition) -> str:
    """The chart of a campaign from its period's start to its last deadline or phase end."""
    c = definition.campaign
    bars, marks = timeline_items(definition)
    first = min([c.period.start, *(b.start for b in bars), *(m.day for m in marks)])
    last = max([c.period.end, *(b.end for b in bars), *(m.day for m in marks)])
    span = max((last - first).days + 1, 1)
    plot = WIDTH - LEFT - 20

    def x(day: date) -> float:
        return LEFT + plot * (day - first).days / span

    titles = sorted({m.label for m in marks}, key=[m.label for m in marks].index)
    height = TOP + ROW * (len(bars) + len(titles)) + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}" font-size="13">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="30" text-anchor="middle" font-size="18" '
           f'font-weight="bold">{escape(c.title)}：时间安排</text>']
    month = date(first.year, first.month, 1)
    while month <= last:  # a tick and a label at the start of each month
        if month >= first:
            out.append(f'<line x1="{x(month):.1f}" y1="{TOP - 10}" x2="{x(month):.1f}" '
                       f'y2="{height - 40}" stroke="#ddd"/>')
            out.append(f'<text x="{x(month) + 3:.1f}" y="{TOP - 14}" fill="#555">'
                       f'{month.year}年{month.month}月</text>')
        month = (month + timedelta(days=32)).replace(day=1)
    y = TOP
    for i, bar in enumerate(bars):
        out.append(f'<text x="{10 + 14 * bar.depth}" y="{y + 17}">{escape(_fit(bar.label))}'
                   '</text>')
        out.append(f'<rect x="{x(bar.start):.1f}" y="{y + 4}" rx="3" height="{ROW - 8}" '
                   f'width="{max(x(bar.end + timedelta(days=1)) - x(bar.start), 2):.1f}" '
                   f'fill="{COLOURS[i % len(COLOURS)]}" opacity="{0.9 - 0.2 * bar.depth:.1f}">'
                   f'<title>{escape(bar.label)}：{bar.start}—{bar.end}</title></rect>')
        y += ROW
    for title in titles:
        out.append(f'<text x="10" y="{y + 17}">{escape(_fit(title))}<title>{escape(title)}'
                   '</title></text>')
        for m in (m for m in marks if m.label == title):
            cx, cy = x(m.day), y + ROW / 2
            out.append(f'<path d="M{cx:.1f},{cy - 7} l7,7 l-7,7 l-7,-7 z" fill="#e15759">'
                       f'<title>{escape(title)}：{m.day.month}月{m.day.day}日截止</title></path>')
            if m.count <= 3:  # a monthly return's marks speak for themselves
                near_end = cx > WIDTH - 90
                out.append(f'<text x="{cx - 10 if near_end else cx + 10:.1f}" y="{y + 17}" '
                           f'fill="#e15759" text-anchor="{"end" if near_end else "start"}">'
                           f'{m.day.month}月{m.day.day}日</text>')
        y += ROW
    out.append(f'<text x="10" y="{height - 15}" fill="#777">条形为阶段起止，菱形为报送截止日。'
               f'专项期间 {c.period.start} 至 {c.period.end}。</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["timeline_items", "timeline_svg"]
