"""A CM's start page leads with what to act on: today's visits, its retailers' open order alerts, the next order
week's allotments (the work world of cmdesk/work/tests/world.py, with its October orders)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from cmdesk.core.tests.factories import PASSWORD, ProductFactory
from cmdesk.supply.models import Alert, AlertStatus
from cmdesk.supply.services import alerts as alert_svc
from cmdesk.supply.services import allocation as alloc_svc
from cmdesk.work.tests.world import SPIKE, build_work_world

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 12, 14)  # a Monday
TZ = dt.timezone(dt.timedelta(hours=8))


def home(staff) -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username=staff.user.username, password=PASSWORD)
    with translation.override("en"):
        response = client.get(reverse("core:home"))
    assert response.status_code == 200
    return response


def test_the_cm_home_shows_visits_alerts_and_allotments():
    w = build_work_world()
    alert_svc.detect_month("2026-10")
    scarce = ProductFactory(code="6901028099001", name="和天下(硬)", brand="和天下", scarce=True)
    req = alloc_svc.AllocationRequest(
        product=scarce, org_unit=w.tree.dept_a, week_start=WEEK, available=100, min_tier=10
    )
    allocation = alloc_svc.publish(alloc_svc.create_allocation(req, w.head.user), w.head.user)
    mine = allocation.lines.filter(retailer__route__cm=w.cm1)
    with time_machine.travel(dt.datetime(2026, 12, 10, 9, tzinfo=TZ), tick=False):
        response = home(w.cm1)
    ctx, html = response.context, response.content.decode()
    spike = w.shops1[SPIKE]
    assert [a.retailer_id for a in ctx["alerts"]] == [spike.pk] and ctx["alert_count"] == 1
    assert f'href="{reverse("supply:alert_detail", args=[ctx["alerts"][0].pk])}"' in html
    assert ctx["allotment"] == {
        "week": WEEK,
        "retailers": mine.count(),
        "cartons": sum(mine.values_list("final_quantity", flat=True)),
    }
    assert ctx["allotment"]["cartons"] > 0
    assert f'href="{reverse("supply:allocation_mine")}?week=2026-12-14"' in html
    assert ctx["visits_today"] == {"total": 0, "done": 0} and "Nothing planned today" in html

    # the other CM of the department: no alert of its own, its own share of the allotment
    other = home(w.cm2).context
    assert other["alerts"] == [] and other["alert_count"] == 0
    # a dismissed alert leaves the list; once the order week has started the card looks at the next one (none)
    alert_svc.alert_dismiss(w.cm1.user, ctx["alerts"][0], "已核实：婚宴用烟")
    with time_machine.travel(dt.datetime(2026, 12, 21, 9, tzinfo=TZ), tick=False):
        later = home(w.cm1).context
    assert later["alert_count"] == 0 and "allotment" not in later
    assert Alert.objects.get(pk=ctx["alerts"][0].pk).status == AlertStatus.DISMISSED


def test_the_head_and_centre_homes_count_the_supply_work_waiting():
    """The head: the department's unresolved alerts, one referred and overdue, a draft allocation to publish; the
    centre also the tier recompute to apply. Each count links to its list."""
    from cmdesk.supply.services import tiers as tier_svc

    w = build_work_world()
    alert_svc.detect_month("2026-10")
    spike = Alert.objects.get(retailer=w.shops1[SPIKE])
    alert_svc.alert_refer(w.head.user, spike, deadline=dt.date(2026, 12, 1), today=dt.date(2026, 11, 24))
    scarce = ProductFactory(code="6901028099001", name="和天下(硬)", brand="和天下", scarce=True)
    req = alloc_svc.AllocationRequest(
        product=scarce, org_unit=w.tree.dept_a, week_start=WEEK, available=100, min_tier=10
    )
    alloc_svc.create_allocation(req, w.head.user)
    tier_svc.recompute(w.tree.city, dt.date(2026, 10, 31))
    head = home(w.head)
    in_dept = Alert.objects.filter(org_unit__path__startswith=w.tree.dept_a.path, status=AlertStatus.OPEN).count()
    assert head.context["supply_alerts"] == {"open": in_dept, "referred": 1, "overdue": 1}
    assert "tier_drafts" not in head.context and head.context["allocation_drafts"] == 1
    html = head.content.decode()
    assert f'href="{reverse("supply:referral_list")}" id="attention-referrals"' in html
    assert "1 referred to inspectors · 1 overdue" in html and "1 allocation to publish" in html
    centre = home(w.centre).context
    assert centre["supply_alerts"]["open"] == Alert.objects.filter(status=AlertStatus.OPEN).count() > in_dept
    assert centre["tier_drafts"] == 1
