"""API: order-anomaly alerts, referrals and rules under /api/supply/.

* ``supply/alerts`` — list / retrieve the alerts in the caller's scope (filters ``kind``, ``status``, ``retailer``);
  ``POST …/{id}/dismiss/`` ``{"reason": "…"}``; ``POST …/{id}/refer/`` ``{"deadline": "2026-11-30", "note": "…"}``
  (deadline optional: today + the rules' referral_days). An inspector may read (its subtree) but not act (403).
* ``supply/referrals`` — list / retrieve (an inspector: those sent to it); ``POST …/{id}/answer/``
  ``{"outcome": "confirmed|no_violation|explained", "feedback": "…"}`` closes the alert (the inspector only).
* ``supply/alert-rules`` — retrieve the rules (``/api/supply/alert-rules/city/`` or the row id); update
  (PATCH, the centre) and ``POST …/{id}/preset/`` ``{"preset": "province"}``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import RestrictedModelViewSet, ServiceMixin
from cmdesk.core.permissions import ModelActionPermission

from ..models import Alert, AlertPreset, AlertRules, Referral, ReferralOutcome
from ..services import alerts as svc


class ReferralSerializer(serializers.ModelSerializer):
    inspector_name = serializers.CharField(source="inspector.name", read_only=True)
    referred_by_name = serializers.CharField(source="referred_by.name", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Referral
        fields = [
            "id", "alert", "inspector", "inspector_name", "referred_by", "referred_by_name", "referred_at",
            "deadline", "note", "outcome", "feedback", "feedback_at", "overdue",
        ]  # fmt: skip
        read_only_fields = fields

    def get_overdue(self, obj: Referral) -> bool:
        return svc.is_overdue(obj)


class AlertSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    retailer_licence = serializers.CharField(source="retailer.licence_no", read_only=True, default=None)
    retailer_name = serializers.CharField(source="retailer.shop_name", read_only=True, default=None)
    rules_unit = serializers.IntegerField(
        source="rules.org_unit_id",
        read_only=True,
        default=None,
        help_text="the unit whose own rules judged it (null: the city's)",
    )
    referral = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id", "kind", "kind_label", "key", "org_unit", "retailer", "retailer_licence", "retailer_name", "partner",
            "product", "period_start", "period_end", "measured", "threshold", "rules", "rules_unit", "detail",
            "severity", "status", "status_label", "status_note", "detected_at", "updated_at", "referral",
        ]  # fmt: skip
        read_only_fields = fields

    def get_referral(self, obj: Alert) -> dict | None:
        ref = getattr(obj, "referral", None)
        return ReferralSerializer(ref).data if ref is not None else None


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField()


class ReferSerializer(serializers.Serializer):
    deadline = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AnswerSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ReferralOutcome.choices)
    feedback = serializers.CharField()


class PresetSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(choices=AlertPreset.choices)


class AlertViewSet(RestrictedModelViewSet):
    queryset = Alert.objects.all()
    serializer_class = AlertSerializer
    select_related = ("retailer", "rules", "referral", "referral__inspector", "referral__referred_by")
    filterset_fields = ["kind", "status", "retailer"]
    http_method_names = ["get", "post", "head", "options"]
    action_permissions = {"dismiss": "change", "refer": "change"}

    def create(self, request, *args, **kwargs):
        return Response({"detail": "Alerts are created by detection."}, status=405)

    def _act(self, fn, *args, **kwargs):
        alert = self.get_object()
        self.handle_service(fn, self.request.user, alert, *args, **kwargs)
        return Response(self.get_serializer(Alert.objects.select_related(*self.select_related).get(pk=alert.pk)).data)

    @extend_schema(request=DismissSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(svc.alert_dismiss, body.validated_data["reason"])

    @extend_schema(request=ReferSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def refer(self, request, pk=None):
        body = ReferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(svc.alert_refer, body.validated_data.get("deadline"), body.validated_data.get("note", ""))


class ReferralViewSet(RestrictedModelViewSet):
    queryset = Referral.objects.all()
    serializer_class = ReferralSerializer
    select_related = ("alert", "inspector", "referred_by")
    filterset_fields = ["outcome", "inspector"]
    http_method_names = ["get", "post", "head", "options"]
    action_permissions = {"answer": "view"}  # the answer permission and the inspector are checked by the service

    def get_queryset(self):
        return svc.visible_referrals(self.request.user).select_related(*self.select_related)

    def create(self, request, *args, **kwargs):
        return Response({"detail": "Referrals are made from an alert."}, status=405)

    @extend_schema(request=AnswerSerializer, responses=ReferralSerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        body = AnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ref = self.handle_service(
            svc.referral_answer, request.user, self.get_object(), body.validated_data["outcome"],
            body.validated_data["feedback"],
        )  # fmt: skip
        return Response(self.get_serializer(ref).data)


class AlertRulesSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertRules
        exclude = []
        read_only_fields = ["id", "org_unit", "preset", "updated_at"]


class AlertRulesViewSet(ServiceMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The rules rows (``city`` for the city default); the centre updates them and applies presets."""

    queryset = AlertRules.objects.all()
    serializer_class = AlertRulesSerializer
    permission_classes = [ModelActionPermission]
    action_permissions = {"preset": "change"}

    def get_object(self):
        if self.kwargs.get("pk") == "city":
            return svc.city_rules()
        return super().get_object()

    def perform_update(self, serializer):
        self.handle_service(svc.rules_update, serializer.instance, dict(serializer.validated_data), self.request.user)

    @extend_schema(request=PresetSerializer, responses=AlertRulesSerializer)
    @action(detail=True, methods=["post"])
    def preset(self, request, pk=None):
        body = PresetSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rules = svc.apply_preset(self.get_object(), body.validated_data["preset"], request.user)
        return Response(self.get_serializer(rules).data)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("supply/alerts", AlertViewSet, basename="supply-alert")
    router.register("supply/referrals", ReferralViewSet, basename="supply-referral")
    router.register("supply/alert-rules", AlertRulesViewSet, basename="supply-alertrules")


urlpatterns: list = []
