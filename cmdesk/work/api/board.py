"""API: the head's board and the caller's reminders.

    GET  /api/work/board/?month=2026-11[&sort=-coverage]   one row per CM in the caller's scope (the board page's rows)
    GET  /api/work/reminders/[?unread=1]                    the caller's own reminders, unread first
    POST /api/work/reminders/{id}/read/                     mark one read (404 for anyone else's)
    POST /api/work/reminders/read-all/                      mark all read; answers {"marked": n}

The board answers 403 for roles without work permissions (inspectors) and 400 for a bad month.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from cmdesk.work.models import Reminder
from cmdesk.work.services.board import board, parse_month, sort_rows
from cmdesk.work.services.reminders import reminder_mark_read, reminders_for, reminders_mark_all_read


class BoardView(APIView):
    """The work board of a month: plan, arrangements, summaries, visits, coverage and volume per CM."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, description="YYYY-MM (default: this month)"),
            OpenApiParameter(
                "sort", OpenApiTypes.STR, description="problems, name, unit, plan, coverage …; -x reverses"
            ),
        ],
        responses=inline_serializer(
            "WorkBoard",
            {
                "month": serializers.CharField(),
                "today": serializers.DateField(),
                "rows": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        try:
            month = parse_month(request.query_params.get("month"))
        except ValueError as exc:
            raise exceptions.ValidationError({"month": [str(exc)]}) from None
        result = board(request.user, month)
        rows, sort = sort_rows(result.rows, request.query_params.get("sort"))
        return Response(
            {
                "month": result.label,
                "today": result.today.isoformat(),
                "sort": sort,
                "rows": [r.as_dict() for r in rows],
            }
        )


class ReminderSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Reminder
        fields = ["id", "key", "text", "url", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, obj: Reminder) -> bool:
        return obj.read_at is not None


class ReminderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own reminders (nobody sees anyone else's)."""

    serializer_class = ReminderSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends: list = []
    queryset = Reminder.objects.none()  # for the schema; get_queryset is the caller's own

    def get_queryset(self):
        unread = self.request.query_params.get("unread") in ("1", "true", "yes")
        return reminders_for(self.request.user, unread_only=unread)

    @extend_schema(request=None, responses=ReminderSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        try:
            reminder_id = int(pk or "")
        except ValueError:
            raise exceptions.NotFound() from None
        reminder = reminder_mark_read(actor=request.user, reminder_id=reminder_id)
        return Response(ReminderSerializer(reminder).data)

    @extend_schema(request=None, responses=inline_serializer("RemindersMarked", {"marked": serializers.IntegerField()}))
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response({"marked": reminders_mark_all_read(actor=request.user)})


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("work/reminders", ReminderViewSet, basename="work-reminder")


urlpatterns: list = [
    path("work/board/", BoardView.as_view(), name="work-board"),
]
