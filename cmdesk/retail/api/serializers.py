from rest_framework import serializers

from cmdesk.retail.models import Retailer, Route, RouteAssignment, TierChange


class RouteSerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True, default=None)
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True)

    class Meta:
        model = Route
        fields = [
            "id",
            "code",
            "name",
            "org_unit",
            "org_unit_name",
            "cm",
            "cm_name",
            "market_type",
            "length_km",
            "visit_cycle_days",
            "order_weekdays",
            "delivery_weekdays",
            "active",
        ]
        read_only_fields = ["cm"]  # changed through /assign/, which keeps the history


class RouteAssignSerializer(serializers.Serializer):
    cm = serializers.IntegerField(allow_null=True)
    started = serializers.DateField()
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class RouteAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = RouteAssignment
        fields = ["id", "route", "cm", "started", "ended", "reason"]


class RetailerSerializer(serializers.ModelSerializer):
    route_code = serializers.CharField(source="route.code", read_only=True)
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="why (kept with a tier change)"
    )

    class Meta:
        model = Retailer
        fields = [
            "id",
            "licence_no",
            "shop_name",
            "owner_name",
            "phone",
            "address",
            "latitude",
            "longitude",
            "market_type",
            "business_format",
            "floor_area",
            "display_fixtures",
            "order_method",
            "settlement_method",
            "tier",
            "credit_grade",
            "status",
            "route",
            "route_code",
            "visit_order",
            "opened_on",
            "closed_on",
            "created_at",
            "updated_at",
            "reason",
        ]
        read_only_fields = ["created_at", "updated_at"]


class TierChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TierChange
        fields = ["id", "retailer", "tier_from", "tier_to", "effective", "source", "reason", "recorded_at"]
