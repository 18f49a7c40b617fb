"""周安排: the week's arrangement — which of the CM's retailers to visit on which day — and the month's coverage.

``arrange_week(cm, monday, user)`` creates the CM's :class:`WeekArrangement` for the week starting on ``monday`` (or
regenerates its not-yet-visited part) from the retailers on the CM's active routes (not closed, not cancelled). The
rules, applied separately to each month the week touches:

1. **How often.** Every retailer needs at least one visit a month; ``rules.visits_for_tier(tier)`` visits by tier, or
   ``rules.visits_for_class(code)`` where ``class_visit_frequency`` names the retailer's 4+X class (longest code); a
   focus retailer of the month's plan (a selected :class:`PlanFocusRetailer` on the CM's :class:`MonthlyPlan` for that
   month) needs ``rules.focus_visits_per_month`` (or its tier's number if higher), reason "focus".
2. **What is still needed.** Visits already made this month (any non-cancelled visit by the CM) and visits planned for
   the rest of the month in other weeks (or kept in this one) are subtracted. What remains is spread evenly over the
   month's remaining days that no other arrangement covers yet, so the month is covered whatever week is arranged
   next; only the picks that fall in this week become planned visits. Each retailer is shifted by its place on the
   routes, so the once-a-month retailers are spread over the month's weeks instead of piling on one day.
3. **Which days.** Only working days (``rules.workdays``) from ``today`` on: past days and visited rows are kept as
   they are, and so are the retailers the CM added by hand (reason "manual"); everything else not yet visited is
   planned anew.
4. **Order days.** A route with order days (``Route.order_weekdays``, 0 = Monday) is visited on its *guide day*: the
   last working day before an order day (Tuesday's orders → Monday; Monday's orders → Saturday when Sunday is off), so
   the CM can guide the coming order. Only when a month has fewer guide days left than the visits needed are other
   working days used, and a route's own order day is used last of all. A route without order days may be visited on
   any working day.
5. **Capacity.** At most ``rules.visits_per_day`` a day. When a day is full, a visit goes to the nearest day of the
   week with room, avoiding the route's order day, earlier on a tie; focus retailers are placed first. A visit that
   fits nowhere this week stays needed and is planned in a later week of the month; when the month's days left could
   not hold what remains, visits are pulled forward into this week instead (the soonest-due first).
6. **Route order.** Within a day, visits follow the routes' order (route code, ``Retailer.visit_order``): ``seq``.

The result depends only on the data and ``today`` (deterministic). The arrangement is due at
``rules.arrangement_due(monday)``; ``submit_arrangement`` records when it was submitted (late after that).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import in_scope
from cmdesk.org.models import Staff
from cmdesk.retail.choices import RetailerStatus
from cmdesk.retail.models import Retailer

from ..models import (
    ArrangementStatus,
    PlanFocusRetailer,
    PlannedVisit,
    Visit,
    VisitReason,
    VisitStatus,
    WeekArrangement,
)
from ..rules import arrangement_due, month_end, month_start, rules_for
from .visits import check_retailer_on_routes

DAY = datetime.timedelta(days=1)
CLOSED_STATUSES = (RetailerStatus.CLOSED, RetailerStatus.CANCELLED)


def route_key(retailer: Retailer) -> tuple:
    """The order a CM walks its routes in: route code, the retailer's place on the route, then id."""
    return (retailer.route.code, retailer.visit_order, retailer.pk)


def active_retailers(cm: Staff, on: datetime.date | None = None) -> QuerySet:
    """Retailers on the CM's active routes that are still in business (not closed, not cancelled), in route order."""
    qs = (
        Retailer.objects.filter(route__cm=cm, route__active=True)
        .exclude(status__in=CLOSED_STATUSES)
        .select_related("route")
        .order_by("route__code", "visit_order", "id")
    )
    if on is not None:
        qs = qs.exclude(closed_on__isnull=False, closed_on__lte=on)
    return qs


def guide_weekdays(order_weekdays: list[int], workdays: set[int]) -> set[int] | None:
    """The working weekday before each order day (None: the route has no order days, any working day will do)."""
    if not order_weekdays:
        return None
    guides = set()
    for order_day in order_weekdays:
        for back in range(1, 8):
            weekday = (order_day - back) % 7
            if weekday in workdays:
                guides.add(weekday)
                break
    return guides


def _evenly(pool: list[datetime.date], k: int, shift: float) -> list[datetime.date]:
    """k of the pool's days, evenly spaced, all moved by ``shift`` (0 ≤ shift < 1) of a spacing."""
    n = len(pool)
    return [pool[int((j + shift) * n / k)] for j in range(k)]


def spread(
    days: list[datetime.date], k: int, guides: set[int] | None, order_days: set[int], shift: float
) -> list[datetime.date]:
    """Pick k of the month's remaining ``days`` for one retailer: guide days first, order days last."""
    if guides is None:
        pools = [days]
    else:
        pools = [
            [d for d in days if d.weekday() in guides],
            [d for d in days if d.weekday() not in guides and d.weekday() not in order_days],
            [d for d in days if d.weekday() not in guides and d.weekday() in order_days],
        ]
    picks: list[datetime.date] = []
    for pool in pools:
        if k <= 0:
            break
        if len(pool) <= k:
            picks += pool
            k -= len(pool)
        else:
            picks += _evenly(pool, k, shift)
            k = 0
    return sorted(picks)


def _check_change(user: Any, obj: Any) -> None:
    if user is not None and not in_scope(user, obj, "change"):
        raise OutOfScope


def _visited_ids(planned: list[PlannedVisit]) -> set[int]:
    return set(Visit.objects.filter(planned__in=[p.pk for p in planned]).values_list("planned_id", flat=True))


def resequence(arrangement: WeekArrangement, days: set[datetime.date] | None = None) -> None:
    """Number each day's planned visits in route order (seq 1, 2 …)."""
    rows = list(arrangement.planned_visits.select_related("retailer__route"))
    rows.sort(key=lambda p: (p.date, *route_key(p.retailer)))
    counters: Counter = Counter()
    for row in rows:
        counters[row.date] += 1
        if (days is None or row.date in days) and row.seq != counters[row.date]:
            row.seq = counters[row.date]
            row.save(update_fields=["seq"])


@dataclass
class _Item:
    retailer: Retailer
    date: datetime.date
    reason: str
    month: datetime.date
    order_days: set[int]


@transaction.atomic
def arrange_week(cm: Staff, monday: datetime.date, user: Any, today: datetime.date | None = None) -> WeekArrangement:
    """Generate (or regenerate the not-yet-visited part of) the CM's arrangement for the week (see the module doc)."""
    if monday.weekday() != 0:
        raise ValidationError(
            {"week_start": _("A week starts on a Monday; %(day)s is not one.") % {"day": monday.isoformat()}}
        )
    today = today or timezone.localdate()
    rules = rules_for(cm)
    workdays = set(rules.workdays or [])
    cap = rules.visits_per_day
    with acting_as(user):
        arrangement, _created = WeekArrangement.objects.get_or_create(
            cm=cm, week_start=monday, defaults={"due": arrangement_due(monday, rules)}
        )
        _check_change(user, arrangement)
        week = [monday + i * DAY for i in range(7)]
        open_days = [d for d in week if d.weekday() in workdays and d >= today]

        existing = list(arrangement.planned_visits.all())
        visited = _visited_ids(existing)
        for row in existing:
            if row.pk not in visited and row.date in open_days and row.reason != VisitReason.MANUAL:
                row.delete()
        kept = [r for r in arrangement.planned_visits.all()]
        load = Counter(r.date for r in kept)
        taken = {(r.retailer_id, r.date) for r in kept}

        retailers = list(active_retailers(cm, monday))
        rank = {r.pk: i for i, r in enumerate(retailers)}
        items: list[_Item] = []
        for month in sorted({month_start(d) for d in open_days}):
            items += _month_items(arrangement, cm, rules, month, open_days, retailers, today, taken, load, cap)

        # Place focus retailers first, then day by day in route order; a full day sends a visit to the nearest day.
        items.sort(key=lambda it: (it.reason != VisitReason.FOCUS, it.date, rank[it.retailer.pk]))
        for item in items:
            month_days = [d for d in open_days if month_start(d) == item.month]
            options = [item.date] + sorted(
                (d for d in month_days if d != item.date),
                key=lambda d, it=item: (d.weekday() in it.order_days, abs((d - it.date).days), d),
            )
            for day in options:
                if load[day] < cap and (item.retailer.pk, day) not in taken:
                    PlannedVisit.objects.create(
                        arrangement=arrangement, cm=cm, retailer=item.retailer, date=day, reason=item.reason
                    )
                    load[day] += 1
                    taken.add((item.retailer.pk, day))
                    break
        resequence(arrangement)
        arrangement.generated_at = timezone.now()
        if not arrangement.due:
            arrangement.due = arrangement_due(monday, rules)
        arrangement.save(update_fields=["generated_at", "due"])
    return arrangement


def _month_items(
    arrangement: WeekArrangement,
    cm: Staff,
    rules: Any,
    month: datetime.date,
    open_days: list[datetime.date],
    retailers: list[Retailer],
    today: datetime.date,
    taken: set,
    load: Counter,
    cap: int,
) -> list[_Item]:
    """The visits this week owes to one month.

    Each retailer's visits are first laid out over the whole month (its *slots*: evenly spread over the month's guide
    days, shifted by the retailer's place among the retailers that need as many visits). The week then gets what the
    slots up to its end ask for, less what was visited or planned up to then — and, in the month's last arranged days,
    everything still missing. When the month's days left after this week cannot hold what would remain
    (``visits_per_day`` × days), the retailers whose next slot comes soonest are pulled forward into this week.
    """
    workdays = set(rules.workdays or [])
    end = month_end(month)
    week_days = sorted(d for d in open_days if month_start(d) == month)
    week_end = min(end, arrangement.week_end)
    other_weeks = (
        WeekArrangement.objects.filter(cm=cm, week_start__gte=month - 6 * DAY, week_start__lte=end)
        .exclude(pk=arrangement.pk)
        .values_list("week_start", flat=True)
    )
    covered = {start + i * DAY for start in other_weeks for i in range(7)}
    month_days = [month + i * DAY for i in range((end - month).days + 1) if (month + i * DAY).weekday() in workdays]
    later_days = [d for d in month_days if d > week_end and d >= today and d not in covered]
    focus = set(
        PlanFocusRetailer.objects.filter(plan__cm=cm, plan__month=month, selected=True).values_list(
            "retailer_id", flat=True
        )
    )
    done = Counter(
        Visit.objects.filter(cm=cm, checkin_at__date__gte=month, checkin_at__date__lte=end)
        .exclude(status=VisitStatus.CANCELLED)
        .values_list("retailer_id", flat=True)
    )
    ahead = list(
        PlannedVisit.objects.filter(cm=cm, date__gte=max(month, today), date__lte=end, visit__isnull=True).values_list(
            "retailer_id", "date"
        )
    )
    planned = Counter(r for r, _d in ahead)
    planned_by_week_end = Counter(r for r, d in ahead if d <= week_end)

    codes: dict[int, str] = {}
    if rules.class_visit_frequency:  # the 4+X classes decide where the rules say so
        from cmdesk.supply.services.classes import class_codes

        codes = class_codes([r.pk for r in retailers])
    needs = {}
    for retailer in retailers:
        by_class = rules.visits_for_class(codes.get(retailer.pk, ""))
        need = by_class if by_class is not None else rules.visits_for_tier(retailer.tier)
        if by_class is not None and need > 1:
            reason = VisitReason.CLASS
        else:
            reason = VisitReason.TIER if need > 1 else VisitReason.CYCLE
        if retailer.pk in focus:
            need = max(need, rules.focus_visits_per_month)
            reason = VisitReason.FOCUS
        needs[retailer.pk] = (need, reason)
    classes = Counter(need for need, _r in needs.values())
    place: Counter = Counter()

    plans = []  # [retailer, reason, still needed, visits this week, free days this week, slots]
    for retailer in retailers:
        need, reason = needs[retailer.pk]
        shift = (place[need] + 0.5) / classes[need]
        place[need] += 1
        still = need - done[retailer.pk] - planned[retailer.pk]
        if still <= 0:
            continue
        order_days = set(retailer.route.order_weekdays or [])
        guides = guide_weekdays(sorted(order_days), workdays)
        slots = spread(month_days, need, guides, order_days, shift)
        due_by_week_end = sum(1 for d in slots if d <= week_end)
        owed = due_by_week_end - done[retailer.pk] - planned_by_week_end[retailer.pk]
        free = [d for d in week_days if (retailer.pk, d) not in taken]
        k = min(still, len(free), max(owed, still - len(later_days), 0))
        plans.append([retailer, reason, still, k, free, slots, guides, order_days])

    # Pull visits forward when the month's remaining days cannot hold what would be left after this week.
    room = sum(max(0, cap - load[d]) for d in week_days) - sum(p[3] for p in plans)
    excess = sum(p[2] - p[3] for p in plans) - cap * len(later_days)
    if excess > 0 and room > 0:
        waiting = sorted(
            (p for p in plans if p[2] > p[3] and len(p[4]) > p[3]),
            key=lambda p: (min((d for d in p[5] if d > week_end), default=end), p[0].pk),
        )
        while excess > 0 and room > 0 and waiting:
            for p in list(waiting):
                if excess <= 0 or room <= 0:
                    break
                p[3] += 1
                excess -= 1
                room -= 1
                if p[3] >= p[2] or p[3] >= len(p[4]):
                    waiting.remove(p)

    items = []
    for retailer, reason, _still, k, free, slots, guides, order_days in plans:
        if k <= 0:
            continue
        slot_days = set(slots)
        free.sort(
            key=lambda d, g=guides, o=order_days, s=slot_days: (
                d not in s,
                g is not None and d.weekday() not in g,
                d.weekday() in o,
                d,
            )
        )
        for day in sorted(free[:k]):
            items.append(_Item(retailer, day, reason, month, order_days))
    return items


@transaction.atomic
def submit_arrangement(arrangement: WeekArrangement, user: Any, at: datetime.datetime | None = None) -> None:
    """Hand the week's arrangement in (late when after its due time)."""
    _check_change(user, arrangement)
    arrangement = WeekArrangement.objects.select_for_update().get(pk=arrangement.pk)
    if arrangement.status == ArrangementStatus.SUBMITTED:
        raise ValidationError(_("This week's arrangement has already been submitted."))
    if not arrangement.planned_visits.exists():
        raise ValidationError(_("The arrangement has no visits yet: generate it or add retailers first."))
    with acting_as(user):
        arrangement.status = ArrangementStatus.SUBMITTED
        arrangement.submitted_at = at or timezone.now()
        arrangement.save(update_fields=["status", "submitted_at"])


def _check_day_in_week(arrangement: WeekArrangement, day: datetime.date) -> None:
    if not arrangement.week_start <= day <= arrangement.week_end:
        raise ValidationError(
            {
                "date": _("%(day)s is not in the week of %(start)s to %(end)s.")
                % {"day": day.isoformat(), "start": arrangement.week_start.isoformat(), "end": arrangement.week_end}
            }
        )


def _check_not_visited(planned: PlannedVisit) -> None:
    if Visit.objects.filter(planned=planned).exists():
        raise ValidationError(
            _("%(retailer)s has already been visited on this plan; it cannot be changed.")
            % {"retailer": planned.retailer}
        )


def _check_free(cm: Staff, retailer: Retailer, day: datetime.date, exclude: int | None = None) -> None:
    clash = PlannedVisit.objects.filter(cm=cm, retailer=retailer, date=day)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(
            {
                "date": _("%(retailer)s is already planned on %(day)s.")
                % {"retailer": retailer, "day": date_format(day, "SHORT_DATE_FORMAT")}
            }
        )


@transaction.atomic
def move_planned(planned: PlannedVisit, day: datetime.date, user: Any) -> PlannedVisit:
    """Move a planned visit to another day of its week; the first planned day is kept in ``moved_from``."""
    _check_change(user, planned)
    planned = PlannedVisit.objects.select_related("arrangement", "retailer__route").get(pk=planned.pk)
    _check_not_visited(planned)
    _check_day_in_week(planned.arrangement, day)
    if day == planned.date:
        return planned
    _check_free(planned.cm, planned.retailer, day, exclude=planned.pk)
    with acting_as(user):
        original = planned.moved_from or planned.date
        planned.moved_from = None if original == day else original
        planned.date = day
        planned.seq = 9999
        planned.save(update_fields=["date", "moved_from", "seq"])
        resequence(planned.arrangement)
    planned.refresh_from_db()
    return planned


@transaction.atomic
def add_planned(arrangement: WeekArrangement, retailer: Retailer, day: datetime.date, user: Any) -> PlannedVisit:
    """Add a retailer of the CM's own routes to a day of the week (reason "manual")."""
    _check_change(user, arrangement)
    check_retailer_on_routes(arrangement.cm, retailer)
    _check_day_in_week(arrangement, day)
    _check_free(arrangement.cm, retailer, day)
    with acting_as(user):
        planned = PlannedVisit.objects.create(
            arrangement=arrangement,
            cm=arrangement.cm,
            retailer=retailer,
            date=day,
            reason=VisitReason.MANUAL,
            seq=9999,
        )
        resequence(arrangement)
    planned.refresh_from_db()
    return planned


@transaction.atomic
def remove_planned(planned: PlannedVisit, user: Any) -> None:
    """Take a not-yet-visited retailer off the week."""
    if user is not None and not in_scope(user, planned, "delete"):
        raise OutOfScope
    _check_not_visited(planned)
    arrangement = planned.arrangement
    with acting_as(user):
        planned.delete()
        resequence(arrangement)


@dataclass
class Coverage:
    """How much of the CM's retailers a month reaches: visited so far, planned for the rest, neither."""

    month: datetime.date
    total: int
    visited: int
    planned: int
    missing: list[Retailer] = field(default_factory=list)

    @property
    def visited_share(self) -> float:
        return self.visited / self.total if self.total else 0.0

    @property
    def planned_share(self) -> float:
        return self.planned / self.total if self.total else 0.0

    @property
    def covered_share(self) -> float:
        return (self.visited + self.planned) / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month.isoformat(),
            "total": self.total,
            "visited": self.visited,
            "planned": self.planned,
            "visited_share": round(self.visited_share, 4),
            "covered_share": round(self.covered_share, 4),
            "missing": [{"id": r.pk, "licence_no": r.licence_no, "shop_name": r.shop_name} for r in self.missing],
        }


def coverage(cm: Staff, month: datetime.date, today: datetime.date | None = None) -> Coverage:
    """The month so far: retailers visited at least once ÷ retailers on the CM's routes, plus those planned later."""
    today = today or timezone.localdate()
    month = month_start(month)
    end = month_end(month)
    retailers = list(active_retailers(cm, month))
    ids = {r.pk for r in retailers}
    visited = (
        set(
            Visit.objects.filter(cm=cm, checkin_at__date__gte=month, checkin_at__date__lte=min(end, today))
            .exclude(status=VisitStatus.CANCELLED)
            .values_list("retailer_id", flat=True)
        )
        & ids
    )
    planned = (
        set(
            PlannedVisit.objects.filter(
                cm=cm, date__gte=max(month, today), date__lte=end, visit__isnull=True
            ).values_list("retailer_id", flat=True)
        )
        & ids
    ) - visited
    missing = [r for r in retailers if r.pk not in visited and r.pk not in planned]
    return Coverage(month, len(retailers), len(visited), len(planned), missing)


def arrangement_month(monday: datetime.date) -> datetime.date:
    """The month a week counts for in the coverage bar: the month of its Thursday (as ISO weeks do)."""
    return month_start(monday + 3 * DAY)
