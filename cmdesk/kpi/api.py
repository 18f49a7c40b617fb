"""The KPI API: the dashboards' data as JSON, within the caller's scope.

    GET /api/kpi/?period=2026-10&by=cm,class&scope=A&indicators=cases,avg_price&engine=duckdb
    GET /api/kpi/indicators/

400 for a bad period, grouping, indicator, engine or source; 404 for a scope code outside the caller's scope (the
same answer as for a code that does not exist); 403 without the ``retail.view_retailer`` permission.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cmdesk.analytics.engines import ENGINES, EngineError
from cmdesk.analytics.indicators import DEFAULT, INDICATORS
from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.analytics.query import DIMENSIONS, QueryError
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
from cmdesk.retail.models import Retailer

from .dashboards import default_period
from .present import label
from .selectors import kpi, resolve_scope

SOURCES = ("auto", "aggregates", "lines")


class CanViewRetailers(permissions.BasePermission):
    """Logged in, and the role may view retailers (what the indicators are computed from)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and has_model_perm(user, Retailer, "view"))


class KpiColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(help_text="in the request's language")
    unit = serializers.CharField(
        allow_null=True, help_text="case, carton, yuan, yuan/carton, yuan/case, ratio, count; null for grouping columns"
    )


class KpiScopeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="city, org, route, cm, retailer (none: the caller sees nothing)")
    code = serializers.CharField(help_text="empty for the caller's whole scope when it has no code")
    label = serializers.CharField()


class KpiResultSerializer(serializers.Serializer):
    period = serializers.CharField()
    scope = KpiScopeSerializer()
    source = serializers.CharField(help_text="aggregates or lines")
    engine = serializers.CharField()
    columns = KpiColumnSerializer(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="one object per group: grouping columns and raw indicator values "
        "(ratios as fractions, amounts in yuan; null where a ratio has no denominator)",
    )


class IndicatorSerializer(serializers.Serializer):
    name = serializers.CharField()
    label_zh = serializers.CharField()
    label_en = serializers.CharField()
    unit = serializers.CharField()
    formula = serializers.CharField()
    digits = serializers.IntegerField()
    default = serializers.BooleanField(help_text="in the dashboards' headline set")


ERROR = inline_serializer("KpiError", {"detail": serializers.CharField()})


def _split(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


class KpiView(APIView):
    """Indicators for a period, grouped and scoped: the data behind the dashboards."""

    permission_classes = [CanViewRetailers]

    @extend_schema(
        operation_id="kpi_query",
        summary="Indicators for a period, grouped and scoped",
        parameters=[
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                description="2026-10 (month), 2026-W42 (week), 2026-Q3 (quarter), "
                "2026 (year) or 2026-10-01..2026-10-15 (range); default: the latest month with order data",
            ),
            OpenApiParameter(
                "by",
                OpenApiTypes.STR,
                description="comma-separated grouping: "
                f"{', '.join(DIMENSIONS)}; `org` is the level below the scope (empty: one total row)",
            ),
            OpenApiParameter(
                "scope",
                OpenApiTypes.STR,
                description="org unit code, route code, customer manager's employee "
                "number or retailer licence; default: the caller's whole scope",
            ),
            OpenApiParameter(
                "indicators",
                OpenApiTypes.STR,
                description="comma-separated indicator names (see /api/kpi/indicators/); default: all",
            ),
            OpenApiParameter("engine", OpenApiTypes.STR, enum=list(ENGINES), description="default: the server's"),
            OpenApiParameter(
                "source",
                OpenApiTypes.STR,
                enum=list(SOURCES),
                description="aggregates, raw order lines, or auto (default)",
            ),
        ],
        responses={
            200: KpiResultSerializer,
            400: OpenApiResponse(ERROR, description="bad period, grouping, indicator, engine or source"),
            403: OpenApiResponse(description="the role may not view retailers"),
            404: OpenApiResponse(description="the scope code is unknown or outside the caller's scope"),
        },
    )
    def get(self, request: Request) -> Response:
        q = request.query_params
        text = (q.get("period") or "").strip()
        try:
            period = Period.parse(text) if text else default_period()
        except PeriodError as exc:
            raise exceptions.ValidationError({"detail": str(exc)}) from exc
        scope = (q.get("scope") or "").strip() or None
        try:
            target = resolve_scope(request.user, scope)
        except OutOfScope as exc:
            raise exceptions.NotFound(
                f"no org unit, route, customer manager or retailer {scope!r} in your scope"
            ) from exc
        by = []
        for part in _split(q.get("by")):
            if part == "org":
                if not target.next_level:
                    raise exceptions.ValidationError({"detail": "by=org: the scope has no level below it"})
                part = target.next_level
            if part not in DIMENSIONS:
                raise exceptions.ValidationError(
                    {"detail": f"unknown grouping {part!r}; choose from org, {', '.join(DIMENSIONS)}"}
                )
            by.append(part)
        names = _split(q.get("indicators"))
        if names == ["all"]:
            names = []
        unknown = [n for n in names if n not in INDICATORS]
        if unknown:
            raise exceptions.ValidationError(
                {"detail": f"unknown indicator {', '.join(unknown)}; see /api/kpi/indicators/"}
            )
        engine = (q.get("engine") or "").strip() or None
        if engine is not None and engine not in ENGINES:
            raise exceptions.ValidationError({"detail": f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}"})
        source = (q.get("source") or "auto").strip()
        if source not in SOURCES:
            raise exceptions.ValidationError({"detail": f"unknown source {source!r}; choose from {', '.join(SOURCES)}"})
        try:
            result = kpi(
                request.user, period, tuple(by), scope=scope, indicators=tuple(names), engine_name=engine, source=source
            )
        except OutOfScope as exc:
            raise exceptions.NotFound() from exc
        except (PeriodError, QueryError, EngineError) as exc:
            raise exceptions.ValidationError({"detail": str(exc)}) from exc
        except ImportError as exc:  # the optional spark extra is not installed
            raise exceptions.ValidationError({"detail": f"engine {engine!r} is not installed: {exc}"}) from exc
        return Response(
            {
                "period": str(result.query.period),
                "scope": {"kind": target.kind, "code": target.code, "label": target.label},
                "source": result.source,
                "engine": result.engine,
                "columns": [
                    {"name": c, "label": label(c), "unit": INDICATORS[c].unit if c in INDICATORS else None}
                    for c in result.columns
                ],
                "rows": result.rows,
            }
        )


class IndicatorListView(APIView):
    """Every indicator the KPI engine computes, with its formula."""

    permission_classes = [CanViewRetailers]

    @extend_schema(
        operation_id="kpi_indicators", summary="Indicator definitions", responses=IndicatorSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "name": i.name,
                    "label_zh": i.label_zh,
                    "label_en": i.label_en,
                    "unit": i.unit,
                    "formula": i.formula,
                    "digits": i.digits,
                    "default": i.name in DEFAULT,
                }
                for i in INDICATORS.values()
            ]
        )
