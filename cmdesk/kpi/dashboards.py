"""What a KPI dashboard shows, composed from `selectors.kpi()`: one definition per table, shared by the page, the xlsx
export and the tests.

    board = build_dashboard(user, period, scope_code)      # raises OutOfScope for codes outside the user's scope
    result = table_result(user, period, target, "ranking")  # one table, uncapped (the export)

Every table is a KpiResult whose rows are already filtered and sorted as the page shows them; the page only caps
long lists, the export writes every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cmdesk.analytics.engines import KpiResult
from cmdesk.analytics.layout import m_idx, month_label, month_of_idx, order_months
from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter
from cmdesk.core.exceptions import OutOfScope

from .selectors import ScopeTarget, kpi, resolve_scope

HEADLINE = (
    "cartons",
    "cases",
    "cases_ly",
    "cases_yoy",
    "cases_mom",
    "amount",
    "amount_yoy",
    "avg_price",
    "avg_price_ly",
    "avg_price_yoy",
    "provincial_cases",
    "provincial_share",
    "served",
    "orderers",
    "ordering_rate",
    "listing_rate",
    "buyers",
    "orders",
    "online_share",
    "fill_rate",
    "satisfaction",
)

STOPPED_CAP = 50  # the page lists this many stopped retailers; the export has them all
RANKING_CAP = 100  # rows of the ranking table on the page (sorted by cases; the export has them all)
BRANDS_CAP = 30  # key brands listed on the page (the export has them all)

# the column of each drill-down level that names the next scope
CODE_COLUMN = {
    "branch": "branch_code",
    "dept": "dept_code",
    "area": "area_code",
    "route": "route_code",
    "cm": "cm_code",
    "retailer": "licence",
}

NEXT_LEVEL_LABELS = {
    "branch": _("County branches"),
    "dept": _("Departments"),
    "area": _("Market areas"),
    "cm": _("Customer managers"),
    "retailer": _("Retailers"),
    "product": _("Products"),
}


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: Any  # lazy string
    by: tuple[str, ...]
    indicators: tuple[str, ...]
    key_brands_only: bool = False


TABLES: dict[str, TableSpec] = {
    spec.key: spec
    for spec in (
        TableSpec("headline", _("Headline indicators"), (), HEADLINE),
        TableSpec(
            "trend",
            _("Trend: this year and last year"),
            ("month",),
            ("cartons", "cases", "cases_ly", "cases_yoy", "amount", "amount_ly", "avg_price", "avg_price_ly"),
        ),
        TableSpec(
            "classes",
            _("Price-class structure"),
            ("class",),
            ("cartons", "cases", "share", "cases_ly", "cases_yoy", "amount", "avg_price"),
        ),
        TableSpec(
            # `by` is filled in from the scope's next level
            "ranking",
            _("Ranking"),
            (),
            (
                "cartons",
                "cases",
                "cases_yoy",
                "share",
                "amount",
                "avg_price",
                "avg_price_yoy",
                "served",
                "orderers",
                "ordering_rate",
                "listing_rate",
                "online_share",
                "satisfaction",
            ),
        ),
        TableSpec(
            "brands",
            _("Key brands: listing rate"),
            ("product",),
            ("buyers", "listing_rate", "coverage", "cartons", "cases", "cases_ly", "cases_yoy", "repeat_rate"),
            key_brands_only=True,
        ),
        TableSpec("stopped", _("Retailers that stopped ordering"), ("route", "retailer"), ("cartons", "cases_lm")),
    )
}


# --- periods ---------------------------------------------------------------------------------------------------------


def default_period() -> Period:
    """The latest month with order data, else the current month."""
    months = order_months(settings.CMDESK_DATA_DIR)
    label = months[-1] if months else month_label(dt.date.today())
    return Period.parse(label)


def next_period(period: Period) -> Period:
    """The period just after, of the same shape (the mirror of Period.previous())."""
    if period.kind in ("month", "quarter", "year") or (period.kind == "range" and period.month_aligned):
        n = len(period.months())
        first = m_idx(month_label(period.end)) + 1
        a, b = month_of_idx(first), month_of_idx(first + n - 1)
        start = dt.date(int(a[:4]), int(a[5:]), 1)
        return Period(period.kind, start, Period.month(int(b[:4]), int(b[5:])).end)
    return Period(period.kind, period.end + dt.timedelta(days=1), period.end + dt.timedelta(days=period.days))


def trend_period(period: Period) -> Period:
    """January of the period's last year up to the end of its last month: the trend chart's span."""
    end = period.end
    return Period.range(dt.date(end.year, 1, 1), Period.month(end.year, end.month).end)


# --- tables ----------------------------------------------------------------------------------------------------------


def _sort_desc(result: KpiResult, key: str) -> list[dict[str, Any]]:
    return sorted(result.rows, key=lambda r: -(r.get(key) or 0))  # stable: ties keep the engine's code order


def table_result(user: Any, period: Period, target: ScopeTarget, key: str) -> KpiResult | None:
    """One dashboard table for the scope ``target`` (already resolved for ``user``); None when it does not apply."""
    spec = TABLES[key]
    scope = target.code or None
    if key == "trend":
        return kpi(user, trend_period(period), spec.by, scope=scope, indicators=spec.indicators)
    if key == "ranking":
        if not target.next_level:
            return None
        result = kpi(user, period, (target.next_level,), scope=scope, indicators=spec.indicators)
        return replace(result, rows=_sort_desc(result, "cartons"))
    extra = Filter(key_brands_only=True) if spec.key_brands_only else None
    result = kpi(user, period, spec.by, scope=scope, extra=extra, indicators=spec.indicators)
    if key == "brands":
        return replace(result, rows=_sort_desc(result, "cartons"))
    if key == "stopped":
        rows = [r for r in result.rows if not r["cartons"] and (r["cases_lm"] or 0) > 0]
        rows.sort(key=lambda r: -r["cases_lm"])
        columns = ["retailer_id", "licence", "retailer_name", "route_code", "route_name", "cases_lm"]
        return replace(result, rows=rows, columns=columns)
    return result


# --- breadcrumb ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crumb:
    code: str
    label: str


def breadcrumb(user: Any, target: ScopeTarget) -> list[Crumb]:
    """The drill-down path to ``target`` (city › branch › department › area › CM › retailer) within the user's scope."""
    from cmdesk.org.models import OrgUnit, Staff
    from cmdesk.retail.models import Retailer, Route

    unit = cm = None
    tail: list[Crumb] = []
    if target.kind in ("city", "org"):
        unit = OrgUnit.objects.filter(code=target.code).first() if target.code else None
        if unit is None:  # the user's whole scope, named by no code
            return [Crumb(target.code, target.label)]
    elif target.kind == "cm":
        cm = Staff.objects.select_related("org_unit").filter(employee_no=target.code).first()
    elif target.kind in ("route", "retailer"):
        if target.kind == "route":
            route = Route.objects.select_related("org_unit", "cm__org_unit").filter(code=target.code).first()
        else:
            shop = (
                Retailer.objects.select_related("route__org_unit", "route__cm__org_unit")
                .filter(licence_no=target.code)
                .first()
            )
            route = shop.route if shop is not None else None
        if route is not None:
            cm, unit = route.cm, route.org_unit
        tail = [Crumb(target.code, target.label)]
    else:
        return []
    crumbs: list[Crumb] = []
    if cm is not None:
        unit = cm.org_unit
        if _in_scope(user, cm.employee_no):
            tail = [Crumb(cm.employee_no, cm.name), *tail]
    if unit is not None:
        crumbs = [Crumb(u.code, u.name) for u in [*OrgUnit.objects.get_ancestors(unit), unit] if _org_in_scope(user, u)]
    if target.kind in ("city", "org") and (not crumbs or crumbs[-1].code != target.code):
        crumbs.append(Crumb(target.code, target.label))
    return crumbs + tail


def _org_in_scope(user: Any, unit: Any) -> bool:
    from cmdesk.core.scope import user_scope
    from cmdesk.org.choices import OrgKind

    if unit.kind == OrgKind.CENTRE:
        return False  # the centre is a sibling of the branches, not on the way down to them
    scope = user_scope(user)
    return scope.kind == "all" or (scope.kind == "org" and unit.path.startswith(scope.org_path))


def _in_scope(user: Any, code: str) -> bool:
    try:
        resolve_scope(user, code)
    except OutOfScope:
        return False
    return True


# --- the whole page --------------------------------------------------------------------------------------------------


@dataclass
class Dashboard:
    period: Period
    target: ScopeTarget
    headline: dict[str, Any]
    tables: dict[str, KpiResult | None] = field(default_factory=dict)
    crumbs: list[Crumb] = field(default_factory=list)


def build_dashboard(user: Any, period: Period, scope_code: str | None) -> Dashboard:
    target = resolve_scope(user, scope_code or None)
    board = Dashboard(period, target, {})
    for key in TABLES:
        board.tables[key] = table_result(user, period, target, key)
    board.headline = board.tables["headline"].one()
    board.crumbs = breadcrumb(user, target)
    return board
