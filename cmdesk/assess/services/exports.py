"""The 通报 of an assessment run as xlsx and PDF, and a CM's history across months (page data and xlsx).

* :func:`visible_run` — the run a user may export: it must be in the user's view scope; a CM (own scope) gets only
  published or closed runs, and only its own score in them.
* :func:`run_report` — what the 通报 holds for that user: the ranking (rank, CM, department, total, points per group),
  the distribution of totals, and each CM's current items (measured, target, points, the rule as applied).
* :func:`run_xlsx` — a workbook with the sheets 排名 (ranking), 分布 (distribution) and 明细 (items): Chinese headers,
  number formats, frozen header rows and filters.
* :func:`run_pdf` — the same as a PDF (ReportLab, A4 landscape) with the vendored CJK font embedded, so every viewer
  renders the Chinese text without a system font (see scripts/make_cjk_font.py).
* :func:`cm_history` / :func:`history_xlsx` — a CM's total and each item's points month by month.

The column headers and titles are Chinese domain content (the 通报 is a Chinese document), written in Chinese directly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db.models import Prefetch

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import user_scope
from cmdesk.org.models import Staff

from ..models import ItemGroup, Run, RunStatus, Score, ScoreItem

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_CONTENT_TYPE = "application/pdf"
FONT_FILE = Path(__file__).resolve().parents[2] / "static" / "fonts" / "cmdesk-cjk.ttf"
FONT_NAME = "CmdeskCJK"
PUBLISHED = (RunStatus.PUBLISHED, RunStatus.CLOSED)

# Bands of the distribution, highest first: (lower bound inclusive or None, upper bound exclusive or None, label).
DISTRIBUTION_BANDS: list[tuple[Decimal | None, Decimal | None, str]] = [
    (Decimal("95"), None, "95分及以上"),
    (Decimal("90"), Decimal("95"), "90–95分"),
    (Decimal("85"), Decimal("90"), "85–90分"),
    (Decimal("80"), Decimal("85"), "80–85分"),
    (Decimal("70"), Decimal("80"), "70–80分"),
    (None, Decimal("70"), "70分以下"),
]
RANKING_HEADERS = ["名次", "客户经理", "工号", "所属部门", "总分", "业绩得分", "市场得分"]
ITEM_HEADERS = [
    "名次", "客户经理", "工号", "指标", "分组", "权重", "实测值", "目标", "调整后目标", "得分", "计分规则", "状态",
]  # fmt: skip
HISTORY_HEADERS = ["月份", "版本", "状态", "总分", "名次"]
# The 通报 is a Chinese document whatever the UI language: its status words are fixed.
RUN_STATUS_ZH = {RunStatus.SCORED: "审核中", RunStatus.PUBLISHED: "已通报", RunStatus.CLOSED: "已关闭"}
ITEM_STATUS_ZH = {"open": "待签字", "signed": "已签字", "appealed": "申诉中", "superseded": "已更正"}
GROUP_ZH = {ItemGroup.RESULT: "业绩", ItemGroup.MARKET: "市场"}


def _is_own_scope(user: Any) -> bool:
    return user_scope(user).kind == "own"


def visible_run(user: Any, pk: int) -> Run:
    """The run ``pk`` if the user may read its 通报 (OutOfScope otherwise: the view answers 404)."""
    run = Run.objects.restrict(user, "view").select_related("org_unit", "scheme").filter(pk=pk).first()
    if run is None:
        raise OutOfScope
    if _is_own_scope(user) and run.status not in PUBLISHED:
        raise OutOfScope  # a CM sees its score only once the run is published
    return run


def month_label(day) -> str:
    return f"{day.year}年{day.month}月"


@dataclass
class ReportItem:
    name: str
    code: str
    group: str
    group_label: str
    weight: Decimal
    measured: Decimal | None
    target: Decimal | None
    adjusted_target: Decimal | None
    points: Decimal
    rule: str
    status: str
    version: int


@dataclass
class ReportRow:
    rank: int
    cm_id: int
    cm_name: str
    employee_no: str
    org_unit: str
    total: Decimal
    by_group: dict[str, Decimal]
    items: list[ReportItem] = field(default_factory=list)


@dataclass
class RunReport:
    run: Run
    title: str
    subtitle: str
    rows: list[ReportRow]
    distribution: list[dict[str, Any]]
    stats: dict[str, Any]
    scored_count: int  # CMs in the whole run (a CM's export shows its own row of this many)
    own_only: bool

    @property
    def filename_stem(self) -> str:
        return f"考核通报-{self.run.org_unit.name}-{self.run.month:%Y-%m}-v{self.run.version}"


def _current_items() -> Prefetch:
    return Prefetch(
        "items",
        queryset=ScoreItem.objects.filter(superseded_by__isnull=True)
        .select_related("scheme_item")
        .order_by("scheme_item__position", "scheme_item__code"),
        to_attr="current_items",
    )


def _ranked(scores: list[Score]) -> list[tuple[int, Score]]:
    """The stored rank, else the competition rank by total (1, 2, 2, 4)."""
    ordered = sorted(scores, key=lambda s: (-s.total, s.cm.employee_no))
    out, prev_total, prev_rank = [], None, 0
    for i, score in enumerate(ordered, start=1):
        computed = prev_rank if score.total == prev_total else i
        prev_total, prev_rank = score.total, computed
        out.append((score.rank or computed, score))
    return sorted(out, key=lambda pair: (pair[0], pair[1].cm.employee_no))


def distribution(totals: list[Decimal]) -> list[dict[str, Any]]:
    rows = []
    for low, high, label in DISTRIBUTION_BANDS:
        n = sum(1 for t in totals if (low is None or t >= low) and (high is None or t < high))
        rows.append({"label": label, "count": n, "share": (n / len(totals)) if totals else 0.0})
    return rows


def run_report(user: Any, run: Run) -> RunReport:
    """The 通报 of ``run`` as the user may see it (a CM: its own score only)."""
    all_scores = Score.objects.filter(run=run)
    visible = Score.objects.restrict(user, "view").filter(run=run)
    own_only = _is_own_scope(user)
    scores = list(
        visible.select_related("cm", "cm__org_unit").prefetch_related(_current_items()).order_by("cm__employee_no")
    )
    group_labels = dict(ItemGroup.choices)
    rows = []
    # Ranks are over the whole run, so a CM's row and a head's rows show the rank in the 通报, not in their slice.
    full_ranks = {s.pk: rank for rank, s in _ranked(list(all_scores.select_related("cm")))}
    for score in sorted(scores, key=lambda s: (full_ranks.get(s.pk, 0), s.cm.employee_no)):
        by_group = {g: Decimal("0") for g in ItemGroup.values}
        items = []
        for item in score.current_items:
            si = item.scheme_item
            by_group[si.group] = by_group.get(si.group, Decimal("0")) + item.points
            items.append(
                ReportItem(
                    name=si.name,
                    code=si.code,
                    group=si.group,
                    group_label=GROUP_ZH.get(si.group) or str(group_labels.get(si.group, si.group)),
                    weight=si.weight,
                    measured=item.measured,
                    target=item.target,
                    adjusted_target=item.adjusted_target,
                    points=item.points,
                    rule=item.rule_text or str(si.get_rule_display()),
                    status=ITEM_STATUS_ZH.get(item.status) or str(item.get_status_display()),
                    version=item.version,
                )
            )
        rows.append(
            ReportRow(
                rank=full_ranks.get(score.pk, 0),
                cm_id=score.cm_id,
                cm_name=score.cm.name,
                employee_no=score.cm.employee_no,
                org_unit=str(score.cm.org_unit.name),
                total=score.total,
                by_group=by_group,
                items=items,
            )
        )
    totals = list(all_scores.values_list("total", flat=True)) if own_only else [r.total for r in rows]
    stats = {
        "count": len(totals),
        "mean": (sum(totals, Decimal("0")) / len(totals)).quantize(Decimal("0.01")) if totals else None,
        "max": max(totals) if totals else None,
        "min": min(totals) if totals else None,
    }
    title = f"{run.org_unit.name}{month_label(run.month)}客户经理月度考核通报"
    status = RUN_STATUS_ZH.get(run.status) or str(run.get_status_display())
    subtitle = f"考核方案：{run.scheme}　版本：v{run.version}　状态：{status}"
    return RunReport(
        run=run,
        title=title,
        subtitle=subtitle,
        rows=rows,
        distribution=distribution(totals),
        stats=stats,
        scored_count=all_scores.count(),
        own_only=own_only,
    )


# --- xlsx -----------------------------------------------------------------------------------------------------------


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _sheet_header(ws: Any, headers: list[str], widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.append(headers)
    for col, width in enumerate(widths, start=1):
        cell = ws.cell(row=1, column=col)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="305496")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def _format_columns(ws: Any, formats: dict[int, str]) -> None:
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            fmt = formats.get(cell.column)
            if fmt and cell.value is not None:
                cell.number_format = fmt


def run_xlsx(report: RunReport) -> bytes:
    """The 通报 as a workbook: 排名 (ranking), 分布 (distribution), 明细 (each CM's items)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "排名"
    _sheet_header(ws, RANKING_HEADERS, [6, 12, 12, 16, 9, 10, 10])
    for row in report.rows:
        ws.append(
            [
                row.rank,
                row.cm_name,
                row.employee_no,
                row.org_unit,
                _num(row.total),
                _num(row.by_group.get(ItemGroup.RESULT)),
                _num(row.by_group.get(ItemGroup.MARKET)),
            ]
        )
    _format_columns(ws, {1: "0", 5: "0.00", 6: "0.00", 7: "0.00"})
    if report.rows:
        ws.auto_filter.ref = ws.dimensions

    dist = wb.create_sheet("分布")
    _sheet_header(dist, ["分数段", "人数", "占比"], [14, 8, 10])
    for band in report.distribution:
        dist.append([band["label"], band["count"], band["share"]])
    _format_columns(dist, {2: "0", 3: "0.0%"})
    stats = report.stats
    dist.append([])
    for label, value in (("人数", stats["count"]), ("平均分", stats["mean"]), ("最高分", stats["max"])):
        dist.append([label, _num(value) if isinstance(value, Decimal) else value])
    dist.append(["最低分", _num(stats["min"])])

    items = wb.create_sheet("明细")
    _sheet_header(items, ITEM_HEADERS, [6, 12, 12, 22, 12, 8, 12, 12, 12, 8, 60, 10])
    for row in report.rows:
        for item in row.items:
            items.append(
                [
                    row.rank,
                    row.cm_name,
                    row.employee_no,
                    item.name,
                    item.group_label,
                    _num(item.weight),
                    _num(item.measured),
                    _num(item.target),
                    _num(item.adjusted_target),
                    _num(item.points),
                    item.rule,
                    item.status,
                ]
            )
    _format_columns(items, {1: "0", 6: "0.00", 7: "#,##0.00##", 8: "#,##0.00##", 9: "#,##0.00##", 10: "0.00"})
    if items.max_row > 1:
        items.auto_filter.ref = items.dimensions
    wb.properties.title = report.title
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --- PDF ------------------------------------------------------------------------------------------------------------


def register_cjk_font() -> str:
    """Register the vendored CJK TrueType font with ReportLab (once) and return its name."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE)))
    return FONT_NAME


def _fmt(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{places}f}"


def _fmt_measure(value: Decimal | None) -> str:
    """Up to four decimals, at least two (0.925 → 0.925, 1 → 1.00, 12345.5 → 12,345.50)."""
    if value is None:
        return "—"
    text = f"{value:,.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def run_pdf(report: RunReport) -> bytes:
    """The 通报 as an A4 landscape PDF with the CJK font embedded."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = register_cjk_font()
    title_style = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=4)
    sub_style = ParagraphStyle("sub", fontName=font, fontSize=9, leading=13, alignment=1, textColor=colors.grey)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK")
    base_table = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dbe4f0")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]

    def table(data: list[list[Any]], widths: list[float], numeric_from: int | None = None) -> Table:
        t = Table(data, colWidths=widths, repeatRows=1)
        style = list(base_table)
        if numeric_from is not None:
            style.append(("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"))
        t.setStyle(TableStyle(style))
        return t

    story: list[Any] = [Paragraph(report.title, title_style), Paragraph(report.subtitle, sub_style), Spacer(1, 4 * mm)]
    story.append(Paragraph("一、得分排名", h2))
    ranking = [RANKING_HEADERS]
    for row in report.rows:
        ranking.append(
            [
                str(row.rank),
                row.cm_name,
                row.employee_no,
                row.org_unit,
                _fmt(row.total),
                _fmt(row.by_group.get(ItemGroup.RESULT)),
                _fmt(row.by_group.get(ItemGroup.MARKET)),
            ]
        )
    if report.own_only:
        story.append(Paragraph(f"本人得分（全员 {report.scored_count} 人参加排名）", cell))
    story.append(table(ranking, [16 * mm, 30 * mm, 28 * mm, 45 * mm, 22 * mm, 22 * mm, 22 * mm], numeric_from=4))

    story.append(Paragraph("二、得分分布", h2))
    dist = [["分数段", "人数", "占比"]]
    for band in report.distribution:
        dist.append([band["label"], str(band["count"]), f"{band['share']:.1%}"])
    stats = report.stats
    dist.append(["平均分 / 最高分 / 最低分", f"{_fmt(stats['mean'])} / {_fmt(stats['max'])}", _fmt(stats["min"])])
    story.append(table(dist, [50 * mm, 35 * mm, 25 * mm], numeric_from=1))

    story.append(Paragraph("三、各客户经理考核明细", h2))
    headers = ["指标", "分组", "权重", "实测值", "目标", "调整后目标", "得分", "计分规则", "状态"]
    widths = [36 * mm, 12 * mm, 13 * mm, 22 * mm, 20 * mm, 20 * mm, 14 * mm, 100 * mm, 16 * mm]
    for row in report.rows:
        data: list[list[Any]] = [headers]
        for item in row.items:
            data.append(
                [
                    Paragraph(item.name, cell),
                    item.group_label,
                    _fmt(item.weight, 1),
                    _fmt_measure(item.measured),
                    _fmt_measure(item.target),
                    _fmt_measure(item.adjusted_target),
                    _fmt(item.points),
                    Paragraph(item.rule, cell),
                    item.status,
                ]
            )
        data.append(["合计", "", "", "", "", "", _fmt(row.total), "", ""])
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    *base_table,
                    ("ALIGN", (2, 1), (6, -1), "RIGHT"),
                    ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f1f3f5")),
                ]
            )
        )
        heading = Paragraph(f"第{row.rank}名　{row.cm_name}（{row.employee_no}，{row.org_unit}）　总分 {row.total}", h2)
        story.append(KeepTogether([heading, t]))  # a long table still splits across pages

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawRightString(doc.pagesize[0] - 12 * mm, 8 * mm, f"{report.title}　第 {doc.page} 页")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=report.title,
        author="cmdesk",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --- a CM's history -------------------------------------------------------------------------------------------------


def history_cm(user: Any, cm_id: int | str | None) -> Staff:
    """The CM whose history the user may read: a CM itself; others a CM in their view scope (``?cm=``)."""
    from cmdesk.org.choices import Role

    if _is_own_scope(user):
        staff = Staff.objects.filter(user=user).select_related("org_unit").first()
        if staff is None:
            raise OutOfScope
        return staff
    if cm_id in (None, "") or not str(cm_id).isdigit():
        raise OutOfScope
    staff = Staff.objects.restrict(user, "view").filter(pk=int(cm_id), role=Role.CM).select_related("org_unit").first()
    if staff is None:
        raise OutOfScope
    return staff


def cm_history(user: Any, cm: Staff) -> dict[str, Any]:
    """The CM's total, rank and each item's points per month (the newest run version of each month).

    A CM sees only published and closed runs; heads and the centre also the runs under review (marked by status).
    """
    scores = Score.objects.restrict(user, "view").filter(cm=cm)
    if _is_own_scope(user):
        scores = scores.filter(run__status__in=PUBLISHED)
    latest: dict[Any, Score] = {}
    for score in scores.select_related("run").prefetch_related(_current_items()).order_by("run__month"):
        key = score.run.month
        held = latest.get(key)
        if held is None or (score.run.version, score.run_id) > (held.run.version, held.run_id):
            latest[key] = score
    months = sorted(latest)
    items: dict[str, dict[str, Any]] = {}
    rows = []
    for i, month in enumerate(months):
        score = latest[month]
        points = {}
        for item in score.current_items:
            code = item.scheme_item.code
            entry = items.setdefault(code, {"code": code, "name": "", "points": [None] * len(months)})
            entry["name"] = item.scheme_item.name  # the newest name wins
            entry["points"][i] = _num(item.points)
            points[code] = item.points
        rows.append(
            {
                "month": month,
                "label": f"{month:%Y-%m}",
                "run_id": score.run_id,
                "version": score.run.version,
                "status": str(score.run.get_status_display()),
                "status_zh": RUN_STATUS_ZH.get(score.run.status, score.run.status),
                "total": score.total,
                "rank": score.rank,
                "points": points,
            }
        )
    totals = [r["total"] for r in rows]
    trend = None
    if len(totals) >= 2:
        trend = totals[-1] - totals[-2]
    return {
        "cm": cm,
        "rows": rows,
        "items": list(items.values()),
        "chart": {
            "months": [r["label"] for r in rows],
            "total": [_num(t) for t in totals],
            "items": [{"name": v["name"], "data": v["points"]} for v in items.values()],
        },
        "trend": trend,
        "mean": (sum(totals, Decimal("0")) / len(totals)).quantize(Decimal("0.01")) if totals else None,
    }


def history_xlsx(history: dict[str, Any]) -> bytes:
    """One sheet 考核历史: a row per month with the total, the rank and each item's points."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "考核历史"
    items = history["items"]
    headers = HISTORY_HEADERS + [item["name"] for item in items]
    _sheet_header(ws, headers, [10, 6, 12, 9, 6] + [12] * len(items))
    for row in history["rows"]:
        ws.append(
            [row["label"], row["version"], row["status_zh"], _num(row["total"]), row["rank"]]
            + [_num(row["points"].get(item["code"])) for item in items]
        )
    _format_columns(ws, {4: "0.00", 5: "0", **{6 + i: "0.00" for i in range(len(items))}})
    cm = history["cm"]
    wb.properties.title = f"{cm.name}（{cm.employee_no}）考核历史"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
