"""The demo's work records on the small work world: every part a department's CMs play shows on the head's board,
planned visits follow the route order, visits stay in the past, the output is deterministic, and clearing works."""

from __future__ import annotations

import datetime as dt

import pytest

from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, StaffFactory
from cmdesk.demo.work import build_work_demo, clear_work
from cmdesk.org.choices import Role
from cmdesk.work.models import (
    Feedback,
    MonthlyPlan,
    PlannedVisit,
    PlanStatus,
    Reminder,
    Summary,
    SummaryKind,
    Visit,
    VisitCheck,
    VisitStatus,
    WeekArrangement,
    WorkRules,
)
from cmdesk.work.services.board import APPROVED, MISSING, RETURNED, board
from cmdesk.work.tests.world import build_work_world

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 20)  # a Friday
NOV, OCT = dt.date(2026, 11, 1), dt.date(2026, 10, 1)


@pytest.fixture
def world():
    w = build_work_world()
    # four more CMs in department A, so each part (model, awaiting review, returned, copier, slacker) is played
    for n in range(4, 8):
        cm = StaffFactory(role=Role.CM, org_unit=w.tree.area_a2, employee_no=f"cm{n}", name=f"客户经理{n}")
        route = RouteFactory(org_unit=w.tree.area_a2, cm=cm, code=f"R{n}", order_weekdays=[2])
        for i in range(30):
            RetailerFactory(route=route, licence_no=f"4305{n:02d}{i:06d}", visit_order=i + 1, tier=1 + i)
    return w


def snapshot():
    return (
        list(
            MonthlyPlan.objects.order_by("cm__employee_no", "month").values_list(
                "cm_id", "month", "status", "volume_target"
            )
        ),
        list(
            Visit.objects.order_by("checkin_at", "retailer_id").values_list(
                "retailer_id", "checkin_at", "status", "far", "duration_minutes", "distance_m"
            )
        ),
        list(Summary.objects.order_by("cm_id", "kind", "period_start").values_list("cm_id", "period_start", "status")),
    )


def test_demo_work_records_show_every_case(world):
    w = world
    counts = build_work_demo(as_of=AS_OF, seed=20141)
    assert WorkRules.objects.filter(org_unit__isnull=True).count() == 1
    assert counts["plans"] == MonthlyPlan.objects.count() > 0
    assert counts["visits"] == Visit.objects.count() > 0
    assert counts["reminders"] == Reminder.objects.count() > 0

    rows = {r.cm.employee_no: r for r in board(w.head.user, NOV, today=AS_OF).rows}
    assert list(rows) == ["cm1", "cm2", "cm4", "cm5", "cm6", "cm7"]
    assert rows["cm1"].plan.state == APPROVED and not rows["cm1"].plan.late
    assert rows["cm2"].plan.state == "on_time" or rows["cm2"].plan.state == "late"  # awaiting the head's review
    assert rows["cm4"].plan.state == RETURNED
    assert rows["cm6"].plan.state == MISSING
    assert rows["cm6"].arrangements.missing >= 1
    assert all(r.planned > 0 and r.done > 0 for r in rows.values())
    assert sum(r.far for r in rows.values()) + sum(r.short for r in rows.values()) > 0

    october = {r.cm.employee_no: r for r in board(w.head.user, OCT, today=AS_OF).rows}
    assert all(r.plan.state == APPROVED for r in october.values())
    assert october["cm5"].month_summary.flag_codes == ["similar"]  # copied from September
    copied = Summary.objects.get(cm__employee_no="cm5", kind=SummaryKind.MONTH, period_start=OCT)
    earlier = Summary.objects.get(cm__employee_no="cm5", kind=SummaryKind.MONTH, period_start=dt.date(2026, 9, 1))
    assert copied.sections == earlier.sections and copied.flags[0]["previous"] == earlier.pk
    assert october["cm6"].month_summary.state == MISSING
    assert october["cm1"].month_summary.state in ("on_time", "late")
    assert 0.8 < october["cm1"].coverage <= 1  # every retailer about once a month
    assert october["cm1"].achievement is not None and 0.8 < october["cm1"].achievement < 1.2

    # the head has reminders about the slacker; the model CM has no overdue plan
    assert Reminder.objects.filter(user=w.head.user, key=f"plan:{rows['cm6'].cm.pk}:2026-11").exists()
    assert not Reminder.objects.filter(user=w.cm1.user, key__startswith="plan:").exists()


def test_planned_visits_follow_the_route_order_and_visits_stay_in_the_past(world):
    w = world
    build_work_demo(as_of=AS_OF, seed=3)
    order = {s.pk: s.visit_order for s in w.shops1}
    seqs = list(PlannedVisit.objects.filter(cm=w.cm1).order_by("date", "seq").values_list("retailer_id", flat=True))
    assert len(seqs) > 24
    steps = {(order[b] - order[a]) % len(w.shops1) for a, b in zip(seqs, seqs[1:], strict=False)}
    assert steps == {1}  # day after day, the route's shops in visit order
    assert not Visit.objects.filter(checkin_at__date__gt=AS_OF).exists()
    assert not Visit.objects.filter(status=VisitStatus.DONE, checkout_at__isnull=True).exists()
    assert Visit.objects.filter(status=VisitStatus.OPEN).count() <= 7  # at most one open visit a CM, on the as-of day
    assert set(Visit.objects.filter(far=True).values_list("distance_m", flat=True)) and all(
        d > 500 for d in Visit.objects.filter(far=True).values_list("distance_m", flat=True)
    )
    assert VisitCheck.objects.filter(ok=False).exists() and VisitCheck.objects.filter(ok=True).exists()
    assert WeekArrangement.objects.filter(week_start=dt.date(2026, 11, 23)).exists()  # Friday: next week's is ready
    assert Feedback.objects.filter(visit__isnull=False).count() == Feedback.objects.count()
    assert MonthlyPlan.objects.filter(month=dt.date(2026, 12, 1), status=PlanStatus.DRAFT).exists()  # due 11-25


def test_deterministic_and_clearable(world):
    build_work_demo(as_of=AS_OF, seed=7)
    first = snapshot()
    clear_work()
    assert MonthlyPlan.objects.count() == Visit.objects.count() == Summary.objects.count() == 0
    build_work_demo(as_of=AS_OF, seed=7)
    assert snapshot() == first
    clear_work()
    build_work_demo(as_of=AS_OF, seed=8)
    assert snapshot() != first
