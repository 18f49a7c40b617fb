"""API: assessment schemes under /api/assess/schemes/ (the same rules as the scheme pages).

* ``GET assess/schemes/`` and ``GET …/{id}/`` — the versions (filter ``status``, ``name``, ``org_unit``); retrieve
  includes the items with their rule in plain words. Read by every role with ``view_scheme`` (not inspectors: 403).
* ``POST …/{id}/new-version/`` ``{"valid_from": "2027-01"}`` — a draft copy (``services.schemes.new_version``), 201.
* ``PUT …/{id}/items/`` ``{"items": [{"id": 7, "code": …, "weight": "15", "metric": …, "rule": …,
  "rule_params": {…}, …}, …], "valid_from": "2027-01", "description": "…"}`` — replaces a draft's items: an item
  with ``id`` is kept and changed, one without is added, one left out is deleted. Each row is checked on its own
  (errors under ``items[n]``), then the whole by ``validate_items`` (weights summing to exactly 100).
  An active, retired or used version answers 400: make a new version.
* ``POST …/{id}/activate/`` — ``services.schemes.activate`` (the other active version is retired).

Writes need the centre's permissions (``add_scheme`` / ``change_scheme`` and the item permissions): 403 otherwise.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import ServiceMixin, as_drf_error
from cmdesk.work.services.board import parse_month

from ..models import ItemCategory, ItemGroup, Rule, Scheme, SchemeItem, SchemeStatus
from ..services import schemes as svc
from ..services.metrics import METRICS
from ..services.schemes import check_item, is_editable, save_draft_items
from ..views.schemes import can_edit, describe_rule


@extend_schema_field(OpenApiTypes.STR)
class MonthInput(serializers.Field):
    """A month as "YYYY-MM" (or a date inside it) → its first day; shown as "YYYY-MM"."""

    def to_internal_value(self, data):
        try:
            return parse_month(str(data))
        except (TypeError, ValueError) as exc:
            raise serializers.ValidationError(_("Give a month as YYYY-MM, not %(v)r.") % {"v": data}) from exc

    def to_representation(self, value):
        return f"{value:%Y-%m}"


class SchemeItemSerializer(serializers.ModelSerializer):
    metric_label = serializers.SerializerMethodField()
    rule_words = serializers.SerializerMethodField()

    class Meta:
        model = SchemeItem
        fields = [
            "id", "position", "code", "name", "group", "category", "weight", "source", "metric", "metric_label",
            "params", "rule", "rule_params", "rule_words", "adjust_season", "adjust_potential",
        ]  # fmt: skip
        read_only_fields = fields

    def get_metric_label(self, obj: SchemeItem) -> str:
        metric = METRICS.get(obj.metric)
        return str(metric.label) if metric else obj.metric

    def get_rule_words(self, obj: SchemeItem) -> str:
        return describe_rule(obj)


class SchemeSerializer(serializers.ModelSerializer):
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True, default=None)
    editable = serializers.SerializerMethodField()

    class Meta:
        model = Scheme
        fields = [
            "id", "name", "org_unit", "org_unit_name", "version", "status", "valid_from", "valid_to", "description",
            "created_at", "editable",
        ]  # fmt: skip
        read_only_fields = fields

    def get_editable(self, obj: Scheme) -> bool:
        """A draft no run has used (the runs are counted by the viewset's queryset)."""
        runs = getattr(obj, "run_count", None)
        if runs is None:
            return is_editable(obj)
        return obj.status == SchemeStatus.DRAFT and runs == 0


class SchemeDetailSerializer(SchemeSerializer):
    items = serializers.SerializerMethodField()
    total_weight = serializers.SerializerMethodField()

    class Meta(SchemeSerializer.Meta):
        fields = [*SchemeSerializer.Meta.fields, "total_weight", "items"]
        read_only_fields = fields

    @extend_schema(responses=SchemeItemSerializer(many=True))
    def get_items(self, obj: Scheme) -> list:
        return SchemeItemSerializer(obj.items.all().order_by("position", "code"), many=True).data

    def get_total_weight(self, obj: Scheme) -> str:
        return str(sum((it.weight for it in obj.items.all()), 0))


class NewVersionBody(serializers.Serializer):
    valid_from = MonthInput(required=False)


class ItemBody(serializers.Serializer):
    """One row of a draft; checked on its own here, with the whole in the save service."""

    id = serializers.IntegerField(required=False, allow_null=True)
    position = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=999)
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=100)
    group = serializers.ChoiceField(choices=ItemGroup.choices)
    category = serializers.ChoiceField(choices=ItemCategory.choices)
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)
    metric = serializers.CharField(max_length=40)
    params = serializers.JSONField(required=False, default=dict)
    rule = serializers.ChoiceField(choices=Rule.choices)
    rule_params = serializers.JSONField(required=False, default=dict)
    adjust_season = serializers.BooleanField(required=False, default=False)
    adjust_potential = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        errors = check_item(attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ItemsBody(serializers.Serializer):
    items = ItemBody(many=True, allow_empty=False)
    valid_from = MonthInput(required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    def validate_items(self, rows):
        codes = [r["code"] for r in rows]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise serializers.ValidationError(_("Codes used twice: %(codes)s.") % {"codes": ", ".join(twice)})
        return rows


class SchemeViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Scheme.objects.all()
    serializer_class = SchemeSerializer
    filterset_fields = ["status", "name", "org_unit"]
    ordering_fields = ["valid_from", "version"]
    action_permissions = {"new_version": "add", "items": "change", "activate": "change"}

    def get_queryset(self):
        return (
            Scheme.objects.restrict(self.request.user, "view")
            .select_related("org_unit")
            .annotate(run_count=Count("runs"))
            .order_by("name", "org_unit_id", "-version")
        )

    def get_serializer_class(self):
        return SchemeSerializer if self.action == "list" else SchemeDetailSerializer

    def _editor(self) -> None:
        if not can_edit(self.request.user):
            raise PermissionDenied

    def _detail(self, scheme: Scheme, status: int = 200) -> Response:
        scheme = self.get_queryset().get(pk=scheme.pk)
        return Response(SchemeDetailSerializer(scheme).data, status=status)

    @extend_schema(request=NewVersionBody, responses={201: SchemeDetailSerializer})
    @action(detail=True, methods=["post"], url_path="new-version")
    def new_version(self, request, pk=None):
        self._editor()
        scheme = self.get_object()
        data = self.body(NewVersionBody)
        copy = self.handle_service(svc.new_version, scheme, request.user, valid_from=data.get("valid_from"))
        return self._detail(copy, status=201)

    @extend_schema(request=ItemsBody, responses=SchemeDetailSerializer)
    @action(detail=True, methods=["put"])
    def items(self, request, pk=None):
        self._editor()
        scheme = self.get_object()
        data = self.body(ItemsBody)
        scheme = self.handle_service(
            save_draft_items,
            scheme,
            [dict(row) for row in data["items"]],
            request.user,
            valid_from=data.get("valid_from"),
            description=data.get("description"),
        )
        return self._detail(scheme)

    @extend_schema(request=None, responses=SchemeDetailSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        self._editor()
        scheme = self.get_object()
        if scheme.status != SchemeStatus.DRAFT:
            raise as_drf_error(
                DjangoValidationError(
                    {
                        "status": _("Only a draft version is activated; this one is %(s)s.")
                        % {"s": scheme.get_status_display()}
                    }
                )
            )
        return self._detail(self.handle_service(svc.activate, scheme, request.user))


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("assess/schemes", SchemeViewSet, basename="assess-scheme")


urlpatterns: list = []
