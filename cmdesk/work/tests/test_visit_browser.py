"""A customer manager on a phone: today's list → a planned visit → check in with the phone's location → checklist →
check out; the database then holds the visit done, with its distance to the shop and its duration.

Drives Debian's Chromium with Playwright against the live test server at an iPhone-sized viewport; the browser
context is granted geolocation and placed about 10 m east of the shop.
"""

import datetime as dt
import os

import pytest
from django.utils import timezone

from cmdesk.core.tests.browser import log_in
from cmdesk.work.models import Visit, VisitStatus, WeekArrangement
from cmdesk.work.services.arrange import add_planned

from .world import build_work_world

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_checks_in_answers_the_checklist_and_checks_out_on_a_phone(live_server, phone):
    w = build_work_world(orders=False)
    w.cm1.user.username = "cm_visit"
    w.cm1.user.save()
    shop = w.shops1[3]
    today = timezone.localdate()
    week = WeekArrangement.objects.create(
        cm=w.cm1, week_start=today - dt.timedelta(days=today.weekday()), due=timezone.now()
    )
    planned = add_planned(week, shop, today, w.cm1.user)

    page = phone
    page.context.grant_permissions(["geolocation"], origin=live_server.url)
    # 0.0001° of longitude east of the shop at latitude 27.5: about 9.9 m
    page.context.set_geolocation(
        {"latitude": float(shop.latitude), "longitude": float(shop.longitude) + 0.0001, "accuracy": 8}
    )

    log_in(page, live_server.url, "cm_visit")

    page.goto(f"{live_server.url}/work/today/")
    items = page.locator(".today-item")
    assert items.count() == 1 and shop.shop_name in items.first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    items.first.click()
    page.wait_for_url(f"**/work/planned/{planned.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator("#checkin-btn").click()
    page.wait_for_url("**/work/visits/*/")
    visit = Visit.objects.get(cm=w.cm1)
    assert page.locator("#visit-status").get_attribute("data-status") == VisitStatus.OPEN
    assert "m" in page.locator("#visit-distance").inner_text()

    page.locator("label[for=c-price_tags-yes]").click()
    page.locator("label[for=c-display-4]").click()
    page.locator("label[for=c-shop_image-2]").click()
    page.locator(f"#c-key_brand_stock-{w.products['hard'].pk}").check()
    page.locator("label[for=c-retailer_info-yes]").click()
    page.locator("#checklist-save").click()
    page.wait_for_load_state()
    assert page.locator("#missing-checks").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator("#checkout-btn").click()
    page.wait_for_selector("#visit-status[data-status=done]")

    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE and visit.planned == planned
    assert 5 <= visit.distance_m <= 15 and visit.far is False and visit.checkin_accuracy_m == 8
    assert visit.duration_minutes is not None and visit.duration_minutes >= 0
    assert visit.checkout_at >= visit.checkin_at
    answers = {c.item.code: (c.value, c.ok) for c in visit.checks.select_related("item")}
    assert answers["price_tags"] == (True, True)
    assert answers["display"] == (4, True)
    assert answers["shop_image"] == (2, False)  # a problem flagged
    assert answers["key_brand_stock"] == ([w.products["hard"].pk], True)
