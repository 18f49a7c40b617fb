"""Weekly, monthly and annual summaries (周总结 / 月总结 / 年度总结): the figures, the draft and the workflow.

* Figures: :func:`month_figures`, :func:`week_figures` and :func:`year_figures` gather what a summary says from the KPI
  engine (:func:`cmdesk.kpi.selectors.kpi` over the CM's own retailers, ``Filter(cm_ids=(cm.pk,))``; the department
  comparison over the CM's department) and from the work records (visits, checklist answers, feedback, plans).
  They are stored in ``Summary.figures`` so the text can be checked against the data.
* Text: :mod:`cmdesk.work.services.drafting` writes the Chinese sections from those figures.
* Workflow: :func:`summary_draft` (create or re-draft, keeping the sections the CM edited), :func:`summary_update`,
  :func:`summary_submit` and :func:`summary_comment` — each atomic, audited, scope-checked; the flags (missing
  sections, a sales analysis without figures, text copied from the previous period) are recomputed on every save.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cmdesk.analytics.periods import Period
from cmdesk.analytics.query import Filter
from cmdesk.analytics.reports import annual_summary
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
from cmdesk.kpi.refresh import engine, ensure_dims
from cmdesk.kpi.selectors import SYSTEM, kpi
from cmdesk.org.choices import OrgKind, Role
from cmdesk.org.models import Staff
from cmdesk.retail.models import Retailer, Route

from ..models import (
    Feedback,
    FeedbackStatus,
    MonthlyPlan,
    PlannedVisit,
    Summary,
    SummaryKind,
    SummaryStatus,
    Visit,
    VisitCheck,
    VisitStatus,
    WeekArrangement,
)
from ..rules import next_month, previous_month, rules_for, summary_due
from . import drafting
from .drafting import CHECK_PROPOSAL_DEFAULT, CHECK_PROPOSALS, FIGURE_SECTIONS, SECTIONS

FALL_RATIO = 0.8  # a retailer's growth ÷ its group's below this is "falling" (seed 001: the province's 135 tool)
SPIKE_RATIO = 1.5  # … above this, an order spike worth checking
HISTORY_MONTHS = 6  # how far back "stopped ordering" looks for the last order
WEEKDAYS = "一二三四五六日"
DATE_WORDS = re.compile(r"第?\d+\s*[年月日号周]|\d{4}-\d{2}(-\d{2})?|W\d+")
SENTENCE_END = re.compile(r"[。；;！!？?\n]+")
SALES = (
    "cartons", "cases", "cases_ly", "cases_yoy_change", "cases_yoy", "cases_lm", "cases_mom", "amount",
    "avg_price", "avg_price_ly", "avg_price_yoy", "avg_price_mom", "served", "orderers", "ordering_rate",
    "online_share",
)  # fmt: skip
BRAND = ("cases", "cases_ly", "cases_yoy", "cases_lm", "cases_mom", "listing_rate", "buyers")


# --- periods -------------------------------------------------------------------------------------------------------
def summary_period(kind: str, day: dt.date) -> Period:
    """The period of a ``kind`` summary that contains ``day`` (week: Monday–Sunday, ISO)."""
    if kind == SummaryKind.WEEK:
        iso = day.isocalendar()
        return Period.week(iso.year, iso.week)
    if kind == SummaryKind.MONTH:
        return Period.month(day.year, day.month)
    if kind == SummaryKind.YEAR:
        return Period.year(day.year)
    raise ValidationError({"kind": _("Unknown summary kind %(kind)r.") % {"kind": kind}})


def previous_start(kind: str, start: dt.date) -> dt.date:
    if kind == SummaryKind.WEEK:
        return start - dt.timedelta(days=7)
    if kind == SummaryKind.MONTH:
        return previous_month(start)
    return start.replace(year=start.year - 1)


def period_title(period: Period) -> str:
    if period.kind == "week":
        iso = period.start.isocalendar()
        return f"{iso.year}年第{iso.week}周（{period.start:%m月%d日}—{period.end:%m月%d日}）"
    if period.kind == "month":
        return f"{period.start.year}年{period.start.month}月"
    return f"{period.start.year}年"


# --- reading the engine --------------------------------------------------------------------------------------------
def _rows(period: Period, flt: Filter, by: tuple[str, ...] = (), indicators: tuple[str, ...] = ()) -> list[dict]:
    # the system reader with an explicit filter: the summary is the CM's own scope (or its department's ranking),
    # whoever triggers the draft
    return kpi(SYSTEM, period, by=by, extra=flt, indicators=indicators).rows


def _one(period: Period, flt: Filter, indicators: tuple[str, ...]) -> dict[str, Any]:
    rows = _rows(period, flt, (), indicators)
    return dict(rows[0]) if rows else {k: None for k in indicators}


def _f(x: Any) -> float:
    return float(x) if x is not None else 0.0


def _ratio(cur: float, base: float) -> float | None:
    return cur / base if base else None


def _relative(cur: float, base: float, group_ratio: float | None) -> float | None:
    """A retailer's growth ratio ÷ its group's (None when there is nothing to compare)."""
    own = _ratio(cur, base)
    if own is None or not group_ratio:
        return None
    return own / group_ratio


def cm_filter(cm: Staff) -> Filter:
    return Filter(cm_ids=(cm.pk,))


def _cm_info(cm: Staff) -> dict[str, Any]:
    routes = list(Route.objects.filter(cm=cm).order_by("code").values_list("code", flat=True))
    return {"id": cm.pk, "name": cm.name, "employee_no": cm.employee_no, "routes": routes}


def _names(cm: Staff) -> dict[int, dict[str, Any]]:
    return {
        r["id"]: {"id": r["id"], "name": r["shop_name"], "licence": r["licence_no"]}
        for r in Retailer.objects.filter(route__cm=cm).values("id", "shop_name", "licence_no")
    }


def _retailer(names: dict[int, dict], row: dict[str, Any]) -> dict[str, Any]:
    rid = row.get("retailer_id")
    base = names.get(rid) or {"id": rid, "name": row.get("retailer_name") or str(rid), "licence": row.get("licence")}
    return dict(base)


# --- sales ---------------------------------------------------------------------------------------------------------
def sales_figures(cm: Staff, period: Period) -> dict[str, Any]:
    flt = cm_filter(cm)
    cur = _one(period, flt, SALES)
    prev = _one(period.previous(), flt, ("avg_price",))
    out = {k: cur.get(k) for k in SALES}
    out["cartons"] = int(cur.get("cartons") or 0)
    out["avg_price_lm"] = prev.get("avg_price")
    out["cases_lm_change"] = _f(cur.get("cases")) - _f(cur.get("cases_lm"))
    return out


def dept_figures(cm: Staff, period: Period, own_cases: float) -> dict[str, Any] | None:
    """Where the CM stands among its department's CMs: rank by cases and by growth, the department's average."""
    dept = cm.org_unit.ancestor_of_kind(OrgKind.DEPARTMENT) if cm.org_unit_id else None
    if dept is None:
        return None
    flt = Filter(org_paths=(dept.path,))
    rows = [r for r in _rows(period, flt, ("cm",), ("cases", "cases_yoy")) if r.get("cm_id") is not None]
    if not rows:
        return None
    total = _one(period, flt, ("cases", "cases_yoy", "avg_price"))
    by_cases = sorted(rows, key=lambda r: -_f(r.get("cases")))
    rank = next((i for i, r in enumerate(by_cases, 1) if r["cm_id"] == cm.pk), None)
    growing = sorted((r for r in rows if r.get("cases_yoy") is not None), key=lambda r: -r["cases_yoy"])
    yoy_rank = next((i for i, r in enumerate(growing, 1) if r["cm_id"] == cm.pk), None)
    average = sum(_f(r.get("cases")) for r in rows) / len(rows)
    return {
        "name": dept.name,
        "count": len(rows),
        "rank": rank,
        "yoy_rank": yoy_rank,
        "average_cases": average,
        "vs_average": (own_cases - average) / average if average else None,
        "cases": total.get("cases"),
        "cases_yoy": total.get("cases_yoy"),
        "avg_price": total.get("avg_price"),
    }


# --- retailers: stopped, falling, spiking --------------------------------------------------------------------------
def retailer_figures(cm: Staff, period: Period, names: dict[int, dict]) -> dict[str, list[dict[str, Any]]]:
    flt = cm_filter(cm)
    rows = _rows(period, flt, ("retailer",), ("cartons", "cases", "cases_ly", "cases_lm"))
    total = sum(_f(r.get("cases")) for r in rows)
    yoy_group = _ratio(total, sum(_f(r.get("cases_ly")) for r in rows))
    mom_group = _ratio(total, sum(_f(r.get("cases_lm")) for r in rows))
    first = dt.date(period.start.year, period.start.month, 1)
    for _i in range(HISTORY_MONTHS):
        first = previous_month(first)
    history = _rows(Period.range(first, period.start - dt.timedelta(days=1)), flt, ("retailer", "month"), ("cartons",))
    last_month: dict[int, str] = {}
    for h in history:
        if (h.get("cartons") or 0) > 0:
            last_month[h["retailer_id"]] = max(last_month.get(h["retailer_id"], ""), h["month"])
    stopped, falling, spiking = [], [], []
    for r in rows:
        who = _retailer(names, r)
        cur, ly, lm = _f(r.get("cases")), _f(r.get("cases_ly")), _f(r.get("cases_lm"))
        who.update(cases=cur, cases_ly=ly, cases_lm=lm)
        if (r.get("cartons") or 0) <= 0:
            last = last_month.get(r["retailer_id"])
            if last:
                year, month = int(last[:4]), int(last[5:])
                since = next_month(dt.date(year, month, 1))
                who.update(last_order_month=last, since=f"{since.year}年{since.month}月")
            else:
                who.update(last_order_month=None, since=f"{HISTORY_MONTHS}个月以上")
            stopped.append(who)
            continue
        rel = [x for x in (_relative(cur, ly, yoy_group), _relative(cur, lm, mom_group)) if x is not None]
        if rel and min(rel) < FALL_RATIO:
            who["relative"] = min(rel)
            falling.append(who)
        elif rel and max(rel) > SPIKE_RATIO:
            who["relative"] = max(rel)
            spiking.append(who)
    return {"stopped": stopped, "falling": falling, "spiking": spiking}


# --- key brands ----------------------------------------------------------------------------------------------------
def _brand_trend(b: dict[str, Any]) -> str:
    yoy, mom = b.get("cases_yoy"), b.get("cases_mom")
    if yoy is None and mom is None:
        return "无可比数据"
    up = [x for x in (yoy, mom) if x is not None and x > 0.005]
    down = [x for x in (yoy, mom) if x is not None and x < -0.005]
    if up and not down:
        return "销量呈上升趋势"
    if down and not up:
        return "销量呈下滑趋势，需加强培育"
    if up and down:
        return "销量有所波动"
    return "销量基本平稳"


def key_brand_figures(cm: Staff, period: Period, names: dict[int, dict], skip: set[int]) -> list[dict[str, Any]]:
    flt = Filter(cm_ids=(cm.pk,), key_brands_only=True)
    rows = _rows(period, flt, ("brand",), BRAND)
    lm = {r["brand"]: r for r in _rows(period.previous(), flt, ("brand",), ("listing_rate", "buyers"))}
    ly = {r["brand"]: r for r in _rows(period.year_ago(), flt, ("brand",), ("listing_rate", "buyers"))}
    per_retailer = _rows(period, flt, ("brand", "retailer"), ("cases", "cases_ly"))
    ly_retailer = _rows(period.year_ago(), flt, ("brand", "retailer"), ("cases",))
    feedback = (
        Feedback.objects.filter(cm=cm, product__isnull=False, created_at__date__range=(period.start, period.end))
        .select_related("retailer", "product")
        .order_by("created_at", "id")
    )
    said: dict[str, list[dict[str, Any]]] = {}
    for fb in feedback:
        said.setdefault(fb.product.brand, []).append(
            {"retailer": fb.retailer.shop_name, "kind": fb.kind, "text": fb.text, "product": fb.product.name}
        )
    out = []
    for r in sorted(rows, key=lambda r: -_f(r.get("cases"))):
        brand = r["brand"]
        b = {k: r.get(k) for k in BRAND}
        b["brand"] = brand
        b["listing_rate_lm"] = (lm.get(brand) or {}).get("listing_rate")
        b["listing_rate_ly"] = (ly.get(brand) or {}).get("listing_rate")
        b["trend"] = _brand_trend(b)
        group = _ratio(_f(r.get("cases")), _f(r.get("cases_ly")))
        now = {x["retailer_id"]: _f(x.get("cases")) for x in per_retailer if x["brand"] == brand}
        before = {x["retailer_id"]: _f(x.get("cases")) for x in ly_retailer if x["brand"] == brand}
        falling = []
        for rid, base in sorted(before.items()):
            if rid in skip or base <= 0:
                continue
            rel = _relative(now.get(rid, 0.0), base, group)
            if rel is not None and rel < FALL_RATIO:
                who = _retailer(names, {"retailer_id": rid})
                who.update(cases=now.get(rid, 0.0), cases_ly=base)
                falling.append(who)
        b["falling"] = falling
        b["feedback"] = said.get(brand, [])
        out.append(b)
    return out


# --- visits, checks, feedback --------------------------------------------------------------------------------------
def visit_figures(cm: Staff, period: Period, served: int | None, names: dict[int, dict]) -> dict[str, Any]:
    rules = rules_for(cm)
    visits = Visit.objects.filter(cm=cm, checkin_at__date__range=(period.start, period.end)).exclude(
        status=VisitStatus.CANCELLED
    )
    done = visits.filter(status=VisitStatus.DONE)
    visited = set(done.values_list("retailer_id", flat=True))
    planned = PlannedVisit.objects.filter(cm=cm, date__range=(period.start, period.end))
    planned_done = planned.filter(visit__status=VisitStatus.DONE)
    missed = [
        dict(names.get(rid) or {"id": rid, "name": str(rid)})
        for rid in planned.exclude(pk__in=planned_done.values("pk"))
        .order_by("date", "seq")
        .values_list("retailer_id", flat=True)
        .distinct()
    ]
    books = [n for rid, n in sorted(names.items(), key=lambda x: x[0])]
    not_visited = [dict(n) for n in books if n["id"] not in visited]
    denominator = served if served else len(books)
    return {
        "done": done.count(),
        "retailers": len(visited),
        "coverage": len(visited) / denominator if denominator else None,
        "planned": planned.count(),
        "planned_done": planned_done.count(),
        "unplanned": done.filter(planned__isnull=True).count(),
        "missed": missed,
        "far": done.filter(far=True).count(),
        "short": done.filter(duration_minutes__lt=rules.min_visit_minutes).count(),
        "min_minutes": rules.min_visit_minutes,
        "not_visited": not_visited,
    }


def check_figures(cm: Staff, period: Period) -> list[dict[str, Any]]:
    """Checklist points found wrong (VisitCheck ok=False) by item: how many retailers, which."""
    rows = (
        VisitCheck.objects.filter(visit__cm=cm, ok=False, visit__checkin_at__date__range=(period.start, period.end))
        .exclude(visit__status=VisitStatus.CANCELLED)
        .values("item__code", "item__name", "item__position", "visit__retailer_id", "visit__retailer__shop_name")
        .order_by("item__position", "item__code", "visit__retailer__visit_order", "visit__retailer_id")
    )
    items: dict[str, dict[str, Any]] = {}
    for r in rows:
        item = items.setdefault(
            r["item__code"], {"code": r["item__code"], "item": r["item__name"], "retailers": [], "_seen": set()}
        )
        if r["visit__retailer_id"] not in item["_seen"]:
            item["_seen"].add(r["visit__retailer_id"])
            item["retailers"].append({"id": r["visit__retailer_id"], "name": r["visit__retailer__shop_name"]})
    out = []
    for item in items.values():
        item.pop("_seen")
        item["count"] = len(item["retailers"])
        out.append(item)
    return out


def feedback_figures(cm: Staff, period: Period) -> dict[str, Any]:
    in_period = Feedback.objects.filter(cm=cm, created_at__date__range=(period.start, period.end))
    still_open = (
        Feedback.objects.filter(cm=cm, status=FeedbackStatus.OPEN, created_at__date__lte=period.end)
        .select_related("retailer")
        .order_by("created_at", "id")
    )
    return {
        "count": in_period.count(),
        "resolved": in_period.filter(status=FeedbackStatus.RESOLVED).count(),
        "open": [
            {
                "id": f.pk,
                "retailer": f.retailer.shop_name,
                "retailer_id": f.retailer_id,
                "kind": f.kind,
                "kind_label": str(f.get_kind_display()),
                "text": f.text,
                "since": f.created_at.date().isoformat(),
                "due": f.due.isoformat() if f.due else None,
            }
            for f in still_open
        ],
    }


# --- problems ------------------------------------------------------------------------------------------------------
FEEDBACK_ZH = {
    "need": "需求",
    "complaint": "投诉",
    "supply": "货源诉求",
    "market": "市场信息",
    "compliance": "违规线索",
}


def problems_from(
    retailers: dict[str, list], brands: list[dict], checks: list[dict], feedback: dict, visits: dict, what: str
) -> list[dict[str, Any]]:
    """The period's problems, each with its cause, the retailers concerned and a proposal (seed 002)."""
    out: list[dict[str, Any]] = []
    if retailers["stopped"]:
        since = "；".join(f"{r['name']}自{r['since']}起未订货" for r in retailers["stopped"][: drafting.NAMES_SHOWN])
        out.append(
            {
                "kind": "stopped",
                "title": f"{what}有{len(retailers['stopped'])}户客户未订货",
                "cause": f"{since}。可能是经营困难、货源不对路、转让或停业。",
                "retailers": retailers["stopped"],
                "proposal": "逐户上门拜访，了解停订原因并帮助制定订货计划；如发现转让经营、借证经营或从非正规渠道"
                "进货的迹象，及时反馈片区市管员联合核查。",
            }
        )
    if retailers["falling"]:
        detail = "；".join(
            f"{r['name']}{drafting.cases(r['cases'])}（去年同期{drafting.cases(r['cases_ly'])}，"
            f"上期{drafting.cases(r['cases_lm'])}）"
            for r in retailers["falling"][: drafting.NAMES_SHOWN]
        )
        out.append(
            {
                "kind": "falling",
                "title": f"{len(retailers['falling'])}户客户订货量明显下滑",
                "cause": f"{detail}，降幅明显大于片区整体。需核实是否周边竞争、货源结构不适应或经营重心转移。",
                "retailers": retailers["falling"],
                "proposal": "纳入下期重点客户加密拜访，分析其消费群体，指导调整订货结构；如有异常流向迹象，"
                "与市管员共同核实。",
            }
        )
    for b in brands:
        if b["falling"]:
            out.append(
                {
                    "kind": "brand_falling",
                    "brand": b["brand"],
                    "title": f"重点品牌{b['brand']}在{len(b['falling'])}户客户购进下滑",
                    "cause": f"{b['brand']}片区整体{drafting.trend(b['cases_yoy'])}，这些客户下滑幅度明显大于整体，"
                    "可能存在陈列位置不佳、断货或替代品牌挤占。",
                    "retailers": b["falling"],
                    "proposal": f"检查{b['brand']}的陈列和上柜情况，向零售户宣传品牌卖点和消费者反馈，"
                    "保证合理订货，必要时申请品牌培育支持。",
                }
            )
    if retailers["spiking"]:
        out.append(
            {
                "kind": "spiking",
                "title": f"{len(retailers['spiking'])}户客户订货量异常增长",
                "cause": "订货量远高于片区整体走势，需核实是否有真实销售支撑。",
                "retailers": retailers["spiking"],
                "proposal": "上门核实库存和实际销售；如有跨区销售、囤货或转售迹象，及时通报片区市管员。",
            }
        )
    for c in checks:
        out.append(
            {
                "kind": "check",
                "item": c["code"],
                "title": f"拜访检查发现{c['count']}户客户{c['item']}不合格",
                "cause": "零售户规范经营意识不强，整改不及时。",
                "retailers": c["retailers"],
                "proposal": CHECK_PROPOSALS.get(c["code"], CHECK_PROPOSAL_DEFAULT),
            }
        )
    for fb in feedback["open"][:10]:
        label = FEEDBACK_ZH.get(fb["kind"], "诉求")
        out.append(
            {
                "kind": "open_feedback",
                "feedback": fb["id"],
                "title": f"{fb['retailer']}的{label}尚未办结",
                "cause": f"{fb['since']}提出：“{fb['text']}”"
                + (f"，要求{fb['due']}前办结" if fb["due"] else "")
                + "。",
                "retailers": [{"id": fb["retailer_id"], "name": fb["retailer"]}],
                "proposal": "尽快答复并办结，无法解决的上报部门协调，并向客户做好解释。",
            }
        )
    if visits.get("missed"):
        out.append(
            {
                "kind": "missed_visits",
                "title": f"{len(visits['missed'])}户客户未按周安排拜访",
                "cause": "计划安排与实际执行有偏差。",
                "retailers": visits["missed"],
                "proposal": "优先补访，合理安排线路和时间，确保按计划完成拜访。",
            }
        )
    return out


MEASURES = {
    "stopped": "对未订货客户逐户上门了解原因，恢复正常订货",
    "falling": "将下滑客户列为重点客户，每月至少拜访两次，指导调整订货结构",
    "brand_falling": "加强重点品牌陈列和宣传，提高上柜率",
    "spiking": "核实订货异常客户的库存和销售，必要时与市管员联合检查",
    "check": "复查拜访检查不合格项的整改情况",
    "open_feedback": "限期办结客户需求和投诉",
    "missed_visits": "补访未按计划拜访的客户",
}


def measures_from(problems: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for p in problems:
        text = MEASURES.get(p["kind"])
        if p["kind"] == "brand_falling":
            text = f"加强{p['brand']}的陈列和宣传，提高上柜率"
        if text and text not in seen:
            seen.append(text)
    return [m + "。" for m in seen]


# --- next month ----------------------------------------------------------------------------------------------------
def next_month_figures(
    cm: Staff, period: Period, sales: dict[str, Any], brands: list[dict], problems: list[dict]
) -> dict[str, Any]:
    month = next_month(period.start)
    following = Period.month(month.year, month.month)
    title = f"{month.year}年{month.month}月"
    trend = _ratio(_f(sales.get("cases")), _f(sales.get("cases_ly"))) or 1.0
    plan = (
        MonthlyPlan.objects.filter(cm=cm, month=month).prefetch_related("brand_targets", "route_targets__route").first()
    )
    measures = measures_from(problems)
    difficulties = []
    if trend < 1:
        difficulties.append(f"本月销量同比下降{drafting.pct(trend - 1)}，完成目标有一定难度")
    stopped = next((p for p in problems if p["kind"] == "stopped"), None)
    if stopped:
        difficulties.append(f"{len(stopped['retailers'])}户客户未订货，恢复订货需要时间")
    if plan is not None:
        return {
            "title": title,
            "source": "plan",
            "plan": plan.pk,
            "target_cases": float(plan.volume_target),
            "cases_ly": None,
            "trend": trend,
            "brands": [{"brand": b.brand, "target_cases": float(b.target_cases)} for b in plan.brand_targets.all()],
            "routes": [
                {"route": r.route.code, "target_cases": float(r.target_cases)} for r in plan.route_targets.all()
            ],
            "measures": measures,
            "difficulties": difficulties,
        }
    flt = cm_filter(cm)
    last_year = following.year_ago()
    ly = _one(last_year, flt, ("cases",))
    brand_ly = {
        r["brand"]: _f(r.get("cases"))
        for r in _rows(last_year, Filter(cm_ids=(cm.pk,), key_brands_only=True), ("brand",), ("cases",))
    }
    route_ly = _rows(last_year, flt, ("route",), ("cases",))
    out_brands = []
    for b in brands:
        brand_trend = _ratio(_f(b.get("cases")), _f(b.get("cases_ly"))) or trend
        out_brands.append({"brand": b["brand"], "target_cases": brand_ly.get(b["brand"], 0.0) * brand_trend})
    return {
        "title": title,
        "source": "suggestion",
        "plan": None,
        "target_cases": _f(ly.get("cases")) * trend,
        "cases_ly": _f(ly.get("cases")),
        "trend": trend,
        "brands": out_brands,
        "routes": [{"route": r["route_code"], "target_cases": _f(r.get("cases")) * trend} for r in route_ly],
        "measures": measures,
        "difficulties": difficulties,
    }


# --- the three kinds -----------------------------------------------------------------------------------------------
def _period_info(period: Period) -> dict[str, Any]:
    return {
        "kind": period.kind,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "title": period_title(period),
    }


def month_figures(cm: Staff, month: dt.date) -> dict[str, Any]:
    period = summary_period(SummaryKind.MONTH, month)
    names = _names(cm)
    sales = sales_figures(cm, period)
    retailers = retailer_figures(cm, period, names)
    skip = {r["id"] for r in retailers["stopped"]}
    brands = key_brand_figures(cm, period, names, skip)
    visits = visit_figures(cm, period, sales.get("served"), names)
    checks = check_figures(cm, period)
    feedback = feedback_figures(cm, period)
    problems = problems_from(retailers, brands, checks, feedback, visits, "本月")
    return {
        "kind": "month",
        "period": _period_info(period),
        "cm": _cm_info(cm),
        "sales": sales,
        "dept": dept_figures(cm, period, _f(sales.get("cases"))),
        "key_brands": brands,
        "market": {
            "served": sales.get("served"),
            "orderers": sales.get("orderers"),
            "ordering_rate": sales.get("ordering_rate"),
            "online_share": sales.get("online_share"),
            **retailers,
            "visits": visits,
            "checks": checks,
            "feedback": feedback["count"],
            "open_feedback": feedback["open"],
        },
        "problems": problems,
        "next_month": next_month_figures(cm, period, sales, brands, problems),
    }


def week_figures(cm: Staff, day: dt.date) -> dict[str, Any]:
    period = summary_period(SummaryKind.WEEK, day)
    names = _names(cm)
    sales = sales_figures(cm, period)
    visits = visit_figures(cm, period, sales.get("served"), names)
    checks = check_figures(cm, period)
    feedback = feedback_figures(cm, period)
    # this week against last week: who ordered last week and not this week (weekly order days)
    rows = _rows(period, cm_filter(cm), ("retailer",), ("cartons", "cases", "cases_ly", "cases_lm"))
    stopped = []
    for r in rows:
        if (r.get("cartons") or 0) <= 0 and _f(r.get("cases_lm")) > 0:
            who = _retailer(names, r)
            who.update(cases=0.0, cases_lm=_f(r.get("cases_lm")), since=f"{period.start:%m月%d日}")
            stopped.append(who)
    retailers = {"stopped": stopped, "falling": [], "spiking": []}
    feedback_week = dict(feedback)
    feedback_week["open"] = [f for f in feedback["open"] if f["since"] >= period.start.isoformat()]
    problems = problems_from(retailers, [], checks, feedback_week, visits, "本周")
    nxt_monday = period.start + dt.timedelta(days=7)
    arrangement = WeekArrangement.objects.filter(cm=cm, week_start=nxt_monday).first()
    days = []
    if arrangement is not None:
        counts: dict[dt.date, int] = {}
        for d in arrangement.planned_visits.values_list("date", flat=True):
            counts[d] = counts.get(d, 0) + 1
        days = [
            {"date": d.isoformat(), "weekday": f"周{WEEKDAYS[d.weekday()]}", "count": n}
            for d, n in sorted(counts.items())
        ]
    focus_ids: dict[Any, dict] = {}
    for r in visits["missed"] + stopped:
        focus_ids.setdefault(r["id"], r)
    for f in feedback["open"]:
        focus_ids.setdefault(f["retailer_id"], {"id": f["retailer_id"], "name": f["retailer"]})
    return {
        "kind": "week",
        "period": _period_info(period),
        "cm": _cm_info(cm),
        "sales": sales,
        "visits": visits,
        "checks": checks,
        "feedback": feedback["count"],
        "open_feedback": feedback["open"],
        "stopped": stopped,
        "problems": problems,
        "next_week": {
            "week_start": nxt_monday.isoformat(),
            "source": "arrangement" if arrangement is not None else "none",
            "days": days,
            "total": sum(d["count"] for d in days),
            "focus": list(focus_ids.values()),
            "measures": [m.rstrip("。") for m in measures_from(problems)],
        },
    }


def year_extra(cm: Staff, period: Period, served: int, buyers: int) -> dict[str, Any]:
    names = _names(cm)
    visits = visit_figures(cm, period, served, names)
    checks = check_figures(cm, period)
    feedback = feedback_figures(cm, period)
    return {
        "visits": {"done": visits["done"], "retailers": visits["retailers"]},
        "checks": checks,
        "feedback": feedback["count"],
        "feedback_resolved": feedback["resolved"],
        "open_feedback": feedback["open"],
        "non_buyers": max(0, served - buyers),
        "month_summaries": Summary.objects.filter(
            cm=cm, kind=SummaryKind.MONTH, period_start__range=(period.start, period.end), submitted_at__isnull=False
        ).count(),
    }


def year_figures(cm: Staff, year: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The annual summary (seed 000) of the CM's retailers: :func:`annual_summary` plus the year's work records."""
    period = Period.year(year)
    flt = cm_filter(cm)
    ensure_dims()
    s = annual_summary(engine(), year, flt)
    buyers = _one(period, flt, ("buyers",)).get("buyers") or 0
    extra = year_extra(cm, period, s.served, int(buyers))
    extra["problems"] = drafting.year_problems(s, extra)
    target = max(s.cases, s.cases * (1 + s.yoy)) if s.yoy is not None else s.cases
    extra["plan"] = drafting.year_plan(s, target)
    sections = drafting.draft_year(s, extra)
    figures = {
        "kind": "year",
        "period": _period_info(period),
        "cm": _cm_info(cm),
        **drafting.annual_figures(s),
        "work": {k: v for k, v in extra.items() if k not in ("plan",)},
        "next_year": {"target_cases": target},
    }
    return figures, sections


def draft(cm: Staff, kind: str, start: dt.date) -> tuple[dict[str, Any], dict[str, str]]:
    """The figures and the drafted sections of the CM's ``kind`` summary for the period starting at ``start``."""
    if kind == SummaryKind.MONTH:
        figures = month_figures(cm, start)
        return figures, drafting.draft_month(figures)
    if kind == SummaryKind.WEEK:
        figures = week_figures(cm, start)
        return figures, drafting.draft_week(figures)
    return year_figures(cm, start.year)


# --- figures shown as a table --------------------------------------------------------------------------------------
def figure_rows(summary: Summary) -> list[tuple[str, str]]:
    """The main numbers behind the text, as (label, value) rows for the detail page and the export."""
    f = summary.figures or {}
    rows: list[tuple[str, str]] = []
    if summary.kind == SummaryKind.YEAR:
        if "cases" not in f:
            return rows
        rows += [
            ("服务客户(户)", str(f["retailers"])),
            ("网上订货客户(户)", f"{f['online_retailers']}（{drafting.share(f['online_share'])}）"),
            ("销量(箱)", f"{f['cases']:.2f}"),
            ("同期销量(箱)", f"{f['cases_ly']:.2f}"),
            ("同比增减(箱)", f"{f['change']:+.2f}"),
            ("销量同比", _signed(f["yoy"])),
            ("省产烟(箱)", f"{f['provincial_cases']:.2f}（{_signed(f['provincial_yoy'])}）"),
            ("条均价(元)", _money(f["avg_price"])),
            ("同期条均价(元)", _money(f["avg_price_ly"])),
            ("条均价同比", _signed(f["avg_price_yoy"])),
        ]
        rows += [(f"{c['name']}烟(箱)", f"{c['cases']:.2f}（{_signed(c['yoy'])}）") for c in f.get("classes", [])]
        return rows
    s = f.get("sales")
    if not s:
        return rows
    rows += [
        ("销量(条)", str(s["cartons"])),
        ("销量(箱)", f"{_f(s['cases']):.2f}"),
        ("同期销量(箱)", f"{_f(s['cases_ly']):.2f}"),
        ("销量同比", _signed(s["cases_yoy"])),
        ("上期销量(箱)", f"{_f(s['cases_lm']):.2f}"),
        ("销量环比", _signed(s["cases_mom"])),
        ("销售额(元)", _money(s["amount"])),
        ("条均价(元)", _money(s["avg_price"])),
        ("条均价同比", _signed(s["avg_price_yoy"])),
        ("服务客户(户)", str(s["served"] or 0)),
        ("订货客户(户)", str(s["orderers"] or 0)),
        ("订货率", drafting.share(s["ordering_rate"])),
        ("网上订货占比", drafting.share(s["online_share"])),
    ]
    d = f.get("dept")
    if d:
        rows += [("部门排名", f"{d['rank']}/{d['count']}"), ("部门人均销量(箱)", f"{d['average_cases']:.2f}")]
    for b in f.get("key_brands", []):
        rows.append(
            (
                f"{b['brand']}(箱)",
                f"{_f(b['cases']):.2f}（同比{_signed(b['cases_yoy'])}，上柜率{drafting.share(b['listing_rate'])}）",
            )
        )
    v = f.get("visits") or (f.get("market") or {}).get("visits")
    if v:
        rows += [("拜访次数", str(v["done"])), ("计划拜访", f"{v['planned_done']}/{v['planned']}")]
        if v.get("coverage") is not None:
            rows.append(("拜访覆盖率", drafting.share(v["coverage"])))
    return rows


def _signed(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:+.2f}%"


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


# --- flags ---------------------------------------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Letters and digits only: spacing, punctuation and symbols do not make a copied text look new."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in ("L", "N"))


def sentences(text: str) -> list[str]:
    return [n for n in (normalise(p) for p in SENTENCE_END.split(text or "")) if n]


def summary_text(sections: dict[str, str], kind: str) -> str:
    return "\n".join(sections.get(key) or "" for key, _title in SECTIONS[kind])


def similarity(text: str, previous: str, drafted: str = "") -> float:
    """SequenceMatcher ratio of the normalised texts, leaving out the sentences cmdesk drafted for this period.

    The draft's sentences state this period's figures, so keeping them is not copying (and a draft whose data barely
    moved would otherwise look copied); text taken over from the previous period does not match this period's
    draft and stays in. Sentences of this period's draft are left out of both sides.
    """
    fresh = set(sentences(drafted))
    a = "".join(x for x in sentences(text) if x not in fresh)
    b = "".join(x for x in sentences(previous) if x not in fresh)
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def states_figures(text: str) -> bool:
    """Does the text state a number other than a date (2026年10月, 第42周, 10月12日 are not figures)?"""
    return any(ch.isdigit() for ch in DATE_WORDS.sub("", text))


def compute_flags(summary: Summary) -> tuple[list[dict[str, Any]], Decimal | None]:
    """What is wrong with the summary: missing sections, a sales part without figures, text like the previous one's."""
    flags: list[dict[str, Any]] = []
    sections = summary.sections or {}
    for key, title in SECTIONS[summary.kind]:
        text = (sections.get(key) or "").strip()
        if not text:
            flags.append({"code": "missing_section", "section": key, "title": title})
        elif key in FIGURE_SECTIONS and not states_figures(text):
            flags.append({"code": "no_figures", "section": key, "title": title})
    ratio = None
    previous = (
        Summary.objects.filter(
            cm_id=summary.cm_id, kind=summary.kind, period_start=previous_start(summary.kind, summary.period_start)
        )
        .exclude(pk=summary.pk)
        .first()
    )
    if previous is not None:
        drafted = (summary.figures or {}).get("drafted") or {}
        value = similarity(
            summary_text(sections, summary.kind),
            summary_text(previous.sections or {}, summary.kind),
            summary_text(drafted, summary.kind),
        )
        ratio = Decimal(f"{value:.3f}")
        limit = rules_for(summary.cm).similarity_limit
        if ratio >= limit:
            flags.append(
                {
                    "code": "similar",
                    "ratio": float(ratio),
                    "limit": float(limit),
                    "previous": previous.pk,
                    "previous_start": previous.period_start.isoformat(),
                }
            )
    return flags, ratio


def flag_message(flag: dict[str, Any]) -> str:
    code = flag.get("code")
    if code == "missing_section":
        return _("Section “%(title)s” is missing or empty.") % {"title": flag.get("title", flag.get("section"))}
    if code == "no_figures":
        return _("Section “%(title)s” states no figures.") % {"title": flag.get("title", flag.get("section"))}
    if code == "similar":
        return _("The text is %(ratio).0f%% the same as the previous period's summary (limit %(limit).0f%%).") % {
            "ratio": flag["ratio"] * 100,
            "limit": flag["limit"] * 100,
        }
    return str(code)


def _refresh_flags(summary: Summary) -> None:
    summary.flags, summary.similarity = compute_flags(summary)


# --- access --------------------------------------------------------------------------------------------------------
def _cm_for(user: Any, cm: Staff) -> None:
    """The user may write ``cm``'s summaries: the add permission and the CM inside the user's scope."""
    if not has_model_perm(user, Summary, "add"):
        raise PermissionDenied(_("You may not write summaries."))
    if not Staff.objects.restrict(user, "view").filter(pk=cm.pk).exists():
        raise OutOfScope(cm.pk)
    if cm.role != Role.CM:
        raise ValidationError(
            {"cm": _("Summaries are written by customer managers; %(name)s is not one.") % {"name": cm.name}}
        )


def _changeable(user: Any, summary: Summary) -> None:
    if not Summary.objects.restrict(user, "change").filter(pk=summary.pk).exists():
        raise OutOfScope(summary.pk)


def visible_summary(user: Any, pk: int, action: str = "view") -> Summary:
    """Fetch and authorise in one call: missing and out of scope look the same (OutOfScope)."""
    summary = Summary.objects.restrict(user, action).select_related("cm").filter(pk=pk).first()
    if summary is None:
        raise OutOfScope(pk)
    return summary


# --- workflow ------------------------------------------------------------------------------------------------------
def summary_draft(cm: Staff, kind: str, period_start: dt.date, user: Any, *, overwrite: bool = False) -> Summary:
    """Draft the CM's ``kind`` summary of the period containing ``period_start``, or re-draft it.

    Re-drafting refreshes the figures and the sections the CM has not edited; edited sections are kept unless
    ``overwrite``. Only a draft can be re-drafted (a submitted summary is the CM's signed text).
    """
    if kind not in SummaryKind.values:
        raise ValidationError({"kind": _("Choose week, month or year.")})
    if not isinstance(period_start, dt.date):
        raise ValidationError({"period_start": _("Give the period's start as a date.")})
    _cm_for(user, cm)
    period = summary_period(kind, period_start)
    figures, drafted = draft(cm, kind, period.start)
    titles = drafting.section_titles(kind)
    with transaction.atomic(), acting_as(user):
        summary = Summary.objects.select_for_update().filter(cm=cm, kind=kind, period_start=period.start).first()
        if summary is None:
            summary = Summary(cm=cm, kind=kind, period_start=period.start, period_end=period.end)
            sections = dict(drafted)
        else:
            _changeable(user, summary)
            if summary.status != SummaryStatus.DRAFT:
                raise ValidationError(_("Only a draft can be re-drafted; this summary has been submitted."))
            before = (summary.figures or {}).get("drafted") or {}
            current = summary.sections or {}
            sections = {}
            for key in titles:
                edited = (current.get(key) or "") != (before.get(key) or "") and (current.get(key) or "").strip()
                sections[key] = current[key] if (edited and not overwrite) else drafted[key]
        summary.period_end = period.end
        summary.title = f"{cm.name}{period_title(period)}{drafting.KIND_NAMES[kind]}"
        summary.sections = sections
        summary.figures = {**figures, "drafted": drafted}
        summary.due = summary_due(kind, period.start, period.end, rules_for(cm))
        summary.drafted_at = timezone.now()
        _refresh_flags(summary)
        summary.full_clean(exclude=["figures", "flags", "sections"])
        summary.save()
    return summary


def summary_update(summary: Summary, user: Any, sections: dict[str, Any]) -> Summary:
    """The CM's edit of some sections (keys of the kind's sections; text)."""
    _changeable(user, summary)
    if summary.status != SummaryStatus.DRAFT:
        raise ValidationError(_("A submitted summary cannot be edited."))
    if not isinstance(sections, dict):
        raise ValidationError({"sections": _("Give the sections as {key: text}.")})
    titles = drafting.section_titles(summary.kind)
    unknown = sorted(set(sections) - set(titles))
    if unknown:
        raise ValidationError(
            {
                "sections": _("Unknown section(s) %(keys)s; a %(kind)s has %(known)s.")
                % {"keys": ", ".join(unknown), "kind": summary.get_kind_display(), "known": ", ".join(titles)}
            }
        )
    bad = sorted(k for k, v in sections.items() if not isinstance(v, str))
    if bad:
        raise ValidationError({"sections": _("Section(s) %(keys)s must be text.") % {"keys": ", ".join(bad)}})
    with transaction.atomic(), acting_as(user):
        summary = Summary.objects.select_for_update().get(pk=summary.pk)
        summary.sections = {**(summary.sections or {}), **{k: v.strip() for k, v in sections.items()}}
        _refresh_flags(summary)
        summary.save(update_fields=["sections", "flags", "similarity", "updated_at"])
    return summary


def summary_submit(summary: Summary, user: Any) -> Summary:
    """Hand the summary in (late when after its due time). Flags do not block: the head sees them."""
    _changeable(user, summary)
    with transaction.atomic(), acting_as(user):
        summary = Summary.objects.select_for_update().get(pk=summary.pk)
        if summary.status != SummaryStatus.DRAFT:
            raise ValidationError(_("This summary has already been submitted."))
        summary.status = SummaryStatus.SUBMITTED
        summary.submitted_at = timezone.now()
        _refresh_flags(summary)
        summary.save(update_fields=["status", "submitted_at", "flags", "similarity", "updated_at"])
    return summary


def summary_comment(summary: Summary, user: Any, comment: str) -> Summary:
    """The head's comment on a submitted summary (needs work.comment_summary and the summary in scope)."""
    if not Summary.objects.restrict(user, "view").filter(pk=summary.pk).exists():
        raise OutOfScope(summary.pk)
    if not user.has_perm("work.comment_summary"):
        raise PermissionDenied(_("You may not comment on summaries."))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Write a comment.")})
    with transaction.atomic(), acting_as(user):
        summary = Summary.objects.select_for_update().get(pk=summary.pk)
        if summary.status == SummaryStatus.DRAFT:
            raise ValidationError(_("The summary has not been submitted yet."))
        summary.head_comment = comment
        summary.commented_by = user
        summary.commented_at = timezone.now()
        summary.status = SummaryStatus.COMMENTED
        summary.save(update_fields=["head_comment", "commented_by", "commented_at", "status", "updated_at"])
    return summary


def summaries_due_list(cm: Staff, today: dt.date | None = None) -> list[tuple[str, dt.date, str]]:
    """The periods a CM is asked to summarise now: this week, last month, last year (kind, start, label)."""
    today = today or timezone.localdate()
    week = summary_period(SummaryKind.WEEK, today)
    last_month = previous_month(today.replace(day=1))
    return [
        (SummaryKind.WEEK, week.start, period_title(week)),
        (SummaryKind.MONTH, last_month, period_title(Period.month(last_month.year, last_month.month))),
        (SummaryKind.YEAR, dt.date(today.year - 1, 1, 1), f"{today.year - 1}年"),
    ]


__all__ = [
    "compute_flags",
    "draft",
    "figure_rows",
    "flag_message",
    "month_figures",
    "summary_comment",
    "summary_draft",
    "summary_submit",
    "summary_update",
    "visible_summary",
    "week_figures",
    "year_figures",
]
