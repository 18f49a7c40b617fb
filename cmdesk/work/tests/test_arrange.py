"""周安排: the arrangement rules (month coverage, tier and focus frequencies, capacity, workdays, order days, route
order, determinism), the CM's changes (move, add, remove), submission and the month's coverage."""

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import RetailerFactory, RouteFactory
from cmdesk.retail.choices import RetailerStatus
from cmdesk.work.models import (
    ArrangementStatus,
    MonthlyPlan,
    PlanFocusRetailer,
    PlannedVisit,
    VisitReason,
    WeekArrangement,
    WorkRules,
)
from cmdesk.work.services.arrange import (
    add_planned,
    arrange_week,
    coverage,
    guide_weekdays,
    move_planned,
    remove_planned,
    submit_arrangement,
)
from cmdesk.work.services.visits import check_in, check_out

from .world import ORIGIN, build_work_world

pytestmark = pytest.mark.django_db

NOV_MONDAYS = [dt.date(2026, 11, d) for d in (2, 9, 16, 23, 30)]
BEFORE_NOV = dt.date(2026, 10, 26)
# R1's shops by index: tiers 1, 4, 7, 10 → once a month; 13, 16, 19 → twice; 22, 25, 28, 30, 30 → four times
EXPECTED = [1, 1, 1, 1, 2, 2, 2, 4, 4, 4, 4, 4]


def arrange_november(w, today=BEFORE_NOV):
    for monday in NOV_MONDAYS:
        arrange_week(w.cm1, monday, w.cm1.user, today=today)


def november(cm):
    return PlannedVisit.objects.filter(cm=cm, date__year=2026, date__month=11)


def test_guide_day_is_the_working_day_before_the_order_day():
    assert guide_weekdays([1], {0, 1, 2, 3, 4, 5}) == {0}  # Tuesday's orders → Monday
    assert guide_weekdays([0], {0, 1, 2, 3, 4, 5}) == {5}  # Monday's orders → Saturday (Sunday off)
    assert guide_weekdays([0], {0, 1, 2, 3, 4}) == {4}  # … Friday when Saturday is off too
    assert guide_weekdays([1, 4], {0, 1, 2, 3, 4, 5}) == {0, 3}
    assert guide_weekdays([], {0, 1, 2}) is None


def test_month_covers_every_retailer_by_tier_on_the_guide_day_in_route_order():
    w = build_work_world(orders=False)
    arrange_november(w)
    rows = list(november(w.cm1).select_related("retailer"))
    per_shop = Counter(r.retailer_id for r in rows)
    assert [per_shop[s.pk] for s in w.shops1] == EXPECTED
    # R1 orders on Tuesdays: every visit is on a Monday (the day before), never more than 20 a day
    assert {r.date for r in rows} <= set(NOV_MONDAYS)
    assert max(Counter(r.date for r in rows).values()) <= 30
    # the once-a-month shops are spread over the month instead of piling on one Monday
    once = [r.date for r in rows if per_shop[r.retailer_id] == 1]
    assert len(set(once)) == 4
    # within a day: route order, seq 1, 2, …
    for day in NOV_MONDAYS:
        today = [r for r in rows if r.date == day]
        today.sort(key=lambda r: r.seq)
        assert [r.seq for r in today] == list(range(1, len(today) + 1))
        assert [r.retailer.visit_order for r in today] == sorted(r.retailer.visit_order for r in today)
    reasons = {r.retailer_id: r.reason for r in rows}
    assert reasons[w.shops1[0].pk] == VisitReason.CYCLE and reasons[w.shops1[11].pk] == VisitReason.TIER
    # other CMs' retailers are not in cm1's weeks
    assert not november(w.cm1).exclude(retailer__route=w.route1).exists()
    week = WeekArrangement.objects.get(cm=w.cm1, week_start=NOV_MONDAYS[0])
    assert week.due == timezone.make_aware(dt.datetime.combine(dt.date(2026, 11, 1), dt.time.max))
    assert week.generated_at is not None and week.status == ArrangementStatus.DRAFT


def test_generation_is_deterministic_and_regeneration_keeps_what_was_visited():
    w = build_work_world(orders=False)
    arrange_november(w)
    first = sorted(november(w.cm1).values_list("retailer_id", "date", "seq", "reason"))
    for monday in NOV_MONDAYS:  # regenerate in the same order: the same plan
        arrange_week(w.cm1, monday, w.cm1.user, today=BEFORE_NOV)
    assert sorted(november(w.cm1).values_list("retailer_id", "date", "seq", "reason")) == first

    # on 16 November, the visits of the 2nd, the 9th and the first of the 16th were made: regenerating the week
    # keeps the visited row and plans nothing twice
    made = list(november(w.cm1).filter(date__lt=dt.date(2026, 11, 16)).order_by("date", "seq"))
    made.append(november(w.cm1).filter(date=dt.date(2026, 11, 16)).order_by("seq").first())
    for planned in made:
        at = timezone.make_aware(dt.datetime.combine(planned.date, dt.time(9, 0)))
        visit = check_in(w.cm1, planned.retailer, w.cm1.user, ORIGIN[0], ORIGIN[1], 10, planned=planned, at=at)
        check_out_all(visit, w)
    arrange_week(w.cm1, dt.date(2026, 11, 16), w.cm1.user, today=dt.date(2026, 11, 16))
    assert PlannedVisit.objects.filter(pk=made[-1].pk).exists()
    per_shop = Counter(november(w.cm1).values_list("retailer_id", flat=True))
    assert [per_shop[s.pk] for s in w.shops1] == EXPECTED
    assert sorted(november(w.cm1).values_list("retailer_id", "date", "reason")) == [row[:2] + row[3:] for row in first]

    # a missed visit (planned on the 2nd, not made) is planned again when the next week is regenerated
    missed = november(w.cm1).filter(date=dt.date(2026, 11, 23)).order_by("seq").first()
    arrange_week(w.cm1, dt.date(2026, 11, 30), w.cm1.user, today=dt.date(2026, 11, 24))
    assert november(w.cm1).filter(retailer=missed.retailer, date=dt.date(2026, 11, 30)).exists()


def check_out_all(visit, w):
    from cmdesk.work.services.visits import record_checks

    record_checks(
        visit,
        w.cm1.user,
        {"price_tags": True, "display": 4, "shop_image": 4, "key_brand_stock": [], "retailer_info": True},
    )
    check_out(visit, w.cm1.user, at=visit.checkin_at + dt.timedelta(minutes=15))


def test_visits_already_made_this_month_count():
    w = build_work_world(orders=False)
    shop = w.shops1[0]  # once a month
    at = timezone.make_aware(dt.datetime(2026, 11, 3, 10, 0))
    visit = check_in(w.cm1, shop, w.cm1.user, ORIGIN[0], ORIGIN[1], 10, at=at)
    check_out_all(visit, w)
    for monday in NOV_MONDAYS[1:]:
        arrange_week(w.cm1, monday, w.cm1.user, today=dt.date(2026, 11, 4))
    per_shop = Counter(november(w.cm1).values_list("retailer_id", flat=True))
    assert per_shop[shop.pk] == 0
    assert per_shop[w.shops1[11].pk] == 4  # four Mondays left (9 … 30) for a four-times shop


def test_focus_retailers_of_the_month_plan():
    w = build_work_world(orders=False)
    plan = MonthlyPlan.objects.create(cm=w.cm1, month=dt.date(2026, 11, 1), due=timezone.now())
    PlanFocusRetailer.objects.create(plan=plan, retailer=w.shops1[0], reason="falling", selected=True)
    PlanFocusRetailer.objects.create(plan=plan, retailer=w.shops1[1], reason="manual", selected=False)
    WorkRules.objects.create(focus_visits_per_month=3)
    arrange_november(w)
    rows = november(w.cm1)
    assert rows.filter(retailer=w.shops1[0]).count() == 3
    assert set(rows.filter(retailer=w.shops1[0]).values_list("reason", flat=True)) == {VisitReason.FOCUS}
    assert rows.filter(retailer=w.shops1[1]).count() == 1  # not kept in the plan: its tier's once


def test_capacity_sends_overflow_to_the_nearest_day_but_not_the_order_day():
    w = build_work_world(orders=False)
    WorkRules.objects.create(visits_per_day=3)
    arrange_november(w)
    rows = list(november(w.cm1))
    per_day = Counter(r.date for r in rows)
    assert max(per_day.values()) == 3
    weekdays = {d.weekday() for d in per_day}
    assert 1 not in weekdays  # never on R1's order day while other days have room
    assert {0, 2} <= weekdays  # Mondays full → Wednesdays (the nearest day that is not the order day) and on
    assert all(per_day[d] == 3 for d in NOV_MONDAYS)
    per_shop = Counter(r.retailer_id for r in rows)
    assert [per_shop[s.pk] for s in w.shops1] == EXPECTED


def test_workdays_and_a_route_without_order_days():
    w = build_work_world(orders=False)
    WorkRules.objects.create(workdays=[0, 1, 2, 3, 4], visits_per_day=3)
    route = RouteFactory(org_unit=w.tree.area_a1, cm=w.cm1, code="R9", order_weekdays=[])
    shops = [RetailerFactory(route=route, tier=30, visit_order=i) for i in range(3)]
    arrange_november(w)
    rows = list(november(w.cm1))
    assert all(r.date.weekday() < 5 for r in rows)  # no Saturdays
    assert max(Counter(r.date for r in rows).values()) <= 3
    r9 = Counter(r.retailer_id for r in rows if r.retailer.route_id == route.pk)
    assert [r9[s.pk] for s in shops] == [4, 4, 4]


def test_order_day_monday_means_saturday_visits():
    w = build_work_world(orders=False)
    w.route1.order_weekdays = [0]
    w.route1.save()
    arrange_november(w)
    days = {d.weekday() for d in november(w.cm1).values_list("date", flat=True)}
    assert days == {5}


def test_closed_and_cancelled_retailers_are_left_out():
    w = build_work_world(orders=False)
    w.shops1[0].status = RetailerStatus.CLOSED
    w.shops1[0].save()
    w.shops1[1].status = RetailerStatus.CANCELLED
    w.shops1[1].save()
    arrange_november(w)
    assert not november(w.cm1).filter(retailer__in=w.shops1[:2]).exists()
    assert november(w.cm1).filter(retailer=w.shops1[2]).count() == 1


def test_only_mondays_are_accepted_and_other_cms_cannot_arrange():
    w = build_work_world(orders=False)
    with pytest.raises(ValidationError) as error:
        arrange_week(w.cm1, dt.date(2026, 11, 3), w.cm1.user)
    assert "week_start" in error.value.message_dict
    with pytest.raises(OutOfScope):
        arrange_week(w.cm1, NOV_MONDAYS[0], w.cm2.user, today=BEFORE_NOV)
    assert not WeekArrangement.objects.exists()  # rolled back


def test_move_add_remove_and_submit():
    w = build_work_world(orders=False)
    monday = NOV_MONDAYS[1]
    week = arrange_week(w.cm1, monday, w.cm1.user, today=BEFORE_NOV)
    planned = week.planned_visits.order_by("seq").first()
    wednesday = monday + dt.timedelta(days=2)
    moved = move_planned(planned, wednesday, w.cm1.user)
    assert (moved.date, moved.moved_from, moved.seq) == (wednesday, monday, 1)
    moved = move_planned(moved, monday + dt.timedelta(days=3), w.cm1.user)
    assert moved.moved_from == monday  # the first planned day stays
    with pytest.raises(ValidationError) as error:
        move_planned(moved, monday + dt.timedelta(days=9), w.cm1.user)
    assert "date" in error.value.message_dict

    added = add_planned(week, w.shops1[0], wednesday, w.cm1.user)
    assert added.reason == VisitReason.MANUAL and added.cm == w.cm1
    with pytest.raises(ValidationError) as error:
        add_planned(week, w.shops1[0], wednesday, w.cm1.user)
    assert w.shops1[0].shop_name in error.value.message_dict["date"][0]
    with pytest.raises(ValidationError) as error:
        add_planned(week, w.shops2[0], wednesday, w.cm1.user)
    assert w.shops2[0].licence_no in error.value.message_dict["retailer"][0]
    with pytest.raises(OutOfScope):
        add_planned(week, w.shops1[1], wednesday, w.cm2.user)

    # regenerating keeps the CM's own addition
    arrange_week(w.cm1, monday, w.cm1.user, today=BEFORE_NOV)
    assert PlannedVisit.objects.filter(pk=added.pk).exists()
    remove_planned(added, w.cm1.user)
    assert not PlannedVisit.objects.filter(pk=added.pk).exists()

    late = timezone.make_aware(dt.datetime(2026, 11, 8, 23, 59, 59, 999999)) + dt.timedelta(seconds=1)
    submit_arrangement(week, w.cm1.user, at=late)
    week.refresh_from_db()
    assert week.status == ArrangementStatus.SUBMITTED and week.late
    with pytest.raises(ValidationError):
        submit_arrangement(week, w.cm1.user)


def test_a_visited_plan_cannot_be_moved_or_removed():
    w = build_work_world(orders=False)
    week = arrange_week(w.cm1, NOV_MONDAYS[1], w.cm1.user, today=BEFORE_NOV)
    planned = week.planned_visits.order_by("seq").first()
    at = timezone.make_aware(dt.datetime(2026, 11, 9, 9, 0))
    check_in(w.cm1, planned.retailer, w.cm1.user, ORIGIN[0], ORIGIN[1], 5, planned=planned, at=at)
    with pytest.raises(ValidationError):
        move_planned(planned, NOV_MONDAYS[1] + dt.timedelta(days=1), w.cm1.user)
    with pytest.raises(ValidationError):
        remove_planned(planned, w.cm1.user)


def test_coverage_of_the_month():
    w = build_work_world(orders=False)
    arrange_november(w)
    early = coverage(w.cm1, dt.date(2026, 11, 1), today=dt.date(2026, 11, 1))
    assert (early.total, early.visited, early.planned, early.covered_share) == (12, 0, 12, 1.0)
    shop = w.shops1[0]
    first = november(w.cm1).filter(retailer=shop).get()
    at = timezone.make_aware(dt.datetime.combine(first.date, dt.time(9, 0)))
    visit = check_in(w.cm1, shop, w.cm1.user, ORIGIN[0], ORIGIN[1], 5, planned=first, at=at)
    check_out_all(visit, w)
    cov = coverage(w.cm1, dt.date(2026, 11, 1), today=dt.date(2026, 11, 30))
    # on the 30th, only the 30th's plan is still ahead: shop 0 is visited, the 30th's shops are planned
    planned_30 = set(november(w.cm1).filter(date=dt.date(2026, 11, 30)).values_list("retailer_id", flat=True))
    assert cov.total == 12 and cov.visited == 1
    assert cov.planned == len(planned_30 - {shop.pk})
    assert len(cov.missing) == 12 - 1 - cov.planned


def test_visit_frequency_by_retailer_class_overrides_the_tier():
    """Under the active 4+X scheme, the rules give urban shops (class C…) 3 visits and one class exactly 1."""
    from cmdesk.supply.models import ClassPreset
    from cmdesk.supply.services.classes import class_codes, classify, create_preset

    w = build_work_world(orders=False)
    scheme = create_preset(ClassPreset.CODE_2008, "2008", active=True)
    classify(scheme)
    codes = class_codes([s.pk for s in w.shops1])
    rules = WorkRules.objects.create(class_visit_frequency={"C": 3, codes[w.shops1[11].pk]: 1})
    rules.full_clean()
    arrange_november(w)
    per_shop = Counter(november(w.cm1).values_list("retailer_id", flat=True))
    for i, shop in enumerate(w.shops1):
        code = codes[shop.pk]
        want = 1 if code == codes[w.shops1[11].pk] else 3 if code.startswith("C") else EXPECTED[i]
        assert per_shop[shop.pk] == want, (i, code)
    reasons = dict(november(w.cm1).values_list("retailer_id", "reason"))
    urban = next(s for s in w.shops1 if codes[s.pk].startswith("C") and codes[s.pk] != codes[w.shops1[11].pk])
    assert reasons[urban.pk] == VisitReason.CLASS
    bad = WorkRules(class_visit_frequency={"CZ1": 0})
    with pytest.raises(ValidationError) as exc:
        bad.clean()
    assert "CZ1" in str(exc.value)
