from django.contrib import admin

from .models import Retailer, Route, RouteAssignment, TierChange
from .services import search_key


class RouteAssignmentInline(admin.TabularInline):
    model = RouteAssignment
    extra = 0
    autocomplete_fields = ["cm"]


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "org_unit", "cm", "market_type", "length_km", "visit_cycle_days", "active"]
    list_filter = ["market_type", "active"]
    search_fields = ["code", "name", "cm__name"]
    autocomplete_fields = ["org_unit", "cm"]
    list_select_related = ["org_unit", "cm"]
    inlines = [RouteAssignmentInline]


class TierChangeInline(admin.TabularInline):
    model = TierChange
    extra = 0
    readonly_fields = ["recorded_by", "recorded_at"]


@admin.register(Retailer)
class RetailerAdmin(admin.ModelAdmin):
    list_display = [
        "licence_no",
        "shop_name",
        "owner_name",
        "route",
        "market_type",
        "business_format",
        "tier",
        "status",
    ]
    list_filter = ["market_type", "business_format", "status", "order_method", "settlement_method"]
    search_fields = ["licence_no", "shop_name", "owner_name", "search_key"]
    autocomplete_fields = ["route"]
    list_select_related = ["route"]
    inlines = [TierChangeInline]

    def save_model(self, request, obj, form, change):
        obj.search_key = search_key(obj.shop_name, obj.owner_name)
        super().save_model(request, obj, form, change)
