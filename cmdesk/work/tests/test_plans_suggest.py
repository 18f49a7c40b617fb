"""Monthly plan suggestions on the shared work world, with the figures worked out by hand from world.py's orders.

R1 (cm1): 12 shops × (10 红塔山 + 4 芙蓉王) cartons every Tuesday; from 2026-09 R1-03 orders nothing and R1-05 half
(5 + 2); in the week of 2026-10-13 R1-07 orders 60 红塔山 instead of 10. R2 (cm2): 6 shops × (10 + 4 + 5 白沙).
Tuesdays: 2025-09 five, 2025-10 four, 2025-11 four, 2026-09 five, 2026-10 four. Orders start in 2025-09.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cmdesk.work.models import DeptTarget, FocusReason, Visit
from cmdesk.work.services.plans import suggest_plan

from .world import FALLING, SPIKE, STOPPED, build_work_world, world_orders, write_orders

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 20)
# R1 in 2025-11: 4 weeks × 12 shops × 14 = 672 cartons = 2.688 cases.
# Trend: 2026-08 had no sales a year before, so it is left out; 2026-09: 5 × (168 − 14 − 7) = 735 against 840,
# 2026-10: 4 × 147 + 50 = 638 against 672 → 1373 / 1512 = 0.9081. Suggestion 2.688 × 1373 / 1512 = 2.4409.
R1_UNSCALED = Decimal(672) * (Decimal(1373) / Decimal(1512)) / 250
R2_UNSCALED = Decimal("1.824")  # 4 × 6 × 19 = 456 cartons, trend (570 + 456) / (570 + 456) = 1


def test_route_suggestion_is_last_year_times_trend():
    w = build_work_world()
    s = suggest_plan(w.cm1, "2026-11", today=TODAY)
    assert [x.key for x in s.routes] == [w.route1.pk]
    route = s.routes[0]
    assert route.cases == Decimal("2.44")
    assert route.basis["method"] == "last_year"
    assert route.basis["last_year_month"] == "2025-11"
    assert route.basis["last_year_cases"] == "2.688"
    assert route.basis["trend_months"] == ["2026-09", "2026-10"]
    assert route.basis["trend_cases"] == "5.492"  # 1373 cartons
    assert route.basis["trend_cases_last_year"] == "6.048"  # 1512 cartons
    assert route.basis["trend"] == route.basis["trend_raw"] == "0.9081"
    assert route.basis["scale"] is None
    assert s.volume == Decimal("2.44")
    assert s.dept_target is None


def test_key_brand_suggestions():
    w = build_work_world()
    s = suggest_plan(w.cm1, "2026-11", today=TODAY)
    brands = {x.key: x for x in s.brands}
    assert set(brands) == {"红塔山", "芙蓉王"}  # 白沙 is not a key brand, and cm1's shops do not buy it anyway
    # 红塔山: 2025-11 480 cartons = 1.92 cases; trend (525 + 470) / (600 + 480) = 0.9213 → 1.7689
    assert brands["红塔山"].cases == Decimal("1.77")
    assert brands["红塔山"].basis["trend"] == "0.9213"
    # 芙蓉王: 2025-11 192 cartons = 0.768 cases; trend (210 + 168) / (240 + 192) = 0.875 → 0.672
    assert brands["芙蓉王"].cases == Decimal("0.67")
    assert brands["芙蓉王"].basis["trend"] == "0.8750"


def test_dept_target_is_broken_down_by_route_basis():
    w = build_work_world()
    DeptTarget.objects.create(org_unit=w.tree.dept_a, month=dt.date(2026, 11, 1), volume_cases=Decimal("10"))
    s1 = suggest_plan(w.cm1, "2026-11", today=TODAY)
    s2 = suggest_plan(w.cm2, "2026-11", today=TODAY)
    scale = Decimal(10) / (R1_UNSCALED + R2_UNSCALED)
    assert s1.routes[0].basis["scale"] == str(scale.quantize(Decimal("0.0001")))  # 2.3447
    assert s1.routes[0].cases == Decimal("5.72")  # 2.4409 × 2.3447
    assert s2.routes[0].cases == Decimal("4.28")  # 1.824 × 2.3447
    assert s1.routes[0].cases + s2.routes[0].cases == Decimal("10.00")
    assert s1.routes[0].basis["dept_target_cases"] == "10.00"
    assert s1.dept_target.org_unit == w.tree.dept_a
    # the other branch's CM is not scaled by department A's target
    assert suggest_plan(w.cm3, "2026-11", today=TODAY).routes[0].basis["scale"] is None


def test_trend_is_clipped_and_missing_years_fall_back():
    w = build_work_world()
    extra = [
        dict(line, order_id=10_000_000 + i, ordered=30, supplied=30, demanded=30, allotted=30, amount=1500.0)
        for i, line in enumerate(world_orders(w))
        if line["retailer_id"] in {s.pk for s in w.shops3}
        and line["order_date"] >= dt.date(2026, 9, 1)
        and line["product_code"] == w.products["hard"].code
    ]
    write_orders(world_orders(w) + extra)
    r3 = suggest_plan(w.cm3, "2026-11", today=TODAY).routes[0]
    # R3: 3 shops × 14 a week; 2026-09/10 each week 30 more: (3 × 44) / (3 × 14) = 3.1429 → clipped to 1.20
    assert r3.basis["trend_raw"] == "3.1429"
    assert r3.basis["trend"] == "1.2000"
    assert r3.cases == Decimal("0.81")  # 168 cartons = 0.672 × 1.2
    # 2026-09: no sales in the months before a year ago → trend 1; 2025-09 had 5 × 168 = 840 cartons
    sep = suggest_plan(w.cm1, "2026-09", today=TODAY).routes[0]
    assert sep.basis["trend_raw"] is None and sep.cases == Decimal("3.36")
    # 2026-08: nothing a year before → the average of 2026-05..07 (13 weeks × 168 / 3 = 728 cartons)
    aug = suggest_plan(w.cm1, "2026-08", today=TODAY).routes[0]
    assert aug.basis["method"] == "recent_average"
    assert aug.cases == Decimal("2.91")


def test_focus_retailers_from_the_data():
    w = build_work_world()
    s = suggest_plan(w.cm1, "2026-11", today=TODAY)
    focus = {f.retailer: f for f in s.focus}
    assert focus.keys() == {w.shops1[STOPPED], w.shops1[FALLING], w.shops1[SPIKE]}
    stopped, falling, spike = focus[w.shops1[STOPPED]], focus[w.shops1[FALLING]], focus[w.shops1[SPIKE]]
    assert stopped.reason == FocusReason.STOPPED
    assert stopped.detail == "10月未订货，前3个月共订112条"  # 2026-07 56 + 08 56 + 09 0
    assert falling.reason == FocusReason.FALLING
    # 2026-10: 4 × 7 = 28 against (56 + 56 + 35) / 3 = 49 and against 56 in 2025-10
    assert falling.detail == "10月订货28条，比前3个月月均49.0条下降42.9%，比去年同期56条下降50.0%"
    assert spike.reason == FocusReason.ANOMALY
    assert spike.detail == "10月13日当周订货64条，为前3个订货周均值14.0条的457.1%"


def test_not_visited_within_the_route_cycle():
    w = build_work_world()
    w.route1.visit_cycle_days = 14
    w.route1.save()
    at = timezone.make_aware(dt.datetime(2026, 10, 25, 10, 0))
    for shop in w.shops1[:9]:
        Visit.objects.create(cm=w.cm1, retailer=shop, checkin_at=at)
    Visit.objects.create(cm=w.cm1, retailer=w.shops1[9], checkin_at=at - dt.timedelta(days=20))
    s = suggest_plan(w.cm1, "2026-11", today=TODAY)
    reasons = {f.retailer: f.reason for f in s.focus}
    assert reasons[w.shops1[9]] == FocusReason.NOT_VISITED
    assert reasons[w.shops1[10]] == reasons[w.shops1[11]] == FocusReason.NOT_VISITED
    assert w.shops1[0] not in reasons
    assert reasons[w.shops1[STOPPED]] == FocusReason.STOPPED  # visited: only the data's reason
    detail = {f.retailer: f.detail for f in s.focus}
    assert detail[w.shops1[9]] == "截至10月31日已超过拜访周期14天未拜访（上次拜访2026-10-05）"
    assert detail[w.shops1[11]] == "截至10月31日已超过拜访周期14天未拜访（无拜访记录）"
