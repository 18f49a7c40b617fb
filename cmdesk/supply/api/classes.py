"""API: the 4+X classes under /api/supply/ (the same scope as the pages).

* ``supply/class-schemes/`` — list / retrieve; create / update (the centre; dimensions validated, a 400 names the
  dimension and level); ``POST …/{id}/classify/`` classifies every open retailer; ``GET …/{id}/distribution/``
  counts per class overall and per county branch, of the retailers in the caller's scope.
* ``supply/retailer-classes/`` — list / retrieve (filter ``scheme``, ``code``, ``retailer``; a CM: its retailers);
  ``POST …/{id}/manual/`` ``{"dimension": "display", "level": "G"}`` sets a manual dimension's level (the centre).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import RestrictedModelViewSet, ServiceMixin
from cmdesk.core.scope import has_model_perm

from ..models import ClassScheme, RetailerClass
from ..services import classes as svc


class ClassSchemeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClassScheme
        fields = ["id", "name", "preset", "dimensions", "active", "updated_at", "computed_at"]
        read_only_fields = ["id", "updated_at", "computed_at"]


class RetailerClassSerializer(serializers.ModelSerializer):
    licence_no = serializers.CharField(source="retailer.licence_no", read_only=True)

    class Meta:
        model = RetailerClass
        fields = ["id", "scheme", "retailer", "licence_no", "code", "levels", "manual", "computed_at"]
        read_only_fields = fields


class ManualBody(serializers.Serializer):
    dimension = serializers.CharField(max_length=50)
    level = serializers.CharField(max_length=50)


class ClassifyResult(serializers.Serializer):
    retailers = serializers.IntegerField()
    classes = serializers.IntegerField()


class ClassBranchCountsSerializer(serializers.Serializer):
    name = serializers.CharField()
    counts = serializers.ListField(child=serializers.IntegerField())
    count = serializers.IntegerField()


class ClassDistributionSerializer(serializers.Serializer):
    codes = serializers.ListField(child=serializers.CharField())
    total = serializers.ListField(child=serializers.IntegerField())
    count = serializers.IntegerField()
    branches = ClassBranchCountsSerializer(many=True)


class ClassSchemeViewSet(RestrictedModelViewSet):
    queryset = ClassScheme.objects.all()
    serializer_class = ClassSchemeSerializer
    filterset_fields = ["active", "preset"]
    action_permissions = {"classify": "change", "distribution": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("-active", "name")

    def perform_create(self, serializer):
        scheme = ClassScheme(**serializer.validated_data)
        serializer.instance = self.handle_service(svc.save_scheme, scheme, self.request.user)

    def perform_update(self, serializer):
        scheme = serializer.instance
        for key, value in serializer.validated_data.items():
            setattr(scheme, key, value)
        serializer.instance = self.handle_service(svc.save_scheme, scheme, self.request.user)

    @extend_schema(request=None, responses=ClassifyResult)
    @action(detail=True, methods=["post"])
    def classify(self, request, pk=None):
        return Response(self.handle_service(svc.classify, self.get_object(), request.user))

    @extend_schema(responses=ClassDistributionSerializer)
    @action(detail=True, methods=["get"])
    def distribution(self, request, pk=None):
        scheme = self.get_object()
        if not has_model_perm(request.user, RetailerClass, "view"):
            raise PermissionDenied
        return Response(svc.distribution(scheme, RetailerClass.objects.restrict(request.user).filter(scheme=scheme)))


class RetailerClassViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = RetailerClass.objects.all()
    serializer_class = RetailerClassSerializer
    filterset_fields = ["scheme", "code", "retailer"]
    action_permissions = {"manual": "change"}

    def get_queryset(self):
        action_name = "change" if self.action == "manual" else "view"
        return (
            RetailerClass.objects.restrict(self.request.user, action_name)
            .select_related("retailer", "scheme")
            .order_by("scheme_id", "code", "retailer_id")
        )

    @extend_schema(request=ManualBody, responses=RetailerClassSerializer)
    @action(detail=True, methods=["post"])
    def manual(self, request, pk=None):
        body = ManualBody(data=request.data)
        body.is_valid(raise_exception=True)
        rc = self.handle_service(
            svc.set_manual_level, self.get_object(), body.validated_data["dimension"], body.validated_data["level"],
            request.user,
        )  # fmt: skip
        return Response(RetailerClassSerializer(rc).data)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("supply/class-schemes", ClassSchemeViewSet, basename="supply-class-scheme")
    router.register("supply/retailer-classes", RetailerClassViewSet, basename="supply-retailer-class")


urlpatterns: list = []
