"""API: monthly plans and department targets.

``/api/work/plans/`` — list and retrieve (scoped), create = prepare the CM's plan for a month
(``{"month": "2026-11"}``), partial update (key tasks, notes, route and brand targets, focus retailers), and the
actions ``submit/``, ``approve/``, ``return/`` and ``revisions/``. ``/api/work/dept-targets/`` — department targets
(heads and the centre set them). Every write goes through cmdesk.work.services.plans (validated, atomic, audited,
scope-checked).
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import RestrictedModelViewSet
from cmdesk.org.models import staff_of

from ..models import DeptTarget, MonthlyPlan, PlanBrandTarget, PlanFocusRetailer, PlanRevision, PlanRouteTarget
from ..services import plans as svc


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}", "example": "2026-11"})
class MonthField(serializers.Field):
    """A month as "2026-11" (or any date in it); answered as "2026-11"."""

    def to_internal_value(self, data):
        if isinstance(data, dt.date):
            return data.replace(day=1)
        try:
            return dt.date.fromisoformat(f"{str(data)[:7]}-01")
        except ValueError as exc:
            raise serializers.ValidationError("Enter a month as YYYY-MM.") from exc

    def to_representation(self, value):
        return value.strftime("%Y-%m")


class RouteTargetSerializer(serializers.ModelSerializer):
    route_code = serializers.CharField(source="route.code", read_only=True)
    route_name = serializers.CharField(source="route.name", read_only=True)

    class Meta:
        model = PlanRouteTarget
        fields = ["id", "route", "route_code", "route_name", "suggested_cases", "target_cases", "reason", "basis"]
        read_only_fields = fields


class BrandTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanBrandTarget
        fields = ["id", "brand", "suggested_cases", "target_cases", "reason", "basis"]
        read_only_fields = fields


class FocusRetailerSerializer(serializers.ModelSerializer):
    licence_no = serializers.CharField(source="retailer.licence_no", read_only=True)
    shop_name = serializers.CharField(source="retailer.shop_name", read_only=True)

    class Meta:
        model = PlanFocusRetailer
        fields = ["id", "retailer", "licence_no", "shop_name", "reason", "detail", "suggested", "selected"]
        read_only_fields = fields


class MonthlyPlanSerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    month = MonthField(read_only=True)
    late = serializers.BooleanField(read_only=True)
    route_targets = RouteTargetSerializer(many=True, read_only=True)
    brand_targets = BrandTargetSerializer(many=True, read_only=True)
    focus_retailers = FocusRetailerSerializer(many=True, read_only=True)

    class Meta:
        model = MonthlyPlan
        fields = [
            "id",
            "cm",
            "cm_name",
            "month",
            "status",
            "version",
            "volume_suggested",
            "volume_target",
            "key_tasks",
            "notes",
            "due",
            "submitted_at",
            "late",
            "decided_at",
            "decided_by",
            "head_comment",
            "route_targets",
            "brand_targets",
            "focus_retailers",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PlanCreateSerializer(serializers.Serializer):
    month = MonthField()


class RouteTargetInput(serializers.Serializer):
    route = serializers.IntegerField()
    target_cases = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class BrandTargetInput(serializers.Serializer):
    brand = serializers.CharField(max_length=50)
    target_cases = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class FocusInput(serializers.Serializer):
    retailer = serializers.IntegerField()
    selected = serializers.BooleanField(default=True)
    detail = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PlanUpdateSerializer(serializers.Serializer):
    key_tasks = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    route_targets = RouteTargetInput(many=True, required=False)
    brand_targets = BrandTargetInput(many=True, required=False)
    focus_retailers = FocusInput(many=True, required=False)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class PlanRevisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanRevision
        fields = ["id", "version", "status", "snapshot", "comment", "at", "by"]
        read_only_fields = fields


class MonthlyPlanViewSet(RestrictedModelViewSet):
    """Monthly plans in the caller's scope (a CM: its own; a head: its department's)."""

    queryset = MonthlyPlan.objects.all()
    serializer_class = MonthlyPlanSerializer
    select_related = ("cm",)
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_permissions = {"submit": "change", "approve": "view", "return_plan": "view", "revisions": "view"}
    ordering_fields = ["month", "status", "submitted_at"]
    filterset_fields = ["status", "cm"]

    def get_queryset(self):
        queryset = super().get_queryset()
        month = self.request.query_params.get("month")
        if month and self.action == "list":
            try:
                queryset = queryset.filter(month=svc.month_of(month))
            except Exception as exc:  # noqa: BLE001 - a bad month is a 400
                raise serializers.ValidationError({"month": ["Enter a month as YYYY-MM."]}) from exc
        return queryset.prefetch_related("route_targets__route", "brand_targets", "focus_retailers__retailer")

    @extend_schema(parameters=[OpenApiParameter("month", OpenApiTypes.STR, description="only this month (YYYY-MM)")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _out(self, plan: MonthlyPlan, code: int = status.HTTP_200_OK) -> Response:
        plan = (
            self.get_queryset()
            .model.objects.prefetch_related("route_targets__route", "brand_targets", "focus_retailers__retailer")
            .get(pk=plan.pk)
        )
        return Response(MonthlyPlanSerializer(plan).data, status=code)

    @extend_schema(request=PlanCreateSerializer, responses=MonthlyPlanSerializer)
    def create(self, request, *args, **kwargs):
        body = PlanCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        staff = staff_of(request.user)
        if staff is None:
            raise serializers.ValidationError({"non_field_errors": ["Only customer managers prepare plans."]})
        existed = MonthlyPlan.objects.filter(cm=staff, month=body.validated_data["month"]).exists()
        plan = self.handle_service(svc.plan_prepare, staff, body.validated_data["month"], request.user)
        return self._out(plan, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(request=PlanUpdateSerializer, responses=MonthlyPlanSerializer)
    def partial_update(self, request, *args, **kwargs):
        plan = self.get_object()
        body = PlanUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = self.handle_service(svc.plan_update, plan, request.user, **body.validated_data)
        return self._out(plan)

    @extend_schema(request=None, responses=MonthlyPlanSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        plan = self.handle_service(svc.plan_submit, self.get_object(), request.user)
        return self._out(plan)

    @extend_schema(request=DecisionSerializer, responses=MonthlyPlanSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = self.handle_service(svc.plan_approve, self.get_object(), request.user, body.validated_data["comment"])
        return self._out(plan)

    @extend_schema(request=DecisionSerializer, responses=MonthlyPlanSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_plan(self, request, pk=None):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = self.handle_service(svc.plan_return, self.get_object(), request.user, body.validated_data["comment"])
        return self._out(plan)

    @extend_schema(request=None, responses=PlanRevisionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def revisions(self, request, pk=None):
        plan = self.get_object()
        return Response(PlanRevisionSerializer(plan.revisions.order_by("version", "id"), many=True).data)


class DeptTargetSerializer(serializers.ModelSerializer):
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True)
    month = MonthField()

    class Meta:
        model = DeptTarget
        fields = ["id", "org_unit", "org_unit_name", "month", "volume_cases", "note", "set_by", "updated_at"]
        read_only_fields = ["set_by", "updated_at"]
        validators = []  # one per unit and month: creating it again changes it (set_dept_target)


class DeptTargetViewSet(RestrictedModelViewSet):
    """Department volume targets: read by clerks, heads and the centre; set by heads (their department), the centre."""

    queryset = DeptTarget.objects.all()
    serializer_class = DeptTargetSerializer
    select_related = ("org_unit",)
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["month"]
    filterset_fields = ["org_unit"]

    def create(self, request, *args, **kwargs):
        body = DeptTargetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        target = self.handle_service(
            svc.set_dept_target,
            request.user,
            data["org_unit"],
            data["month"],
            data["volume_cases"],
            data.get("note", ""),
        )
        return Response(DeptTargetSerializer(target).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        target = self.get_object()
        body = DeptTargetSerializer(target, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("org_unit", target.org_unit) != target.org_unit or data.get("month", target.month) != target.month:
            raise serializers.ValidationError({"non_field_errors": ["Set another unit's or month's target with POST."]})
        target = self.handle_service(
            svc.set_dept_target,
            request.user,
            target.org_unit,
            target.month,
            data.get("volume_cases", target.volume_cases),
            data.get("note", target.note),
        )
        return Response(DeptTargetSerializer(target).data)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("work/plans", MonthlyPlanViewSet, basename="work-plan")
    router.register("work/dept-targets", DeptTargetViewSet, basename="work-dept-target")


urlpatterns: list = []
