"""Pages: allocation of scarce brands by tier (按档位投放).

* ``supply:allocation_list`` — the allocations in scope by week (a CM: published and evaluated ones reaching its
  retailers, with a link to its allotments).
* ``supply:allocation_create`` — heads, clerks and the centre: the form (product, org unit, week, cartons, variant,
  lowest tier, cap, selected points, segment and tier weights); the result is a draft.
* ``supply:allocation_detail`` — the tier table with the bar chart of a_g by tier (one series per segment), totals
  against the cartons available, the lines with search, the adjustments, the outcome after the week and the
  proposal; publish, evaluate, propose and export from here.
* ``supply:allocation_mine`` — a CM's allotments for a week, as cards for the phone, each with its adjustment form.
* ``supply:allocation_fairness`` — heads, clerks and the centre: CMs whose cuts keep hitting the same retailers.
* ``supply:allocation_export`` (``?kind=csv|xlsx``) and POST ``allocation_publish``, ``allocation_evaluate``,
  ``allocation_propose``, ``allocation_line_adjust``.

Out of scope is 404; a role without the model's view permission (an inspector) gets 403.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cmdesk.catalog.models import Product, ProductStatus
from cmdesk.core.pages import call_service as _call
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.core.widgets import DateInput
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit
from cmdesk.retail.models import Retailer

from ..api.allocation import fairness_params, may_read_fairness
from ..models import (
    Allocation,
    AllocationAdjustment,
    AllocationLine,
    AllocationStatus,
    AllocationVariant,
)
from ..services import allocation as svc

LIST_LIMIT = 200
LINES_LIMIT = 500


def _file(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _next_monday(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(7 - day.weekday()) % 7 or 7)


# --- the form --------------------------------------------------------------------------------------------------------
def allocation_units(user: Any) -> list[OrgUnit]:
    """Org units the user may allocate for (inside its scope)."""
    kinds = (OrgKind.CITY, OrgKind.BRANCH, OrgKind.DEPARTMENT, OrgKind.AREA)
    return list(OrgUnit.objects.get_queryset().in_scope(user_scope(user)).filter(kind__in=kinds).order_by("path"))


class JSONObjectField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return {}
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(e)s") % {"e": exc}) from exc
        if not isinstance(data, dict):
            raise forms.ValidationError(_('Expected an object such as {"urban": 1, "rural": 0.6}.'))
        return data


class AllocationForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.none(), label=gettext_lazy("Scarce product"))
    org_unit = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label=gettext_lazy("Org unit"))
    week_start = forms.DateField(label=gettext_lazy("Order week (Monday)"), widget=DateInput())
    available = forms.IntegerField(min_value=1, label=gettext_lazy("Cartons available"))
    variant = forms.ChoiceField(choices=AllocationVariant.choices, label=gettext_lazy("Variant"))
    min_tier = forms.IntegerField(min_value=1, max_value=30, initial=1, label=gettext_lazy("Lowest tier served"))
    cap_per_retailer = forms.IntegerField(min_value=1, required=False, label=gettext_lazy("Cap per retailer (cartons)"))
    selected = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=gettext_lazy("Selected points (选点): licence numbers"),
        help_text=gettext_lazy("One per line or separated by commas; when given, only these retailers are served."),
    )
    segment_weights = JSONObjectField(
        required=False, label=gettext_lazy("Segment weights (JSON)"), help_text='{"urban": 1, "rural": 0.6}'
    )
    tier_weights = JSONObjectField(
        required=False,
        label=gettext_lazy("Tier weights (JSON)"),
        help_text=gettext_lazy('Empty: linear. E.g. {"30": 3, "20": 2, "10": 1}; never decreasing with the tier.'),
    )
    note = forms.CharField(required=False, max_length=300, label=gettext_lazy("Note"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(scarce=True, status=ProductStatus.ON_SALE).order_by(
            "code"
        )
        self.fields["org_unit"].queryset = OrgUnit.objects.filter(pk__in=[u.pk for u in allocation_units(user)])
        for f in self.fields.values():
            css = "form-select" if isinstance(f.widget, forms.Select) else "form-control"
            f.widget.attrs.setdefault("class", css)

    def clean_selected(self) -> list[int]:
        licences = [x.strip() for x in self.cleaned_data["selected"].replace(",", "\n").splitlines() if x.strip()]
        found = dict(Retailer.objects.filter(licence_no__in=licences).values_list("licence_no", "pk"))
        unknown = [x for x in licences if x not in found]
        if unknown:
            raise forms.ValidationError(_("Unknown licence numbers: %(list)s") % {"list": ", ".join(unknown)})
        return [found[x] for x in licences]

    def request(self) -> svc.AllocationRequest:
        d = self.cleaned_data
        return svc.AllocationRequest(
            product=d["product"],
            org_unit=d["org_unit"],
            week_start=d["week_start"],
            available=d["available"],
            variant=d["variant"],
            min_tier=d["min_tier"],
            cap_per_retailer=d["cap_per_retailer"],
            selected=d["selected"],
            selected_only=bool(d["selected"]),
            segment_weights=d["segment_weights"],
            tier_weights=d["tier_weights"],
            note=d["note"],
        )


class AdjustForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, label=gettext_lazy("New allotment"))
    reason = forms.CharField(max_length=300, label=gettext_lazy("Reason"))


# --- pages -----------------------------------------------------------------------------------------------------------
@login_required
def allocation_list(request: HttpRequest) -> HttpResponse:
    _need(request, Allocation)
    is_cm = svc.is_own_scope(request.user)
    qs = svc.allocations_for(request.user).select_related("product", "org_unit")
    week = (request.GET.get("week") or "").strip()
    status = request.GET.get("status") or ""
    q = (request.GET.get("q") or "").strip()
    if week:
        try:
            qs = qs.filter(week_start=svc.week_start_of(dt.date.fromisoformat(week)))
        except ValueError:
            messages.error(request, _("%(w)s is not a date.") % {"w": week})
    if status in AllocationStatus.values:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(product__code__icontains=q) | Q(product__name__icontains=q) | Q(product__brand__icontains=q))
    allocations = list(qs.order_by("-week_start", "product__code", "org_unit__path")[:LIST_LIMIT])
    if is_cm:
        mine = dict(
            svc.lines_for(request.user)
            .filter(allocation__in=[a.pk for a in allocations])
            .values("allocation")
            .annotate(n=Count("id"))
            .values_list("allocation", "n")
        )
        for a in allocations:
            a.my_lines = mine.get(a.pk, 0)
    context = {
        "allocations": allocations,
        "is_cm": is_cm,
        "week": week,
        "status": status,
        "q": q,
        "statuses": AllocationStatus.choices,
        "can_create": has_model_perm(request.user, Allocation, "add"),
        "can_fairness": may_read_fairness(request.user),
    }
    return render(request, "supply/allocation_list.html", context)


@login_required
def allocation_create(request: HttpRequest) -> HttpResponse:
    _need(request, Allocation, "add")
    if request.method == "POST":
        form = AllocationForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                allocation = svc.create_allocation(form.request(), request.user)
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for name, errs in error.error_dict.items():
                        form.add_error(name if name in form.fields else None, errs)
                else:
                    form.add_error(None, error)
            else:
                messages.success(request, _("Allocated as a draft: check the tiers, then publish."))
                return redirect("supply:allocation_detail", allocation.pk)
    else:
        form = AllocationForm(user=request.user, initial={"week_start": _next_monday(timezone.localdate())})
    return render(request, "supply/allocation_form.html", {"form": form})


def _chart(allocation: Allocation, tiers: list) -> dict[str, Any]:
    """Bar chart data: a_g by tier (highest first), one series per segment."""
    labels = sorted({t.tier for t in tiers}, reverse=True)
    by_segment: dict[str, dict[int, int]] = defaultdict(dict)
    for t in tiers:
        by_segment[t.segment][t.tier] = t.quantity
    series = [
        {
            "name": svc.segment_label(allocation.variant, seg) or _("cartons per retailer"),
            "data": [values.get(g) for g in labels],
        }
        for seg, values in sorted(by_segment.items())
    ]
    return {"labels": [f"D{g}" for g in labels], "series": series}


def _tier_table(allocation: Allocation, tiers: list) -> dict[str, Any]:
    """Rows per tier with one (quantity, retailers) column per segment, and totals."""
    segments = sorted({t.segment for t in tiers})
    cells = {(t.tier, t.segment): t for t in tiers}
    previous: dict[tuple[int, str], int] = {}
    if allocation.based_on_id:
        previous = {(t.tier, t.segment): t.quantity for t in allocation.based_on.tiers.all()}
    rows = []
    for g in sorted({t.tier for t in tiers}, reverse=True):
        rows.append(
            {
                "tier": g,
                "cells": [{"cell": cells.get((g, s)), "previous": previous.get((g, s))} for s in segments],
                "retailers": sum(cells[(g, s)].retailers for s in segments if (g, s) in cells),
                "total": sum(cells[(g, s)].total for s in segments if (g, s) in cells),
            }
        )
    return {
        "segments": [{"code": s, "label": svc.segment_label(allocation.variant, s)} for s in segments],
        "rows": rows,
        "retailers": sum(t.retailers for t in tiers),
        "total": sum(t.total for t in tiers),
    }


@login_required
def allocation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Allocation)
    allocation = get_object_or_404(
        svc.allocations_for(request.user).select_related("product", "org_unit", "based_on", "created_by"), pk=pk
    )
    user = request.user
    is_cm = svc.is_own_scope(user)
    tiers = list(allocation.tiers.all())
    q = (request.GET.get("q") or "").strip()
    lines = (
        svc.lines_for(user)
        .filter(allocation=allocation)
        .select_related("retailer__route__cm")
        .order_by("-tier", "retailer__licence_no")
    )
    if q:
        lines = lines.filter(
            Q(retailer__licence_no__icontains=q)
            | Q(retailer__shop_name__icontains=q)
            | Q(retailer__search_key__icontains=q.lower())
            | Q(retailer__route__cm__name__icontains=q)
        )
    line_count = lines.count()
    adjustments = list(
        AllocationAdjustment.objects.filter(line__in=svc.lines_for(user).filter(allocation=allocation))
        .select_related("by", "line__retailer")
        .order_by("-at", "-id")[:LIST_LIMIT]
    )
    today = timezone.localdate()
    editable = allocation.status == AllocationStatus.DRAFT or (
        allocation.status == AllocationStatus.PUBLISHED and today < allocation.week_start
    )
    if is_cm and allocation.status == AllocationStatus.DRAFT:
        editable = False
    outcome = allocation.outcome or {}
    proposal = (allocation.based_on.outcome or {}).get("proposal") if allocation.based_on_id else None
    next_allocation = Allocation.objects.filter(based_on=allocation).first()
    context = {
        "allocation": allocation,
        "table": _tier_table(allocation, tiers),
        "chart": _chart(allocation, tiers),
        "lines": lines[:LINES_LIMIT],
        "line_count": line_count,
        "lines_limit": LINES_LIMIT,
        "q": q,
        "adjustments": adjustments,
        "outcome": outcome,
        "own_proposal": outcome.get("proposal"),
        "proposal": proposal,
        "next_allocation": next_allocation
        if next_allocation and svc.allocations_for(user).filter(pk=next_allocation.pk).exists()
        else None,
        "is_cm": is_cm,
        "free": allocation.available - allocation.allotted_total,
        "can_adjust": editable and user.has_perm("supply.adjust_allocationline"),
        "can_publish": allocation.status == AllocationStatus.DRAFT and user.has_perm("supply.publish_allocation"),
        "can_evaluate": allocation.status != AllocationStatus.DRAFT
        and user.has_perm("supply.change_allocation")
        and today > allocation.week_start + dt.timedelta(days=6),
        "can_propose": allocation.status == AllocationStatus.CLOSED and user.has_perm("supply.add_allocation"),
        "adjust_form": AdjustForm(),
    }
    return render(request, "supply/allocation_detail.html", context)


def _allocation_for(request: HttpRequest, pk: int, action: str = "view") -> Allocation:
    return get_object_or_404(svc.allocations_for(request.user, action).select_related("product", "org_unit"), pk=pk)


@login_required
@require_POST
def allocation_publish(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Allocation, "change")
    allocation = _allocation_for(request, pk, "change")
    _call(request, svc.publish, allocation, request.user, success=_("Published: the CMs see their retailers' lines."))
    return redirect("supply:allocation_detail", allocation.pk)


@login_required
@require_POST
def allocation_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Allocation, "change")
    allocation = _allocation_for(request, pk, "change")
    _call(request, svc.evaluate, allocation, request.user, success=_("Evaluated from the week's orders."))
    return redirect("supply:allocation_detail", allocation.pk)


@login_required
@require_POST
def allocation_propose(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Allocation, "add")
    allocation = _allocation_for(request, pk, "add")
    available = None
    if request.POST.get("available"):
        try:
            available = int(request.POST["available"])
        except ValueError:
            messages.error(request, _("The cartons available must be a whole number."))
            return redirect("supply:allocation_detail", allocation.pk)
    nxt = _call(
        request,
        svc.propose,
        allocation,
        request.user,
        available=available,
        success=_("Next week's draft is proposed from this week's outcome."),
    )
    return redirect("supply:allocation_detail", nxt.pk if nxt else allocation.pk)


@login_required
def allocation_export(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Allocation)
    allocation = _allocation_for(request, pk)
    try:
        content, content_type, name = svc.export_file(allocation, request.GET.get("kind", "xlsx"), request.user)
    except ValidationError as exc:
        raise Http404 from exc
    return _file(content, content_type, name)


@login_required
@require_POST
def line_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, AllocationLine)
    line = get_object_or_404(svc.lines_for(request.user).select_related("allocation", "retailer"), pk=pk)
    if not request.user.has_perm("supply.adjust_allocationline"):
        raise PermissionDenied
    form = AdjustForm(request.POST)
    if form.is_valid():
        _call(
            request,
            svc.adjust_line,
            line,
            request.user,
            form.cleaned_data["quantity"],
            form.cleaned_data["reason"],
            success=_("%(shop)s: allotment changed to %(q)s.")
            % {"shop": line.retailer.shop_name, "q": form.cleaned_data["quantity"]},
        )
    else:
        texts = [f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items() if f in form.fields]
        messages.error(request, " ".join(texts))
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(f"{reverse('supply:allocation_detail', args=[line.allocation_id])}#line-{line.pk}")


@login_required
def allocation_mine(request: HttpRequest) -> HttpResponse:
    """A CM's allotments of one order week (default: the next week with any, else the latest)."""
    _need(request, AllocationLine)
    lines = svc.lines_for(request.user)
    week_text = (request.GET.get("week") or "").strip()
    week = None
    if week_text:
        try:
            week = svc.week_start_of(dt.date.fromisoformat(week_text))
        except ValueError:
            messages.error(request, _("%(w)s is not a date.") % {"w": week_text})
    weeks = list(
        lines.values_list("allocation__week_start", flat=True).distinct().order_by("-allocation__week_start")[:12]
    )
    if week is None and weeks:
        today = timezone.localdate()
        upcoming = [w for w in weeks if w >= svc.week_start_of(today)]
        week = min(upcoming) if upcoming else weeks[0]
    q = (request.GET.get("q") or "").strip()
    rows = lines.filter(allocation__week_start=week).select_related("allocation__product", "retailer") if week else []
    if week and q:
        rows = rows.filter(
            Q(retailer__licence_no__icontains=q)
            | Q(retailer__shop_name__icontains=q)
            | Q(retailer__search_key__icontains=q.lower())
        )
    rows = (
        list(rows.order_by("retailer__visit_order", "retailer__shop_name", "allocation__product__code")) if week else []
    )
    today = timezone.localdate()
    can_adjust = request.user.has_perm("supply.adjust_allocationline")
    last = {}
    for adj in AllocationAdjustment.objects.filter(line__in=[r.pk for r in rows]).order_by("at", "id"):
        last[adj.line_id] = adj
    for r in rows:
        r.editable = (
            can_adjust and r.allocation.status == AllocationStatus.PUBLISHED and today < r.allocation.week_start
        )
        r.last_adjustment = last.get(r.pk)
        r.limit = svc.raise_limit(r, r.allocation.cap_per_retailer)
    by_shop: dict[int, dict[str, Any]] = {}
    for r in rows:
        by_shop.setdefault(r.retailer_id, {"retailer": r.retailer, "lines": []})["lines"].append(r)
    context = {
        "week": week,
        "weeks": weeks,
        "shops": list(by_shop.values()),
        "q": q,
        "total": sum(r.final_quantity for r in rows),
    }
    return render(request, "supply/allocation_mine.html", context)


@login_required
def allocation_fairness(request: HttpRequest) -> HttpResponse:
    if not may_read_fairness(request.user):
        raise PermissionDenied
    report = None
    try:
        params = fairness_params(request.GET)
    except ValueError as exc:
        messages.error(request, str(exc))
        params = fairness_params({})
    try:
        report = svc.fairness(request.user, **params)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    if report is not None and request.GET.get("kind") == "xlsx":
        name = f"fairness-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.xlsx"
        return _file(svc.fairness_xlsx(report), svc.XLSX_CONTENT_TYPE, name)
    return render(request, "supply/allocation_fairness.html", {"report": report, "params": params})


urlpatterns = [
    path("allocations/", allocation_list, name="allocation_list"),
    path("allocations/new/", allocation_create, name="allocation_create"),
    path("allocations/mine/", allocation_mine, name="allocation_mine"),
    path("allocations/fairness/", allocation_fairness, name="allocation_fairness"),
    path("allocations/<int:pk>/", allocation_detail, name="allocation_detail"),
    path("allocations/<int:pk>/publish/", allocation_publish, name="allocation_publish"),
    path("allocations/<int:pk>/evaluate/", allocation_evaluate, name="allocation_evaluate"),
    path("allocations/<int:pk>/propose/", allocation_propose, name="allocation_propose"),
    path("allocations/<int:pk>/export/", allocation_export, name="allocation_export"),
    path("allocation-lines/<int:pk>/adjust/", line_adjust, name="allocation_line_adjust"),
]
