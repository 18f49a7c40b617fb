import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from .models import Staff

TABLE_ATTRS = {"class": "table table-sm table-hover align-middle text-nowrap"}


class StaffTable(tables.Table):
    employee_no = tables.Column(linkify=True)
    name = tables.Column(linkify=True)
    org_unit = tables.Column(accessor="org_unit__name", verbose_name=_("Org unit"), order_by=("org_unit__path",))
    active = tables.BooleanColumn()

    class Meta:
        model = Staff
        fields = (
            "employee_no",
            "name",
            "role",
            "org_unit",
            "phone",
            "education",
            "skill_grade",
            "career_level",
            "cm_since",
            "active",
        )
        attrs = TABLE_ATTRS
        empty_text = _("No staff.")
