"""KPI pages: the dashboard with drill-down, the indicator explorer, and xlsx export of every table.

All three read `selectors.kpi()`, so every figure is inside the user's `restrict()` scope. Without the
``retail.view_retailer`` permission the pages answer 403; a scope code outside the user's scope answers 404.
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views import View

from cmdesk.analytics.engines import EngineError, KpiResult
from cmdesk.analytics.indicators import DEFAULT, INDICATORS
from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.analytics.query import QueryError
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
from cmdesk.retail.models import Retailer

from .dashboards import (
    BRANDS_CAP,
    CODE_COLUMN,
    NEXT_LEVEL_LABELS,
    RANKING_CAP,
    STOPPED_CAP,
    TABLES,
    build_dashboard,
    default_period,
    next_period,
    table_result,
)
from .forms import ExplorerForm
from .present import display_columns, fmt, label, write_xlsx
from .selectors import kpi, resolve_scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPLORER_CAP = 500  # rows shown on the explorer page; the export has them all
GROWTH = re.compile(r"_(yoy|mom)$")


def check_permission(request: HttpRequest) -> None:
    if not has_model_perm(request.user, Retailer, "view"):
        raise PermissionDenied


def dashboard_url(period: Period | str, scope: str | None = None) -> str:
    params = {"period": str(period)}
    if scope:
        params["scope"] = scope
    return f"{reverse('kpi:dashboard')}?{urlencode(params)}"


def export_url(period: Period | str, scope: str | None, table: str) -> str:
    params = {"period": str(period), "table": table}
    if scope:
        params["scope"] = scope
    return f"{reverse('kpi:export')}?{urlencode(params)}"


# --- presentation ----------------------------------------------------------------------------------------------------


def cell_text(column: str, value: Any) -> str:
    text = fmt(column, value)
    if GROWTH.search(column) and isinstance(value, int | float) and value > 0:
        text = "+" + text
    return text


def cell_class(column: str, value: Any) -> str:
    if column not in INDICATORS:
        return ""
    css = "text-end"
    if GROWTH.search(column) and isinstance(value, int | float) and value:
        css += " text-success" if value > 0 else " text-danger"
    return css


def present(
    result: KpiResult | None, *, link_column: str | None = None, period: Any = None, cap: int | None = None
) -> dict[str, Any] | None:
    """A result as the templates show it: labelled headers, formatted cells, drill-down links, capped rows."""
    if result is None:
        return None
    cols = display_columns(result)
    rows = []
    for row in result.rows[:cap] if cap else result.rows:
        code = row.get(link_column) if link_column else None
        link = dashboard_url(period, code) if code else None
        rows.append(
            {
                "code": code,
                "cells": [
                    {
                        "text": cell_text(c, row.get(c)),
                        "css": cell_class(c, row.get(c)),
                        "link": link if c not in INDICATORS else None,
                    }
                    for c in cols
                ],
            }
        )
    return {
        "headers": [{"label": label(c), "css": "text-end" if c in INDICATORS else ""} for c in cols],
        "rows": rows,
        "total": len(result.rows),
        "capped": bool(cap) and len(result.rows) > cap,
    }


def headline_cards(h: dict[str, Any]) -> list[dict[str, Any]]:
    def detail(column: str, caption: str | None = None) -> dict[str, str]:
        return {
            "label": caption or label(column),
            "text": cell_text(column, h.get(column)),
            "css": cell_class(column, h.get(column)).replace("text-end", "").strip(),
        }

    def card(key: str, column: str, *details: dict[str, str]) -> dict[str, Any]:
        return {"key": key, "label": label(column), "value": cell_text(column, h.get(column)), "details": details}

    return [
        card("cases", "cases", detail("cases_yoy"), detail("cartons"), detail("cases_mom")),
        card("amount", "amount", detail("amount_yoy")),
        card("avg_price", "avg_price", detail("avg_price_yoy"), detail("avg_price_ly")),
        card("provincial", "provincial_share", detail("provincial_cases")),
        card("ordering", "orderers", detail("ordering_rate"), detail("served")),
        card("listing", "listing_rate", detail("buyers")),
        card("online", "online_share", detail("orders")),
        card("satisfaction", "satisfaction", detail("fill_rate")),
    ]


def trend_chart(result: KpiResult, period: Period) -> dict[str, Any]:
    year = period.end.year
    return {
        "months": [r["month"][5:] for r in result.rows],
        "unit": label("cases"),
        "series": [
            {"name": str(year), "data": [round(r["cases"] or 0, 2) for r in result.rows]},
            {"name": str(year - 1), "data": [round(r["cases_ly"] or 0, 2) for r in result.rows]},
        ],
    }


def classes_chart(result: KpiResult) -> dict[str, Any]:
    """The price-class pie in cartons (exact, so the slices are the true shares even for small scopes)."""
    return {
        "unit": label("cartons"),
        "data": [
            {"name": fmt("class_name", r["class_name"]), "value": r["cartons"]} for r in result.rows if r["cartons"]
        ],
    }


def _xlsx_response(result: KpiResult, title: str, filename: str) -> HttpResponse:
    buf = io.BytesIO()
    write_xlsx(result, buf, title=re.sub(r"[\\*?:/\[\]]", "-", title))
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, re.sub(r"[^0-9A-Za-z._-]+", "_", filename))
    return response


# --- pages -----------------------------------------------------------------------------------------------------------


class DashboardView(LoginRequiredMixin, View):
    """The dashboard of one scope (the user's own by default) and one period (the latest month with data)."""

    template_name = "kpi/dashboard.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        check_permission(request)
        period_error = ""
        text = request.GET.get("period", "").strip()
        try:
            period = Period.parse(text) if text else default_period()
        except PeriodError as exc:
            period_error, period = str(exc), default_period()
        scope = request.GET.get("scope", "").strip()
        try:
            board = build_dashboard(request.user, period, scope)
        except OutOfScope as exc:
            raise Http404 from exc
        target = board.target
        code = target.code
        next_level = target.next_level
        ranking = present(
            board.tables["ranking"], link_column=CODE_COLUMN.get(next_level or ""), period=period, cap=RANKING_CAP
        )
        tables = [
            ("ranking", ranking),
            ("classes", present(board.tables["classes"])),
            ("brands", present(board.tables["brands"], cap=BRANDS_CAP)),
            ("stopped", present(board.tables["stopped"], link_column="licence", period=period, cap=STOPPED_CAP)),
            ("trend", present(board.tables["trend"])),
        ]
        context = {
            "board": board,
            "target": target,
            "period": period,
            "period_error": period_error,
            "month_value": f"{period.end:%Y-%m}",
            "prev_url": dashboard_url(period.previous(), code),
            "next_url": dashboard_url(next_period(period), code),
            "cards": headline_cards(board.headline),
            "crumbs": [{"label": c.label, "url": dashboard_url(period, c.code)} for c in board.crumbs],
            "tables": {
                key: {
                    "title": TABLES[key].title,
                    "data": data,
                    "export_url": export_url(period, code, key),
                }
                for key, data in tables
            },
            "next_level_label": NEXT_LEVEL_LABELS.get(next_level or "", ""),
            "trend_chart": trend_chart(board.tables["trend"], period),
            "classes_chart": classes_chart(board.tables["classes"]),
            "headline_export_url": export_url(period, code, "headline"),
            "explorer_url": f"{reverse('kpi:explore')}?{urlencode({'period': str(period), 'scope': code})}",
        }
        return render(request, self.template_name, context)


class ExplorerView(LoginRequiredMixin, View):
    """Any indicators for any period, grouping and scope, with their formulas."""

    template_name = "kpi/explore.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        check_permission(request)
        if any(name in request.GET for name in ExplorerForm.base_fields):
            data = request.GET
        else:
            data = QueryDict(mutable=True)
            data["period"] = str(default_period())
            data.setlist("indicators", list(DEFAULT))
        form = ExplorerForm(data)
        result = target = None
        if form.is_valid():
            cd = form.cleaned_data
            try:
                target = resolve_scope(request.user, cd["scope"] or None)
            except OutOfScope:
                form.add_error(
                    "scope", _("No org unit, route, customer manager or retailer with this code in your scope.")
                )
            else:
                try:
                    result = kpi(
                        request.user, cd["period"], cd["by"], scope=cd["scope"] or None, indicators=cd["indicators"]
                    )
                except (PeriodError, QueryError, EngineError) as exc:
                    form.add_error(None, str(exc))
        context: dict[str, Any] = {"form": form, "result": None}
        if result is not None:
            cd = form.cleaned_data
            query = urlencode(
                {
                    "period": str(cd["period"]),
                    "by": list(cd["by"]),
                    "scope": cd["scope"],
                    "indicators": list(cd["indicators"]),
                },
                doseq=True,
            )
            context.update(
                result=present(result, cap=EXPLORER_CAP),
                target=target,
                period=cd["period"],
                source=result.source,
                export_url=f"{reverse('kpi:export')}?{query}",
                formulas=[
                    {"name": n, "label": label(n), "formula": INDICATORS[n].formula, "unit": INDICATORS[n].unit}
                    for n in cd["indicators"]
                ],
                cap=EXPLORER_CAP,
            )
        return render(request, self.template_name, context)


class ExportView(LoginRequiredMixin, View):
    """xlsx of one dashboard table (``table=``) or of an explorer query (``by=``, ``indicators=``)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        check_permission(request)
        table = request.GET.get("table", "").strip()
        if table:
            return self.dashboard_table(request, table)
        form = ExplorerForm(request.GET)
        if not form.is_valid():
            return HttpResponseBadRequest(_bad_request_text(form), content_type="text/plain; charset=utf-8")
        cd = form.cleaned_data
        try:
            target = resolve_scope(request.user, cd["scope"] or None)
            result = kpi(request.user, cd["period"], cd["by"], scope=cd["scope"] or None, indicators=cd["indicators"])
        except OutOfScope as exc:
            raise Http404 from exc
        except (QueryError, EngineError) as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        period = cd["period"]
        title = f"{target.label or _('KPI')} · {period}"
        by = "-".join(cd["by"]) or "total"
        return _xlsx_response(result, title, f"kpi-{by}-{period}-{target.code or 'all'}.xlsx")

    def dashboard_table(self, request: HttpRequest, table: str) -> HttpResponse:
        if table not in TABLES:
            return HttpResponseBadRequest(
                _("Unknown table %(table)s; choose from %(choices)s.") % {"table": table, "choices": ", ".join(TABLES)},
                content_type="text/plain; charset=utf-8",
            )
        text = request.GET.get("period", "").strip()
        try:
            period = Period.parse(text) if text else default_period()
        except PeriodError as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        try:
            target = resolve_scope(request.user, request.GET.get("scope", "").strip() or None)
            result = table_result(request.user, period, target, table)
        except OutOfScope as exc:
            raise Http404 from exc
        if result is None:
            raise Http404(_("This scope has no level below it."))
        title = f"{target.label or _('KPI')} · {period} · {TABLES[table].title}"
        return _xlsx_response(result, title, f"kpi-{table}-{period}-{target.code or 'all'}.xlsx")


def _bad_request_text(form: ExplorerForm) -> str:
    lines = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        prefix = f"{field.label}: " if field is not None else ""
        lines.extend(prefix + str(e) for e in errors)
    return "\n".join(lines)
