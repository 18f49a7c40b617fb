"""API: allocation by tier under /api/supply/ (the same scope and rules as the pages).

* ``supply/allocations/`` — list / retrieve (with the tier rows and the outcome); ``POST`` creates a draft
  (heads, clerks, centre) from ``{"product": "<code>", "org_unit": "<code>", "week_start": "2026-11-02",
  "available": 1200, "variant": "tier", "min_tier": 1, "cap_per_retailer": null, "selected": ["<licence>"],
  "selected_only": false, "segment_weights": {}, "tier_weights": {}, "note": ""}``;
  ``POST …/{id}/publish/``, ``POST …/{id}/evaluate/`` ``{"as_of": null}``, ``POST …/{id}/propose/``
  ``{"available": null}`` (returns next week's draft), ``GET …/{id}/export/?kind=csv|xlsx``.
  A CM lists only published or evaluated allocations that reach its retailers.
* ``supply/allocation-lines/`` — list / retrieve (a CM: its own retailers' lines; filter ``allocation``,
  ``retailer``, ``week``); ``POST …/{id}/adjust/`` ``{"quantity": 2, "reason": "…"}``.
* ``supply/allocation-fairness/?from=…&to=…[&repeat=3&window=8&ratio=3&min_cut=2&scope=<org code>][&kind=xlsx]`` —
  heads, clerks and the centre.

Every write is a service (atomic, audited, scope-checked): a refusal is a 400 naming what is wrong, an object out of
scope a 404, a role without the permission a 403.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from cmdesk.catalog.models import Product
from cmdesk.core.api import ServiceMixin, as_drf_error
from cmdesk.core.scope import has_model_perm
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

from ..models import Allocation, AllocationAdjustment, AllocationLine, AllocationTier, AllocationVariant
from ..services import allocation as svc


# --- serializers ---------------------------------------------------------------------------------------------------
class AllocationTierSerializer(serializers.ModelSerializer):
    class Meta:
        model = AllocationTier
        fields = ["tier", "segment", "retailers", "quantity", "total"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    product_code = serializers.CharField(source="product.code", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    org_unit_code = serializers.CharField(source="org_unit.code", read_only=True)

    class Meta:
        model = Allocation
        fields = [
            "id", "product", "product_code", "product_name", "org_unit", "org_unit_code", "week_start", "available",
            "allotted_total", "variant", "min_tier", "cap_per_retailer", "selected_only", "segment_weights",
            "tier_weights", "status", "based_on", "note", "created_at", "published_at",
        ]  # fmt: skip
        read_only_fields = fields


class AllocationDetailSerializer(AllocationSerializer):
    tiers = AllocationTierSerializer(many=True, read_only=True)

    class Meta(AllocationSerializer.Meta):
        fields = [*AllocationSerializer.Meta.fields, "tiers", "outcome"]
        read_only_fields = fields


class AllocationCreateBody(serializers.Serializer):
    product = serializers.CharField(help_text="product code")
    org_unit = serializers.CharField(help_text="org unit code")
    week_start = serializers.DateField()
    available = serializers.IntegerField(min_value=1)
    variant = serializers.ChoiceField(choices=AllocationVariant.choices, default=AllocationVariant.TIER)
    min_tier = serializers.IntegerField(min_value=1, max_value=30, default=1)
    cap_per_retailer = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    selected = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    selected_only = serializers.BooleanField(required=False, default=False)
    segment_weights = serializers.DictField(required=False, default=dict)
    tier_weights = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class EvaluateBody(serializers.Serializer):
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class ProposeBody(serializers.Serializer):
    available = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class AdjustmentSerializer(serializers.ModelSerializer):
    by_name = serializers.CharField(source="by.name", read_only=True)

    class Meta:
        model = AllocationAdjustment
        fields = ["id", "line", "by", "by_name", "quantity_from", "quantity_to", "reason", "at"]
        read_only_fields = fields


class LineSerializer(serializers.ModelSerializer):
    licence = serializers.CharField(source="retailer.licence_no", read_only=True)
    shop_name = serializers.CharField(source="retailer.shop_name", read_only=True)
    cm = serializers.IntegerField(source="retailer.route.cm_id", read_only=True, allow_null=True)
    week_start = serializers.DateField(source="allocation.week_start", read_only=True)
    product_code = serializers.CharField(source="allocation.product.code", read_only=True)
    status = serializers.CharField(source="allocation.status", read_only=True)

    class Meta:
        model = AllocationLine
        fields = [
            "id", "allocation", "week_start", "product_code", "status", "retailer", "licence", "shop_name", "cm",
            "tier", "segment", "quantity", "final_quantity", "ordered", "demanded", "supplied",
        ]  # fmt: skip
        read_only_fields = fields


class AdjustBody(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0)
    reason = serializers.CharField(allow_blank=True, max_length=300)


# --- viewsets ------------------------------------------------------------------------------------------------------
def _file(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class AllocationViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Allocation.objects.all()
    serializer_class = AllocationSerializer
    filterset_fields = ["status", "week_start", "product", "org_unit", "variant"]
    ordering_fields = ["week_start", "created_at"]
    action_permissions = {"publish": "change", "evaluate": "change", "propose": "add", "export": "view"}

    def get_queryset(self):
        from cmdesk.core.permissions import request_action

        qs = svc.allocations_for(self.request.user, request_action(self, self.request))
        return qs.select_related("product", "org_unit").order_by("-week_start", "product__code", "id")

    def get_serializer_class(self):
        return AllocationSerializer if self.action == "list" else AllocationDetailSerializer

    @extend_schema(request=AllocationCreateBody, responses={201: AllocationDetailSerializer})
    def create(self, request):
        data = self.body(AllocationCreateBody)
        product = Product.objects.filter(code=data["product"]).first()
        unit = OrgUnit.objects.filter(code=data["org_unit"]).first()
        errors = {}
        if product is None:
            errors["product"] = [f"no product {data['product']!r}"]
        if unit is None:
            errors["org_unit"] = [f"no org unit {data['org_unit']!r}"]
        found = dict(Retailer.objects.filter(licence_no__in=data["selected"]).values_list("licence_no", "pk"))
        unknown = [x for x in data["selected"] if x not in found]
        if unknown:
            errors["selected"] = [f"unknown licences: {', '.join(unknown)}"]
        if errors:
            raise DrfValidationError(errors)
        req = svc.AllocationRequest(
            product=product,
            org_unit=unit,
            week_start=data["week_start"],
            available=data["available"],
            variant=data["variant"],
            min_tier=data["min_tier"],
            cap_per_retailer=data["cap_per_retailer"],
            selected=[found[x] for x in data["selected"]],
            selected_only=data["selected_only"],
            segment_weights=data["segment_weights"],
            tier_weights=data["tier_weights"],
            note=data["note"],
        )
        allocation = self.handle_service(svc.create_allocation, req, request.user)
        return Response(AllocationDetailSerializer(allocation).data, status=201)

    @extend_schema(request=None, responses=AllocationDetailSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        allocation = self.handle_service(svc.publish, self.get_object(), request.user)
        return Response(AllocationDetailSerializer(allocation).data)

    @extend_schema(request=EvaluateBody, responses=AllocationDetailSerializer)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        data = self.body(EvaluateBody)
        allocation = self.handle_service(svc.evaluate, self.get_object(), request.user, as_of=data["as_of"])
        return Response(AllocationDetailSerializer(allocation).data)

    @extend_schema(request=ProposeBody, responses={201: AllocationDetailSerializer})
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        data = self.body(ProposeBody)
        nxt = self.handle_service(svc.propose, self.get_object(), request.user, available=data["available"])
        return Response(AllocationDetailSerializer(nxt).data, status=201)

    @extend_schema(
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=["csv", "xlsx"], default="csv")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        allocation = self.get_object()
        content, content_type, name = self.handle_service(
            svc.export_file, allocation, request.query_params.get("kind", "csv"), request.user
        )
        return _file(content, content_type, name)


class LineViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = AllocationLine.objects.all()
    serializer_class = LineSerializer
    filterset_fields = ["allocation", "retailer", "tier", "segment"]
    action_permissions = {"adjust": "view"}

    def get_queryset(self):
        qs = svc.lines_for(self.request.user).select_related("retailer__route", "allocation__product")
        week = self.request.query_params.get("week")
        if week:
            try:
                qs = qs.filter(allocation__week_start=dt.date.fromisoformat(week))
            except ValueError as exc:
                raise DrfValidationError({"week": ["YYYY-MM-DD"]}) from exc
        return qs.order_by("allocation_id", "-tier", "retailer__licence_no")

    @extend_schema(request=AdjustBody, responses={201: AdjustmentSerializer})
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        line = self.get_object()
        data = self.body(AdjustBody)
        adjustment = self.handle_service(svc.adjust_line, line, request.user, data["quantity"], data["reason"])
        return Response(AdjustmentSerializer(adjustment).data, status=201)


def fairness_params(query) -> dict:
    """Period and thresholds from a query string (shared with the page); raises ValueError on bad input."""
    today = dt.date.today()
    date_to = dt.date.fromisoformat(query.get("to")) if query.get("to") else today
    date_from = dt.date.fromisoformat(query.get("from")) if query.get("from") else date_to - dt.timedelta(weeks=8)
    return {
        "date_from": date_from,
        "date_to": date_to,
        "repeat_min": int(query.get("repeat") or svc.FAIRNESS["repeat_min"]),
        "window_weeks": int(query.get("window") or svc.FAIRNESS["window_weeks"]),
        "share_ratio": float(query.get("ratio") or svc.FAIRNESS["share_ratio"]),
        "min_cut_retailers": int(query.get("min_cut") or svc.FAIRNESS["min_cut_retailers"]),
    }


def may_read_fairness(user) -> bool:
    """Heads, clerks and the centre: the adjustments' view permission and more than one's own scope."""
    return has_model_perm(user, AllocationAdjustment, "view") and not svc.is_own_scope(user)


class FairnessView(APIView):
    """CMs whose adjustments keep cutting the same retailers below their tier (seed 004, case 3)."""

    queryset = AllocationAdjustment.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
            OpenApiParameter("repeat", OpenApiTypes.INT),
            OpenApiParameter("window", OpenApiTypes.INT),
            OpenApiParameter("ratio", OpenApiTypes.FLOAT),
            OpenApiParameter("min_cut", OpenApiTypes.INT),
            OpenApiParameter("scope", OpenApiTypes.STR, description="org unit code"),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=["json", "xlsx"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        if not may_read_fairness(request.user):
            raise PermissionDenied
        try:
            params = fairness_params(request.query_params)
        except ValueError as exc:
            raise DrfValidationError({"non_field_errors": [str(exc)]}) from exc
        unit = None
        if request.query_params.get("scope"):
            unit = OrgUnit.objects.filter(code=request.query_params["scope"]).first()
            if unit is None:
                raise DrfValidationError({"scope": ["no such org unit"]})
        try:
            report = svc.fairness(request.user, org_unit=unit, **params)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
        if request.query_params.get("kind") == "xlsx":
            name = f"fairness-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.xlsx"
            return _file(svc.fairness_xlsx(report), svc.XLSX_CONTENT_TYPE, name)
        return Response(
            {
                "from": report.date_from,
                "to": report.date_to,
                "params": report.params,
                "rows": [
                    {
                        "staff": r.staff_id,
                        "name": r.name,
                        "employee_no": r.employee_no,
                        "department": r.department,
                        "allotted_retailers": r.allotted_retailers,
                        "cut_retailers": r.cut_retailers,
                        "cuts": len(r.cuts),
                        "share": r.share,
                        "department_share": r.department_share,
                        "flagged": r.flagged,
                        "flags": r.flags,
                        "repeated": r.repeated,
                        "evidence": [
                            {
                                "week": c.week,
                                "allocation": c.allocation_id,
                                "product_code": c.product_code,
                                "brand": c.brand,
                                "licence": c.licence,
                                "shop": c.shop,
                                "tier": c.tier,
                                "quantity": c.quantity,
                                "final": c.final,
                                "reason": c.reason,
                            }
                            for c in r.cuts
                        ],
                    }
                    for r in report.rows
                ],
            }
        )


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("supply/allocations", AllocationViewSet, basename="supply-allocation")
    router.register("supply/allocation-lines", LineViewSet, basename="supply-allocation-line")


urlpatterns: list = [
    path("supply/allocation-fairness/", FairnessView.as_view(), name="supply-allocation-fairness"),
]
