"""API: assessment runs, scores, score items and appeals under /api/assess/ (the same scope as the pages).

* ``assess/runs/`` — list / retrieve (heads, clerks, centre: runs in scope; a CM: published runs it has a score in);
  ``POST …/{id}/publish/``, ``POST …/{id}/close/``; ``GET …/{id}/ranking/`` (ranking and distribution).
* ``assess/scores/`` — list / retrieve with the current items (a CM: only its own, only of published runs);
  ``POST …/{id}/sign/`` signs all the CM's open items.
* ``assess/score-items/`` — list / retrieve; ``POST …/{id}/override/`` ``{"points": "12.5", "reason": "…"}``,
  ``POST …/{id}/sign/``, ``POST …/{id}/appeal/`` ``{"reason": "…", "to_city": false}``.
* ``assess/appeals/`` — list / retrieve; ``POST …/{id}/decide/`` ``{"accept": true, "points": "15", "decision": "…"}``.

Nothing is written through a serializer: every write is a review service (atomic, audited, scope-checked); a refusal
is a 400 naming what is wrong, an object out of scope a 404, a role without the permission a 403.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.core.api import ServiceMixin

from ..models import Appeal, Run, Score, ScoreItem
from ..services import review as svc


# --- serializers ---------------------------------------------------------------------------------------------------
class ScoreItemSerializer(serializers.ModelSerializer):
    indicator = serializers.CharField(source="scheme_item.name", read_only=True)
    indicator_code = serializers.CharField(source="scheme_item.code", read_only=True)
    weight = serializers.DecimalField(source="scheme_item.weight", max_digits=5, decimal_places=2, read_only=True)
    run = serializers.IntegerField(source="score.run_id", read_only=True)

    class Meta:
        model = ScoreItem
        fields = [
            "id", "score", "run", "cm", "scheme_item", "indicator", "indicator_code", "weight", "version",
            "superseded_by", "measured", "target", "adjusted_target", "adjustment", "computed_points", "points",
            "rule_text", "evidence", "override_reason", "overridden_by", "overridden_at", "status", "signed_at",
        ]  # fmt: skip
        read_only_fields = fields


class ScoreSerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    month = serializers.DateField(source="run.month", read_only=True)
    run_status = serializers.CharField(source="run.status", read_only=True)

    class Meta:
        model = Score
        fields = ["id", "run", "month", "run_status", "cm", "cm_name", "total", "rank"]
        read_only_fields = fields


class ScoreDetailSerializer(ScoreSerializer):
    items = serializers.SerializerMethodField()

    class Meta(ScoreSerializer.Meta):
        fields = [*ScoreSerializer.Meta.fields, "items"]
        read_only_fields = fields

    @extend_schema(responses=ScoreItemSerializer(many=True))
    def get_items(self, obj: Score) -> list:
        return ScoreItemSerializer(svc.current_items(obj), many=True).data


class RunSerializer(serializers.ModelSerializer):
    scheme_name = serializers.CharField(source="scheme.name", read_only=True)
    org_unit_name = serializers.CharField(source="org_unit.name", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id", "scheme", "scheme_name", "org_unit", "org_unit_name", "month", "version", "supersedes", "status",
            "scored_at", "published_at", "closed_at", "note",
        ]  # fmt: skip
        read_only_fields = fields


class AppealSerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    indicator = serializers.CharField(source="item.scheme_item.name", read_only=True)
    run = serializers.IntegerField(source="item.score.run_id", read_only=True)

    class Meta:
        model = Appeal
        fields = [
            "id", "item", "indicator", "run", "cm", "cm_name", "reason", "to_city", "status", "decided_by",
            "decided_at", "decision", "new_item", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class OverrideBody(serializers.Serializer):
    points = serializers.DecimalField(max_digits=7, decimal_places=2)
    reason = serializers.CharField(allow_blank=True, max_length=2000)


class AppealBody(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=2000)
    to_city = serializers.BooleanField(required=False, default=False)


class DecideBody(serializers.Serializer):
    accept = serializers.BooleanField()
    decision = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)
    points = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)


class DistributionSerializer(serializers.Serializer):
    ranking = ScoreSerializer(many=True)
    distribution = serializers.DictField()


# --- viewsets ------------------------------------------------------------------------------------------------------
class _ReviewViewSet(ServiceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only rows from the review selectors; custom actions call the review services."""

    selector = staticmethod(svc.runs_for)
    select_related: tuple[str, ...] = ()
    action_permissions: dict[str, str] = {}

    def get_queryset(self):
        return self.selector(self.request.user).select_related(*self.select_related)


class RunViewSet(_ReviewViewSet):
    queryset = Run.objects.all()
    serializer_class = RunSerializer
    selector = staticmethod(svc.runs_for)
    select_related = ("scheme", "org_unit")
    filterset_fields = ["status", "month", "org_unit"]
    ordering_fields = ["month", "version"]
    action_permissions = {"publish": "view", "close": "view", "ranking": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("-month", "org_unit__path", "-version")

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return Response(RunSerializer(self.handle_service(svc.publish_run, self.get_object(), request.user)).data)

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return Response(RunSerializer(self.handle_service(svc.close_run, self.get_object(), request.user)).data)

    @extend_schema(responses=DistributionSerializer)
    @action(detail=True, methods=["get"])
    def ranking(self, request, pk=None):
        run = self.get_object()
        if svc.is_own_scope(request.user):
            raise Http404  # a CM reads its own score, not the others'
        data = {"ranking": ScoreSerializer(svc.ranking(run), many=True).data, "distribution": svc.distribution(run)}
        return Response(data)


class ScoreViewSet(_ReviewViewSet):
    queryset = Score.objects.all()
    serializer_class = ScoreSerializer
    selector = staticmethod(svc.scores_for)
    select_related = ("cm", "run")
    filterset_fields = ["run", "cm"]
    ordering_fields = ["total", "rank"]
    action_permissions = {"sign": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("-run__month", "run_id", "rank", "cm__employee_no")

    def get_serializer_class(self):
        return ScoreDetailSerializer if self.action in ("retrieve", "sign") else ScoreSerializer

    @extend_schema(request=None, responses=ScoreDetailSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        score = self.get_object()
        self.handle_service(svc.sign_score, score, request.user)
        score.refresh_from_db()
        return Response(ScoreDetailSerializer(score).data)


class ScoreItemViewSet(_ReviewViewSet):
    queryset = ScoreItem.objects.all()
    serializer_class = ScoreItemSerializer
    selector = staticmethod(svc.items_for)
    select_related = ("scheme_item", "score")
    filterset_fields = ["score", "cm", "status", "scheme_item"]
    action_permissions = {"override": "view", "sign": "view", "appeal": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("score_id", "scheme_item__position", "version")

    @extend_schema(request=OverrideBody, responses=ScoreItemSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        item = self.get_object()
        data = self.body(OverrideBody)
        item = self.handle_service(svc.override_item, item, request.user, data["points"], data["reason"])
        return Response(ScoreItemSerializer(item).data)

    @extend_schema(request=None, responses=ScoreItemSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        item = self.handle_service(svc.sign_item, self.get_object(), request.user)
        return Response(ScoreItemSerializer(item).data)

    @extend_schema(request=AppealBody, responses={201: AppealSerializer})
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        item = self.get_object()
        data = self.body(AppealBody)
        appeal = self.handle_service(svc.appeal_item, item, request.user, data["reason"], to_city=data["to_city"])
        return Response(AppealSerializer(appeal).data, status=201)


class AppealViewSet(_ReviewViewSet):
    queryset = Appeal.objects.all()
    serializer_class = AppealSerializer
    selector = staticmethod(svc.appeals_for)
    select_related = ("cm", "item__scheme_item", "item__score")
    filterset_fields = ["status", "cm", "to_city"]
    action_permissions = {"decide": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("-created_at", "-id")

    @extend_schema(request=DecideBody, responses=AppealSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        appeal = self.get_object()
        data = self.body(DecideBody)
        appeal = self.handle_service(
            svc.decide_appeal, appeal, request.user, data["accept"], data["decision"], points=data.get("points")
        )
        return Response(AppealSerializer(appeal).data)


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("assess/runs", RunViewSet, basename="assess-run")
    router.register("assess/scores", ScoreViewSet, basename="assess-score")
    router.register("assess/score-items", ScoreItemViewSet, basename="assess-score-item")
    router.register("assess/appeals", AppealViewSet, basename="assess-appeal")


urlpatterns: list = []
