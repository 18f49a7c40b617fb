"""A customer manager checks this week's allotments of a scarce brand on a phone and cuts one with a reason; the page
fits 390 px and the cut is logged.

Drives Debian's Chromium with Playwright against the live test server at an iPhone-sized viewport (root conftest).
"""

import datetime as dt
import os

import pytest
from django.utils import timezone

from cmdesk.core.tests.browser import log_in
from cmdesk.core.tests.factories import ProductFactory
from cmdesk.supply.models import AllocationAdjustment
from cmdesk.supply.services import allocation as svc
from cmdesk.work.tests.world import build_work_world

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_cuts_an_allotment_on_a_phone(live_server, phone):
    w = build_work_world(orders=False)
    scarce = ProductFactory(code="6901028099001", name="和天下(硬)", brand="和天下", scarce=True)
    today = timezone.localdate()
    week = today + dt.timedelta(days=7 - today.weekday())  # next Monday: allotments may still change
    allocation = svc.create_allocation(
        svc.AllocationRequest(product=scarce, org_unit=w.tree.dept_a, week_start=week, available=100, min_tier=10),
        w.head.user,
    )
    svc.publish(allocation, w.head.user)
    top = allocation.lines.get(retailer=w.shops1[11])  # D30: 18 cartons (see test_allocation's hand computation)
    assert top.final_quantity == 18

    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, w.cm1.user.username)

    page.goto(f"{live_server.url}/supply/allocations/mine/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cards = page.locator("#my-allotments [data-retailer]")
    assert cards.count() == 8  # cm1's shops that get cartons: D13 … D28 and two D30; none of cm2's
    line = page.locator(f"[data-line='{top.pk}']")
    line.locator("summary").click()
    line.locator("input[name=quantity]").fill("12")
    line.locator("input[name=reason]").fill("店主本周外出, 少订")
    with page.expect_navigation():
        line.locator("button[type=submit]").click()
    page.wait_for_selector(f"[data-line='{top.pk}'] .text-danger")
    assert "12" in page.locator(f"[data-line='{top.pk}'] .fs-5").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    adjustment = AllocationAdjustment.objects.get()
    assert (adjustment.line_id, adjustment.quantity_from, adjustment.quantity_to, adjustment.reason) == (
        top.pk,
        18,
        12,
        "店主本周外出, 少订",
    )
    assert adjustment.by == w.cm1
    page.screenshot(path="/tmp/supply_allotments_phone.png", full_page=True)
    assert errors == []
