"""A customer manager opens the KPI dashboard on a phone: the charts draw, the tables fit, a retailer drills down.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright against the live test server, at an iPhone-sized viewport
(the `phone` fixture of the root conftest.py).
"""

import os

import pytest

from cmdesk.core.tests.browser import log_in

from .data import build_world

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are ordinary sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_dashboard_on_a_phone(live_server, phone):
    world = build_world()
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, world.cm1.user.username)

    page.goto(f"{live_server.url}/kpi/?period=2026-10")
    # ECharts drew into both chart containers
    page.wait_for_selector("#kpi-trend-chart canvas")
    page.wait_for_selector("#kpi-classes-chart canvas")
    for chart in ("#kpi-trend-chart", "#kpi-classes-chart"):
        box = page.locator(f"{chart} canvas").first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200
    assert errors == []
    # cards stack two a row and wide tables scroll inside their cards: the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cards = page.locator(".kpi-card")
    assert cards.count() == 8
    assert cards.nth(0).bounding_box()["y"] == cards.nth(1).bounding_box()["y"]
    assert cards.nth(2).bounding_box()["y"] > cards.nth(0).bounding_box()["y"]

    page.locator("#kpi-ranking a.kpi-drill", has_text="440000000001").click()
    page.wait_for_url("**/kpi/?period=2026-10&scope=440000000001")
    assert "一号店" in page.locator("h1").inner_text()
    assert page.locator("#kpi-crumbs").inner_text().split() == ["甲", "一号店"]
    ranking = page.locator("#kpi-ranking tbody tr")
    assert ranking.count() == 3
    assert ranking.nth(0).locator("td").nth(0).inner_text() == "P2"
    page.wait_for_selector("#kpi-trend-chart canvas")
    assert errors == []
