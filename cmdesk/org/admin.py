from django.contrib import admin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from .models import CareerLevelChange, OrgUnit, Staff


@admin.register(OrgUnit)
class OrgUnitAdmin(TreeAdmin):
    form = movenodeform_factory(OrgUnit)
    list_display = ["name", "code", "kind"]
    search_fields = ["name", "code"]


class CareerLevelChangeInline(admin.TabularInline):
    model = CareerLevelChange
    fk_name = "staff"
    extra = 0
    readonly_fields = ["recorded_by", "recorded_at"]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ["employee_no", "name", "role", "org_unit", "career_level", "skill_grade", "active"]
    list_filter = ["role", "career_level", "skill_grade", "education", "active"]
    search_fields = ["employee_no", "name", "user__username"]
    autocomplete_fields = ["user", "org_unit"]
    list_select_related = ["org_unit"]
    inlines = [CareerLevelChangeInline]
