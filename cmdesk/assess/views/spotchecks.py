"""Pages: quarterly spot checks (市公司抽查), the 通报 exports and a CM's history.

* ``assess:spotcheck_list`` — a quarter's checks (``?quarter=2026-Q4``) with the report per CM and per category;
  the centre also sees drafts and publishes the quarter (``assess:spotcheck_publish_quarter``, POST).
* ``assess:spotcheck_new`` / ``assess:spotcheck_edit`` — record or correct a check (the centre; unpublished only).
* ``assess:spotcheck_detail`` — one check and its findings; ``assess:spotcheck_publish`` (POST) publishes it.
* ``assess:run_export_xlsx`` / ``assess:run_export_pdf`` — the 通报 of a run (``runs/<pk>/export.xlsx|pdf``). Whoever
  may view the run gets the scores in their scope; a CM only its own score, and only once the run is published.
* ``assess:history`` (``?cm=`` for heads and the centre; a CM always its own) and ``assess:history_xlsx``.

A CM sees only its own published checks, a head its department's published ones; inspectors have no assessment
permission (403). Anything outside the user's scope is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.audit import history_for
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, in_scope, user_scope
from cmdesk.core.views import apply_validation_error, with_actor_names
from cmdesk.org.choices import Role
from cmdesk.org.models import Staff

from ..forms_spotchecks import SpotCheckForm
from ..models import Run, Score, SpotCheck
from ..services import exports
from ..services import spotchecks as svc

LIST_LIMIT = 300


def _get(request: HttpRequest, pk: int, action: str = "view") -> SpotCheck:
    _need(request, SpotCheck, action)
    try:
        return svc.get_spotcheck(request.user, pk, action)
    except OutOfScope as exc:
        raise Http404 from exc


def _quarter(request: HttpRequest) -> tuple[object, str]:
    """The quarter asked for, else the newest quarter with a visible check, else today's."""
    text = (request.GET.get("quarter") or "").strip()
    if text:
        try:
            return svc.parse_quarter(text), ""
        except ValidationError as error:
            message = " ".join(error.messages)
    else:
        message = ""
    newest = svc.visible_spotchecks(request.user).order_by("-quarter").values_list("quarter", flat=True).first()
    return newest or svc.quarter_start(timezone.localdate()), message


@login_required
def spotcheck_list(request: HttpRequest) -> HttpResponse:
    _need(request, SpotCheck)
    quarter, error = _quarter(request)
    visible = svc.visible_spotchecks(request.user).filter(quarter=quarter)
    cm_id = request.GET.get("cm", "")
    if cm_id.isdigit():  # the assessment's evidence link: one CM's checks of the quarter
        visible = visible.filter(cm_id=int(cm_id))
    checks = list(
        visible.select_related("retailer", "cm", "checker")
        .prefetch_related("findings")
        .order_by("-date", "-id")[:LIST_LIMIT]
    )
    rows = [
        {"check": c, "deduction": svc.total_deduction(c), "not_ok": sum(not f.ok for f in c.findings.all())}
        for c in checks
    ]
    summary = svc.quarter_summary(request.user, quarter)
    quarters = sorted(
        {q for q in svc.visible_spotchecks(request.user).values_list("quarter", flat=True).distinct()} | {quarter},
        reverse=True,
    )
    context = {
        "quarter": quarter,
        "quarter_label": svc.quarter_label(quarter),
        "quarters": [(svc.quarter_label(q), q == quarter) for q in quarters],
        "error": error,
        "rows": rows,
        "summary": summary,
        "unpublished": sum(1 for c in checks if not c.published),
        "can_add": has_model_perm(request.user, SpotCheck, "add"),
        "can_publish": has_model_perm(request.user, SpotCheck, "change"),
        "is_cm": user_scope(request.user).kind == "own",
    }
    return render(request, "assess/spotchecks/list.html", context)


@login_required
def spotcheck_detail(request: HttpRequest, pk: int) -> HttpResponse:
    check = _get(request, pk)
    findings = list(check.findings.all())
    can_change = not check.published and has_model_perm(request.user, SpotCheck, "change")
    can_change = can_change and in_scope(request.user, check, "change")
    context = {
        "object": check,
        "findings": findings,
        "deduction": svc.total_deduction(check),
        "quarter_label": svc.quarter_label(check.quarter),
        "can_change": can_change,
        "history": with_actor_names(history_for(check)) if has_model_perm(request.user, SpotCheck, "add") else None,
    }
    return render(request, "assess/spotchecks/detail.html", context)


def _edit(request: HttpRequest, check: SpotCheck | None) -> HttpResponse:
    form = SpotCheckForm(request.POST or None, instance=check)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = svc.spotcheck_record(
                actor=request.user,
                retailer=data["retailer"],
                date=data["date"],
                quarter=data.get("quarter") or None,
                findings=form.findings(),
                note=data.get("note") or "",
                spot_check=check,
            )
        except OutOfScope as exc:
            raise Http404 from exc
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, _("Spot check saved."))
            return redirect("assess:spotcheck_detail", saved.pk)
    context = {"form": form, "object": check, "is_new": check is None}
    return render(request, "assess/spotchecks/edit.html", context, status=400 if form.errors else 200)


@login_required
def spotcheck_new(request: HttpRequest) -> HttpResponse:
    _need(request, SpotCheck, "add")
    return _edit(request, None)


@login_required
def spotcheck_edit(request: HttpRequest, pk: int) -> HttpResponse:
    check = _get(request, pk, "change")
    if check.published:
        messages.info(request, _("A published spot check cannot be changed."))
        return redirect("assess:spotcheck_detail", check.pk)
    return _edit(request, check)


@login_required
@require_POST
def spotcheck_publish(request: HttpRequest, pk: int) -> HttpResponse:
    check = _get(request, pk, "change")
    try:
        svc.spotcheck_publish(actor=request.user, spot_check=check)
    except OutOfScope as exc:
        raise Http404 from exc
    messages.success(request, _("Spot check published."))
    return redirect("assess:spotcheck_detail", check.pk)


@login_required
@require_POST
def spotcheck_publish_quarter(request: HttpRequest) -> HttpResponse:
    _need(request, SpotCheck, "change")
    quarter = request.POST.get("quarter") or ""
    try:
        n = svc.quarter_publish(actor=request.user, quarter=quarter)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("assess:spotcheck_list")
    messages.success(request, _("%(n)d spot checks published.") % {"n": n})
    return redirect(f"{reverse('assess:spotcheck_list')}?quarter={svc.quarter_label(svc.parse_quarter(quarter))}")


# --- exports --------------------------------------------------------------------------------------------------------


def _report(request: HttpRequest, pk: int) -> exports.RunReport:
    _need(request, Run)
    _need(request, Score)
    try:
        run = exports.visible_run(request.user, pk)
    except OutOfScope as exc:
        raise Http404 from exc
    return exports.run_report(request.user, run)


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@login_required
def run_export_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _download(exports.run_xlsx(report), exports.XLSX_CONTENT_TYPE, f"{report.filename_stem}.xlsx")


@login_required
def run_export_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    return _download(exports.run_pdf(report), exports.PDF_CONTENT_TYPE, f"{report.filename_stem}.pdf")


# --- history --------------------------------------------------------------------------------------------------------


def _history_cm(request: HttpRequest) -> Staff | None:
    _need(request, Score)
    if user_scope(request.user).kind != "own" and not request.GET.get("cm"):
        return None
    try:
        return exports.history_cm(request.user, request.GET.get("cm"))
    except OutOfScope as exc:
        raise Http404 from exc


@login_required
def history(request: HttpRequest) -> HttpResponse:
    cm = _history_cm(request)
    if cm is None:  # a head or the centre: pick a CM first
        cms = list(
            Staff.objects.restrict(request.user, "view")
            .filter(role=Role.CM, active=True)
            .select_related("org_unit")
            .order_by("org_unit__path", "employee_no")
        )
        return render(request, "assess/history.html", {"cm": None, "cms": cms})
    data = exports.cm_history(request.user, cm)
    context = {**data, "cms": None, "is_own": user_scope(request.user).kind == "own"}
    return render(request, "assess/history.html", context)


@login_required
def history_xlsx(request: HttpRequest) -> HttpResponse:
    cm = _history_cm(request)
    if cm is None:
        raise Http404
    data = exports.cm_history(request.user, cm)
    return _download(exports.history_xlsx(data), exports.XLSX_CONTENT_TYPE, f"考核历史-{cm.name}-{cm.employee_no}.xlsx")


urlpatterns = [
    path("spotchecks/", spotcheck_list, name="spotcheck_list"),
    path("spotchecks/new/", spotcheck_new, name="spotcheck_new"),
    path("spotchecks/publish/", spotcheck_publish_quarter, name="spotcheck_publish_quarter"),
    path("spotchecks/<int:pk>/", spotcheck_detail, name="spotcheck_detail"),
    path("spotchecks/<int:pk>/edit/", spotcheck_edit, name="spotcheck_edit"),
    path("spotchecks/<int:pk>/publish/", spotcheck_publish, name="spotcheck_publish"),
    path("runs/<int:pk>/export.xlsx", run_export_xlsx, name="run_export_xlsx"),
    path("runs/<int:pk>/export.pdf", run_export_pdf, name="run_export_pdf"),
    path("history/", history, name="history"),
    path("history/export.xlsx", history_xlsx, name="history_xlsx"),
]
