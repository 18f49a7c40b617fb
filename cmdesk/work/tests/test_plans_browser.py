"""A customer manager writes next month's plan on a phone: start it, change a target with a reason, submit it.

Drives Debian's Chromium with Playwright against the live test server at an iPhone-sized viewport (root conftest).
"""

import datetime as dt
import os

import pytest

from cmdesk.core.tests.browser import log_in
from cmdesk.work.models import MonthlyPlan, PlanStatus
from cmdesk.work.services import plans as svc

from .world import build_work_world

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cm_writes_the_plan_on_a_phone(live_server, phone, monkeypatch):
    monkeypatch.setattr(svc, "next_plan_month", lambda today=None: dt.date(2026, 11, 1))
    w = build_work_world()
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live_server.url, w.cm1.user.username)

    page.goto(f"{live_server.url}/work/plans/")
    page.locator("form", has=page.locator("input[name=month][value='2026-11']")).locator("button").click()
    page.wait_for_url("**/work/plans/*/")
    plan = MonthlyPlan.objects.get(cm=w.cm1, month=dt.date(2026, 11, 1))
    assert page.url.endswith(f"/work/plans/{plan.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("a", has_text="一线03号店").count() == 1

    page.goto(f"{live_server.url}/work/plans/{plan.pk}/edit/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    line = plan.route_targets.get()
    page.fill(f"input[name=route_{line.pk}_target]", "3")
    page.locator("button[name=submit]").click()
    page.wait_for_selector(f"#id_route_{line.pk}_reason.is-invalid")
    page.fill(f"input[name=route_{line.pk}_reason]", "新开两家便利店")
    page.locator("button[name=submit]").click()
    page.wait_for_url(f"**/work/plans/{plan.pk}/")
    plan.refresh_from_db()
    assert (plan.status, plan.version, str(plan.volume_target)) == (PlanStatus.SUBMITTED, 1, "3.00")
    page.screenshot(path="/tmp/plan_phone.png", full_page=True)
    assert errors == []
