"""The shared test world builds, and its orders are what its docstring says (the other tests rely on it)."""

import datetime as dt

import pytest

from cmdesk.analytics.periods import Period
from cmdesk.kpi.selectors import kpi
from cmdesk.work.models import ChecklistItem, WorkRules
from cmdesk.work.rules import arrangement_due, plan_due, rules_for, summary_due

from .world import FALLING, STOPPED, build_work_world

pytestmark = pytest.mark.django_db


def test_world_orders_reach_the_kpi_engine():
    w = build_work_world()
    rows = kpi(w.cm1.user, Period.parse("2026-10"), by=["retailer"], indicators=["cartons"]).rows
    cartons = {r["licence"]: r["cartons"] for r in rows}
    # four Tuesdays in October 2026 (6, 13, 20, 27): 14 cartons a week, the spike week 60 + 4
    assert cartons[w.shops1[0].licence_no] == 56
    assert cartons[w.shops1[FALLING].licence_no] == 4 * (5 + 2)
    assert cartons[w.shops1[STOPPED].licence_no] == 0  # still served, ordered nothing
    assert cartons[w.shops1[6].licence_no] == 3 * 14 + 64


def test_default_checklist_and_rules():
    assert list(ChecklistItem.objects.values_list("code", flat=True)[:3]) == ["price_tags", "display", "shop_image"]
    w = build_work_world(orders=False)
    rules = rules_for(w.cm1)
    assert rules.pk is None and rules.visits_for_tier(25) == 4 and rules.visits_for_tier(None) == 1
    assert plan_due(dt.date(2026, 11, 1), rules).date() == dt.date(2026, 10, 25)
    assert arrangement_due(dt.date(2026, 11, 23), rules).date() == dt.date(2026, 11, 22)
    assert summary_due("month", dt.date(2026, 10, 1), dt.date(2026, 10, 31), rules).date() == dt.date(2026, 11, 3)
    assert summary_due("week", dt.date(2026, 11, 16), dt.date(2026, 11, 22), rules).date() == dt.date(2026, 11, 23)
    dept = WorkRules.objects.create(org_unit=w.tree.dept_a, plan_due_day=20)
    WorkRules.objects.create(plan_due_day=27)
    assert rules_for(w.cm1) == dept
    assert rules_for(w.cm3).plan_due_day == 27


def test_work_records_do_not_make_the_kpi_snapshots_stale():
    """Work records are audited; only changes to what the snapshots hold (org, retail, catalog) make them stale."""
    from cmdesk.core.audit import acting_as
    from cmdesk.kpi.dims import dims_stale, export_dims
    from cmdesk.work.models import Feedback, FeedbackKind

    w = build_work_world(orders=False)
    export_dims()
    assert dims_stale() is False
    with acting_as(w.cm1.user):
        Feedback.objects.create(cm=w.cm1, retailer=w.shops1[0], kind=FeedbackKind.NEED, text="要货")
    assert dims_stale() is False
    w.route1.name = "一线(改)"
    with acting_as(w.head.user):
        w.route1.save()
    assert dims_stale() is True
