"""Pages: monthly plans (月计划).

* ``work:plan_list`` — a CM's own plans with the button for next month's; a head's (clerk's, centre's) CMs for a month
  with each plan's status and whether it came on time, late or not at all, and the department targets.
* ``work:plan_detail`` — the plan: route targets with the suggestion and its basis, key-brand targets, key tasks,
  focus retailers (linked to the retailer pages); submit for its CM, approve or return for a reviewer.
* ``work:plan_edit`` — the CM's form (draft or returned plans only).
* ``work:plan_revisions`` — every submitted and decided version with its snapshot.
* ``work:dept_targets`` — department targets for heads and the centre.

Every plan comes from ``MonthlyPlan.objects.restrict(user)``: another CM's plan is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm
from cmdesk.core.views import apply_validation_error
from cmdesk.org.models import staff_of

from ..forms_plans import DecisionForm, DeptTargetForm, PlanEditForm, PrepareForm
from ..models import DeptTarget, MonthlyPlan, PlanStatus
from ..rules import next_month, previous_month
from ..services import plans as svc

STATE_LABELS = {
    "missing": ("danger", gettext_lazy("Missing")),
    "pending": ("secondary", gettext_lazy("Not yet due")),
    "on_time": ("success", gettext_lazy("On time")),
    "late": ("warning", gettext_lazy("Late")),
}
STATUS_COLOURS = {
    PlanStatus.DRAFT: "secondary",
    PlanStatus.SUBMITTED: "primary",
    PlanStatus.APPROVED: "success",
    PlanStatus.RETURNED: "warning",
}


def _check_view(request: HttpRequest) -> None:
    if not has_model_perm(request.user, MonthlyPlan, "view"):
        raise PermissionDenied


def _get_plan(request: HttpRequest, pk: int) -> MonthlyPlan:
    _check_view(request)
    return get_object_or_404(
        MonthlyPlan.objects.restrict(request.user, "view").select_related("cm", "decided_by"), pk=pk
    )


def explain(basis: dict[str, Any]) -> str:
    """One sentence saying where a suggested target comes from."""
    if not basis:
        return ""
    method = basis.get("method")
    if method == "last_year":
        text = _(
            "%(ly_month)s sold %(ly)s cases × trend %(trend)s (the last months against last year: %(now)s / "
            "%(then)s cases, kept within %(low)s–%(high)s)"
        ) % {
            "ly_month": basis.get("last_year_month"),
            "ly": basis.get("last_year_cases"),
            "trend": basis.get("trend"),
            "now": basis.get("trend_cases"),
            "then": basis.get("trend_cases_last_year"),
            "low": (basis.get("trend_band") or ["", ""])[0],
            "high": (basis.get("trend_band") or ["", ""])[1],
        }
    elif method == "recent_average":
        text = _("no sales in %(ly_month)s: the average of %(window)s, %(avg)s cases a month") % {
            "ly_month": basis.get("last_year_month"),
            "window": basis.get("trend_window"),
            "avg": basis.get("recent_average_cases"),
        }
    else:
        text = _("no sales to build on")
    if basis.get("scale"):
        text += _(" × %(scale)s so that the routes of %(dept)s add up to its target of %(target)s cases") % {
            "scale": basis["scale"],
            "dept": basis.get("dept", ""),
            "target": basis.get("dept_target_cases"),
        }
    return text


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    _check_view(request)
    user = request.user
    staff = staff_of(user)
    upcoming = svc.next_plan_month()
    if staff is not None and staff.role == "cm":
        plans = list(MonthlyPlan.objects.restrict(user, "view").filter(cm=staff).order_by("-month"))
        have = {p.month for p in plans}
        current = previous_month(upcoming)
        startable = [m for m in (current, upcoming) if m not in have]
        return render(
            request,
            "work/plans/list_cm.html",
            {
                "plans": plans,
                "startable": startable,
                "can_add": has_model_perm(user, MonthlyPlan, "add"),
                "status_colours": STATUS_COLOURS,
            },
        )
    form = PrepareForm(request.GET or None, initial={"month": upcoming})
    month = upcoming
    if request.GET.get("month") and form.is_valid():
        month = form.cleaned_data["month"]
    rows = svc.plan_overview(user, month)
    counts = {key: sum(1 for r in rows if r.state == key) for key in STATE_LABELS}
    targets = (
        list(DeptTarget.objects.restrict(user, "view").filter(month=month).select_related("org_unit"))
        if has_model_perm(user, DeptTarget, "view")
        else []
    )
    return render(
        request,
        "work/plans/list_head.html",
        {
            "month": month,
            "previous": previous_month(month),
            "following": next_month(month),
            "rows": [
                {"row": r, "colour": STATE_LABELS[r.state][0], "state_label": STATE_LABELS[r.state][1]} for r in rows
            ],
            "counts": [(STATE_LABELS[k][1], STATE_LABELS[k][0], counts[k]) for k in STATE_LABELS],
            "targets": targets,
            "status_colours": STATUS_COLOURS,
            "can_set_target": has_model_perm(user, DeptTarget, "add") or has_model_perm(user, DeptTarget, "change"),
        },
    )


@login_required
@require_POST
def plan_prepare(request: HttpRequest) -> HttpResponse:
    if not has_model_perm(request.user, MonthlyPlan, "add"):
        raise PermissionDenied
    staff = staff_of(request.user)
    form = PrepareForm(request.POST)
    if staff is None or not form.is_valid():
        messages.error(request, _("Choose a month for the plan."))
        return redirect("work:plan_list")
    try:
        plan = svc.plan_prepare(staff, form.cleaned_data["month"], request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("work:plan_list")
    except OutOfScope as error:
        raise Http404 from error
    return redirect("work:plan_detail", pk=plan.pk)


def _lines(plan: MonthlyPlan) -> dict[str, Any]:
    routes = list(plan.route_targets.select_related("route").order_by("route__code"))
    brands = list(plan.brand_targets.order_by("brand"))
    for line in routes + brands:
        line.explanation = explain(line.basis)
        line.changed = line.target_cases != line.suggested_cases
    focus = sorted(plan.focus_retailers.select_related("retailer"), key=svc.focus_sort_key)
    return {"routes": routes, "brands": brands, "focus": focus}


def _owner(request: HttpRequest, plan: MonthlyPlan) -> bool:
    staff = staff_of(request.user)
    return staff is not None and staff.pk == plan.cm_id and has_model_perm(request.user, MonthlyPlan, "change")


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(request, pk)
    owner = _owner(request, plan)
    editable = owner and plan.status in svc.EDITABLE
    can_review = request.user.has_perm("work.review_monthlyplan") and plan.status == PlanStatus.SUBMITTED
    return render(
        request,
        "work/plans/detail.html",
        {
            "plan": plan,
            **_lines(plan),
            "owner": owner,
            "editable": editable,
            "can_review": can_review,
            "decision_form": DecisionForm(),
            "status_colour": STATUS_COLOURS.get(plan.status, "secondary"),
            "revision_count": plan.revisions.count(),
        },
    )


@login_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(request, pk)
    if not _owner(request, plan):
        raise PermissionDenied
    if plan.status not in svc.EDITABLE:
        messages.error(request, _("The plan can no longer be changed."))
        return redirect("work:plan_detail", pk=plan.pk)
    form = PlanEditForm(request.POST or None, plan=plan)
    if request.method == "POST" and form.is_valid():
        try:
            svc.plan_update(plan, request.user, **form.service_kwargs())
        except ValidationError as error:
            apply_validation_error(form, error)
        except OutOfScope as error:
            raise Http404 from error
        else:
            if "submit" in request.POST:
                return _submit(request, plan)
            messages.success(request, _("Plan saved."))
            return redirect("work:plan_detail", pk=plan.pk)
    for row in form.route_rows + form.brand_rows:
        row["explanation"] = explain(row["line"].basis)
    return render(request, "work/plans/edit.html", {"plan": plan, "form": form})


@login_required
@require_POST
def plan_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(request, _get_plan(request, pk))


def _submit(request: HttpRequest, plan: MonthlyPlan) -> HttpResponse:
    try:
        plan = svc.plan_submit(plan, request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except OutOfScope as error:
        raise Http404 from error
    else:
        if plan.late:
            messages.warning(request, _("Plan submitted after its due time (late)."))
        else:
            messages.success(request, _("Plan submitted for review."))
    return redirect("work:plan_detail", pk=plan.pk)


@login_required
@require_POST
def plan_decide(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or return the plan."))
        return redirect("work:plan_detail", pk=plan.pk)
    decide = svc.plan_approve if form.cleaned_data["decision"] == "approve" else svc.plan_return
    try:
        decide(plan, request.user, form.cleaned_data["comment"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except OutOfScope as error:
        raise Http404 from error
    else:
        messages.success(request, _("Plan approved.") if decide is svc.plan_approve else _("Plan returned."))
    return redirect("work:plan_detail", pk=plan.pk)


@login_required
def plan_revisions(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(request, pk)
    revisions = list(plan.revisions.order_by("-version", "-id"))
    from cmdesk.org.models import Staff

    names = dict(
        Staff.objects.filter(user_id__in={r.by_id for r in revisions if r.by_id}).values_list("user_id", "name")
    )
    for r in revisions:
        r.by_name = names.get(r.by_id, "")
        r.colour = STATUS_COLOURS.get(r.status, "secondary")
    return render(request, "work/plans/revisions.html", {"plan": plan, "revisions": revisions})


@login_required
def dept_targets(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not has_model_perm(user, DeptTarget, "view"):
        raise PermissionDenied
    can_set = has_model_perm(user, DeptTarget, "add") or has_model_perm(user, DeptTarget, "change")
    form = DeptTargetForm(request.POST or None, user=user, initial={"month": svc.next_plan_month()})
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                svc.set_dept_target(user, data["org_unit"], data["month"], data["volume_cases"], data["note"])
            except ValidationError as error:
                apply_validation_error(form, error)
            except OutOfScope as error:
                raise Http404 from error
            else:
                messages.success(request, _("Department target saved."))
                return redirect(reverse("work:dept_targets"))
    targets = DeptTarget.objects.restrict(user, "view").select_related("org_unit", "set_by")[:100]
    return render(request, "work/plans/dept_targets.html", {"form": form, "targets": targets, "can_set": can_set})


urlpatterns = [
    path("plans/", plan_list, name="plan_list"),
    path("plans/prepare/", plan_prepare, name="plan_prepare"),
    path("plans/targets/", dept_targets, name="dept_targets"),
    path("plans/<int:pk>/", plan_detail, name="plan_detail"),
    path("plans/<int:pk>/edit/", plan_edit, name="plan_edit"),
    path("plans/<int:pk>/submit/", plan_submit, name="plan_submit"),
    path("plans/<int:pk>/decide/", plan_decide, name="plan_decide"),
    path("plans/<int:pk>/versions/", plan_revisions, name="plan_revisions"),
]
