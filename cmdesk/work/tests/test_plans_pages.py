"""Monthly plan pages and API: scope (404 for another CM's plan), the CM's and the head's pages, a round trip."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from cmdesk.core.tests.factories import StaffFactory
from cmdesk.org.choices import Role
from cmdesk.work.models import DeptTarget, MonthlyPlan, PlanStatus
from cmdesk.work.services import plans as svc

from .world import FALLING, SPIKE, STOPPED, build_work_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_work_world()


@pytest.fixture
def plan(world):
    return svc.plan_prepare(world.cm1, "2026-11", world.cm1.user, today=dt.date(2026, 10, 20))


def test_cm_pages(client, world, monkeypatch):
    monkeypatch.setattr(svc, "next_plan_month", lambda today=None: dt.date(2026, 11, 1))
    client.force_login(world.cm1.user)
    page = client.get(reverse("work:plan_list"))
    assert page.status_code == 200
    assert [m.isoformat() for m in page.context["startable"]] == ["2026-10-01", "2026-11-01"]
    response = client.post(reverse("work:plan_prepare"), {"month": "2026-11"})
    plan = MonthlyPlan.objects.get(cm=world.cm1, month=dt.date(2026, 11, 1))
    assert response.status_code == 302 and response.url == reverse("work:plan_detail", args=[plan.pk])
    assert [m.isoformat() for m in client.get(reverse("work:plan_list")).context["startable"]] == ["2026-10-01"]

    page = client.get(reverse("work:plan_detail", args=[plan.pk]))
    assert page.status_code == 200 and page.context["editable"] and not page.context["can_review"]
    html = page.content.decode()
    assert world.shops1[STOPPED].get_absolute_url() in html
    assert "2.44" in html and "0.9081" in html  # the suggestion and its trend are explained
    assert [f.retailer for f in page.context["focus"]] == [world.shops1[i] for i in (STOPPED, SPIKE, FALLING)]

    edit_url = reverse("work:plan_edit", args=[plan.pk])
    line = plan.route_targets.get()
    form = client.get(edit_url).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() not in (None, False)}
    data[f"route_{line.pk}_target"] = "3.5"
    page = client.post(edit_url, data)
    assert page.status_code == 200 and list(page.context["form"].errors) == [f"route_{line.pk}_reason"]
    data[f"route_{line.pk}_reason"] = "新开一家超市"
    data["key_tasks"] = "恢复一线03号店订货"
    response = client.post(edit_url, {**data, "submit": "1"})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.version, plan.volume_target) == (PlanStatus.SUBMITTED, 1, Decimal("3.50"))
    assert client.get(edit_url).status_code == 302  # submitted: back to the plan page
    page = client.get(reverse("work:plan_revisions", args=[plan.pk]))
    assert page.status_code == 200 and [r.version for r in page.context["revisions"]] == [1]
    assert "新开一家超市" in page.content.decode()


def test_head_reviews_on_the_pages(client, world, plan):
    svc.plan_submit(plan, world.cm1.user)
    client.force_login(world.head.user)
    page = client.get(reverse("work:plan_list"), {"month": "2026-11"})
    assert page.status_code == 200
    assert [(item["row"].cm, item["row"].plan) for item in page.context["rows"]] == [
        (world.cm1, plan),
        (world.cm2, None),
    ]
    page = client.get(reverse("work:plan_detail", args=[plan.pk]))
    assert page.context["can_review"] and not page.context["editable"]
    decide = reverse("work:plan_decide", args=[plan.pk])
    client.post(decide, {"decision": "return", "comment": ""})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED  # a return needs a comment
    client.post(decide, {"decision": "return", "comment": "目标偏低"})
    plan.refresh_from_db()
    assert (plan.status, plan.head_comment) == (PlanStatus.RETURNED, "目标偏低")
    assert client.get(reverse("work:plan_edit", args=[plan.pk])).status_code == 403

    response = client.post(
        reverse("work:dept_targets"), {"org_unit": world.tree.dept_a.pk, "month": "2026-12", "volume_cases": "88"}
    )
    assert response.status_code == 302
    assert DeptTarget.objects.get().volume_cases == Decimal("88.00")
    assert client.get(reverse("work:dept_targets")).status_code == 200


def test_page_scope(client, world, plan):
    detail = reverse("work:plan_detail", args=[plan.pk])
    client.force_login(world.cm2.user)
    assert client.get(detail).status_code == 404
    assert client.get(reverse("work:plan_revisions", args=[plan.pk])).status_code == 404
    assert client.post(reverse("work:plan_submit", args=[plan.pk])).status_code == 404
    assert client.get(reverse("work:dept_targets")).status_code == 403
    client.force_login(world.inspector.user)
    assert client.get(reverse("work:plan_list")).status_code == 403
    assert client.get(detail).status_code == 403
    other_head = StaffFactory(role=Role.HEAD, org_unit=world.tree.dept_b, employee_no="head-b")
    client.force_login(other_head.user)
    assert client.get(detail).status_code == 404
    assert client.post(reverse("work:plan_decide", args=[plan.pk]), {"decision": "approve"}).status_code == 404
    client.force_login(world.clerk.user)
    assert client.get(detail).status_code == 200
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_api_round_trip(client, world):
    client.force_login(world.cm1.user)
    url = reverse("work-plan-list")
    response = client.post(url, {"month": "2026-11"}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    pk = body["id"]
    assert body["month"] == "2026-11" and body["status"] == "draft"
    assert [(r["route_code"], r["suggested_cases"]) for r in body["route_targets"]] == [("R1", "2.44")]
    assert body["route_targets"][0]["basis"]["trend"] == "0.9081"
    assert {f["reason"] for f in body["focus_retailers"]} == {"stopped", "falling", "anomaly"}
    assert client.post(url, {"month": "2026-11"}, content_type="application/json").json()["id"] == pk

    detail = reverse("work-plan-detail", args=[pk])
    route = body["route_targets"][0]["route"]
    bad = client.patch(
        detail, {"route_targets": [{"route": route, "target_cases": "3"}]}, content_type="application/json"
    )
    assert bad.status_code == 400 and "route_targets" in bad.json()
    ok = client.patch(
        detail,
        {"key_tasks": "培育芙蓉王", "route_targets": [{"route": route, "target_cases": "3", "reason": "新店开业"}]},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["volume_target"] == "3.00"
    assert client.post(reverse("work-plan-submit", args=[pk])).json()["version"] == 1

    client.force_login(world.cm2.user)
    assert client.get(detail).status_code == 404
    assert [p["id"] for p in client.get(url).json()["results"]] == []
    client.force_login(world.inspector.user)
    assert client.get(url).status_code == 403

    client.force_login(world.head.user)
    assert [p["id"] for p in client.get(url, {"month": "2026-11"}).json()["results"]] == [pk]
    back = reverse("work-plan-return", args=[pk])
    assert client.post(back, {"comment": ""}, content_type="application/json").status_code == 400
    assert client.post(back, {"comment": "再细化"}, content_type="application/json").json()["status"] == "returned"
    assert client.patch(detail, {"key_tasks": "x"}, content_type="application/json").status_code == 403

    client.force_login(world.cm1.user)
    client.patch(detail, {"key_tasks": "培育芙蓉王，细化到店"}, content_type="application/json")
    assert client.post(reverse("work-plan-submit", args=[pk])).json()["version"] == 2
    client.force_login(world.cm1.user)
    assert client.post(reverse("work-plan-approve", args=[pk])).status_code == 403

    client.force_login(world.head.user)
    approved = client.post(
        reverse("work-plan-approve", args=[pk]), {"comment": "同意"}, content_type="application/json"
    )
    assert approved.json()["status"] == "approved"
    revisions = client.get(reverse("work-plan-revisions", args=[pk])).json()
    assert [(r["version"], r["status"]) for r in revisions] == [
        (1, "submitted"),
        (1, "returned"),
        (2, "submitted"),
        (2, "approved"),
    ]
    assert revisions[2]["snapshot"]["key_tasks"] == "培育芙蓉王，细化到店"

    client.force_login(world.cm1.user)
    locked = client.patch(detail, {"key_tasks": "改"}, content_type="application/json")
    assert locked.status_code == 400


def test_api_dept_targets(client, world):
    url = reverse("work-dept-target-list")
    client.force_login(world.head.user)
    body = {"org_unit": world.tree.dept_a.pk, "month": "2026-11", "volume_cases": "100"}
    created = client.post(url, body, content_type="application/json")
    assert created.status_code == 201 and created.json()["month"] == "2026-11"
    pk = created.json()["id"]
    changed = client.patch(
        reverse("work-dept-target-detail", args=[pk]), {"volume_cases": "90"}, content_type="application/json"
    )
    assert changed.json()["volume_cases"] == "90.00"
    assert (
        client.post(url, {**body, "org_unit": world.tree.dept_b.pk}, content_type="application/json").status_code == 404
    )
    client.force_login(world.cm1.user)
    assert client.get(url).status_code == 403
    client.force_login(world.clerk.user)
    assert [t["id"] for t in client.get(url).json()["results"]] == [pk]
    assert client.post(url, body, content_type="application/json").status_code == 403
