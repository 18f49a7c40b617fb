from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from cmdesk.core.api import RestrictedModelViewSet
from cmdesk.org.models import Staff
from cmdesk.retail import services
from cmdesk.retail.filtersets import RetailerFilterSet, RouteFilterSet
from cmdesk.retail.models import Retailer, Route, TierChange

from .serializers import (
    RetailerSerializer,
    RouteAssignmentSerializer,
    RouteAssignSerializer,
    RouteSerializer,
    TierChangeSerializer,
)


class RetailerViewSet(RestrictedModelViewSet):
    """Retailers in the caller's scope. Writes go through the retail services (validated, audited, scope-checked)."""

    queryset = Retailer.objects.all()
    serializer_class = RetailerSerializer
    filterset_class = RetailerFilterSet
    ordering_fields = ["licence_no", "shop_name", "tier", "visit_order", "updated_at"]
    select_related = ("route",)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        serializer.instance = self.handle_service(
            services.retailer_create, actor=self.request.user, data=data, reason=reason
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        self.handle_service(
            services.retailer_update, actor=self.request.user, retailer=serializer.instance, data=data, reason=reason
        )
        serializer.instance.refresh_from_db()

    @extend_schema(responses=TierChangeSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="tier-history")
    def tier_history(self, request, pk=None):
        retailer = self.get_object()
        rows = TierChange.objects.filter(retailer=retailer).order_by("-effective", "-id")
        return Response(TierChangeSerializer(rows, many=True).data)


class RouteViewSet(RestrictedModelViewSet):
    """Routes in the caller's scope; a change of CM goes through /assign/ and keeps the assignment history."""

    queryset = Route.objects.all()
    serializer_class = RouteSerializer
    filterset_class = RouteFilterSet
    ordering_fields = ["code", "name", "length_km"]
    select_related = ("cm", "org_unit")
    action_permissions = {"assign": "change"}
    http_method_names = ["get", "put", "patch", "post", "head", "options"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = self.handle_service(services.route_create, actor=self.request.user, data=data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        self.handle_service(services.route_update, actor=self.request.user, route=serializer.instance, data=data)
        serializer.instance.refresh_from_db()

    @extend_schema(request=RouteAssignSerializer, responses=RouteSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        route = get_object_or_404(Route.objects.restrict(request.user, "change"), pk=pk)
        body = RouteAssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cm_id = body.validated_data["cm"]
        cm = None if cm_id is None else get_object_or_404(Staff.objects.restrict(request.user, "view"), pk=cm_id)
        self.handle_service(
            services.route_assign_cm,
            actor=request.user,
            route=route,
            cm=cm,
            started=body.validated_data["started"],
            reason=body.validated_data["reason"],
        )
        route.refresh_from_db()
        return Response(RouteSerializer(route).data)

    @extend_schema(responses=RouteAssignmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        route = self.get_object()
        return Response(RouteAssignmentSerializer(route.assignments.all(), many=True).data)
