"""API: quarterly spot checks (市公司抽查) under /api/assess/spot-checks/.

* list / retrieve — the checks the caller may read: the centre all (drafts too); a head its department's published
  checks; a CM its own published checks; inspectors none (403). Filters: ``?quarter=2026-Q4``, ``cm``, ``published``.
* create (``assess.add_spotcheck``) — ``{"retailer": <id> | "licence": "430100000001", "date": "2026-11-05",
  "quarter": "2026-Q4" (optional), "note": "…", "findings": [{"category": "display", "ok": false, "deduction": null,
  "note": "…"}, {"category": "satisfaction", "score": 4}, …]}``;
* update / partial update — the same body; an unpublished check only (its findings are replaced);
* ``POST …/{id}/publish/`` — publish one check; ``POST …/publish-quarter/`` ``{"quarter": "2026-Q4"}`` — all of them;
* ``GET …/summary/?quarter=2026-Q4`` — the quarter's report per CM and per category.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import RestrictedModelViewSet, as_drf_error
from cmdesk.core.permissions import request_action

from ..models import FindingCategory, SpotCheck, SpotFinding
from ..services import spotchecks as svc


class SpotFindingSerializer(serializers.ModelSerializer):
    category_label = serializers.CharField(source="get_category_display", read_only=True)

    class Meta:
        model = SpotFinding
        fields = ["id", "category", "category_label", "ok", "score", "deduction", "note"]
        read_only_fields = fields


class SpotCheckSerializer(serializers.ModelSerializer):
    quarter_label = serializers.SerializerMethodField()
    retailer_licence = serializers.CharField(source="retailer.licence_no", read_only=True)
    retailer_name = serializers.CharField(source="retailer.shop_name", read_only=True)
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    checker_name = serializers.CharField(source="checker.name", read_only=True)
    findings = SpotFindingSerializer(many=True, read_only=True)
    total_deduction = serializers.SerializerMethodField()

    class Meta:
        model = SpotCheck
        fields = [
            "id", "quarter", "quarter_label", "date", "retailer", "retailer_licence", "retailer_name", "cm", "cm_name",
            "checker", "checker_name", "published", "note", "findings", "total_deduction", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_quarter_label(self, obj: SpotCheck) -> str:
        return svc.quarter_label(obj.quarter)

    def get_total_deduction(self, obj: SpotCheck) -> str:
        return str(svc.total_deduction(obj))


class FindingInputSerializer(serializers.Serializer):
    # Shapes only; the rules (duplicates, negative deductions, scores, notes) are the service's.
    category = serializers.CharField()
    ok = serializers.BooleanField(required=False, default=True)
    score = serializers.IntegerField(required=False, allow_null=True)
    deduction = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class SpotCheckWriteSerializer(serializers.Serializer):
    retailer = serializers.IntegerField(required=False, allow_null=True, help_text=_("retailer id"))
    licence = serializers.CharField(required=False, allow_blank=True, help_text=_("or the licence number"))
    date = serializers.DateField()
    quarter = serializers.CharField(required=False, allow_blank=True, help_text=_("2026-Q4; default: the date's"))
    note = serializers.CharField(required=False, allow_blank=True, default="")
    findings = FindingInputSerializer(many=True, help_text=_("categories: %s") % ", ".join(FindingCategory.values))


class QuarterSerializer(serializers.Serializer):
    quarter = serializers.CharField()


class SpotCheckViewSet(RestrictedModelViewSet):
    """Spot checks in the caller's scope (published only for those who do not record them); writes via services."""

    queryset = SpotCheck.objects.all()
    serializer_class = SpotCheckSerializer
    select_related = ("retailer", "cm", "checker")
    filterset_fields = ["cm", "published"]
    ordering_fields = ["date", "quarter"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    action_permissions = {"publish": "change", "publish_quarter": "change", "summary": "view"}

    def get_queryset(self):
        queryset = (
            svc.visible_spotchecks(self.request.user, request_action(self, self.request))
            .select_related(*self.select_related)
            .prefetch_related("findings")
            .order_by("-date", "-id")
        )
        quarter = self.request.query_params.get("quarter")
        if quarter and self.action == "list":
            try:
                queryset = queryset.filter(quarter=svc.parse_quarter(quarter))
            except DjangoValidationError as exc:
                raise as_drf_error(exc) from exc
        return queryset

    def _write(self, request, spot_check: SpotCheck | None):
        body = SpotCheckWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        retailer = data.get("retailer")
        if retailer is None:
            retailer = data.get("licence") or None
        return self.handle_service(
            svc.spotcheck_record,
            actor=request.user,
            retailer=retailer,
            date=data["date"],
            quarter=data.get("quarter") or None,
            note=data.get("note") or "",
            findings=[dict(f) for f in data["findings"]],
            spot_check=spot_check,
        )

    @extend_schema(
        parameters=[OpenApiParameter("quarter", str, description="2026-Q4")], responses=SpotCheckSerializer(many=True)
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=SpotCheckWriteSerializer, responses={201: SpotCheckSerializer})
    def create(self, request, *args, **kwargs):
        check = self._write(request, None)
        return Response(self.get_serializer(self._reload(check)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SpotCheckWriteSerializer, responses=SpotCheckSerializer)
    def update(self, request, *args, **kwargs):
        check = self._write(request, self.get_object())
        return Response(self.get_serializer(self._reload(check)).data)

    @extend_schema(request=SpotCheckWriteSerializer, responses=SpotCheckSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def _reload(self, check: SpotCheck) -> SpotCheck:
        return SpotCheck.objects.select_related(*self.select_related).prefetch_related("findings").get(pk=check.pk)

    @extend_schema(request=None, responses=SpotCheckSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        check = self.handle_service(svc.spotcheck_publish, actor=request.user, spot_check=self.get_object())
        return Response(self.get_serializer(self._reload(check)).data)

    @extend_schema(request=QuarterSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="publish-quarter")
    def publish_quarter(self, request):
        body = QuarterSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        quarter = body.validated_data["quarter"]
        n = self.handle_service(svc.quarter_publish, actor=request.user, quarter=quarter)
        return Response({"quarter": quarter, "published": n})

    @extend_schema(
        parameters=[OpenApiParameter("quarter", str, required=True, description="2026-Q4")],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def summary(self, request):
        quarter = request.query_params.get("quarter") or ""
        data = self.handle_service(svc.quarter_summary, request.user, quarter)
        return Response(
            {
                "quarter": data["label"],
                "checks": data["checks"],
                "published": data["published"],
                "deduction": str(data["deduction"]),
                "cms": [
                    {
                        "cm": row["cm_id"],
                        "cm_name": row["cm_name"],
                        "employee_no": row["employee_no"],
                        "org_unit": row["org_unit"],
                        "checks": row["checks"],
                        "findings": row["findings"],
                        "not_ok": row["not_ok"],
                        "satisfaction": row["satisfaction"],
                        "deduction": str(row["deduction"]),
                        "by_category": {k: str(v) for k, v in row["by_category"].items()},
                    }
                    for row in data["cms"]
                ],
                "categories": [
                    {
                        "category": c["category"],
                        "label": c["label"],
                        "findings": c["findings"],
                        "not_ok": c["not_ok"],
                        "deduction": str(c["deduction"]),
                    }
                    for c in data["categories"]
                ],
            }
        )


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("assess/spot-checks", SpotCheckViewSet, basename="assess-spotcheck")


urlpatterns: list = []
