"""A customer manager drafts last month's summary on a phone, sees the flags, submits; the page fits 390 px.

Drives Debian's Chromium with Playwright against the live test server at an iPhone-sized viewport (root conftest).
"""

import datetime as dt
import os

import pytest
from django.utils import timezone

from cmdesk.core.tests.browser import log_in
from cmdesk.work.models import Summary, SummaryStatus

from .world import STOPPED, build_work_world

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_writes_the_monthly_summary_on_a_phone(live_server, phone, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: dt.date(2026, 11, 2))
    w = build_work_world()
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, w.cm1.user.username)

    page.goto(f"{live_server.url}/work/summaries/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("button[data-draft=month]").click()
    page.wait_for_url("**/work/summaries/*/edit/")
    summary = Summary.objects.get(cm=w.cm1, kind="month")
    assert summary.period_start == dt.date(2026, 10, 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert w.shops1[STOPPED].shop_name in page.input_value("textarea[name=problems]")

    page.fill("textarea[name=market]", "")
    page.locator("button[name=save]").click()
    page.wait_for_selector("#summary-flags")
    page.fill("textarea[name=market]", "十月重点走访了三号店，老板准备转让门面，已与市管员沟通。")
    page.locator("button[name=submit]").click()
    page.wait_for_url(f"**/work/summaries/{summary.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    summary.refresh_from_db()
    assert (summary.status, summary.flags) == (SummaryStatus.SUBMITTED, [])
    assert summary.sections["market"] == "十月重点走访了三号店，老板准备转让门面，已与市管员沟通。"
    page.screenshot(path="/tmp/summary_phone.png", full_page=True)
    assert errors == []
