"""Pages: assessment schemes — the list, one version in plain words, new versions, the draft editor, activation.

* ``assess:scheme_list`` — every scheme version (org unit, version, status, valid from/until, items, runs).
* ``assess:scheme_detail`` — the items grouped 业绩/市场 and 经济类/基础类 with their weights, metric, rule and
  parameters in plain words and target adjustments; the other versions of the scheme; its audit trail (the centre).
* ``assess:scheme_new_version`` — a draft copy of a version (``services.schemes.new_version``) from a month on.
* ``assess:scheme_edit`` — the draft's items in a formset; the rows are checked by the scoring services (rule
  parameters, metrics) and the whole by ``validate_items`` (weights summing to exactly 100), each error shown on the
  row or field it concerns. An active, retired or used version is not edited: make a new version.
* ``assess:scheme_activate`` — GET asks for confirmation, POST activates (``services.schemes.activate``; the other
  active version of the same scheme and unit is retired).

Heads, clerks and CMs read the schemes they are assessed by (``view_scheme``); the centre also adds and changes them
(``add_scheme``, ``change_scheme`` and the item permissions); inspectors get 403.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from cmdesk.core.audit import history_for
from cmdesk.core.scope import has_model_perm
from cmdesk.core.views import with_actor_names

from ..forms_schemes import (
    NewVersionForm,
    SchemeItemForm,
    SchemeItemFormSet,
    SchemeMetaForm,
    rule_keys,
)
from ..models import ItemCategory, ItemGroup, Rule, Scheme, SchemeItem, SchemeStatus
from ..services import schemes as svc
from ..services.metrics import METRICS
from ..services.rules import fmt
from ..services.schemes import is_editable, save_draft_items

ITEM_PERMS = ("assess.add_schemeitem", "assess.change_schemeitem", "assess.delete_schemeitem")


def can_edit(user: Any) -> bool:
    """The centre: changes schemes and their items."""
    return has_model_perm(user, Scheme, "change") and all(user.has_perm(p) for p in ITEM_PERMS)


def _need(request: HttpRequest, action: str = "view") -> None:
    if not has_model_perm(request.user, Scheme, action):
        raise PermissionDenied
    if action == "change" and not can_edit(request.user):
        raise PermissionDenied


def _scheme(request: HttpRequest, pk: int, action: str = "view") -> Scheme:
    _need(request, action)
    return get_object_or_404(Scheme.objects.restrict(request.user, action).select_related("org_unit"), pk=pk)


# ---- plain words ----------------------------------------------------------------------------------------------------


def _v(value: Any, unit: str) -> str:
    text = fmt(Decimal(str(value)))
    return f"{text}%" if unit == "%" else text


def describe_rule(item: SchemeItem) -> str:
    """The item's rule and parameters as a sentence, e.g. "0 points at or below −10%, the full 15 at 5% or more"."""
    p = item.rule_params if isinstance(item.rule_params, dict) else {}
    metric = METRICS.get(item.metric)
    unit = metric.unit if metric else ""
    w = fmt(item.weight)
    try:
        if item.rule == Rule.LINEAR:
            floor, target = Decimal(str(p["floor"])), Decimal(str(p["target"]))
            if floor > target:
                text = _("0 points at or above %(f)s, the full %(w)s at or below %(t)s, linear in between") % {
                    "f": _v(floor, unit),
                    "t": _v(target, unit),
                    "w": w,
                }
            else:
                text = _("0 points at or below %(f)s, the full %(w)s at %(t)s or more, linear in between") % {
                    "f": _v(floor, unit),
                    "t": _v(target, unit),
                    "w": w,
                }
            if p.get("bonus_per_unit_above") not in (None, ""):
                text += _("; %(b)s more per unit beyond the target, at most %(cap)s in all") % {
                    "b": fmt(Decimal(str(p["bonus_per_unit_above"]))),
                    "cap": fmt(Decimal(str(p.get("cap") or item.weight))),
                }
            return text
        if item.rule == Rule.STEPS:
            steps = sorted((Decimal(str(t)), Decimal(str(pts))) for t, pts in p["steps"])
            parts = [_("%(p)s from %(t)s") % {"p": fmt(pts), "t": _v(t, unit)} for t, pts in steps]
            return _("Points by step: %(steps)s; 0 below %(first)s") % {
                "steps": ", ".join(parts),
                "first": _v(steps[0][0], unit),
            }
        if item.rule == Rule.PER_OCCURRENCE:
            most = p.get("max_deduction")
            return _("%(w)s minus %(d)s per occurrence, at most %(m)s deducted, never below 0") % {
                "w": w,
                "d": fmt(Decimal(str(p["deduction"]))),
                "m": fmt(min(Decimal(str(most)), item.weight)) if most not in (None, "") else w,
            }
        if item.rule == Rule.TARGET_PER_POINT:
            text = _("The full %(w)s at %(t)s or more; %(p)s less per point short, never below 0") % {
                "w": w,
                "t": _v(p["target"], unit),
                "p": fmt(Decimal(str(p["penalty_per_point"]))),
            }
            if p.get("bonus_per_point") not in (None, ""):
                text += _("; %(b)s more per point over, at most %(cap)s in all") % {
                    "b": fmt(Decimal(str(p["bonus_per_point"]))),
                    "cap": fmt(Decimal(str(p.get("cap") or item.weight))),
                }
            return text
        if item.rule == Rule.MANUAL:
            return _("Rated by hand between %(lo)s and %(hi)s, with a written justification") % {
                "lo": fmt(Decimal(str(p.get("min") or 0))),
                "hi": fmt(Decimal(str(p.get("max") or item.weight))),
            }
    except (KeyError, TypeError, ValueError, ArithmeticError, IndexError):
        pass
    return _("%(rule)s, parameters %(params)s (incomplete)") % {"rule": item.get_rule_display(), "params": p}


def adjustments(item: SchemeItem) -> list[str]:
    out = []
    if item.adjust_season:
        out.append(_("target adjusted for season (the same month last year)"))
    if item.adjust_potential:
        out.append(_("target adjusted for route potential (the last 12 months)"))
    return out


def grouped_items(scheme: Scheme) -> list[dict[str, Any]]:
    """Items by group (业绩, 市场) and within it by category (经济类, 基础类), with subtotals of the weights."""
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict(
        (g, {"key": g, "label": label, "weight": Decimal("0"), "categories": OrderedDict()})
        for g, label in ItemGroup.choices
    )
    for item in scheme.items.all().order_by("position", "code"):
        group = groups.setdefault(
            item.group, {"key": item.group, "label": item.group, "weight": Decimal("0"), "categories": OrderedDict()}
        )
        cats = group["categories"]
        if item.category not in cats:
            label = dict(ItemCategory.choices).get(item.category, item.category)
            cats[item.category] = {"key": item.category, "label": label, "weight": Decimal("0"), "items": []}
        metric = METRICS.get(item.metric)
        cats[item.category]["items"].append(
            {
                "item": item,
                "metric_label": metric.label if metric else item.metric,
                "rule_words": describe_rule(item),
                "adjustments": adjustments(item),
            }
        )
        cats[item.category]["weight"] += item.weight
        group["weight"] += item.weight
    order = {c: n for n, c in enumerate(ItemCategory.values)}
    result = []
    for group in groups.values():
        if group["categories"]:
            group["categories"] = sorted(group["categories"].values(), key=lambda c: order.get(c["key"], len(order)))
            result.append(group)
    return result


def _audit(scheme: Scheme) -> list[dict[str, Any]]:
    """The scheme's audit trail and its items' (one query for the items), newest first."""
    entries = history_for(scheme)
    item_type = ContentType.objects.get_for_model(SchemeItem)
    item_ids = [str(pk) for pk in scheme.items.values_list("pk", flat=True)]
    for entry in (
        LogEntry.objects.filter(content_type=item_type, object_pk__in=item_ids)
        .select_related("actor")
        .order_by("-timestamp", "-id")[:100]
    ):
        changes = [
            {"field": name, "label": name, "before": (v + [None, None])[0], "after": (v + [None, None])[1]}
            for name, v in (entry.changes_dict or {}).items()
            if isinstance(v, list)
        ]
        entries.append({"entry": entry, "changes": changes})
    entries.sort(key=lambda e: (e["entry"].timestamp, e["entry"].pk), reverse=True)
    return with_actor_names(entries)


# ---- pages ----------------------------------------------------------------------------------------------------------


@login_required
def scheme_list(request: HttpRequest) -> HttpResponse:
    _need(request)
    schemes = (
        Scheme.objects.restrict(request.user, "view")
        .select_related("org_unit")
        .annotate(item_count=Count("items", distinct=True), run_count=Count("runs", distinct=True))
        .order_by("org_unit__path", "name", "-version")
    )
    context = {"schemes": schemes, "can_edit": can_edit(request.user)}
    return render(request, "assess/scheme_list.html", context)


@login_required
def scheme_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk)
    versions = (
        Scheme.objects.restrict(request.user, "view")
        .filter(name=scheme.name, org_unit=scheme.org_unit)
        .annotate(run_count=Count("runs"))
        .order_by("-version")
    )
    editor = can_edit(request.user)
    groups = grouped_items(scheme)
    context = {
        "scheme": scheme,
        "groups": groups,
        "total": sum((g["weight"] for g in groups), Decimal("0")),
        "versions": versions,
        "run_count": scheme.runs.count(),
        "can_new_version": has_model_perm(request.user, Scheme, "add") and editor,
        "can_edit": editor and is_editable(scheme),
        "can_activate": editor and scheme.status == SchemeStatus.DRAFT,
        "history": _audit(scheme) if editor else None,
    }
    return render(request, "assess/scheme_detail.html", context)


@login_required
def scheme_new_version(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "add")
    scheme = _scheme(request, pk, "change")
    form = NewVersionForm(request.POST or None, initial={"valid_from": scheme.valid_from})
    if request.method == "POST" and form.is_valid():
        copy = svc.new_version(scheme, request.user, valid_from=form.cleaned_data["valid_from"])
        messages.success(
            request,
            _("Version %(v)s created as a draft: edit its items, then activate it.") % {"v": copy.version},
        )
        return redirect("assess:scheme_edit", copy.pk)
    return render(
        request,
        "assess/scheme_new_version.html",
        {"scheme": scheme, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
def scheme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk, "change")
    if not is_editable(scheme):
        messages.info(
            request,
            _("%(scheme)s is %(status)s or has scored a month: it is not edited in place. Make a new version.")
            % {"scheme": scheme, "status": scheme.get_status_display()},
        )
        return redirect("assess:scheme_detail", scheme.pk)
    items = list(scheme.items.all().order_by("position", "code"))
    meta = SchemeMetaForm(
        request.POST or None,
        prefix="meta",
        initial={"valid_from": scheme.valid_from, "description": scheme.description},
    )
    formset = SchemeItemFormSet(
        request.POST or None, prefix="items", initial=[SchemeItemForm.initial_from(it) for it in items]
    )
    if request.method == "POST":
        meta_ok, rows_ok = meta.is_valid(), formset.is_valid()
        if meta_ok and rows_ok:
            try:
                save_draft_items(
                    scheme,
                    formset.rows(),
                    request.user,
                    valid_from=meta.cleaned_data["valid_from"],
                    description=meta.cleaned_data["description"],
                )
            except ValidationError as error:
                formset._non_form_errors = formset.error_class(error.messages)
            else:
                messages.success(request, _("Items saved. Activate the version when it is ready."))
                return redirect("assess:scheme_detail", scheme.pk)
    if request.method == "POST":
        total = formset.total_weight()
    else:
        total = sum((it.weight for it in items), Decimal("0"))
    context = {
        "scheme": scheme,
        "meta": meta,
        "formset": formset,
        "total": total,
        "rule_keys": rule_keys(),
    }
    return render(request, "assess/scheme_edit.html", context, status=400 if request.method == "POST" else 200)


@login_required
def scheme_activate(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = _scheme(request, pk, "change")
    if scheme.status != SchemeStatus.DRAFT:
        messages.info(
            request, _("Only a draft version is activated; this one is %(s)s.") % {"s": scheme.get_status_display()}
        )
        return redirect("assess:scheme_detail", scheme.pk)
    replaces = list(
        Scheme.objects.filter(name=scheme.name, org_unit=scheme.org_unit, status=SchemeStatus.ACTIVE).exclude(
            pk=scheme.pk
        )
    )
    error = None
    if request.method == "POST":
        try:
            svc.activate(scheme, request.user)
        except ValidationError as exc:
            error = exc.messages
        else:
            messages.success(
                request, _("%(scheme)s is active from %(m)s.") % {"scheme": scheme, "m": f"{scheme.valid_from:%Y-%m}"}
            )
            return redirect("assess:scheme_detail", scheme.pk)
    context = {
        "scheme": scheme,
        "replaces": replaces,
        "errors": error,
        "total": sum((i.weight for i in scheme.items.all()), Decimal("0")),
    }
    return render(request, "assess/scheme_activate.html", context, status=400 if error else 200)


urlpatterns = [
    path("schemes/", scheme_list, name="scheme_list"),
    path("schemes/<int:pk>/", scheme_detail, name="scheme_detail"),
    path("schemes/<int:pk>/new-version/", scheme_new_version, name="scheme_new_version"),
    path("schemes/<int:pk>/edit/", scheme_edit, name="scheme_edit"),
    path("schemes/<int:pk>/activate/", scheme_activate, name="scheme_activate"),
]
