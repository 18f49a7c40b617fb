"""API: tiers under /api/supply/ (the same scope as the pages).

* ``supply/tier-schemes/`` — list / retrieve (everyone with the view permission); create / update (the centre),
  validated by the service (weights sum to 1, bands ascending, 2..30 tiers …): a 400 names the field.
* ``supply/tier-runs/`` — list / retrieve (a CM: the runs that scored its retailers); ``POST`` ``{"org_unit": id,
  "as_of": "2026-10-31", "effective": null}`` recomputes (heads, clerks, the centre; a draft);
  ``POST …/{id}/apply/`` (the centre), ``POST …/{id}/discard/``.
* ``supply/tier-scores/`` — list / retrieve, filter ``run``, ``retailer``, ``change`` (up | down | unchanged | new).
* ``supply/tiers/retailer/{id}/`` — the retailer's explanation (tier, scheme in words, components, what moves it up).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from cmdesk.core.api import RestrictedModelViewSet, ServiceMixin
from cmdesk.core.permissions import ModelActionPermission
from cmdesk.core.scope import has_model_perm
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

from ..models import TierRun, TierScheme, TierScore
from ..services import tiers as svc


class TierSchemeSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField()

    class Meta:
        model = TierScheme
        fields = [
            "id", "org_unit", "name", "tier_count", "method", "period", "window_months", "weights", "volume_bands",
            "price_bands", "initial_rules", "ability_rules", "max_step", "hold_band", "shape", "updated_at", "text",
        ]  # fmt: skip
        read_only_fields = ["id", "updated_at", "text"]

    def get_text(self, obj: TierScheme) -> str:
        return svc.scheme_text(obj)


class TierRunSerializer(serializers.ModelSerializer):
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True)

    class Meta:
        model = TierRun
        fields = [
            "id", "scheme", "org_unit", "org_unit_name", "window_start", "window_end", "effective", "status",
            "settings_snapshot", "stats", "created_by", "created_at", "applied_at",
        ]  # fmt: skip
        read_only_fields = fields


class RecomputeBody(serializers.Serializer):
    org_unit = serializers.IntegerField()
    as_of = serializers.DateField()
    effective = serializers.DateField(required=False, allow_null=True)


class TierScoreSerializer(serializers.ModelSerializer):
    licence_no = serializers.CharField(source="retailer.licence_no", read_only=True)
    shop_name = serializers.CharField(source="retailer.shop_name", read_only=True)

    class Meta:
        model = TierScore
        fields = [
            "id", "run", "retailer", "licence_no", "shop_name", "score", "components", "rank", "tier_before",
            "tier_computed", "tier_after", "next_tier_score", "reason",
        ]  # fmt: skip
        read_only_fields = fields


class ExplanationSerializer(serializers.Serializer):
    retailer = serializers.IntegerField()
    tier = serializers.IntegerField(allow_null=True)
    tier_label = serializers.CharField()
    headline = serializers.CharField()
    move_up = serializers.CharField()
    scheme_text = serializers.CharField()
    components = serializers.ListField(child=serializers.DictField())
    needed = serializers.DictField(allow_null=True)
    run = serializers.IntegerField(allow_null=True)
    score = TierScoreSerializer(allow_null=True)
    history = serializers.ListField(child=serializers.DictField())


class TierSchemeViewSet(RestrictedModelViewSet):
    queryset = TierScheme.objects.all()
    serializer_class = TierSchemeSerializer
    select_related = ("org_unit",)

    def perform_create(self, serializer):
        scheme = TierScheme(**serializer.validated_data)
        serializer.instance = self.handle_service(svc.save_scheme, scheme, self.request.user)

    def perform_update(self, serializer):
        scheme = serializer.instance
        for key, value in serializer.validated_data.items():
            setattr(scheme, key, value)
        serializer.instance = self.handle_service(svc.save_scheme, scheme, self.request.user)


class TierRunViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = TierRun.objects.all()
    serializer_class = TierRunSerializer
    permission_classes = [ModelActionPermission]
    filterset_fields = ["status", "org_unit"]
    action_permissions = {"apply": "view", "discard": "add"}

    def get_queryset(self):
        return (
            TierRun.objects.restrict(self.request.user)
            .select_related("org_unit")
            .distinct()
            .order_by("-effective", "-id")
        )

    @extend_schema(request=RecomputeBody, responses={201: TierRunSerializer})
    def create(self, request):
        body = RecomputeBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        unit = get_object_or_404(OrgUnit.objects.get_queryset(), pk=data["org_unit"])
        run = self.handle_service(svc.recompute, unit, data["as_of"], request.user, effective=data.get("effective"))
        return Response(TierRunSerializer(run).data, status=201)

    @extend_schema(request=None, responses=TierRunSerializer)
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        if not request.user.has_perm("supply.apply_tierrun"):
            raise PermissionDenied
        return Response(TierRunSerializer(self.handle_service(svc.apply_run, self.get_object(), request.user)).data)

    @extend_schema(request=None, responses=TierRunSerializer)
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        return Response(TierRunSerializer(self.handle_service(svc.discard_run, self.get_object(), request.user)).data)


class TierScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = TierScore.objects.all()
    serializer_class = TierScoreSerializer
    permission_classes = [ModelActionPermission]
    filterset_fields = ["run", "retailer"]

    def get_queryset(self):
        qs = TierScore.objects.restrict(self.request.user).select_related("retailer")
        change = self.request.query_params.get("change")
        if change in svc.CHANGE_FILTERS:
            qs = qs.filter(svc.CHANGE_FILTERS[change])
        return qs.order_by("run_id", "-score", "retailer_id")

    @extend_schema(parameters=[OpenApiParameter("change", str, enum=list(svc.CHANGE_FILTERS))])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class TierExplanationView(APIView):
    """The retailer-facing explanation of a retailer's tier (scoped like the retailer: others' answer 404)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ExplanationSerializer)
    def get(self, request, pk: int):
        if not has_model_perm(request.user, TierScore, "view"):
            raise PermissionDenied
        retailer = get_object_or_404(Retailer.objects.restrict(request.user).select_related("route__org_unit"), pk=pk)
        e = svc.explain(retailer)
        data = {
            "retailer": retailer.pk,
            "tier": e["tier"],
            "tier_label": e["tier_label"],
            "headline": str(e["headline"]),
            "move_up": str(e["move_up"]),
            "scheme_text": str(e["scheme_text"]),
            "components": [
                {k: (str(v) if k in ("label", "unit") else v) for k, v in c.items()} for c in e["components"]
            ],
            "needed": e["needed"],
            "run": e["run"].pk if e["run"] else None,
            "score": TierScoreSerializer(e["score"]).data if e["score"] else None,
            "history": [
                {
                    "effective": h.effective.isoformat() if isinstance(h.effective, dt.date) else h.effective,
                    "tier_from": h.tier_from,
                    "tier_to": h.tier_to,
                    "source": h.source,
                    "reason": h.reason,
                }
                for h in e["history"]
            ],
        }
        return Response(data)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("supply/tier-schemes", TierSchemeViewSet, basename="supply-tier-scheme")
    router.register("supply/tier-runs", TierRunViewSet, basename="supply-tier-run")
    router.register("supply/tier-scores", TierScoreViewSet, basename="supply-tier-score")


urlpatterns: list = [
    path("supply/tiers/retailer/<int:pk>/", TierExplanationView.as_view(), name="supply-tier-explanation"),
]
