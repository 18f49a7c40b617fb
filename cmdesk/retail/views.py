"""Retailer and route pages. Rows come from restrict() (see cmdesk.core.views); writes from cmdesk.retail.services."""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.utils.translation import gettext as _

from cmdesk.core.views import ObjectDetailView, ObjectEditView, ObjectListView, configure_table
from cmdesk.org.forms import org_units_in_scope

from . import services
from .filtersets import RetailerFilterSet, RouteFilterSet
from .forms import RetailerForm, RouteAssignForm, RouteForm
from .models import Retailer, Route, RouteAssignment, TierChange
from .tables import RetailerTable, RouteRetailerTable, RouteTable


def _scope_org_filter(request: HttpRequest, filterset: Any) -> None:
    if "org_unit" in filterset.form.fields:
        filterset.form.fields["org_unit"].queryset = org_units_in_scope(request.user)


# --- retailers -------------------------------------------------------------------------------------------------------


class RetailerListView(ObjectListView):
    model = Retailer
    table = RetailerTable
    filterset = RetailerFilterSet
    select_related = ("route", "route__cm")
    cards_template = "retail/_retailer_cards.html"
    add_url = "retail:retailer_add"

    def prepare_filterset(self, request, filterset):
        _scope_org_filter(request, filterset)


class RetailerDetailView(ObjectDetailView):
    model = Retailer
    select_related = ("route", "route__cm", "route__org_unit")
    template_name = "retail/retailer_detail.html"
    edit_url = "retail:retailer_edit"

    def get_extra_context(self, request, obj):
        tier_changes = (
            TierChange.objects.restrict(request.user, "view")
            .filter(retailer=obj)
            .select_related("recorded_by")
            .order_by("-effective", "-id")
        )
        return {"tier_changes": tier_changes}


class RetailerEditView(ObjectEditView):
    model = Retailer
    form = RetailerForm
    select_related = ("route",)

    def save(self, request, form, obj):
        data = form.service_data()
        reason = form.cleaned_data.get("reason", "")
        if obj.pk is None:
            return services.retailer_create(actor=request.user, data=data, reason=reason)
        services.retailer_update(actor=request.user, retailer=obj, data=data, reason=reason)
        return obj


# --- routes ----------------------------------------------------------------------------------------------------------


class RouteListView(ObjectListView):
    model = Route
    table = RouteTable
    filterset = RouteFilterSet
    select_related = ("cm", "org_unit")
    add_url = "retail:route_add"

    def get_queryset(self, request, action=None):
        return super().get_queryset(request, action).annotate(retailer_count=Count("retailers"))

    def prepare_filterset(self, request, filterset):
        _scope_org_filter(request, filterset)


class RouteDetailView(ObjectDetailView):
    model = Route
    select_related = ("cm", "org_unit")
    template_name = "retail/route_detail.html"
    edit_url = "retail:route_edit"

    def get_extra_context(self, request, obj):
        retailers = (
            Retailer.objects.restrict(request.user, "view").filter(route=obj).select_related("route", "route__cm")
        )
        table = configure_table(RouteRetailerTable(retailers, prefix="r-"), request)
        assignments = (
            RouteAssignment.objects.restrict(request.user, "view")
            .filter(route=obj)
            .select_related("cm", "recorded_by")
            .order_by("-started", "-id")
        )
        return {"retailer_table": table, "assignments": assignments}


class RouteEditView(ObjectEditView):
    model = Route
    form = RouteForm

    def save(self, request, form, obj):
        data = form.service_data()
        if obj.pk is None:
            return services.route_create(actor=request.user, data=data)
        services.route_update(actor=request.user, route=obj, data=data)
        return obj


class RouteAssignView(ObjectEditView):
    """Change the route's CM (keeps the assignment history)."""

    model = Route
    form = RouteAssignForm
    template_name = "retail/route_assign.html"

    def get_form_kwargs(self, request, obj):
        return {"user": request.user, "route": obj}

    def save(self, request, form, obj):
        services.route_assign_cm(
            actor=request.user,
            route=obj,
            cm=form.cleaned_data["cm"],
            started=form.cleaned_data["started"],
            reason=form.cleaned_data["reason"],
        )
        return obj

    def get_context(self, request, obj, form):
        return {**super().get_context(request, obj, form), "title": _("Change customer manager")}
