"""What an assessment item measures: one value per CM for a month, with the evidence behind it.

``METRICS = {code: Metric}``. A metric measures *all* the CMs of a run at once (``Metric.measure(ctx, item)`` →
``{cm_id: Measure}``) so that a city month needs one KPI engine query per indicator set grouped by CM, and one
database query per record type, whatever the number of CMs.

Units: ratios are returned in percent (93.5 means 93.5 %), counts as plain numbers; the scoring rules work on these.
``Measure.value`` None means "no data": the run marks the item so and leaves it for a manual rating.

Evidence entries are ``{"kind": "kpi"|"visit"|"finding"|"record"|"note", "label": …, "url": …, "value": …}``: links to
the KPI explorer (``/kpi/explore/?period=…&scope=<employee no>&by=…&indicators=…``), the visit list
(``/work/visits/?cm=<id>&month=YYYY-MM``), a visit, a plan or summary, a spot check.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter, KpiQuery
from cmdesk.assess.models import FindingCategory, Source, SpotFinding
from cmdesk.kpi.selectors import merge, run_query
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer
from cmdesk.work.models import (
    DeptTarget,
    Feedback,
    FeedbackKind,
    MonthlyPlan,
    PlanStatus,
    RetailerUpdate,
    Summary,
    SummaryKind,
    Visit,
    VisitStatus,
)
from cmdesk.work.rules import month_end, plan_due, summary_due
from cmdesk.work.services.board import (
    DONE_SUMMARY,
    LATE,
    MISSING,
    STATE_LABELS,
    RulesCache,
    item_url,
    link,
    month_label,
    month_mondays,
    plan_item,
    submitted_item,
)

from .rules import fmt
from .spotchecks import quarter_label, quarter_start

FOUR = Decimal("0.0001")
HUNDRED = Decimal("100")
MAX_RECORDS = 20  # evidence entries listed one by one per item; more are summed up in one entry


@dataclass
class Measure:
    """One CM's value for an item. ``target``/``adjusted_target``/``adjustment``: a target the metric supplies."""

    value: Decimal | None
    evidence: list[dict] = field(default_factory=list)
    target: Decimal | None = None
    adjusted_target: Decimal | None = None
    adjustment: dict = field(default_factory=dict)
    explain: str = ""  # prefixed to the rule text (e.g. how an achievement was computed)


@dataclass(frozen=True)
class Metric:
    code: str
    label: Any
    source: str
    unit: str  # "%" | "count" | "points"
    measure: Callable[[Context, Any], dict[int, Measure]]
    doc: str = ""


def to_dec(value: Any, scale: Decimal = Decimal("1")) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(str(value)) * scale).quantize(FOUR)


def pct(value: Any) -> Decimal | None:
    return to_dec(value, HUNDRED)


def ev(kind: str, label: Any, url: str = "", value: Any = "") -> dict:
    return {"kind": kind, "label": str(label), "url": url, "value": "" if value is None else str(value)}


def no_data(label: Any) -> Measure:
    return Measure(None, [ev("note", label, value=_("no data"))])


def _items(params: Any) -> dict:
    return dict(getattr(params, "params", None) or {})


# Indicators fetched together: a metric asking for a subset of a bundle gets the whole bundle from one engine query,
# so the KPI metrics of the default scheme need few queries (all products; the key brands; 动销率).
BUNDLES = (
    ("cases", "cases_ly", "cases_yoy", "avg_price", "avg_price_ly", "avg_price_yoy"),
    ("cases", "cases_ly", "cases_yoy", "buyers", "served", "listing_rate", "coverage"),
)


class Context:
    """A month, an org unit and its CMs; caches the KPI results so metrics share queries."""

    def __init__(
        self,
        org_unit: OrgUnit,
        month: dt.date,
        cms: list[Staff],
        *,
        today: dt.date | None = None,
        use_cache: bool = True,
        per_cm_queries: bool = False,
    ) -> None:
        self.unit = org_unit
        self.month = month
        self.cms = cms
        self.ids = [c.pk for c in cms]
        self.by_id = {c.pk: c for c in cms}
        self.today = today or timezone.localdate()
        self.as_of = min(self.today, month_end(month))
        self.period = Period.parse(month_label(month))
        self.label = month_label(month)
        self.use_cache = use_cache
        self.per_cm_queries = per_cm_queries  # the naive baseline of the benchmark: one query per CM
        self.rules = RulesCache()
        self.queries = 0
        self._kpi: dict[Any, dict[int, dict]] = {}

    @property
    def unit_filter(self) -> Filter:
        return Filter() if self.unit.is_root() else Filter(org_paths=(self.unit.path,))

    def kpi(
        self, indicators: tuple[str, ...], extra: Filter | None = None, period: Period | None = None
    ) -> dict[int, dict]:
        """{cm_id: row} for the CMs' retailers in the month (or ``period``), one engine query for all CMs."""
        bundle = BUNDLES[0] if extra is None else BUNDLES[1]
        if set(indicators) <= set(bundle):
            indicators = bundle
        key = (indicators, extra, period)
        if key not in self._kpi:
            base = self.unit_filter if extra is None else merge(self.unit_filter, extra)
            rows: dict[int, dict] = {}
            groups = [(c,) for c in self.ids] if self.per_cm_queries else [tuple(self.ids)]
            for ids in groups:
                if not ids:
                    continue
                flt = merge(base, Filter(cm_ids=ids))
                query = KpiQuery(period=period or self.period, by=("cm",), filter=flt, indicators=indicators)
                self.queries += 1
                for row in run_query(query, use_cache=self.use_cache).rows:
                    if row.get("cm_id") is not None:
                        rows[row["cm_id"]] = row
            self._kpi[key] = rows
        return self._kpi[key]

    def explore_url(self, cm: Staff, indicators: tuple[str, ...], by: str = "", period: str = "") -> str:
        query: list[tuple[str, str]] = [("period", period or self.label), ("scope", cm.employee_no)]
        if by:
            query.append(("by", by))
        query += [("indicators", i) for i in indicators]
        return f"{reverse('kpi:explore')}?{urlencode(query)}"

    def visits_url(self, cm: Staff, **extra: str) -> str:
        return f"{reverse('work:visit_list')}?{urlencode({'cm': cm.pk, 'month': self.label, **extra})}"

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        start = timezone.make_aware(dt.datetime.combine(self.month, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(month_end(self.month) + dt.timedelta(days=1), dt.time.min))
        return start, end


def _brand_filter(params: dict) -> tuple[Filter, str]:
    brands = tuple(str(b) for b in params.get("brands") or ())
    if brands:
        return Filter(brands=brands), "、".join(brands)
    return Filter(key_brands_only=True), _("key brands")


# ---- KPI metrics ----------------------------------------------------------------------------------------------------


def _kpi_ratio(
    ctx: Context,
    item: Any,
    *,
    indicator: str,
    shown: tuple[str, ...],
    label: str,
    extra: Filter | None = None,
    by: str = "",
    scale: Decimal = HUNDRED,
) -> dict[int, Measure]:
    rows = ctx.kpi((indicator, *shown), extra)
    out = {}
    for cm in ctx.cms:
        row = rows.get(cm.pk)
        value = to_dec(row.get(indicator), scale) if row else None
        url = ctx.explore_url(cm, (indicator, *shown), by=by)
        details = ", ".join(f"{k} {fmt(to_dec(row.get(k)))}" for k in shown) if row else ""
        if value is None:
            out[cm.pk] = Measure(None, [ev("kpi", _("%(label)s: no sales data") % {"label": label}, url, _("no data"))])
            continue
        shown_value = f"{fmt(value)}%" if scale == HUNDRED else fmt(value)
        out[cm.pk] = Measure(
            value, [ev("kpi", f"{label} ({ctx.label})", url, f"{shown_value}" + (f"; {details}" if details else ""))]
        )
    return out


def m_growth_rate(ctx: Context, item: Any) -> dict[int, Measure]:
    return _kpi_ratio(ctx, item, indicator="cases_yoy", shown=("cases", "cases_ly"), label=_("cases YoY"))


def m_key_brand_growth(ctx: Context, item: Any) -> dict[int, Measure]:
    flt, names = _brand_filter(_items(item))
    return _kpi_ratio(
        ctx,
        item,
        indicator="cases_yoy",
        shown=("cases", "cases_ly"),
        label=_("cases YoY of %(b)s") % {"b": names},
        extra=flt,
        by="brand",
    )


def m_avg_price_growth(ctx: Context, item: Any) -> dict[int, Measure]:
    return _kpi_ratio(
        ctx,
        item,
        indicator="avg_price_yoy",
        shown=("avg_price", "avg_price_ly"),
        label=_("average price per carton YoY"),
    )


def m_listing_rate(ctx: Context, item: Any) -> dict[int, Measure]:
    flt, names = _brand_filter(_items(item))
    return _kpi_ratio(
        ctx,
        item,
        indicator="listing_rate",
        shown=("buyers", "served"),
        label=_("listing rate of %(b)s") % {"b": names},
        extra=flt,
        by="brand",
    )


def m_coverage(ctx: Context, item: Any) -> dict[int, Measure]:
    flt, names = _brand_filter(_items(item))
    return _kpi_ratio(
        ctx, item, indicator="coverage", shown=(), label=_("coverage of %(b)s") % {"b": names}, extra=flt, by="brand"
    )


DONGXIAO = {
    "per_buyer": ("dongxiao_per_buyer", gettext_lazy("动销率 (per-buyer purchase vs the previous period)")),
    "sku": ("dongxiao_sku", gettext_lazy("动销率 (share of products on sale that sold)")),
}


def m_dongxiao(ctx: Context, item: Any) -> dict[int, Measure]:
    params = _items(item)
    indicator, label = DONGXIAO[params.get("definition") or "sku"]
    flt = _brand_filter(params)[0] if params.get("brands") or params.get("key_brands") else None
    return _kpi_ratio(ctx, item, indicator=indicator, shown=(), label=str(label), extra=flt)


def _prev_months(month: dt.date, n: int) -> Period:
    """The ``n`` months before ``month``."""
    y, m = month.year, month.month - n
    while m <= 0:
        y, m = y - 1, m + 12
    return Period.range(dt.date(y, m, 1), month - dt.timedelta(days=1))


def m_volume_vs_target(ctx: Context, item: Any) -> dict[int, Measure]:  # noqa: C901, PLR0912, PLR0915
    """Achievement % = actual cases ÷ (adjusted) target. Target: the CM's submitted monthly plan, else the nearest
    department (org unit) target for the month split among its active CMs — adjusted, when the item says so, for route
    potential (the CM's share of the unit's cases over the last 12 months instead of an equal share) and for season
    (the CM's share in the same month last year; both together: that share alone). A plan target was set per route
    and month already and is not adjusted again (the adjustment JSON says so)."""
    season = bool(getattr(item, "adjust_season", False))
    potential = bool(getattr(item, "adjust_potential", False))
    actual = ctx.kpi(("cases", "cases_ly"))  # the bundle shared with growth_rate
    plans = {
        p.cm_id: p
        for p in MonthlyPlan.objects.filter(cm_id__in=ctx.ids, month=ctx.month)
        .exclude(status=PlanStatus.DRAFT)
        .filter(volume_target__gt=0)
    }
    need = [c for c in ctx.cms if c.pk not in plans]
    targets = {t.org_unit.path: t for t in DeptTarget.objects.filter(month=ctx.month).select_related("org_unit")}
    unit_of: dict[int, Any] = {}
    for cm in need:
        path = cm.org_unit.path
        for i in range(len(path), 0, -OrgUnit.steplen):
            t = targets.get(path[:i])
            if t is not None:
                unit_of[cm.pk] = t
                break
    members: dict[str, list[int]] = {}
    share_now: dict[int, dict] = {}
    share_12: dict[int, dict] = {}
    if unit_of:
        paths = tuple(sorted({t.org_unit.path for t in unit_of.values()}))
        for staff in (
            Staff.objects.filter(role="cm", active=True).only("id", "org_unit__path").select_related("org_unit")
        ):
            for p in paths:
                if staff.org_unit.path.startswith(p):
                    members.setdefault(p, []).append(staff.pk)
        flt = Filter(org_paths=paths)
        inside = all(p.startswith(ctx.unit.path) for p in paths) and not ctx.per_cm_queries
        if season:
            if inside:  # every CM of the target units is scored in this run: the month's query has them all
                share_now = actual
            else:
                share_now = {
                    r["cm_id"]: r
                    for r in run_query(
                        KpiQuery(ctx.period, ("cm",), flt, ("cases", "cases_ly")), use_cache=ctx.use_cache
                    ).rows
                    if r.get("cm_id") is not None
                }
                ctx.queries += 1
        if potential and not season:  # with both, the share of the same month last year covers both
            share_12 = {
                r["cm_id"]: r
                for r in run_query(
                    KpiQuery(_prev_months(ctx.month, 12), ("cm",), flt, ("cases",)), use_cache=ctx.use_cache
                ).rows
                if r.get("cm_id") is not None
            }
            ctx.queries += 1
    out: dict[int, Measure] = {}
    for cm in ctx.cms:
        row = actual.get(cm.pk)
        cases = to_dec(row.get("cases")) if row else Decimal("0").quantize(FOUR)
        url = ctx.explore_url(cm, ("cases", "cases_ly", "cases_yoy"))
        evidence = [ev("kpi", _("cases bought by the CM's retailers (%(m)s)") % {"m": ctx.label}, url, fmt(cases))]
        adjustment: dict[str, Any] = {}
        plan = plans.get(cm.pk)
        if plan is not None:
            target = adjusted = plan.volume_target.quantize(FOUR)
            adjustment = {"source": "plan", "plan": plan.pk, "factor": "1"}
            if season or potential:
                adjustment["note"] = _("the plan's target was set per route and month; not adjusted again")
            evidence.append(
                ev(
                    "record",
                    _("monthly plan target (cases)"),
                    item_url("plan", cm=cm, period=ctx.month, pk=plan.pk),
                    fmt(target),
                )
            )
        elif cm.pk in unit_of:
            t = unit_of[cm.pk]
            path = t.org_unit.path
            ids = members.get(path) or [cm.pk]
            n = len(ids)
            target = (t.volume_cases / n).quantize(FOUR)
            adjustment = {
                "source": "dept",
                "unit": t.org_unit.code,
                "unit_target": fmt(t.volume_cases),
                "cms": n,
                "equal_share": fmt((Decimal(1) / n).quantize(FOUR)),
            }
            share = None
            if season:
                unit_ly = sum(Decimal(str(share_now.get(i, {}).get("cases_ly") or 0)) for i in ids)
                mine = Decimal(str(share_now.get(cm.pk, {}).get("cases_ly") or 0))
                if unit_ly > 0:
                    share = mine / unit_ly
                    adjustment["season"] = {
                        "basis": _("share of the unit's cases in the same month last year"),
                        "cm_cases": fmt(to_dec(mine)),
                        "unit_cases": fmt(to_dec(unit_ly)),
                    }
            if potential and season:
                adjustment["potential"] = {
                    "basis": _("included: the share of the same month last year reflects the route's potential too")
                }
            elif potential:
                unit_12 = sum(Decimal(str(share_12.get(i, {}).get("cases") or 0)) for i in ids)
                mine12 = Decimal(str(share_12.get(cm.pk, {}).get("cases") or 0))
                if unit_12 > 0:
                    adjustment["potential"] = {
                        "basis": _("share of the unit's cases over the last 12 months"),
                        "cm_cases": fmt(to_dec(mine12)),
                        "unit_cases": fmt(to_dec(unit_12)),
                    }
                    if share is None:
                        share = mine12 / unit_12
            if share is not None:
                adjusted = (t.volume_cases * share).quantize(FOUR)
                adjustment["share"] = fmt(share.quantize(FOUR))
                adjustment["factor"] = fmt((share * n).quantize(FOUR))
            else:
                adjusted = target
                adjustment["factor"] = "1"
            evidence.append(
                ev(
                    "record",
                    _("department target %(u)s (cases) ÷ %(n)s CMs") % {"u": t.org_unit.name, "n": n},
                    link("work:dept_targets", query={"month": ctx.label}),
                    fmt(t.volume_cases),
                )
            )
        else:
            evidence.append(
                ev("note", _("no monthly plan target and no department target for the month"), value=_("no data"))
            )
            out[cm.pk] = Measure(None, evidence)
            continue
        if not adjusted:
            out[cm.pk] = Measure(None, [*evidence, ev("note", _("the target is 0"), value=_("no data"))])
            continue
        value = (cases / adjusted * HUNDRED).quantize(FOUR)
        explain = _("actual %(a)s cases ÷ target %(t)s cases = %(v)s%%") % {
            "a": fmt(cases),
            "t": fmt(adjusted),
            "v": fmt(value.quantize(Decimal("0.01"))),
        }
        out[cm.pk] = Measure(value, evidence, target, adjusted, adjustment, explain)
    return out


def m_forecast_accuracy(ctx: Context, item: Any) -> dict[int, Measure]:
    """需求预测准确率 of the CM's retailers' weeks in the month (weeks whose Sunday falls in it), each week forecast by
    the latest retailer-level run made before it: 1 − Σ|actual − forecast| ÷ Σ actual over the retailer-weeks with an
    actual, clipped at 0, in percent (``cmdesk.supply.services.forecasts``). No forecasts: no data."""
    from cmdesk.supply.services.forecasts import cm_month_accuracy, month_forecasts

    mf = month_forecasts(ctx.month, Retailer.objects.filter(route__cm_id__in=ctx.ids), as_of=ctx.as_of)
    per_cm = cm_month_accuracy(mf)
    weeks = "、".join(f"{m:%m-%d}" for m in mf.mondays)
    out = {}
    for cm in ctx.cms:
        url = link("supply:forecast_accuracy", query={"cm": cm.pk, "month": ctx.label})
        acc = per_cm.get(cm.pk)
        if acc is None:
            out[cm.pk] = Measure(
                None,
                [
                    ev(
                        "record",
                        _("no weekly forecasts of the CM's retailers for the weeks of %(m)s (%(w)s)")
                        % {"m": ctx.label, "w": weeks},
                        url,
                        _("no data"),
                    )
                ],
            )
            continue
        label = _("forecast accuracy of %(n)s retailers, weeks of %(m)s (%(w)s)") % {
            "n": acc.retailers,
            "m": ctx.label,
            "w": weeks,
        }
        if acc.accuracy is None:
            out[cm.pk] = Measure(
                None,
                [
                    ev(
                        "record",
                        label,
                        url,
                        _("%(n)s forecasts, no week complete in the order data yet") % {"n": acc.forecasts},
                    )
                ],
            )
            continue
        value = pct(acc.accuracy)
        out[cm.pk] = Measure(
            value,
            [
                ev(
                    "record",
                    label,
                    url,
                    f"1 − {fmt(to_dec(acc.abs_error))} ÷ {fmt(to_dec(acc.actual))} = {fmt(value)}%",
                ),
                ev(
                    "note",
                    _("retailer-weeks measured / forecast; runs used"),
                    value=f"{acc.measured} / {acc.forecasts}; " + ", ".join(f"#{r}" for r in acc.runs),
                ),
            ],
        )
    return out


# ---- work records ---------------------------------------------------------------------------------------------------


def m_visit_coverage(ctx: Context, item: Any) -> dict[int, Measure]:
    """Share of the CM's open retailers whose last visit (as of the month's end) lies within the route's cycle."""
    retailers = list(
        Retailer.objects.filter(route__cm_id__in=ctx.ids, route__active=True)
        .exclude(status__in=(RetailerStatus.CLOSED, RetailerStatus.CANCELLED))
        .values("id", "route__cm_id", "route__visit_cycle_days")
    )
    last = dict(
        Visit.objects.filter(retailer_id__in=[r["id"] for r in retailers], checkin_at__date__lte=ctx.as_of)
        .exclude(status=VisitStatus.CANCELLED)
        .values("retailer_id")
        .annotate(last=Max("checkin_at"))
        .values_list("retailer_id", "last")
    )
    total: dict[int, int] = defaultdict(int)
    ok: dict[int, int] = defaultdict(int)
    for r in retailers:
        total[r["route__cm_id"]] += 1
        at = last.get(r["id"])
        if at is not None and (ctx.as_of - timezone.localtime(at).date()).days <= r["route__visit_cycle_days"]:
            ok[r["route__cm_id"]] += 1
    out = {}
    for cm in ctx.cms:
        n = total.get(cm.pk, 0)
        url = ctx.visits_url(cm)
        compliance = link("work:compliance", query={"cm": cm.pk, "month": ctx.label})
        if not n:
            out[cm.pk] = Measure(None, [ev("visit", _("no retailers on the CM's routes"), url, _("no data"))])
            continue
        value = (Decimal(ok.get(cm.pk, 0)) / n * HUNDRED).quantize(FOUR)
        out[cm.pk] = Measure(
            value,
            [
                ev(
                    "visit",
                    _("retailers visited within their cycle as of %(d)s") % {"d": ctx.as_of},
                    url,
                    f"{ok.get(cm.pk, 0)} / {n} = {fmt(value.quantize(Decimal('0.01')))}%",
                ),
                ev("visit", _("retailers not visited within their cycle"), compliance, n - ok.get(cm.pk, 0)),
            ],
        )
    return out


def m_visit_duration(ctx: Context, item: Any) -> dict[int, Measure]:
    """Occurrences: the month's done visits shorter than the work rules' minimum."""
    start, end = ctx.bounds()
    rows = (
        Visit.objects.filter(cm_id__in=ctx.ids, status=VisitStatus.DONE, checkin_at__gte=start, checkin_at__lt=end)
        .exclude(duration_minutes=None)
        .values("id", "cm_id", "duration_minutes", "checkin_at", "retailer__shop_name")
        .order_by("checkin_at", "id")
    )
    done = dict(
        Visit.objects.filter(cm_id__in=ctx.ids, status=VisitStatus.DONE, checkin_at__gte=start, checkin_at__lt=end)
        .values("cm_id")
        .annotate(n=Count("id"))
        .values_list("cm_id", "n")
    )
    short: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        cm = ctx.by_id[r["cm_id"]]
        if r["duration_minutes"] < ctx.rules.for_cm(cm).min_visit_minutes:
            short[cm.pk].append(r)
    out = {}
    for cm in ctx.cms:
        minimum = ctx.rules.for_cm(cm).min_visit_minutes
        mine = short.get(cm.pk, [])
        evidence = [
            ev(
                "visit",
                _("done visits in %(m)s; shorter than %(n)s minutes") % {"m": ctx.label, "n": minimum},
                ctx.visits_url(cm),
                f"{done.get(cm.pk, 0)}; {len(mine)}",
            )
        ]
        for r in mine[:MAX_RECORDS]:
            evidence.append(
                ev(
                    "visit",
                    f"{timezone.localtime(r['checkin_at']):%m-%d %H:%M} {r['retailer__shop_name']}",
                    reverse("work:visit_detail", args=(r["id"],)),
                    _("%(n)s min") % {"n": r["duration_minutes"]},
                )
            )
        out[cm.pk] = Measure(Decimal(len(mine)), evidence)
    return out


def m_info_collected(ctx: Context, item: Any) -> dict[int, Measure]:
    """Retailer record changes made on visits plus feedback (needs, complaints, market information) in the month."""
    start, end = ctx.bounds()
    updates = dict(
        RetailerUpdate.objects.filter(visit__cm_id__in=ctx.ids, at__gte=start, at__lt=end)
        .values("visit__cm_id")
        .annotate(n=Count("id"))
        .values_list("visit__cm_id", "n")
    )
    feedback = dict(
        Feedback.objects.filter(cm_id__in=ctx.ids, created_at__gte=start, created_at__lt=end)
        .values("cm_id")
        .annotate(n=Count("id"))
        .values_list("cm_id", "n")
    )
    out = {}
    for cm in ctx.cms:
        u, f = updates.get(cm.pk, 0), feedback.get(cm.pk, 0)
        out[cm.pk] = Measure(
            Decimal(u + f),
            [
                ev("record", _("retailer record updates on visits"), ctx.visits_url(cm), u),
                ev(
                    "record",
                    _("needs, complaints and information recorded"),
                    ctx.visits_url(cm),  # needs and complaints are shown on their visits
                    f,
                ),
            ],
        )
    return out


def m_referrals(ctx: Context, item: Any) -> dict[int, Measure]:
    """专销结合: compliance concerns the CM passed on (Feedback of kind compliance) in the month."""
    start, end = ctx.bounds()
    rows = (
        Feedback.objects.filter(
            cm_id__in=ctx.ids, kind=FeedbackKind.COMPLIANCE, created_at__gte=start, created_at__lt=end
        )
        .values("id", "cm_id", "visit_id", "created_at", "retailer__shop_name")
        .order_by("created_at", "id")
    )
    by_cm: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_cm[r["cm_id"]].append(r)
    out = {}
    for cm in ctx.cms:
        mine = by_cm.get(cm.pk, [])
        evidence = [
            ev(
                "record",
                _("compliance concerns referred in %(m)s") % {"m": ctx.label},
                link("work:compliance", query={"cm": cm.pk, "month": ctx.label}),
                len(mine),
            )
        ]
        for r in mine[:MAX_RECORDS]:
            url = reverse("work:visit_detail", args=(r["visit_id"],)) if r["visit_id"] else ctx.visits_url(cm)
            evidence.append(
                ev(
                    "record",
                    f"{timezone.localtime(r['created_at']):%m-%d} {r['retailer__shop_name'] or ''}",
                    url,
                    _("compliance concern"),
                )
            )
        out[cm.pk] = Measure(Decimal(len(mine)), evidence)
    return out


def m_plans_on_time(ctx: Context, item: Any) -> dict[int, Measure]:
    """Occurrences: the month's plan missing, late, or still a draft / returned after its deadline."""
    plans = {p.cm_id: p for p in MonthlyPlan.objects.filter(cm_id__in=ctx.ids, month=ctx.month)}
    out = {}
    for cm in ctx.cms:
        it = plan_item(
            plans.get(cm.pk), cm=cm, month=ctx.month, due=plan_due(ctx.month, ctx.rules.for_cm(cm)), today=ctx.today
        )
        bad = it.state == MISSING or it.late or it.overdue
        out[cm.pk] = Measure(
            Decimal(int(bad)),
            [
                ev(
                    "record",
                    _("monthly plan %(m)s, due %(d)s")
                    % {"m": ctx.label, "d": f"{timezone.localtime(it.due):%Y-%m-%d}"},
                    it.url,
                    str(STATE_LABELS[it.state]) + (" · " + _("late") if it.late and it.state != LATE else ""),
                )
            ],
        )
    return out


def m_summaries_on_time(ctx: Context, item: Any) -> dict[int, Measure]:
    """Occurrences: the month's weekly summaries and the monthly summary that are missing or late."""
    mondays = month_mondays(ctx.month)
    summaries = {
        (s.cm_id, s.kind, s.period_start): s
        for s in Summary.objects.filter(cm_id__in=ctx.ids)
        .filter(Q(kind=SummaryKind.WEEK, period_start__in=mondays) | Q(kind=SummaryKind.MONTH, period_start=ctx.month))
        .only("id", "cm_id", "kind", "period_start", "status", "flags", "due", "submitted_at")
    }
    last = month_end(ctx.month)
    out = {}
    for cm in ctx.cms:
        rules = ctx.rules.for_cm(cm)
        items = []
        for monday in mondays:
            s = summaries.get((cm.pk, SummaryKind.WEEK, monday))
            items.append(
                submitted_item(
                    "week_summary",
                    s,
                    cm=cm,
                    period=monday,
                    due=summary_due(SummaryKind.WEEK, monday, monday + dt.timedelta(days=6), rules),
                    today=ctx.today,
                    done=s is not None and s.status in DONE_SUMMARY,
                )
            )
        s = summaries.get((cm.pk, SummaryKind.MONTH, ctx.month))
        items.append(
            submitted_item(
                "month_summary",
                s,
                cm=cm,
                period=ctx.month,
                due=summary_due(SummaryKind.MONTH, ctx.month, last, rules),
                today=ctx.today,
                done=s is not None and s.status in DONE_SUMMARY,
            )
        )
        bad = [i for i in items if i.state in (MISSING, LATE)]
        evidence = [
            ev(
                "record",
                _("summaries due in %(m)s: missing or late") % {"m": ctx.label},
                item_url("month_summary", cm=cm, period=ctx.month),
                f"{len(bad)} / {len(items)}",
            )
        ]
        for i in bad:
            kind = _("weekly summary") if i.kind == "week_summary" else _("monthly summary")
            evidence.append(ev("record", f"{kind} {i.period:%Y-%m-%d}", i.url, str(STATE_LABELS[i.state])))
        out[cm.pk] = Measure(Decimal(len(bad)), evidence)
    return out


# ---- spot checks and manual -----------------------------------------------------------------------------------------


def m_spotcheck_findings(ctx: Context, item: Any) -> dict[int, Measure]:
    """Points deducted by the published spot-check findings of the month's quarter on the CM's retailers."""
    quarter = quarter_start(ctx.month)
    rows = (
        SpotFinding.objects.filter(
            spot_check__cm_id__in=ctx.ids, spot_check__quarter=quarter, spot_check__published=True
        )
        .filter(Q(ok=False) | Q(deduction__gt=0))
        .values(
            "id",
            "category",
            "deduction",
            "note",
            "spot_check_id",
            "spot_check__cm_id",
            "spot_check__retailer__shop_name",
            "spot_check__date",
        )
        .order_by("spot_check__date", "spot_check_id", "category")
    )
    checks = dict(
        SpotFinding.objects.filter(
            spot_check__cm_id__in=ctx.ids, spot_check__quarter=quarter, spot_check__published=True
        )
        .values("spot_check__cm_id")
        .annotate(n=Count("spot_check_id", distinct=True))
        .values_list("spot_check__cm_id", "n")
    )
    by_cm: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_cm[r["spot_check__cm_id"]].append(r)
    out = {}
    for cm in ctx.cms:
        mine = by_cm.get(cm.pk, [])
        total = sum((r["deduction"] for r in mine), Decimal("0"))
        list_url = link("assess:spotcheck_list", query={"cm": cm.pk, "quarter": quarter_label(quarter)})
        evidence = [
            ev(
                "finding",
                _("published spot checks of %(q)s; points deducted") % {"q": quarter.isoformat()},
                list_url,
                f"{checks.get(cm.pk, 0)}; {fmt(total)}",
            )
        ]
        for r in mine[:MAX_RECORDS]:
            url = link("assess:spotcheck_detail", r["spot_check_id"])
            evidence.append(
                ev(
                    "finding",
                    f"{r['spot_check__date']} {r['spot_check__retailer__shop_name']}: "
                    f"{FindingCategory(r['category']).label}" + (f" ({r['note']})" if r["note"] else ""),
                    url,
                    f"−{fmt(r['deduction'])}",
                )
            )
        out[cm.pk] = Measure(total.quantize(FOUR), evidence)
    return out


def m_manual(ctx: Context, item: Any) -> dict[int, Measure]:
    return {
        cm.pk: Measure(None, [ev("note", _("rated by hand with a written justification"), value=_("awaiting rating"))])
        for cm in ctx.cms
    }


METRICS: dict[str, Metric] = {
    m.code: m
    for m in (
        Metric("volume_vs_target", gettext_lazy("Volume against target"), Source.KPI, "%", m_volume_vs_target),
        Metric("listing_rate", gettext_lazy("Listing rate (上柜率)"), Source.KPI, "%", m_listing_rate),
        Metric("coverage", gettext_lazy("Coverage (覆盖率)"), Source.KPI, "%", m_coverage),
        Metric("dongxiao", gettext_lazy("Movement (动销率)"), Source.KPI, "%", m_dongxiao),
        Metric(
            "avg_price_growth",
            gettext_lazy("Average price per carton YoY (条均价)"),
            Source.KPI,
            "%",
            m_avg_price_growth,
        ),
        Metric("key_brand_growth", gettext_lazy("Key-brand cases YoY"), Source.KPI, "%", m_key_brand_growth),
        Metric("growth_rate", gettext_lazy("Cases YoY"), Source.KPI, "%", m_growth_rate),
        Metric("forecast_accuracy", gettext_lazy("Forecast accuracy"), Source.KPI, "%", m_forecast_accuracy),
        Metric(
            "visit_coverage", gettext_lazy("Retailers visited within their cycle"), Source.WORK, "%", m_visit_coverage
        ),
        Metric(
            "visit_duration", gettext_lazy("Visits shorter than the minimum"), Source.WORK, "count", m_visit_duration
        ),
        Metric("info_collected", gettext_lazy("Information collected"), Source.WORK, "count", m_info_collected),
        Metric("plans_on_time", gettext_lazy("Monthly plan late or missing"), Source.WORK, "count", m_plans_on_time),
        Metric(
            "summaries_on_time", gettext_lazy("Summaries late or missing"), Source.WORK, "count", m_summaries_on_time
        ),
        Metric("referrals", gettext_lazy("Compliance referrals (专销结合)"), Source.WORK, "count", m_referrals),
        Metric(
            "spotcheck_findings",
            gettext_lazy("Spot-check deductions"),
            Source.SPOTCHECK,
            "points",
            m_spotcheck_findings,
        ),
        Metric("manual", gettext_lazy("Manual rating"), Source.MANUAL, "points", m_manual),
    )
}
