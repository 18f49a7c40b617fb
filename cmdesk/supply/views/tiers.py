"""Pages: tiers (档位).

* ``supply:tier_overview`` — the distribution of tiers of the retailers in scope (ECharts bar), per department, the
  scheme in plain words, the last recomputes; heads, clerks and the centre start a recompute here.
* ``supply:tier_run_detail`` — one recompute: its statistics and each retailer's change with the reason (filter up /
  down / unchanged / new), xlsx export (``supply:tier_run_export``); the centre applies it, heads discard it.
* ``supply:tier_retailer`` — one retailer's explanation (its tier, the scheme, its components, what would move it up)
  and its tier history; built as cards so a CM can show it on a phone.
* POST only: ``supply:tier_run_create``, ``supply:tier_run_apply``, ``supply:tier_run_discard``.

Every read goes through ``restrict`` (a CM sees its own retailers, others 404); a role without the tier permissions
(the inspector) gets 403.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import has_model_perm, user_scope
from cmdesk.core.xlsx import Sheet, xlsx_response
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit, staff_of
from cmdesk.retail.models import Retailer

from ..models import RunStatus, TierRun, TierScore
from ..services import tiers as svc

PAGE = 100


def recompute_units(user: Any) -> list[OrgUnit]:
    """The org units a user may recompute: the city, branches and departments inside its scope."""
    if not has_model_perm(user, TierRun, "add"):
        return []
    kinds = (OrgKind.CITY, OrgKind.BRANCH, OrgKind.DEPARTMENT)
    return list(OrgUnit.objects.get_queryset().in_scope(user_scope(user)).filter(kind__in=kinds).order_by("path"))


def _last_month_end() -> dt.date:
    return timezone.localdate().replace(day=1) - dt.timedelta(days=1)


def _home_unit(user: Any) -> OrgUnit | None:
    staff = staff_of(user)
    return staff.org_unit if staff else OrgUnit.objects.get_root_nodes().first()


@login_required
def tier_overview(request: HttpRequest) -> HttpResponse:
    _need(request, TierRun)
    retailers = Retailer.objects.restrict(request.user).exclude(status__in=svc.GONE).order_by()
    by_tier = dict(retailers.values_list("tier").annotate(n=Count("id")).values_list("tier", "n"))
    unit = _home_unit(request.user)
    scheme = svc.scheme_for(unit)
    top = max([scheme.tier_count, *[t for t in by_tier if t]], default=scheme.tier_count)
    labels = [f"D{t}" for t in range(1, top + 1)]
    counts = [by_tier.get(t, 0) for t in range(1, top + 1)]
    # per department: retailers, mean tier and three bands of tiers
    depts = {u.path: u for u in OrgUnit.objects.filter(kind__in=(OrgKind.DEPARTMENT, OrgKind.BRANCH))}
    step = OrgUnit.steplen
    rows: dict[str, dict[str, Any]] = {}
    third = max(top // 3, 1)
    for upath, tier, n in retailers.values_list("route__org_unit__path", "tier").annotate(n=Count("id")):
        owners = [depts[upath[:i]] for i in range(step, len(upath) + 1, step) if upath[:i] in depts]
        owner = owners[-1] if owners else None
        key = owner.path if owner else "-"
        row = rows.setdefault(key, {"unit": owner, "count": 0, "sum": 0, "bands": Counter(), "none": 0})
        row["count"] += n
        if tier:
            row["sum"] += tier * n
            row["bands"][min((tier - 1) // third, 2)] += n
        else:
            row["none"] += n
    table = []
    for key in sorted(rows):
        r = rows[key]
        tiered = r["count"] - r["none"]
        table.append(
            {
                "unit": r["unit"],
                "count": r["count"],
                "mean": round(r["sum"] / tiered, 1) if tiered else None,
                "bands": [r["bands"][0], r["bands"][1], r["bands"][2]],
                "none": r["none"],
            }
        )
    runs = TierRun.objects.restrict(request.user).select_related("org_unit", "scheme").distinct()[:20]
    context = {
        "chart": {"labels": labels, "counts": counts, "name": _("Retailers")},
        "total": sum(counts),
        "untiered": by_tier.get(None, 0),
        "table": table,
        "band_labels": [f"D1–D{third}", f"D{third + 1}–D{2 * third}", f"D{2 * third + 1}–D{top}"],
        "runs": runs,
        "scheme": scheme,
        "scheme_text": svc.scheme_text(scheme),
        "units": recompute_units(request.user),
        "as_of_default": _last_month_end(),
    }
    return render(request, "supply/tier_overview.html", context)


@login_required
@require_POST
def tier_run_create(request: HttpRequest) -> HttpResponse:
    _need(request, TierRun, "add")
    unit = next((u for u in recompute_units(request.user) if str(u.pk) == request.POST.get("org_unit")), None)
    if unit is None:
        raise Http404
    try:
        as_of = dt.date.fromisoformat(request.POST.get("as_of") or "")
    except ValueError:
        messages.error(request, _("Give the window's end as a date (YYYY-MM-DD)."))
        return redirect("supply:tier_overview")
    try:
        run = svc.recompute(unit, as_of, request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("supply:tier_overview")
    messages.success(request, _("Recompute %(id)s is ready: check the changes, then apply it.") % {"id": run.pk})
    return redirect("supply:tier_run_detail", run.pk)


def _run(request: HttpRequest, pk: int) -> TierRun:
    _need(request, TierRun)
    return get_object_or_404(
        TierRun.objects.restrict(request.user).select_related("org_unit", "scheme").distinct(), pk=pk
    )


def _run_scores(request: HttpRequest, run: TierRun):
    scores = TierScore.objects.restrict(request.user).filter(run=run).select_related("retailer", "retailer__route")
    change = request.GET.get("change") or ""
    if change in svc.CHANGE_FILTERS:
        scores = scores.filter(svc.CHANGE_FILTERS[change])
    q = (request.GET.get("q") or "").strip()
    if q:
        scores = scores.filter(retailer__licence_no__contains=q) | scores.filter(retailer__shop_name__contains=q)
    return scores.order_by("-tier_after", "-score", "retailer_id"), change, q


@login_required
def tier_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    scores, change, q = _run_scores(request, run)
    page = Paginator(scores, PAGE).get_page(request.GET.get("page"))
    for s in page.object_list:
        s.change = svc.change_of(s)
    context = {
        "run": run,
        "page": page,
        "change": change,
        "q": q,
        "changes": [
            ("", _("All")),
            ("up", _("Up")),
            ("down", _("Down")),
            ("unchanged", _("Unchanged")),
            ("new", _("New")),
        ],
        "scheme_text": svc.scheme_text(run.settings_snapshot, run.org_unit.name),
        "can_apply": run.status == RunStatus.DRAFT and request.user.has_perm("supply.apply_tierrun"),
        "can_discard": run.status == RunStatus.DRAFT and has_model_perm(request.user, TierRun, "add"),
    }
    return render(request, "supply/tier_run_detail.html", context)


def _service(request: HttpRequest, fn, run: TierRun, success: str) -> None:
    try:
        fn(run, request.user)
    except OutOfScope as exc:
        raise Http404 from exc
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return
    messages.success(request, success)


@login_required
@require_POST
def tier_run_apply(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if not request.user.has_perm("supply.apply_tierrun"):
        raise PermissionDenied
    _service(request, svc.apply_run, run, _("Recompute applied: the retailers' tiers and histories are written."))
    return redirect("supply:tier_run_detail", run.pk)


@login_required
@require_POST
def tier_run_discard(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    _need(request, TierRun, "add")
    _service(request, svc.discard_run, run, _("Recompute discarded."))
    return redirect("supply:tier_run_detail", run.pk)


@login_required
def tier_run_export(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    scores, _change, _q = _run_scores(request, run)
    headers = [
        _("Licence number"), _("Retailer"), _("Route"), _("Cartons a month"), _("Amount a month"), _("Score"),
        _("Rank"), _("Tier before"), _("Tier from the score"), _("New tier"), _("Score for the next tier"), _("Reason"),
    ]  # fmt: skip
    rows = (
        [
            s.retailer.licence_no,
            s.retailer.shop_name,
            s.retailer.route.code,
            s.components.get("cartons"),
            s.components.get("amount"),
            float(s.score),
            s.rank,
            s.tier_before,
            s.tier_computed,
            s.tier_after,
            float(s.next_tier_score) if s.next_tier_score is not None else None,
            s.reason,
        ]
        for s in scores.iterator(chunk_size=2000)
    )
    return xlsx_response(
        f"tiers-{run.pk}-{run.window_end:%Y%m}.xlsx",
        Sheet(_("Tiers"), headers, rows, [16, 20, 10, 12, 12, 9, 8, 9, 9, 9, 10, 80]),
    )


@login_required
def tier_retailer(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, TierScore)
    retailer = get_object_or_404(
        Retailer.objects.restrict(request.user).select_related("route", "route__org_unit", "route__cm"), pk=pk
    )
    explanation = svc.explain(retailer)
    scores = list(
        TierScore.objects.filter(retailer=retailer)
        .exclude(run__status=RunStatus.DISCARDED)
        .select_related("run")
        .order_by("-run__window_end", "-run_id")[:12]
    )
    return render(
        request,
        "supply/tier_retailer.html",
        {"e": explanation, "retailer": retailer, "scores": scores, "ability_labels": ability_labels()},
    )


def ability_labels() -> dict[str, str]:
    return {
        "area": _("floor area"),
        "fixtures": _("display fixtures"),
        "format": _("business format"),
        "regularity": _("weeks with an order"),
    }


urlpatterns = [
    path("tiers/", tier_overview, name="tier_overview"),
    path("tiers/recompute/", tier_run_create, name="tier_run_create"),
    path("tiers/runs/<int:pk>/", tier_run_detail, name="tier_run_detail"),
    path("tiers/runs/<int:pk>/apply/", tier_run_apply, name="tier_run_apply"),
    path("tiers/runs/<int:pk>/discard/", tier_run_discard, name="tier_run_discard"),
    path("tiers/runs/<int:pk>/export.xlsx", tier_run_export, name="tier_run_export"),
    path("tiers/retailer/<int:pk>/", tier_retailer, name="tier_retailer"),
]
