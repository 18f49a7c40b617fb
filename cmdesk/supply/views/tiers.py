"""Pages: tiers (档位).

* ``supply:tier_overview`` — the distribution of tiers of the retailers in scope (ECharts bar), per department, the
  scheme in plain words, the last recomputes; heads, clerks and the centre start a recompute here.
* ``supply:tier_run_detail`` — one recompute: its statistics and each retailer's change with the reason (filter up /
  down / unchanged / new), xlsx export (``supply:tier_run_export``); the centre applies it, heads discard it.
* ``supply:tier_retailer`` — one retailer's explanation (its tier, the scheme, its components, what would move it up)
  and its tier history; built as cards so a CM can show it on a phone.
* POST only: ``supply:tier_run_create``, ``supply:tier_run_apply``, ``supply:tier_run_discard``.
* ``supply:tier_schemes`` — the city scheme and every org unit's own scheme (its settings and the scheme in plain
  words) and which unit follows which scheme; the centre edits them (``supply:tier_scheme_edit``), gives a branch or
  department a scheme of its own starting as a copy of the one it follows (``supply:tier_scheme_create``) and removes
  one so the unit inherits again (``supply:tier_scheme_delete``, POST). Saving goes through ``save_scheme`` /
  ``delete_scheme`` (validated, audited); each edit page shows the scheme's history.

Every read goes through ``restrict`` (a CM sees its own retailers, others 404); a role without the tier permissions
(the inspector) gets 403. Schemes are reference data every role with the view permission reads; editing an org unit's
scheme outside the user's scope is a 404, editing without the change (or add) permission a 403, and the city scheme is
edited only by a user whose scope is the whole city.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cmdesk.core.audit import history_for
from cmdesk.core.exceptions import OutOfScope
from cmdesk.core.pages import call_service
from cmdesk.core.pages import need_perm as _need
from cmdesk.core.scope import Scope, has_model_perm, user_scope
from cmdesk.core.views import with_actor_names
from cmdesk.core.xlsx import Sheet, xlsx_response
from cmdesk.org.choices import OrgKind
from cmdesk.org.models import OrgUnit, staff_of
from cmdesk.retail.models import Retailer

from ..forms_tiers import SchemeEditor
from ..models import RunStatus, TierRun, TierScheme, TierScore
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


# --- tier schemes -----------------------------------------------------------------------------------------------------
OVERRIDE_KINDS = (OrgKind.BRANCH, OrgKind.DEPARTMENT)  # the units a recompute runs for (the city has the city scheme)
FOLLOWER_KINDS = (OrgKind.CITY, OrgKind.BRANCH, OrgKind.DEPARTMENT)


def _unit_in_scope(scope: Scope, unit: OrgUnit) -> bool:
    """Is the org unit inside an org scope (the whole city, or a subtree)? A CM's "own" scope holds no unit."""
    return scope.kind == "all" or (
        scope.kind == "org" and bool(scope.org_path) and unit.path.startswith(scope.org_path)
    )


def _scheme_in_scope(scope: Scope, scheme: TierScheme) -> bool:
    """May a user with this scope edit the scheme: the city's needs the whole city, a unit's needs the unit."""
    return scope.kind == "all" if scheme.org_unit_id is None else _unit_in_scope(scope, scheme.org_unit)


def override_units(user: Any) -> list[OrgUnit]:
    """The branches and departments in the user's scope that have no scheme of their own (the create form's choice)."""
    scope = user_scope(user)
    if not has_model_perm(user, TierScheme, "add") or scope.kind not in ("all", "org"):
        return []
    units = OrgUnit.objects.get_queryset().in_scope(scope).filter(kind__in=OVERRIDE_KINDS, tier_scheme__isnull=True)
    return list(units.order_by("path"))


def _followed(units: list[OrgUnit], overrides: list[TierScheme], city: TierScheme) -> dict[int, TierScheme]:
    """The scheme each unit follows (its own, else its nearest ancestor's, else the city's), from paths alone."""
    by_path = {s.org_unit.path: s for s in overrides}
    step = OrgUnit.steplen
    out = {}
    for unit in units:
        prefixes = (unit.path[:i] for i in range(len(unit.path), 0, -step))
        out[unit.pk] = next((by_path[p] for p in prefixes if p in by_path), city)
    return out


def _scheme(request: HttpRequest, pk: int, action: str) -> TierScheme:
    """The scheme to edit or remove: a unit's outside the user's scope is a 404, then the model permission a 403."""
    _need(request, TierScheme)
    scheme = get_object_or_404(TierScheme.objects.restrict(request.user).select_related("org_unit"), pk=pk)
    scope = user_scope(request.user)
    if scheme.org_unit_id is not None and not _unit_in_scope(scope, scheme.org_unit):
        raise Http404
    _need(request, TierScheme, action)
    if not _scheme_in_scope(scope, scheme):  # the city scheme: only a city-wide user
        raise PermissionDenied(_("Only the marketing centre edits the city scheme."))
    return scheme


@login_required
def tier_scheme_list(request: HttpRequest) -> HttpResponse:
    _need(request, TierScheme)
    city = svc.city_default()
    overrides = list(
        TierScheme.objects.restrict(request.user)
        .filter(org_unit__isnull=False)
        .select_related("org_unit")
        .order_by("org_unit__path")
    )
    units = list(OrgUnit.objects.get_queryset().filter(kind__in=FOLLOWER_KINDS))
    followed = _followed(units, overrides, city)
    scope = user_scope(request.user)
    can_change = has_model_perm(request.user, TierScheme, "change")
    rows = []
    for scheme in [city, *overrides]:
        may = can_change and _scheme_in_scope(scope, scheme)
        rows.append(
            {
                "scheme": scheme,
                "text": svc.scheme_text(scheme),
                "followers": [
                    u for u in units if followed[u.pk] is scheme and u.pk != scheme.org_unit_id and u.depth > 1
                ],
                "can_edit": may,
                "can_delete": may and scheme.org_unit_id is not None,
            }
        )
    context = {
        "rows": rows,
        "units": [{"unit": u, "scheme": followed[u.pk], "own": followed[u.pk].org_unit_id == u.pk} for u in units],
        "new_units": override_units(request.user),
        "can_add": has_model_perm(request.user, TierScheme, "add"),
    }
    return render(request, "supply/tier_scheme_list.html", context)


def _scheme_page(request: HttpRequest, scheme: TierScheme, editor: SchemeEditor, **extra: Any) -> HttpResponse:
    context = {
        "scheme": scheme,
        "editor": editor,
        "history": with_actor_names(history_for(scheme)) if scheme.pk else None,
        "parent": svc.scheme_for(OrgUnit.objects.get_parent(scheme.org_unit)) if scheme.org_unit_id else None,
        **extra,
    }
    return render(request, "supply/tier_scheme_form.html", context, status=400 if editor.has_errors else 200)


@login_required
def tier_scheme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk, "change")
    editor = SchemeEditor(scheme, request.POST if request.method == "POST" else None)
    if request.method == "POST" and editor.is_valid():
        editor.apply(scheme)
        try:
            svc.save_scheme(scheme, request.user)
        except ValidationError as error:
            editor.add_error(error)
            scheme.refresh_from_db()  # the page's heading shows what is saved; the inputs keep what was typed
        else:
            messages.success(request, _("Tier scheme %(name)s saved.") % {"name": scheme.name})
            return redirect("supply:tier_schemes")
    return _scheme_page(request, scheme, editor)


@login_required
def tier_scheme_create(request: HttpRequest) -> HttpResponse:
    _need(request, TierScheme)
    raw = (request.POST.get("unit") or request.GET.get("unit") or "").strip()
    unit = None
    if raw:
        unit = get_object_or_404(OrgUnit.objects.get_queryset(), pk=int(raw) if raw.isdigit() else 0)
        if not _unit_in_scope(user_scope(request.user), unit):
            raise Http404
    _need(request, TierScheme, "add")
    if unit is None:  # choose the unit first: the form starts from the scheme that unit follows
        return render(request, "supply/tier_scheme_form.html", {"choose": override_units(request.user)})
    if unit.kind not in OVERRIDE_KINDS:
        raise Http404
    own = TierScheme.objects.filter(org_unit=unit).first()
    if own is not None:
        messages.info(request, _("%(unit)s already has its own tier scheme.") % {"unit": unit.name})
        return redirect("supply:tier_scheme_edit", own.pk)
    base = svc.scheme_for(unit)
    scheme = svc.new_override(unit)
    editor = SchemeEditor(scheme, request.POST if request.method == "POST" else None)
    if request.method == "POST" and editor.is_valid():
        editor.apply(scheme)
        try:
            svc.save_scheme(scheme, request.user)
        except ValidationError as error:
            editor.add_error(error)
        except IntegrityError:  # another user gave the unit its scheme in the meantime
            editor.main.add_error(None, _("%(unit)s already has its own tier scheme.") % {"unit": unit.name})
        else:
            messages.success(
                request,
                _("%(unit)s now follows its own tier scheme %(name)s.") % {"unit": unit.name, "name": scheme.name},
            )
            return redirect("supply:tier_schemes")
    return _scheme_page(request, scheme, editor, base=base, unit=unit)


@login_required
@require_POST
def tier_scheme_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk, "change")
    unit, name = scheme.org_unit, scheme.name
    now = call_service(request, svc.delete_scheme, scheme, request.user)
    if now is None:
        return redirect("supply:tier_scheme_edit", pk) if unit is not None else redirect("supply:tier_schemes")
    messages.success(
        request,
        _("%(name)s removed: %(unit)s follows %(now)s again.") % {"name": name, "unit": unit.name, "now": now.name},
    )
    return redirect("supply:tier_schemes")


urlpatterns = [
    path("tiers/", tier_overview, name="tier_overview"),
    path("tiers/recompute/", tier_run_create, name="tier_run_create"),
    path("tiers/runs/<int:pk>/", tier_run_detail, name="tier_run_detail"),
    path("tiers/runs/<int:pk>/apply/", tier_run_apply, name="tier_run_apply"),
    path("tiers/runs/<int:pk>/discard/", tier_run_discard, name="tier_run_discard"),
    path("tiers/runs/<int:pk>/export.xlsx", tier_run_export, name="tier_run_export"),
    path("tiers/retailer/<int:pk>/", tier_retailer, name="tier_retailer"),
    path("tiers/schemes/", tier_scheme_list, name="tier_schemes"),
    path("tiers/schemes/new/", tier_scheme_create, name="tier_scheme_create"),
    path("tiers/schemes/<int:pk>/", tier_scheme_edit, name="tier_scheme_edit"),
    path("tiers/schemes/<int:pk>/delete/", tier_scheme_delete, name="tier_scheme_delete"),
]
