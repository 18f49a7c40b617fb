"""Base views for every record page, and the home page.

Every queryset a page shows comes from ``Model.objects.restrict(request.user, action)``, so no view can forget scope:

* ``ObjectListView``   — FilterSet + django-tables2 table, 50 a page; 403 without the model's view permission.
* ``ObjectDetailView`` — one object of the restricted queryset (404 when missing *or* out of scope) and its history.
* ``ObjectEditView``   — create (needs the add permission) or edit (the object must be in the "change" scope).
  ``save()`` is where a subclass calls its domain service; a ``ValidationError`` becomes form errors and
  ``OutOfScope`` answers 404. The default ``save()`` (plain reference data) validates, saves with audit attribution
  and re-checks scope inside one transaction, so an edit that would leave the user's scope is rolled back.

Anonymous users are redirected to the login page (LoginRequiredMixin) before any of this runs.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views import View

from .audit import acting_as, history_for
from .exceptions import OutOfScope
from .scope import has_model_perm, in_scope

PAGE_SIZE = 50


def configure_table(table: Any, request: HttpRequest, per_page: int = PAGE_SIZE) -> Any:
    """Ordering and page from the query string; the page size is fixed (a caller cannot ask for 100,000 rows)."""
    table.request = request
    order_by = request.GET.getlist(table.prefixed_order_by_field)
    if order_by:
        table.order_by = order_by  # unknown or unsortable columns are ignored by django-tables2
    try:
        table.paginate(per_page=per_page, page=int(request.GET.get(table.prefixed_page_field, 1)))
    except (ValueError, PageNotAnInteger):
        table.paginate(per_page=per_page, page=1)
    except EmptyPage:
        table.paginate(per_page=per_page, page=table.paginator.num_pages)
    return table


def apply_validation_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: field errors on their fields, the rest at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def with_actor_names(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the staff name of each audit entry's actor (one query for all entries)."""
    from cmdesk.org.models import Staff

    actor_ids = {item["entry"].actor_id for item in history if item["entry"].actor_id}
    names = dict(Staff.objects.filter(user_id__in=actor_ids).values_list("user_id", "name")) if actor_ids else {}
    for item in history:
        item["actor_name"] = names.get(item["entry"].actor_id, "")
    return history


class ObjectViewMixin(LoginRequiredMixin):
    """Model, action and the restricted queryset shared by the base views."""

    model: type[models.Model]
    action = "view"
    select_related: tuple[str, ...] = ()

    def check_permission(self, request: HttpRequest, action: str | None = None) -> None:
        """The role must hold the model permission at all (403); which rows is restrict()'s business (404)."""
        if not has_model_perm(request.user, self.model, action or self.action):
            raise PermissionDenied

    def get_queryset(self, request: HttpRequest, action: str | None = None) -> models.QuerySet:
        queryset = self.model.objects.restrict(request.user, action or self.action)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        return queryset

    def base_context(self) -> dict[str, Any]:
        opts = self.model._meta
        return {"opts": opts, "model_name": opts.verbose_name, "model_name_plural": opts.verbose_name_plural}


class ObjectListView(ObjectViewMixin, View):
    """A filtered, sortable, paginated table of the rows the user may view.

    Subclasses set ``model``, ``table`` and ``filterset`` (and ``select_related`` so rows need no further queries);
    ``add_url`` names the create view (shown when the user holds the add permission); ``cards_template`` renders the
    same page as cards on phones. With htmx (filter form, sort and page links) only the results are re-rendered.
    """

    table: type
    filterset: type | None = None
    template_name = "generic/object_list.html"
    results_template_name = "generic/_object_list_results.html"
    cards_template: str | None = None
    add_url: str | None = None
    per_page = PAGE_SIZE

    def prepare_filterset(self, request: HttpRequest, filterset: Any) -> None:
        """Hook: narrow the filter form's choices to the user's scope."""

    def get(self, request: HttpRequest) -> HttpResponse:
        self.check_permission(request)
        queryset = self.get_queryset(request)
        filterset = None
        if self.filterset is not None:
            filterset = self.filterset(request.GET, queryset=queryset, request=request)
            self.prepare_filterset(request, filterset)
            queryset = filterset.qs
        table = configure_table(self.table(queryset), request, self.per_page)
        # Sort links re-render only the results (htmx); the row links stay ordinary links to the detail pages.
        table.attrs["thead"].update({"hx-boost": "true", "hx-target": "#object-list", "hx-push-url": "true"})
        filtered = filterset is not None and any(
            request.GET.get(name) not in (None, "") for name in filterset.form.fields
        )
        context = {
            **self.base_context(),
            "table": table,
            "filterset": filterset,
            "filtered": filtered,
            "cards_template": self.cards_template,
            "results_template": self.results_template_name,
            "add_url": reverse(self.add_url)
            if self.add_url and has_model_perm(request.user, self.model, "add")
            else None,
        }
        htmx = getattr(request, "htmx", None)
        template = self.template_name
        if htmx and not htmx.history_restore_request:
            template = self.results_template_name
        response = render(request, template, context)
        patch_vary_headers(response, ["HX-Request"])  # the same URL answers a page or a fragment
        return response


class ObjectDetailView(ObjectViewMixin, View):
    """One record the user may view, its related items (``get_extra_context``) and its audit history."""

    template_name: str
    edit_url: str | None = None
    show_history = True

    def get_extra_context(self, request: HttpRequest, obj: models.Model) -> dict[str, Any]:
        return {}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.check_permission(request)
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        can_change = in_scope(request.user, obj, "change")
        context = {
            **self.base_context(),
            "object": obj,
            "can_change": can_change,
            "edit_url": reverse(self.edit_url, args=[obj.pk]) if self.edit_url and can_change else None,
            "history": with_actor_names(history_for(obj)) if self.show_history else None,
            **self.get_extra_context(request, obj),
        }
        return render(request, self.template_name, context)


class ObjectEditView(ObjectViewMixin, View):
    """Create (``pk`` is None: add permission) or edit (the object must be in the user's "change" scope).

    Forms take ``user`` (to scope their choices) and, for model forms, ``instance``. Override ``save()`` to call the
    domain service; it returns the saved object. Services' ValidationErrors show on the form; OutOfScope is a 404.
    """

    form: type[forms.BaseForm]
    template_name = "generic/object_edit.html"
    success_message = ""

    def get_object(self, request: HttpRequest, pk: int | None) -> models.Model:
        if pk is None:
            self.check_permission(request, "add")
            return self.model()
        self.check_permission(request, "change")
        return get_object_or_404(self.get_queryset(request, "change"), pk=pk)

    def get_form_kwargs(self, request: HttpRequest, obj: models.Model) -> dict[str, Any]:
        return {"instance": obj, "user": request.user}

    def get_form(self, request: HttpRequest, obj: models.Model, data: Any = None) -> forms.BaseForm:
        return self.form(data=data, **self.get_form_kwargs(request, obj))

    def save(self, request: HttpRequest, form: forms.BaseForm, obj: models.Model) -> models.Model:
        """Plain record editing: model validation, audit attribution and the scope re-check, all or nothing."""
        with transaction.atomic():
            with acting_as(request.user):
                obj.full_clean()
                obj.save()
            if not in_scope(request.user, obj, "change"):
                raise OutOfScope  # rolls back: the edit would have moved the record out of the user's scope
        return obj

    def get_success_url(self, request: HttpRequest, obj: models.Model) -> str:
        return obj.get_absolute_url()

    def get_return_url(self, request: HttpRequest, obj: models.Model) -> str:
        if obj.pk:
            return obj.get_absolute_url()
        list_url = f"{self.model._meta.app_label}:{self.model._meta.model_name}_list"
        return reverse(list_url)

    def get_context(self, request: HttpRequest, obj: models.Model, form: forms.BaseForm) -> dict[str, Any]:
        return {
            **self.base_context(),
            "object": obj,
            "form": form,
            "is_new": obj.pk is None,
            "return_url": self.get_return_url(request, obj),
        }

    def render_form(self, request: HttpRequest, obj: models.Model, form: forms.BaseForm) -> HttpResponse:
        return render(request, self.template_name, self.get_context(request, obj, form))

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(request, pk)
        return self.render_form(request, obj, self.get_form(request, obj))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(request, pk)
        form = self.get_form(request, obj, data=request.POST)
        if form.is_valid():
            try:
                saved = self.save(request, form, obj)
            except ValidationError as error:
                apply_validation_error(form, error)
            except OutOfScope as error:
                raise Http404 from error
            else:
                messages.success(request, self.success_message or _("Saved."))
                return redirect(self.get_success_url(request, saved))
        return self.render_form(request, obj, form)


# --- home ------------------------------------------------------------------------------------------------------------


def _choice_counts(queryset: models.QuerySet, field: str, choices: Any) -> list[dict[str, Any]]:
    """Rows per choice value in the choices' order (one GROUP BY query), as {value, label, n}."""
    counts = {row[field]: row["n"] for row in queryset.order_by().values(field).annotate(n=Count("pk"))}
    return [
        {"value": value, "label": str(label), "n": counts.get(value, 0)}
        for value, label in choices.choices
        if counts.get(value)
    ]


def _chart(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": row["label"], "value": row["n"]} for row in rows]


def _per_org_unit(queryset: models.QuerySet, path_lookup: str, units: list[Any]) -> dict[int, int]:
    """Count rows under each org unit in one query (one conditional count per unit)."""
    if not units:
        return {}
    result = queryset.order_by().aggregate(
        **{f"u{unit.pk}": Count("pk", filter=Q(**{f"{path_lookup}__startswith": unit.path})) for unit in units}
    )
    return {unit.pk: result[f"u{unit.pk}"] for unit in units}


def _home_cm(user: Any, staff: Any) -> dict[str, Any]:
    from cmdesk.retail.choices import RetailerStatus
    from cmdesk.retail.models import Retailer, Route

    routes = list(
        Route.objects.restrict(user, "view")
        .filter(cm=staff)
        .select_related("org_unit")
        .annotate(retailer_count=Count("retailers"))
        .order_by("code")
    )
    retailers = Retailer.objects.restrict(user, "view")
    by_status = _choice_counts(retailers, "status", RetailerStatus)
    return {
        "routes": routes,
        "by_status": by_status,
        "retailer_total": sum(row["n"] for row in by_status),
        **_cm_attention(user, staff),
    }


def _cm_attention(user: Any, staff: Any) -> dict[str, Any]:
    """What a CM acts on first: today's visits, its retailers' unresolved order alerts, the next allotment week."""
    from cmdesk.supply.models import AlertKind
    from cmdesk.supply.services.alerts import UNRESOLVED, visible_alerts
    from cmdesk.supply.services.allocation import lines_for, week_start_of
    from cmdesk.work.models import VisitStatus
    from cmdesk.work.services import visits as visit_service

    today = timezone.localdate()
    out: dict[str, Any] = {}
    if user.has_perm("work.add_visit"):
        items = visit_service.day_list(staff, today)
        out["visits_today"] = {"total": len(items), "done": sum(1 for i in items if i.state == VisitStatus.DONE)}
    if user.has_perm("supply.view_alert"):
        alerts = visible_alerts(user).filter(status__in=UNRESOLVED, retailer__isnull=False)
        # the rarer kinds first, as the demo's referrals pick them: a spike or a proxy before a peer-growth warning
        out["alerts"] = list(
            alerts.select_related("retailer").order_by(
                models.Case(models.When(kind=AlertKind.PEER_GROWTH, then=1), default=0), "-severity", "-period_end"
            )[:5]
        )
        out["alert_count"] = alerts.count()
    if user.has_perm("supply.view_allocationline"):
        lines = lines_for(user).filter(allocation__week_start__gte=week_start_of(today))
        week = lines.order_by("allocation__week_start").values_list("allocation__week_start", flat=True).first()
        if week is not None:
            week_lines = lines.filter(allocation__week_start=week)
            out["allotment"] = {
                "week": week,
                "retailers": week_lines.values("retailer").distinct().count(),
                "cartons": week_lines.aggregate(n=models.Sum("final_quantity"))["n"] or 0,
            }
    return out


def _supply_attention(user: Any) -> dict[str, Any]:
    """For heads, clerks and the centre: the supply work waiting in their scope (unresolved order alerts and overdue
    referrals, tier recomputes to apply, allocations to publish). At most four queries however much there is."""
    from cmdesk.supply.models import AlertStatus, Allocation, AllocationStatus, RunStatus, TierRun
    from cmdesk.supply.services.alerts import UNRESOLVED, overdue_referrals, visible_alerts, visible_referrals

    out: dict[str, Any] = {}
    if user.has_perm("supply.view_alert"):
        counts = (
            visible_alerts(user)
            .filter(status__in=UNRESOLVED)
            .aggregate(
                open=Count("pk", filter=Q(status=AlertStatus.OPEN)),
                referred=Count("pk", filter=Q(status=AlertStatus.REFERRED)),
            )
        )
        overdue = (visible_referrals(user) & overdue_referrals()).count()
        out["supply_alerts"] = {**counts, "overdue": overdue}
    if user.has_perm("supply.apply_tierrun"):
        out["tier_drafts"] = TierRun.objects.restrict(user, "view").filter(status=RunStatus.DRAFT).count()
    if user.has_perm("supply.add_allocation"):
        out["allocation_drafts"] = (
            Allocation.objects.restrict(user, "view").filter(status=AllocationStatus.DRAFT).count()
        )
    return out


def _home_department(user: Any, staff: Any) -> dict[str, Any]:
    from cmdesk.org.choices import Role
    from cmdesk.org.models import Staff
    from cmdesk.retail.choices import BusinessFormat, MarketType
    from cmdesk.retail.models import Retailer, Route

    routes = list(
        Route.objects.restrict(user, "view")
        .select_related("cm", "org_unit")
        .annotate(retailer_count=Count("retailers"))
        .order_by("code")
    )
    cms = list(
        Staff.objects.restrict(user, "view")
        .filter(role=Role.CM, active=True)
        .select_related("org_unit")
        .annotate(route_count=Count("routes", distinct=True), retailer_count=Count("routes__retailers", distinct=True))
        .order_by("org_unit__path", "employee_no")
    )
    retailers = Retailer.objects.restrict(user, "view")
    by_format = _choice_counts(retailers, "business_format", BusinessFormat)
    by_market = _choice_counts(retailers, "market_type", MarketType)
    return {
        "routes": routes,
        "cms": cms,
        "by_format": by_format,
        "by_market": by_market,
        "retailer_total": sum(row["n"] for row in by_format),
        "chart_format": _chart(by_format),
        "chart_market": _chart(by_market),
        **_supply_attention(user),
    }


def _home_city(user: Any, staff: Any) -> dict[str, Any]:
    from cmdesk.org.choices import OrgKind, Role
    from cmdesk.org.models import OrgUnit, Staff
    from cmdesk.retail.choices import BusinessFormat, MarketType
    from cmdesk.retail.models import Retailer, Route

    branches = list(OrgUnit.objects.filter(kind=OrgKind.BRANCH).order_by("path"))
    retailers = Retailer.objects.restrict(user, "view")
    staff_qs = Staff.objects.restrict(user, "view").filter(active=True)
    route_counts = _per_org_unit(Route.objects.restrict(user, "view"), "org_unit__path", branches)
    cm_counts = _per_org_unit(staff_qs.filter(role=Role.CM), "org_unit__path", branches)
    retailer_counts = _per_org_unit(retailers, "route__org_unit__path", branches)
    branch_rows = [
        {"unit": b, "routes": route_counts[b.pk], "cms": cm_counts[b.pk], "retailers": retailer_counts[b.pk]}
        for b in branches
    ]
    by_format = _choice_counts(retailers, "business_format", BusinessFormat)
    by_market = _choice_counts(retailers, "market_type", MarketType)
    total = sum(row["n"] for row in by_format)
    for row in by_format + by_market:
        row["share"] = row["n"] / total if total else 0
    return {
        "branches": branch_rows,
        "totals": {
            "routes": sum(r["routes"] for r in branch_rows),
            "cms": sum(r["cms"] for r in branch_rows),
            "retailers": sum(r["retailers"] for r in branch_rows),
        },
        "by_format": by_format,
        "by_market": by_market,
        "by_role": _choice_counts(staff_qs, "role", Role),
        "retailer_total": total,
        "chart_format": _chart(by_format),
        "chart_market": _chart(by_market),
        **_supply_attention(user),
    }


def _home_inspector(user: Any, staff: Any) -> dict[str, Any]:
    from cmdesk.retail.choices import BusinessFormat, RetailerStatus
    from cmdesk.retail.models import Retailer
    from cmdesk.supply.services.alerts import is_overdue, visible_referrals

    retailers = Retailer.objects.restrict(user, "view")
    by_status = _choice_counts(retailers, "status", RetailerStatus)
    referrals = list(
        visible_referrals(user)
        .filter(outcome="")
        .select_related("alert", "alert__retailer", "referred_by")
        .order_by("deadline", "id")[:20]
    )
    return {
        "by_status": by_status,
        "by_format": _choice_counts(retailers, "business_format", BusinessFormat),
        "retailer_total": sum(row["n"] for row in by_status),
        "referrals": [{"ref": r, "overdue": is_overdue(r)} for r in referrals],
    }


class HomeView(LoginRequiredMixin, View):
    """The start page, by role: a CM's own routes, a department's or branch's routes and CMs, the city overview."""

    def get(self, request: HttpRequest) -> HttpResponse:
        from cmdesk.org.choices import Role
        from cmdesk.org.models import Staff

        user = request.user
        try:
            staff = user.staff  # cached on the user: the navigation's context processor reuses it
        except Staff.DoesNotExist:
            staff = None
        role = staff.role if staff is not None else (Role.ADMIN if user.is_superuser else None)
        if staff is not None and not staff.active and not user.is_superuser:
            role = None
        builders = {
            Role.CM: ("core/home/cm.html", _home_cm),
            Role.HEAD: ("core/home/department.html", _home_department),
            Role.CLERK: ("core/home/department.html", _home_department),
            Role.CENTRE: ("core/home/city.html", _home_city),
            Role.ADMIN: ("core/home/city.html", _home_city),
            Role.INSPECTOR: ("core/home/inspector.html", _home_inspector),
        }
        template, build = builders.get(role, ("core/home/none.html", lambda user, staff: {}))
        context = {"staff": staff, "role": role, "role_label": Role(role).label if role else "", **build(user, staff)}
        return render(request, template, context)
