import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.tests.factories import StaffFactory, build_org_tree
from cmdesk.org.choices import CareerLevel, Role
from cmdesk.org.models import CareerLevelChange, Staff
from cmdesk.org.services import staff_create, staff_set_career_level

pytestmark = pytest.mark.django_db


def test_career_level_change_keeps_history_and_audit():
    tree = build_org_tree()
    head = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a)
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1, career_level=CareerLevel.JUNIOR)
    change = staff_set_career_level(
        actor=head.user, staff=cm, level=CareerLevel.INTERMEDIATE, effective=dt.date(2026, 11, 1), reason="考核优秀"
    )
    assert (change.level_from, change.level_to, change.recorded_by) == ("junior", "intermediate", head.user)
    assert Staff.objects.get(pk=cm.pk).career_level == CareerLevel.INTERMEDIATE
    entry = LogEntry.objects.get_for_object(cm).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.changes_dict["career_level"] == ["junior", "intermediate"]
    assert entry.actor == head.user


def test_career_level_change_needs_a_reason_and_scope():
    tree = build_org_tree()
    head_b = StaffFactory(role=Role.HEAD, org_unit=tree.dept_b)
    head_a = StaffFactory(role=Role.HEAD, org_unit=tree.dept_a)
    cm = StaffFactory(role=Role.CM, org_unit=tree.area_a1, career_level=CareerLevel.JUNIOR)
    with pytest.raises(OutOfScope):
        staff_set_career_level(actor=head_b.user, staff=cm, level="senior", effective=dt.date(2026, 1, 1), reason="x")
    with pytest.raises(ValidationError) as err:
        staff_set_career_level(actor=head_a.user, staff=cm, level="senior", effective=dt.date(2026, 1, 1), reason=" ")
    assert "reason" in err.value.error_dict
    assert CareerLevelChange.objects.count() == 0
    assert Staff.objects.get(pk=cm.pk).career_level == CareerLevel.JUNIOR


def test_staff_create_puts_the_login_in_its_role_group():
    tree = build_org_tree()
    staff = staff_create(
        actor=None,
        username="zhang",
        password="s3cret-pass",
        name="张三",
        role=Role.CLERK,
        org_unit=tree.dept_a,
        employee_no="E90001",
    )
    assert staff.user.check_password("s3cret-pass")
    assert list(staff.user.groups.values_list("name", flat=True)) == ["role:clerk"]
    assert staff.user.has_perm("retail.change_retailer")
    assert not staff.user.has_perm("catalog.change_product")
    with pytest.raises(ValidationError):
        staff_create(
            actor=None,
            username="zhang",
            password=None,
            name="x",
            role=Role.CM,
            org_unit=tree.dept_a,
            employee_no="E90002",
        )
