"""Monthly plans (月计划): suggestions from the order data, and the plan's workflow.

Suggestions (:func:`suggest_plan`, reads only):

* **Route volume targets.** The season comes from the same month last year; the recent trend is the year-on-year ratio
  of the last three complete months (only months that had sales last year count), clipped to ``TREND_BAND``.
  suggestion = cases in the same month last year × trend. A route without sales in that month last year falls back to
  the average of the last three complete months (trend 1). When the CM's department has a :class:`DeptTarget` for
  the month, every route of the department is suggested the same way and the suggestions are scaled by one factor so
  that they add up to the department's target: the target broken down by route in proportion to each route's basis.
* **Key-brand targets.** One per key brand (``Product.key_brand``) the CM's retailers bought, the same method per brand.
* **Focus retailers.** Stopped ordering, order anomaly, falling volume, not visited within the route's visit cycle
  (one row per retailer: the first reason in that order; the detail text names every reason found). "Not visited" is
  judged only once the CM has recorded any visit in cmdesk (before that it would flag every retailer).

"The last complete month" is the month before the plan's month. Each suggestion keeps its ``basis`` (JSON) so the
page can explain the number.

Workflow: :func:`plan_prepare` → :func:`plan_update` → :func:`plan_submit` → :func:`plan_approve` or
:func:`plan_return` (then edited and submitted again as the next version). Every submission and decision is kept as a
:class:`PlanRevision` with a snapshot of the whole plan. An approved plan is locked. Every write is atomic, audited and
scope-checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.analytics.layout import CARTONS_PER_CASE, month_label, order_file
from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter, KpiQuery
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.kpi.selectors import run_query
from cmdesk.org.choices import Role
from cmdesk.org.models import OrgUnit, Staff, staff_of
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer, Route

from ..models import (
    DeptTarget,
    FocusReason,
    MonthlyPlan,
    PlanBrandTarget,
    PlanFocusRetailer,
    PlanRevision,
    PlanRouteTarget,
    PlanStatus,
    Visit,
    VisitStatus,
)
from ..rules import month_end, month_start, next_month, plan_due, previous_month, rules_for

# --- suggestion rules ----------------------------------------------------------------------------------------------
TREND_MONTHS = 3  # the trend is the YoY ratio of this many last complete months
TREND_BAND = (Decimal("0.80"), Decimal("1.20"))  # the trend is clipped to this band
FALLING_DROP = Decimal("0.30")  # falling: the last complete month down by at least this share
FALLING_MONTHS = 3  # … on the average of this many months before it (or on the same month last year)
STOPPED_MONTHS = 3  # stopped: ordered in these months before the last one, nothing in the last
ANOMALY_RATIO = Decimal("2")  # order anomaly: a week's cartons > 200% of the average of the previous ordering weeks
ANOMALY_WEEKS = 3  # … of this many previous ordering weeks
ANOMALY_MIN_CARTONS = 20  # … and at least this many cartons (DOMAIN.md: the national rule)
ANOMALY_LOOKBACK_MONTHS = 3  # order months read before the last complete month to find the previous ordering weeks
FOCUS_ORDER = (FocusReason.STOPPED, FocusReason.ANOMALY, FocusReason.FALLING, FocusReason.NOT_VISITED)
EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)
CENT = Decimal("0.01")
INACTIVE_RETAILER = (RetailerStatus.CLOSED, RetailerStatus.CANCELLED)


def _now() -> dt.datetime:
    """The clock the workflow uses (tests replace it)."""
    return timezone.now()


def _cases(cartons: Decimal | int | float) -> Decimal:
    """Cartons as cases, exact to the carton (1 carton = 0.004 case)."""
    return (Decimal(cartons) / CARTONS_PER_CASE).quantize(Decimal("0.001"), ROUND_HALF_UP)


def _ratio(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _pct(num: Decimal | int, den: Decimal | int) -> str:
    return f"{(Decimal(num) / Decimal(den) * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def month_of(value: dt.date | str) -> dt.date:
    """The first day of a month given as a date or as "2026-11" / "2026-11-01"."""
    if isinstance(value, str):
        try:
            period = Period.parse(value[:7])
        except ValueError as exc:
            raise ValidationError({"month": _("Enter a month as YYYY-MM.")}) from exc
        return period.start
    return month_start(value)


# --- suggestions ---------------------------------------------------------------------------------------------------
@dataclass
class Suggestion:
    """One volume target suggestion: the key (route id or brand), its label, the cases and how they were found."""

    key: Any
    label: str
    cases: Decimal
    basis: dict[str, Any]


@dataclass
class FocusSuggestion:
    retailer: Retailer
    reason: str
    detail: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class PlanSuggestions:
    month: dt.date
    routes: list[Suggestion]
    brands: list[Suggestion]
    focus: list[FocusSuggestion]
    dept_target: DeptTarget | None = None

    @property
    def volume(self) -> Decimal:
        return sum((s.cases for s in self.routes), Decimal("0"))


def _query(period: Period, by: tuple[str, ...], flt: Filter, indicators: tuple[str, ...]) -> list[dict]:
    return run_query(KpiQuery(period=period, by=by, filter=flt, indicators=indicators)).rows


def _trend_window(month: dt.date) -> Period:
    last = previous_month(month)
    first = last
    for _i in range(TREND_MONTHS - 1):
        first = previous_month(first)
    return Period.range(first, month_end(last))


def _volume_suggestions(month: dt.date, by: str, flt: Filter) -> dict[Any, dict[str, Any]]:
    """LY cartons, trend and unscaled suggestion per route code or brand (``by`` "route" or "brand"), two queries."""
    dim = "route_code" if by == "route" else by
    ly_month = month.replace(year=month.year - 1)
    ly_rows = _query(Period.month(ly_month.year, ly_month.month), (by,), flt, ("cartons",))
    window = _trend_window(month)
    recent = _query(window, (by, "month"), flt, ("cartons", "cases_ly"))
    out: dict[Any, dict[str, Any]] = {}

    def entry(key: Any) -> dict[str, Any]:
        return out.setdefault(key, {"ly": 0, "now": 0, "then": 0, "recent": 0, "months": []})

    for row in ly_rows:
        entry(row[dim])["ly"] += int(row["cartons"] or 0)
    for row in recent:
        e = entry(row[dim])
        cartons = int(row["cartons"] or 0)
        cartons_ly = int(round((row["cases_ly"] or 0) * CARTONS_PER_CASE))
        e["recent"] += cartons
        if cartons_ly > 0:
            e["now"] += cartons
            e["then"] += cartons_ly
            e["months"].append(row["month"])
    low, high = TREND_BAND
    for e in out.values():
        e["months"].sort()
        raw = Decimal(e["now"]) / Decimal(e["then"]) if e["then"] else None
        trend = Decimal("1") if raw is None else min(high, max(low, raw))
        if e["ly"] > 0:
            e["method"] = "last_year"
            unscaled = Decimal(e["ly"]) * trend / CARTONS_PER_CASE
        else:
            e["method"] = "recent_average"
            trend = Decimal("1")
            unscaled = Decimal(e["recent"]) / TREND_MONTHS / CARTONS_PER_CASE
        e["trend_raw"], e["trend"], e["unscaled"] = raw, trend, unscaled
        e["window"] = window.label
        e["ly_month"] = month_label(ly_month)
    return out


def _basis(e: dict[str, Any] | None, scale: Decimal | None = None, target: DeptTarget | None = None) -> dict:
    if e is None:
        e = {"ly": 0, "now": 0, "then": 0, "recent": 0, "months": [], "method": "no_sales", "trend_raw": None}
        e.update(trend=Decimal("1"), unscaled=Decimal("0"), window="", ly_month="")
    basis = {
        "method": e["method"],
        "last_year_month": e["ly_month"],
        "last_year_cases": str(_cases(e["ly"])),
        "trend_window": e["window"],
        "trend_months": e["months"],
        "trend_cases": str(_cases(e["now"])),
        "trend_cases_last_year": str(_cases(e["then"])),
        "trend_raw": None if e["trend_raw"] is None else _ratio(e["trend_raw"]),
        "trend": _ratio(e["trend"]),
        "trend_band": [str(TREND_BAND[0]), str(TREND_BAND[1])],
        "recent_average_cases": str(_cases(Decimal(e["recent"]) / TREND_MONTHS)),
        "unscaled_cases": str(e["unscaled"].quantize(Decimal("0.0001"), ROUND_HALF_UP)),
        "scale": None if scale is None else _ratio(scale),
    }
    if target is not None:
        basis["dept_target_cases"] = str(target.volume_cases)
        basis["dept"] = target.org_unit.name
    return basis


def dept_target_for(cm: Staff, month: dt.date) -> DeptTarget | None:
    """The target of the nearest unit above (or at) the CM's org unit for the month."""
    unit = cm.org_unit
    paths = [unit.path[:i] for i in range(OrgUnit.steplen, len(unit.path) + 1, OrgUnit.steplen)]
    targets = {
        t.org_unit.path: t
        for t in DeptTarget.objects.select_related("org_unit").filter(month=month, org_unit__path__in=paths)
    }
    for path in reversed(paths):
        if path in targets:
            return targets[path]
    return None


def _route_suggestions(cm: Staff, month: dt.date) -> tuple[list[Suggestion], DeptTarget | None]:
    routes = list(Route.objects.filter(cm=cm, active=True).order_by("code"))
    target = dept_target_for(cm, month)
    if target is not None:
        dept_codes = tuple(
            Route.objects.filter(org_unit__path__startswith=target.org_unit.path, active=True)
            .order_by("code")
            .values_list("code", flat=True)
        )
        codes = tuple(dict.fromkeys(dept_codes + tuple(r.code for r in routes)))
    else:
        codes = tuple(r.code for r in routes)
    if not codes:
        return [], target
    figures = _volume_suggestions(month, "route", Filter(route_codes=codes))
    scale = None
    if target is not None:
        total = sum((figures[c]["unscaled"] for c in codes if c in figures), Decimal("0"))
        scale = target.volume_cases / total if total > 0 else None
    out = []
    for route in routes:
        e = figures.get(route.code)
        unscaled = e["unscaled"] if e else Decimal("0")
        cases = unscaled * scale if scale is not None else unscaled
        out.append(Suggestion(route.pk, str(route), cases.quantize(CENT, ROUND_HALF_UP), _basis(e, scale, target)))
    return out, target


def _brand_suggestions(cm: Staff, month: dt.date) -> list[Suggestion]:
    figures = _volume_suggestions(month, "brand", Filter(cm_ids=(cm.pk,), key_brands_only=True))
    return [
        Suggestion(brand, brand, figures[brand]["unscaled"].quantize(CENT, ROUND_HALF_UP), _basis(figures[brand]))
        for brand in sorted(figures)
        if brand
    ]


def _weekly_ordered(retailer_ids: list[int], months: list[dt.date]) -> dict[int, dict[dt.date, list]]:
    """[cartons ordered, last order day] per retailer and week (Monday), read from the order month files."""
    out: dict[int, dict[dt.date, list]] = {}
    if not retailer_ids:
        return out
    for month in months:
        path = order_file(settings.CMDESK_DATA_DIR, month_label(month))
        if not path.is_file():
            continue
        table = pq.read_table(
            path, columns=["order_date", "retailer_id", "ordered"], filters=[("retailer_id", "in", retailer_ids)]
        )
        cols = table.to_pydict()
        for day, rid, ordered in zip(cols["order_date"], cols["retailer_id"], cols["ordered"], strict=True):
            week = day - dt.timedelta(days=day.weekday())
            entry = out.setdefault(rid, {}).setdefault(week, [0, day])
            entry[0] += int(ordered)
            entry[1] = max(entry[1], day)
    return out


def _anomalies(weeks: dict[dt.date, list], last: dt.date) -> list[tuple[dt.date, int, Decimal]]:
    """(order day, cartons, previous average) of the weeks of month ``last`` ordering above ANOMALY_RATIO × the
    average of the previous ordering weeks."""
    found = []
    ordering = sorted(w for w, (cartons, _day) in weeks.items() if cartons > 0)
    for i, week in enumerate(ordering):
        cartons, day = weeks[week]
        if month_start(day) != last:
            continue
        before = ordering[max(0, i - ANOMALY_WEEKS) : i]
        if len(before) < ANOMALY_WEEKS or cartons < ANOMALY_MIN_CARTONS:
            continue  # a new retailer, or a small order: not flagged
        average = Decimal(sum(weeks[w][0] for w in before)) / ANOMALY_WEEKS
        if cartons > ANOMALY_RATIO * average:
            found.append((day, cartons, average))
    return found


def _focus_suggestions(cm: Staff, month: dt.date, today: dt.date) -> list[FocusSuggestion]:
    last = previous_month(month)
    before = [last]
    for _i in range(max(FALLING_MONTHS, STOPPED_MONTHS)):
        before.insert(0, previous_month(before[0]))
    retailers = list(
        Retailer.objects.filter(route__cm=cm, route__active=True)
        .exclude(status__in=INACTIVE_RETAILER)
        .select_related("route")
        .order_by("route__code", "visit_order", "id")
    )
    if not retailers:
        return []
    rows = _query(
        Period.range(before[0], month_end(last)),
        ("retailer", "month"),
        Filter(cm_ids=(cm.pk,)),
        ("cartons", "cases_ly"),
    )
    monthly: dict[int, dict[str, int]] = {}
    last_ly: dict[int, int] = {}
    last_label = month_label(last)
    for row in rows:
        monthly.setdefault(row["retailer_id"], {})[row["month"]] = int(row["cartons"] or 0)
        if row["month"] == last_label:
            last_ly[row["retailer_id"]] = int(round((row["cases_ly"] or 0) * CARTONS_PER_CASE))
    lookback = [last]
    for _i in range(ANOMALY_LOOKBACK_MONTHS):
        lookback.insert(0, previous_month(lookback[0]))
    weekly = _weekly_ordered([r.pk for r in retailers], lookback)
    as_of = min(today, month_end(last))
    # Until the CM records visits in cmdesk at all, "not visited" would flag every retailer: judge it only from then.
    visits_kept = Visit.objects.filter(cm=cm, checkin_at__date__lte=as_of).exists()
    last_visits: dict[int, dt.datetime] = {}
    for rid, at in (
        Visit.objects.filter(cm=cm, retailer__in=retailers, checkin_at__date__lte=as_of)
        .exclude(status=VisitStatus.CANCELLED)
        .order_by("retailer_id", "checkin_at")
        .values_list("retailer_id", "checkin_at")
    ):
        last_visits[rid] = at
    m = last.month
    # Open (or referred) order-anomaly alerts of the CM's retailers: reason ANOMALY with the alert's sentence.
    from cmdesk.supply.services.alerts import open_alerts_by_retailer

    alerts = open_alerts_by_retailer([r.pk for r in retailers])
    out = []
    for r in retailers:
        found: dict[str, str] = {}
        if r.pk in alerts:
            found[FocusReason.ANOMALY] = f"{alerts[r.pk].get_kind_display()}：{alerts[r.pk].detail}"
        months = monthly.get(r.pk, {})
        now = months.get(last_label, 0)
        prev = [months.get(month_label(x), 0) for x in before[-1 - FALLING_MONTHS : -1]]
        prev_stop = [months.get(month_label(x), 0) for x in before[-1 - STOPPED_MONTHS : -1]]
        if now == 0 and any(prev_stop):
            found[FocusReason.STOPPED] = f"{m}月未订货，前{STOPPED_MONTHS}个月共订{sum(prev_stop)}条"
        for day, cartons, average in _anomalies(weekly.get(r.pk, {}), last):
            found.setdefault(
                FocusReason.ANOMALY,
                f"{day.month}月{day.day}日当周订货{cartons}条，为前{ANOMALY_WEEKS}个订货周均值"
                f"{average.quantize(Decimal('0.1'))}条的{_pct(cartons, average)}",
            )
        if FocusReason.STOPPED not in found:
            average = Decimal(sum(prev)) / FALLING_MONTHS
            ly = last_ly.get(r.pk, 0)
            texts = []
            if average > 0 and now <= average * (1 - FALLING_DROP):
                mean = average.quantize(Decimal("0.1"))
                texts.append(f"比前{FALLING_MONTHS}个月月均{mean}条下降{_pct(average - now, average)}")
            if ly > 0 and now <= ly * (1 - FALLING_DROP):
                texts.append(f"比去年同期{ly}条下降{_pct(ly - now, ly)}")
            if texts:
                found[FocusReason.FALLING] = f"{m}月订货{now}条，" + "，".join(texts)
        cycle = r.route.visit_cycle_days
        seen = last_visits.get(r.pk)
        if visits_kept and (seen is None or timezone.localdate(seen) <= as_of - dt.timedelta(days=cycle)):
            since = f"上次拜访{timezone.localdate(seen):%Y-%m-%d}" if seen else "无拜访记录"
            found[FocusReason.NOT_VISITED] = f"截至{as_of:%m月%d日}已超过拜访周期{cycle}天未拜访（{since}）"
        if found:
            reasons = [reason for reason in FOCUS_ORDER if reason in found]
            detail = "；".join(found[reason] for reason in reasons)[:300]
            out.append(FocusSuggestion(r, reasons[0], detail, [str(x) for x in reasons]))
    return out


def suggest_plan(cm: Staff, month: dt.date | str, today: dt.date | None = None) -> PlanSuggestions:
    """What cmdesk suggests for ``cm``'s plan of ``month`` (reads only)."""
    month = month_of(month)
    today = today or timezone.localdate()
    routes, target = _route_suggestions(cm, month)
    return PlanSuggestions(
        month=month,
        routes=routes,
        brands=_brand_suggestions(cm, month),
        focus=_focus_suggestions(cm, month, today),
        dept_target=target,
    )


# --- workflow ------------------------------------------------------------------------------------------------------


def focus_sort_key(row: PlanFocusRetailer) -> tuple:
    """Focus retailers in the order that matters: kept first, then stopped, anomaly, falling, not visited, chosen."""
    rank = FOCUS_ORDER.index(row.reason) if row.reason in FOCUS_ORDER else len(FOCUS_ORDER)
    return (not row.selected, rank, row.retailer.route_id, row.retailer.visit_order, row.retailer_id)


def _check_owner(plan: MonthlyPlan, user: Any) -> None:
    """Only the plan's CM edits and submits it; anyone else who cannot see it gets a 404."""
    if not MonthlyPlan.objects.restrict(user, "view").filter(pk=plan.pk).exists():
        raise OutOfScope
    staff = staff_of(user)
    if not has_model_perm(user, MonthlyPlan, "change") or staff is None or staff.pk != plan.cm_id:
        raise PermissionDenied(_("Only the plan's customer manager may change it."))


def _check_editable(plan: MonthlyPlan) -> None:
    if plan.status == PlanStatus.APPROVED:
        raise ValidationError(_("The plan is approved and locked; it can no longer be changed."), code="locked")
    if plan.status not in EDITABLE:
        raise ValidationError(
            _("The plan has been submitted and waits for review; it can be changed again if it is returned."),
            code="submitted",
        )


def _lock(plan: MonthlyPlan) -> MonthlyPlan:
    return MonthlyPlan.objects.select_for_update().get(pk=plan.pk)


def plan_prepare(cm: Staff, month: dt.date | str, user: Any, today: dt.date | None = None) -> MonthlyPlan:
    """The CM's plan for ``month``: the existing one, or a new draft filled with the suggestions."""
    month = month_of(month)
    staff = staff_of(user)
    if not has_model_perm(user, MonthlyPlan, "add") or staff is None or staff.pk != cm.pk:
        raise PermissionDenied(_("Only customer managers prepare their own monthly plans."))
    if cm.role != Role.CM or not cm.active:
        raise ValidationError({"cm": _("Monthly plans are written by active customer managers.")})
    existing = MonthlyPlan.objects.filter(cm=cm, month=month).first()
    if existing is not None:
        return existing
    s = suggest_plan(cm, month, today=today)
    with transaction.atomic(), acting_as(user):
        plan = MonthlyPlan.objects.create(
            cm=cm,
            month=month,
            volume_suggested=s.volume,
            volume_target=s.volume,
            due=plan_due(month, rules_for(cm)),
        )
        PlanRouteTarget.objects.bulk_create(
            PlanRouteTarget(plan=plan, route_id=x.key, suggested_cases=x.cases, target_cases=x.cases, basis=x.basis)
            for x in s.routes
        )
        PlanBrandTarget.objects.bulk_create(
            PlanBrandTarget(plan=plan, brand=x.key, suggested_cases=x.cases, target_cases=x.cases, basis=x.basis)
            for x in s.brands
        )
        PlanFocusRetailer.objects.bulk_create(
            PlanFocusRetailer(plan=plan, retailer=f.retailer, reason=f.reason, detail=f.detail, suggested=True)
            for f in s.focus
        )
        if not MonthlyPlan.objects.restrict(user, "add").filter(pk=plan.pk).exists():
            raise OutOfScope
    return plan


def _decimal(value: Any, field_name: str, label: str) -> Decimal:
    try:
        number = Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
    except (ArithmeticError, ValueError) as exc:
        raise ValidationError({field_name: _("%(line)s: enter a number of cases.") % {"line": label}}) from exc
    if not number.is_finite() or number < 0:
        raise ValidationError({field_name: _("%(line)s: the target cannot be negative.") % {"line": label}})
    if number >= Decimal("1e8"):
        raise ValidationError({field_name: _("%(line)s: the target is too large.") % {"line": label}})
    return number


def _update_targets(lines: dict[Any, Any], changes: list[dict], key: str, field_name: str) -> list[str]:
    errors = []
    for change in changes:
        line = lines.get(change.get(key))
        if line is None:
            raise ValidationError({field_name: _("%(key)s is not a line of this plan.") % {"key": change.get(key)}})
        label = line.route.code if key == "route" else line.brand
        if "target_cases" in change and change["target_cases"] not in (None, ""):
            line.target_cases = _decimal(change["target_cases"], field_name, label)
        if "reason" in change:
            line.reason = (change.get("reason") or "").strip()[:300]
    for line in lines.values():
        label = line.route.code if key == "route" else line.brand
        if line.target_cases != line.suggested_cases and not line.reason:
            errors.append(
                _("%(line)s: a target different from the suggestion (%(suggested)s cases) needs a reason.")
                % {"line": label, "suggested": line.suggested_cases}
            )
        if line.target_cases == line.suggested_cases:
            line.reason = ""
    return errors


def plan_update(
    plan: MonthlyPlan,
    user: Any,
    *,
    key_tasks: str | None = None,
    notes: str | None = None,
    route_targets: list[dict] | None = None,
    brand_targets: list[dict] | None = None,
    focus_retailers: list[dict] | None = None,
) -> MonthlyPlan:
    """Edit a draft or returned plan (its CM only).

    ``route_targets``: [{"route": id, "target_cases": …, "reason": …}]; ``brand_targets``: [{"brand": …, …}];
    ``focus_retailers``: [{"retailer": id, "selected": bool, "detail": …}] — a retailer not yet in the plan is added
    as the CM's choice (it must be on the CM's routes); a CM's choice unselected is removed.
    """
    _check_owner(plan, user)
    with transaction.atomic(), acting_as(user):
        plan = _lock(plan)
        _check_editable(plan)
        errors: dict[str, list[str]] = {}
        if key_tasks is not None:
            plan.key_tasks = key_tasks.strip()
        if notes is not None:
            plan.notes = notes.strip()
        routes = {t.route_id: t for t in plan.route_targets.select_related("route")}
        brands = {t.brand: t for t in plan.brand_targets.all()}
        if route_targets is not None:
            if problems := _update_targets(routes, route_targets, "route", "route_targets"):
                errors["route_targets"] = problems
        if brand_targets is not None:
            if problems := _update_targets(brands, brand_targets, "brand", "brand_targets"):
                errors["brand_targets"] = problems
        if errors:
            raise ValidationError(errors)
        for line in routes.values():
            line.save()
        for line in brands.values():
            line.save()
        if focus_retailers is not None:
            _update_focus(plan, focus_retailers)
        plan.volume_target = sum((t.target_cases for t in routes.values()), Decimal("0"))
        plan.save()
    return plan


def _update_focus(plan: MonthlyPlan, changes: list[dict]) -> None:
    current = {f.retailer_id: f for f in plan.focus_retailers.all()}
    own = set(Retailer.objects.filter(route__cm=plan.cm_id).values_list("pk", flat=True))
    for change in changes:
        try:
            rid = int(change.get("retailer"))
        except (TypeError, ValueError) as exc:
            raise ValidationError({"focus_retailers": _("Choose a retailer.")}) from exc
        selected = bool(change.get("selected", True))
        detail = change.get("detail")
        row = current.get(rid)
        if row is None:
            if rid not in own:
                raise ValidationError({"focus_retailers": _("The retailer is not on your routes.")})
            if selected:
                current[rid] = PlanFocusRetailer.objects.create(
                    plan=plan, retailer_id=rid, reason=FocusReason.MANUAL, detail=(detail or "").strip()[:300]
                )
            continue
        if not row.suggested and not selected:
            row.delete()
            del current[rid]
            continue
        row.selected = selected
        if detail is not None and not row.suggested:
            row.detail = detail.strip()[:300]
        row.save()


def plan_snapshot(plan: MonthlyPlan) -> dict[str, Any]:
    """The whole plan as JSON: what a revision keeps."""
    return {
        "cm": plan.cm.name,
        "month": month_label(plan.month),
        "version": plan.version,
        "status": plan.status,
        "volume_suggested": str(plan.volume_suggested),
        "volume_target": str(plan.volume_target),
        "key_tasks": plan.key_tasks,
        "notes": plan.notes,
        "route_targets": [
            {
                "route": t.route_id,
                "route_code": t.route.code,
                "route_name": t.route.name,
                "suggested_cases": str(t.suggested_cases),
                "target_cases": str(t.target_cases),
                "reason": t.reason,
            }
            for t in plan.route_targets.select_related("route").order_by("route__code")
        ],
        "brand_targets": [
            {
                "brand": t.brand,
                "suggested_cases": str(t.suggested_cases),
                "target_cases": str(t.target_cases),
                "reason": t.reason,
            }
            for t in plan.brand_targets.order_by("brand")
        ],
        "focus_retailers": [
            {
                "retailer": f.retailer_id,
                "licence_no": f.retailer.licence_no,
                "shop_name": f.retailer.shop_name,
                "reason": f.reason,
                "detail": f.detail,
                "suggested": f.suggested,
            }
            for f in sorted(plan.focus_retailers.filter(selected=True).select_related("retailer"), key=focus_sort_key)
        ],
    }


def _revision(plan: MonthlyPlan, user: Any, comment: str = "") -> PlanRevision:
    return PlanRevision.objects.create(
        plan=plan, version=plan.version, status=plan.status, snapshot=plan_snapshot(plan), comment=comment, by=user
    )


def plan_submit(plan: MonthlyPlan, user: Any) -> MonthlyPlan:
    """Submit the plan for review as its next version (late when after the plan's due time)."""
    _check_owner(plan, user)
    with transaction.atomic(), acting_as(user):
        plan = _lock(plan)
        _check_editable(plan)
        missing = [
            t.route.code
            for t in plan.route_targets.select_related("route")
            if t.target_cases != t.suggested_cases and not t.reason
        ]
        missing += [t.brand for t in plan.brand_targets.all() if t.target_cases != t.suggested_cases and not t.reason]
        if missing:
            raise ValidationError(
                _("Give a reason for each target that differs from the suggestion: %(lines)s.")
                % {"lines": ", ".join(missing)}
            )
        plan.version += 1
        plan.submitted_at = _now()
        plan.status = PlanStatus.SUBMITTED
        plan.save()
        _revision(plan, user)
    return plan


def _decide(plan: MonthlyPlan, user: Any, status: str, comment: str) -> MonthlyPlan:
    if not MonthlyPlan.objects.restrict(user, "view").filter(pk=plan.pk).exists():
        raise OutOfScope
    if not user.has_perm("work.review_monthlyplan"):
        raise PermissionDenied(_("You may not approve or return monthly plans."))
    comment = (comment or "").strip()
    if status == PlanStatus.RETURNED and not comment:
        raise ValidationError({"comment": _("Say what should change: a returned plan needs a comment.")})
    with transaction.atomic(), acting_as(user):
        plan = _lock(plan)
        if plan.status != PlanStatus.SUBMITTED:
            raise ValidationError(_("Only a submitted plan can be approved or returned."), code="not_submitted")
        plan.status = status
        plan.decided_at = _now()
        plan.decided_by = user
        plan.head_comment = comment
        plan.save()
        _revision(plan, user, comment)
    return plan


def plan_approve(plan: MonthlyPlan, user: Any, comment: str = "") -> MonthlyPlan:
    """Approve a submitted plan (a reviewer whose scope holds it); the plan is locked from then on."""
    return _decide(plan, user, PlanStatus.APPROVED, comment)


def plan_return(plan: MonthlyPlan, user: Any, comment: str) -> MonthlyPlan:
    """Return a submitted plan to its CM with a comment; the CM edits and submits it again."""
    return _decide(plan, user, PlanStatus.RETURNED, comment)


def set_dept_target(
    user: Any, org_unit: OrgUnit, month: dt.date | str, volume_cases: Any, note: str = ""
) -> DeptTarget:
    """Set (or change) a unit's volume target for a month: heads for their department, the centre for any unit."""
    month = month_of(month)
    scope = user_scope(user)
    inside = scope.kind == "all" or (scope.kind == "org" and org_unit.path.startswith(scope.org_path))
    if not inside:
        raise OutOfScope
    volume = _decimal(volume_cases, "volume_cases", _("Volume target"))
    existing = DeptTarget.objects.filter(org_unit=org_unit, month=month).first()
    action = "change" if existing else "add"
    if not has_model_perm(user, DeptTarget, action):
        raise PermissionDenied(_("You may not set department targets."))
    with transaction.atomic(), acting_as(user):
        target = existing or DeptTarget(org_unit=org_unit, month=month)
        target.volume_cases = volume
        target.note = (note or "").strip()[:200]
        target.set_by = user if getattr(user, "pk", None) else None
        target.full_clean()
        target.save()
    return target


# --- the head's view of a month ------------------------------------------------------------------------------------
@dataclass
class PlanRow:
    cm: Staff
    plan: MonthlyPlan | None
    state: str  # missing | pending | on_time | late
    due: dt.datetime


def plan_overview(user: Any, month: dt.date | str) -> list[PlanRow]:
    """Every CM in the user's scope with its plan for ``month`` and whether it came on time, late or not at all."""
    month = month_of(month)
    cms = list(
        Staff.objects.restrict(user, "view")
        .filter(role=Role.CM, active=True)
        .select_related("org_unit")
        .order_by("org_unit__path", "employee_no")
    )
    plans = {
        p.cm_id: p
        for p in MonthlyPlan.objects.restrict(user, "view").filter(month=month, cm__in=cms).select_related("cm")
    }
    now = _now()
    rows = []
    for cm in cms:
        plan = plans.get(cm.pk)
        due = plan.due if plan else plan_due(month, rules_for(cm))
        if plan is not None and plan.submitted_at is not None:
            state = "late" if plan.late else "on_time"
        else:
            state = "missing" if now > due else "pending"
        rows.append(PlanRow(cm, plan, state, due))
    return rows


def next_plan_month(today: dt.date | None = None) -> dt.date:
    return next_month(month_start(today or timezone.localdate()))
