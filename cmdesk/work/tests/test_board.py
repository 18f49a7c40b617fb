"""The head's board: states of plans, arrangements and summaries around their deadlines, visits, coverage, plan vs
actual cases, a fixed number of queries, scope (head, clerk, centre, CM, inspector), the page, the export, the API."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cmdesk.analytics.periods import Period
from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, StaffFactory
from cmdesk.kpi.selectors import kpi
from cmdesk.org.choices import Role
from cmdesk.retail.choices import RetailerStatus
from cmdesk.work.models import (
    ArrangementStatus,
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
from cmdesk.work.rules import arrangement_due, plan_due, rules_for, summary_due
from cmdesk.work.services.board import (
    LATE,
    MISSING,
    NOT_DUE,
    ON_TIME,
    board,
    month_mondays,
    parse_month,
    sort_rows,
)

from .world import build_work_world

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 10, 20)  # a Tuesday
# cm1's October 2026 cases (world.py): 4 Tuesdays × 14 cartons for 9 shops, the stopped shop 0, the falling shop
# 4 × 7, the spike shop 3 × 14 + 64 → 638 cartons = 2.552 cases
CM1_OCT_CASES = 638 / 250


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def plan(cm, month, *, status=PlanStatus.SUBMITTED, submitted=None, target="0"):
    return MonthlyPlan.objects.create(
        cm=cm,
        month=month,
        status=status,
        volume_target=Decimal(target),
        due=plan_due(month, rules_for(cm)),
        submitted_at=submitted,
        version=1 if submitted else 0,
    )


def arrangement(cm, monday, *, submitted=None, status=ArrangementStatus.SUBMITTED):
    return WeekArrangement.objects.create(
        cm=cm, week_start=monday, status=status, due=arrangement_due(monday, rules_for(cm)), submitted_at=submitted
    )


def summary(cm, kind, start, end, *, submitted=None, status=SummaryStatus.SUBMITTED, flags=()):
    return Summary.objects.create(
        cm=cm,
        kind=kind,
        period_start=start,
        period_end=end,
        status=status,
        due=summary_due(kind, start, end, rules_for(cm)),
        submitted_at=submitted,
        flags=list(flags),
    )


def visit(cm, shop, day, *, minutes=20, far=False, status=VisitStatus.DONE, planned=None):
    checkin = at(day)
    return Visit.objects.create(
        cm=cm,
        retailer=shop,
        planned=planned,
        status=status,
        checkin_at=checkin,
        checkout_at=checkin + dt.timedelta(minutes=minutes),
        duration_minutes=minutes,
        far=far,
        distance_m=900 if far else 30,
    )


@pytest.fixture
def world():
    w = build_work_world()
    mondays = month_mondays(OCT)
    assert mondays == [dt.date(2026, 10, 5), dt.date(2026, 10, 12), dt.date(2026, 10, 19), dt.date(2026, 10, 26)]
    # plans: cm1 on time and approved (target 3 cases), cm2 late; cm3 has none
    plan(w.cm1, OCT, status=PlanStatus.APPROVED, submitted=at(dt.date(2026, 9, 20)), target="3.00")
    plan(w.cm2, OCT, submitted=at(dt.date(2026, 9, 28)), target="2.00")
    # cm1's arrangements: on time, late, (10-19 missing: due 10-18), (10-26 not due yet: due 10-25)
    arrangement(w.cm1, mondays[0], submitted=at(dt.date(2026, 10, 3)))
    arrangement(w.cm1, mondays[1], submitted=at(dt.date(2026, 10, 12), 9))
    arrangement(w.cm1, mondays[2], submitted=None, status=ArrangementStatus.DRAFT)
    # cm1's weekly summaries: 10-05 on time but flagged as copied; 10-12 only a draft (due 10-19: missing)
    summary(
        w.cm1,
        SummaryKind.WEEK,
        mondays[0],
        mondays[0] + dt.timedelta(days=6),
        submitted=at(dt.date(2026, 10, 12), 18),
        flags=["similar"],
    )
    summary(w.cm1, SummaryKind.WEEK, mondays[1], mondays[1] + dt.timedelta(days=6), status=SummaryStatus.DRAFT)
    # cm1's visits: 5 planned, 3 of them done; one unplanned far visit, one short; an open one and September's
    # one do not count
    week = WeekArrangement.objects.get(cm=w.cm1, week_start=mondays[0])
    planned = [
        PlannedVisit.objects.create(
            arrangement=week, cm=w.cm1, retailer=w.shops1[i], date=dt.date(2026, 10, 6 + i), seq=i
        )
        for i in range(5)
    ]
    for i in range(3):
        visit(w.cm1, w.shops1[i], planned[i].date, planned=planned[i])
    visit(w.cm1, w.shops1[5], dt.date(2026, 10, 14), far=True)
    visit(w.cm1, w.shops1[6], dt.date(2026, 10, 15), minutes=4)
    visit(w.cm1, w.shops1[7], dt.date(2026, 10, 16), status=VisitStatus.OPEN)
    visit(w.cm1, w.shops1[8], dt.date(2026, 9, 30))
    # a closed shop leaves the coverage base: 11 active retailers on R1
    w.shops1[11].status = RetailerStatus.CLOSED
    w.shops1[11].save(update_fields=["status"])
    return w


def rows_by_cm(result):
    return {r.cm.employee_no: r for r in result.rows}


def test_board_rows_for_the_head(world):
    w = world
    result = board(w.head.user, "2026-10", today=TODAY)
    assert result.month == OCT
    rows = rows_by_cm(result)
    assert list(rows) == ["cm1", "cm2"]  # dept A only
    r1, r2 = rows["cm1"], rows["cm2"]

    assert (r1.plan.state, r1.plan.late, r1.plan.overdue) == ("approved", False, False)
    assert r1.plan.due == plan_due(OCT, rules_for(w.cm1))
    assert (r2.plan.state, r2.plan.late) == (LATE, True)

    a = r1.arrangements
    assert [i.state for i in a.items] == [ON_TIME, LATE, MISSING, NOT_DUE]
    assert (a.on_time, a.late, a.missing, a.pending, a.total) == (1, 1, 1, 1, 4)
    assert r2.arrangements.missing == 3  # cm2 has none: three deadlines passed

    s = r1.week_summaries
    assert [i.state for i in s.items] == [ON_TIME, MISSING, NOT_DUE, NOT_DUE]
    assert (s.on_time, s.missing, s.flagged) == (1, 1, 1)
    assert s.items[0].flags == ["similar"]
    assert r1.month_summary.state == NOT_DUE  # due 2026-11-03

    assert (r1.planned, r1.planned_done, r1.done, r1.far, r1.short) == (5, 3, 5, 1, 1)
    assert (r1.retailers, r1.visited) == (11, 5)
    assert r1.coverage == pytest.approx(5 / 11)
    assert (r2.planned, r2.done, r2.retailers, r2.visited) == (0, 0, 6, 0)

    actual = {r["cm_id"]: r["cases"] for r in kpi(w.head.user, Period.parse("2026-10"), by=["cm"]).rows}
    assert r1.actual_cases == pytest.approx(CM1_OCT_CASES) == pytest.approx(actual[w.cm1.pk])
    assert r1.target_cases == Decimal("3.00")
    assert r1.achievement == pytest.approx(CM1_OCT_CASES / 3)


def test_missing_only_after_the_deadline(world):
    w = world
    nov = dt.date(2026, 11, 1)
    due = plan_due(nov, rules_for(w.cm1)).date()
    assert due == dt.date(2026, 10, 25)
    before = rows_by_cm(board(w.head.user, nov, today=due))  # the due day itself: still in time
    after = rows_by_cm(board(w.head.user, nov, today=due + dt.timedelta(days=1)))
    assert before["cm1"].plan.state == NOT_DUE and after["cm1"].plan.state == MISSING
    assert before["cm1"].target_cases is None and before["cm1"].actual_cases is not None
    # a draft stays a draft, overdue once the deadline passed
    plan(w.cm1, nov, status=PlanStatus.DRAFT)
    row = rows_by_cm(board(w.head.user, nov, today=due + dt.timedelta(days=1)))["cm1"]
    assert (row.plan.state, row.plan.overdue) == ("draft", True)


def test_rules_of_the_department_apply(world):
    w = world
    WorkRules.objects.create(org_unit=w.tree.dept_a, min_visit_minutes=30)
    row = rows_by_cm(board(w.head.user, OCT, today=TODAY))["cm1"]
    assert row.short == 5  # every 20-minute visit is short under a 30-minute minimum


def query_count(user) -> int:
    board(user, OCT, today=TODAY)  # warm: KPI snapshots and cache
    with CaptureQueriesContext(connection) as ctx:
        board(user, OCT, today=TODAY)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_cms(world, django_assert_max_num_queries):
    w = world
    before = query_count(w.head.user)
    assert before <= 15
    for n in range(6):
        cm = StaffFactory(role=Role.CM, org_unit=w.tree.area_a2, employee_no=f"cmx{n}")
        route = RouteFactory(org_unit=w.tree.area_a2, cm=cm, code=f"RX{n}")
        shop = RetailerFactory(route=route)
        plan(cm, OCT, submitted=at(dt.date(2026, 9, 1)))
        arrangement(cm, dt.date(2026, 10, 5), submitted=at(dt.date(2026, 10, 1)))
        summary(cm, SummaryKind.WEEK, dt.date(2026, 10, 5), dt.date(2026, 10, 11), submitted=at(dt.date(2026, 10, 12)))
        visit(cm, shop, dt.date(2026, 10, 7))
    assert len(board(w.head.user, OCT, today=TODAY).rows) == 8
    board(w.head.user, OCT, today=TODAY)
    with django_assert_max_num_queries(before):
        result = board(w.head.user, OCT, today=TODAY)
    assert len(result.rows) == 8


def test_scope_by_role(world):
    w = world
    assert [r.cm.employee_no for r in board(w.clerk.user, OCT, today=TODAY).rows] == ["cm1", "cm2"]
    assert [r.cm.employee_no for r in board(w.centre.user, OCT, today=TODAY).rows] == ["cm1", "cm2", "cm3"]
    own = board(w.cm1.user, OCT, today=TODAY).rows
    assert [r.cm.employee_no for r in own] == ["cm1"]
    assert own[0].actual_cases == pytest.approx(CM1_OCT_CASES)
    cm3 = rows_by_cm(board(w.centre.user, OCT, today=TODAY))["cm3"]
    assert cm3.plan.state == MISSING
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        board(w.inspector.user, OCT, today=TODAY)


def test_sort_and_month_parsing(world):
    rows = board(world.head.user, OCT, today=TODAY).rows
    ordered, key = sort_rows(rows, "-coverage")
    assert key == "-coverage" and [r.cm.employee_no for r in ordered] == ["cm1", "cm2"]
    ordered, key = sort_rows(rows, "coverage")
    assert [r.cm.employee_no for r in ordered] == ["cm2", "cm1"]
    assert sort_rows(rows, "bogus")[1] == "unit"
    assert parse_month("2026-02") == dt.date(2026, 2, 1)
    with pytest.raises(ValueError):
        parse_month("2026-2-1")


# ---- pages -----------------------------------------------------------------------------------------------------------


def test_board_page_for_head_cm_and_inspector(world, client):
    w = world
    client.force_login(w.head.user)
    response = client.get(reverse("work:board"), {"month": "2026-10", "sort": "-far"})
    assert response.status_code == 200
    assert [r.cm.employee_no for r in response.context["rows"]] == ["cm1", "cm2"]
    assert response.context["sort"] == "-far"
    assert 'data-cm="cm1"' in response.content.decode() and 'data-cm="cm3"' not in response.content.decode()

    bad = client.get(reverse("work:board"), {"month": "Oct"})
    assert bad.status_code == 200 and bad.context["error"] and bad.context["board"].month == parse_month(None)

    client.force_login(w.cm1.user)
    response = client.get(reverse("work:board"), {"month": "2026-10"})
    assert response.status_code == 200
    assert [r.cm.employee_no for r in response.context["rows"]] == ["cm1"]

    client.force_login(w.inspector.user)
    assert client.get(reverse("work:board")).status_code == 403
    assert client.get(reverse("work:board_export")).status_code == 403
    assert client.get(reverse("work:home")).status_code == 403


def test_home_redirects_heads_and_shows_a_cms_day(world, client):
    w = world
    client.force_login(w.head.user)
    assert client.get(reverse("work:home")).url == reverse("work:board")

    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    arr = WeekArrangement.objects.filter(cm=w.cm1, week_start=monday).first() or arrangement(w.cm1, monday)
    first = PlannedVisit.objects.create(arrangement=arr, cm=w.cm1, retailer=w.shops1[0], date=today, seq=1)
    PlannedVisit.objects.create(arrangement=arr, cm=w.cm1, retailer=w.shops1[1], date=today, seq=2)
    PlannedVisit.objects.create(arrangement=arr, cm=w.cm2, retailer=w.shops2[0], date=today, seq=1)
    visit(w.cm1, w.shops1[0], today, planned=first)
    client.force_login(w.cm1.user)
    response = client.get(reverse("work:home"))
    assert response.status_code == 200
    assert [(pv.retailer_id, pv.state) for pv in response.context["planned"]] == [
        (w.shops1[0].pk, "done"),
        (w.shops1[1].pk, "planned"),
    ]
    assert response.context["planned_done"] == 1
    assert response.context["row"].cm == w.cm1
    kinds = {i.kind for i in response.context["items"]}
    assert "plan" in kinds  # no plan for this month


def test_board_export_xlsx(world, client):
    from openpyxl import load_workbook

    client.force_login(world.head.user)
    response = client.get(reverse("work:board_export"), {"month": "2026-10"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('work-board-2026-10.xlsx"')
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 2 + 2  # title, header, cm1, cm2
    body = {r[0]: r for r in rows[2:]}
    assert set(body) == {"cm1", "cm2"}
    assert body["cm1"][15:20] == (5, 3, 5, 11, 5)  # planned, planned done, done, retailers, visited
    assert body["cm1"][22] == pytest.approx(round(CM1_OCT_CASES, 2))


# ---- API -------------------------------------------------------------------------------------------------------------


def test_board_api(world, client):
    w = world
    url = "/api/work/board/"
    client.force_login(w.head.user)
    data = client.get(url, {"month": "2026-10"}).json()
    assert data["month"] == "2026-10"
    assert [r["cm"]["employee_no"] for r in data["rows"]] == ["cm1", "cm2"]
    r1 = data["rows"][0]
    assert r1["plan"]["state"] == "approved"
    assert (r1["arrangements"]["on_time"], r1["arrangements"]["late"]) == (1, 1)
    assert r1["visits"] == {"planned": 5, "planned_done": 3, "done": 5, "far": 1, "short": 1}
    assert r1["coverage"]["retailers"] == 11 and r1["coverage"]["visited"] == 5
    assert r1["volume"]["target_cases"] == "3.00"
    assert r1["volume"]["actual_cases"] == pytest.approx(CM1_OCT_CASES)

    assert client.get(url, {"month": "10/2026"}).status_code == 400

    client.force_login(w.cm2.user)
    assert [r["cm"]["employee_no"] for r in client.get(url, {"month": "2026-10"}).json()["rows"]] == ["cm2"]
    client.force_login(w.inspector.user)
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 403
