"""Writes on staff: career level changes keep their history."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import in_scope

from .choices import CareerLevel
from .models import CareerLevelChange, Staff


@transaction.atomic
def staff_set_career_level(
    *, actor: Any, staff: Staff, level: str, effective: datetime.date, reason: str
) -> CareerLevelChange:
    """Move a staff member on the professional ladder (实习 → 初级 → 中级 → 高级 → 首席), with a reason."""
    if not in_scope(actor, staff, "change") or not actor.has_perm("org.add_careerlevelchange"):
        raise OutOfScope
    if level not in CareerLevel.values:
        raise ValidationError({"level": _("Unknown career level.")})
    if not reason.strip():
        raise ValidationError({"reason": _("A reason is required.")})
    staff = Staff.objects.select_for_update().get(pk=staff.pk)
    if staff.career_level == level:
        raise ValidationError({"level": _("The staff member is already at this level.")})
    with acting_as(actor):
        change = CareerLevelChange.objects.create(
            staff=staff,
            level_from=staff.career_level,
            level_to=level,
            effective=effective,
            reason=reason,
            recorded_by=actor,
        )
        staff.career_level = level
        staff.save(update_fields=["career_level"])
    return change


def role_group(role: str):
    from django.contrib.auth.models import Group

    from .roles import group_name

    return Group.objects.get(name=group_name(role))


@transaction.atomic
def staff_create(
    *, actor: Any, username: str, password: str | None, name: str, role: str, org_unit, employee_no: str, **fields: Any
) -> Staff:
    """Create a login and its staff profile in the role's group. Administrators become superusers."""
    from django.contrib.auth import get_user_model

    from .choices import Role

    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    user = User(username=username, first_name=name, is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.groups.add(role_group(role))
    staff = Staff(user=user, name=name, role=role, org_unit=org_unit, employee_no=employee_no, **fields)
    staff.full_clean()
    with acting_as(actor):
        staff.save()
    return staff
