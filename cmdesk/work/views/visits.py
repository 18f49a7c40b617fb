"""Pages: the week's arrangement (周安排), today's visits on the phone (日拜访), a visit, the visit history and the
visiting compliance.

Every query goes through ``restrict()``; a record outside the user's scope is a 404. The CM edits its own week and
visits; heads, clerks and the centre read their CMs' (``?cm=``). Writes call the services in cmdesk.work.services;
their ValidationErrors are shown as messages (or inline, for htmx fragments).
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, in_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff, staff_of
from cmdesk.retail.models import Retailer

from ..forms_visits import (
    AddPlannedForm,
    CheckInForm,
    FeedbackForm,
    MoveForm,
    NotesForm,
    PhotoForm,
    RetailerUpdateForm,
    VisitFilterForm,
    week_day_choices,
)
from ..models import (
    AnswerKind,
    PlannedVisit,
    Visit,
    VisitPhoto,
    VisitReason,
    VisitStatus,
    WeekArrangement,
)
from ..rules import month_end, month_start, rules_for, week_start
from ..services import arrange as arrange_service
from ..services import visits as visit_service

# --- helpers ---------------------------------------------------------------------------------------------------------


def _is_cm(staff: Staff | None) -> bool:
    return staff is not None and staff.role == Role.CM


def _pick_cm(request: HttpRequest) -> tuple[Staff | None, list[Staff]]:
    """The CM whose records the page shows: the user itself for a CM, else ``?cm=`` among the CMs in scope."""
    staff = staff_of(request.user)
    if _is_cm(staff):
        return staff, []
    cms = list(
        Staff.objects.restrict(request.user, "view")
        .filter(role=Role.CM, active=True)
        .order_by("org_unit__path", "employee_no")
    )
    raw = request.GET.get("cm") or request.POST.get("cm")
    if raw:
        try:
            chosen = next(c for c in cms if c.pk == int(raw))
        except (StopIteration, ValueError):
            raise Http404 from None
        return chosen, cms
    return None, cms


def _parse_day(raw: str | None, default: datetime.date) -> datetime.date:
    if not raw:
        return default
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None


def _errors(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [m for messages_ in error.message_dict.values() for m in messages_]
    return list(error.messages)


def _flash(request: HttpRequest, error: ValidationError) -> None:
    for message in _errors(error):
        messages.error(request, message)


def _month_param(raw: str | None) -> datetime.date:
    if not raw:
        return month_start(timezone.localdate())
    try:
        return datetime.datetime.strptime(raw, "%Y-%m").date()
    except ValueError:
        raise Http404 from None


# --- week ------------------------------------------------------------------------------------------------------------


def _week_context(request: HttpRequest, cm: Staff, monday: datetime.date, errors: list[str] | None = None) -> dict:
    arrangement = WeekArrangement.objects.restrict(request.user, "view").filter(cm=cm, week_start=monday).first()
    rules = rules_for(cm)
    days = [monday + datetime.timedelta(days=i) for i in range(7)]
    rows = []
    if arrangement is not None:
        rows = list(
            PlannedVisit.objects.restrict(request.user, "view")
            .filter(arrangement=arrangement)
            .select_related("retailer__route")
            .order_by("date", "seq", "id")
        )
    visits = {v.planned_id: v for v in Visit.objects.filter(planned__in=[r.pk for r in rows])}
    for row in rows:
        row.made = visits.get(row.pk)
    columns = [
        {
            "day": d,
            "workday": d.weekday() in (rules.workdays or []),
            "rows": [r for r in rows if r.date == d],
        }
        for d in days
    ]
    columns = [c for c in columns if c["workday"] or c["rows"]]
    can_edit = (
        in_scope(request.user, arrangement, "change")
        if arrangement is not None
        else (staff_of(request.user) == cm and has_model_perm(request.user, WeekArrangement, "add"))
    )
    month = arrange_service.arrangement_month(monday)
    return {
        "cm": cm,
        "monday": monday,
        "sunday": monday + datetime.timedelta(days=6),
        "arrangement": arrangement,
        "columns": columns,
        "day_choices": week_day_choices(monday),
        "today": timezone.localdate(),
        "can_edit": can_edit,
        "rules": rules,
        "coverage": arrange_service.coverage(cm, month),
        "previous_week": monday - datetime.timedelta(days=7),
        "next_week": monday + datetime.timedelta(days=7),
        "add_form": AddPlannedForm(cm=cm, initial={"date": max(monday, timezone.localdate())}) if can_edit else None,
        "errors": errors or [],
        "total": len(rows),
        "reasons": VisitReason,
    }


@login_required
def week(request: HttpRequest) -> HttpResponse:
    _need(request, WeekArrangement)
    cm, cms = _pick_cm(request)
    monday = week_start(_parse_day(request.GET.get("week"), timezone.localdate()))
    if cm is None:
        return render(
            request,
            "work/visits/pick_cm.html",
            {
                "cms": cms,
                "title": _("Weekly arrangement"),
                "url": reverse("work:week"),
                "extra": {"week": monday.isoformat()},
            },
        )
    context = _week_context(request, cm, monday)
    context["cms"] = cms
    return render(request, "work/visits/week.html", context)


def _week_response(
    request: HttpRequest, cm: Staff, monday: datetime.date, errors: list[str] | None = None
) -> HttpResponse:
    if getattr(request, "htmx", None):
        return render(request, "work/visits/_week_grid.html", _week_context(request, cm, monday, errors))
    for message in errors or []:
        messages.error(request, message)
    return redirect(f"{reverse('work:week')}?{urlencode({'week': monday.isoformat()})}")


def _own_cm(request: HttpRequest) -> Staff:
    staff = staff_of(request.user)
    if not _is_cm(staff):
        raise PermissionDenied
    return staff


@login_required
@require_POST
def week_generate(request: HttpRequest) -> HttpResponse:
    _need(request, WeekArrangement, "add")
    cm = _own_cm(request)
    monday = week_start(_parse_day(request.POST.get("week"), timezone.localdate()))
    errors = None
    try:
        arrange_service.arrange_week(cm, monday, request.user)
    except ValidationError as error:
        errors = _errors(error)
    except OutOfScope as error:
        raise Http404 from error
    return _week_response(request, cm, monday, errors)


@login_required
@require_POST
def week_submit(request: HttpRequest) -> HttpResponse:
    cm = _own_cm(request)
    monday = week_start(_parse_day(request.POST.get("week"), timezone.localdate()))
    arrangement = get_object_or_404(WeekArrangement.objects.restrict(request.user, "change"), cm=cm, week_start=monday)
    errors = None
    try:
        arrange_service.submit_arrangement(arrangement, request.user)
    except ValidationError as error:
        errors = _errors(error)
    except OutOfScope as error:
        raise Http404 from error
    if errors is None and not getattr(request, "htmx", None):
        messages.success(request, _("The week's arrangement was submitted."))
    return _week_response(request, cm, monday, errors)


@login_required
@require_POST
def planned_move(request: HttpRequest, pk: int) -> HttpResponse:
    planned = get_object_or_404(
        PlannedVisit.objects.restrict(request.user, "change").select_related("arrangement"), pk=pk
    )
    form = MoveForm(request.POST)
    errors = None
    if not form.is_valid():
        errors = [str(e) for e in form.errors.get("date", [_("Choose a day.")])]
    else:
        try:
            arrange_service.move_planned(planned, form.cleaned_data["date"], request.user)
        except ValidationError as error:
            errors = _errors(error)
        except OutOfScope as error:
            raise Http404 from error
    return _week_response(request, planned.cm, planned.arrangement.week_start, errors)


@login_required
@require_POST
def planned_add(request: HttpRequest) -> HttpResponse:
    cm = _own_cm(request)
    monday = week_start(_parse_day(request.POST.get("week"), timezone.localdate()))
    form = AddPlannedForm(request.POST, cm=cm)
    errors = None
    if not form.is_valid():
        errors = [str(m) for field_errors in form.errors.values() for m in field_errors]
    else:
        try:
            arrangement = (
                WeekArrangement.objects.restrict(request.user, "change").filter(cm=cm, week_start=monday).first()
            )
            if arrangement is None:
                arrangement = arrange_service.arrange_week(cm, monday, request.user)
            arrange_service.add_planned(
                arrangement, form.cleaned_data["retailer"], form.cleaned_data["date"], request.user
            )
        except ValidationError as error:
            errors = _errors(error)
        except OutOfScope as error:
            raise Http404 from error
    return _week_response(request, cm, monday, errors)


@login_required
@require_POST
def planned_remove(request: HttpRequest, pk: int) -> HttpResponse:
    planned = get_object_or_404(
        PlannedVisit.objects.restrict(request.user, "delete").select_related("arrangement"), pk=pk
    )
    cm, monday = planned.cm, planned.arrangement.week_start
    errors = None
    try:
        arrange_service.remove_planned(planned, request.user)
    except ValidationError as error:
        errors = _errors(error)
    except OutOfScope as error:
        raise Http404 from error
    return _week_response(request, cm, monday, errors)


# --- today and check-in ----------------------------------------------------------------------------------------------


@login_required
def today(request: HttpRequest) -> HttpResponse:
    _need(request, Visit, "add")
    cm = _own_cm(request)
    day = _parse_day(request.GET.get("day"), timezone.localdate())
    items = visit_service.day_list(cm, day)
    done = sum(1 for i in items if i.state == VisitStatus.DONE)
    return render(
        request,
        "work/visits/today.html",
        {
            "cm": cm,
            "day": day,
            "items": items,
            "done": done,
            "open_visit": visit_service.open_visit(cm),
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "is_today": day == timezone.localdate(),
        },
    )


@login_required
def retailer_search(request: HttpRequest) -> HttpResponse:
    _need(request, Visit, "add")
    cm = _own_cm(request)
    query = request.GET.get("q", "").strip()
    results = visit_service.search_retailers(cm, query) if query else []
    return render(request, "work/visits/_search_results.html", {"results": results, "q": query})


def _checkin_page(
    request: HttpRequest, cm: Staff, retailer: Retailer, planned: PlannedVisit | None, form=None
) -> HttpResponse:
    form = form or CheckInForm(
        initial={
            "retailer": retailer.pk,
            "planned": planned.pk if planned else None,
            "visit_type": "focus" if planned is not None and planned.reason == VisitReason.FOCUS else "routine",
        }
    )
    return render(
        request,
        "work/visits/checkin.html",
        {
            "cm": cm,
            "retailer": retailer,
            "planned": planned,
            "form": form,
            "open_visit": visit_service.open_visit(cm),
            "rules": rules_for(cm),
        },
    )


@login_required
def planned_detail(request: HttpRequest, pk: int) -> HttpResponse:
    planned = get_object_or_404(
        PlannedVisit.objects.restrict(request.user, "view").select_related("retailer__route"), pk=pk
    )
    made = Visit.objects.filter(planned=planned).first()
    if made is not None:
        return redirect("work:visit_detail", pk=made.pk)
    staff = staff_of(request.user)
    if staff != planned.cm or not has_model_perm(request.user, Visit, "add"):
        raise PermissionDenied
    return _checkin_page(request, planned.cm, planned.retailer, planned)


@login_required
def visit_start(request: HttpRequest) -> HttpResponse:
    """GET ?retailer=: the check-in page for an unplanned visit; POST: check in (planned or not)."""
    _need(request, Visit, "add")
    cm = _own_cm(request)
    if request.method != "POST":
        retailer = get_object_or_404(
            Retailer.objects.restrict(request.user, "view").select_related("route"), pk=request.GET.get("retailer") or 0
        )
        return _checkin_page(request, cm, retailer, None)
    form = CheckInForm(request.POST)
    if not form.is_valid():
        retailer = get_object_or_404(
            Retailer.objects.restrict(request.user, "view"), pk=form.cleaned_data.get("retailer") or 0
        )
        planned_id = form.cleaned_data.get("planned")
        planned = PlannedVisit.objects.restrict(request.user, "view").filter(pk=planned_id or 0).first()
        return _checkin_page(request, cm, retailer, planned, form)
    data = form.cleaned_data
    retailer = Retailer.objects.filter(pk=data["retailer"]).select_related("route").first()
    if retailer is None:
        raise Http404
    planned = None
    if data.get("planned"):
        planned = get_object_or_404(PlannedVisit.objects.restrict(request.user, "view"), pk=data["planned"])
    try:
        visit = visit_service.check_in(
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
    except ValidationError as error:
        for name, errors in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
            form.add_error(name if name in form.fields else None, errors)
        if not in_scope(request.user, retailer, "view"):
            raise Http404 from error
        return _checkin_page(request, cm, retailer, planned, form)
    except OutOfScope as error:
        raise Http404 from error
    messages.success(request, _("Checked in at %(retailer)s.") % {"retailer": retailer.shop_name})
    return redirect("work:visit_detail", pk=visit.pk)


# --- one visit -------------------------------------------------------------------------------------------------------


def _checklist_rows(visit: Visit, posted: Any = None, errors: dict | None = None) -> list[dict]:
    answers = {c.item_id: c for c in visit.checks.all()}
    brands = list(visit_service.key_brand_products())
    rows = []
    for item in visit_service.applicable_items(visit.visit_type):
        check = answers.get(item.pk)
        value = check.value if check is not None else None
        if posted is not None:
            value = posted.getlist(item.code) if item.answer == AnswerKind.KEY_BRANDS else posted.get(item.code)
        if item.answer == AnswerKind.YES_NO and isinstance(value, bool):
            value = "yes" if value else "no"
        if item.answer == AnswerKind.KEY_BRANDS:
            value = {str(v) for v in (value or [])}
        rows.append(
            {
                "item": item,
                "kind": item.answer,
                "value": "" if value is None else value,
                "check": check,
                "brands": brands,
                "errors": (errors or {}).get(item.code, []),
            }
        )
    return rows


def _visit_context(request: HttpRequest, visit: Visit, **extra: Any) -> dict:
    can_change = in_scope(request.user, visit, "change") and visit.status != VisitStatus.CANCELLED
    is_open = visit.status == VisitStatus.OPEN
    context = {
        "visit": visit,
        "retailer": visit.retailer,
        "can_change": can_change,
        "is_open": is_open,
        "rules": rules_for(visit.cm),
        "checklist": _checklist_rows(visit),
        "problems": [c for c in visit.checks.select_related("item") if c.ok is False],
        "photos": list(visit.photos.all()),
        "feedback": list(visit.feedback.select_related("product")),
        "updates": list(visit.retailer_updates.all()),
        "missing": visit_service.missing_required(visit) if is_open else [],
        "photo_form": PhotoForm(),
        "feedback_form": FeedbackForm(),
        "retailer_form": RetailerUpdateForm(instance=visit.retailer),
        "notes_form": NotesForm(initial={"notes": visit.notes}),
        "field_labels": {f.name: f.verbose_name for f in Retailer._meta.get_fields() if hasattr(f, "verbose_name")},
    }
    context.update(extra)
    return context


def _visit(request: HttpRequest, pk: int, action: str = "view") -> Visit:
    return get_object_or_404(
        Visit.objects.restrict(request.user, action).select_related("retailer__route", "cm", "planned"), pk=pk
    )


@login_required
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Visit)
    visit = _visit(request, pk)
    return render(request, "work/visits/visit_detail.html", _visit_context(request, visit))


def _visit_action(request: HttpRequest, pk: int, fn, success: str, **render_extra: Any) -> HttpResponse:
    visit = _visit(request, pk, "change")
    try:
        fn(visit)
    except ValidationError as error:
        if render_extra.get("rerender"):
            return render_extra["rerender"](visit, error)
        _flash(request, error)
    except OutOfScope as error:
        raise Http404 from error
    else:
        if success:
            messages.success(request, success)
    return redirect("work:visit_detail", pk=visit.pk)


@login_required
@require_POST
def visit_checks(request: HttpRequest, pk: int) -> HttpResponse:
    def save(visit: Visit) -> None:
        answers = {}
        for item in visit_service.applicable_items(visit.visit_type):
            if item.answer == AnswerKind.KEY_BRANDS:
                answers[item.code] = [v for v in request.POST.getlist(item.code) if v]
            elif item.code in request.POST:
                answers[item.code] = request.POST.get(item.code)
        visit_service.record_checks(visit, request.user, answers)

    def rerender(visit: Visit, error: ValidationError) -> HttpResponse:
        errors = error.message_dict if hasattr(error, "error_dict") else {}
        if not errors:
            _flash(request, error)
        context = _visit_context(request, visit, checklist=_checklist_rows(visit, request.POST, errors))
        context["checklist_errors"] = True
        return render(request, "work/visits/visit_detail.html", context, status=400)

    return _visit_action(request, pk, save, _("Checklist saved."), rerender=rerender)


@login_required
@require_POST
def visit_photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    form = PhotoForm(request.POST, request.FILES)

    def save(visit: Visit) -> None:
        if not form.is_valid():
            raise ValidationError({"image": _("Choose a photo to upload.")})
        visit_service.add_photo(visit, request.user, form.cleaned_data["image"], form.cleaned_data.get("caption", ""))

    return _visit_action(request, pk, save, _("Photo added."))


@login_required
def visit_photo(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_object_or_404(VisitPhoto.objects.restrict(request.user, "view"), pk=pk)
    try:
        handle = photo.image.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def visit_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    form = FeedbackForm(request.POST)

    def save(visit: Visit) -> None:
        if not form.is_valid():
            raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
        data = form.cleaned_data
        visit_service.add_feedback(
            visit, request.user, data["kind"], data["text"], data.get("product"), data.get("due")
        )

    return _visit_action(request, pk, save, _("Feedback recorded."))


@login_required
@require_POST
def visit_retailer_update(request: HttpRequest, pk: int) -> HttpResponse:
    def save(visit: Visit) -> None:
        form = RetailerUpdateForm(request.POST, instance=Retailer.objects.get(pk=visit.retailer_id))
        if not form.is_valid():
            raise ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
        rows = visit_service.update_retailer(
            visit, request.user, form.changes(), location_here=form.cleaned_data.get("location_here", False)
        )
        if not rows:
            messages.info(request, _("Nothing was changed."))

    return _visit_action(request, pk, save, "")


@login_required
@require_POST
def visit_notes(request: HttpRequest, pk: int) -> HttpResponse:
    form = NotesForm(request.POST)
    form.is_valid()
    return _visit_action(
        request,
        pk,
        lambda v: visit_service.set_notes(v, request.user, form.cleaned_data.get("notes", "")),
        _("Notes saved."),
    )


@login_required
@require_POST
def visit_checkout(request: HttpRequest, pk: int) -> HttpResponse:
    def save(visit: Visit) -> None:
        done = visit_service.check_out(visit, request.user)
        rules = rules_for(visit.cm)
        if done.duration_minutes < rules.min_visit_minutes:
            messages.warning(
                request,
                _("This visit lasted %(minutes)s minutes, less than %(min)s: it is listed in the compliance report.")
                % {"minutes": done.duration_minutes, "min": rules.min_visit_minutes},
            )

    return _visit_action(request, pk, save, _("Checked out."))


@login_required
@require_POST
def visit_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _visit_action(request, pk, lambda v: visit_service.cancel_visit(v, request.user), _("Check-in cancelled."))


# --- history and compliance ------------------------------------------------------------------------------------------


@login_required
def visit_list(request: HttpRequest) -> HttpResponse:
    _need(request, Visit)
    form = VisitFilterForm(request.GET or None)
    qs = Visit.objects.restrict(request.user, "view").select_related("retailer", "cm").order_by("-checkin_at", "-id")
    if form.is_valid():
        data = form.cleaned_data
        if data.get("date_from"):
            qs = qs.filter(checkin_at__date__gte=data["date_from"])
        if data.get("date_to"):
            qs = qs.filter(checkin_at__date__lte=data["date_to"])
        if data.get("status"):
            qs = qs.filter(status=data["status"])
        if data.get("far"):
            qs = qs.filter(far=True)
        if data.get("cm"):
            qs = qs.filter(cm_id=data["cm"])
        if data.get("month"):
            qs = qs.filter(checkin_at__date__gte=data["month"], checkin_at__date__lte=month_end(data["month"]))
        if data.get("q"):
            q = data["q"]
            qs = qs.filter(
                Q(retailer__shop_name__icontains=q)
                | Q(retailer__licence_no__contains=q)
                | Q(retailer__search_key__icontains=q.lower())
            )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "work/visits/visit_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "show_cm": not _is_cm(staff_of(request.user))},
    )


@login_required
def compliance_page(request: HttpRequest) -> HttpResponse:
    _need(request, Visit)
    month = _month_param(request.GET.get("month"))
    cm, _cms = _pick_cm(request)
    try:
        results = visit_service.compliance(request.user, month, cm=cm)
    except OutOfScope as error:
        raise Http404 from error
    return render(
        request,
        "work/visits/compliance.html",
        {
            "month": month,
            "results": results,
            "single": len(results) == 1,
            "cm": cm,
            "previous_month": (month - datetime.timedelta(days=1)).replace(day=1),
            "next_month": (month + datetime.timedelta(days=32)).replace(day=1),
        },
    )


urlpatterns = [
    path("week/", week, name="week"),
    path("week/generate/", week_generate, name="week_generate"),
    path("week/submit/", week_submit, name="week_submit"),
    path("week/planned/add/", planned_add, name="planned_add"),
    path("week/planned/<int:pk>/move/", planned_move, name="planned_move"),
    path("week/planned/<int:pk>/remove/", planned_remove, name="planned_remove"),
    path("today/", today, name="today"),
    path("today/search/", retailer_search, name="retailer_search"),
    path("planned/<int:pk>/", planned_detail, name="planned_detail"),
    path("visits/", visit_list, name="visit_list"),
    path("visits/start/", visit_start, name="visit_start"),
    path("visits/<int:pk>/", visit_detail, name="visit_detail"),
    path("visits/<int:pk>/checks/", visit_checks, name="visit_checks"),
    path("visits/<int:pk>/photos/", visit_photo_add, name="visit_photo_add"),
    path("visits/<int:pk>/feedback/", visit_feedback, name="visit_feedback"),
    path("visits/<int:pk>/retailer/", visit_retailer_update, name="visit_retailer_update"),
    path("visits/<int:pk>/notes/", visit_notes, name="visit_notes"),
    path("visits/<int:pk>/checkout/", visit_checkout, name="visit_checkout"),
    path("visits/<int:pk>/cancel/", visit_cancel, name="visit_cancel"),
    path("visits/photos/<int:pk>/", visit_photo, name="visit_photo"),
    path("compliance/", compliance_page, name="compliance"),
]
