import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import CareerLevel, Education, Role, SkillGrade
from .models import OrgUnit, Staff


class StaffFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Search"))
    org_unit = django_filters.ModelChoiceFilter(
        queryset=OrgUnit.objects.all(), method="filter_org", label=_("Org unit")
    )
    role = django_filters.ChoiceFilter(choices=Role.choices, label=_("Role"))
    education = django_filters.ChoiceFilter(choices=Education.choices, label=_("Education"))
    skill_grade = django_filters.ChoiceFilter(choices=SkillGrade.choices, label=_("Skill grade"))
    career_level = django_filters.ChoiceFilter(choices=CareerLevel.choices, label=_("Career level"))
    active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Staff
        fields = ["q", "org_unit", "role", "education", "skill_grade", "career_level", "active"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value) | Q(employee_no__icontains=value) | Q(phone__icontains=value))

    def filter_org(self, queryset, name, value):
        return queryset.filter(org_unit__path__startswith=value.path) if value else queryset


class OrgUnitFilterSet(django_filters.FilterSet):
    kind = django_filters.CharFilter(label=_("Kind"))

    class Meta:
        model = OrgUnit
        fields = ["kind"]
