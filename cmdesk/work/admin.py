from django.contrib import admin

from . import models


@admin.register(models.WorkRules)
class WorkRulesAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "plan_due_day",
        "month_summary_due_day",
        "visits_per_day",
        "far_checkin_m",
        "min_visit_minutes",
    ]


@admin.register(models.ChecklistItem)
class ChecklistItemAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "answer", "visit_types", "required", "position", "active"]
    list_editable = ["position", "active"]


@admin.register(models.DeptTarget)
class DeptTargetAdmin(admin.ModelAdmin):
    list_display = ["org_unit", "month", "volume_cases"]
    list_filter = ["month"]
