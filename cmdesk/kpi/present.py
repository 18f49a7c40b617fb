"""Presenting KPI results: column labels in the active language, values rounded by unit, and xlsx export."""

from __future__ import annotations

import re
from typing import IO, Any

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cmdesk.analytics.engines import KpiResult
from cmdesk.analytics.indicators import INDICATORS

# group columns (the indicators carry their own zh/en labels)
GROUP_LABELS = {
    "month": _("Month"),
    "branch_code": _("Branch code"),
    "branch_name": _("Branch"),
    "dept_code": _("Department code"),
    "dept_name": _("Department"),
    "area_code": _("Area code"),
    "area_name": _("Market area"),
    "route_code": _("Route code"),
    "route_name": _("Route"),
    "cm_id": _("Staff id"),
    "cm_code": _("Employee number"),
    "cm_name": _("Customer manager"),
    "retailer_id": _("Retailer id"),
    "licence": _("Licence number"),
    "retailer_name": _("Retailer"),
    "market_type": _("Market type"),
    "business_format": _("Business format"),
    "tier": _("Tier"),
    "product_code": _("Product code"),
    "product_name": _("Product"),
    "brand": _("Brand"),
    "class_rank": _("Class number"),
    "class_name": _("Price class"),
    "provincial": _("Provincial"),
}
HIDDEN = {"cm_id", "retailer_id", "class_rank"}  # ids shown in machine formats only


def is_zh() -> bool:
    return (get_language() or "zh-hans").lower().startswith("zh")


def label(column: str) -> str:
    ind = INDICATORS.get(column)
    if ind is not None:
        return ind.label_zh if is_zh() else ind.label_en
    return str(GROUP_LABELS.get(column, column))


def display_columns(result: KpiResult) -> list[str]:
    return [c for c in result.columns if c not in HIDDEN]


def fmt(column: str, value: Any) -> str:
    """A value as a report shows it: cases and yuan with two decimals, ratios as percentages."""
    if column == "class_name" and value is None:
        return str(_("Unclassified"))
    if value is None:
        return "—"
    ind = INDICATORS.get(column)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if ind is None:
        return str(value)
    if ind.unit == "ratio":
        return f"{value * 100:.{ind.digits}f}%"
    if ind.unit == "count" or ind.digits == 0:
        return f"{int(value):,}"
    return f"{value:,.{ind.digits}f}"


def number_format(column: str) -> str | None:
    ind = INDICATORS.get(column)
    if ind is None:
        return None
    if ind.unit == "ratio":
        return "0.00%"
    if ind.unit == "count" or ind.digits == 0:
        return "#,##0"
    return "#,##0.00"


def write_xlsx(result: KpiResult, out: IO[bytes] | str, *, title: str = "") -> None:
    """The result as one xlsx sheet: a title row, labelled header, numbers kept numeric with number formats."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=re.sub(r"[\\*?:/\[\]]", "-", title or "KPI")[:31])
    cols = display_columns(result)
    head = WriteOnlyCell(ws, value=title or f"{result.query.period}")
    head.font = Font(bold=True)
    ws.append([head])
    header = []
    for c in cols:
        cell = WriteOnlyCell(ws, value=label(c))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    formats = {c: number_format(c) for c in cols}
    for row in result.rows:
        cells = []
        for c in cols:
            v = row.get(c)
            if c == "class_name" and v is None and "class_rank" in result.columns:
                v = str(_("Unclassified"))
            cell = WriteOnlyCell(ws, value=v)
            if formats[c] and v is not None:
                cell.number_format = formats[c]
            cells.append(cell)
        ws.append(cells)
    wb.save(out)
