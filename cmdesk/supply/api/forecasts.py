"""API: weekly demand forecasts under /api/supply/ (the same scope as the pages).

* ``supply/forecast-runs/`` — list / retrieve the runs in scope (a CM: those that forecast its retailers), with the
  metrics (backtest accuracy of the chosen models, naive and seasonal naive baselines, wins per model, seconds,
  realised accuracy once scored); ``POST`` (heads, clerks, centre: ``supply.add_forecastrun``) runs a forecast:
  ``{"org_unit": "<code>", "history_end": "2026-10-31", "horizon": 4, "level": "retailer"|"retailer_brand",
  "backtest_weeks": 8}`` → 201 with the run. Filter ``?level=``.
* ``supply/forecasts/`` — list / retrieve rows (a CM: its own retailers'); filters ``run``, ``retailer``, ``week``
  (a Monday, ``YYYY-MM-DD``), ``brand`` (``""`` for the retailer level: ``?brand=``).

A refusal is a 400 naming what is wrong, an org unit outside the caller's scope a 403, a row out of scope a 404.
"""

from __future__ import annotations

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import RestrictedModelViewSet
from cmdesk.org.models import OrgUnit

from ..models import Forecast, ForecastLevel, ForecastRun
from ..services import forecasts as svc


class ForecastRunSerializer(serializers.ModelSerializer):
    org_unit_code = serializers.CharField(source="org_unit.code", read_only=True)

    class Meta:
        model = ForecastRun
        fields = [
            "id", "org_unit", "org_unit_code", "level", "history_end", "first_week", "horizon", "models_tried",
            "backtest_weeks", "metrics", "series", "seconds", "data_version", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ForecastRunCreateSerializer(serializers.Serializer):
    org_unit = serializers.CharField(help_text="org unit code")
    history_end = serializers.DateField()
    horizon = serializers.IntegerField(min_value=1, max_value=26, default=4)
    level = serializers.ChoiceField(choices=ForecastLevel.choices, default=ForecastLevel.RETAILER)
    backtest_weeks = serializers.IntegerField(min_value=1, max_value=52, default=8)


class ForecastSerializer(serializers.ModelSerializer):
    licence = serializers.CharField(source="retailer.licence_no", read_only=True)
    shop_name = serializers.CharField(source="retailer.shop_name", read_only=True)

    class Meta:
        model = Forecast
        fields = [
            "id", "run", "retailer", "licence", "shop_name", "brand", "week_start", "model", "quantity", "suggested",
            "backtest_accuracy", "naive_accuracy", "actual",
        ]  # fmt: skip
        read_only_fields = fields


class ForecastRunViewSet(RestrictedModelViewSet):
    queryset = ForecastRun.objects.all()
    serializer_class = ForecastRunSerializer
    select_related = ("org_unit",)
    filterset_fields = ["level"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return svc.runs_for(self.request.user).order_by("-history_end", "-id")

    @extend_schema(request=ForecastRunCreateSerializer, responses={201: ForecastRunSerializer})
    def create(self, request, *args, **kwargs):
        data = self.body(ForecastRunCreateSerializer)
        unit = OrgUnit.objects.filter(code=data["org_unit"]).first()
        if unit is None:
            raise DrfValidationError({"org_unit": [f"no org unit {data['org_unit']!r}"]})
        run = self.handle_service(
            svc.create_run,
            org_unit=unit,
            history_end=data["history_end"],
            user=request.user,
            horizon=data["horizon"],
            level=data["level"],
            backtest_weeks=data["backtest_weeks"],
        )
        return Response(ForecastRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ForecastViewSet(RestrictedModelViewSet):
    queryset = Forecast.objects.all()
    serializer_class = ForecastSerializer
    select_related = ("retailer",)
    filterset_fields = ["run", "retailer"]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        qs = super().get_queryset().order_by("run_id", "retailer_id", "brand", "week_start")
        params = self.request.query_params
        if "week" in params:
            try:
                qs = qs.filter(week_start=dt.date.fromisoformat(params["week"]))
            except ValueError as exc:
                raise DrfValidationError({"week": ["give a Monday as YYYY-MM-DD"]}) from exc
        if "brand" in params:
            qs = qs.filter(brand=params["brand"])
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("week", OpenApiTypes.DATE, description="the week's Monday"),
            OpenApiParameter("brand", OpenApiTypes.STR, description="key brand; empty for the retailer level"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("supply/forecast-runs", ForecastRunViewSet, basename="forecastrun")
    router.register("supply/forecasts", ForecastViewSet, basename="forecast")


urlpatterns: list = []
