"""API: summaries (周总结 / 月总结 / 年度总结) under /api/work/summaries/.

* list / retrieve — the caller's scope (a CM its own, a head its department's);
* create — draft (or re-draft) the caller's summary: ``{"kind": "month", "period": "2026-10"}`` or
  ``{"kind": "week", "period_start": "2026-10-14"}``; ``overwrite`` replaces the sections the CM edited;
* partial update — ``{"sections": {"market": "…"}}`` (a draft only);
* ``POST …/{id}/submit/``, ``POST …/{id}/comment/`` (``{"comment": "…"}``, needs work.comment_summary),
  ``GET …/{id}/docx/`` (the Word file).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.core.api import RestrictedModelViewSet
from cmdesk.org.models import Staff

from ..models import Summary, SummaryKind
from ..services import summaries as svc
from ..services.docx_export import CONTENT_TYPE, docx_filename, summary_docx


class SummarySerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    late = serializers.BooleanField(read_only=True)
    flag_messages = serializers.SerializerMethodField()

    class Meta:
        model = Summary
        fields = [
            "id", "cm", "cm_name", "kind", "period_start", "period_end", "status", "title", "sections", "figures",
            "flags", "flag_messages", "similarity", "due", "drafted_at", "submitted_at", "late", "head_comment",
            "commented_by", "commented_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_flag_messages(self, obj: Summary) -> list[str]:
        return [svc.flag_message(f) for f in obj.flags or []]


class SummaryDraftSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SummaryKind.choices)
    period = serializers.CharField(required=False, help_text=_("2026-10, 2026-W42 or 2026"))
    period_start = serializers.DateField(required=False, help_text=_("any day of the period"))
    overwrite = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        start = attrs.get("period_start")
        if start is None:
            code = (attrs.get("period") or "").strip()
            if not code:
                raise serializers.ValidationError({"period": _("Give a period (2026-10) or a period_start date.")})
            try:
                start = Period.parse(code).start
            except PeriodError as exc:
                raise serializers.ValidationError({"period": str(exc)}) from exc
        attrs["start"] = start
        return attrs


class SummarySectionsSerializer(serializers.Serializer):
    sections = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False))


class SummaryCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=4000)


class SummaryViewSet(RestrictedModelViewSet):
    """Summaries in the caller's scope; every write goes through the summary services (atomic, audited)."""

    queryset = Summary.objects.all()
    serializer_class = SummarySerializer
    select_related = ("cm",)
    filterset_fields = ["kind", "status", "cm"]
    ordering_fields = ["period_start", "due", "submitted_at"]
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_permissions = {"submit": "change", "comment": "view", "docx": "view"}

    def get_queryset(self):
        return super().get_queryset().order_by("-period_start", "kind", "cm__employee_no")

    @extend_schema(request=SummaryDraftSerializer, responses={201: SummarySerializer})
    def create(self, request, *args, **kwargs):
        body = SummaryDraftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            cm = request.user.staff
        except Staff.DoesNotExist as exc:
            raise DrfValidationError({"cm": [str(_("Only a customer manager drafts summaries."))]}) from exc
        data = body.validated_data
        summary = self.handle_service(
            svc.summary_draft, cm, data["kind"], data["start"], request.user, overwrite=data["overwrite"]
        )
        return Response(SummarySerializer(summary).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SummarySectionsSerializer, responses=SummarySerializer)
    def partial_update(self, request, *args, **kwargs):
        summary = self.get_object()
        body = SummarySectionsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = self.handle_service(svc.summary_update, summary, request.user, body.validated_data["sections"])
        return Response(SummarySerializer(summary).data)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return self.http_method_not_allowed(request, *args, **kwargs)
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(request=None, responses=SummarySerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        summary = self.handle_service(svc.summary_submit, self.get_object(), request.user)
        return Response(SummarySerializer(summary).data)

    @extend_schema(request=SummaryCommentSerializer, responses=SummarySerializer)
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        summary = self.get_object()
        body = SummaryCommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = self.handle_service(svc.summary_comment, summary, request.user, body.validated_data["comment"])
        return Response(SummarySerializer(summary).data)

    @extend_schema(responses={(200, CONTENT_TYPE): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def docx(self, request, pk=None):
        summary = self.get_object()
        response = HttpResponse(summary_docx(summary), content_type=CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(True, docx_filename(summary))
        return response


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("work/summaries", SummaryViewSet, basename="work-summary")


urlpatterns: list = []
