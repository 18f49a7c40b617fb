"""Staff pages. Rows come from restrict() (see cmdesk.core.views); career changes go through cmdesk.org.services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.utils.translation import gettext as _

from cmdesk.core.views import ObjectDetailView, ObjectEditView, ObjectListView
from cmdesk.retail.models import Route

from . import services
from .filtersets import StaffFilterSet
from .forms import CareerLevelForm, StaffCreateForm, StaffForm, org_units_in_scope
from .models import CareerLevelChange, Staff
from .tables import StaffTable

CAREER_PERMISSION = "org.add_careerlevelchange"


class StaffListView(ObjectListView):
    model = Staff
    table = StaffTable
    filterset = StaffFilterSet
    select_related = ("org_unit",)
    add_url = "org:staff_add"

    def prepare_filterset(self, request, filterset):
        filterset.form.fields["org_unit"].queryset = org_units_in_scope(request.user)


class StaffDetailView(ObjectDetailView):
    model = Staff
    select_related = ("org_unit", "user")
    template_name = "org/staff_detail.html"
    edit_url = "org:staff_edit"

    def get_extra_context(self, request, obj):
        routes = (
            Route.objects.restrict(request.user, "view")
            .filter(cm=obj)
            .select_related("org_unit")
            .annotate(retailer_count=Count("retailers"))
            .order_by("code")
        )
        career = (
            CareerLevelChange.objects.restrict(request.user, "view")
            .filter(staff=obj)
            .select_related("recorded_by")
            .order_by("-effective", "-id")
        )
        return {
            "routes": routes,
            "career_changes": career,
            # shown when the staff member is in the user's change scope (the template knows can_change)
            "career_form": CareerLevelForm(user=request.user, staff=obj)
            if request.user.has_perm(CAREER_PERMISSION)
            else None,
        }


class StaffEditView(ObjectEditView):
    """Phone, education, skill grade and org unit; saved by the base view's generic, scope-checked save()."""

    model = Staff
    form = StaffForm


class StaffCreateView(ObjectEditView):
    """A login with its staff profile (only roles holding org.add_staff, i.e. administrators)."""

    model = Staff
    form = StaffCreateForm

    def save(self, request, form, obj):
        data = dict(form.cleaned_data)
        return services.staff_create(actor=request.user, **data)


class StaffCareerView(ObjectEditView):
    """Record a career level change (实习 → 初级 → 中级 → 高级 → 首席) with its date and reason."""

    model = Staff
    form = CareerLevelForm
    template_name = "org/staff_career.html"
    success_message = ""

    def get_object(self, request, pk):
        if not request.user.has_perm(CAREER_PERMISSION):
            raise PermissionDenied
        return super().get_object(request, pk)

    def get_form_kwargs(self, request, obj):
        return {"user": request.user, "staff": obj}

    def save(self, request, form, obj):
        services.staff_set_career_level(
            actor=request.user,
            staff=obj,
            level=form.cleaned_data["level"],
            effective=form.cleaned_data["effective"],
            reason=form.cleaned_data["reason"],
        )
        return obj

    def get_context(self, request, obj, form):
        return {**super().get_context(request, obj, form), "title": _("Change career level")}
