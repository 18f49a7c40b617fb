"""The head's board (看板): one row per customer manager for a month, and the CM's open items.

Reads only. Everything goes through the user's scope: the CMs are the active staff with role CM inside
``user_scope(user)``; their records come from ``restrict(user)``. The board runs a fixed number of queries whatever the
number of CMs (one per record type, aggregated with ``values().annotate()``) plus one KPI query for the actual cases.

States of one item (a monthly plan, a week's arrangement, a summary):

* ``not_due`` — nothing submitted yet, and the deadline has not passed as of ``today``;
* ``missing`` — nothing submitted (no record, or only a draft) and the deadline has passed;
* ``draft`` — a monthly plan still in draft (``overdue`` says whether its deadline has passed);
* ``on_time`` / ``late`` — submitted before / after the deadline;
* ``returned`` / ``approved`` — a monthly plan the head sent back / approved (``late`` still says how it was sent).

A weekly arrangement or summary belongs to the month its Monday falls in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import OrgUnit, Staff
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer
from cmdesk.work.models import (
    ArrangementStatus,
    Feedback,
    FeedbackStatus,
    MonthlyPlan,
    PlannedVisit,
    PlanStatus,
    Summary,
    SummaryKind,
    SummaryStatus,
    Visit,
    VisitStatus,
    WeekArrangement,
    WorkRules,
)
from cmdesk.work.rules import (
    arrangement_due,
    month_end,
    month_start,
    next_month,
    plan_due,
    previous_month,
    summary_due,
    week_start,
)

NOT_DUE, MISSING, DRAFT, ON_TIME, LATE, RETURNED, APPROVED = (
    "not_due",
    "missing",
    "draft",
    "on_time",
    "late",
    "returned",
    "approved",
)
STATE_LABELS = {
    NOT_DUE: _("Not due yet"),
    MISSING: _("Missing"),
    DRAFT: _("Draft"),
    ON_TIME: _("On time"),
    LATE: _("Late"),
    RETURNED: _("Returned"),
    APPROVED: _("Approved"),
}
ITEM_LABELS = {
    "plan": _("Monthly plan"),
    "arrangement": _("Weekly arrangement"),
    "week_summary": _("Weekly summary"),
    "month_summary": _("Monthly summary"),
    "feedback": _("Retailer feedback"),
}
# Bootstrap colours of the state badges
STATE_COLOURS = {
    NOT_DUE: "secondary",
    MISSING: "danger",
    DRAFT: "warning",
    ON_TIME: "success",
    LATE: "warning",
    RETURNED: "danger",
    APPROVED: "success",
}
DONE_SUMMARY = (SummaryStatus.SUBMITTED, SummaryStatus.COMMENTED)
DONE_PLAN = (PlanStatus.SUBMITTED, PlanStatus.APPROVED)


# ---- month helpers ------------------------------------------------------------------------------------------------


def parse_month(value: str | dt.date | None, default: dt.date | None = None) -> dt.date:
    """``"2026-11"`` (or a date) → the first day of the month. ValueError for anything else."""
    if value is None or value == "":
        return month_start(default or timezone.localdate())
    if isinstance(value, dt.date):
        return month_start(value)
    text = str(value).strip()
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(_("Enter a month as YYYY-MM, e.g. 2026-11.")) from None


def month_label(month: dt.date) -> str:
    return f"{month:%Y-%m}"


def month_mondays(month: dt.date) -> list[dt.date]:
    """The Mondays that fall inside the month: the weeks the month owns."""
    day = month + dt.timedelta(days=(7 - month.weekday()) % 7)
    out = []
    while day <= month_end(month):
        out.append(day)
        day += dt.timedelta(days=7)
    return out


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of ``first``, start of the day after ``last``) as aware datetimes in the site's time zone."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
    return start, end


def passed(due: dt.datetime, today: dt.date) -> bool:
    """Has the deadline passed as of ``today``? (A deadline is the end of its due day.)"""
    return today > timezone.localtime(due).date()


# ---- rules without a query per CM ----------------------------------------------------------------------------------


class RulesCache:
    """All WorkRules rows read once; ``for_cm`` resolves a CM's rules like cmdesk.work.rules.rules_for."""

    def __init__(self) -> None:
        rows = list(WorkRules.objects.select_related("org_unit").order_by("id"))
        self.by_path = {r.org_unit.path: r for r in rows if r.org_unit_id}
        self.default = next((r for r in rows if not r.org_unit_id), None) or WorkRules()

    def for_unit(self, unit: OrgUnit | None) -> WorkRules:
        if unit is not None:
            for i in range(len(unit.path), 0, -OrgUnit.steplen):
                found = self.by_path.get(unit.path[:i])
                if found is not None:
                    return found
        return self.default

    def for_cm(self, cm: Staff) -> WorkRules:
        return self.for_unit(cm.org_unit)


# ---- links ----------------------------------------------------------------------------------------------------------


def link(name: str, *args: Any, query: dict | None = None) -> str:
    """``reverse(name, args)`` with ``query`` as its query string."""
    url = reverse(name, args=args)
    return f"{url}?{urlencode(query)}" if query else url


def item_url(kind: str, *, cm: Staff, period: dt.date, pk: int | None = None) -> str:
    """Where an item of ``kind`` (plan, arrangement, week_summary, month_summary, visits, actual) is shown."""
    if kind == "plan":
        return (
            link("work:plan_detail", pk)
            if pk
            else link("work:plan_list", query={"cm": cm.pk, "month": month_label(period)})
        )
    if kind == "arrangement":
        return link("work:week", query={"cm": cm.pk, "week": period.isoformat()})
    if kind in ("week_summary", "month_summary"):
        return (
            link("work:summary_detail", pk)
            if pk
            else link("work:summary_list", query={"cm": cm.pk, "kind": kind.split("_")[0]})
        )
    if kind == "visits":
        return link("work:visit_list", query={"cm": cm.pk, "month": month_label(period)})
    if kind == "actual":
        return link("kpi:dashboard", query={"scope": cm.employee_no, "period": month_label(period)})
    return ""


# ---- rows ---------------------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One plan, arrangement or summary and its state (see the module docstring)."""

    kind: str
    period: dt.date
    state: str
    due: dt.datetime
    pk: int | None = None
    submitted_at: dt.datetime | None = None
    late: bool = False
    overdue: bool = False
    flags: list = field(default_factory=list)
    url: str = ""

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def flag_codes(self) -> list[str]:
        """The flags' codes (Summary.flags holds dicts like {"code": "similar", ...})."""
        return [str(f.get("code", "")) if isinstance(f, dict) else str(f) for f in self.flags]

    @property
    def colour(self) -> str:
        if self.flags and self.state in (ON_TIME, LATE, APPROVED):
            return "info"
        return STATE_COLOURS[self.state]

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["period"] = self.period.isoformat()
        d["due"] = self.due.isoformat()
        d["submitted_at"] = self.submitted_at.isoformat() if self.submitted_at else None
        return d


@dataclass
class Tally:
    """States of a set of items (a month's weekly arrangements or summaries)."""

    items: list[Item] = field(default_factory=list)

    def count(self, *states: str) -> int:
        return sum(1 for i in self.items if i.state in states)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def on_time(self) -> int:
        return self.count(ON_TIME)

    @property
    def late(self) -> int:
        return self.count(LATE)

    @property
    def missing(self) -> int:
        return self.count(MISSING)

    @property
    def pending(self) -> int:
        return self.count(NOT_DUE, DRAFT)

    @property
    def flagged(self) -> int:
        return sum(1 for i in self.items if i.flags)

    @property
    def colour(self) -> str:
        if self.missing:
            return "danger"
        if self.late or self.flagged:
            return "warning"
        return "success" if self.on_time else "secondary"

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "on_time": self.on_time,
            "late": self.late,
            "missing": self.missing,
            "pending": self.pending,
            "flagged": self.flagged,
            "items": [i.as_dict() for i in self.items],
        }


@dataclass
class BoardRow:
    cm: Staff
    plan: Item
    arrangements: Tally
    week_summaries: Tally
    month_summary: Item
    planned: int = 0
    planned_done: int = 0
    done: int = 0
    retailers: int = 0
    visited: int = 0
    far: int = 0
    short: int = 0
    target_cases: Decimal | None = None
    actual_cases: float | None = None
    visits_url: str = ""
    actual_url: str = ""

    @property
    def coverage(self) -> float | None:
        return self.visited / self.retailers if self.retailers else None

    @property
    def visit_rate(self) -> float | None:
        return self.planned_done / self.planned if self.planned else None

    @property
    def achievement(self) -> float | None:
        if not self.target_cases or self.actual_cases is None:
            return None
        return float(self.actual_cases) / float(self.target_cases)

    @property
    def problems(self) -> int:
        """How much needs the head's attention: the board's default order puts the worst first."""
        return (
            (2 if self.plan.state in (MISSING, RETURNED) or self.plan.overdue else 0)
            + self.arrangements.missing
            + self.week_summaries.missing
            + (1 if self.month_summary.state == MISSING else 0)
            + self.week_summaries.flagged
            + len(self.month_summary.flags)
            + (1 if self.far else 0)
            + (1 if self.short else 0)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cm": {
                "id": self.cm.pk,
                "employee_no": self.cm.employee_no,
                "name": self.cm.name,
                "org_unit": self.cm.org_unit.name,
            },
            "plan": self.plan.as_dict(),
            "arrangements": self.arrangements.as_dict(),
            "week_summaries": self.week_summaries.as_dict(),
            "month_summary": self.month_summary.as_dict(),
            "visits": {
                "planned": self.planned,
                "planned_done": self.planned_done,
                "done": self.done,
                "far": self.far,
                "short": self.short,
            },
            "coverage": {"retailers": self.retailers, "visited": self.visited, "rate": self.coverage},
            "volume": {
                "target_cases": None if self.target_cases is None else str(self.target_cases),
                "actual_cases": self.actual_cases,
                "achievement": self.achievement,
            },
            "problems": self.problems,
        }


@dataclass
class Board:
    month: dt.date
    today: dt.date
    rows: list[BoardRow]

    @property
    def label(self) -> str:
        return month_label(self.month)


def plan_item(plan: MonthlyPlan | None, *, cm: Staff, month: dt.date, due: dt.datetime, today: dt.date) -> Item:
    """The state of ``cm``'s plan for ``month`` (``plan`` None when there is none)."""
    if plan is None:
        state = MISSING if passed(due, today) else NOT_DUE
        return Item("plan", month, state, due, overdue=state == MISSING, url=item_url("plan", cm=cm, period=month))
    due = plan.due or due
    late = plan.submitted_at is not None and plan.submitted_at > due
    if plan.status == PlanStatus.APPROVED:
        state = APPROVED
    elif plan.status == PlanStatus.RETURNED:
        state = RETURNED
    elif plan.status == PlanStatus.SUBMITTED:
        state = LATE if late else ON_TIME
    else:
        state = DRAFT
    return Item(
        "plan",
        month,
        state,
        due,
        pk=plan.pk,
        submitted_at=plan.submitted_at,
        late=late,
        overdue=state in (DRAFT, RETURNED) and passed(due, today),
        url=item_url("plan", cm=cm, period=month, pk=plan.pk),
    )


def submitted_item(
    kind: str,
    record: Any | None,
    *,
    cm: Staff,
    period: dt.date,
    due: dt.datetime,
    today: dt.date,
    done: bool,
) -> Item:
    """An arrangement or summary: submitted (``done``) on time or late, else missing once the deadline passed."""
    if record is not None and record.due:
        due = record.due
    pk = record.pk if record is not None else None
    url = item_url(kind, cm=cm, period=period, pk=pk)
    flags = list(getattr(record, "flags", None) or [])
    if record is not None and done:
        late = record.submitted_at is not None and record.submitted_at > due
        return Item(
            kind, period, LATE if late else ON_TIME, due, pk, record.submitted_at, late=late, flags=flags, url=url
        )
    overdue = passed(due, today)
    return Item(kind, period, MISSING if overdue else NOT_DUE, due, pk, None, overdue=overdue, flags=flags, url=url)


def scoped_cms(user: Any) -> list[Staff]:
    """Active CMs inside the user's scope (the user must hold ``work.view_monthlyplan``: PermissionDenied otherwise)."""
    if not has_model_perm(user, MonthlyPlan, "view"):
        raise PermissionDenied(_("You may not see the work board."))
    return list(
        Staff.objects.in_scope(user_scope(user))
        .filter(role=Role.CM, active=True)
        .select_related("org_unit")
        .order_by("org_unit__path", "employee_no")
    )


def actual_cases(user: Any, month: dt.date) -> dict[int, float]:
    """Cases bought by each CM's retailers in the month, from the KPI engine (empty when there is no order data)."""
    from cmdesk.analytics.engines.base import EngineError
    from cmdesk.analytics.periods import Period
    from cmdesk.kpi.selectors import kpi

    try:
        result = kpi(user, Period.parse(month_label(month)), by=["cm"], indicators=["cases"])
    except (EngineError, FileNotFoundError, OSError):
        return {}
    return {r["cm_id"]: float(r["cases"] or 0) for r in result.rows if r.get("cm_id") is not None}


def board(user: Any, month: str | dt.date | None = None, *, today: dt.date | None = None) -> Board:
    """The board of ``month`` (default: this month) for every active CM in the user's scope."""
    today = today or timezone.localdate()
    month = parse_month(month, today)
    cms = scoped_cms(user)
    if not cms:
        return Board(month, today, [])
    ids = [c.pk for c in cms]
    rules = RulesCache()
    mondays = month_mondays(month)
    first, last = month, month_end(month)
    start, end = day_bounds(first, last)

    plans = {p.cm_id: p for p in MonthlyPlan.objects.restrict(user).filter(cm_id__in=ids, month=month)}
    arrangements = {
        (a.cm_id, a.week_start): a
        for a in WeekArrangement.objects.restrict(user).filter(cm_id__in=ids, week_start__in=mondays)
    }
    summaries = {
        (s.cm_id, s.kind, s.period_start): s
        for s in Summary.objects.restrict(user)
        .filter(cm_id__in=ids)
        .filter(Q(kind=SummaryKind.WEEK, period_start__in=mondays) | Q(kind=SummaryKind.MONTH, period_start=month))
        .only("id", "cm_id", "kind", "period_start", "status", "flags", "due", "submitted_at")
    }
    planned = {
        r["cm_id"]: r
        for r in PlannedVisit.objects.restrict(user)
        .filter(cm_id__in=ids, date__range=(first, last))
        .values("cm_id")
        .annotate(n=Count("id"), done=Count("id", filter=Q(visit__status=VisitStatus.DONE)))
    }
    visit_counts: dict[int, list[dict]] = defaultdict(list)
    for r in (
        Visit.objects.restrict(user)
        .filter(cm_id__in=ids, status=VisitStatus.DONE, checkin_at__gte=start, checkin_at__lt=end)
        .values("cm_id", "far", "duration_minutes")
        .annotate(n=Count("id"))
    ):
        visit_counts[r["cm_id"]].append(r)
    coverage = {
        r["route__cm_id"]: r
        for r in Retailer.objects.filter(route__cm_id__in=ids, status=RetailerStatus.NORMAL)
        .values("route__cm_id")
        .annotate(
            total=Count("id", distinct=True),
            visited=Count(
                "id",
                distinct=True,
                filter=Q(
                    visits__status=VisitStatus.DONE,
                    visits__checkin_at__gte=start,
                    visits__checkin_at__lt=end,
                ),
            ),
        )
    }
    actual = actual_cases(user, month)

    rows = []
    for cm in cms:
        r = rules.for_cm(cm)
        plan = plans.get(cm.pk)
        row = BoardRow(
            cm=cm,
            plan=plan_item(plan, cm=cm, month=month, due=plan_due(month, r), today=today),
            arrangements=Tally(
                [
                    submitted_item(
                        "arrangement",
                        a := arrangements.get((cm.pk, monday)),
                        cm=cm,
                        period=monday,
                        due=arrangement_due(monday, r),
                        today=today,
                        done=a is not None and a.status == ArrangementStatus.SUBMITTED,
                    )
                    for monday in mondays
                ]
            ),
            week_summaries=Tally(
                [
                    submitted_item(
                        "week_summary",
                        s := summaries.get((cm.pk, SummaryKind.WEEK, monday)),
                        cm=cm,
                        period=monday,
                        due=summary_due(SummaryKind.WEEK, monday, monday + dt.timedelta(days=6), r),
                        today=today,
                        done=s is not None and s.status in DONE_SUMMARY,
                    )
                    for monday in mondays
                ]
            ),
            month_summary=submitted_item(
                "month_summary",
                s := summaries.get((cm.pk, SummaryKind.MONTH, month)),
                cm=cm,
                period=month,
                due=summary_due(SummaryKind.MONTH, month, last, r),
                today=today,
                done=s is not None and s.status in DONE_SUMMARY,
            ),
            planned=planned.get(cm.pk, {}).get("n", 0),
            planned_done=planned.get(cm.pk, {}).get("done", 0),
            retailers=coverage.get(cm.pk, {}).get("total", 0),
            visited=coverage.get(cm.pk, {}).get("visited", 0),
            target_cases=plan.volume_target if plan is not None else None,
            actual_cases=actual.get(cm.pk, 0.0 if actual else None),
            visits_url=item_url("visits", cm=cm, period=month),
            actual_url=item_url("actual", cm=cm, period=month),
        )
        for v in visit_counts.get(cm.pk, []):
            row.done += v["n"]
            row.far += v["n"] if v["far"] else 0
            if v["duration_minutes"] is not None and v["duration_minutes"] < r.min_visit_minutes:
                row.short += v["n"]
        rows.append(row)
    return Board(month, today, rows)


SORTS = {  # ascending; "-key" sorts descending. Ties keep the org-unit order.
    "problems": lambda r: r.problems,
    "name": lambda r: r.cm.name,
    "unit": lambda r: (r.cm.org_unit.path, r.cm.employee_no),
    "plan": lambda r: list(STATE_LABELS).index(r.plan.state),
    "arrangements": lambda r: (r.arrangements.missing, r.arrangements.late),
    "summaries": lambda r: (
        r.week_summaries.missing + (r.month_summary.state == MISSING),
        r.week_summaries.flagged + bool(r.month_summary.flags),
    ),
    "visits": lambda r: r.visit_rate if r.visit_rate is not None else -1,
    "coverage": lambda r: r.coverage if r.coverage is not None else -1,
    "achievement": lambda r: r.achievement if r.achievement is not None else -1,
    "far": lambda r: r.far,
    "short": lambda r: r.short,
}


def sort_rows(rows: list[BoardRow], key: str | None) -> tuple[list[BoardRow], str]:
    """Rows in the order ``key`` names (a leading "-" reverses it); unknown keys fall back to the unit order."""
    key = key or "unit"
    descending = key.startswith("-")
    name = key.lstrip("-")
    if name not in SORTS:
        name, descending = "unit", False
    ordered = sorted(rows, key=SORTS["unit"])
    ordered.sort(key=SORTS[name], reverse=descending)  # stable: ties stay in unit order
    return ordered, ("-" if descending else "") + name


# ---- open items of CMs (the work home and the reminders) ------------------------------------------------------------


@dataclass
class OpenItem:
    """Something a CM still owes as of a day: not submitted (or returned), due soon or overdue."""

    cm: Staff
    kind: str  # plan | arrangement | week_summary | month_summary | feedback
    period: dt.date
    due: dt.datetime | dt.date
    overdue: bool
    pk: int | None = None
    state: str = ""
    text: str = ""  # feedback: its text
    url: str = ""

    @property
    def due_date(self) -> dt.date:
        return timezone.localtime(self.due).date() if isinstance(self.due, dt.datetime) else self.due

    @property
    def label(self) -> str:
        return str(ITEM_LABELS[self.kind])

    @property
    def key(self) -> str:
        """One reminder per item: e.g. ``plan:12:2026-11``, ``arrangement:12:2026-11-16``, ``feedback:7``."""
        if self.kind == "feedback":
            return f"feedback:{self.pk}"
        period = month_label(self.period) if self.kind in ("plan", "month_summary") else self.period.isoformat()
        return f"{self.kind}:{self.cm.pk}:{period}"


def open_items(cms: list[Staff], today: dt.date, *, rules: RulesCache | None = None) -> list[OpenItem]:
    """What each CM still owes around ``today`` (five queries for any number of CMs):

    * this month's and next month's plan (next month's once its deadline is ten days away or less);
    * this week's and next week's arrangement;
    * the last two weeks' summaries and last month's summary;
    * open feedback whose due day is today or earlier.
    """
    if not cms:
        return []
    rules = rules or RulesCache()
    ids = [c.pk for c in cms]
    this_month = month_start(today)
    months = [this_month, next_month(this_month)]
    monday = week_start(today)
    arrangement_weeks = [monday, monday + dt.timedelta(days=7)]
    summary_weeks = [monday - dt.timedelta(days=14), monday - dt.timedelta(days=7)]
    last_month = previous_month(this_month)

    plans = {(p.cm_id, p.month): p for p in MonthlyPlan.objects.filter(cm_id__in=ids, month__in=months)}
    arrangements = {
        (a.cm_id, a.week_start): a
        for a in WeekArrangement.objects.filter(cm_id__in=ids, week_start__in=arrangement_weeks)
    }
    summaries = {
        (s.cm_id, s.kind, s.period_start): s
        for s in Summary.objects.filter(cm_id__in=ids)
        .filter(
            Q(kind=SummaryKind.WEEK, period_start__in=summary_weeks)
            | Q(kind=SummaryKind.MONTH, period_start=last_month)
        )
        .only("id", "cm_id", "kind", "period_start", "status", "due", "submitted_at")
    }
    feedback = defaultdict(list)
    for f in Feedback.objects.filter(cm_id__in=ids, status=FeedbackStatus.OPEN, due__lte=today).order_by("due", "id"):
        feedback[f.cm_id].append(f)

    out: list[OpenItem] = []
    for cm in cms:
        r = rules.for_cm(cm)
        for month in months:
            due = plan_due(month, r)
            plan = plans.get((cm.pk, month))
            if plan is not None and plan.status in DONE_PLAN:
                continue
            if month != this_month and (timezone.localtime(due).date() - today).days > 10:
                continue
            due = plan.due if plan is not None and plan.due else due
            state = plan.status if plan is not None else MISSING
            out.append(
                OpenItem(
                    cm,
                    "plan",
                    month,
                    due,
                    passed(due, today),
                    plan.pk if plan else None,
                    state,
                    url=item_url("plan", cm=cm, period=month, pk=plan.pk if plan else None),
                )
            )
        for week in arrangement_weeks:
            a = arrangements.get((cm.pk, week))
            if a is not None and a.status == ArrangementStatus.SUBMITTED:
                continue
            due = a.due if a is not None and a.due else arrangement_due(week, r)
            out.append(
                OpenItem(
                    cm,
                    "arrangement",
                    week,
                    due,
                    passed(due, today),
                    a.pk if a else None,
                    a.status if a else MISSING,
                    url=item_url("arrangement", cm=cm, period=week, pk=a.pk if a else None),
                )
            )
        periods = [(SummaryKind.WEEK, w, w + dt.timedelta(days=6)) for w in summary_weeks]
        periods.append((SummaryKind.MONTH, last_month, month_end(last_month)))
        for kind, first, last in periods:
            s = summaries.get((cm.pk, kind, first))
            if s is not None and s.status in DONE_SUMMARY:
                continue
            due = s.due if s is not None and s.due else summary_due(kind, first, last, r)
            name = f"{kind}_summary"
            out.append(
                OpenItem(
                    cm,
                    name,
                    first,
                    due,
                    passed(due, today),
                    s.pk if s else None,
                    s.status if s else MISSING,
                    url=item_url(name, cm=cm, period=first, pk=s.pk if s else None),
                )
            )
        for f in feedback.get(cm.pk, []):
            out.append(
                OpenItem(
                    cm,
                    "feedback",
                    f.due,
                    f.due,
                    f.due < today,
                    f.pk,
                    f.status,
                    text=f.text,
                    url=link("work:visit_detail", f.visit_id) if f.visit_id else "",  # needs are shown on their visit
                )
            )
    return out
