from django.contrib import admin

from . import models


@admin.register(models.TierScheme)
class TierSchemeAdmin(admin.ModelAdmin):
    list_display = ["name", "org_unit", "tier_count", "method", "period", "window_months"]


@admin.register(models.TierRun)
class TierRunAdmin(admin.ModelAdmin):
    list_display = ["org_unit", "window_start", "window_end", "effective", "status", "created_at"]
    list_filter = ["status"]


@admin.register(models.ClassScheme)
class ClassSchemeAdmin(admin.ModelAdmin):
    list_display = ["name", "preset", "active", "computed_at"]


@admin.register(models.Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["product", "org_unit", "week_start", "available", "allotted_total", "variant", "status"]
    list_filter = ["status", "variant"]
    raw_id_fields = ["selected"]


@admin.register(models.ForecastRun)
class ForecastRunAdmin(admin.ModelAdmin):
    list_display = ["org_unit", "level", "first_week", "horizon", "series", "seconds", "created_at"]


@admin.register(models.AlertRules)
class AlertRulesAdmin(admin.ModelAdmin):
    list_display = ["__str__", "preset", "order_ratio", "month_ratio", "peer_ratio"]


@admin.register(models.Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["kind", "retailer", "product", "period_start", "period_end", "severity", "status"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["retailer", "partner", "product"]


@admin.register(models.Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["alert", "inspector", "deadline", "outcome", "feedback_at"]
