"""Pages: weekly, monthly and annual summaries (周总结 / 月总结 / 年度总结).

* ``work:summary_list`` — a CM's own summaries (status, due, late) with buttons to draft this week's, last month's and
  last year's; a head's or clerk's department/branch summaries with their flags (``?kind=month&status=submitted``).
* ``work:summary_draft`` (POST) — draft or re-draft, then on to the edit page.
* ``work:summary_detail`` — the text, flags, the figures behind it, the .docx download, the head's comment form.
* ``work:summary_edit`` — one textarea per section (phone first); "save and submit" shows the flags first.
* ``work:summary_submit`` / ``work:summary_comment`` (POST), ``work:summary_docx`` (download).

Every query goes through ``Summary.objects.restrict``; a summary outside the user's scope is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.scope import has_model_perm, in_scope
from cmdesk.org.choices import Role
from cmdesk.org.models import staff_of

from ..forms_summaries import SummaryCommentForm, SummaryDraftForm, SummarySectionsForm
from ..models import Summary, SummaryKind, SummaryStatus
from ..services import summaries as svc
from ..services.docx_export import CONTENT_TYPE, docx_filename, summary_docx
from ..services.drafting import SECTIONS

LIST_LIMIT = 200


def _get(request: HttpRequest, pk: int, action: str = "view") -> Summary:
    if not has_model_perm(request.user, Summary, action):
        raise PermissionDenied
    try:
        return svc.visible_summary(request.user, pk, action)
    except OutOfScope as exc:
        raise Http404 from exc


def _error_text(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)


@login_required
def summary_list(request: HttpRequest) -> HttpResponse:
    if not has_model_perm(request.user, Summary, "view"):
        raise PermissionDenied
    queryset = Summary.objects.restrict(request.user, "view").select_related("cm").order_by("-period_start", "kind")
    kind = request.GET.get("kind") or ""
    status = request.GET.get("status") or ""
    if kind in SummaryKind.values:
        queryset = queryset.filter(kind=kind)
    if status in SummaryStatus.values:
        queryset = queryset.filter(status=status)
    cm_id = request.GET.get("cm") or ""
    if cm_id.isdigit():
        queryset = queryset.filter(cm_id=int(cm_id))
    staff = staff_of(request.user)
    is_cm = staff is not None and staff.role == Role.CM
    rows = []
    for s in queryset[:LIST_LIMIT]:
        rows.append({"summary": s, "flags": [svc.flag_message(f) for f in s.flags or []]})
    drafts = []
    if is_cm and has_model_perm(request.user, Summary, "add"):
        existing = {
            (s.kind, s.period_start): s for s in Summary.objects.restrict(request.user, "view").filter(cm=staff)
        }
        for k, start, label in svc.summaries_due_list(staff, timezone.localdate()):
            drafts.append(
                {
                    "kind": k,
                    "kind_label": SummaryKind(k).label,
                    "start": start,
                    "label": label,
                    "existing": existing.get((k, start)),
                }
            )
    context = {
        "rows": rows,
        "drafts": drafts,
        "is_cm": is_cm,
        "kind": kind,
        "status": status,
        "kinds": SummaryKind.choices,
        "statuses": SummaryStatus.choices,
        "now": timezone.now(),
    }
    return render(request, "work/summaries/list.html", context)


@login_required
@require_POST
def summary_draft_view(request: HttpRequest) -> HttpResponse:
    if not has_model_perm(request.user, Summary, "add"):
        raise PermissionDenied
    staff = staff_of(request.user)
    form = SummaryDraftForm(request.POST)
    if staff is None or not form.is_valid():
        messages.error(request, _("Choose a kind and a period to draft."))
        return redirect("work:summary_list")
    try:
        summary = svc.summary_draft(
            staff, form.cleaned_data["kind"], form.cleaned_data["start"], request.user,
            overwrite=form.cleaned_data["overwrite"],
        )  # fmt: skip
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("work:summary_list")
    messages.success(request, _("Drafted from the latest figures. Check and complete the text."))
    return redirect("work:summary_edit", summary.pk)


def _section_rows(summary: Summary) -> list[dict]:
    sections = summary.sections or {}
    flagged = {f.get("section") for f in summary.flags or [] if f.get("section")}
    return [
        {"key": key, "title": title, "text": sections.get(key) or "", "flagged": key in flagged}
        for key, title in SECTIONS[summary.kind]
    ]


@login_required
def summary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _get(request, pk)
    can_change = summary.status == SummaryStatus.DRAFT and in_scope(request.user, summary, "change")
    can_comment = summary.status != SummaryStatus.DRAFT and request.user.has_perm("work.comment_summary")
    context = {
        "object": summary,
        "sections": _section_rows(summary),
        "flags": [svc.flag_message(f) for f in summary.flags or []],
        "figures": svc.figure_rows(summary),
        "can_change": can_change,
        "can_comment": can_comment,
        "comment_form": SummaryCommentForm(initial={"comment": summary.head_comment}) if can_comment else None,
    }
    return render(request, "work/summaries/detail.html", context)


@login_required
def summary_edit(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _get(request, pk, "change")
    if summary.status != SummaryStatus.DRAFT:
        messages.info(request, _("A submitted summary cannot be edited."))
        return redirect("work:summary_detail", summary.pk)
    form = SummarySectionsForm(request.POST or None, kind=summary.kind, initial_sections=summary.sections)
    if request.method == "POST" and form.is_valid():
        try:
            summary = svc.summary_update(summary, request.user, form.sections())
            if "submit" in request.POST:
                summary = svc.summary_submit(summary, request.user)
                messages.success(request, _("Submitted."))
            else:
                messages.success(request, _("Saved."))
        except OutOfScope as exc:
            raise Http404 from exc
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if "submit" in request.POST:
                return redirect("work:summary_detail", summary.pk)
            return redirect("work:summary_edit", summary.pk)
    context = {
        "object": summary,
        "form": form,
        "flags": [svc.flag_message(f) for f in summary.flags or []],
    }
    return render(request, "work/summaries/edit.html", context)


@login_required
@require_POST
def summary_submit(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _get(request, pk, "change")
    try:
        svc.summary_submit(summary, request.user)
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Submitted."))
    return redirect("work:summary_detail", summary.pk)


@login_required
@require_POST
def summary_comment(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _get(request, pk)
    if not request.user.has_perm("work.comment_summary"):
        raise PermissionDenied
    form = SummaryCommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a comment."))
        return redirect("work:summary_detail", summary.pk)
    try:
        svc.summary_comment(summary, request.user, form.cleaned_data["comment"])
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Comment saved."))
    return redirect("work:summary_detail", summary.pk)


@login_required
def summary_docx_view(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _get(request, pk)
    response = HttpResponse(summary_docx(summary), content_type=CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, docx_filename(summary))
    return response


def summary_url(summary: Summary) -> str:
    return reverse("work:summary_detail", args=[summary.pk])


urlpatterns = [
    path("summaries/", summary_list, name="summary_list"),
    path("summaries/draft/", summary_draft_view, name="summary_draft"),
    path("summaries/<int:pk>/", summary_detail, name="summary_detail"),
    path("summaries/<int:pk>/edit/", summary_edit, name="summary_edit"),
    path("summaries/<int:pk>/submit/", summary_submit, name="summary_submit"),
    path("summaries/<int:pk>/comment/", summary_comment, name="summary_comment"),
    path("summaries/<int:pk>/docx/", summary_docx_view, name="summary_docx"),
]
