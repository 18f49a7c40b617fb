"""API: weekly arrangements, planned visits, visits (check-in … check-out), compliance and the checklist.

    /api/work/arrangements/                 list, retrieve; POST generate/ {week_start}; POST {id}/submit/
    /api/work/planned-visits/               list (?date=, ?arrangement=, ?retailer=), create {retailer, date},
                                            DELETE {id}, POST {id}/move/ {date}
    /api/work/visits/                       list (?date_from=, ?date_to=, ?status=, ?far=), retrieve,
                                            create = check-in {retailer, latitude, longitude, accuracy, visit_type,
                                            planned, no_location_reason}; POST {id}/checks/ {answers},
                                            {id}/photos/ (multipart image, caption), {id}/feedback/,
                                            {id}/retailer-updates/ {changes, location_here}, {id}/checkout/,
                                            {id}/cancel/
    /api/work/compliance/                   ?month=YYYY-MM&as_of=YYYY-MM-DD&cm=
    /api/work/checklist/                    the active checklist items

Rows come from ``restrict()``: another CM's record answers 404. Service ValidationErrors answer 400.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from cmdesk.catalog.models import Product
from cmdesk.core.api import RestrictedModelViewSet, ServiceMixin
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff
from cmdesk.retail.models import Retailer

from ..models import (
    ChecklistItem,
    Feedback,
    PlannedVisit,
    RetailerUpdate,
    Visit,
    VisitCheck,
    VisitPhoto,
    VisitType,
    WeekArrangement,
)
from ..rules import week_start
from ..services import arrange as arrange_service
from ..services import visits as visit_service

# --- serializers -----------------------------------------------------------------------------------------------------


class PlannedVisitSerializer(serializers.ModelSerializer):
    retailer_name = serializers.CharField(source="retailer.shop_name", read_only=True)
    licence_no = serializers.CharField(source="retailer.licence_no", read_only=True)
    visit = serializers.SerializerMethodField()

    class Meta:
        model = PlannedVisit
        fields = ["id", "arrangement", "cm", "retailer", "retailer_name", "licence_no", "date", "seq", "reason"]
        fields += ["moved_from", "visit"]
        read_only_fields = fields

    def get_visit(self, obj) -> int | None:
        made = getattr(obj, "visit", None)
        return made.pk if made is not None else None


class ArrangementSerializer(serializers.ModelSerializer):
    cm_name = serializers.CharField(source="cm.name", read_only=True)
    week_end = serializers.DateField(read_only=True)
    late = serializers.BooleanField(read_only=True)
    planned_visits = PlannedVisitSerializer(many=True, read_only=True)

    class Meta:
        model = WeekArrangement
        fields = ["id", "cm", "cm_name", "week_start", "week_end", "status", "due", "generated_at", "submitted_at"]
        fields += ["late", "notes", "planned_visits"]
        read_only_fields = fields


class GenerateSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="any day of the week; the Monday is used")


class MoveSerializer(serializers.Serializer):
    date = serializers.DateField()


class PlannedCreateSerializer(serializers.Serializer):
    retailer = serializers.IntegerField()
    date = serializers.DateField()


class VisitCheckSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="item.code", read_only=True)
    name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = VisitCheck
        fields = ["code", "name", "value", "ok", "note"]


class VisitPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = VisitPhoto
        fields = ["id", "url", "caption", "uploaded_at"]

    def get_url(self, obj) -> str:
        return reverse("work:visit_photo", args=[obj.pk])


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ["id", "kind", "text", "product", "status", "due", "created_at"]


class RetailerUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = RetailerUpdate
        fields = ["id", "field", "before", "after", "at"]


class VisitSerializer(serializers.ModelSerializer):
    retailer_name = serializers.CharField(source="retailer.shop_name", read_only=True)
    checks = VisitCheckSerializer(many=True, read_only=True)
    photos = VisitPhotoSerializer(many=True, read_only=True)
    feedback = FeedbackSerializer(many=True, read_only=True)
    retailer_updates = RetailerUpdateSerializer(many=True, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "cm",
            "retailer",
            "retailer_name",
            "planned",
            "visit_type",
            "status",
            "checkin_at",
            "checkin_latitude",
            "checkin_longitude",
            "checkin_accuracy_m",
            "distance_m",
            "far",
            "no_location_reason",
            "checkout_at",
            "duration_minutes",
            "notes",
            "checks",
            "photos",
            "feedback",
            "retailer_updates",
        ]
        read_only_fields = fields


class CheckInSerializer(serializers.Serializer):
    retailer = serializers.IntegerField()
    planned = serializers.IntegerField(required=False, allow_null=True)
    # floats as a phone's geolocation gives them (any number of decimals); stored to 6 decimals (≈ 0.1 m)
    latitude = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    accuracy = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    visit_type = serializers.ChoiceField(choices=VisitType.choices, default=VisitType.ROUTINE)
    no_location_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class ChecksSerializer(serializers.Serializer):
    answers = serializers.DictField(help_text='{item code: value or {"value": …, "note": …}}')


class PhotoUploadSerializer(serializers.Serializer):
    image = serializers.FileField()
    caption = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class FeedbackCreateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    product = serializers.IntegerField(required=False, allow_null=True)
    due = serializers.DateField(required=False, allow_null=True)


class RetailerUpdatesSerializer(serializers.Serializer):
    changes = serializers.DictField(required=False, default=dict)
    location_here = serializers.BooleanField(required=False, default=False)


class ChecklistItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChecklistItem
        fields = ["id", "code", "name", "name_en", "help_text", "answer", "visit_types", "required", "position"]


# --- viewsets --------------------------------------------------------------------------------------------------------


class ScopedViewSet(ServiceMixin, viewsets.GenericViewSet):
    """Rows restricted to the caller for the request's action (as RestrictedModelViewSet), without its default verbs."""

    get_queryset = RestrictedModelViewSet.get_queryset
    select_related: tuple[str, ...] = ()
    action_permissions: dict[str, str] = {}


def own_cm(request) -> Staff:
    try:
        staff = request.user.staff
    except (Staff.DoesNotExist, AttributeError):
        staff = None
    if staff is None or staff.role != Role.CM:
        raise exceptions.PermissionDenied(_("Only a customer manager arranges and makes visits."))
    return staff


class ArrangementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Weekly arrangements (周安排) with their planned visits."""

    queryset = WeekArrangement.objects.all()
    serializer_class = ArrangementSerializer
    select_related = ("cm",)
    filterset_fields = ["cm", "week_start", "status"]
    ordering_fields = ["week_start"]
    action_permissions = {"generate": "add", "submit": "change"}

    @extend_schema(request=GenerateSerializer, responses=ArrangementSerializer)
    @action(detail=False, methods=["post"])
    def generate(self, request):
        body = GenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cm = own_cm(request)
        monday = week_start(body.validated_data["week_start"])
        arrangement = self.handle_service(arrange_service.arrange_week, cm, monday, request.user)
        return Response(ArrangementSerializer(arrangement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ArrangementSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        arrangement = self.get_object()
        self.handle_service(arrange_service.submit_arrangement, arrangement, request.user)
        arrangement.refresh_from_db()
        return Response(ArrangementSerializer(arrangement).data)


class PlannedVisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ScopedViewSet):
    """Planned visits; create adds a retailer of the CM's own routes to a day (the week's arrangement is made)."""

    queryset = PlannedVisit.objects.all()
    serializer_class = PlannedVisitSerializer
    select_related = ("retailer", "visit")
    filterset_fields = ["date", "arrangement", "retailer", "cm"]
    ordering_fields = ["date", "seq"]
    action_permissions = {"move": "change"}

    @extend_schema(request=PlannedCreateSerializer, responses=PlannedVisitSerializer)
    def create(self, request):
        body = PlannedCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cm = own_cm(request)
        retailer = Retailer.objects.filter(pk=body.validated_data["retailer"]).select_related("route").first()
        if retailer is None:
            raise exceptions.ValidationError({"retailer": [_("There is no such retailer.")]})
        day = body.validated_data["date"]
        self.handle_service(visit_service.check_retailer_on_routes, cm, retailer)
        arrangement = WeekArrangement.objects.filter(cm=cm, week_start=week_start(day)).first()
        if arrangement is None:
            arrangement = self.handle_service(_empty_arrangement, cm, week_start(day), request.user)
        planned = self.handle_service(arrange_service.add_planned, arrangement, retailer, day, request.user)
        return Response(PlannedVisitSerializer(planned).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        self.handle_service(arrange_service.remove_planned, instance, self.request.user)

    @extend_schema(request=MoveSerializer, responses=PlannedVisitSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        planned = self.get_object()
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        planned = self.handle_service(arrange_service.move_planned, planned, body.validated_data["date"], request.user)
        return Response(PlannedVisitSerializer(planned).data)


def _empty_arrangement(cm: Staff, monday: datetime.date, user) -> WeekArrangement:
    """A week the CM fills by hand: created without generating (add_planned checks the scope)."""
    from ..rules import arrangement_due, rules_for

    if not has_model_perm(user, WeekArrangement, "add"):
        raise OutOfScope
    arrangement, _created = WeekArrangement.objects.get_or_create(
        cm=cm, week_start=monday, defaults={"due": arrangement_due(monday, rules_for(cm))}
    )
    return arrangement


class VisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Visits (日拜访). Create is the check-in; the actions record the visit and end it."""

    queryset = Visit.objects.all()
    serializer_class = VisitSerializer
    select_related = ("retailer",)
    filterset_fields = ["cm", "retailer", "status", "far", "visit_type"]
    ordering_fields = ["checkin_at"]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    action_permissions = {
        "checks": "change",
        "photos": "change",
        "feedback": "change",
        "retailer_updates": "change",
        "checkout": "change",
        "cancel": "change",
    }

    def get_queryset(self):
        qs = super().get_queryset().prefetch_related("checks__item", "photos", "feedback", "retailer_updates")
        params = self.request.query_params
        for name, lookup in (("date_from", "checkin_at__date__gte"), ("date_to", "checkin_at__date__lte")):
            if params.get(name):
                try:
                    qs = qs.filter(**{lookup: datetime.date.fromisoformat(params[name])})
                except ValueError:
                    raise exceptions.ValidationError({name: [_("Use a date like 2026-11-16.")]}) from None
        return qs

    def _visit(self) -> Visit:
        return self.get_object()

    def _answer(self, visit: Visit, code: int = status.HTTP_200_OK) -> Response:
        visit = self.get_queryset().model.objects.select_related("retailer").get(pk=visit.pk)
        return Response(VisitSerializer(visit, context={"request": self.request}).data, status=code)

    @extend_schema(request=CheckInSerializer, responses=VisitSerializer)
    def create(self, request):
        body = CheckInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        cm = own_cm(request)
        retailer = Retailer.objects.filter(pk=data["retailer"]).select_related("route").first()
        if retailer is None:
            raise exceptions.ValidationError({"retailer": [_("There is no such retailer.")]})
        planned = None
        if data.get("planned"):
            planned = get_object_or_404(PlannedVisit.objects.restrict(request.user, "view"), pk=data["planned"])
        visit = self.handle_service(
            visit_service.check_in,
            cm,
            retailer,
            request.user,
            data.get("latitude"),
            data.get("longitude"),
            data.get("accuracy"),
            data["visit_type"],
            planned=planned,
            no_location_reason=data.get("no_location_reason", ""),
        )
        return self._answer(visit, status.HTTP_201_CREATED)

    @extend_schema(request=ChecksSerializer, responses=VisitSerializer)
    @action(detail=True, methods=["post"])
    def checks(self, request, pk=None):
        visit = self._visit()
        body = ChecksSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        self.handle_service(visit_service.record_checks, visit, request.user, body.validated_data["answers"])
        return self._answer(visit)

    @extend_schema(request={"multipart/form-data": PhotoUploadSerializer}, responses=VisitPhotoSerializer)
    @action(detail=True, methods=["post"])
    def photos(self, request, pk=None):
        visit = self._visit()
        body = PhotoUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        photo = self.handle_service(
            visit_service.add_photo, visit, request.user, body.validated_data["image"], body.validated_data["caption"]
        )
        return Response(VisitPhotoSerializer(photo).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FeedbackCreateSerializer, responses=FeedbackSerializer)
    @action(detail=True, methods=["post"])
    def feedback(self, request, pk=None):
        visit = self._visit()
        body = FeedbackCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        product = None
        if data.get("product"):
            product = Product.objects.filter(pk=data["product"]).first()
            if product is None:
                raise exceptions.ValidationError({"product": [_("There is no such product.")]})
        feedback = self.handle_service(
            visit_service.add_feedback, visit, request.user, data["kind"], data["text"], product, data.get("due")
        )
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RetailerUpdatesSerializer, responses=RetailerUpdateSerializer(many=True))
    @action(detail=True, methods=["post"], url_path="retailer-updates")
    def retailer_updates(self, request, pk=None):
        visit = self._visit()
        body = RetailerUpdatesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = self.handle_service(
            visit_service.update_retailer,
            visit,
            request.user,
            body.validated_data["changes"],
            location_here=body.validated_data["location_here"],
        )
        return Response(RetailerUpdateSerializer(rows, many=True).data)

    @extend_schema(request=None, responses=VisitSerializer)
    @action(detail=True, methods=["post"])
    def checkout(self, request, pk=None):
        visit = self._visit()
        self.handle_service(visit_service.check_out, visit, request.user)
        return self._answer(visit)

    @extend_schema(request=None, responses=VisitSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        visit = self._visit()
        self.handle_service(visit_service.cancel_visit, visit, request.user)
        return self._answer(visit)


class ChecklistViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The visit checklist's active items."""

    queryset = ChecklistItem.objects.filter(active=True)
    serializer_class = ChecklistItemSerializer
    pagination_class = None

    def get_queryset(self):
        return super().get_queryset().filter(active=True)


class ComplianceView(APIView):
    """Visiting compliance per CM in the caller's scope: overdue retailers, short, far and no-location visits."""

    queryset = Visit.objects.all()  # for ModelActionPermission: needs work.view_visit

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM (default: this month)"),
            OpenApiParameter("as_of", str, description="YYYY-MM-DD (default: today or the month's end)"),
            OpenApiParameter("cm", int, description="one CM of the caller's scope"),
        ],
        responses={200: dict},
    )
    def get(self, request):
        params = request.query_params
        try:
            month = datetime.datetime.strptime(params["month"], "%Y-%m").date() if params.get("month") else None
            as_of = datetime.date.fromisoformat(params["as_of"]) if params.get("as_of") else None
        except ValueError:
            raise exceptions.ValidationError(
                {"month": [_("Use YYYY-MM for the month and YYYY-MM-DD for as_of.")]}
            ) from None
        cm = None
        if params.get("cm"):
            cm = Staff.objects.filter(pk=params["cm"]).first() if params["cm"].isdigit() else None
            if cm is None:
                raise Http404
        try:
            results = visit_service.compliance(request.user, month or (as_of or timezone.localdate()), as_of, cm=cm)
        except OutOfScope as error:
            raise Http404 from error
        except PermissionDenied as error:
            raise exceptions.PermissionDenied from error
        return Response([_compliance_dict(r) for r in results])


def _line(line) -> dict:
    return {
        "retailer": line.retailer.pk,
        "licence_no": line.retailer.licence_no,
        "shop_name": line.retailer.shop_name,
        "visit": line.visit.pk if line.visit else None,
        "last_visit": line.last_visit,
        "days": line.days,
        "cycle_days": line.cycle_days,
        "minutes": line.minutes,
        "distance_m": line.distance_m,
    }


def _compliance_dict(result) -> dict:
    return {
        "cm": result.cm.pk,
        "cm_name": result.cm.name,
        "month": result.month,
        "as_of": result.as_of,
        "visits": result.visits,
        "not_visited": [_line(x) for x in result.not_visited],
        "short": [_line(x) for x in result.short],
        "far": [_line(x) for x in result.far],
        "no_location": [_line(x) for x in result.no_location],
    }


def register(router: DefaultRouter) -> None:
    """Register this part's viewsets on the API router."""
    router.register("work/arrangements", ArrangementViewSet, basename="work-arrangement")
    router.register("work/planned-visits", PlannedVisitViewSet, basename="work-plannedvisit")
    router.register("work/visits", VisitViewSet, basename="work-visit")
    router.register("work/checklist", ChecklistViewSet, basename="work-checklist")


urlpatterns: list = [path("work/compliance/", ComplianceView.as_view(), name="work-compliance")]
