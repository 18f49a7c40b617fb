"""Staff forms. Choices are scoped: a user is only offered org units inside its own scope."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cmdesk.core.scope import user_scope
from cmdesk.core.widgets import DateInput

from .choices import CareerLevel, Education, Role, SkillGrade
from .models import OrgUnit, Staff


def org_units_in_scope(user: Any):
    """The org units a user may place records under: the whole tree, its subtree, or nothing."""
    scope = user_scope(user)
    units = OrgUnit.objects.all()
    if scope.kind == "all":
        return units
    if scope.kind == "org" and scope.org_path:
        return units.filter(path__startswith=scope.org_path)
    return units.none()


INDENT = "\u3000"  # ideographic space: indents Chinese names evenly


class OrgUnitChoiceField(forms.ModelChoiceField):
    """Indented by depth, so the tree reads as a tree in a plain select."""

    def label_from_instance(self, obj: OrgUnit) -> str:
        return INDENT * max(obj.depth - 1, 0) + obj.name


class StaffForm(forms.ModelForm):
    org_unit = OrgUnitChoiceField(queryset=OrgUnit.objects.none(), label=_("Org unit"))

    class Meta:
        model = Staff
        fields = ["org_unit", "phone", "education", "skill_grade"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = org_units_in_scope(user)


class StaffCreateForm(forms.Form):
    """A new login with its staff profile (cmdesk.org.services.staff_create)."""

    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput, required=False, help_text=_("Leave empty for no password.")
    )
    name = forms.CharField(label=_("Name"), max_length=50)
    employee_no = forms.CharField(label=_("Employee number"), max_length=20)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    org_unit = OrgUnitChoiceField(queryset=OrgUnit.objects.none(), label=_("Org unit"))
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    education = forms.ChoiceField(label=_("Education"), choices=[("", "---------"), *Education.choices], required=False)
    skill_grade = forms.ChoiceField(label=_("Skill grade"), choices=SkillGrade.choices, initial=SkillGrade.NONE)
    cm_since = forms.DateField(
        label=_("Customer manager since"),
        required=False,
        widget=DateInput(),
    )

    def __init__(self, *args: Any, user: Any, instance: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org_unit"].queryset = org_units_in_scope(user)


class CareerLevelForm(forms.Form):
    """Move a staff member on the professional ladder (cmdesk.org.services.staff_set_career_level)."""

    level = forms.ChoiceField(label=_("New career level"), choices=CareerLevel.choices)
    effective = forms.DateField(label=_("Effective date"), widget=DateInput())
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, user: Any, staff: Staff, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"effective": timezone.localdate(), "level": staff.career_level})
        super().__init__(*args, **kwargs)
