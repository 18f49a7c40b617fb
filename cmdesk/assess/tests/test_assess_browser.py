"""A customer manager reads its published score on a phone, appeals one item and signs the rest; the page fits 390 px.

Drives Debian's Chromium with Playwright against the live test server at an iPhone-sized viewport (root conftest).
"""

import os

import pytest

from cmdesk.assess.models import Appeal, ItemStatus, RunStatus, ScoreItem
from cmdesk.core.tests.browser import log_in

from .test_review_world import build_review_world

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_appeals_and_signs_on_a_phone(live_server, phone):
    w, r = build_review_world(status=RunStatus.PUBLISHED)
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, w.cm1.user.username)

    page.goto(f"{live_server.url}/assess/runs/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(f"a[data-score='{r.scores[w.cm1.pk].pk}']").click()
    page.wait_for_url(f"**/assess/scores/{r.scores[w.cm1.pk].pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    visits = r.items[w.cm1.pk]["visits"]
    card = page.locator(f"[data-item='{visits.pk}']")
    card.get_by_role("button").nth(1).click()  # Appeal: opens the form
    # wait for the collapse to finish opening (under load its transition is slow), then submit and wait for the page
    page.wait_for_selector(f"#appeal-{visits.pk}.show")
    page.fill(f"#appeal-reason-{visits.pk}", "10月有三次拜访因系统故障未同步")
    with page.expect_navigation():
        page.locator(f"#appeal-{visits.pk} button[type=submit]").click()
    page.wait_for_selector(f"[data-item='{visits.pk}'][data-status='appealed']")
    with page.expect_navigation():
        page.locator("#sign-all").click()
    page.wait_for_selector(f"[data-item='{r.items[w.cm1.pk]['volume'].pk}'][data-status='signed']")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    statuses = dict(ScoreItem.objects.filter(score=r.scores[w.cm1.pk]).values_list("scheme_item__code", "status"))
    assert statuses == {"volume": ItemStatus.SIGNED, "forecast": ItemStatus.SIGNED, "visits": ItemStatus.APPEALED}
    assert Appeal.objects.get().reason == "10月有三次拜访因系统故障未同步"
    page.screenshot(path="/tmp/assess_score_phone.png", full_page=True)
    assert errors == []
