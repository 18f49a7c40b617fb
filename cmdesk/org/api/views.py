from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cmdesk.core.api import RestrictedModelViewSet, as_drf_error
from cmdesk.core.audit import acting_as
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import in_scope
from cmdesk.org import services
from cmdesk.org.filtersets import OrgUnitFilterSet, StaffFilterSet
from cmdesk.org.models import OrgUnit, Staff

from .serializers import CareerLevelChangeSerializer, OrgUnitSerializer, StaffSerializer


class OrgUnitViewSet(viewsets.ReadOnlyModelViewSet):
    """The org tree (city → centre / branches → departments → market areas)."""

    queryset = OrgUnit.objects.all()
    serializer_class = OrgUnitSerializer
    filterset_class = OrgUnitFilterSet

    def get_queryset(self):
        return OrgUnit.objects.restrict(self.request.user, "view")


class StaffViewSet(RestrictedModelViewSet):
    """Staff in the caller's scope (a CM sees only itself). Role and career level change through their own actions."""

    queryset = Staff.objects.all()
    serializer_class = StaffSerializer
    filterset_class = StaffFilterSet
    select_related = ("user", "org_unit")
    action_permissions = {"career_level": "change"}
    http_method_names = ["get", "put", "patch", "post", "head", "options"]

    def create(self, request, *args, **kwargs):
        raise Http404  # staff are created with their login by administrators (admin site or `cmdesk demo`)

    @transaction.atomic
    def perform_update(self, serializer):
        org_unit = serializer.validated_data.get("org_unit")
        if org_unit is not None and not OrgUnit.objects.filter(pk=org_unit.pk).exists():
            raise Http404
        with acting_as(self.request.user):
            try:
                instance = serializer.save()
                instance.full_clean()
            except DjangoValidationError as exc:
                raise as_drf_error(exc) from exc
        if not in_scope(self.request.user, instance, "change"):
            raise Http404  # the transaction rolls back: moving someone out of your scope is not allowed

    @extend_schema(request=CareerLevelChangeSerializer, responses=CareerLevelChangeSerializer)
    @action(detail=True, methods=["post"], url_path="career-level")
    def career_level(self, request, pk=None):
        staff = self.get_object()
        body = CareerLevelChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            change = services.staff_set_career_level(
                actor=request.user,
                staff=staff,
                level=body.validated_data["level_to"],
                effective=body.validated_data["effective"],
                reason=body.validated_data.get("reason", ""),
            )
        except OutOfScope as exc:
            raise Http404 from exc
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
        return Response(CareerLevelChangeSerializer(change).data, status=201)
