"""A summary as a Word document (.docx, python-docx): title, CM and period, each section under its heading, the figures
table and the head's comment. Chinese text renders with an East Asian font set on every run (w:eastAsia), since Word
otherwise falls back to a Latin font for CJK characters on some systems.
"""

from __future__ import annotations

import io

from django.utils import timezone
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from ..models import Summary
from .drafting import SECTIONS
from .summaries import figure_rows

EAST_ASIAN_FONT = "SimSun"
LATIN_FONT = "Times New Roman"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _cjk(run, size: float | None = None, bold: bool | None = None) -> None:
    run.font.name = LATIN_FONT
    r_pr = run._element.get_or_add_rPr()
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = r_pr.makeelement(qn("w:rFonts"), {})
        r_pr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    if size is not None:
        run.font.size = Pt(size)
    if bold is not None:
        run.bold = bold


def _style_fonts(document) -> None:
    """The default and heading styles use the East Asian font too (headings otherwise use the theme's font)."""
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        style = document.styles[name]
        style.font.name = LATIN_FONT
        r_pr = style.element.get_or_add_rPr()
        fonts = r_pr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = r_pr.makeelement(qn("w:rFonts"), {})
            r_pr.insert(0, fonts)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
        fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def summary_docx(summary: Summary) -> bytes:
    """The summary as .docx bytes."""
    document = Document()
    _style_fonts(document)
    title = document.add_heading(level=0)
    _cjk(title.add_run(summary.title or str(summary)))
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    meta = document.add_paragraph()
    _cjk(meta.add_run(f"客户经理：{summary.cm.name}（{summary.cm.employee_no}）"), 10.5)
    meta.add_run().add_break()
    _cjk(meta.add_run(f"期间：{summary.period_start:%Y年%m月%d日}—{summary.period_end:%Y年%m月%d日}"), 10.5)
    if summary.submitted_at:
        meta.add_run().add_break()
        _cjk(meta.add_run(f"提交时间：{timezone.localtime(summary.submitted_at):%Y-%m-%d %H:%M}"), 10.5)

    sections = summary.sections or {}
    numbers = "一二三四五六七八九十"
    for i, (key, heading) in enumerate(SECTIONS[summary.kind]):
        h = document.add_heading(level=1)
        _cjk(h.add_run(f"{numbers[i]}、{heading}"))
        text = sections.get(key) or ""
        for line in text.splitlines() or [""]:
            if line.strip():
                _cjk(document.add_paragraph().add_run(line.strip()), 12)

    rows = figure_rows(summary)
    if rows:
        h = document.add_heading(level=1)
        _cjk(h.add_run("附：主要数据"))
        table = document.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for label, value in rows:
            cells = table.add_row().cells
            _cjk(cells[0].paragraphs[0].add_run(label), 10.5)
            _cjk(cells[1].paragraphs[0].add_run(value), 10.5)

    if summary.head_comment:
        h = document.add_heading(level=1)
        _cjk(h.add_run("主任点评"))
        _cjk(document.add_paragraph().add_run(summary.head_comment), 12)
        if summary.commented_at:
            _cjk(
                document.add_paragraph().add_run(
                    f"点评时间：{timezone.localtime(summary.commented_at):%Y-%m-%d %H:%M}"
                ),
                10.5,
            )

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_filename(summary: Summary) -> str:
    return f"summary-{summary.cm.employee_no}-{summary.kind}-{summary.period_start:%Y%m%d}.docx"
