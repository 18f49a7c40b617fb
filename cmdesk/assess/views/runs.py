"""Pages: assessment runs, the publication (通报), one CM's score with sign-off and appeal, appeals.

* ``assess:run_list`` — heads, clerks and the centre: the runs in scope by month with their status; a CM: its own
  published scores by month (total, rank, items still to sign).
* ``assess:run_detail`` — the publication: ranking, distribution of totals (ECharts), each CM's items (expandable);
  the head publishes and closes here. A CM is sent to its own score of the run.
* ``assess:score_detail`` — one CM's score: each item with the measured value, target, adjusted target and why, the
  points, the rule applied, the evidence links and status; the CM signs items (one or all) or appeals one; the head
  changes an item's points with a reason. Built as cards so it reads on a phone.
* ``assess:appeal_list`` — heads and the centre: appeals with the decision form; a CM: its own appeals.
* POST only: ``assess:run_publish``, ``assess:run_close``, ``assess:item_override``, ``assess:item_sign``,
  ``assess:score_sign``, ``assess:item_appeal``, ``assess:appeal_decide``.

Every read goes through the review selectors (``restrict`` + "a CM sees only published runs"); out of scope is 404,
a role without the model's view permission (an inspector) gets 403.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Avg, Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.analytics.periods import Period, PeriodError
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import call_service as _call
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit, staff_of

from ..forms import AppealForm, DecisionForm, OverrideForm
from ..models import Appeal, AppealStatus, ItemStatus, Run, RunStatus, Score, ScoreItem
from ..services import review as svc

LIST_LIMIT = 200


def _get(fn, request: HttpRequest, pk: int):
    try:
        return fn(request.user, pk)
    except OutOfScope as exc:
        raise Http404 from exc


def _form_error(request: HttpRequest, form) -> None:
    texts = [f"{form.fields[f].label if f in form.fields else ''}: {' '.join(e)}" for f, e in form.errors.items()]
    messages.error(request, " ".join(texts))


def adjustment_text(adjustment: Any) -> tuple[str, list[tuple[str, Any]]]:
    """The target adjustment as a sentence (if the scoring wrote one) and its remaining figures."""
    if not isinstance(adjustment, dict) or not adjustment:
        return "", []
    text = ""
    for key in ("text", "explanation", "note", "reason"):
        if isinstance(adjustment.get(key), str) and adjustment[key]:
            text = adjustment[key]
            break
    rows = [(k, v) for k, v in adjustment.items() if not (isinstance(v, str) and v == text) and not isinstance(v, dict)]
    return text, rows


def _item_row(item: ScoreItem, history: list[ScoreItem]) -> dict[str, Any]:
    text, rows = adjustment_text(item.adjustment)
    return {
        "item": item,
        "adjustment_text": text,
        "adjustment_rows": rows,
        "evidence": [e for e in item.evidence or [] if isinstance(e, dict)],
        "history": history,
        "delta": item.points - item.computed_points,
    }


def _month(code: str) -> Period | None:
    try:
        return Period.parse(code) if code else None
    except PeriodError:
        return None


# --- runs ----------------------------------------------------------------------------------------------------------
def _score_units(user: Any) -> list[OrgUnit]:
    """The departments (and branches) a user may score: inside its scope, with the add_run permission."""
    if not has_model_perm(user, Run, "add"):
        return []
    kinds = (OrgKind.DEPARTMENT, OrgKind.BRANCH)
    return list(OrgUnit.objects.get_queryset().in_scope(user_scope(user)).filter(kind__in=kinds).order_by("path"))


def _last_complete_month() -> str:
    today = timezone.localdate()
    return f"{(today.replace(day=1) - datetime.timedelta(days=1)):%Y-%m}"


@login_required
@require_POST
def run_score(request: HttpRequest) -> HttpResponse:
    """Score a month for an org unit from the run list (the page's counterpart of ``cmdesk assess``)."""
    from ..services.scoring import score_month

    if not has_model_perm(request.user, Run, "add"):
        raise PermissionDenied
    unit = next((u for u in _score_units(request.user) if str(u.pk) == request.POST.get("org_unit")), None)
    if unit is None:
        raise Http404
    try:
        run = score_month(None, unit, (request.POST.get("month") or "").strip(), request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("assess:run_list")
    messages.success(
        request,
        _("%(unit)s %(month)s scored: review the items, then publish.")
        % {"unit": unit.name, "month": f"{run.month:%Y-%m}"},
    )
    return redirect("assess:run_detail", run.pk)


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    _need(request, Run)
    month = (request.GET.get("month") or "").strip()
    month_start = _month(month)
    status = request.GET.get("status") or ""
    if svc.is_own_scope(request.user):
        scores = (
            svc.scores_for(request.user)
            .select_related("run", "run__scheme", "run__org_unit")
            .annotate(
                open_items=Count(
                    "items",
                    filter=Q(items__superseded_by__isnull=True, items__status=ItemStatus.OPEN),
                    distinct=True,
                ),
                cm_count=Count("run__scores", distinct=True),
            )
            .order_by("-run__month", "-run__version")
        )
        if month_start:
            scores = scores.filter(run__month__gte=month_start.start, run__month__lte=month_start.end)
        context = {"is_cm": True, "scores": scores[:LIST_LIMIT], "month": month}
        return render(request, "assess/runs/list.html", context)
    runs = (
        svc.runs_for(request.user)
        .select_related("scheme", "org_unit")
        .annotate(
            cm_count=Count("scores", distinct=True),
            mean=Avg("scores__total"),
        )
        .order_by("-month", "org_unit__path", "-version")
    )
    if month_start:
        runs = runs.filter(month__gte=month_start.start, month__lte=month_start.end)
    if status in RunStatus.values:
        runs = runs.filter(status=status)
    runs = list(runs[:LIST_LIMIT])
    open_appeals = dict(
        Appeal.objects.filter(item__score__run__in=[r.pk for r in runs], status=AppealStatus.OPEN)
        .values("item__score__run")
        .annotate(n=Count("id"))
        .values_list("item__score__run", "n")
    )
    for r in runs:
        r.open_appeals = open_appeals.get(r.pk, 0)
    context = {
        "score_units": _score_units(request.user),
        "score_month_default": _last_complete_month(),
        "is_cm": False,
        "runs": runs,
        "month": month,
        "status": status,
        "statuses": RunStatus.choices,
    }
    return render(request, "assess/runs/list.html", context)


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Run)
    if svc.is_own_scope(request.user):
        score = svc.scores_for(request.user).filter(run_id=pk).first()
        if score is None:
            raise Http404
        return redirect("assess:score_detail", score.pk)
    run = _get(svc.visible_run, request, pk)
    ranking = svc.ranking(run)
    items_by_score: dict[int, list[ScoreItem]] = defaultdict(list)
    for item in (
        ScoreItem.objects.filter(score__run=run, superseded_by__isnull=True)
        .select_related("scheme_item")
        .order_by("scheme_item__position", "scheme_item__code")
    ):
        items_by_score[item.score_id].append(item)
    rows = [{"score": s, "items": items_by_score.get(s.pk, [])} for s in ranking]
    dist = svc.distribution(run)
    user = request.user
    not_closed = run.status != RunStatus.CLOSED
    context = {
        "run": run,
        "rows": rows,
        "distribution": dist,
        "chart": {
            "labels": [b["label"] for b in dist["bands"]],
            "counts": [b["count"] for b in dist["bands"]],
            "name": _("Customer managers"),
        },
        "can_review": not_closed and user.has_perm("assess.review_run"),
        "can_publish": run.status == RunStatus.SCORED and user.has_perm("assess.review_run"),
        "can_close": run.status == RunStatus.PUBLISHED and user.has_perm("assess.close_run"),
        "open_appeals": Appeal.objects.filter(item__score__run=run, status=AppealStatus.OPEN).count(),
        "corrected_by": Run.objects.filter(supersedes=run).first(),
    }
    return render(request, "assess/runs/detail.html", context)


@login_required
@require_POST
def run_publish(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get(svc.visible_run, request, pk)
    _call(request, svc.publish_run, run, request.user, success=_("Published: each customer manager can now sign."))
    return redirect("assess:run_detail", run.pk)


@login_required
@require_POST
def run_close(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get(svc.visible_run, request, pk)
    _call(request, svc.close_run, run, request.user, success=_("Closed: the run can no longer change."))
    return redirect("assess:run_detail", run.pk)


# --- one CM's score ------------------------------------------------------------------------------------------------
@login_required
def score_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, Score)
    score = _get(svc.visible_score, request, pk)
    run = score.run
    user = request.user
    staff = staff_of(user)
    is_owner = staff is not None and staff.pk == score.cm_id
    history: dict[int, list[ScoreItem]] = defaultdict(list)
    for old in score.items.filter(superseded_by__isnull=False).select_related("scheme_item").order_by("version"):
        history[old.scheme_item_id].append(old)
    open_appeals = {
        a.item_id: a for a in Appeal.objects.filter(item__score=score, status=AppealStatus.OPEN).order_by("created_at")
    }
    published = run.status == RunStatus.PUBLISHED
    can_sign = is_owner and published and user.has_perm("assess.sign_scoreitem")
    can_appeal = is_owner and published and user.has_perm("assess.add_appeal")
    can_review = run.status != RunStatus.CLOSED and user.has_perm("assess.review_run") and not is_owner
    items = []
    for item in svc.current_items(score):
        row = _item_row(item, history.get(item.scheme_item_id, []))
        row["open_appeal"] = open_appeals.get(item.pk)
        row["can_sign"] = can_sign and item.status == ItemStatus.OPEN
        row["can_appeal"] = can_appeal and item.status == ItemStatus.OPEN
        row["can_override"] = can_review and item.status == ItemStatus.OPEN
        items.append(row)
    context = {
        "score": score,
        "run": run,
        "items": items,
        "is_owner": is_owner,
        "can_sign_all": can_sign and any(r["can_sign"] for r in items),
        "cm_count": run.scores.count(),
        "run_mean": svc.distribution(run)["mean"],
        "override_form": OverrideForm(),
        "appeal_form": AppealForm(),
        "appeals": list(
            Appeal.objects.filter(item__score=score).select_related("item__scheme_item").order_by("-created_at")
        ),
    }
    return render(request, "assess/runs/score_detail.html", context)


@login_required
@require_POST
def score_sign(request: HttpRequest, pk: int) -> HttpResponse:
    score = _get(svc.visible_score, request, pk)
    signed = _call(request, svc.sign_score, score, request.user)
    if signed is not None:
        messages.success(request, _("Signed %(n)s item(s).") % {"n": len(signed)})
    return redirect("assess:score_detail", score.pk)


@login_required
@require_POST
def item_sign(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get(svc.visible_item, request, pk)
    _call(request, svc.sign_item, item, request.user, success=_("Signed."))
    return redirect(f"{_score_url(item)}#item-{item.scheme_item_id}")


@login_required
@require_POST
def item_appeal(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get(svc.visible_item, request, pk)
    form = AppealForm(request.POST)
    if form.is_valid():
        _call(
            request,
            svc.appeal_item,
            item,
            request.user,
            form.cleaned_data["reason"],
            to_city=form.cleaned_data["to_city"],
            success=_("Appeal sent."),
        )
    else:
        _form_error(request, form)
    return redirect(f"{_score_url(item)}#item-{item.scheme_item_id}")


@login_required
@require_POST
def item_override(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get(svc.visible_item, request, pk)
    form = OverrideForm(request.POST)
    if form.is_valid():
        _call(
            request,
            svc.override_item,
            item,
            request.user,
            form.cleaned_data["points"],
            form.cleaned_data["reason"],
            success=_("Points changed; the total and the ranking are updated."),
        )
    else:
        _form_error(request, form)
    return redirect(f"{_score_url(item)}#item-{item.scheme_item_id}")


def _score_url(item: ScoreItem) -> str:
    return reverse("assess:score_detail", args=[item.score_id])


# --- appeals -------------------------------------------------------------------------------------------------------
@login_required
def appeal_list(request: HttpRequest) -> HttpResponse:
    _need(request, Appeal)
    status = request.GET.get("status", "")
    appeals = (
        svc.appeals_for(request.user)
        .select_related("item__scheme_item", "item__score__run", "cm", "new_item")
        .order_by("-created_at", "-id")
    )
    if status in AppealStatus.values:
        appeals = appeals.filter(status=status)
    rows = []
    for appeal in appeals[:LIST_LIMIT]:
        decidable = (
            appeal.status == AppealStatus.OPEN
            and appeal.item.score.run.status != RunStatus.CLOSED
            and svc.can_decide(request.user, appeal)
        )
        rows.append({"appeal": appeal, "can_decide": decidable})
    context = {
        "rows": rows,
        "status": status,
        "statuses": AppealStatus.choices,
        "decision_form": DecisionForm(),
        "is_cm": svc.is_own_scope(request.user),
    }
    return render(request, "assess/runs/appeal_list.html", context)


@login_required
@require_POST
def appeal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    appeal = _get(svc.visible_appeal, request, pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        accept = form.cleaned_data["accept"]
        _call(
            request,
            svc.decide_appeal,
            appeal,
            request.user,
            accept,
            form.cleaned_data["decision"],
            points=form.cleaned_data["points"],
            success=_("Appeal accepted: the item is re-scored as a new version.") if accept else _("Appeal rejected."),
        )
    else:
        _form_error(request, form)
    return redirect("assess:appeal_list")


urlpatterns = [
    path("runs/", run_list, name="run_list"),
    path("runs/score/", run_score, name="run_score"),
    path("runs/<int:pk>/", run_detail, name="run_detail"),
    path("runs/<int:pk>/publish/", run_publish, name="run_publish"),
    path("runs/<int:pk>/close/", run_close, name="run_close"),
    path("scores/<int:pk>/", score_detail, name="score_detail"),
    path("scores/<int:pk>/sign/", score_sign, name="score_sign"),
    path("items/<int:pk>/sign/", item_sign, name="item_sign"),
    path("items/<int:pk>/appeal/", item_appeal, name="item_appeal"),
    path("items/<int:pk>/override/", item_override, name="item_override"),
    path("appeals/", appeal_list, name="appeal_list"),
    path("appeals/<int:pk>/decide/", appeal_decide, name="appeal_decide"),
]
