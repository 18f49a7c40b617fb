"""The monthly plan's workflow through the services: prepare, edit, submit, return, resubmit, approve, locked."""

import datetime as dt
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import StaffFactory
from cmdesk.org.choices import Role
from cmdesk.work.models import DeptTarget, FocusReason, MonthlyPlan, PlanRevision, PlanStatus
from cmdesk.work.services import plans as svc

from .world import FALLING, SPIKE, STOPPED, build_work_world

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 10, 20)


def at(day: int, month: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, month, day, 12, 0))


@pytest.fixture
def world():
    return build_work_world()


@pytest.fixture
def plan(world):
    return svc.plan_prepare(world.cm1, "2026-11", world.cm1.user, today=TODAY)


def test_prepare_fills_the_draft_with_the_suggestions(world, plan):
    assert plan.status == PlanStatus.DRAFT and plan.version == 0
    assert plan.month == dt.date(2026, 11, 1)
    assert timezone.localtime(plan.due).date() == dt.date(2026, 10, 25)  # rules' default due day 25
    assert plan.volume_suggested == plan.volume_target == Decimal("2.44")
    line = plan.route_targets.get()
    assert (line.route, line.suggested_cases, line.target_cases) == (world.route1, Decimal("2.44"), Decimal("2.44"))
    assert line.basis["trend"] == "0.9081"
    assert dict(plan.brand_targets.values_list("brand", "suggested_cases")) == {
        "红塔山": Decimal("1.77"),
        "芙蓉王": Decimal("0.67"),
    }
    focus = dict(plan.focus_retailers.values_list("retailer_id", "reason"))
    assert focus == {
        world.shops1[STOPPED].pk: FocusReason.STOPPED,
        world.shops1[FALLING].pk: FocusReason.FALLING,
        world.shops1[SPIKE].pk: FocusReason.ANOMALY,
    }
    assert plan.focus_retailers.filter(suggested=True, selected=True).count() == 3
    # preparing again returns the same plan
    assert svc.plan_prepare(world.cm1, dt.date(2026, 11, 15), world.cm1.user) == plan
    assert MonthlyPlan.objects.count() == 1
    assert LogEntry.objects.get_for_object(plan).get().actor == world.cm1.user


def test_only_the_cm_prepares_its_own_plan(world):
    with pytest.raises(PermissionDenied):
        svc.plan_prepare(world.cm1, "2026-11", world.cm2.user)
    with pytest.raises(PermissionDenied):
        svc.plan_prepare(world.cm1, "2026-11", world.head.user)
    with pytest.raises(ValidationError) as err:
        svc.plan_prepare(world.cm1, "November", world.cm1.user)
    assert "month" in err.value.message_dict
    assert not MonthlyPlan.objects.exists()


def test_full_workflow(world, plan, monkeypatch):
    cm, head = world.cm1.user, world.head.user
    route = world.route1.pk
    # a target different from the suggestion needs a reason; nothing is written when it is missing
    with pytest.raises(ValidationError) as err:
        svc.plan_update(plan, cm, route_targets=[{"route": route, "target_cases": "3"}], key_tasks="不该保存")
    assert list(err.value.message_dict) == ["route_targets"]
    plan.refresh_from_db()
    assert plan.key_tasks == "" and plan.route_targets.get().target_cases == Decimal("2.44")
    with pytest.raises(ValidationError) as err:
        svc.plan_update(plan, cm, brand_targets=[{"brand": "红塔山", "target_cases": "2", "reason": " "}])
    assert list(err.value.message_dict) == ["brand_targets"]
    with pytest.raises(ValidationError):
        svc.plan_update(plan, cm, route_targets=[{"route": route, "target_cases": "-1", "reason": "x"}])

    plan = svc.plan_update(
        plan,
        cm,
        key_tasks="1. 走访一线03号店，了解停订原因\n2. 培育红塔山",
        route_targets=[{"route": route, "target_cases": "3", "reason": "新开两家便利店"}],
        brand_targets=[{"brand": "红塔山", "target_cases": "1.77"}],
        focus_retailers=[
            {"retailer": world.shops1[SPIKE].pk, "selected": False},
            {"retailer": world.shops1[0].pk, "selected": True, "detail": "新品上柜"},
        ],
    )
    assert plan.volume_target == Decimal("3.00")
    assert plan.route_targets.get().reason == "新开两家便利店"
    assert plan.focus_retailers.get(retailer=world.shops1[SPIKE]).selected is False
    manual = plan.focus_retailers.get(retailer=world.shops1[0])
    assert (manual.reason, manual.suggested, manual.detail) == (FocusReason.MANUAL, False, "新品上柜")
    with pytest.raises(ValidationError):  # another CM's retailer cannot be a focus retailer
        svc.plan_update(plan, cm, focus_retailers=[{"retailer": world.shops2[0].pk}])

    monkeypatch.setattr(svc, "_now", lambda: at(24))
    plan = svc.plan_submit(plan, cm)
    assert (plan.status, plan.version, plan.submitted_at, plan.late) == (PlanStatus.SUBMITTED, 1, at(24), False)
    v1 = plan.revisions.get()
    assert (v1.version, v1.status, v1.by) == (1, PlanStatus.SUBMITTED, cm)
    assert v1.snapshot["route_targets"][0]["target_cases"] == "3.00"
    assert v1.snapshot["route_targets"][0]["reason"] == "新开两家便利店"
    assert {f["retailer"] for f in v1.snapshot["focus_retailers"]} == {
        world.shops1[STOPPED].pk,
        world.shops1[FALLING].pk,
        world.shops1[0].pk,
    }
    # submitted: no editing until it is returned
    with pytest.raises(ValidationError):
        svc.plan_update(plan, cm, key_tasks="x")

    with pytest.raises(ValidationError) as err:
        svc.plan_return(plan, head, "  ")
    assert list(err.value.message_dict) == ["comment"]
    plan = svc.plan_return(plan, head, "一线03号店停订原因要写清楚")
    assert (plan.status, plan.head_comment, plan.decided_by) == (
        PlanStatus.RETURNED,
        "一线03号店停订原因要写清楚",
        head,
    )

    plan = svc.plan_update(plan, cm, key_tasks="1. 一线03号店店主住院，月中复业后恢复订货")
    monkeypatch.setattr(svc, "_now", lambda: at(27))
    plan = svc.plan_submit(plan, cm)
    assert (plan.status, plan.version, plan.late) == (PlanStatus.SUBMITTED, 2, True)  # after the 25th: late

    plan = svc.plan_approve(plan, head, "同意")
    assert plan.status == PlanStatus.APPROVED
    with pytest.raises(ValidationError) as err:
        svc.plan_update(plan, cm, key_tasks="改")
    assert err.value.code == "locked"
    with pytest.raises(ValidationError):
        svc.plan_submit(plan, cm)
    with pytest.raises(ValidationError):
        svc.plan_return(plan, head, "再改")

    revisions = list(PlanRevision.objects.filter(plan=plan).order_by("id"))
    assert [(r.version, r.status) for r in revisions] == [
        (1, PlanStatus.SUBMITTED),
        (1, PlanStatus.RETURNED),
        (2, PlanStatus.SUBMITTED),
        (2, PlanStatus.APPROVED),
    ]
    assert revisions[1].comment == "一线03号店停订原因要写清楚"
    assert revisions[0].snapshot["key_tasks"].startswith("1. 走访一线03号店")
    assert revisions[2].snapshot["key_tasks"] == "1. 一线03号店店主住院，月中复业后恢复订货"


def test_scope_of_the_workflow(world, plan):
    other_head = StaffFactory(role=Role.HEAD, org_unit=world.tree.dept_b, employee_no="head-b")
    with pytest.raises(OutOfScope):
        svc.plan_update(plan, world.cm2.user, key_tasks="x")
    with pytest.raises(OutOfScope):
        svc.plan_submit(plan, world.inspector.user)
    with pytest.raises(PermissionDenied):  # the head sees the plan but only its CM edits it
        svc.plan_update(plan, world.head.user, key_tasks="x")
    plan = svc.plan_submit(plan, world.cm1.user)
    with pytest.raises(PermissionDenied):  # a CM does not approve its own plan
        svc.plan_approve(plan, world.cm1.user)
    with pytest.raises(PermissionDenied):  # the clerk reads but does not review
        svc.plan_approve(plan, world.clerk.user)
    with pytest.raises(OutOfScope):
        svc.plan_approve(plan, other_head.user)
    with pytest.raises(OutOfScope):
        svc.plan_return(plan, world.inspector.user, "x")
    assert svc.plan_approve(plan, world.centre.user).status == PlanStatus.APPROVED


def test_dept_target(world):
    target = svc.set_dept_target(world.head.user, world.tree.dept_a, "2026-11", "120.5", "十一月任务")
    assert (target.month, target.volume_cases, target.set_by) == (
        dt.date(2026, 11, 1),
        Decimal("120.50"),
        world.head.user,
    )
    again = svc.set_dept_target(world.head.user, world.tree.dept_a, dt.date(2026, 11, 1), 130)
    assert again.pk == target.pk and again.volume_cases == Decimal("130.00")
    with pytest.raises(ValidationError) as err:
        svc.set_dept_target(world.head.user, world.tree.dept_a, "2026-12", "-5")
    assert "volume_cases" in err.value.message_dict
    with pytest.raises(OutOfScope):
        svc.set_dept_target(world.head.user, world.tree.dept_b, "2026-11", 10)
    with pytest.raises(OutOfScope):
        svc.set_dept_target(world.cm1.user, world.tree.dept_a, "2026-11", 10)
    with pytest.raises(PermissionDenied):
        svc.set_dept_target(world.clerk.user, world.tree.dept_a, "2026-12", 10)
    assert svc.set_dept_target(world.centre.user, world.tree.dept_b, "2026-11", 50).org_unit == world.tree.dept_b
    assert DeptTarget.objects.count() == 2
    plan = svc.plan_prepare(world.cm1, "2026-11", world.cm1.user, today=TODAY)
    assert plan.route_targets.get().basis["dept_target_cases"] == "130.00"


def test_overview_on_time_late_missing(world, monkeypatch):
    head = world.head.user
    monkeypatch.setattr(svc, "_now", lambda: at(24))
    plan = svc.plan_prepare(world.cm1, "2026-11", world.cm1.user, today=TODAY)
    svc.plan_submit(plan, world.cm1.user)
    rows = {r.cm: r.state for r in svc.plan_overview(head, "2026-11")}
    assert rows == {world.cm1: "on_time", world.cm2: "pending"}  # cm3 is in the other branch
    monkeypatch.setattr(svc, "_now", lambda: at(2, 11))
    rows = {r.cm: r.state for r in svc.plan_overview(head, "2026-11")}
    assert rows == {world.cm1: "on_time", world.cm2: "missing"}
    plan2 = svc.plan_prepare(world.cm2, "2026-11", world.cm2.user, today=TODAY)
    svc.plan_submit(plan2, world.cm2.user)
    rows = {r.cm: r.state for r in svc.plan_overview(head, "2026-11")}
    assert rows == {world.cm1: "on_time", world.cm2: "late"}
    assert {r.cm for r in svc.plan_overview(world.centre.user, "2026-11")} == {world.cm1, world.cm2, world.cm3}
