"""A customer manager on a phone: find a shop by pinyin initials, correct its phone number, see the change logged.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the live test server, at an iPhone-sized viewport.
"""

import os

import pytest

from cmdesk.core.tests.browser import log_in
from cmdesk.core.tests.factories import RetailerFactory, RouteFactory, StaffFactory, build_org_tree
from cmdesk.org.choices import Role
from cmdesk.retail.models import Retailer

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are ordinary sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_corrects_a_phone_number_on_a_phone(live_server, phone):
    tree = build_org_tree()
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1, user__username="cm_phone")
    route = RouteFactory(org_unit=tree.area_a1, cm=cm)
    shop = RetailerFactory(route=route, shop_name="黄记烟酒", owner_name="黄大明", phone="13900000001")
    RetailerFactory.create_batch(5, route=route, shop_name="兴旺商店", owner_name="李四")
    other = RetailerFactory(route=RouteFactory(org_unit=tree.area_b1), shop_name="黄记烟酒分店")

    page = phone
    log_in(page, live_server.url, "cm_phone")
    assert "黄记烟酒" not in page.content()  # the home page shows aggregates, not other CMs' shops

    page.goto(f"{live_server.url}/retail/retailers/?q=hjyj")
    cards = page.locator(".retailer-card:visible")
    assert cards.count() == 1  # the other branch's 黄记烟酒分店 is out of scope
    assert "黄记烟酒" in cards.first.inner_text()
    # the phone layout shows cards, not a wide table
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    cards.first.locator("a.stretched-link").click()
    page.wait_for_url(f"**/retail/retailers/{shop.pk}/")
    page.get_by_role("link", name="编辑").or_(page.get_by_role("link", name="Edit")).first.click()
    assert page.locator("select[name=route]").count() == 0  # a CM cannot move shops between routes
    assert page.locator("input[name=tier]").count() == 0
    page.fill("input[name=phone]", "13912345678")
    page.locator("form button[type=submit].btn-primary").click()
    page.wait_for_url(f"**/retail/retailers/{shop.pk}/")

    shop.refresh_from_db()
    assert shop.phone == "13912345678"
    page.locator("#tab-history").click()
    history = page.locator("#pane-history").inner_text()
    assert "13900000001" in history and "13912345678" in history
    assert Retailer.objects.get(pk=other.pk).phone == other.phone
